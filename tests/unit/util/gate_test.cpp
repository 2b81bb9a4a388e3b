// The gate that teardown closes: it waits for the work inside and then lets
// its owner go. Its state must outlive every close() (a GCC 12 coroutine bug
// once freed it early; ASan, in tests/sanitize.sh, sees that here).
#include "util/gate.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>

using namespace meshrun;
using namespace std::chrono;

TEST_CASE("gate: close waits for the work inside, refuses newcomers, and the gate outlives it") {
  asio::io_context io;
  auto gate = std::make_unique<Gate>(io.get_executor());
  std::optional<bool> closed;
  {
    auto holder = gate->enter();
    REQUIRE(holder);
    CHECK(gate->inside() == 1);
    // Work that leaves the gate after 20 ms.
    asio::co_spawn(
        io,
        [h = std::move(*holder), &io]() mutable -> asio::awaitable<void> {
          asio::steady_timer t(io, milliseconds(20));
          co_await t.async_wait(asio::use_awaitable);
          auto leaving = std::move(h);
        },
        asio::detached);
  }
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        closed = co_await gate->close(Gate::Clock::now() + seconds(5));
      },
      asio::detached);
  io.run();
  REQUIRE(closed.has_value());
  CHECK(*closed);
  CHECK(gate->closed());
  CHECK(gate->inside() == 0);
  CHECK_FALSE(gate->enter());
  gate.reset();  // reads the state close() shared
}

TEST_CASE("gate: close gives up at its deadline while work stays inside") {
  asio::io_context io;
  Gate gate(io.get_executor());
  auto holder = gate.enter();
  std::optional<bool> closed;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        closed = co_await gate.close(Gate::Clock::now() + milliseconds(20));
      },
      asio::detached);
  io.run();
  REQUIRE(closed.has_value());
  CHECK_FALSE(*closed);
  CHECK(gate.inside() == 1);
}
