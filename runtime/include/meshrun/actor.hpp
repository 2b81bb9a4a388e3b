// The C++ side of the plugin SDK: write actors as classes, register them in
// one line, and let the trampolines here keep exceptions and C++ types on the
// plugin's side of the C ABI (meshrun/plugin.h). Header-only, C++17.
//
//   MESHRUN_MESSAGE(GetActorId, meshrun::Empty);
//   class TestActor : public meshrun::Actor {
//    public:
//     using Messages = meshrun::Messages<GetActorId>;
//     explicit TestActor(meshrun::ActorEnv& env) : Actor(env) {}
//     void on(meshrun::Message<GetActorId>&, meshrun::ReplyPort& port) {
//       port.reply(env().actor_id());
//     }
//   };
//   MESHRUN_PLUGIN("testactors", MESHRUN_ACTOR(TestActor, "TestActor"));
//
// Build plugins with -fvisibility=hidden: only meshrun_plugin_entry is exported.
#pragma once

#include <meshrun/plugin.h>

#include <cstddef>
#include <cstdint>
#include <exception>
#include <initializer_list>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace meshrun {

using Bytes = std::vector<uint8_t>;

// The payload of a message that carries nothing (any bytes are ignored).
struct Empty {};

// How a payload type crosses as bytes. Specialise for your own types:
//   static T decode(const uint8_t* data, size_t size);   // may throw
//   static Bytes encode(const T& value);
template <class T, class = void>
struct Codec;

template <>
struct Codec<Empty> {
  static Empty decode(const uint8_t*, size_t) { return {}; }
  static Bytes encode(const Empty&) { return {}; }
};

template <>
struct Codec<Bytes> {
  static Bytes decode(const uint8_t* data, size_t size) {
    return size == 0 ? Bytes{} : Bytes(data, data + size);
  }
  static Bytes encode(const Bytes& value) { return value; }
};

template <>
struct Codec<std::string> {
  static std::string decode(const uint8_t* data, size_t size) {
    // char and uint8_t may alias; the payload is UTF-8 text by convention.
    return size == 0 ? std::string{} : std::string(reinterpret_cast<const char*>(data), size);
  }
  static Bytes encode(const std::string& value) { return Bytes(value.begin(), value.end()); }
};

// A message type is a name plus a payload type with a Codec:
//   struct Echo { static constexpr const char name[] = "Echo"; using Payload = meshrun::Bytes; };
#define MESHRUN_MESSAGE_NAMED(Type, Name, PayloadType) \
  struct Type {                                        \
    static constexpr const char name[] = Name;         \
    using Payload = PayloadType;                       \
  }
#define MESHRUN_MESSAGE(Type, PayloadType) MESHRUN_MESSAGE_NAMED(Type, #Type, PayloadType)

// A decoded message as a handler receives it.
template <class M>
class Message {
 public:
  using Payload = typename M::Payload;
  explicit Message(Payload payload) : payload_(std::move(payload)) {}

  static constexpr std::string_view name() { return M::name; }
  Payload& payload() { return payload_; }
  const Payload& payload() const { return payload_; }
  Payload* operator->() { return &payload_; }
  const Payload* operator->() const { return &payload_; }

 private:
  Payload payload_;
};

// The list of messages an actor class handles: `using Messages = ...;`.
template <class... Ms>
struct Messages {};

// Replies to the sender of the message being handled. Valid only while the
// handler runs; a failed send throws (and so fails the handler).
class ReplyPort {
 public:
  ReplyPort(const meshrun_host_api* host, meshrun_reply* reply) : host_(host), reply_(reply) {}

  void reply_bytes(const void* data, size_t size) {
    if (host_->reply(reply_, static_cast<const uint8_t*>(data), size) != MESHRUN_OK) {
      throw std::runtime_error("meshrun: sending the reply failed");
    }
    replied_ = true;
  }
  void reply(std::string_view text) { reply_bytes(text.data(), text.size()); }
  template <class T, std::enable_if_t<!std::is_convertible_v<const T&, std::string_view>, int> = 0>
  void reply(const T& value) {
    const Bytes bytes = Codec<T>::encode(value);
    reply_bytes(bytes.data(), bytes.size());
  }
  bool replied() const { return replied_; }

 private:
  const meshrun_host_api* host_;
  meshrun_reply* reply_;
  bool replied_ = false;
};

enum class LogLevel { error = 1, warn = 2, info = 3, verbose = 4, debug = 5 };

// What an actor knows about itself: identity, parameters, logging.
class ActorEnv {
 public:
  ActorEnv(const meshrun_host_api* host, const meshrun_actor_ctx* ctx) : host_(host), ctx_(ctx) {}

  std::string_view actor_id() const { return view(host_->actor_id(ctx_)); }
  std::string_view mesh_name() const { return view(host_->mesh_name(ctx_)); }
  uint32_t rank() const { return host_->rank(ctx_); }
  uint32_t size() const { return host_->size(ctx_); }

  // Typed parameter by dotted key. T: std::string, bool, an integer type or a
  // floating type. Missing key or wrong type throws with the key named.
  template <class T>
  T param(std::string_view key) const {
    std::optional<T> value = find_param<T>(key);
    if (!value) throw std::runtime_error("missing parameter '" + std::string(key) + "'");
    return std::move(*value);
  }
  template <class T>
  T param_or(std::string_view key, T fallback) const {
    std::optional<T> value = find_param<T>(key);
    return value ? std::move(*value) : std::move(fallback);
  }
  // Missing key -> nullopt; a value of another type throws.
  template <class T>
  std::optional<T> find_param(std::string_view key) const {
    int rc = MESHRUN_ERROR;
    std::optional<T> result;
    if constexpr (std::is_same_v<T, std::string>) {
      meshrun_str s{nullptr, 0};
      rc = host_->param_string(ctx_, key.data(), key.size(), &s);
      if (rc == MESHRUN_OK) result = std::string(view(s));
    } else if constexpr (std::is_same_v<T, bool>) {
      int b = 0;
      rc = host_->param_bool(ctx_, key.data(), key.size(), &b);
      if (rc == MESHRUN_OK) result = b != 0;
    } else if constexpr (std::is_integral_v<T>) {
      int64_t i = 0;
      rc = host_->param_int(ctx_, key.data(), key.size(), &i);
      if (rc == MESHRUN_OK) result = narrow<T>(key, i);
    } else if constexpr (std::is_floating_point_v<T>) {
      double d = 0;
      rc = host_->param_double(ctx_, key.data(), key.size(), &d);
      if (rc == MESHRUN_OK) result = static_cast<T>(d);
    } else {
      static_assert(sizeof(T) == 0, "param<T>: T must be std::string, bool, integer or floating");
    }
    if (rc == MESHRUN_PARAM_MISSING) return std::nullopt;
    if (rc == MESHRUN_PARAM_WRONG_TYPE) {
      throw std::runtime_error("parameter '" + std::string(key) + "' has the wrong type");
    }
    if (rc != MESHRUN_OK) {
      throw std::runtime_error("parameter '" + std::string(key) + "' lookup failed");
    }
    return result;
  }

  void log(LogLevel level, std::string_view text) const {
    if (MESHRUN_HOST_HAS(host_, log)) {
      host_->log(ctx_, static_cast<int>(level), text.data(), text.size());
    }
  }
  void error(std::string_view text) const { log(LogLevel::error, text); }
  void warn(std::string_view text) const { log(LogLevel::warn, text); }
  void info(std::string_view text) const { log(LogLevel::info, text); }
  void debug(std::string_view text) const { log(LogLevel::debug, text); }

  // The raw C handles, for calls the C++ layer does not wrap.
  const meshrun_host_api* host() const { return host_; }
  const meshrun_actor_ctx* context() const { return ctx_; }

 private:
  static std::string_view view(meshrun_str s) {
    return s.data == nullptr ? std::string_view{} : std::string_view(s.data, s.len);
  }
  template <class T>
  static T narrow(std::string_view key, int64_t i) {
    bool fits = true;
    if constexpr (std::is_signed_v<T>) {
      fits = i >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
             i <= static_cast<int64_t>(std::numeric_limits<T>::max());
    } else {
      fits = i >= 0 && static_cast<uint64_t>(i) <= std::numeric_limits<T>::max();
    }
    if (!fits) throw std::runtime_error("parameter '" + std::string(key) + "' is out of range");
    return static_cast<T>(i);
  }

  const meshrun_host_api* host_;
  const meshrun_actor_ctx* ctx_;
};

// Base of every actor class. The class must have a constructor taking
// ActorEnv&, a `Messages` list, and `on(Message<M>&, ReplyPort&)` for each M.
class Actor {
 public:
  explicit Actor(ActorEnv& env) : env_(&env) {}
  virtual ~Actor() = default;
  Actor(const Actor&) = delete;
  Actor& operator=(const Actor&) = delete;

  ActorEnv& env() const { return *env_; }

 private:
  ActorEnv* env_;
};

namespace detail {

// The host table for this plugin (each plugin has its own copy: hidden).
inline const meshrun_host_api*& host_slot() {
  static const meshrun_host_api* host = nullptr;
  return host;
}

// Turns the exception in flight into MESHRUN_ERROR plus its text.
inline int fail(meshrun_error* err) noexcept {
  const meshrun_host_api* host = host_slot();
  const char* text = "unknown exception";
  try {
    throw;
  } catch (const std::exception& e) {
    text = e.what();
  } catch (...) {
  }
  if (host != nullptr && err != nullptr)
    host->set_error(err, text, std::char_traits<char>::length(text));
  return MESHRUN_ERROR;
}

// Env first so it outlives the actor that refers to it.
template <class A>
struct Holder {
  Holder(const meshrun_host_api* host, const meshrun_actor_ctx* ctx) : env(host, ctx), actor(env) {}
  ActorEnv env;
  A actor;
};

template <class A, class List>
struct Dispatch;

template <class A, class... Ms>
struct Dispatch<A, Messages<Ms...>> {
  static constexpr const char* names[sizeof...(Ms) + 1] = {Ms::name..., nullptr};

  // False when no handler has that name.
  static bool run(A& actor, std::string_view name, const uint8_t* data, size_t size,
                  ReplyPort& port) {
    bool found = false;
    (void)((name == std::string_view(Ms::name) ? (one<Ms>(actor, data, size, port), found = true)
                                               : false) ||
           ...);
    return found;
  }

 private:
  template <class M>
  static void one(A& actor, const uint8_t* data, size_t size, ReplyPort& port) {
    Message<M> message(Codec<typename M::Payload>::decode(data, size));
    actor.on(message, port);
  }
};

template <class A>
int create(const meshrun_actor_ctx* ctx, void** state, meshrun_error* err) noexcept {
  try {
    *state = new Holder<A>(host_slot(), ctx);
    return MESHRUN_OK;
  } catch (...) {
    return fail(err);
  }
}

template <class A>
void destroy(void* state) noexcept {
  try {
    delete static_cast<Holder<A>*>(state);
  } catch (...) {  // a throwing destructor must not unwind into the host
  }
}

template <class A>
int handle(void* state, const char* message, size_t message_len, const uint8_t* payload,
           size_t payload_len, meshrun_reply* reply, meshrun_error* err) noexcept {
  try {
    auto* holder = static_cast<Holder<A>*>(state);
    ReplyPort port(host_slot(), reply);
    const bool found = Dispatch<A, typename A::Messages>::run(
        holder->actor, std::string_view(message, message_len), payload, payload_len, port);
    return found ? MESHRUN_OK : MESHRUN_UNKNOWN_MESSAGE;
  } catch (...) {
    return fail(err);
  }
}

template <class A>
meshrun_actor_type actor_type(const char* name) {
  static_assert(std::is_base_of_v<Actor, A>, "MESHRUN_ACTOR: the class must derive meshrun::Actor");
  using List = Dispatch<A, typename A::Messages>;
  meshrun_actor_type t{};
  t.struct_size = sizeof(meshrun_actor_type);
  t.name = name;
  t.create = &create<A>;
  t.destroy = &destroy<A>;
  t.handle = &handle<A>;
  t.messages = List::names;
  t.message_count = sizeof(List::names) / sizeof(List::names[0]) - 1;
  return t;
}

// The plugin's static registration, built on the first entry call.
class Plugin {
 public:
  Plugin(const char* name, std::initializer_list<meshrun_actor_type> types) : types_(types) {
    for (const meshrun_actor_type& t : types_)
      pointers_.push_back(&t);
    registration_.struct_size = sizeof(meshrun_plugin_registration);
    registration_.abi_major = MESHRUN_PLUGIN_ABI_MAJOR;
    registration_.abi_minor = MESHRUN_PLUGIN_ABI_MINOR;
    registration_.plugin_name = name;
    registration_.types = pointers_.data();
    registration_.type_count = pointers_.size();
  }
  Plugin(const Plugin&) = delete;
  Plugin& operator=(const Plugin&) = delete;

  const meshrun_plugin_registration* enter(const meshrun_host_api* host) const {
    // Another major: hand back our versions untouched and let the host refuse.
    if (host->abi_major == MESHRUN_PLUGIN_ABI_MAJOR) host_slot() = host;
    return &registration_;
  }

 private:
  std::vector<meshrun_actor_type> types_;
  std::vector<const meshrun_actor_type*> pointers_;
  meshrun_plugin_registration registration_{};
};

}  // namespace detail
}  // namespace meshrun

// One actor type: the class and the name it is created by.
#define MESHRUN_ACTOR(Class, Name) ::meshrun::detail::actor_type<Class>(Name)

// The plugin's one registration line: its name, then MESHRUN_ACTOR(...) entries.
#define MESHRUN_PLUGIN(Name, ...)                                                           \
  extern "C" MESHRUN_PLUGIN_EXPORT const meshrun_plugin_registration* meshrun_plugin_entry( \
      const meshrun_host_api* host, meshrun_error* err) {                                   \
    try {                                                                                   \
      static const ::meshrun::detail::Plugin meshrun_plugin_(Name, {__VA_ARGS__});          \
      return meshrun_plugin_.enter(host);                                                   \
    } catch (...) {                                                                         \
      if (host != nullptr && host->abi_major == MESHRUN_PLUGIN_ABI_MAJOR) {                 \
        ::meshrun::detail::host_slot() = host;                                              \
      }                                                                                     \
      ::meshrun::detail::fail(err);                                                         \
      return nullptr;                                                                       \
    }                                                                                       \
  }                                                                                         \
  static_assert(true, "")
