#include "plugin/plugin_library.hpp"

#include <dlfcn.h>
#include <sys/stat.h>

#include <toml++/toml.h>
#include <algorithm>
#include <cstddef>
#include <map>
#include <mutex>
#include <utility>

#include "util/log.hpp"

// The host's halves of the opaque handles in meshrun/plugin.h.
struct meshrun_actor_ctx {
  const meshrun::ActorContext* ctx = nullptr;
  toml::table params;
};

struct meshrun_reply {
  const meshrun::ReplyFn* fn = nullptr;
  std::string failure;  // why a send failed, for the handler's error
};

struct meshrun_error {
  std::string text;
  bool set = false;
};

namespace meshrun {
namespace {

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
                             const ReplyFn& reply) {
  const auto* t = static_cast<const meshrun_actor_type*>(type_);
  const std::string msg(message);  // the C side wants a stable pointer
  meshrun_reply port;
  port.fn = &reply;
  meshrun_error err;
  const int rc =
      t->handle(state_, msg.data(), msg.size(), payload.data(), payload.size(), &port, &err);
  if (rc == MESHRUN_OK) return {};
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
