// The C++ side of the plugin SDK: actors and controllers as classes over the
// C ABI (meshrun/plugin.h). The trampolines here keep exceptions and C++
// types on the plugin's side. Header-only, C++20 (coroutines).
//
//   MESHRUN_MESSAGE(Put, meshrun::Bytes);
//   MESHRUN_MESSAGE(Get, meshrun::Empty);
//
//   class KeyValue : public meshrun::Actor {
//    public:
//     using Messages = meshrun::Messages<Put, Get>;
//     explicit KeyValue(meshrun::ActorEnv& env) : Actor(env) {}
//     void on(meshrun::Message<Put>& m, meshrun::ReplyPort& port) { value_ = m.payload(); ... }
//     void on(meshrun::Message<Get>&, meshrun::ReplyPort& port) { port.reply(value_); }
//   };
//
//   class Main : public meshrun::Controller {
//    public:
//     explicit Main(meshrun::ControllerEnv& env) : Controller(env) {}
//     meshrun::Task run() override {
//       meshrun::Ref kv = env().lookup("kv");
//       co_await env().call<Put>(kv, bytes);
//       auto got = co_await env().call<Get, std::string>(kv, {}, {.reduce =
//       meshrun::Reduce::all_equal}); env().print("kv holds " + *got.value);
//     }
//   };
//   MESHRUN_PLUGIN("kv", MESHRUN_ACTOR(KeyValue, "KeyValue"), MESHRUN_CONTROLLER(Main, "Main"));
//
// A handler may be a coroutine (return meshrun::Task): it can co_await calls
// to other actors without blocking its proc, and answer its port later.
// Actors build as C++17 too; coroutine handlers, co_await and controllers
// need C++20 (meshrun::plugin_sdk asks for it).
// Build plugins with -fvisibility=hidden: only meshrun_plugin_entry is exported.
#pragma once

#include <meshrun/plugin.h>

#if defined(__cpp_impl_coroutine) && __cpp_impl_coroutine >= 201902L
#define MESHRUN_SDK_COROUTINES 1
#include <coroutine>
#else
#define MESHRUN_SDK_COROUTINES 0
#endif

#include <charconv>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <set>
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

// How a payload (or reply) type crosses as bytes. Specialise for your own:
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

// Numbers travel as decimal text, the form the built-in reducers fold.
template <class T>
struct Codec<T, std::enable_if_t<std::is_arithmetic_v<T> && !std::is_same_v<T, bool>>> {
  static T decode(const uint8_t* data, size_t size) {
    const char* b = reinterpret_cast<const char*>(data);
    T v{};
    auto [end, ec] = std::from_chars(b, b + size, v);
    if (ec != std::errc() || end != b + size)
      throw std::runtime_error("'" + std::string(b, size) + "' is not a number of the type asked");
    return v;
  }
  static Bytes encode(const T& value) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
    (void)ec;
    return Bytes(buf, end);
  }
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

enum class LogLevel { error = 1, warn = 2, info = 3, verbose = 4, debug = 5 };

// Built-in reducers (see meshrun.toml(5), cast.reduce).
enum class Reduce {
  none = MESHRUN_REDUCE_NONE,
  sum = MESHRUN_REDUCE_SUM,
  min = MESHRUN_REDUCE_MIN,
  max = MESHRUN_REDUCE_MAX,
  count = MESHRUN_REDUCE_COUNT,
  concat = MESHRUN_REDUCE_CONCAT,
  all_equal = MESHRUN_REDUCE_ALL_EQUAL
};

struct CallOptions {
  std::chrono::milliseconds timeout{30000};
  Reduce reduce = Reduce::none;
};

namespace detail {

// The host table for this plugin (each plugin has its own copy: hidden).
inline const meshrun_host_api*& host_slot() {
  static const meshrun_host_api* host = nullptr;
  return host;
}

inline const meshrun_host_api& host() {
  const meshrun_host_api* h = host_slot();
  if (h == nullptr) throw std::logic_error("meshrun: the plugin was not entered by a host");
  return *h;
}

template <class F>
bool has(F meshrun_host_api::*member, size_t end) {
  const meshrun_host_api* h = host_slot();
  return h != nullptr && h->struct_size >= end && h->*member != nullptr;
}
#define MESHRUN_SDK_HAS(member)                     \
  ::meshrun::detail::has(&meshrun_host_api::member, \
                         offsetof(meshrun_host_api, member) + sizeof(meshrun_host_api::member))

inline void require(bool present, const char* what) {
  if (!present)
    throw std::runtime_error(std::string("meshrun: this meshrun is too old for ") + what +
                             " (plugin ABI 1.1 needed)");
}

// Collects what a host call writes through a meshrun_sink.
struct Sink {
  Bytes bytes;
  meshrun_sink c{this, [](void* user, const uint8_t* data, size_t len) {
                   auto* self = static_cast<Sink*>(user);
                   self->bytes.assign(data, data + len);
                 }};
};

inline const char* code_text(int rc) {
  switch (rc) {
    case MESHRUN_BAD_REFERENCE:
      return "not a reference or port of this job";
    case MESHRUN_NOT_CONTROLLER:
      return "only the job's controller may do that";
    case MESHRUN_CLOSED:
      return "the job is ending";
    default:
      return "the host refused";
  }
}

inline void check(int rc, const char* what) {
  if (rc != MESHRUN_OK)
    throw std::runtime_error(std::string("meshrun: ") + what + ": " + code_text(rc));
}

// Where a failure of a coroutine that runs detached goes: the dispatch on
// this thread that resumed it (a handler, on_done, run) reports it.
inline std::exception_ptr*& failure_slot() {
  static thread_local std::exception_ptr* slot = nullptr;
  return slot;
}

}  // namespace detail

// A reference to actors: a whole mesh, a slice, or one actor. A value:
// keep it, put it in payloads (Codec<Ref>), send it to other actors.
class Ref {
 public:
  Ref() = default;
  explicit Ref(Bytes bytes) : bytes_(std::move(bytes)) {}

  const Bytes& bytes() const { return bytes_; }
  bool empty() const { return bytes_.empty(); }
  // How many actors it names.
  uint32_t size() const {
    return empty() ? 0 : detail::host().ref_size(bytes_.data(), bytes_.size());
  }
  // The i-th of them alone.
  Ref at(uint32_t i) const {
    detail::Sink out;
    detail::check(detail::host().ref_at(bytes_.data(), bytes_.size(), i, &out.c), "Ref::at");
    return Ref(std::move(out.bytes));
  }
  // A narrower view along one dimension, in the mesh's own coordinates.
  Ref slice(std::string_view dim, uint32_t begin, uint32_t end) const {
    detail::Sink out;
    detail::check(detail::host().ref_slice(bytes_.data(), bytes_.size(), dim.data(), dim.size(),
                                           begin, end, &out.c),
                  "Ref::slice");
    return Ref(std::move(out.bytes));
  }
  // "a0{hosts=0..2, procs=1}"
  std::string str() const {
    detail::Sink out;
    if (empty() || detail::host().ref_describe(bytes_.data(), bytes_.size(), &out.c) != MESHRUN_OK)
      return "(no reference)";
    return std::string(out.bytes.begin(), out.bytes.end());
  }

 private:
  Bytes bytes_;
};

// Where the answers to a call go. A value that outlives the handler: answer
// through it later (ActorEnv::reply), or send it on for another actor to
// answer (ActorEnv::forward).
class Port {
 public:
  Port() = default;
  explicit Port(Bytes bytes) : bytes_(std::move(bytes)) {}
  const Bytes& bytes() const { return bytes_; }
  bool empty() const { return bytes_.empty(); }

 private:
  Bytes bytes_;
};

template <>
struct Codec<Ref> {
  static Ref decode(const uint8_t* data, size_t size) { return Ref(Bytes(data, data + size)); }
  static Bytes encode(const Ref& r) { return r.bytes(); }
};
template <>
struct Codec<Port> {
  static Port decode(const uint8_t* data, size_t size) { return Port(Bytes(data, data + size)); }
  static Bytes encode(const Port& p) { return p.bytes(); }
};

// What a finished call gives back: each answer by rank (or the reduced
// value), the ranks that failed and why, the ranks that never answered.
template <class T = Bytes>
struct Replies {
  std::map<uint32_t, T> values;  // by rank in the called mesh
  std::optional<T> value;        // with a reducer
  std::vector<std::pair<uint32_t, std::string>> failures;
  std::vector<uint32_t> missing;
  std::string error;  // the call as a whole failed
  uint32_t expected = 0;
  uint32_t replied = 0;

  bool ok() const { return failures.empty() && missing.empty() && error.empty(); }
  // "rank 3 failed: ...; no answer from ranks 5, 7"
  std::string describe() const {
    std::string s = error;
    for (const auto& [rank, cause] : failures)
      s += (s.empty() ? "" : "; ") + std::string("rank ") + std::to_string(rank) +
           " failed: " + cause;
    if (!missing.empty()) {
      s += (s.empty() ? "" : "; ") + std::string("no answer from rank");
      s += missing.size() > 1 ? "s " : " ";
      for (size_t i = 0; i < missing.size(); ++i)
        s += (i ? ", " : "") + std::to_string(missing[i]);
    }
    return s.empty() ? "ok" : s;
  }
  // Throws with describe() unless every rank answered.
  const Replies& expect_ok() const {
    if (!ok()) throw std::runtime_error(describe());
    return *this;
  }
};

#if MESHRUN_SDK_COROUTINES
// A coroutine that runs detached: a coroutine handler. It starts at once and
// lives until it ends; an exception in it fails its actor.
class Task {
 public:
  struct promise_type {
    Task get_return_object() noexcept { return {}; }
    std::suspend_never initial_suspend() noexcept { return {}; }
    std::suspend_never final_suspend() noexcept { return {}; }
    void return_void() noexcept {}
    void unhandled_exception() noexcept {
      if (auto* slot = detail::failure_slot(); slot != nullptr && !*slot)
        *slot = std::current_exception();
    }
  };
};
#endif

namespace detail {

// A call or operation in flight, found again by its cookie.
class Pending {
 public:
  virtual ~Pending() = default;
  virtual void complete(const meshrun_result& r) = 0;
#if MESHRUN_SDK_COROUTINES
  // The coroutine waiting for it, if one is (destroyed with its actor).
  std::coroutine_handle<> waiter;
#endif
};

// The pending calls of one actor, so they (and the coroutines waiting for
// them) go when the actor goes, and never outlive it.
class PendingSet {
 public:
  ~PendingSet() { clear(); }
  uint64_t add(std::shared_ptr<Pending> p) {
    const auto cookie = reinterpret_cast<uint64_t>(p.get());
    set_.emplace(cookie, std::move(p));
    return cookie;
  }
  std::shared_ptr<Pending> take(uint64_t cookie) {
    auto it = set_.find(cookie);
    if (it == set_.end()) return nullptr;
    auto p = std::move(it->second);
    set_.erase(it);
    return p;
  }
  void clear() {
    auto all = std::move(set_);
    set_.clear();
#if MESHRUN_SDK_COROUTINES
    for (auto& entry : all)
      if (auto h = std::exchange(entry.second->waiter, nullptr)) h.destroy();
#endif
  }

 private:
  std::map<uint64_t, std::shared_ptr<Pending>> set_;
};

template <class T>
Replies<T> to_replies(const meshrun_result& r) {
  Replies<T> out;
  out.expected = r.expected;
  out.replied = r.replied;
  for (size_t i = 0; i < r.answer_count; ++i)
    out.values.emplace(r.answers[i].rank, Codec<T>::decode(r.answers[i].data, r.answers[i].len));
  if (r.has_value) out.value = Codec<T>::decode(r.value, r.value_len);
  for (size_t i = 0; i < r.failure_count; ++i)
    out.failures.emplace_back(r.failures[i].rank,
                              std::string(r.failures[i].cause, r.failures[i].cause_len));
  out.missing.assign(r.missing, r.missing + r.missing_count);
  if (r.error != nullptr) out.error.assign(r.error, r.error_len);
  return out;
}

// The one awaitable behind calls and controller operations, shared by the
// Call a user holds and the actor's pending set until it completes.
template <class R>
class Awaited : public Pending {
 public:
  using Convert = R (*)(const meshrun_result&);
  explicit Awaited(Convert convert) : convert_(convert) {}
  void complete(const meshrun_result& r) override {
    try {
      result_.emplace(convert_(r));
    } catch (...) {
      error_ = std::current_exception();
    }
    if (then_) {
      auto fn = std::move(then_);
      fn(take());
    }
#if MESHRUN_SDK_COROUTINES
    else if (auto h = std::exchange(waiter, nullptr)) {
      h.resume();
    }
#endif
  }
  bool done() const {
    return result_.has_value() || error_ != nullptr;
  }
  R take() {
    if (error_) std::rethrow_exception(error_);
    return std::move(*result_);
  }
  std::function<void(R)> then_;

 private:
  Convert convert_;
  std::optional<R> result_;
  std::exception_ptr error_;
};

}  // namespace detail

// A call (or operation) on its way: co_await it in a Task, or give then() a
// callback. Dropped without either, its result is ignored.
template <class R>
class [[nodiscard]] Call {
 public:
  explicit Call(std::shared_ptr<detail::Awaited<R>> a) : a_(std::move(a)) {}

#if MESHRUN_SDK_COROUTINES
  bool await_ready() const noexcept {
    return a_->done();
  }
  void await_suspend(std::coroutine_handle<> h) noexcept {
    a_->waiter = h;
  }
  R await_resume() {
    return a_->take();
  }
#endif
  void then(std::function<void(R)> fn) {
    if (a_->done())
      fn(a_->take());
    else
      a_->then_ = std::move(fn);
  }

 private:
  std::shared_ptr<detail::Awaited<R>> a_;
};

// Answers the message being handled: reply() sends to its port. Valid while
// the handler runs; a coroutine handler gets one that stays valid until it
// ends. port() is the port as a value, to answer from anywhere later.
class ReplyPort {
 public:
  ReplyPort(const meshrun_host_api* host, meshrun_reply* reply, const meshrun_actor_ctx* ctx,
            bool detached)
      : host_(host), reply_(reply), ctx_(ctx) {
    if (detached) port_ = port();
  }

  void reply_bytes(const void* data, size_t size) {
    const auto* bytes = static_cast<const uint8_t*>(data);
    int rc = MESHRUN_OK;
    if (reply_ != nullptr && !port_) {
      rc = host_->reply(reply_, bytes, size);
    } else if (port_ && !port_->empty()) {
      rc = host_->port_reply(ctx_, port_->bytes().data(), port_->bytes().size(), bytes, size);
    }
    if (rc != MESHRUN_OK) throw std::runtime_error("meshrun: sending the reply failed");
    replied_ = true;
  }
  void reply(std::string_view text) { reply_bytes(text.data(), text.size()); }
  template <class T, std::enable_if_t<!std::is_convertible_v<const T&, std::string_view>, int> = 0>
  void reply(const T& value) {
    const Bytes bytes = Codec<T>::encode(value);
    reply_bytes(bytes.data(), bytes.size());
  }
  bool replied() const { return replied_; }
  // The port as a value (empty for a one-way message, which has none).
  Port port() {
    if (port_) return *port_;
    if (reply_ == nullptr || !MESHRUN_SDK_HAS(reply_port)) return Port();
    detail::Sink out;
    if (host_->reply_port(reply_, &out.c) != MESHRUN_OK) return Port();
    return Port(std::move(out.bytes));
  }

 private:
  const meshrun_host_api* host_;
  meshrun_reply* reply_;
  const meshrun_actor_ctx* ctx_;
  std::optional<Port> port_;
  bool replied_ = false;
};

// What an actor knows about itself, and what it can do: parameters, logs,
// and messages to other actors.
class ActorEnv {
 public:
  ActorEnv(const meshrun_host_api* host, const meshrun_actor_ctx* ctx) : host_(host), ctx_(ctx) {}
  ActorEnv(const ActorEnv&) = delete;
  ActorEnv& operator=(const ActorEnv&) = delete;

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

  // ---- messages to other actors (plugin ABI 1.1) ----

  // This actor's whole mesh (an actor of it: self().at(rank())).
  Ref self() const {
    detail::require(MESHRUN_SDK_HAS(self_ref), "self()");
    detail::Sink out;
    detail::check(host_->self_ref(ctx_, &out.c), "self()");
    return Ref(std::move(out.bytes));
  }
  // One-way: every actor `to` names gets M, in order per receiver; none
  // answers. If it cannot be delivered, the actor hears of it
  // (on_undeliverable), or fails.
  template <class M>
  void send(const Ref& to, const typename M::Payload& payload = {}) {
    if constexpr (std::is_same_v<typename M::Payload, Bytes>)
      send_raw(to, M::name, payload, nullptr);  // no copy to encode bytes as bytes
    else
      send_raw(to, M::name, Codec<typename M::Payload>::encode(payload), nullptr);
  }
  // Sends M to `to` with `port` as its answer port: whoever holds the port
  // (the caller of this actor) gets the answer, from the actor `to` names.
  template <class M>
  void forward(const Ref& to, const typename M::Payload& payload, const Port& port) {
    send_raw(to, M::name, Codec<typename M::Payload>::encode(payload), &port);
  }
  // A call: M to every actor `to` names; the result holds their answers
  // (decoded as R) by rank, or their reduction. co_await it, or then().
  template <class M, class R = Bytes>
  Call<Replies<R>> call(const Ref& to, const typename M::Payload& payload = {},
                        CallOptions options = {}) {
    return call_raw<R>(to, M::name, Codec<typename M::Payload>::encode(payload), options);
  }
  // A call to one actor (a reference of one, e.g. ref.at(3)): its answer.
  template <class M, class R = Bytes>
  Call<Replies<R>> call_one(const Ref& to, const typename M::Payload& payload = {},
                            CallOptions options = {}) {
    if (to.size() != 1)
      throw std::invalid_argument("call_one: " + to.str() + " names " + std::to_string(to.size()) +
                                  " actors, not one");
    return call<M, R>(to, payload, options);
  }
  // A call to one actor of `among`, a free one (fewest calls in flight).
  template <class M, class R = Bytes>
  Call<Replies<R>> choose(const Ref& among, const typename M::Payload& payload = {},
                          CallOptions options = {}) {
    detail::require(MESHRUN_SDK_HAS(choose), "choose()");
    detail::Sink out;
    detail::check(host_->choose(ctx_, among.bytes().data(), among.bytes().size(), &out.c),
                  "choose");
    return call<M, R>(Ref(std::move(out.bytes)), payload, options);
  }
  // Answers through a port value: later, or on another actor's behalf.
  template <class T>
  void reply(const Port& port, const T& value) {
    const Bytes bytes = Codec<T>::encode(value);
    detail::check(host_->port_reply(ctx_, port.bytes().data(), port.bytes().size(), bytes.data(),
                                    bytes.size()),
                  "reply");
  }
  void reply(const Port& port, std::string_view text) {
    detail::check(host_->port_reply(ctx_, port.bytes().data(), port.bytes().size(),
                                    reinterpret_cast<const uint8_t*>(text.data()), text.size()),
                  "reply");
  }
  void fail(const Port& port, std::string_view why) {
    detail::check(
        host_->port_fail(ctx_, port.bytes().data(), port.bytes().size(), why.data(), why.size()),
        "fail");
  }

  // The raw C handles, for calls the C++ layer does not wrap.
  const meshrun_host_api* host() const { return host_; }
  const meshrun_actor_ctx* context() const { return ctx_; }
  detail::PendingSet& pending() { return pending_; }

 protected:
  void send_raw(const Ref& to, std::string_view message, const Bytes& payload, const Port* port) {
    detail::require(MESHRUN_SDK_HAS(send), "send()");
    detail::check(
        host_->send(ctx_, to.bytes().data(), to.bytes().size(), message.data(), message.size(),
                    payload.data(), payload.size(), port ? port->bytes().data() : nullptr,
                    port ? port->bytes().size() : 0),
        "send");
  }
  template <class R>
  Call<Replies<R>> call_raw(const Ref& to, std::string_view message, const Bytes& payload,
                            CallOptions options) {
    detail::require(MESHRUN_SDK_HAS(open_port), "call()");
    auto pending = std::make_shared<detail::Awaited<Replies<R>>>(
        [](const meshrun_result& r) { return detail::to_replies<R>(r); });
    const uint64_t cookie = pending_.add(pending);
    detail::Sink port;
    const auto ms = static_cast<uint32_t>(
        std::min<int64_t>(options.timeout.count(), std::numeric_limits<uint32_t>::max()));
    const int rc = host_->open_port(ctx_, to.bytes().data(), to.bytes().size(),
                                    static_cast<int>(options.reduce), ms, cookie, &port.c);
    if (rc != MESHRUN_OK) {
      pending_.take(cookie);
      detail::check(rc, "call");
    }
    // If the send fails, the open port still completes (at its deadline).
    const Port reply_to(std::move(port.bytes));
    send_raw(to, message, payload, &reply_to);
    return Call<Replies<R>>(std::move(pending));
  }
  // An operation whose on_done carries a value (a reference) or an error.
  template <class R>
  std::pair<Call<R>, uint64_t> operation(R (*convert)(const meshrun_result&)) {
    auto pending = std::make_shared<detail::Awaited<R>>(convert);
    const uint64_t cookie = pending_.add(pending);
    return {Call<R>(std::move(pending)), cookie};
  }

  static std::string_view view(meshrun_str s) {
    return s.data == nullptr ? std::string_view{} : std::string_view(s.data, s.len);
  }

 private:
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
  detail::PendingSet pending_;
};

// Base of every actor class. The class must have a constructor taking
// ActorEnv&, a `Messages` list, and for each M in it a handler:
//   void on(meshrun::Message<M>&, meshrun::ReplyPort&);          // or
//   meshrun::Task on(meshrun::Message<M> m, meshrun::ReplyPort port);
// A coroutine handler takes both by value: they live in its frame. It may
// also have `bool on_undeliverable(const meshrun::Undeliverable&)`; without
// it (or when it returns false) a one-way message that cannot be delivered
// fails the actor.
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

// A one-way message that could not be delivered.
struct Undeliverable {
  std::string target;  // "a0[3]"
  std::string message;
  std::string cause;
};

// A failure in the job, as the controller hears of it.
struct Supervision {
  enum class Kind {
    actor_failed = MESHRUN_ACTOR_FAILED,
    proc_exited = MESHRUN_PROC_EXITED,
    host_lost = MESHRUN_HOST_LOST
  };
  Kind kind = Kind::actor_failed;
  std::string mesh;  // the actor mesh or proc mesh; empty for a host
  uint32_t rank = 0;
  uint32_t host = 0;
  std::string hostname;
  std::string cause;
  std::string describe() const {
    const std::string where =
        "host " + std::to_string(host) + (hostname.empty() ? "" : " (" + hostname + ")");
    switch (kind) {
      case Kind::actor_failed:
        return "actor " + mesh + "[" + std::to_string(rank) + "] on " + where + " failed: " + cause;
      case Kind::proc_exited:
        return "proc " + mesh + "[" + std::to_string(rank) + "] on " + where + " " + cause;
      case Kind::host_lost:
        break;
    }
    return where + " " + cause;  // "was lost: ...", "has been silent for ..."
  }
};

// What the job's controller can do besides calling actors: make and stop
// meshes, find them by name, print, and end the job.
class ControllerEnv : public ActorEnv {
 public:
  using ActorEnv::ActorEnv;

  // A proc mesh on every host, e.g. spawn_procs("p1", {{"procs", 4}}).
  Call<Ref> spawn_procs(std::string_view name,
                        std::initializer_list<std::pair<std::string, uint32_t>> per_host,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    std::vector<std::string> names;
    std::vector<const char*> dims;
    std::vector<uint32_t> sizes;
    for (const auto& [dim, size] : per_host)
      names.push_back(dim);
    for (const auto& n : names)
      dims.push_back(n.c_str());
    for (const auto& [dim, size] : per_host)
      sizes.push_back(size);
    auto [call, cookie] = operation<Ref>(&as_ref);
    detail::check(host()->spawn_procs(context(), name.data(), name.size(), dims.data(),
                                      sizes.data(), dims.size(), ms(timeout), cookie),
                  "spawn_procs");
    return std::move(call);
  }
  // An actor mesh of a type of this plugin on `procs` (a proc mesh or a
  // slice of one), its parameters as TOML text.
  Call<Ref> spawn(std::string_view name, const Ref& procs, std::string_view type,
                  std::string_view params_toml = {},
                  std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto [call, cookie] = operation<Ref>(&as_ref);
    detail::check(host()->spawn_actors(context(), name.data(), name.size(), procs.bytes().data(),
                                       procs.bytes().size(), type.data(), type.size(),
                                       params_toml.data(), params_toml.size(), ms(timeout), cookie),
                  "spawn");
    return std::move(call);
  }
  // Stops an actor mesh or a proc mesh by name.
  Call<Empty> stop(std::string_view name,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
    auto [call, cookie] = operation<Empty>(&as_empty);
    detail::check(host()->stop(context(), name.data(), name.size(), ms(timeout), cookie), "stop");
    return std::move(call);
  }
  // A mesh by name: an actor mesh, or a proc mesh's procs.
  Ref lookup(std::string_view name) const {
    detail::Sink out;
    if (host()->lookup(context(), name.data(), name.size(), &out.c) != MESHRUN_OK)
      throw std::runtime_error("no mesh named '" + std::string(name) + "'");
    return Ref(std::move(out.bytes));
  }
  // A line on meshrun's output (a JSON object under --json).
  void print(std::string_view text) const { host()->print(context(), text.data(), text.size()); }
  // Ends the job with `status` once everything is torn down.
  void exit(int status, std::string_view why = {}) const {
    host()->exit_job(context(), status, why.data(), why.size());
  }

 private:
  static uint32_t ms(std::chrono::milliseconds d) {
    return static_cast<uint32_t>(
        std::min<int64_t>(d.count(), std::numeric_limits<uint32_t>::max()));
  }
  static Ref as_ref(const meshrun_result& r) {
    if (r.error != nullptr) throw std::runtime_error(std::string(r.error, r.error_len));
    return Ref(Bytes(r.value, r.value + r.value_len));
  }
  static Empty as_empty(const meshrun_result& r) {
    if (r.error != nullptr) throw std::runtime_error(std::string(r.error, r.error_len));
    return {};
  }
};

#if MESHRUN_SDK_COROUTINES
// The coroutine a controller's run() is: when it returns, the job ends with
// status 0 (unless the controller already called exit); if it throws, the
// job ends with status 1 and the exception's text.
class Main {
 public:
  struct promise_type;
};

// Base of a controller class: a constructor taking ControllerEnv&, and run().
class Controller {
 public:
  explicit Controller(ControllerEnv& env) : env_(&env) {}
  virtual ~Controller() = default;
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  virtual Main run() = 0;
  // A failure in the job (an actor failed, a proc exited, a host was lost):
  // true lets the job go on; false (the default) fails it.
  virtual bool on_failure(const Supervision&) { return false; }
  ControllerEnv& env() const { return *env_; }

 private:
  ControllerEnv* env_;
};

namespace detail {

inline const ControllerEnv*& running_controller() {
  static thread_local const ControllerEnv* env = nullptr;
  return env;
}

}  // namespace detail

struct Main::promise_type {
  const ControllerEnv* env = detail::running_controller();
  Main get_return_object() noexcept { return {}; }
  std::suspend_never initial_suspend() noexcept { return {}; }
  std::suspend_never final_suspend() noexcept { return {}; }
  void return_void() noexcept {
    if (env != nullptr) env->exit(0);
  }
  void unhandled_exception() noexcept {
    const char* text = "unknown exception";
    std::string what;
    try {
      throw;
    } catch (const std::exception& e) {
      what = e.what();
      text = what.c_str();
    } catch (...) {
    }
    if (env != nullptr) env->exit(1, std::string("the controller failed: ") + text);
  }
};

#endif  // MESHRUN_SDK_COROUTINES

namespace detail {

// Turns the exception in `e` (or in flight) into MESHRUN_ERROR plus its text.
inline int fail(meshrun_error* err, std::exception_ptr e = nullptr) noexcept {
  const meshrun_host_api* host = host_slot();
  std::string text = "unknown exception";
  try {
    if (e)
      std::rethrow_exception(e);
    else
      throw;
  } catch (const std::exception& ex) {
    text = ex.what();
  } catch (...) {
  }
  if (host != nullptr && err != nullptr) host->set_error(err, text.data(), text.size());
  return MESHRUN_ERROR;
}

// Runs `fn`, and reports an exception from it or from a coroutine it
// resumed (Task::unhandled_exception) as the hook's failure.
template <class F>
int guarded(meshrun_error* err, F&& fn) noexcept {
  std::exception_ptr failure;
  std::exception_ptr* saved = std::exchange(failure_slot(), &failure);
  try {
    fn();
  } catch (...) {
    failure = std::current_exception();
  }
  failure_slot() = saved;
  return failure ? fail(err, failure) : MESHRUN_OK;
}

// Env first so it outlives the actor that refers to it; pending calls (and
// the coroutines waiting on them) go before the actor does.
template <class A, class Env>
struct Holder {
  Holder(const meshrun_host_api* host, const meshrun_actor_ctx* ctx) : env(host, ctx), actor(env) {}
  ~Holder() { env.pending().clear(); }
  Env env;
  A actor;
};

template <class T>
struct is_task : std::false_type {};
#if MESHRUN_SDK_COROUTINES
template <>
struct is_task<Task> : std::true_type {};
#endif

template <class A, class = void>
struct has_on_undeliverable : std::false_type {};
template <class A>
struct has_on_undeliverable<
    A, std::void_t<decltype(static_cast<bool>(std::declval<A&>().on_undeliverable(
           std::declval<const Undeliverable&>())))>> : std::true_type {};

template <class A, class List>
struct Dispatch;

template <class A, class... Ms>
struct Dispatch<A, Messages<Ms...>> {
  static constexpr const char* names[sizeof...(Ms) + 1] = {Ms::name..., nullptr};

  // False when no handler has that name.
  static bool run(A& actor, std::string_view name, const uint8_t* data, size_t size,
                  const meshrun_host_api* host, meshrun_reply* reply,
                  const meshrun_actor_ctx* ctx) {
    bool found = false;
    (void)((name == std::string_view(Ms::name)
                ? (one<Ms>(actor, data, size, host, reply, ctx), found = true)
                : false) ||
           ...);
    return found;
  }

 private:
  template <class M>
  static void one(A& actor, const uint8_t* data, size_t size, const meshrun_host_api* host,
                  meshrun_reply* reply, const meshrun_actor_ctx* ctx) {
    Message<M> message(Codec<typename M::Payload>::decode(data, size));
    using Result = decltype(actor.on(message, std::declval<ReplyPort&>()));
    // A coroutine handler answers after the handler call returned: its port
    // is taken as a value now.
    ReplyPort port(host, reply, ctx, is_task<Result>::value);
    actor.on(message, port);
  }
};

template <class A>
int create(const meshrun_actor_ctx* ctx, void** state, meshrun_error* err) noexcept {
  try {
    *state = new Holder<A, ActorEnv>(host_slot(), ctx);
    return MESHRUN_OK;
  } catch (...) {
    return fail(err);
  }
}

template <class A, class Env>
void destroy(void* state) noexcept {
  try {
    delete static_cast<Holder<A, Env>*>(state);
  } catch (...) {  // a throwing destructor must not unwind into the host
  }
}

template <class A>
int handle(void* state, const char* message, size_t message_len, const uint8_t* payload,
           size_t payload_len, meshrun_reply* reply, meshrun_error* err) noexcept {
  bool found = true;
  const int rc = guarded(err, [&] {
    auto* holder = static_cast<Holder<A, ActorEnv>*>(state);
    found = Dispatch<A, typename A::Messages>::run(
        holder->actor, std::string_view(message, message_len), payload, payload_len, host_slot(),
        reply, holder->env.context());
  });
  if (rc != MESHRUN_OK) return rc;
  return found ? MESHRUN_OK : MESHRUN_UNKNOWN_MESSAGE;
}

template <class A, class Env>
int on_done(void* state, uint64_t cookie, const meshrun_result* result,
            meshrun_error* err) noexcept {
  return guarded(err, [&] {
    auto* holder = static_cast<Holder<A, Env>*>(state);
    if (auto pending = holder->env.pending().take(cookie)) pending->complete(*result);
  });
}

template <class A>
int on_undeliverable(void* state, const meshrun_undeliverable* what, meshrun_error* err) noexcept {
  bool handled = false;
  const int rc = guarded(err, [&] {
    auto* holder = static_cast<Holder<A, ActorEnv>*>(state);
    Undeliverable u{std::string(what->target.data, what->target.len),
                    std::string(what->message.data, what->message.len),
                    std::string(what->cause.data, what->cause.len)};
    handled = holder->actor.on_undeliverable(u);
  });
  if (rc != MESHRUN_OK) return rc;
  if (!handled && err != nullptr) host_slot()->set_error(err, "not handled", 11);
  return handled ? MESHRUN_OK : MESHRUN_ERROR;
}

template <class A>
meshrun_actor_type actor_type(const char* name) {
  static_assert(std::is_base_of_v<Actor, A>, "MESHRUN_ACTOR: the class must derive meshrun::Actor");
  using List = Dispatch<A, typename A::Messages>;
  meshrun_actor_type t{};
  t.struct_size = sizeof(meshrun_actor_type);
  t.name = name;
  t.create = &create<A>;
  t.destroy = &destroy<A, ActorEnv>;
  t.handle = &handle<A>;
  t.messages = List::names;
  t.message_count = sizeof(List::names) / sizeof(List::names[0]) - 1;
  t.on_done = &on_done<A, ActorEnv>;
  if constexpr (requires(A & a, const Undeliverable& u) {
                  { a.on_undeliverable(u) } -> std::convertible_to<bool>;
                })
    t.on_undeliverable = &on_undeliverable<A>;
  return t;
}

#if MESHRUN_SDK_COROUTINES
template <class C>
int create_controller(const meshrun_actor_ctx* ctx, void** state, meshrun_error* err) noexcept {
  try {
    *state = new Holder<C, ControllerEnv>(host_slot(), ctx);
    return MESHRUN_OK;
  } catch (...) {
    return fail(err);
  }
}

inline int no_messages(void*, const char*, size_t, const uint8_t*, size_t, meshrun_reply*,
                       meshrun_error*) noexcept {
  return MESHRUN_UNKNOWN_MESSAGE;
}

template <class C>
int run_controller(void* state, meshrun_error* err) noexcept {
  return guarded(err, [&] {
    auto* holder = static_cast<Holder<C, ControllerEnv>*>(state);
    const ControllerEnv* saved = std::exchange(running_controller(), &holder->env);
    try {
      holder->actor.run();
    } catch (...) {
      running_controller() = saved;
      throw;
    }
    running_controller() = saved;
  });
}

template <class C>
int supervise(void* state, const meshrun_supervision_event* e) noexcept {
  try {
    auto* holder = static_cast<Holder<C, ControllerEnv>*>(state);
    Supervision s;
    s.kind = static_cast<Supervision::Kind>(e->kind);
    s.mesh.assign(e->mesh.data, e->mesh.len);
    s.rank = e->rank;
    s.host = e->host;
    s.hostname.assign(e->hostname.data, e->hostname.len);
    s.cause.assign(e->cause.data, e->cause.len);
    return holder->actor.on_failure(s) ? MESHRUN_OK : MESHRUN_ERROR;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

template <class C>
meshrun_actor_type controller_type(const char* name) {
  static_assert(std::is_base_of_v<Controller, C>,
                "MESHRUN_CONTROLLER: the class must derive meshrun::Controller");
  meshrun_actor_type t{};
  t.struct_size = sizeof(meshrun_actor_type);
  t.name = name;
  t.create = &create_controller<C>;
  t.destroy = &destroy<C, ControllerEnv>;
  t.handle = &no_messages;
  t.on_done = &on_done<C, ControllerEnv>;
  t.run = &run_controller<C>;
  t.on_supervision = &supervise<C>;
  return t;
}

#endif  // MESHRUN_SDK_COROUTINES

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
// A controller type (the job's [controller]): the class and its name.
#define MESHRUN_CONTROLLER(Class, Name) ::meshrun::detail::controller_type<Class>(Name)

// The plugin's one registration line: its name, then MESHRUN_ACTOR(...) and
// MESHRUN_CONTROLLER(...) entries.
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
