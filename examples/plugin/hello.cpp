// An example meshrun plugin: one actor type, Greeter, that answers Hello.
// Build it against an installed meshrun (see CMakeLists.txt and README.md).
#include <meshrun/actor.hpp>

#include <cstdint>
#include <string>

namespace {

// A message is a name and a payload type; this one carries text (who to greet).
MESHRUN_MESSAGE(Hello, std::string);

class Greeter : public meshrun::Actor {
 public:
  using Messages = meshrun::Messages<Hello>;

  // Parameters come from [actors.params] in the job spec.
  explicit Greeter(meshrun::ActorEnv& env)
      : Actor(env), greeting_(env.param_or<std::string>("greeting", "hello")) {}

  // State lives as long as the actor, so repeated casts see the count grow.
  void on(meshrun::Message<Hello>& msg, meshrun::ReplyPort& port) {
    ++count_;
    port.reply(greeting_ + ", " + msg.payload() + ", from rank " + std::to_string(env().rank()) +
               " of " + std::to_string(env().size()) + " (message " + std::to_string(count_) + ")");
  }

 private:
  std::string greeting_;
  uint64_t count_ = 0;
};

}  // namespace

// The one registration line: the plugin's name and its actor types.
MESHRUN_PLUGIN("hello", MESHRUN_ACTOR(Greeter, "Greeter"));
