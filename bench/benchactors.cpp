// Actor-to-actor messaging measured from inside the actors: a round trip
// (call_one of Pong) and one-way sends (Sink), between two actors of one
// host and of two hosts. The controller prints "KEY VALUE" lines for
// bench/run.sh.
#include <meshrun/actor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Target {
  uint32_t count = 0;
  meshrun::Ref peer;
};

}  // namespace

template <>
struct meshrun::Codec<Target> {
  static Target decode(const uint8_t* data, size_t size) {
    if (size < 4) throw std::runtime_error("Target: too short");
    Target t;
    std::memcpy(&t.count, data, 4);
    t.peer = meshrun::Ref(meshrun::Bytes(data + 4, data + size));
    return t;
  }
  static meshrun::Bytes encode(const Target& t) {
    const meshrun::Bytes& ref = t.peer.bytes();
    meshrun::Bytes out(4 + ref.size());
    std::memcpy(out.data(), &t.count, 4);
    std::copy(ref.begin(), ref.end(), out.begin() + 4);
    return out;
  }
};

namespace {

MESHRUN_MESSAGE(Pong, meshrun::Bytes);
MESHRUN_MESSAGE(Sink, meshrun::Bytes);
MESHRUN_MESSAGE(Flush, meshrun::Empty);
MESHRUN_MESSAGE(PingTest, Target);  // answers "p50_us p99_us"
MESHRUN_MESSAGE(Blast, Target);     // answers messages per second

using Clock = std::chrono::steady_clock;

class Pinger : public meshrun::Actor {
 public:
  using Messages = meshrun::Messages<Pong, Sink, Flush, PingTest, Blast>;
  explicit Pinger(meshrun::ActorEnv& env) : Actor(env) {}

  void on(meshrun::Message<Pong>& m, meshrun::ReplyPort& port) { port.reply(m.payload()); }
  void on(meshrun::Message<Sink>&, meshrun::ReplyPort&) { ++sunk_; }
  void on(meshrun::Message<Flush>&, meshrun::ReplyPort& port) { port.reply(sunk_); }

  meshrun::Task on(meshrun::Message<PingTest> m, meshrun::ReplyPort port) {
    const meshrun::Bytes payload(64, 'x');
    std::vector<double> us;
    for (uint32_t i = 0; i < m->count + 100; ++i) {
      const auto t0 = Clock::now();
      auto r = co_await env().call_one<Pong>(m->peer, payload);
      r.expect_ok();
      if (i >= 100)
        us.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    }
    std::sort(us.begin(), us.end());
    port.reply(std::to_string(us[us.size() / 2]) + " " + std::to_string(us[us.size() * 99 / 100]));
  }

  // One-way sends, a Flush round trip every batch so what is in flight
  // stays bounded; the time ends when the last batch was counted.
  meshrun::Task on(meshrun::Message<Blast> m, meshrun::ReplyPort port) {
    const meshrun::Bytes payload(64, 'x');
    constexpr uint32_t kBatch = 8192;
    // Named: a temporary inside co_await would be destroyed twice by GCC 12.
    auto before = co_await env().call_one<Flush, uint64_t>(m->peer);
    const auto t0 = Clock::now();
    for (uint32_t i = 0; i < m->count;) {
      const uint32_t end = std::min(m->count, i + kBatch);
      for (; i < end; ++i)
        env().send<Sink>(m->peer, payload);
      (co_await env().call_one<Flush, uint64_t>(m->peer)).expect_ok();
    }
    auto after = co_await env().call_one<Flush, uint64_t>(m->peer);
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    after.expect_ok();
    before.expect_ok();
    if (after.values.begin()->second - before.values.begin()->second != m->count)
      throw std::runtime_error("one-way messages were lost");
    port.reply(std::to_string(m->count / secs));
  }

 private:
  uint64_t sunk_ = 0;
};

class BenchMain : public meshrun::Controller {
 public:
  explicit BenchMain(meshrun::ControllerEnv& env) : Controller(env) {}

  meshrun::Main run() override {
    auto& e = env();
    const auto round_trips = e.param_or<uint32_t>("round_trips", 5000);
    const auto messages = e.param_or<uint32_t>("messages", 200000);
    // {hosts=2, procs=2}: rank 0 talks to rank 1 (same host) and rank 2.
    const meshrun::Ref pingers = co_await e.spawn("pingers", e.lookup("p0"), "Pinger");
    const meshrun::Ref from = pingers.at(0);
    const char* where[] = {"local", "remote"};
    const meshrun::Ref to[] = {pingers.at(1), pingers.at(2)};
    for (int i = 0; i < 2; ++i) {
      const Target rtt{round_trips, to[i]};
      auto r = co_await e.call_one<PingTest, std::string>(from, rtt,
                                                          {.timeout = std::chrono::minutes(5)});
      r.expect_ok();
      const std::string& v = r.values.at(0);
      const auto space = v.find(' ');
      e.print(std::string("a2a_rtt_") + where[i] + "_p50_us " + v.substr(0, space));
      e.print(std::string("a2a_rtt_") + where[i] + "_p99_us " + v.substr(space + 1));
      const Target blast{messages, to[i]};
      auto b = co_await e.call_one<Blast, std::string>(from, blast,
                                                       {.timeout = std::chrono::minutes(5)});
      b.expect_ok();
      e.print(std::string("a2a_oneway_") + where[i] + "_msgs_per_s " + b.values.at(0));
    }
  }
};

}  // namespace

MESHRUN_PLUGIN("benchactors", MESHRUN_ACTOR(Pinger, "Pinger"),
               MESHRUN_CONTROLLER(BenchMain, "BenchMain"));
