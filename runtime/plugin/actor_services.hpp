// What the process hosting an actor does for it: the 1.1 calls of the plugin
// ABI (meshrun/plugin.h) in C++ terms. A proc provides them for its actors
// (runtime/actor_host/), the launcher for its controller (runtime/control/).
// Every call returns at once; results come back later through the actor's
// on_done with the caller's cookie.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "mesh/extent.hpp"
#include "mesh/mesh_ref.hpp"
#include "mesh/ref_cache.hpp"
#include "util/result.hpp"

namespace meshrun {

class ActorServices {
 public:
  using Millis = std::chrono::milliseconds;
  // The actor asking, within this process.
  struct Caller {
    uint32_t mesh = 0;
    uint32_t rank = 0;
  };

  virtual ~ActorServices() = default;

  // A plugin's reference, decoded once per distinct reference (a process
  // sends to few). Valid until the next call; null when `bytes` is none.
  const MeshRef* resolve(std::string_view bytes) {
    const auto fields = ref_fields(bytes);
    return fields.empty() ? nullptr : refs_.get(fields);
  }

  // `fields`: the reference's encoded fields when the caller has them (a
  // plugin's bytes), so the message is framed without encoding them again.
  virtual Status send(const Caller& from, const MeshRef& to, std::string_view message,
                      std::string_view payload, const PortRef* port,
                      std::string_view fields = {}) = 0;
  virtual Result<PortRef> open_port(const Caller& from, const MeshRef& to, ReducerKind reducer,
                                    Millis timeout, uint64_t cookie) = 0;
  virtual Status port_reply(const Caller& from, const PortRef& port, std::string_view data,
                            bool failure) = 0;
  virtual Result<MeshRef> choose(const Caller& from, const MeshRef& among) = 0;

  // The controller's calls; an actor's host refuses them.
  virtual Status spawn_procs(const Caller&, std::string name, std::vector<Dim> per_host,
                             Millis timeout, uint64_t cookie);
  virtual Status spawn_actors(const Caller&, std::string name, const MeshRef& procs,
                              std::string type, std::string params_toml, Millis timeout,
                              uint64_t cookie);
  virtual Status stop(const Caller&, std::string name, Millis timeout, uint64_t cookie);
  virtual Result<MeshRef> lookup(const Caller&, std::string_view name);
  virtual void exit_job(const Caller&, int status, std::string why);
  virtual void print(const Caller&, std::string_view text);
  virtual bool is_controller_host() const { return false; }

 private:
  RefCache refs_;
};

}  // namespace meshrun
