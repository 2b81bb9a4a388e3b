#include "agent/rank_environment.hpp"

#include <catch2/catch.hpp>
#include <map>

using namespace meshrun;

namespace {

std::map<std::string, std::string> as_map(const std::vector<std::string>& env) {
  std::map<std::string, std::string> m;
  for (const auto& kv : env) {
    auto eq = kv.find('=');
    REQUIRE(eq != std::string::npos);
    // Every name appears once: a duplicate would leave the value to chance.
    REQUIRE(m.emplace(kv.substr(0, eq), kv.substr(eq + 1)).second);
  }
  return m;
}

JobEnvironment command_job() {
  JobEnvironment job;
  job.inherited = {
      "PATH=/usr/bin",        "HOME=/root",           "MESHRUN_BOOTSTRAP_ADDR=unix:/tmp/x",
      "MESHRUN_HOST_INDEX=1", "MESHRUN_SERVE_PMIX=1", "RANK=stale"};
  job.job = {"MESHRUN_JOB_ID=0123456789abcdef", "MASTER_ADDR=10.0.0.1", "MASTER_PORT=29500",
             "FROM_X=yes"};
  job.size = 8;
  job.local_size = 4;
  job.host_rank = 1;
  job.num_hosts = 2;
  job.pmi_fd = 3;
  return job;
}

std::map<std::string, std::string> rank_env(const JobEnvironment& job, RankSite site) {
  return as_map(rank_environment(host_environment(job), job, site));
}

}  // namespace

TEST_CASE("a command rank gets meshrun's, torchrun's, Hydra's and PMI-1's names", "[agent][env]") {
  const auto job = command_job();
  RankSite site;
  site.rank = 6;
  site.local_rank = 2;
  site.proc_name = "p0_6";
  site.error_file = "/tmp/job/torch-error.6.json";
  auto e = rank_env(job, site);

  CHECK(e["PATH"] == "/usr/bin");
  CHECK(e["FROM_X"] == "yes");
  CHECK(e.count("MESHRUN_BOOTSTRAP_ADDR") == 0);
  CHECK(e.count("MESHRUN_HOST_INDEX") == 0);
  CHECK(e.count("MESHRUN_SERVE_PMIX") == 0);

  CHECK(e["MESHRUN_RANK"] == "6");
  CHECK(e["MESHRUN_SIZE"] == "8");
  CHECK(e["MESHRUN_LOCAL_RANK"] == "2");
  CHECK(e["MESHRUN_LOCAL_SIZE"] == "4");
  CHECK(e["MESHRUN_HOST_RANK"] == "1");
  CHECK(e["MESHRUN_PROC_NAME"] == "p0_6");
  CHECK(e["MESHRUN_JOB_ID"] == "0123456789abcdef");

  // torchrun (torch.distributed.run): one role, no restarts.
  CHECK(e["RANK"] == "6");
  CHECK(e["WORLD_SIZE"] == "8");
  CHECK(e["LOCAL_RANK"] == "2");
  CHECK(e["LOCAL_WORLD_SIZE"] == "4");
  CHECK(e["GROUP_RANK"] == "1");
  CHECK(e["GROUP_WORLD_SIZE"] == "2");
  CHECK(e["ROLE_RANK"] == "6");
  CHECK(e["ROLE_WORLD_SIZE"] == "8");
  CHECK(e["ROLE_NAME"] == "default");
  CHECK(e["MASTER_ADDR"] == "10.0.0.1");
  CHECK(e["MASTER_PORT"] == "29500");
  CHECK(e["TORCHELASTIC_RUN_ID"] == "0123456789abcdef");
  CHECK(e["TORCHELASTIC_RESTART_COUNT"] == "0");
  CHECK(e["TORCHELASTIC_MAX_RESTARTS"] == "0");
  CHECK(e["TORCHELASTIC_USE_AGENT_STORE"] == "False");
  CHECK(e["TORCHELASTIC_ERROR_FILE"] == "/tmp/job/torch-error.6.json");
  CHECK(e["OMP_NUM_THREADS"] == "1");

  // Hydra, PMI-1.
  CHECK(e["MPI_LOCALRANKID"] == "2");
  CHECK(e["MPI_LOCALNRANKS"] == "4");
  CHECK(e["PMI_FD"] == "3");
  CHECK(e["PMI_RANK"] == "6");
  CHECK(e["PMI_SIZE"] == "8");

  // Not a PMIx rank, not under SLURM, not an actor proc.
  CHECK(e.count("OMPI_MCA_schizo") == 0);
  CHECK(e.count("SLURM_PROCID") == 0);
  CHECK(e.count("MESHRUN_CONTROL_FD") == 0);
}

TEST_CASE("OMP_NUM_THREADS is 1 only for several ranks on a host, and never overrides",
          "[agent][env]") {
  auto job = command_job();
  job.local_size = 1;
  CHECK(rank_env(job, {}).count("OMP_NUM_THREADS") == 0);
  job.local_size = 2;
  job.inherited.push_back("OMP_NUM_THREADS=8");
  CHECK(rank_env(job, {})["OMP_NUM_THREADS"] == "8");
  job.inherited.pop_back();
  job.job.push_back("OMP_NUM_THREADS=3");  // -x OMP_NUM_THREADS=3
  CHECK(rank_env(job, {})["OMP_NUM_THREADS"] == "3");
}

TEST_CASE("x flag values override the inherited environment, meshrun's names override both",
          "[agent][env]") {
  auto job = command_job();
  job.inherited.push_back("FROM_X=inherited");
  job.job.push_back("RANK=99");
  auto e = rank_env(job, RankSite{3, 3, "p0_3", {}, {}});
  CHECK(e["FROM_X"] == "yes");
  CHECK(e["RANK"] == "3");
  CHECK(e.count("TORCHELASTIC_ERROR_FILE") == 0);
}

TEST_CASE("a PMIx rank gets the server's variables and Open MPI's launch hint", "[agent][env]") {
  auto job = command_job();
  RankSite site;
  site.rank = 4;
  site.pmix = {"PMIX_NAMESPACE=meshrun.0123", "PMIX_RANK=4", "PMIX_SERVER_URI41=x;tcp4://1:2"};
  auto e = rank_env(job, site);
  CHECK(e["PMIX_NAMESPACE"] == "meshrun.0123");
  CHECK(e["PMIX_RANK"] == "4");
  CHECK(e["PMIX_SERVER_URI41"] == "x;tcp4://1:2");
  CHECK(e["OMPI_MCA_schizo"] == "^orte");
  // A user's own choice stands.
  job.job.push_back("OMPI_MCA_schizo=^slurm");
  CHECK(rank_env(job, site)["OMPI_MCA_schizo"] == "^slurm");
}

TEST_CASE("an actor proc gets meshrun's names and its control descriptor only", "[agent][env]") {
  auto job = command_job();
  job.command = false;
  job.control_fd = 3;
  auto e = rank_env(job, RankSite{5, 1, "p0_5", {}, {}});
  CHECK(e["MESHRUN_RANK"] == "5");
  CHECK(e["MESHRUN_PROC_NAME"] == "p0_5");
  CHECK(e["MESHRUN_CONTROL_FD"] == "3");
  CHECK(e["RANK"] == "stale");  // inherited, not set by meshrun
  CHECK(e.count("PMI_FD") == 0);
  CHECK(e.count("TORCHELASTIC_RUN_ID") == 0);
}

TEST_CASE("under SLURM a rank's task ids are its own, not the agent's", "[agent][env]") {
  auto job = command_job();
  job.under_slurm = true;
  job.inherited.insert(job.inherited.end(), {"SLURM_JOB_ID=7", "SLURM_PROCID=1", "SLURM_STEP_ID=0",
                                             "SLURM_LOCALID=0", "SLURM_CPU_BIND=quiet"});
  auto e = rank_env(job, RankSite{6, 2, "p0_6", {}, {}});
  CHECK(e["SLURM_JOB_ID"] == "7");
  CHECK(e["SLURM_PROCID"] == "6");
  CHECK(e["SLURM_LOCALID"] == "2");
  CHECK(e["SLURM_NTASKS"] == "8");
  CHECK(e["SLURM_NPROCS"] == "8");
  CHECK(e.count("SLURM_STEP_ID") == 0);
  CHECK(e.count("SLURM_CPU_BIND") == 0);
}
