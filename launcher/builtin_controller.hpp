// The job's controller when the spec names none: it spawns the spec's
// [[actors]] meshes and plays its [[cast]] list in order against the same
// live actors, through the control plane calls a plugin's controller makes
// (there is one path). The first failure ends the job.
#pragma once

#include <asio/awaitable.hpp>
#include <chrono>
#include <vector>

#include "control/control_plane.hpp"
#include "launcher/call_report.hpp"
#include "launcher/job_plan.hpp"

namespace meshrun {

class BuiltinController {
 public:
  using Clock = std::chrono::steady_clock;

  BuiltinController(ControlPlane& plane, const JobSpec& spec, const Plan& plan, CallReport& report)
      : plane_(plane), spec_(spec), plan_(plan), report_(report) {}

  // Every [[actors]] mesh, on the job's first proc mesh; also run before a
  // plugin's controller starts, which finds them by name.
  asio::awaitable<Status> spawn_meshes(const ProcMesh& procs, Clock::time_point deadline);
  // The [[cast]] list. Returns the job's exit status.
  asio::awaitable<int> run_casts(Clock::time_point deadline);

 private:
  // What is wrong with a finished cast, or "" (failures, silence, a reply
  // that is not what the spec expects).
  std::string verdict(const CastSpec& cast, const ActorMesh& mesh, const CallResult& r) const;

  ControlPlane& plane_;
  const JobSpec& spec_;
  const Plan& plan_;
  CallReport& report_;
  std::vector<ActorMesh> meshes_;  // by [[actors]] index
};

}  // namespace meshrun
