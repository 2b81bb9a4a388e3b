// Runs one job end to end: allocate hosts, spawn procs, spawn actors and cast
// (actor mode) or wait for the ranks (command mode), then shut down. Returns
// meshrun's exit status.
#pragma once

#include "spec/job_spec.hpp"

namespace meshrun {

struct RunOptions {
  bool dry_run = false;
  bool check_only = false;  // --check: plan and check, start nothing
  bool json = false;        // --json: results as JSON lines on stdout
  bool no_tls = false;      // plain TCP between hosts
};

int run_job(const JobSpec& spec, const RunOptions& options);

}  // namespace meshrun
