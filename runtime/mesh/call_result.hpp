// What a finished call gives its caller: every answer by rank (or the folded
// value), the ranks that failed and why, the ranks that never answered. The
// same shape reports a controller's operations (a spawn's new reference in
// `value`, or its `error`).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace meshrun {

struct RankFailure {
  uint32_t rank = 0;
  std::string cause;
  template <class F>
  bool fields(F& f) {
    return f(rank, cause);
  }
};

struct CallResult {
  std::map<uint32_t, std::string> replies;  // by rank; empty with a reducer
  std::optional<std::string> value;         // the folded value, or what an operation made
  std::string error;                        // the call as a whole failed (a fold, a spawn)
  uint32_t expected = 0;
  uint32_t replied = 0;
  std::vector<RankFailure> failures;  // ascending by rank
  std::vector<uint32_t> missing;      // no answer by the deadline, ascending
  bool timed_out() const { return !missing.empty(); }
  bool ok() const { return failures.empty() && missing.empty() && error.empty(); }
};

}  // namespace meshrun
