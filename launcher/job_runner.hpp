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

struct JobOutcome {
  int status = 0;
  // The SIGINT or SIGTERM that stopped the job (0: none). Once everything is
  // torn down, meshrun ends itself by it, so a shell loop sees the signal.
  int signal = 0;
};

JobOutcome run_job(const JobSpec& spec, const RunOptions& options);

// meshrun --check: lays the job out (hosts, ranks, limits), finds the agent,
// the plugin and, for hosts on this machine, the command; prints
// "SOURCE: ok" or the first error. Returns the exit status.
int check_job(const JobSpec& spec);

}  // namespace meshrun
