#include "agent/rank_environment.hpp"

#include <string>

namespace meshrun {

namespace {

std::string str(uint32_t v) {
  return std::to_string(v);
}

bool starts_with_key(std::string_view kv, std::string_view key) {
  return kv.size() > key.size() && kv[key.size()] == '=' && kv.substr(0, key.size()) == key;
}

void set_default(std::vector<std::string>& env, std::string_view key, std::string_view value) {
  if (!env_has(env, key)) set_env(env, key, value);
}

}  // namespace

bool agent_only_variable(std::string_view kv) {
  if (kv.starts_with("MESHRUN_BOOTSTRAP_ADDR=") || kv.starts_with("MESHRUN_HOST_INDEX=") ||
      kv.starts_with("MESHRUN_SERVE_PMIX=") || kv.starts_with("MESHRUN_HOSTNAMES="))
    return true;
  // Under SLURM the agent is a task of meshrun's own srun step; what srun
  // told it about that step is wrong for a rank (set per rank instead).
  return kv.starts_with("SLURM_STEP") || kv.starts_with("SLURM_PROCID=") ||
         kv.starts_with("SLURM_LOCALID=") || kv.starts_with("SLURM_TASK_PID=") ||
         kv.starts_with("SLURM_CPU_BIND") || kv.starts_with("SLURM_SRUN_COMM") ||
         kv.starts_with("SLURM_LAUNCH_NODE_IPADDR=") || kv.starts_with("SLURM_GTIDS=");
}

void set_env(std::vector<std::string>& env, std::string_view key, std::string_view value) {
  for (auto& e : env)
    if (starts_with_key(e, key)) {
      e.assign(key).append("=").append(value);
      return;
    }
  env.emplace_back(std::string(key).append("=").append(value));
}

std::string env_value(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env)
    if (starts_with_key(e, key)) return e.substr(key.size() + 1);
  return {};
}

bool env_has(const std::vector<std::string>& env, std::string_view key) {
  for (const auto& e : env)
    if (starts_with_key(e, key)) return true;
  return false;
}

std::vector<std::string> host_environment(const JobEnvironment& job) {
  std::vector<std::string> env;
  env.reserve(job.inherited.size() + job.job.size() + 32);
  for (const auto& kv : job.inherited)
    if (!agent_only_variable(kv)) env.push_back(kv);
  for (const auto& kv : job.job) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || agent_only_variable(kv)) continue;
    set_env(env, std::string_view(kv).substr(0, eq), std::string_view(kv).substr(eq + 1));
  }
  set_env(env, "MESHRUN_SIZE", str(job.size));
  set_env(env, "MESHRUN_LOCAL_SIZE", str(job.local_size));
  set_env(env, "MESHRUN_HOST_RANK", str(job.host_rank));
  if (job.under_slurm) {
    set_env(env, "SLURM_NTASKS", str(job.size));
    set_env(env, "SLURM_NPROCS", str(job.size));
  }
  if (!job.command) {
    set_env(env, "MESHRUN_CONTROL_FD", std::to_string(job.control_fd));
    return env;
  }
  // torchrun's names (torch.distributed.run with one role, never restarted).
  set_env(env, "WORLD_SIZE", str(job.size));
  set_env(env, "LOCAL_WORLD_SIZE", str(job.local_size));
  set_env(env, "GROUP_RANK", str(job.host_rank));
  set_env(env, "GROUP_WORLD_SIZE", str(job.num_hosts));
  set_env(env, "ROLE_NAME", "default");
  set_env(env, "ROLE_WORLD_SIZE", str(job.size));
  // What torch.distributed.is_torchelastic_launched() looks for.
  const std::string job_id = env_value(env, "MESHRUN_JOB_ID");
  set_env(env, "TORCHELASTIC_RUN_ID", job_id.empty() ? "none" : job_id);
  set_env(env, "TORCHELASTIC_RESTART_COUNT", "0");
  set_env(env, "TORCHELASTIC_MAX_RESTARTS", "0");
  // The ranks make their own store at MASTER_ADDR:MASTER_PORT.
  set_env(env, "TORCHELASTIC_USE_AGENT_STORE", "False");
  // torchrun's rule: several ranks on a host would overload it with threads.
  if (job.local_size > 1) set_default(env, "OMP_NUM_THREADS", "1");
  // Hydra's.
  set_env(env, "MPI_LOCALNRANKS", str(job.local_size));
  // PMI-1's.
  set_env(env, "PMI_FD", std::to_string(job.pmi_fd));
  set_env(env, "PMI_SIZE", str(job.size));
  return env;
}

std::vector<std::string> rank_environment(const std::vector<std::string>& host,
                                          const JobEnvironment& job, const RankSite& site) {
  std::vector<std::string> env = host;
  const std::string rank = str(site.rank);
  const std::string local_rank = str(site.local_rank);
  set_env(env, "MESHRUN_RANK", rank);
  set_env(env, "MESHRUN_LOCAL_RANK", local_rank);
  set_env(env, "MESHRUN_PROC_NAME", site.proc_name);
  if (job.under_slurm) {
    set_env(env, "SLURM_PROCID", rank);
    set_env(env, "SLURM_LOCALID", local_rank);
  }
  if (!job.command) {
    set_env(env, "MESHRUN_PROC_ID", str(site.proc));  // its address in the job
    return env;
  }
  set_env(env, "RANK", rank);
  set_env(env, "LOCAL_RANK", local_rank);
  set_env(env, "ROLE_RANK", rank);
  if (!site.error_file.empty()) set_env(env, "TORCHELASTIC_ERROR_FILE", site.error_file);
  set_env(env, "MPI_LOCALRANKID", local_rank);
  set_env(env, "PMI_RANK", rank);
  if (!site.pmix.empty()) {
    for (const auto& kv : site.pmix) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) continue;
      set_env(env, std::string_view(kv).substr(0, eq), std::string_view(kv).substr(eq + 1));
    }
    // Open MPI 4 takes a PMIx server for its launcher only when its own
    // launch detection (schizo "orte": "no mpirun, so a singleton") is off.
    set_default(env, "OMPI_MCA_schizo", "^orte");
    for (const auto& [key, value] : job.pmix_defaults)
      set_default(env, key, value);
  }
  return env;
}

}  // namespace meshrun
