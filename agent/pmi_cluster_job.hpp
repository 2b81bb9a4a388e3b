// The PMI job of one host agent when a job spans hosts: the host's ranks'
// puts are collected, and once all of them entered a barrier they go to the
// launcher in one PmiBarrierIn; the launcher answers every host with the
// merged puts (PmiBarrierOut), which releases the barrier. Gets are served
// from this host's copy of the KVS.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "pmi/pmi_session.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class ClusterPmiJob final : public PmiJob {
 public:
  struct Config {
    std::string kvsname;
    int size = 1;        // ranks in the job
    int local_size = 1;  // ranks on this host
    uint32_t host_rank = 0;
    std::vector<int> ranks_per_host;  // for PMI_process_mapping
  };
  using SendBarrier = std::function<void(const PmiBarrierIn&)>;
  using SendAbort = std::function<void(const PmiAbortRank&)>;

  ClusterPmiJob(Config config, SendBarrier send_barrier, SendAbort send_abort);

  // The launcher released barrier `out.epoch`.
  void barrier_out(const PmiBarrierOut& out);
  // A local rank will never enter a barrier again (it exited).
  void rank_gone(int rank);

  std::string kvsname() const override { return config_.kvsname; }
  int universe_size() const override { return config_.size; }
  Status put(int rank, const std::string& key, const std::string& value) override;
  void get(int rank, const std::string& key,
           std::function<void(std::optional<std::string>)> done) override;
  void barrier_enter(int rank, std::function<void()> done) override;
  void abort(int rank, int code, const std::string& message) override;

  uint32_t epoch() const { return epoch_; }

 private:
  void maybe_send_barrier();

  Config config_;
  SendBarrier send_barrier_;
  SendAbort send_abort_;
  std::map<std::string, std::string> kvs_;
  std::vector<KvPair> pending_;  // puts since the last barrier
  std::map<int, std::function<void()>> waiters_;
  std::map<int, bool> gone_;
  uint32_t epoch_ = 0;  // the barrier being collected
  bool sent_ = false;   // this epoch's PmiBarrierIn went out
};

}  // namespace meshrun
