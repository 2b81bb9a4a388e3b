// The launcher's control plane: the parts that own the job's state, and
// the operations a controller (built in or from a plugin) performs on them.
//   HostSet         the host agents, their connections, heartbeats, the tree
//   ProcMeshes      proc meshes, where each rank runs, command-mode exits
//   PmiCoordinator  PMI barriers across hosts, torchrun's rendezvous port
//   ActorMeshes     actor meshes by name, spawn and stop
//   ControllerHost  the launcher's own actor host: the controller, its ports
// Messages from hosts are checked here (a host speaks only for its own
// procs) and handed to their owner; failures become supervision events for
// `supervisor` (a controller), or fail the job.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>

#include "control/actor_meshes.hpp"
#include "control/controller_host.hpp"
#include "control/host_set.hpp"
#include "control/job_state.hpp"
#include "control/pmi_coordinator.hpp"
#include "control/proc_meshes.hpp"

namespace meshrun {

class ControlPlane {
 public:
  using Clock = std::chrono::steady_clock;

  ControlPlane(asio::io_context& io, const Secret& secret, Millis heartbeat_timeout);
  ~ControlPlane();

  Status listen(const Address& address) { return hosts_.listen(address); }
  const Address& address() const { return hosts_.address(); }
  void set_job_id(std::string id);
  void use_tls(std::shared_ptr<TlsContext> tls) { hosts_.use_tls(std::move(tls)); }

  asio::awaitable<Result<HostMesh>> allocate(Allocator& allocator, AgentLaunch launch,
                                             Millis start_timeout) {
    return hosts_.allocate(allocator, std::move(launch), start_timeout);
  }
  // A proc mesh of `per_host` procs on every host ({hosts=N} ++ per_host).
  asio::awaitable<Result<ProcMesh>> spawn_procs(std::string name, const Extent& per_host,
                                                CreateProcs request, Millis timeout);
  // A proc mesh with `counts[h]` ranks on host h (command mode's uneven layouts).
  asio::awaitable<Result<ProcMesh>> spawn_procs(std::string name, std::vector<uint32_t> counts,
                                                CreateProcs request, Millis timeout);
  asio::awaitable<Status> stop_procs(const std::string& name, Millis grace, Millis timeout);
  // What every actor proc mesh the controller spawns gets (environment, cwd).
  void set_proc_template(CreateProcs t) { proc_template_ = std::move(t); }
  const CreateProcs& proc_template() const { return proc_template_; }
  asio::awaitable<Result<ActorMesh>> spawn_actors(std::string name, const MeshRef& on,
                                                  std::string plugin, std::string type,
                                                  std::string params_toml, Millis timeout) {
    return actors_.spawn(std::move(name), on, std::move(plugin), std::move(type),
                         std::move(params_toml), timeout);
  }
  asio::awaitable<Status> stop_actors(const std::string& name, Millis timeout) {
    return actors_.stop(name, timeout);
  }
  // A mesh by name: an actor mesh, or a proc mesh (a reference to its procs).
  Result<MeshRef> lookup(std::string_view name) const;

  // The launcher's own messages: calls and one-way sends to actors.
  ControllerHost& controller() { return *controller_; }
  asio::awaitable<CallResult> call(const MeshRef& to, std::string message, std::string payload,
                                   CallSettings options) {
    return controller_->call(to, std::move(message), std::move(payload), options);
  }
  Status send(const MeshRef& to, std::string message, std::string payload) {
    return controller_->broadcast(to, std::move(message), std::move(payload));
  }
  // Back-pressure for send(): until at most `max_queued` bytes wait for every host.
  asio::awaitable<Status> drain(size_t max_queued, Millis timeout) {
    return hosts_.drain(max_queued, Clock::now() + timeout);
  }

  // Where the launcher's frames go: a cast to the hosts its target touches
  // (through their first-level hosts), anything else to its endpoint's host.
  void route(const MeshRef* target, const Endpoint& to, std::string frame);

  // What happens on a failure: true from `supervisor` lets the job go on.
  // Without one, the first failure fails the job.
  std::function<bool(const SupervisionEvent&)> supervisor;

  asio::awaitable<void> shutdown(Millis grace, Millis timeout);
  void signal_procs(int sig) { procs_.signal_all(sig); }
  void send_input(uint32_t rank, const std::string& data) { procs_.send_input(rank, data); }
  void fail(JobFailure failure) { job_.fail(std::move(failure)); }
  const std::optional<JobFailure>& failure() const { return job_.failure(); }
  JobState& job() { return job_; }

  HostSet& host_set() { return hosts_; }
  ProcMeshes& procs() { return procs_; }
  const ProcMeshes& procs() const { return procs_; }
  ActorMeshes& actors() { return actors_; }
  const std::vector<Host>& hosts() const { return hosts_.hosts(); }
  uint64_t late_replies() const { return controller_->late_replies(); }

  // A rank's output, with the proc mesh it belongs to and its rank there.
  std::function<void(const Output&, const ProcMesh& mesh, uint32_t rank)> on_output;
  void set_progress(std::function<void(const std::string&)> fn);

 private:
  void dispatch(uint32_t host, Message&& msg);
  bool host_has_rank(uint32_t host, uint32_t rank, const char* what) const;
  void supervise(const SupervisionEvent& event);
  void host_lost(uint32_t host, const std::string& why);

  asio::io_context& io_;
  JobState job_;
  HostSet hosts_;
  ProcMeshes procs_;
  PmiCoordinator pmi_;
  ActorMeshes actors_;
  std::unique_ptr<ControllerHost> controller_;
  asio::steady_timer settle_;  // from the job's failure to failing the calls in flight
  std::string job_id_;
  CreateProcs proc_template_;
};

}  // namespace meshrun
