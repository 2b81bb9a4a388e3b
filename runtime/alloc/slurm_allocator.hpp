// Hosts of a SLURM allocation: one `srun` step with one meshrun-agent task per
// node. SLURM does the remote starting and the cleanup; the agents dial back
// as they do over ssh.
#pragma once

#include <asio/io_context.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alloc/allocator.hpp"
#include "process/child.hpp"
#include "util/notifier.hpp"
#include "util/result.hpp"

namespace meshrun {

// The allocation meshrun runs in, as sbatch/salloc describe it in the
// environment.
struct SlurmAllocation {
  std::string job_id;               // SLURM_JOB_ID
  std::string nodelist;             // SLURM_JOB_NODELIST as written
  std::string tasks_per_node_text;  // SLURM_TASKS_PER_NODE as written ("" if unset)
  std::vector<std::string> nodes;   // expanded, in SLURM's order
  std::vector<uint32_t> tasks;      // per node, same length as nodes
  uint32_t ntasks = 0;              // SLURM_NTASKS, else the sum of tasks
};

// True when SLURM_JOB_ID and SLURM_JOB_NODELIST are both set and non-empty.
bool in_slurm_allocation();

// Reads and expands the allocation from the environment. Errors say which
// variable is wrong (Errc::invalid_argument).
Result<SlurmAllocation> read_slurm_allocation();

class SlurmAllocator : public Allocator {
 public:
  // `nodes`: one agent per node, host index i on nodes[i]. `srun`: the srun
  // program (MESHRUN_SRUN overrides "srun" for tests and unusual installs).
  SlurmAllocator(asio::io_context& io, std::vector<std::string> nodes, std::string srun = "");
  ~SlurmAllocator() override;

  std::string kind() const override { return "slurm"; }
  size_t num_hosts() const override { return nodes_.size(); }
  std::string host_name(size_t index) const override { return nodes_[index]; }
  Status start(const AgentLaunch& launch) override;
  std::optional<std::string> failure(size_t index) const override;
  asio::awaitable<void> reap(Millis deadline) override;
  void kill_all() override;

  // The srun command line start() runs (no secret in it), for --dry-run and tests.
  std::vector<std::string> srun_argv(const std::string& agent_path) const;

 private:
  asio::awaitable<void> watch();
  asio::awaitable<void> read_stderr(int fd);
  void keep(std::string line);

  asio::io_context& io_;
  std::vector<std::string> nodes_;
  std::string srun_;
  std::unique_ptr<Child> child_;
  std::optional<ExitStatus> exit_;
  bool stderr_open_ = false;
  std::deque<std::string> tail_;  // srun's last stderr lines
  Notifier stderr_closed_;
};

}  // namespace meshrun
