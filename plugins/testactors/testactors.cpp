// Actors for tests and demos: identity, echo, failure and silence on demand,
// and a counter of one-way messages.
#include <meshrun/actor.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace {

// Only the size of a payload: counting messages copies none of their bytes.
struct Sized {
  uint64_t size = 0;
};

}  // namespace

template <>
struct meshrun::Codec<Sized> {
  static Sized decode(const uint8_t*, size_t size) { return {size}; }
  static meshrun::Bytes encode(const Sized&) { return {}; }
};

namespace {

MESHRUN_MESSAGE(GetActorId, meshrun::Empty);
MESHRUN_MESSAGE(Echo, meshrun::Bytes);
MESHRUN_MESSAGE(Fail, meshrun::Empty);
MESHRUN_MESSAGE(Hang, meshrun::Empty);
MESHRUN_MESSAGE(Greet, meshrun::Empty);
MESHRUN_MESSAGE(Count, Sized);
MESHRUN_MESSAGE(GetCount, meshrun::Empty);

class TestActor : public meshrun::Actor {
 public:
  using Messages = meshrun::Messages<GetActorId, Echo, Fail, Hang, Count, GetCount>;

  explicit TestActor(meshrun::ActorEnv& env) : Actor(env) {}

  void on(meshrun::Message<GetActorId>&, meshrun::ReplyPort& port) { port.reply(env().actor_id()); }
  void on(meshrun::Message<Echo>& msg, meshrun::ReplyPort& port) { port.reply(msg.payload()); }
  void on(meshrun::Message<Fail>&, meshrun::ReplyPort&) {
    throw std::runtime_error("requested failure");
  }
  // Never replies: lets callers test their timeouts.
  void on(meshrun::Message<Hang>&, meshrun::ReplyPort&) {}
  // Replies anyway, so a test sees that send() drops what a handler replies.
  void on(meshrun::Message<Count>& msg, meshrun::ReplyPort& port) {
    ++count_;
    bytes_ += msg->size;
    // Senders that grow their payloads one by one can check their order.
    if (msg->size < last_size_) ++shrunk_;
    last_size_ = msg->size;
    port.reply("counted");
  }
  // "<messages> <payload bytes> <times a payload was smaller than the one before>"
  void on(meshrun::Message<GetCount>&, meshrun::ReplyPort& port) {
    port.reply(std::to_string(count_) + " " + std::to_string(bytes_) + " " +
               std::to_string(shrunk_));
  }

 private:
  uint64_t count_ = 0;
  uint64_t bytes_ = 0;
  uint64_t last_size_ = 0;
  uint64_t shrunk_ = 0;
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
