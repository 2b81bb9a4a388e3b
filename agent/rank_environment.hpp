// The environment a rank starts with, as a pure function of where it sits in
// the job: the agent's own environment without what only the agent needed,
// the job's variables (-x, MESHRUN_JOB_ID, MASTER_*), then the names that
// meshrun, torchrun, Hydra, SLURM and the PMI servers give a rank.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace meshrun {

// Where one rank sits.
struct RankSite {
  uint32_t rank = 0;
  uint32_t local_rank = 0;
  std::string proc_name;  // "p0_5"
  // TORCHELASTIC_ERROR_FILE (command ranks); empty: not set.
  std::string error_file;
  // What the PMIx server gave this rank (PMIX_RANK, PMIX_SERVER_URI*, ...).
  std::vector<std::string> pmix;
  uint32_t proc = 0;  // job-wide proc id (MESHRUN_PROC_ID, actor procs)
};

// What every rank of one host shares.
struct JobEnvironment {
  std::vector<std::string> inherited;  // the agent's environ, "KEY=VALUE"
  std::vector<std::string> job;        // CreateProcs.env: applied over `inherited`
  uint32_t size = 1;                   // ranks in the job
  uint32_t local_size = 1;             // ranks on this host
  uint32_t host_rank = 0;
  uint32_t num_hosts = 1;
  bool command = true;       // a command rank; false: an actor proc (meshrun-agent proc)
  bool under_slurm = false;  // the agent runs inside a SLURM allocation
  int control_fd = 3;        // actor procs: MESHRUN_CONTROL_FD
  int pmi_fd = 3;            // command ranks: PMI_FD
  // For ranks served PMIx: Open MPI's settings, each unless set already.
  std::vector<std::pair<std::string, std::string>> pmix_defaults;
};

// The agent's own variables, never passed on: MESHRUN_BOOTSTRAP_ADDR and
// friends, and what srun told the agent about meshrun's own step.
bool agent_only_variable(std::string_view kv);

// The part every rank of the host shares, built once per CreateProcs.
std::vector<std::string> host_environment(const JobEnvironment& job);
// One rank's whole environment: `host` (from host_environment) plus the
// rank's own names.
std::vector<std::string> rank_environment(const std::vector<std::string>& host,
                                          const JobEnvironment& job, const RankSite& site);

// Sets KEY=VALUE in `env`, replacing an existing KEY.
void set_env(std::vector<std::string>& env, std::string_view key, std::string_view value);
// KEY's value in `env`; empty when unset.
std::string env_value(const std::vector<std::string>& env, std::string_view key);
bool env_has(const std::vector<std::string>& env, std::string_view key);

}  // namespace meshrun
