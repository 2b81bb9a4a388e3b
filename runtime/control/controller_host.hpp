// The launcher's own actor host: where the job's controller runs (a plugin's
// controller type, or the built-in one that plays a spec's [[cast]] list),
// and where the launcher's calls open their ports. Its calls take the same
// path as an actor's (ActorHost), so there is one way to call a mesh. The
// controller's extra powers - spawning and stopping meshes, looking them up,
// ending the job - are carried out by the control plane.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "actor_host/actor_host.hpp"
#include "mesh/reducer.hpp"
#include "util/gate.hpp"
#include "util/notifier.hpp"

namespace meshrun {

class ControlPlane;

struct CallSettings {
  std::chrono::milliseconds timeout{30000};
  ReducerKind reducer = ReducerKind::none;
};

// A finished call, as --json and the human output report it.
struct CallRecord {
  MeshRef target;
  std::string message;
  ReducerKind reducer = ReducerKind::none;
  CallResult result;
  double ms = 0;
};

class ControllerHost : public ActorHost {
 public:
  using Clock = std::chrono::steady_clock;

  ControllerHost(asio::io_context& io, ControlPlane& plane);
  ~ControllerHost() override;

  // For C++ callers in the launcher (the built-in controller, tests).
  asio::awaitable<CallResult> call(const MeshRef& to, std::string message, std::string payload,
                                   CallSettings options);
  Status broadcast(const MeshRef& to, std::string message, std::string payload);

  // A controller type from a plugin: made (its parameters as TOML), then run.
  Status load(const std::string& plugin_path, const std::string& type,
              const std::string& params_toml);
  bool loaded() const { return find(0, 0) != nullptr; }
  Status start();
  // The controller's verdict on a failure: true lets the job go on.
  bool supervise(const SupervisionEvent& event);

  // Set when the controller ended the job (exit_job), or failed.
  std::optional<int> exit_status() const { return exit_; }
  const std::string& exit_reason() const { return why_; }
  // Until the controller ends the job, the job fails, or `deadline`.
  asio::awaitable<bool> wait_exit(Clock::time_point deadline);
  Notifier& exit_notifier() { return exited_; }
  // The calls still waiting for answers, for a timeout's message.
  std::vector<std::string> calls_in_flight() const;
  // Fails the calls to actors on a host that was lost.
  void host_lost(uint32_t host, const std::string& why);

  // The last call that finished (what the built-in controller reports).
  const CallRecord& last_record() const { return last_; }
  std::function<void(const CallRecord&)> on_call;
  std::function<void(std::string_view line)> on_print;

  // The controller's calls (ActorServices).
  Status spawn_procs(const Caller&, std::string name, std::vector<Dim> per_host, Millis timeout,
                     uint64_t cookie) override;
  Status spawn_actors(const Caller&, std::string name, const MeshRef& procs, std::string type,
                      std::string params_toml, Millis timeout, uint64_t cookie) override;
  Status stop(const Caller&, std::string name, Millis timeout, uint64_t cookie) override;
  Result<MeshRef> lookup(const Caller&, std::string_view name) override;
  void exit_job(const Caller&, int status, std::string why) override;
  void print(const Caller&, std::string_view text) override;
  bool is_controller_host() const override { return true; }

 protected:
  void actor_failed(uint32_t mesh, uint32_t rank, const std::string& actor_id,
                    const std::string& why) override;
  void actor_status(const ActorStatus&) override {}
  void call_finished(const CallInfo& info, const CallResult& result) override;

 private:
  ActorInstance* find(uint32_t mesh, uint32_t rank) const {
    return const_cast<ControllerHost*>(this)->ActorHost::find(mesh, rank);
  }
  // Runs `op` detached and hands its result to the controller's on_done.
  void operation(uint64_t cookie, std::function<asio::awaitable<CallResult>()> op);
  void end(int status, std::string why);

  ControlPlane& plane_;
  std::string plugin_path_;
  std::optional<int> exit_;
  std::string why_;
  CallRecord last_;
  Notifier exited_;
  Gate gate_;
};

}  // namespace meshrun
