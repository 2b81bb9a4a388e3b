// The launcher's side of the ranks' rendezvous: PMI barriers across every
// host (each host agent enters once all its ranks did, with their puts; the
// launcher answers all hosts when every host entered), and for torchrun's
// variables a TCP port free on rank 0's host; and the job's name service
// (MPI_Publish_name and friends).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/host_set.hpp"
#include "control/job_state.hpp"
#include "mesh/name_service.hpp"
#include "util/notifier.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class PmiCoordinator {
 public:
  PmiCoordinator(asio::io_context& io, HostSet& hosts, JobState& job);

  void on_barrier_in(uint32_t host, PmiBarrierIn&& in);
  void on_port_reserved(uint32_t host, const PortReserved& reserved);
  // Answered to `host`, now or (a lookup that waits) later.
  void on_name_request(uint32_t host, const NameRequest& request);
  // MASTER_ADDR and MASTER_PORT for the ranks, unless the user set them
  // (in `env` or in meshrun's own environment).
  asio::awaitable<Status> add_rendezvous(std::vector<std::string>& env, Millis timeout);

 private:
  std::string master_addr() const;

  HostSet& hosts_;
  JobState& job_;
  uint32_t epoch_ = 0;
  std::vector<bool> entered_;
  size_t count_ = 0;
  std::vector<KvPair> kvs_;
  std::optional<uint32_t> reserved_port_;
  Notifier changed_;
  NameService names_;
};

}  // namespace meshrun
