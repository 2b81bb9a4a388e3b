// What the channel tests share: coroutines run to a deadline, and a listener
// that must come up.
#pragma once

#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>
#include <memory>
#include <string>

#include "channel/listener.hpp"

namespace meshrun::channel_test {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Runs coroutines on one io_context until all finish or a deadline passes.
class Runner {
 public:
  asio::io_context io{1};

  void spawn(asio::awaitable<void> a) {
    ++pending_;
    asio::co_spawn(io, std::move(a), [this](std::exception_ptr e) {
      if (e && !error_) error_ = e;
      --pending_;
    });
  }
  // True when every coroutine finished in time; rethrows a failed REQUIRE from one.
  bool run(Clock::duration limit = 10s) {
    return run_until([this] { return pending_ == 0; }, limit);
  }
  // Runs until `done()` holds, leaving other coroutines suspended where they are.
  template <class Pred>
  bool run_until(Pred done, Clock::duration limit = 10s) {
    const auto deadline = Clock::now() + limit;
    io.restart();
    while (!done() && !error_ && Clock::now() < deadline)
      if (io.run_one_until(deadline) == 0 && io.stopped()) break;
    if (error_) std::rethrow_exception(error_);
    return done();
  }

 private:
  int pending_ = 0;
  std::exception_ptr error_;
};

inline std::unique_ptr<Listener> listen_on(asio::io_context& io, const std::string& text) {
  auto addr = Address::parse(text);
  REQUIRE(addr.ok());
  auto l = Listener::listen(io, *addr);
  REQUIRE(l.ok());
  return std::move(*l);
}

}  // namespace meshrun::channel_test
