// The job's actor meshes, by name: spawning one on a proc mesh (or a slice
// of it), the actors' reported states, and stopping one. A failure of an
// actor while it runs becomes a supervision event for the job's owner.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "control/host_set.hpp"
#include "control/job_state.hpp"
#include "control/proc_meshes.hpp"
#include "mesh/meshes.hpp"
#include "mesh/supervision_event.hpp"
#include "util/notifier.hpp"

namespace meshrun {

class ActorMeshes {
 public:
  using Clock = std::chrono::steady_clock;

  ActorMeshes(asio::io_context& io, HostSet& hosts, ProcMeshes& procs, JobState& job);

  // `on` names the procs (a proc mesh reference, whole or sliced).
  asio::awaitable<Result<ActorMesh>> spawn(std::string name, const MeshRef& on, std::string plugin,
                                           std::string type, std::string params_toml,
                                           Millis timeout);
  asio::awaitable<Status> stop(const std::string& name, Millis timeout);
  // An ActorStatus from `host`; dropped when its proc is not that host's.
  void on_status(uint32_t host, ActorStatus&& st);
  const ActorMesh* find(std::string_view name) const;
  const ActorMesh* find(uint32_t id) const;
  // The actor meshes living on proc mesh `procs`.
  std::vector<std::string> on_procs(const std::string& procs) const;

  std::function<void(const SupervisionEvent&)> on_actor_failed;
  std::function<void(const std::string&)> on_progress;

 private:
  struct Record {
    ActorMesh mesh;
    std::vector<uint8_t> state;  // by rank: 0 waiting, then 1 + ActorState
    std::vector<std::string> errors;
    size_t answered = 0;
    bool stopping = false;
  };
  Record* record(uint32_t id);

  HostSet& hosts_;
  ProcMeshes& procs_;
  JobState& job_;
  uint32_t next_id_ = 1;
  std::map<uint32_t, Record> meshes_;
  Notifier changed_;
};

}  // namespace meshrun
