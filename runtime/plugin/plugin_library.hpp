// Loading actor types from a plugin shared library through its C ABI
// (include/meshrun/plugin.h). Nothing from the plugin throws past here.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/call_result.hpp"
#include "mesh/mesh_ref.hpp"
#include "mesh/supervision_event.hpp"
#include "meshrun/plugin.h"
#include "plugin/actor_services.hpp"
#include "util/result.hpp"

namespace meshrun {

class PluginLibrary;

// What a running actor knows about itself.
struct ActorContext {
  std::string actor_id;               // e.g. "p0_3.a0[3]"
  std::string mesh_name;              // "a0"
  uint32_t rank = 0;                  // rank in the actor mesh
  uint32_t size = 1;                  // actors in the mesh
  std::string params_toml;            // the actor's parameters as TOML text
  uint32_t mesh_id = 0;               // job-wide id of its mesh (0: a controller)
  MeshRef self;                       // its whole mesh
  ActorServices* services = nullptr;  // what its process does for it (1.1 calls)
};

// Sends one reply to the port bound into the message being handled.
using ReplyFn = std::function<void(std::span<const uint8_t> payload)>;

// One live actor. Destroyed on its proc's thread.
class ActorInstance {
 public:
  ~ActorInstance();
  ActorInstance(const ActorInstance&) = delete;
  ActorInstance& operator=(const ActorInstance&) = delete;

  // Runs the handler for `message`. An unknown message, or a handler that
  // failed (threw, returned an error), is an Error naming it. `port` is where
  // the message's answers go (null for a one-way message).
  Status handle(std::string_view message, std::span<const uint8_t> payload, const ReplyFn& reply,
                const PortRef* port = nullptr);
  // A call or operation the actor started with `cookie` finished.
  void done(uint64_t cookie, const CallResult& result);
  // A one-way message of this actor was undeliverable; an Error when the
  // actor does not handle that (it then fails).
  Status undeliverable(std::string_view target, std::string_view message, std::string_view cause);
  // Controllers: the job's main, and what it decides about a failure
  // (true: the job goes on).
  bool is_controller() const;
  Status run();
  bool supervise(const SupervisionEvent& event);
  // A failure of a hook that has no error return of its own (on_done),
  // once: the host reports it as the actor's failure.
  Status take_failure();

  const ActorContext& context() const { return ctx_; }

 private:
  friend class PluginLibrary;
  ActorInstance(std::shared_ptr<PluginLibrary> lib, const void* type, void* state,
                ActorContext ctx);
  std::shared_ptr<PluginLibrary> lib_;  // keeps the library loaded
  const void* type_;                    // the plugin's type descriptor
  void* state_;
  ActorContext ctx_;
  // What the plugin sees as its meshrun_actor_ctx: points at ctx_ and holds
  // the parsed parameters, so it must not move while the actor lives.
  std::unique_ptr<meshrun_actor_ctx> host_ctx_;
  std::optional<Error> failed_;
};

class PluginLibrary : public std::enable_shared_from_this<PluginLibrary> {
 public:
  // dlopen(RTLD_NOW|RTLD_LOCAL), find the entry point, check the ABI major
  // version, run the plugin's registration. Errors say which of those failed
  // and name the path.
  static Result<std::shared_ptr<PluginLibrary>> load(const std::string& path);
  ~PluginLibrary();  // never dlcloses: a live proc keeps its code mapped

  const std::string& path() const { return path_; }
  const std::string& plugin_name() const { return name_; }
  std::vector<std::string> type_names() const;
  bool has_type(std::string_view type) const;
  // A type usable as a job's controller (it has a run entry).
  bool is_controller_type(std::string_view type) const;
  // The messages a type says it handles; empty when it does not say.
  std::vector<std::string> messages_of(std::string_view type) const;

  // Creates an actor of a registered type; an unknown type or a failing
  // constructor is an Error.
  Result<std::unique_ptr<ActorInstance>> create(std::string_view type, ActorContext ctx);

 private:
  PluginLibrary() = default;
  struct Registry;
  std::string path_;
  std::string name_;
  void* handle_ = nullptr;
  std::shared_ptr<Registry> registry_;
};

}  // namespace meshrun
