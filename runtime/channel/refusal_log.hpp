// Says why connections were refused without letting a crowd of strangers
// flood the user's terminal: the first few in full, then one line each time
// the count grows tenfold. Security warnings: shown even with -q.
#pragma once

#include <cstdint>
#include <string>

#include "util/log.hpp"

namespace meshrun {

class RefusalLog {
 public:
  explicit RefusalLog(std::string where) : where_(std::move(where)) {}

  void refused(const std::string& why) {
    ++count_;
    if (count_ <= kInFull) {
      log::security("refused a connection to " + where_ + ": " + why);
    } else if (count_ == next_summary_) {
      log::security("refused " + std::to_string(count_) + " connections to " + where_ +
                    " so far; the latest: " + why);
      next_summary_ *= 10;
    }
  }
  uint64_t count() const { return count_; }

 private:
  static constexpr uint64_t kInFull = 3;
  std::string where_;
  uint64_t count_ = 0;
  uint64_t next_summary_ = 10;
};

}  // namespace meshrun
