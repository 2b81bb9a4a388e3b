#include "pmi/local_pmi_job.hpp"

#include <utility>

namespace meshrun {

LocalPmiJob::LocalPmiJob(int size, std::string kvsname, int appnum)
    : size_(size < 1 ? 1 : size),
      kvsname_(std::move(kvsname)),
      appnum_(appnum),
      in_barrier_(static_cast<size_t>(size_), false) {
  kvs_["PMI_process_mapping"] = pmi_process_mapping({size_});
}

int LocalPmiJob::appnum(int rank) const {
  (void)rank;
  return appnum_;
}

Status LocalPmiJob::put(int rank, const std::string& key, const std::string& value) {
  (void)rank;
  kvs_[key] = value;
  return {};
}

void LocalPmiJob::get(int rank, const std::string& key,
                      std::function<void(std::optional<std::string>)> done) {
  (void)rank;
  auto it = kvs_.find(key);
  done(it == kvs_.end() ? std::nullopt : std::optional<std::string>(it->second));
}

void LocalPmiJob::barrier_enter(int rank, std::function<void()> done) {
  if (rank >= 0 && rank < size_) {
    // A rank cannot be in the same barrier twice; a second entry would open it early.
    if (in_barrier_[static_cast<size_t>(rank)]) return;
    in_barrier_[static_cast<size_t>(rank)] = true;
  }
  barrier_waiters_.push_back(std::move(done));
  if (static_cast<int>(barrier_waiters_.size()) < size_) return;
  // Detach the generation first: releasing a rank may let it enter the next one.
  auto waiters = std::move(barrier_waiters_);
  barrier_waiters_.clear();
  in_barrier_.assign(static_cast<size_t>(size_), false);
  ++barriers_completed_;
  for (auto& w : waiters)
    w();
}

void LocalPmiJob::abort(int rank, int code, const std::string& message) {
  PmiAbort a{rank, code, message};
  if (!first_abort_) first_abort_ = a;
  if (on_abort_) on_abort_(a);
}

void LocalPmiJob::finalized(int rank) {
  (void)rank;
  ++finalized_count_;
}

std::string pmi_process_mapping(const std::vector<int>& ranks_per_node) {
  std::string out = "(vector";
  size_t i = 0;
  while (i < ranks_per_node.size()) {
    size_t j = i;
    while (j < ranks_per_node.size() && ranks_per_node[j] == ranks_per_node[i])
      ++j;
    out += ",(" + std::to_string(i) + "," + std::to_string(j - i) + "," +
           std::to_string(ranks_per_node[i]) + ")";
    i = j;
  }
  out += ")";
  return out;
}

}  // namespace meshrun
