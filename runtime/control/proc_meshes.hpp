// The job's proc meshes: creating them on the hosts, where every rank runs,
// the state each proc reports, and stopping them. For command mode it also
// keeps how the ranks ended, which decides the job's exit status: the lowest
// rank that failed on its own, after a short settle window, so ranks that
// fail together give the same status on every run.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/host_set.hpp"
#include "control/job_state.hpp"
#include "mesh/meshes.hpp"
#include "mesh/supervision_event.hpp"
#include "util/notifier.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class ProcMeshes {
 public:
  using Clock = std::chrono::steady_clock;

  ProcMeshes(asio::io_context& io, HostSet& hosts, JobState& job);

  // Spawns `counts[h]` procs on each host h (an actor mesh when
  // `request.command` is empty) and waits until every one runs.
  asio::awaitable<Result<ProcMesh>> spawn(std::string name, Extent extent,
                                          std::vector<uint32_t> counts, CreateProcs request,
                                          Millis timeout);
  // Ends the procs of one mesh (stop, SIGTERM, SIGKILL after `grace`) and
  // waits until they are reaped; they are not failures.
  asio::awaitable<Status> stop(const std::string& name, Millis grace, Millis timeout);

  // A ProcStatus from `host`; dropped (and logged) when the proc is not one
  // of that host's.
  void on_status(uint32_t host, ProcStatus&& st);
  bool owns(uint32_t host, uint32_t proc) const;
  // A host is lost: its procs will never report again.
  void host_lost(uint32_t host);

  const ProcMesh* find(std::string_view name) const;
  // The mesh a proc belongs to and its rank there.
  const ProcMesh* mesh_of(uint32_t proc, uint32_t* rank = nullptr) const;
  // "rank 3 (host 1, node07)" for the job's first mesh, "p1 rank 3 (...)" else.
  std::string describe(uint32_t proc) const;
  // The pids of every proc that reported one.
  std::vector<uint32_t> pids() const;

  // Command mode: the job's one mesh of commands.
  asio::awaitable<bool> wait_all_exited(Clock::time_point deadline);
  // `first_signal` (SIGTERM, or what --signal-forward names) to every rank,
  // SIGKILL after `grace`; returns once every rank has been reaped (or its
  // host is lost).
  asio::awaitable<void> stop_ranks(Millis grace, int first_signal);
  // After a rank failed: until every rank ended or `window` passed, so
  // failures that come together are all counted.
  asio::awaitable<void> settle(Millis window);
  bool all_exited() const;
  std::vector<uint32_t> running_ranks() const;
  // The command mesh's ranks and what each last reported (starting if nothing).
  uint32_t rank_count() const;
  std::vector<ProcStatus> rank_statuses() const;
  struct RankFailures {
    uint32_t lowest = 0;  // the lowest-numbered rank that failed on its own
    int status = 1;       // its shell status
    std::string what;     // "rank 2 (host 0, node1) failed: exit code 3"
    size_t others = 0;    // how many more ranks failed
  };
  std::optional<RankFailures> rank_failures() const;

  void signal_all(int sig);
  void send_input(uint32_t rank, const std::string& data);
  // Actor mode: a proc that ended on its own (not stopped by meshrun).
  std::function<void(const SupervisionEvent&)> on_proc_exited;
  // Command mode: every rank's end, as its host reported it.
  std::function<void(const ProcStatus&)> on_rank_exit;
  std::function<void(const std::string&)> on_progress;

 private:
  struct Proc {
    bool known = false;
    ProcStatus status;
  };
  struct Mesh {
    ProcMesh mesh;
    std::vector<Proc> procs;  // by rank
    bool stopping = false;
  };
  Mesh* mesh_for(uint32_t proc, uint32_t* rank);
  const Mesh* mesh_for(uint32_t proc, uint32_t* rank) const;
  bool ended(const Mesh& m, uint32_t rank) const;
  const Mesh* commands() const;

  asio::io_context& io_;
  HostSet& hosts_;
  JobState& job_;
  std::vector<Mesh> meshes_;  // in spawn order (ids follow one another)
  uint32_t next_proc_ = 0;
  std::map<uint32_t, RankFailures> failed_;  // command ranks that failed on their own
  Notifier changed_;
};

}  // namespace meshrun
