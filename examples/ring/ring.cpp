// A token passed around a ring of actors: each actor hands it straight to
// the next rank of its own mesh (actor to actor, no launcher in the loop)
// for a number of laps; the last one answers the call that started it,
// through the port the token carried around. Each actor checks that the
// token reaches it in order.
#include <meshrun/actor.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

// The token: which hop this is, how many in all, how many hops found it out
// of order, and the port of the call that started the ring.
struct Token {
  uint64_t hop = 0;
  uint64_t hops = 0;
  uint64_t out_of_order = 0;
  meshrun::Port done;
};

}  // namespace

template <>
struct meshrun::Codec<Token> {
  static Token decode(const uint8_t* data, size_t size) {
    if (size < 24) throw std::runtime_error("a token is at least 24 bytes");
    Token t;
    std::memcpy(&t.hop, data, 8);
    std::memcpy(&t.hops, data + 8, 8);
    std::memcpy(&t.out_of_order, data + 16, 8);
    t.done = meshrun::Port(meshrun::Bytes(data + 24, data + size));
    return t;
  }
  static meshrun::Bytes encode(const Token& t) {
    const meshrun::Bytes& port = t.done.bytes();
    meshrun::Bytes out(24 + port.size());
    std::memcpy(out.data(), &t.hop, 8);
    std::memcpy(out.data() + 8, &t.hops, 8);
    std::memcpy(out.data() + 16, &t.out_of_order, 8);
    std::copy(port.begin(), port.end(), out.begin() + 24);
    return out;
  }
};

namespace {

MESHRUN_MESSAGE(Start, uint64_t);       // to rank 0: laps; answers "hops out_of_order"
MESHRUN_MESSAGE(Pass, Token);           // the token, one-way, to the next rank
MESHRUN_MESSAGE(Seen, meshrun::Empty);  // how many times the token came by

class Ring : public meshrun::Actor {
 public:
  using Messages = meshrun::Messages<Start, Pass, Seen>;
  explicit Ring(meshrun::ActorEnv& env)
      : Actor(env), next_(env.self().at((env.rank() + 1) % env.size())) {}

  void on(meshrun::Message<Start>& m, meshrun::ReplyPort& port) {
    Token t;
    t.hops = m.payload() * env().size();
    // The answer comes later, from whoever holds the token at the end.
    t.done = port.port();
    take(std::move(t));
  }
  void on(meshrun::Message<Pass>& m, meshrun::ReplyPort&) { take(std::move(m.payload())); }
  void on(meshrun::Message<Seen>&, meshrun::ReplyPort& port) { port.reply(seen_); }

 private:
  void take(Token t) {
    if (t.hop % env().size() != env().rank()) ++t.out_of_order;
    if (t.hop == t.hops) {
      env().reply(t.done, std::to_string(t.hops) + " " + std::to_string(t.out_of_order));
      return;
    }
    ++seen_;
    ++t.hop;
    env().send<Pass>(next_, t);
  }

  meshrun::Ref next_;
  uint64_t seen_ = 0;
};

// Spawns a ring on the job's procs, runs `laps` laps, checks the token came
// by every actor in order, and says how fast it went.
class RingMain : public meshrun::Controller {
 public:
  explicit RingMain(meshrun::ControllerEnv& env) : Controller(env) {}

  meshrun::Main run() override {
    auto& e = env();
    const meshrun::Ref procs = e.lookup(e.param_or<std::string>("procs", "p0"));
    const meshrun::Ref ring = co_await e.spawn("ring", procs, "Ring");
    const uint64_t n = ring.size();
    const auto laps = e.param_or<uint64_t>("laps", 10);
    const std::chrono::milliseconds timeout(e.param_or<int64_t>("timeout_ms", 60000));

    // A warm-up lap, then the timed run.
    (co_await e.call_one<Start, std::string>(ring.at(0), 1, {.timeout = timeout})).expect_ok();
    const auto t0 = std::chrono::steady_clock::now();
    auto end = co_await e.call_one<Start, std::string>(ring.at(0), laps, {.timeout = timeout});
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    end.expect_ok();
    unsigned long long hops = 0, out_of_order = 0;
    std::sscanf(end.values.at(0).c_str(), "%llu %llu", &hops, &out_of_order);
    auto seen = co_await e.call<Seen, uint64_t>(ring, {}, {.reduce = meshrun::Reduce::all_equal});

    char line[200];
    std::snprintf(line, sizeof line,
                  "ring: %llu actors, %llu laps (%llu hops) in %.3f s: %.0f laps/s, %.0f hops/s",
                  static_cast<unsigned long long>(n), static_cast<unsigned long long>(laps), hops,
                  secs, laps / secs, hops / secs);
    e.print(line);
    if (out_of_order != 0 || hops != laps * n || !seen.ok() || *seen.value != laps + 1) {
      e.exit(1, "ring: the token went out of order (" + std::to_string(out_of_order) +
                    " hops), or not every actor saw it " + std::to_string(laps + 1) +
                    " times: " + seen.describe());
      co_return;
    }
    e.print("ring: every actor saw the token " + std::to_string(laps + 1) + " times, in order");
  }
};

}  // namespace

MESHRUN_PLUGIN("ring", MESHRUN_ACTOR(Ring, "Ring"), MESHRUN_CONTROLLER(RingMain, "RingMain"));
