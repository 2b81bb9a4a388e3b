// Actors for tests and demos: identity, echo, failure and silence on demand.
#include <meshrun/actor.hpp>

#include <stdexcept>
#include <string>

namespace {

MESHRUN_MESSAGE(GetActorId, meshrun::Empty);
MESHRUN_MESSAGE(Echo, meshrun::Bytes);
MESHRUN_MESSAGE(Fail, meshrun::Empty);
MESHRUN_MESSAGE(Hang, meshrun::Empty);
MESHRUN_MESSAGE(Greet, meshrun::Empty);

class TestActor : public meshrun::Actor {
 public:
  using Messages = meshrun::Messages<GetActorId, Echo, Fail, Hang>;

  explicit TestActor(meshrun::ActorEnv& env) : Actor(env) {}

  void on(meshrun::Message<GetActorId>&, meshrun::ReplyPort& port) { port.reply(env().actor_id()); }
  void on(meshrun::Message<Echo>& msg, meshrun::ReplyPort& port) { port.reply(msg.payload()); }
  void on(meshrun::Message<Fail>&, meshrun::ReplyPort&) {
    throw std::runtime_error("requested failure");
  }
  // Never replies: lets callers test their timeouts.
  void on(meshrun::Message<Hang>&, meshrun::ReplyPort&) {}
};

class Greeter : public meshrun::Actor {
 public:
  using Messages = meshrun::Messages<Greet>;

  explicit Greeter(meshrun::ActorEnv& env)
      : Actor(env), greeting_(env.param_or<std::string>("greeting", "hello")) {}

  void on(meshrun::Message<Greet>&, meshrun::ReplyPort& port) {
    port.reply(greeting_ + " from " + std::string(env().actor_id()));
  }

 private:
  std::string greeting_;
};

}  // namespace

MESHRUN_PLUGIN("testactors", MESHRUN_ACTOR(TestActor, "TestActor"),
               MESHRUN_ACTOR(Greeter, "Greeter"));
