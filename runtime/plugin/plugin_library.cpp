#include "plugin/plugin_library.hpp"

#include <dlfcn.h>
#include <sys/stat.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <utility>

#include "util/log.hpp"

// The host's halves of the opaque handles in meshrun/plugin.h.
struct meshrun_actor_ctx {
  const meshrun::ActorContext* ctx = nullptr;
  toml::table params;
};

struct meshrun_reply {
  const meshrun::ReplyFn* fn = nullptr;
  const meshrun::PortRef* port = nullptr;  // null: a one-way message
  std::string failure;                     // why a send failed, for the handler's error
};

struct meshrun_error {
  std::string text;
  bool set = false;
};

namespace meshrun {
namespace {

using Millis = std::chrono::milliseconds;

// ---- host callbacks: none of these may let an exception reach the plugin ----

void host_set_error(meshrun_error* err, const char* text, size_t len) noexcept {
  if (err == nullptr) return;
  try {
    err->text.assign(text == nullptr ? "" : text, text == nullptr ? 0 : len);
    err->set = true;
  } catch (...) {
    err->set = true;  // keep what fits: an empty text still marks the failure
  }
}

int host_reply(meshrun_reply* reply, const uint8_t* data, size_t len) noexcept {
  if (reply == nullptr || reply->fn == nullptr || (data == nullptr && len != 0)) {
    return MESHRUN_ERROR;
  }
  try {
    (*reply->fn)(std::span<const uint8_t>(data, len));
    return MESHRUN_OK;
  } catch (const std::exception& e) {
    try {
      reply->failure = e.what();
    } catch (...) {
    }
  } catch (...) {
  }
  return MESHRUN_ERROR;
}

meshrun_str str_of(const std::string& s) {
  return meshrun_str{s.data(), s.size()};
}

meshrun_str host_actor_id(const meshrun_actor_ctx* ctx) noexcept {
  return ctx == nullptr ? meshrun_str{nullptr, 0} : str_of(ctx->ctx->actor_id);
}
meshrun_str host_mesh_name(const meshrun_actor_ctx* ctx) noexcept {
  return ctx == nullptr ? meshrun_str{nullptr, 0} : str_of(ctx->ctx->mesh_name);
}
uint32_t host_rank(const meshrun_actor_ctx* ctx) noexcept {
  return ctx == nullptr ? 0 : ctx->ctx->rank;
}
uint32_t host_size(const meshrun_actor_ctx* ctx) noexcept {
  return ctx == nullptr ? 0 : ctx->ctx->size;
}

// Finds `key` (dotted) in the actor's parameters; nullptr when absent.
const toml::node* find_param(const meshrun_actor_ctx* ctx, const char* key, size_t key_len) {
  if (ctx == nullptr || key == nullptr) return nullptr;
  return ctx->params.at_path(std::string_view(key, key_len)).node();
}

int host_param_string(const meshrun_actor_ctx* ctx, const char* key, size_t key_len,
                      meshrun_str* out) noexcept {
  try {
    const toml::node* node = find_param(ctx, key, key_len);
    if (node == nullptr) return MESHRUN_PARAM_MISSING;
    const auto* value = node->as_string();
    if (value == nullptr) return MESHRUN_PARAM_WRONG_TYPE;
    // The table lives as long as the actor, so the string may be borrowed.
    if (out != nullptr) *out = str_of(value->get());
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_param_int(const meshrun_actor_ctx* ctx, const char* key, size_t key_len,
                   int64_t* out) noexcept {
  try {
    const toml::node* node = find_param(ctx, key, key_len);
    if (node == nullptr) return MESHRUN_PARAM_MISSING;
    const auto* value = node->as_integer();
    if (value == nullptr) return MESHRUN_PARAM_WRONG_TYPE;
    if (out != nullptr) *out = value->get();
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_param_double(const meshrun_actor_ctx* ctx, const char* key, size_t key_len,
                      double* out) noexcept {
  try {
    const toml::node* node = find_param(ctx, key, key_len);
    if (node == nullptr) return MESHRUN_PARAM_MISSING;
    double d = 0;
    if (const auto* f = node->as_floating_point()) {
      d = f->get();
    } else if (const auto* i = node->as_integer()) {
      d = static_cast<double>(i->get());  // `ratio = 2` is a fine double
    } else {
      return MESHRUN_PARAM_WRONG_TYPE;
    }
    if (out != nullptr) *out = d;
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_param_bool(const meshrun_actor_ctx* ctx, const char* key, size_t key_len,
                    int* out) noexcept {
  try {
    const toml::node* node = find_param(ctx, key, key_len);
    if (node == nullptr) return MESHRUN_PARAM_MISSING;
    const auto* value = node->as_boolean();
    if (value == nullptr) return MESHRUN_PARAM_WRONG_TYPE;
    if (out != nullptr) *out = value->get() ? 1 : 0;
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

void host_log(const meshrun_actor_ctx* ctx, int level, const char* text, size_t len) noexcept {
  try {
    const int clamped =
        std::clamp(level, static_cast<int>(log::Level::error), static_cast<int>(log::Level::debug));
    const auto lvl = static_cast<log::Level>(clamped);
    if (!log::enabled(lvl)) return;
    std::string line = ctx == nullptr ? std::string("plugin") : "actor " + ctx->ctx->actor_id;
    line += ": ";
    if (text != nullptr) line.append(text, len);
    log::write(lvl, line);
  } catch (...) {
  }
}

// ---- 1.1: references, sends, calls, controller operations ----

void sink_put(meshrun_sink* out, std::string_view bytes) {
  if (out != nullptr && out->put != nullptr)
    out->put(out->user, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

std::string_view bytes_of(const uint8_t* data, size_t len) {
  return data == nullptr ? std::string_view()
                         : std::string_view(reinterpret_cast<const char*>(data), len);
}

std::string_view text_of(const char* data, size_t len) {
  return data == nullptr ? std::string_view() : std::string_view(data, len);
}

int code_of(const Error& e, const meshrun_actor_ctx* ctx, std::string_view call) {
  switch (e.code) {
    case Errc::closed:
      return MESHRUN_CLOSED;
    case Errc::forbidden:
      return MESHRUN_NOT_CONTROLLER;
    default:
      break;
  }
  if (log::enabled(log::Level::verbose)) {
    const std::string who = ctx != nullptr ? "actor " + ctx->ctx->actor_id : std::string("plugin");
    log::verbose(who + ": " + std::string(call) + ": " + e.message);
  }
  return e.code == Errc::invalid_argument ? MESHRUN_BAD_REFERENCE : MESHRUN_ERROR;
}

ActorServices* services_of(const meshrun_actor_ctx* ctx) {
  return ctx == nullptr ? nullptr : ctx->ctx->services;
}

ActorServices::Caller caller_of(const meshrun_actor_ctx* ctx) {
  return {ctx->ctx->mesh_id, ctx->ctx->rank};
}

int host_self_ref(const meshrun_actor_ctx* ctx, meshrun_sink* out) noexcept {
  try {
    if (ctx == nullptr || ctx->ctx->self.mesh == 0) return MESHRUN_ERROR;
    sink_put(out, encode_ref(ctx->ctx->self));
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_reply_port(meshrun_reply* reply, meshrun_sink* out) noexcept {
  try {
    if (reply == nullptr || reply->port == nullptr || !reply->port->valid()) return MESHRUN_ERROR;
    sink_put(out, encode_port(*reply->port));
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

uint32_t host_ref_size(const uint8_t* ref, size_t len) noexcept {
  try {
    auto r = decode_ref(bytes_of(ref, len));
    return r ? r->size() : 0;
  } catch (...) {
    return 0;
  }
}

int host_ref_at(const uint8_t* ref, size_t len, uint32_t i, meshrun_sink* out) noexcept {
  try {
    auto r = decode_ref(bytes_of(ref, len));
    if (!r) return MESHRUN_BAD_REFERENCE;
    auto one = r->at(i);
    if (!one) return MESHRUN_ERROR;
    sink_put(out, encode_ref(*one));
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_ref_slice(const uint8_t* ref, size_t len, const char* dim, size_t dim_len, uint32_t begin,
                   uint32_t end, meshrun_sink* out) noexcept {
  try {
    auto r = decode_ref(bytes_of(ref, len));
    if (!r) return MESHRUN_BAD_REFERENCE;
    auto sliced = r->slice(text_of(dim, dim_len), begin, end);
    if (!sliced) return MESHRUN_ERROR;
    sink_put(out, encode_ref(*sliced));
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_ref_describe(const uint8_t* ref, size_t len, meshrun_sink* out) noexcept {
  try {
    auto r = decode_ref(bytes_of(ref, len));
    if (!r) return MESHRUN_BAD_REFERENCE;
    sink_put(out, r->to_string());
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_send(const meshrun_actor_ctx* ctx, const uint8_t* ref, size_t ref_len, const char* message,
              size_t message_len, const uint8_t* payload, size_t payload_len, const uint8_t* port,
              size_t port_len) noexcept {
  try {
    auto* services = services_of(ctx);
    if (services == nullptr) return MESHRUN_ERROR;
    const std::string_view ref_bytes = bytes_of(ref, ref_len);
    const MeshRef* to = services->resolve(ref_bytes);
    if (to == nullptr)
      return code_of(make_error(Errc::invalid_argument, "not a reference"), ctx, "send");
    std::optional<PortRef> p;
    if (port != nullptr && port_len > 0) {
      auto decoded = decode_port(bytes_of(port, port_len));
      if (!decoded) return code_of(decoded.error(), ctx, "send");
      p = *decoded;
    }
    auto ok =
        services->send(caller_of(ctx), *to, text_of(message, message_len),
                       bytes_of(payload, payload_len), p ? &*p : nullptr, ref_fields(ref_bytes));
    return ok ? MESHRUN_OK : code_of(ok.error(), ctx, "send");
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_open_port(const meshrun_actor_ctx* ctx, const uint8_t* ref, size_t ref_len, int reducer,
                   uint32_t timeout_ms, uint64_t cookie, meshrun_sink* out) noexcept {
  try {
    auto* services = services_of(ctx);
    if (services == nullptr) return MESHRUN_ERROR;
    const MeshRef* to = services->resolve(bytes_of(ref, ref_len));
    if (to == nullptr)
      return code_of(make_error(Errc::invalid_argument, "not a reference"), ctx, "open_port");
    if (reducer < MESHRUN_REDUCE_NONE || reducer > MESHRUN_REDUCE_ALL_EQUAL) return MESHRUN_ERROR;
    auto port = services->open_port(caller_of(ctx), *to, static_cast<ReducerKind>(reducer),
                                    Millis(timeout_ms == 0 ? 30000 : timeout_ms), cookie);
    if (!port) return code_of(port.error(), ctx, "open_port");
    sink_put(out, encode_port(*port));
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int port_answer(const meshrun_actor_ctx* ctx, const uint8_t* port, size_t port_len,
                std::string_view data, bool failure) {
  auto* services = services_of(ctx);
  if (services == nullptr) return MESHRUN_ERROR;
  auto p = decode_port(bytes_of(port, port_len));
  if (!p) return code_of(p.error(), ctx, "port_reply");
  auto ok = services->port_reply(caller_of(ctx), *p, data, failure);
  return ok ? MESHRUN_OK : code_of(ok.error(), ctx, "port_reply");
}

int host_port_reply(const meshrun_actor_ctx* ctx, const uint8_t* port, size_t port_len,
                    const uint8_t* data, size_t len) noexcept {
  try {
    return port_answer(ctx, port, port_len, bytes_of(data, len), false);
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_port_fail(const meshrun_actor_ctx* ctx, const uint8_t* port, size_t port_len,
                   const char* cause, size_t cause_len) noexcept {
  try {
    return port_answer(ctx, port, port_len, text_of(cause, cause_len), true);
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_choose(const meshrun_actor_ctx* ctx, const uint8_t* ref, size_t ref_len,
                meshrun_sink* out) noexcept {
  try {
    auto* services = services_of(ctx);
    if (services == nullptr) return MESHRUN_ERROR;
    auto among = decode_ref(bytes_of(ref, ref_len));
    if (!among) return code_of(among.error(), ctx, "choose");
    auto one = services->choose(caller_of(ctx), *among);
    if (!one) return code_of(one.error(), ctx, "choose");
    sink_put(out, encode_ref(*one));
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_spawn_procs(const meshrun_actor_ctx* ctx, const char* name, size_t name_len,
                     const char* const* dims, const uint32_t* sizes, size_t ndims,
                     uint32_t timeout_ms, uint64_t cookie) noexcept {
  try {
    auto* services = services_of(ctx);
    if (services == nullptr || (ndims > 0 && (dims == nullptr || sizes == nullptr)))
      return MESHRUN_ERROR;
    std::vector<Dim> per_host;
    for (size_t i = 0; i < ndims; ++i)
      per_host.push_back({dims[i] != nullptr ? dims[i] : "", sizes[i]});
    auto ok = services->spawn_procs(caller_of(ctx), std::string(text_of(name, name_len)),
                                    std::move(per_host),
                                    Millis(timeout_ms == 0 ? 30000 : timeout_ms), cookie);
    return ok ? MESHRUN_OK : code_of(ok.error(), ctx, "spawn_procs");
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_spawn_actors(const meshrun_actor_ctx* ctx, const char* name, size_t name_len,
                      const uint8_t* procs, size_t procs_len, const char* type, size_t type_len,
                      const char* params, size_t params_len, uint32_t timeout_ms,
                      uint64_t cookie) noexcept {
  try {
    auto* services = services_of(ctx);
    if (services == nullptr) return MESHRUN_ERROR;
    auto on = decode_ref(bytes_of(procs, procs_len));
    if (!on) return code_of(on.error(), ctx, "spawn_actors");
    auto ok = services->spawn_actors(caller_of(ctx), std::string(text_of(name, name_len)), *on,
                                     std::string(text_of(type, type_len)),
                                     std::string(text_of(params, params_len)),
                                     Millis(timeout_ms == 0 ? 30000 : timeout_ms), cookie);
    return ok ? MESHRUN_OK : code_of(ok.error(), ctx, "spawn_actors");
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_stop(const meshrun_actor_ctx* ctx, const char* name, size_t name_len, uint32_t timeout_ms,
              uint64_t cookie) noexcept {
  try {
    auto* services = services_of(ctx);
    if (services == nullptr) return MESHRUN_ERROR;
    auto ok = services->stop(caller_of(ctx), std::string(text_of(name, name_len)),
                             Millis(timeout_ms == 0 ? 30000 : timeout_ms), cookie);
    return ok ? MESHRUN_OK : code_of(ok.error(), ctx, "stop");
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

int host_lookup(const meshrun_actor_ctx* ctx, const char* name, size_t name_len,
                meshrun_sink* out) noexcept {
  try {
    auto* services = services_of(ctx);
    if (services == nullptr) return MESHRUN_ERROR;
    auto ref = services->lookup(caller_of(ctx), text_of(name, name_len));
    if (!ref) return code_of(ref.error(), ctx, "lookup");
    sink_put(out, encode_ref(*ref));
    return MESHRUN_OK;
  } catch (...) {
    return MESHRUN_ERROR;
  }
}

void host_exit_job(const meshrun_actor_ctx* ctx, int status, const char* why,
                   size_t why_len) noexcept {
  try {
    if (auto* services = services_of(ctx))
      services->exit_job(caller_of(ctx), status, std::string(text_of(why, why_len)));
  } catch (...) {
  }
}

void host_print(const meshrun_actor_ctx* ctx, const char* text, size_t len) noexcept {
  try {
    if (auto* services = services_of(ctx)) services->print(caller_of(ctx), text_of(text, len));
  } catch (...) {
  }
}

const meshrun_host_api kHostApi = {
    sizeof(meshrun_host_api),
    MESHRUN_PLUGIN_ABI_MAJOR,
    MESHRUN_PLUGIN_ABI_MINOR,
    &host_set_error,
    &host_reply,
    &host_actor_id,
    &host_mesh_name,
    &host_rank,
    &host_size,
    &host_param_string,
    &host_param_int,
    &host_param_double,
    &host_param_bool,
    &host_log,
    &host_self_ref,
    &host_reply_port,
    &host_ref_size,
    &host_ref_at,
    &host_ref_slice,
    &host_ref_describe,
    &host_send,
    &host_open_port,
    &host_port_reply,
    &host_port_fail,
    &host_choose,
    &host_spawn_procs,
    &host_spawn_actors,
    &host_stop,
    &host_lookup,
    &host_exit_job,
    &host_print,
};

// True when a struct of reported size `size` holds the field ending at `end`.
constexpr bool covers(uint32_t size, size_t end) {
  return size >= end;
}

std::string version(unsigned major, unsigned minor) {
  return std::to_string(major) + "." + std::to_string(minor);
}

std::string error_text(const meshrun_error& err) {
  return err.set && !err.text.empty() ? err.text : std::string("(no message given)");
}

}  // namespace

struct PluginLibrary::Registry {
  std::string plugin_name;
  std::map<std::string, const meshrun_actor_type*, std::less<>> types;
};

Result<std::shared_ptr<PluginLibrary>> PluginLibrary::load(const std::string& path) {
  const std::string where = "plugin " + path + ": ";
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return make_error(Errc::not_found, where + "file not found");
  }

  // RTLD_LOCAL: plugins never see each other's symbols; RTLD_NOW: a missing
  // symbol fails here, not in the middle of a message.
  // A bare file name would make dlopen search the library path instead.
  const std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  ::dlerror();
  void* handle = ::dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = ::dlerror();
    return make_error(Errc::plugin, where + "not a loadable shared object: " +
                                        (why != nullptr ? why : "unknown dlopen error"));
  }
  // From here on the library stays mapped even on failure: its static
  // constructors have run, and unloading code is never safe in a live proc.

  // One Registry per dlopen handle: loading a path twice reuses the first
  // registration instead of running the plugin's entry again.
  static std::mutex mutex;
  static std::map<void*, std::shared_ptr<Registry>> registries;
  std::lock_guard lock(mutex);
  std::shared_ptr<Registry> registry;
  if (auto it = registries.find(handle); it != registries.end()) {
    registry = it->second;
  } else {
    ::dlerror();
    void* sym = ::dlsym(handle, MESHRUN_PLUGIN_ENTRY_SYMBOL);
    if (sym == nullptr) {
      return make_error(Errc::plugin, where + "no entry point '" MESHRUN_PLUGIN_ENTRY_SYMBOL
                                              "' (not a meshrun plugin, or built without "
                                              "MESHRUN_PLUGIN)");
    }
    // dlsym returns data pointers; POSIX guarantees the function cast works.
    auto entry = reinterpret_cast<meshrun_plugin_entry_fn>(sym);

    meshrun_error err;
    const meshrun_plugin_registration* reg = entry(&kHostApi, &err);
    if (reg == nullptr) {
      return make_error(Errc::plugin, where + "plugin init failed: " + error_text(err));
    }
    if (!covers(reg->struct_size,
                offsetof(meshrun_plugin_registration, abi_minor) + sizeof(reg->abi_minor))) {
      return make_error(Errc::plugin, where + "registration too small to hold an ABI version");
    }
    if (reg->abi_major != MESHRUN_PLUGIN_ABI_MAJOR) {
      return make_error(Errc::plugin,
                        where + "ABI major version mismatch: plugin has ABI " +
                            version(reg->abi_major, reg->abi_minor) + ", this meshrun has ABI " +
                            version(MESHRUN_PLUGIN_ABI_MAJOR, MESHRUN_PLUGIN_ABI_MINOR));
    }
    if (!covers(reg->struct_size,
                offsetof(meshrun_plugin_registration, type_count) + sizeof(reg->type_count))) {
      return make_error(Errc::plugin, where + "registration struct too small (" +
                                          std::to_string(reg->struct_size) + " bytes)");
    }

    registry = std::make_shared<Registry>();
    registry->plugin_name = reg->plugin_name != nullptr ? reg->plugin_name : "";
    if (registry->plugin_name.empty()) {
      return make_error(Errc::plugin, where + "registration has no plugin name");
    }
    if (reg->type_count > 0 && reg->types == nullptr) {
      return make_error(Errc::plugin, where + "registration lists types but no table");
    }
    constexpr size_t kTypeNeeds =
        offsetof(meshrun_actor_type, handle) + sizeof(meshrun_actor_type::handle);
    for (size_t i = 0; i < reg->type_count; ++i) {
      const meshrun_actor_type* t = reg->types[i];
      if (t == nullptr || !covers(t->struct_size, kTypeNeeds) || t->name == nullptr ||
          *t->name == '\0' || t->create == nullptr || t->destroy == nullptr ||
          t->handle == nullptr) {
        return make_error(Errc::plugin,
                          where + "actor type #" + std::to_string(i) + " is malformed");
      }
      if (!registry->types.emplace(t->name, t).second) {
        return make_error(Errc::plugin, where + "actor type '" + t->name + "' is registered twice");
      }
    }
    registries.emplace(handle, registry);
  }

  std::shared_ptr<PluginLibrary> lib(new PluginLibrary());
  lib->path_ = path;
  lib->name_ = registry->plugin_name;
  lib->handle_ = handle;
  lib->registry_ = std::move(registry);
  return lib;
}

PluginLibrary::~PluginLibrary() = default;

std::vector<std::string> PluginLibrary::type_names() const {
  std::vector<std::string> names;
  names.reserve(registry_->types.size());
  for (const auto& entry : registry_->types)
    names.push_back(entry.first);
  return names;  // sorted: the map is
}

bool PluginLibrary::has_type(std::string_view type) const {
  return registry_->types.find(type) != registry_->types.end();
}

Result<std::unique_ptr<ActorInstance>> PluginLibrary::create(std::string_view type,
                                                             ActorContext ctx) {
  auto it = registry_->types.find(type);
  if (it == registry_->types.end()) {
    std::string known;
    for (const auto& entry : registry_->types) {
      known += known.empty() ? "" : ", ";
      known += entry.first;
    }
    return make_error(Errc::not_found, "plugin " + name_ + " (" + path_ + ") has no actor type '" +
                                           std::string(type) +
                                           "'; it has: " + (known.empty() ? "(none)" : known));
  }
  const meshrun_actor_type* t = it->second;

  toml::table params;
#if TOML_EXCEPTIONS
  try {
    params = toml::parse(ctx.params_toml);
  } catch (const toml::parse_error& e) {
    return make_error(Errc::invalid_argument, "parameters of actor " + ctx.actor_id + " (" +
                                                  t->name + "), line " +
                                                  std::to_string(e.source().begin.line) + ": " +
                                                  std::string(e.description()));
  }
#else
  auto parsed = toml::parse(ctx.params_toml);
  if (!parsed) {
    return make_error(Errc::invalid_argument,
                      "parameters of actor " + ctx.actor_id + " (" + t->name + "), line " +
                          std::to_string(parsed.error().source().begin.line) + ": " +
                          std::string(parsed.error().description()));
  }
  params = std::move(parsed).table();
#endif

  // The instance exists before the plugin's create so the context the plugin
  // keeps already has its final address.
  std::unique_ptr<ActorInstance> actor(
      new ActorInstance(shared_from_this(), t, nullptr, std::move(ctx)));
  actor->host_ctx_ = std::make_unique<meshrun_actor_ctx>();
  actor->host_ctx_->ctx = &actor->ctx_;
  actor->host_ctx_->params = std::move(params);

  meshrun_error err;
  void* state = nullptr;
  const int rc = t->create(actor->host_ctx_.get(), &state, &err);
  if (rc != MESHRUN_OK) {
    return make_error(Errc::plugin, "creating actor " + actor->ctx_.actor_id + " of type '" +
                                        t->name + "' (plugin " + name_ +
                                        ") failed: " + error_text(err));
  }
  actor->state_ = state;
  return actor;
}

ActorInstance::ActorInstance(std::shared_ptr<PluginLibrary> lib, const void* type, void* state,
                             ActorContext ctx)
    : lib_(std::move(lib)), type_(type), state_(state), ctx_(std::move(ctx)) {}

ActorInstance::~ActorInstance() {
  // state_ is null only when the plugin's create never succeeded.
  if (state_ != nullptr) static_cast<const meshrun_actor_type*>(type_)->destroy(state_);
}

Status ActorInstance::handle(std::string_view message, std::span<const uint8_t> payload,
                             const ReplyFn& reply, const PortRef* reply_to) {
  const auto* t = static_cast<const meshrun_actor_type*>(type_);
  meshrun_reply port;
  port.fn = &reply;
  port.port = reply_to;
  meshrun_error err;
  const int rc = t->handle(state_, message.data(), message.size(), payload.data(), payload.size(),
                           &port, &err);
  if (rc == MESHRUN_OK) return {};
  const std::string msg(message);
  if (rc == MESHRUN_UNKNOWN_MESSAGE) {
    std::string known;
    if (covers(t->struct_size,
               offsetof(meshrun_actor_type, message_count) + sizeof(t->message_count)) &&
        t->messages != nullptr) {
      for (size_t i = 0; i < t->message_count && t->messages[i] != nullptr; ++i) {
        known += known.empty() ? "" : ", ";
        known += t->messages[i];
      }
    }
    return make_error(Errc::not_found, "actor type '" + std::string(t->name) + "' (actor " +
                                           ctx_.actor_id + ") has no handler for message '" + msg +
                                           "'" + (known.empty() ? "" : "; it handles: " + known));
  }
  std::string why = error_text(err);
  if (!port.failure.empty()) why += " (reply: " + port.failure + ")";
  return make_error(Errc::failed, "actor " + ctx_.actor_id + " (" + t->name + ") failed on '" +
                                      msg + "': " + why);
}

}  // namespace meshrun

namespace meshrun {
namespace {
// The 1.1 hooks of a type, when its struct is new enough to have them.
template <class F>
F hook(const meshrun_actor_type* t, F meshrun_actor_type::*member, size_t end) {
  return covers(t->struct_size, end) ? t->*member : nullptr;
}
#define MESHRUN_HOOK(t, member) \
  hook(t, &meshrun_actor_type::member, offsetof(meshrun_actor_type, member) + sizeof(t->member))
}  // namespace

bool PluginLibrary::is_controller_type(std::string_view type) const {
  auto it = registry_->types.find(type);
  return it != registry_->types.end() && MESHRUN_HOOK(it->second, run) != nullptr;
}

std::vector<std::string> PluginLibrary::messages_of(std::string_view type) const {
  std::vector<std::string> out;
  auto it = registry_->types.find(type);
  if (it == registry_->types.end()) return out;
  const meshrun_actor_type* t = it->second;
  if (covers(t->struct_size,
             offsetof(meshrun_actor_type, message_count) + sizeof(t->message_count)) &&
      t->messages != nullptr)
    for (size_t i = 0; i < t->message_count && t->messages[i] != nullptr; ++i)
      out.emplace_back(t->messages[i]);
  return out;
}

void ActorInstance::done(uint64_t cookie, const CallResult& result) {
  const auto* t = static_cast<const meshrun_actor_type*>(type_);
  auto on_done = MESHRUN_HOOK(t, on_done);
  if (on_done == nullptr) {
    log::warn("actor " + ctx_.actor_id + " (" + t->name +
              ") started a call but has no on_done to receive its result");
    return;
  }
  std::vector<meshrun_answer> answers;
  answers.reserve(result.replies.size());
  for (const auto& [rank, v] : result.replies)
    answers.push_back({rank, reinterpret_cast<const uint8_t*>(v.data()), v.size()});
  std::vector<meshrun_rank_failure> failures;
  failures.reserve(result.failures.size());
  for (const auto& f : result.failures)
    failures.push_back({f.rank, f.cause.data(), f.cause.size()});
  meshrun_result r{};
  r.struct_size = sizeof r;
  r.expected = result.expected;
  r.replied = result.replied;
  r.answers = answers.data();
  r.answer_count = answers.size();
  r.has_value = result.value.has_value() ? 1 : 0;
  r.value = result.value ? reinterpret_cast<const uint8_t*>(result.value->data()) : nullptr;
  r.value_len = result.value ? result.value->size() : 0;
  r.failures = failures.data();
  r.failure_count = failures.size();
  r.missing = result.missing.data();
  r.missing_count = result.missing.size();
  r.error = result.error.empty() ? nullptr : result.error.data();
  r.error_len = result.error.size();
  meshrun_error err;
  if (on_done(state_, cookie, &r, &err) != MESHRUN_OK)
    failed_ = make_error(Errc::failed, "actor " + ctx_.actor_id + " (" + t->name +
                                           ") failed on a call's result: " + error_text(err));
}

Status ActorInstance::undeliverable(std::string_view target, std::string_view message,
                                    std::string_view cause) {
  const auto* t = static_cast<const meshrun_actor_type*>(type_);
  const std::string what = "'" + std::string(message) + "' to " + std::string(target) +
                           " was undeliverable: " + std::string(cause);
  auto hook_fn = MESHRUN_HOOK(t, on_undeliverable);
  if (hook_fn == nullptr)
    return make_error(Errc::failed, "actor " + ctx_.actor_id + " (" + t->name + "): " + what);
  meshrun_undeliverable u{};
  u.struct_size = sizeof u;
  u.target = {target.data(), target.size()};
  u.message = {message.data(), message.size()};
  u.cause = {cause.data(), cause.size()};
  meshrun_error err;
  if (hook_fn(state_, &u, &err) != MESHRUN_OK)
    return make_error(Errc::failed, "actor " + ctx_.actor_id + " (" + t->name + "): " + what +
                                        " (" + error_text(err) + ")");
  return {};
}

bool ActorInstance::is_controller() const {
  return MESHRUN_HOOK(static_cast<const meshrun_actor_type*>(type_), run) != nullptr;
}

Status ActorInstance::run() {
  const auto* t = static_cast<const meshrun_actor_type*>(type_);
  auto run_fn = MESHRUN_HOOK(t, run);
  if (run_fn == nullptr)
    return make_error(Errc::plugin, std::string("type '") + t->name + "' is not a controller");
  meshrun_error err;
  if (run_fn(state_, &err) != MESHRUN_OK)
    return make_error(Errc::failed,
                      std::string("controller ") + t->name + " failed: " + error_text(err));
  return take_failure();
}

bool ActorInstance::supervise(const SupervisionEvent& event) {
  const auto* t = static_cast<const meshrun_actor_type*>(type_);
  auto fn = MESHRUN_HOOK(t, on_supervision);
  if (fn == nullptr) return false;
  meshrun_supervision_event e{};
  e.struct_size = sizeof e;
  e.kind = static_cast<int>(event.kind);
  e.mesh = {event.mesh.data(), event.mesh.size()};
  e.rank = event.rank;
  e.host = event.host;
  e.hostname = {event.hostname.data(), event.hostname.size()};
  e.cause = {event.cause.data(), event.cause.size()};
  return fn(state_, &e) == MESHRUN_OK;
}

Status ActorInstance::take_failure() {
  if (!failed_) return {};
  Error e = std::move(*failed_);
  failed_.reset();
  return e;
}

}  // namespace meshrun
