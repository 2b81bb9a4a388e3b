// Seastar's gate for coroutines that run detached: each holds the gate while
// it works; close() refuses newcomers and waits (with a deadline) until the
// last has left, so teardown never races with work still in flight.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <chrono>
#include <memory>
#include <optional>

#include "util/notifier.hpp"

namespace meshrun {

class Gate {
  struct State {
    explicit State(const asio::any_io_executor& ex) : left(ex) {}
    size_t inside = 0;
    bool closed = false;
    Notifier left;
  };

 public:
  using Clock = std::chrono::steady_clock;

  class Holder {
   public:
    explicit Holder(std::shared_ptr<State> s) : s_(std::move(s)) { ++s_->inside; }
    Holder(Holder&& o) noexcept : s_(std::move(o.s_)) {}
    Holder(const Holder&) = delete;
    Holder& operator=(const Holder&) = delete;
    Holder& operator=(Holder&&) = delete;
    ~Holder() {
      if (s_ && --s_->inside == 0) s_->left.notify();
    }

   private:
    std::shared_ptr<State> s_;
  };

  explicit Gate(const asio::any_io_executor& ex) : s_(std::make_shared<State>(ex)) {}

  // nullopt once the gate is closed: the work must not start.
  std::optional<Holder> enter() {
    if (s_->closed) return std::nullopt;
    return Holder(s_);
  }
  bool closed() const { return s_->closed; }
  size_t inside() const { return s_->inside; }

  // True when everyone left before `deadline`.
  asio::awaitable<bool> close(Clock::time_point deadline) {
    s_->closed = true;
    // This frame keeps the state alive; the predicate holds a plain pointer.
    // A lambda temporary holding the shared_ptr inside the co_await was
    // destroyed twice by GCC 12 (a double release: heap corruption at exit).
    const std::shared_ptr<State> s = s_;
    State* state = s.get();
    const bool all_left =
        co_await state->left.wait_until([state] { return state->inside == 0; }, deadline);
    co_return all_left;
  }

 private:
  std::shared_ptr<State> s_;
};

}  // namespace meshrun
