// What a job will be once the command line and the spec are combined: the
// placement (launcher, hosts, ranks per host), the files it needs, and the
// checks that need that final shape - slices against the final extent, the
// plugins' types and messages - made before anything starts. `--check` and
// `--dry-run` stop here.
#pragma once

#include <string>
#include <vector>

#include "alloc/placement.hpp"
#include "mesh/extent.hpp"
#include "mesh/meshes.hpp"
#include "spec/job_spec.hpp"
#include "util/result.hpp"

namespace meshrun {

struct Plan {
  Placement placement;
  uint32_t hosts = 1;
  Extent per_host;
  std::string agent_path;
  std::vector<std::string> actor_plugins;  // by [[actors]] index, resolved paths
  std::string controller_plugin;
  // What the checks could not do here (a plugin only on the remote hosts).
  std::vector<std::string> unchecked;
};

// Errors name the spec's file and line where they can (invalid_argument: a
// usage or spec error, exit 2). `checking` (--check): what only the hosts'
// environment can settle (a SLURM allocation) is noted as unchecked, and the
// rest is checked as if it were there.
Result<Plan> make_plan(const JobSpec& spec, bool checking = false);

// The job's first proc mesh as the plan lays it out ({hosts=N} ++ per-host).
ProcMesh planned_procs(const JobSpec& spec, const Plan& plan);
// An actor mesh's reference within `procs` (its [[actors]].procs slice).
Result<MeshRef> actor_region(const ActorsSpec& actors, const ProcMesh& procs);
// A cast's target within its mesh (its slice, in the mesh's coordinates).
Result<MeshRef> cast_target(const CastSpec& cast, const MeshRef& mesh);

void print_dry_run(const JobSpec& spec, const Plan& plan);

}  // namespace meshrun
