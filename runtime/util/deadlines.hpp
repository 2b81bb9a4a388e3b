// Many deadlines, one timer: keys due at times, each handed to `expire` once
// its time has come (and taken out first), earliest first. What is removed
// before then never expires.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <utility>

namespace meshrun {

template <class Key>
class Deadlines {
 public:
  using Clock = std::chrono::steady_clock;

  Deadlines(asio::io_context& io, std::function<void(const Key&)> expire)
      : timer_(io), expire_(std::move(expire)) {}
  ~Deadlines() { *alive_ = false; }
  Deadlines(const Deadlines&) = delete;
  Deadlines& operator=(const Deadlines&) = delete;

  void add(Clock::time_point at, const Key& key) {
    due_.emplace(at, key);
    arm();
  }
  void remove(Clock::time_point at, const Key& key) { due_.erase({at, key}); }

 private:
  void arm() {
    if (due_.empty()) return;
    const auto next = due_.begin()->first;
    if (next >= timer_at_) return;
    timer_at_ = next;
    timer_.expires_at(next);
    timer_.async_wait([this, alive = alive_](asio::error_code ec) {
      if (!*alive || ec) return;
      timer_at_ = Clock::time_point::max();
      const auto now = Clock::now();
      while (!due_.empty() && due_.begin()->first <= now) {
        const Key key = due_.begin()->second;
        due_.erase(due_.begin());
        expire_(key);
      }
      arm();
    });
  }

  std::set<std::pair<Clock::time_point, Key>> due_;
  asio::steady_timer timer_;
  Clock::time_point timer_at_ = Clock::time_point::max();
  std::function<void(const Key&)> expire_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace meshrun
