// Waiting for a condition with a deadline on a single-threaded io_context:
// state changes call notify(); waiters re-check their predicate.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <chrono>

namespace meshrun {

class Notifier {
 public:
  using Clock = std::chrono::steady_clock;
  explicit Notifier(const asio::any_io_executor& ex) : timer_(ex) {
    timer_.expires_at(Clock::time_point::max());
  }

  void notify() {
    timer_.cancel();
    timer_.expires_at(Clock::time_point::max());
  }

  // True when pred() held before `deadline`, false on timeout.
  template <class Pred>
  asio::awaitable<bool> wait_until(Pred pred, Clock::time_point deadline) {
    while (!pred()) {
      if (Clock::now() >= deadline) co_return false;
      asio::steady_timer guard(timer_.get_executor(), deadline);
      guard.async_wait([this](asio::error_code ec) {
        if (!ec) notify();
      });
      co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    }
    co_return true;
  }

 private:
  asio::steady_timer timer_;
};

}  // namespace meshrun
