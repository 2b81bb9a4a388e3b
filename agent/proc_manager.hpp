// The host agent's proc manager: it really spawns, watches, signals and reaps
// the OS processes of the procs on this host, and forwards their output.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "agent/job_layout.hpp"
#include "agent/pmi_cluster_job.hpp"
#include "agent/pmix_server.hpp"
#include "agent/rank_environment.hpp"
#include "channel/connection.hpp"
#include "pmi/pmi_server.hpp"
#include "process/child.hpp"
#include "process/mpi_probe.hpp"
#include "util/job_dir.hpp"
#include "util/notifier.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class SpawnerPool;

// What the proc manager tells its host agent about the procs' own traffic.
struct ProcEvents {
  // A frame from an actor proc: one of the types a proc may send, already
  // stamped with the proc it came from (a proc cannot speak for another).
  std::function<void(uint32_t proc, std::string frame)> on_frame;
  // A proc exited or failed to start: nothing it owed will be answered.
  std::function<void(uint32_t proc, const std::string& cause)> on_gone;
  // Back-pressure: while behind(), stop reading procs' frames until hold_back() returns.
  std::function<bool()> behind;
  std::function<asio::awaitable<void>()> hold_back;
};

class ProcManager {
 public:
  // `upstream` receives ProcStatus and Output; procs' own frames go to `events`.
  ProcManager(asio::io_context& io, ConnectionPtr upstream, std::string agent_path,
              uint32_t host_rank, ProcEvents events);
  ~ProcManager();

  // Create-or-update: a proc that exists keeps running and reports its state.
  void create(const CreateProcs& request);
  // To one actor proc by job-wide id; false when it is not (or no longer) here.
  bool send_to(uint32_t proc, std::string_view payload);
  bool send_to(uint32_t proc, std::string&& payload);
  bool has_live_proc(uint32_t proc) const;
  // Back-pressure: until no proc has more than `bytes` queued to it, or
  // `deadline` (false then).
  asio::awaitable<bool> wait_queued_below(size_t bytes,
                                          std::chrono::steady_clock::time_point deadline);
  size_t max_queued() const;
  // SIGTERM and SIGKILL mark the procs they hit as stopped by meshrun, so
  // their exit is reported as the job's teardown, not as their failure.
  void signal_all(int sig);
  // Command-mode messages from the launcher (Input, PmiBarrierOut,
  // ReservePort); false for any other message.
  bool handle(const Message& msg);
  // Stop message, SIGTERM to each group after `grace`, SIGKILL after another
  // `grace`; returns when every proc is reaped.
  asio::awaitable<void> stop_all(Millis grace);
  // The agent itself got `sig` from outside (a SLURM time limit, scancel,
  // kill): every proc gets it too and ends of it, reported as its own
  // failure, as srun's tasks do; what is left after `grace` is stopped.
  asio::awaitable<void> end_by_signal(int sig, Millis grace);
  // The same for one proc mesh's procs only (a controller stopping it).
  asio::awaitable<void> stop_mesh(std::string mesh, Millis grace);
  size_t live() const;

 private:
  struct Proc {
    ProcEntry entry;
    std::string mesh;  // the proc mesh it belongs to
    std::unique_ptr<Child> child;
    // A second pidfd: readable once the proc exited, before it is reaped.
    std::unique_ptr<asio::posix::stream_descriptor> exit_fd;
    ConnectionPtr conn;  // actor procs only
    ProcState state = ProcState::starting;
    int open_streams = 0;
    bool terminated = false;  // meshrun sent it SIGTERM or SIGKILL
    // The agent passed on a signal from outside: the proc ends of that, on
    // its own, whatever meshrun sends it afterwards.
    bool ended_from_outside = false;
    int pending_signal = 0;  // to send once its spawn completes
    std::unique_ptr<PmiConnection> pmi;
    // The rank's stdin, when it gets meshrun's: queued Input, written in order.
    std::unique_ptr<asio::posix::stream_descriptor> stdin_pipe;
    std::deque<std::string> stdin_queue;
    bool stdin_writing = false;
    bool stdin_eof = false;
    std::vector<std::string> notes;  // for the launcher's report, when it ends
    std::string mpi_mapped;          // the MPI library seen in its memory, if looked
  };

  struct Launch;
  void spawn_one(const CreateProcs& request, const ProcEntry& entry);
  // `by_meshrun`: an ending signal marks its procs as stopped by meshrun;
  // false when it came from outside and the procs end of it on their own.
  void signal_where(const std::function<bool(const Proc&)>& which, int sig, bool by_meshrun = true);
  asio::awaitable<void> stop_where(std::function<bool(const Proc&)> which, Millis grace);
  void finish_spawn(Launch& launch);
  asio::awaitable<void> watch(std::shared_ptr<Proc> proc);
  asio::awaitable<void> serve_proc(std::shared_ptr<Proc> proc);
  asio::awaitable<void> pump_output(std::shared_ptr<Proc> proc, int fd, uint8_t stream, bool raw);
  asio::awaitable<void> serve_pmi(std::shared_ptr<Proc> proc);
  asio::awaitable<void> write_stdin(std::shared_ptr<Proc> proc);
  void input(const Input& in);
  void make_pmi_job(const CreateProcs& request);
  void prepare_environment(const CreateProcs& request);
  static Result<JobDir> ranks_dir(uint32_t host_rank);
  bool make_ranks_dir();
  void start_pmix();
  void serve_pmix(const CreateProcs& request);
  static std::string pmix_node_name(const std::string& hostname, uint32_t host_rank);
  void look_for_mpi(Proc& proc);
  void drop_deferred();
  void note_silent_mpi(Proc& proc);
  void report(const Proc& proc, const ExitStatus* status = nullptr, std::string detail = {});

  asio::io_context& io_;
  ConnectionPtr upstream_;
  std::string agent_path_;
  uint32_t host_rank_;
  ProcEvents events_;
  std::shared_ptr<SpawnerPool> spawners_;
  // Where spawner threads hand finished spawns back; cleared when this
  // manager goes away, so a late spawn never touches a dead loop or manager.
  struct SpawnSink {
    std::mutex mu;
    std::condition_variable done;
    size_t in_flight = 0;  // submitted to a spawner and not yet handed back
    ProcManager* owner = nullptr;
  };
  std::shared_ptr<SpawnSink> sink_;
  size_t spawning_ = 0;  // spawns handed to a spawner and not finished
  std::chrono::steady_clock::time_point batch_start_;
  size_t batch_size_ = 0;
  std::optional<JobDir> job_dir_;  // command mode: the ranks' files on this host
  std::optional<JobDir> shm_dir_;  // Open MPI's shared memory, in /dev/shm
  JobLayout layout_;
  CommandMpi command_mpi_;  // what the command line tells about MPI
  JobEnvironment job_env_;
  std::vector<std::string> host_env_;  // what every rank of this host shares
  bool ranks_dir_failed_ = false;
  std::unique_ptr<ClusterPmiJob> pmi_job_;  // command mode; outlives the procs' sessions
  std::unique_ptr<PmixServer> pmix_;        // goes first: it serves pmi_job_ from job_dir_
  bool pmix_failed_ = false;
  std::optional<CreateProcs> deferred_;              // to spawn once the PMIx server has started
  std::map<uint32_t, std::shared_ptr<Proc>> procs_;  // by job-wide proc id
  Notifier changed_;
  std::string output_scratch_;  // shared by every output pipe (one thread reads them)
};

}  // namespace meshrun
