// The job side of PMI for ranks that all live on this host: one KVS map and a
// barrier that opens when every rank has entered. Used for single-host runs
// and by tests.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pmi/pmi_session.hpp"

namespace meshrun {

struct PmiAbort {
  int rank = -1;
  int code = 0;
  std::string message;
};

class LocalPmiJob final : public PmiJob {
 public:
  using AbortHandler = std::function<void(const PmiAbort&)>;

  // Publishes PMI_process_mapping for one node holding all `size` ranks, as
  // Hydra does, so MPICH knows its ranks share memory without a hostname exchange.
  explicit LocalPmiJob(int size, std::string kvsname = "meshrun_kvs_0", int appnum = 0);

  // Called on each PMI_Abort; the owner is expected to end the job.
  void set_abort_handler(AbortHandler handler) { on_abort_ = std::move(handler); }
  // Seeds or replaces a KVS entry (e.g. PMI_process_mapping for another layout).
  void set(const std::string& key, const std::string& value) { kvs_[key] = value; }

  std::string kvsname() const override { return kvsname_; }
  int universe_size() const override { return size_; }
  int appnum(int rank) const override;
  Status put(int rank, const std::string& key, const std::string& value) override;
  void get(int rank, const std::string& key,
           std::function<void(std::optional<std::string>)> done) override;
  void barrier_enter(int rank, std::function<void()> done) override;
  void abort(int rank, int code, const std::string& message) override;
  void finalized(int rank) override;
  JobNames* names() override { return &names_; }
  void spawn_refused(int rank) override {
    (void)rank;
    ++spawns_refused_;
  }
  int spawns_refused() const { return spawns_refused_; }

  int size() const { return size_; }
  const std::map<std::string, std::string>& kvs() const { return kvs_; }
  int barriers_completed() const { return barriers_completed_; }
  int ranks_in_barrier() const { return static_cast<int>(barrier_waiters_.size()); }
  int finalized_count() const { return finalized_count_; }
  // The first abort, if any rank aborted.
  const std::optional<PmiAbort>& first_abort() const { return first_abort_; }

 private:
  int size_;
  std::string kvsname_;
  int appnum_;
  std::map<std::string, std::string> kvs_;
  std::vector<std::function<void()>> barrier_waiters_;
  std::vector<bool> in_barrier_;
  int barriers_completed_ = 0;
  int finalized_count_ = 0;
  std::optional<PmiAbort> first_abort_;
  AbortHandler on_abort_;
  LocalJobNames names_;
  int spawns_refused_ = 0;
};

// Hydra's PMI_process_mapping for ranks placed in blocks on nodes:
// {2, 2, 1} -> "(vector,(0,2,2),(2,1,1))".
std::string pmi_process_mapping(const std::vector<int>& ranks_per_node);

}  // namespace meshrun
