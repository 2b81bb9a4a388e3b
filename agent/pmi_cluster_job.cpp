#include "agent/pmi_cluster_job.hpp"

#include <utility>

#include "pmi/local_pmi_job.hpp"
#include "util/log.hpp"

namespace meshrun {

namespace {
// The key a host's PMIx fence data travels under in the barrier: with a
// space in it, no PMI-1 rank can put it.
const std::string kFenceKey = " pmix fence";
}  // namespace

ClusterPmiJob::ClusterPmiJob(Config config, SendBarrier send_barrier, SendAbort send_abort,
                             SendName send_name, Tell tell)
    : config_(std::move(config)),
      send_barrier_(std::move(send_barrier)),
      send_abort_(std::move(send_abort)),
      send_name_(std::move(send_name)),
      tell_(std::move(tell)) {
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

void ClusterPmiJob::fence(std::string data, std::function<void(std::optional<std::string>)> done) {
  if (sent_ || fence_done_) {
    // The server fences one at a time; a second one now is a broken job.
    log::warn("a PMIx fence began while barrier " + std::to_string(epoch_) +
              " was still open; it fails");
    done(std::nullopt);
    return;
  }
  fence_data_ = std::move(data);
  fence_done_ = std::move(done);
  maybe_send_barrier();
}

void ClusterPmiJob::rank_gone(int rank) {
  if (gone_[rank]) return;
  gone_[rank] = true;
  waiters_.erase(rank);
  maybe_send_barrier();
}

void ClusterPmiJob::maybe_send_barrier() {
  if (sent_) return;
  // The PMIx server enters for all of its ranks; PMI-1 ranks each for themselves.
  if (!fence_data_) {
    if (waiters_.empty()) return;
    int gone = 0;
    for (const auto& [r, g] : gone_)
      if (g) ++gone;
    if (static_cast<int>(waiters_.size()) + gone < config_.local_size) return;
  }
  PmiBarrierIn in;
  in.host_rank = config_.host_rank;
  in.epoch = epoch_;
  in.kvs = std::move(pending_);
  pending_.clear();
  if (fence_data_) in.kvs.push_back({kFenceKey, std::move(*fence_data_)});
  fence_data_.reset();
  sent_ = true;
  send_barrier_(in);
}

void ClusterPmiJob::barrier_out(const PmiBarrierOut& out) {
  if (!sent_ || out.epoch != epoch_) {
    log::warn("PMI barrier " + std::to_string(out.epoch) + " released while in barrier " +
              std::to_string(epoch_) + "; ignored");
    return;
  }
  std::string fenced;
  for (const auto& kv : out.kvs) {
    if (kv.key == kFenceKey)
      fenced += kv.value;
    else
      kvs_[kv.key] = kv.value;
  }
  // Detach the generation first: a released rank may enter the next barrier.
  auto waiters = std::move(waiters_);
  waiters_.clear();
  auto fence_done = std::move(fence_done_);
  fence_done_ = nullptr;
  ++epoch_;
  sent_ = false;
  for (auto& [r, w] : waiters)
    w();
  if (fence_done) fence_done(std::move(fenced));
}

void ClusterPmiJob::abort(int rank, int code, const std::string& message) {
  send_abort_(PmiAbortRank{static_cast<uint32_t>(rank), code, message});
}

void ClusterPmiJob::abort(uint32_t rank, int status, const std::string& message) {
  abort(static_cast<int>(rank), status, message);
}

void ClusterPmiJob::spawn_refused(int rank) {
  tell_(static_cast<uint32_t>(rank),
        "meshrun: rank " + std::to_string(rank) +
            " asked to spawn processes (MPI_Comm_spawn): meshrun starts a job's ranks only "
            "when the job starts, so the call fails\n");
}

void ClusterPmiJob::spawn_refused(uint32_t rank) {
  spawn_refused(static_cast<int>(rank));
}

void ClusterPmiJob::ask(NameRequest req, std::function<void(const NameReply&)> done) {
  req.id = next_name_id_++;
  name_waiters_[req.id] = std::move(done);
  send_name_(req);
}

void ClusterPmiJob::name_reply(const NameReply& reply) {
  auto it = name_waiters_.find(reply.id);
  if (it == name_waiters_.end()) return;
  auto done = std::move(it->second);
  name_waiters_.erase(it);
  done(reply);
}

void ClusterPmiJob::publish(uint32_t rank, const std::string& key, const std::string& value,
                            std::function<void(NameStatus)> done) {
  ask({0, NameOp::publish, rank, key, value, 0},
      [done = std::move(done)](const NameReply& r) { done(r.status); });
}

void ClusterPmiJob::lookup(uint32_t rank, const std::string& key, uint32_t wait_ms,
                           NameStore::Found done) {
  ask({0, NameOp::lookup, rank, key, {}, wait_ms},
      [key, done = std::move(done)](const NameReply& r) {
        done(r.status, PublishedName{key, r.value, r.publisher});
      });
}

void ClusterPmiJob::unpublish(uint32_t rank, const std::string& key,
                              std::function<void(NameStatus)> done) {
  ask({0, NameOp::unpublish, rank, key, {}, 0},
      [done = std::move(done)](const NameReply& r) { done(r.status); });
}

}  // namespace meshrun
