// Whether the job has failed, and why: the first failure wins. Every part
// of the control plane waits on its own notifier; a failure wakes them all,
// so no wait outlives the job.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/notifier.hpp"

namespace meshrun {

// After a first failure, how long the news that came with it may take to
// arrive and still count: ranks that fail together give the same status
// every run, and replies already on their way are kept.
inline constexpr std::chrono::milliseconds kSettleWindow{250};

struct JobFailure {
  std::string message;  // one line: what failed, where
  int status = 1;       // meshrun's exit status for it
  // A command rank exited non-zero or by a signal of its own: the job's
  // status is then that of the lowest-numbered rank that failed.
  bool rank_exit = false;
};

class JobState {
 public:
  void fail(JobFailure failure) {
    const bool first = !failure_;
    if (first) failure_ = std::move(failure);
    for (Notifier* n : watchers_)
      n->notify();
    if (first)
      for (auto& fn : on_fail_)
        fn(*failure_);
  }
  // `fn` runs once, at the first failure.
  void on_fail(std::function<void(const JobFailure&)> fn) { on_fail_.push_back(std::move(fn)); }
  bool failed() const { return failure_.has_value(); }
  const std::optional<JobFailure>& failure() const { return failure_; }
  // `n` is woken by every failure; it must outlive this state.
  void watch(Notifier& n) { watchers_.push_back(&n); }

 private:
  std::optional<JobFailure> failure_;
  std::vector<Notifier*> watchers_;
  std::vector<std::function<void(const JobFailure&)>> on_fail_;
};

}  // namespace meshrun
