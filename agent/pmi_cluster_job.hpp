// The PMI job of one host agent when a job spans hosts: the host's ranks'
// puts are collected, and once all of them entered a barrier they go to the
// launcher in one PmiBarrierIn; the launcher answers every host with the
// merged puts (PmiBarrierOut), which releases the barrier. Gets are served
// from this host's copy of the KVS.
//
// The same barrier carries the fences of the host's PMIx server (Open MPI's
// ranks): the server collects its ranks' data and enters once for them all.
// The name service (MPI_Publish_name ...) is the launcher's: requests go up
// as NameRequest and come back as NameReply.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/pmix_server.hpp"
#include "pmi/name_store.hpp"
#include "pmi/pmi_session.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class ClusterPmiJob final : public PmiJob, public PmixJob, public JobNames {
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
  using SendName = std::function<void(const NameRequest&)>;
  // A line for the user, among the rank's stderr.
  using Tell = std::function<void(uint32_t rank, std::string line)>;

  ClusterPmiJob(Config config, SendBarrier send_barrier, SendAbort send_abort, SendName send_name,
                Tell tell);

  // The launcher released barrier `out.epoch`.
  void barrier_out(const PmiBarrierOut& out);
  // A local rank will never enter a barrier again (it exited).
  void rank_gone(int rank);
  // The launcher answered a name request.
  void name_reply(const NameReply& reply);

  // PmiJob (PMI-1)
  std::string kvsname() const override { return config_.kvsname; }
  int universe_size() const override { return config_.size; }
  Status put(int rank, const std::string& key, const std::string& value) override;
  void get(int rank, const std::string& key,
           std::function<void(std::optional<std::string>)> done) override;
  void barrier_enter(int rank, std::function<void()> done) override;
  void abort(int rank, int code, const std::string& message) override;
  void spawn_refused(int rank) override;
  JobNames* names() override { return this; }

  // PmixJob
  void fence(std::string data, std::function<void(std::optional<std::string>)> done) override;
  void abort(uint32_t rank, int status, const std::string& message) override;
  void spawn_refused(uint32_t rank) override;
  void connected(uint32_t rank) override { pmix_ranks_.insert(rank); }
  // Whether the rank ever connected to the PMIx server.
  bool spoke_pmix(uint32_t rank) const { return pmix_ranks_.count(rank) > 0; }

  // JobNames
  void publish(uint32_t rank, const std::string& key, const std::string& value,
               std::function<void(NameStatus)> done) override;
  void lookup(uint32_t rank, const std::string& key, uint32_t wait_ms,
              NameStore::Found done) override;
  void unpublish(uint32_t rank, const std::string& key,
                 std::function<void(NameStatus)> done) override;

  uint32_t epoch() const { return epoch_; }

 private:
  void maybe_send_barrier();
  void ask(NameRequest req, std::function<void(const NameReply&)> done);

  Config config_;
  SendBarrier send_barrier_;
  SendAbort send_abort_;
  SendName send_name_;
  Tell tell_;
  std::map<std::string, std::string> kvs_;
  std::vector<KvPair> pending_;  // puts since the last barrier
  std::map<int, std::function<void()>> waiters_;
  std::map<int, bool> gone_;
  // The PMIx server's fence in the barrier being collected: its data, and
  // who gets every host's.
  std::optional<std::string> fence_data_;
  std::function<void(std::optional<std::string>)> fence_done_;
  uint32_t epoch_ = 0;  // the barrier being collected
  bool sent_ = false;   // this epoch's PmiBarrierIn went out
  std::map<uint32_t, std::function<void(const NameReply&)>> name_waiters_;
  uint32_t next_name_id_ = 1;
  std::set<uint32_t> pmix_ranks_;
};

}  // namespace meshrun
