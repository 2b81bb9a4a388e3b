// Ports: every rank answers once; partial folds; deadlines name the silent.
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>

#include "route/pending_calls.hpp"
#include "route/port_table.hpp"

using namespace meshrun;
using namespace std::chrono_literals;

namespace {

PortReply value(uint32_t rank, std::string v) {
  PortReply r;
  r.port.id = 1;
  r.port.slot = rank;
  r.value = std::move(v);
  return r;
}

PortReply partial(const Fold& fold, std::vector<Range> ranks,
                  std::vector<RankFailure> failures = {}) {
  PortReply r;
  r.kind = ReplyKind::partial;
  r.ranks = std::move(ranks);
  r.failures = std::move(failures);
  r.value = fold.encode();
  return r;
}

}  // namespace

TEST_CASE("a port completes once every rank answered, values by rank", "[port_table]") {
  asio::io_context io;
  PortTable ports(io);
  std::optional<CallResult> got;
  const uint64_t id = ports.open({1, 4, 7}, ReducerKind::none, PortTable::Clock::now() + 10s,
                                 [&](CallResult&& r) { got = std::move(r); });
  REQUIRE(ports.deliver(id, value(4, "b")));
  REQUIRE(ports.deliver(id, value(4, "again")));  // a second answer: the first wins
  REQUIRE(ports.deliver(id, value(9, "stray")));  // not asked
  REQUIRE(ports.deliver(id, value(1, "a")));
  io.poll();
  CHECK_FALSE(got);
  auto fail = value(7, "handler threw");
  fail.kind = ReplyKind::failure;
  REQUIRE(ports.deliver(id, fail));
  io.poll();
  REQUIRE(got);
  CHECK(got->replies == std::map<uint32_t, std::string>{{1, "a"}, {4, "b"}});
  REQUIRE(got->failures.size() == 1);
  CHECK(got->failures[0].rank == 7);
  CHECK(got->missing.empty());
  CHECK(got->replied == 2);
  CHECK_FALSE(ports.is_open(id));
  CHECK_FALSE(ports.deliver(id, value(1, "late")));
  CHECK(ports.late_replies() == 1);
}

TEST_CASE("at the deadline a port names the ranks that never answered", "[port_table]") {
  asio::io_context io;
  PortTable ports(io);
  std::optional<CallResult> got;
  const uint64_t id = ports.open({0, 1, 2}, ReducerKind::none, PortTable::Clock::now() + 50ms,
                                 [&](CallResult&& r) { got = std::move(r); });
  ports.deliver(id, value(1, "x"));
  io.run_for(2s);
  REQUIRE(got);
  CHECK(got->missing == std::vector<uint32_t>{0, 2});
  CHECK(got->timed_out());
}

TEST_CASE("partials fold into one value and keep their failures", "[port_table]") {
  asio::io_context io;
  PortTable ports(io);
  std::optional<CallResult> got;
  const uint64_t id = ports.open({0, 1, 2, 3, 4}, ReducerKind::sum, PortTable::Clock::now() + 10s,
                                 [&](CallResult&& r) { got = std::move(r); });
  Fold host0(ReducerKind::sum), host1(ReducerKind::sum);
  REQUIRE(host0.add(0, "1").ok());
  REQUIRE(host0.add(1, "2").ok());
  REQUIRE(host1.add(3, "40").ok());
  ports.deliver(id, partial(host0, {{0, 2}}));
  ports.deliver(id, partial(host1, {{3, 4}}, {{2, "proc exited (signal SIGKILL)"}}));
  ports.deliver(id, value(4, "-1"));
  io.poll();
  REQUIRE(got);
  REQUIRE(got->value);
  CHECK(*got->value == "42");
  CHECK(got->replied == 4);
  REQUIRE(got->failures.size() == 1);
  CHECK(got->failures[0].rank == 2);
}

TEST_CASE("a host folds its procs' replies into one partial", "[pending_calls]") {
  asio::io_context io;
  std::vector<std::string> up;
  PendingCalls calls(io, 3, [&](const PortRef&, std::string frame) { up.push_back(frame); });
  CastHead head;
  head.port = {{kLauncherHost, kNoProc, 0, 0}, 11, kAnySlot, ReducerKind::sum};
  head.timeout_ms = 10000;
  calls.expect(head, {{4, 40}, {5, 41}, {6, 42}}, 0);
  auto reply = [&](uint32_t rank, const std::string& v, ReplyKind kind = ReplyKind::value) {
    PortReply r;
    r.port = head.port;
    r.port.slot = rank;
    r.kind = kind;
    r.value = v;
    const std::string frame = encode(r);
    return calls.on_reply(*peek_reply_head(frame), frame);
  };
  CHECK(reply(4, "10"));
  CHECK(reply(6, "20"));
  CHECK(up.empty());
  calls.proc_gone(41, "p0_5 exited (signal SIGKILL)");
  REQUIRE(up.size() == 1);
  auto msg = decode(up[0]);
  REQUIRE(msg.ok());
  const auto& p = std::get<PortReply>(*msg);
  CHECK(p.kind == ReplyKind::partial);
  CHECK(p.from.host == 3);
  CHECK(p.ranks == std::vector<Range>{{4, 5}, {6, 7}});
  REQUIRE(p.failures.size() == 1);
  CHECK(p.failures[0].rank == 5);
  Fold f(ReducerKind::sum);
  REQUIRE(f.merge(p.value).ok());
  CHECK(*f.result() == "30");
  CHECK(calls.size() == 0);
  CHECK_FALSE(reply(5, "late"));  // passes through now
}

TEST_CASE("without a reducer replies pass; a dead proc's ranks fail at once", "[pending_calls]") {
  asio::io_context io;
  std::vector<std::string> up;
  PendingCalls calls(io, 0, [&](const PortRef&, std::string frame) { up.push_back(frame); });
  CastHead head;
  head.port = {{1, 9, 2, 0}, 5, kAnySlot, ReducerKind::none};
  calls.expect(head, {{0, 0}, {1, 1}}, 0);
  PortReply r;
  r.port = head.port;
  r.port.slot = 0;
  const std::string frame = encode(r);
  CHECK_FALSE(calls.on_reply(*peek_reply_head(frame), frame));
  calls.proc_gone(1, "p0_1 exited (exit code 3)");
  REQUIRE(up.size() == 1);
  auto msg = decode(up[0]);
  REQUIRE(msg.ok());
  const auto& f = std::get<PortReply>(*msg);
  CHECK(f.kind == ReplyKind::failure);
  CHECK(f.port.slot == 1);
  CHECK(f.value == "p0_1 exited (exit code 3)");
  CHECK(calls.size() == 0);
}

TEST_CASE("a reduced call flushes what it has before the caller's deadline", "[pending_calls]") {
  asio::io_context io;
  std::vector<std::string> up;
  PendingCalls calls(io, 0, [&](const PortRef&, std::string frame) { up.push_back(frame); });
  CastHead head;
  head.port = {{kLauncherHost, kNoProc, 0, 0}, 1, kAnySlot, ReducerKind::count};
  head.timeout_ms = 100;
  calls.expect(head, {{0, 0}, {1, 1}}, 0);
  PortReply r;
  r.port = head.port;
  r.port.slot = 0;
  const std::string frame = encode(r);
  REQUIRE(calls.on_reply(*peek_reply_head(frame), frame));
  const auto t0 = std::chrono::steady_clock::now();
  io.run_for(2s);
  REQUIRE(up.size() == 1);
  CHECK(std::chrono::steady_clock::now() - t0 < 2s);
  auto msg = decode(up[0]);
  REQUIRE(msg.ok());
  CHECK(std::get<PortReply>(*msg).ranks == std::vector<Range>{{0, 1}});
}
