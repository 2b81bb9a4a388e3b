// A stateful key-value store as an actor mesh, and a controller that drives
// it: the state lives in the actors between calls, so a Put and a later Get
// see the same store.
#include <meshrun/actor.hpp>

#include <cstdint>
#include <map>
#include <string>

namespace {

MESHRUN_MESSAGE(Put, std::string);      // "key=value"; replies "ok"
MESHRUN_MESSAGE(Get, std::string);      // "key"; replies the value ("" when absent)
MESHRUN_MESSAGE(Size, meshrun::Empty);  // replies how many keys (a number: reducible)

class KeyValue : public meshrun::Actor {
 public:
  using Messages = meshrun::Messages<Put, Get, Size>;
  explicit KeyValue(meshrun::ActorEnv& env) : Actor(env) {}

  void on(meshrun::Message<Put>& m, meshrun::ReplyPort& port) {
    const std::string& kv = m.payload();
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      throw std::invalid_argument("Put wants \"key=value\", got \"" + kv + "\"");
    data_[kv.substr(0, eq)] = kv.substr(eq + 1);
    port.reply("ok");
  }
  void on(meshrun::Message<Get>& m, meshrun::ReplyPort& port) {
    auto it = data_.find(m.payload());
    port.reply(it == data_.end() ? std::string() : it->second);
  }
  void on(meshrun::Message<Size>&, meshrun::ReplyPort& port) {
    port.reply(static_cast<int64_t>(data_.size()));
  }

 private:
  std::map<std::string, std::string> data_;
};

// The job's main program: spawn a KeyValue mesh on the job's procs, write to
// every actor, read back with a reduction that checks they all agree.
class KvMain : public meshrun::Controller {
 public:
  explicit KvMain(meshrun::ControllerEnv& env) : Controller(env) {}

  meshrun::Main run() override {
    auto& e = env();
    const meshrun::Ref procs = e.lookup(e.param_or<std::string>("procs", "p0"));
    const meshrun::Ref kv = co_await e.spawn("kv", procs, "KeyValue");
    const uint32_t n = kv.size();
    const std::string key = e.param_or<std::string>("key", "greeting");
    const std::string value = e.param_or<std::string>("value", "hello");

    (co_await e.call<Put>(kv, key + "=" + value)).expect_ok();
    auto got = co_await e.call<Get, std::string>(kv, key, {.reduce = meshrun::Reduce::all_equal});
    got.expect_ok();
    auto sizes = co_await e.call<Size, int64_t>(kv, {}, {.reduce = meshrun::Reduce::sum});
    sizes.expect_ok();
    // One actor alone: a Put there shows on no other.
    (co_await e.call_one<Put>(kv.at(n - 1), "only=" + std::to_string(n - 1))).expect_ok();
    auto only = co_await e.call<Get, std::string>(kv, "only");
    only.expect_ok();

    if (*got.value != value || *sizes.value != static_cast<int64_t>(n) ||
        only.values.at(n - 1) != std::to_string(n - 1) || (n > 1 && !only.values.at(0).empty())) {
      e.exit(1, "kv: the store did not keep what was put");
      co_return;
    }
    e.print("kv: " + std::to_string(n) + " actors agree: " + key + " = " + *got.value + " (" +
            std::to_string(*sizes.value) + " keys in all)");
    co_await e.stop("kv");
  }
};

}  // namespace

MESHRUN_PLUGIN("kv", MESHRUN_ACTOR(KeyValue, "KeyValue"), MESHRUN_CONTROLLER(KvMain, "KvMain"));
