#include "agent/pmi_cluster_job.hpp"

#include <utility>

#include "pmi/local_pmi_job.hpp"
#include "util/log.hpp"

namespace meshrun {

ClusterPmiJob::ClusterPmiJob(Config config, SendBarrier send_barrier, SendAbort send_abort)
    : config_(std::move(config)),
      send_barrier_(std::move(send_barrier)),
      send_abort_(std::move(send_abort)) {
  // Published up front, as Hydra does, so MPICH learns which ranks share a
  // node without a hostname exchange.
  kvs_["PMI_process_mapping"] = pmi_process_mapping(config_.ranks_per_host);
}

Status ClusterPmiJob::put(int rank, const std::string& key, const std::string& value) {
  (void)rank;
  kvs_[key] = value;
  pending_.push_back({key, value});
  return {};
}

void ClusterPmiJob::get(int rank, const std::string& key,
                        std::function<void(std::optional<std::string>)> done) {
  (void)rank;
  // Every put reaches every host with the barrier that follows it, so a
  // key missing here after that barrier does not exist anywhere.
  auto it = kvs_.find(key);
  done(it == kvs_.end() ? std::nullopt : std::optional<std::string>(it->second));
}

void ClusterPmiJob::barrier_enter(int rank, std::function<void()> done) {
  if (sent_ || waiters_.count(rank)) return;  // twice in one barrier: ignore the second
  waiters_[rank] = std::move(done);
  maybe_send_barrier();
}

void ClusterPmiJob::rank_gone(int rank) {
  if (gone_[rank]) return;
  gone_[rank] = true;
  waiters_.erase(rank);
  maybe_send_barrier();
}

void ClusterPmiJob::maybe_send_barrier() {
  if (sent_ || waiters_.empty()) return;
  int gone = 0;
  for (const auto& [r, g] : gone_)
    if (g) ++gone;
  if (static_cast<int>(waiters_.size()) + gone < config_.local_size) return;
  PmiBarrierIn in;
  in.host_rank = config_.host_rank;
  in.epoch = epoch_;
  in.kvs = std::move(pending_);
  pending_.clear();
  sent_ = true;
  send_barrier_(in);
}

void ClusterPmiJob::barrier_out(const PmiBarrierOut& out) {
  if (!sent_ || out.epoch != epoch_) {
    log::warn("PMI barrier " + std::to_string(out.epoch) + " released while in barrier " +
              std::to_string(epoch_) + "; ignored");
    return;
  }
  for (const auto& kv : out.kvs)
    kvs_[kv.key] = kv.value;
  // Detach the generation first: a released rank may enter the next barrier.
  auto waiters = std::move(waiters_);
  waiters_.clear();
  ++epoch_;
  sent_ = false;
  for (auto& [r, w] : waiters)
    w();
}

void ClusterPmiJob::abort(int rank, int code, const std::string& message) {
  send_abort_(PmiAbortRank{static_cast<uint32_t>(rank), code, message});
}

}  // namespace meshrun
