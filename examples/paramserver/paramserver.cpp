// A parameter server: a Server mesh (on host 0) holds the parameters; a
// Worker mesh (on the other hosts) trains, each worker sending its updates
// straight to the server (actor to actor, across hosts) and awaiting each
// new version without blocking its proc. The controller starts the training
// and reads the result back with a reduction.
#include <meshrun/actor.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>

namespace {

// What a worker is told: how many steps, and where the server is.
struct TrainArgs {
  uint32_t steps = 0;
  meshrun::Ref server;
};

}  // namespace

template <>
struct meshrun::Codec<TrainArgs> {
  static TrainArgs decode(const uint8_t* data, size_t size) {
    if (size < 4) throw std::runtime_error("TrainArgs: too short");
    TrainArgs a;
    std::memcpy(&a.steps, data, 4);
    a.server = meshrun::Ref(meshrun::Bytes(data + 4, data + size));
    return a;
  }
  static meshrun::Bytes encode(const TrainArgs& a) {
    const meshrun::Bytes& ref = a.server.bytes();
    meshrun::Bytes out(4 + ref.size());
    std::memcpy(out.data(), &a.steps, 4);
    std::copy(ref.begin(), ref.end(), out.begin() + 4);
    return out;
  }
};

namespace {

MESHRUN_MESSAGE(Update, int64_t);        // server: add a delta; answers the new version
MESHRUN_MESSAGE(Total, meshrun::Empty);  // server: the sum of every update
MESHRUN_MESSAGE(Train, TrainArgs);       // worker: run the steps; answers what it added

class Server : public meshrun::Actor {
 public:
  using Messages = meshrun::Messages<Update, Total>;
  explicit Server(meshrun::ActorEnv& env) : Actor(env) {}

  void on(meshrun::Message<Update>& m, meshrun::ReplyPort& port) {
    total_ += m.payload();
    port.reply(++version_);
  }
  void on(meshrun::Message<Total>&, meshrun::ReplyPort& port) { port.reply(total_); }

 private:
  int64_t total_ = 0;
  int64_t version_ = 0;
};

class Worker : public meshrun::Actor {
 public:
  using Messages = meshrun::Messages<Train>;
  explicit Worker(meshrun::ActorEnv& env) : Actor(env) {}

  // A coroutine: each update waits for the server's answer while the proc
  // goes on serving other messages.
  meshrun::Task on(meshrun::Message<Train> m, meshrun::ReplyPort port) {
    const int64_t delta = env().rank() + 1;  // this worker's "gradient"
    int64_t added = 0;
    for (uint32_t step = 0; step < m->steps; ++step) {
      auto version = co_await env().call_one<Update, int64_t>(m->server, delta);
      version.expect_ok();
      added += delta;
    }
    port.reply(added);
  }
};

class PsMain : public meshrun::Controller {
 public:
  explicit PsMain(meshrun::ControllerEnv& env) : Controller(env) {}

  meshrun::Main run() override {
    auto& e = env();
    const meshrun::Ref procs = e.lookup(e.param_or<std::string>("procs", "p0"));
    const auto hosts = e.param_or<uint32_t>("hosts", 2);
    const auto steps = e.param_or<uint32_t>("steps", 20);
    // One server proc on host 0; workers on every proc of the other hosts.
    const meshrun::Ref server =
        co_await e.spawn("server", procs.slice("hosts", 0, 1).slice("procs", 0, 1), "Server");
    const meshrun::Ref workers =
        co_await e.spawn("workers", procs.slice("hosts", 1, hosts), "Worker");

    // Named, not a braced temporary inside co_await: GCC 12 would destroy
    // that twice.
    const TrainArgs args{steps, server};
    auto added = co_await e.call<Train, int64_t>(workers, args, {.reduce = meshrun::Reduce::sum});
    added.expect_ok();
    auto total = co_await e.call_one<Total, int64_t>(server);
    total.expect_ok();
    const int64_t held = total.values.at(0);
    e.print("paramserver: " + std::to_string(workers.size()) + " workers x " +
            std::to_string(steps) + " steps; the workers added " + std::to_string(*added.value) +
            ", the server holds " + std::to_string(held));
    if (held != *added.value) e.exit(1, "paramserver: the server lost updates");
  }
};

}  // namespace

MESHRUN_PLUGIN("paramserver", MESHRUN_ACTOR(Server, "Server"), MESHRUN_ACTOR(Worker, "Worker"),
               MESHRUN_CONTROLLER(PsMain, "PsMain"));
