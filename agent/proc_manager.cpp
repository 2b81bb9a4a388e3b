#include "agent/proc_manager.hpp"
#include "agent/proc_tracker.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cstdlib>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <condition_variable>
#include <cstring>
#include <latch>
#include <mutex>
#include <thread>

#include "agent/output_stream.hpp"
#include "agent/rank_environment.hpp"
#include "agent/torch_error_file.hpp"
#include "channel/address.hpp"
#include "process/cpu_binding.hpp"
#include "process/spawn.hpp"
#include "spec/job_spec.hpp"
#include "util/duration_format.hpp"
#include "util/fd_limit.hpp"
#include "util/log.hpp"
#include "wire/actor_frames.hpp"
#include "wire/rank_notes.hpp"

extern char** environ;

namespace meshrun {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// Above this many bytes queued for the launcher, output readers pause, so a
// chatty rank fills its own pipe instead of our memory.
constexpr size_t kOutputHighWater = 8u << 20;
constexpr size_t kReadChunk = 64 * 1024;
// How long a proc's pipes may stay open after it exited (a grandchild may
// hold them) before its exit is reported anyway.
constexpr Millis kDrainAfterExit{2000};
// The descriptor a command rank finds its PMI socket on (PMI_FD), and an
// actor proc its control socket on (MESHRUN_CONTROL_FD).
constexpr int kPmiFd = 3;
constexpr int kControlFd = 3;
constexpr unsigned kSpawnerThreads = 4;

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    reset();
    fd = std::exchange(o.fd, -1);
    return *this;
  }
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  int release() { return std::exchange(fd, -1); }
};

// A TCP port nobody listens on right now, for MASTER_PORT.
uint16_t free_tcp_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  uint16_t port = 0;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0)
    port = ntohs(addr.sin_port);
  ::close(fd);
  return port;
}

}  // namespace

ProcManager::ProcManager(asio::io_context& io, ConnectionPtr upstream, std::string agent_path,
                         uint32_t host_rank, ProcEvents events)
    : io_(io),
      upstream_(std::move(upstream)),
      agent_path_(std::move(agent_path)),
      host_rank_(host_rank),
      events_(std::move(events)),
      changed_(io.get_executor()) {
  sink_ = std::make_shared<SpawnSink>();
  sink_->owner = this;
  if (std::getenv("MESHRUN_SERVE_PMIX")) start_pmix();
}

ProcManager::~ProcManager() {
  // Spawner threads finish what they hold before this manager and its loop
  // go; a spawn stuck past the deadline is abandoned to the exit.
  std::unique_lock lock(sink_->mu);
  sink_->done.wait_for(lock, std::chrono::seconds(5), [this] { return sink_->in_flight == 0; });
  sink_->owner = nullptr;
}

size_t ProcManager::live() const {
  size_t n = spawning_;
  for (const auto& [rank, p] : procs_)
    if (p->child && !p->child->reaped()) ++n;
  return n;
}

void ProcManager::report(const Proc& proc, const ExitStatus* status, std::string detail) {
  ProcStatus s;
  s.proc = proc.entry.proc;
  s.state = proc.state;
  s.pid = proc.child ? static_cast<uint32_t>(proc.child->pid()) : 0;
  if (status) {
    s.exited_normally = status->exited;
    s.code = status->exited ? status->code : status->signal;
    s.core_dumped = status->core_dumped;
    if (proc.terminated && detail.empty()) detail = kStoppedByMeshrun;
    s.notes = proc.notes;
  }
  s.detail = std::move(detail);
  upstream_->send(s);
}

void ProcManager::make_pmi_job(const CreateProcs& request) {
  ClusterPmiJob::Config cfg;
  const std::string job_id = env_value(request.env, "MESHRUN_JOB_ID");
  cfg.kvsname = "meshrun_kvs_" + (job_id.empty() ? std::string("0") : job_id);
  cfg.size = static_cast<int>(request.mesh_size);
  cfg.local_size = static_cast<int>(request.procs.size());
  cfg.host_rank = host_rank_;
  for (uint32_t n : layout_.ranks_per_host)
    cfg.ranks_per_host.push_back(static_cast<int>(n));
  pmi_job_ = std::make_unique<ClusterPmiJob>(
      std::move(cfg), [this](const PmiBarrierIn& in) { upstream_->send(in); },
      [this](const PmiAbortRank& a) { upstream_->send(a); },
      [this](const NameRequest& r) { upstream_->send(r); },
      [this](uint32_t rank, std::string line) {
        upstream_->send(Output{rank, 2, std::move(line)});
      });
}

// PMIx for the ranks that ask for it (Open MPI's), beside PMI-1: started
// when the agent starts in command mode, so the library's start-up overlaps
// the agent's own; a host without libpmix serves PMI-1 alone.
void ProcManager::start_pmix() {
  if (pmix_ || pmix_failed_) return;
  if (!make_ranks_dir()) return;
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  pmix_ = PmixServer::start(io_, job_dir_->path(), pmix_node_name(host, host_rank_));
  if (!pmix_) pmix_failed_ = true;
}

// Every host agent is a PMIx node of its own, named after its machine. Two
// PMIx servers cannot share a node: the data a rank keeps for its node's
// peers (Open MPI's shared-memory addresses) stays with its own server. So
// agents that share a machine are told apart (vm~0, vm~1), and their ranks
// talk as ranks of different machines do.
std::string ProcManager::pmix_node_name(const std::string& hostname, uint32_t host_rank) {
  const char* mode = std::getenv("MESHRUN_SERVE_PMIX");
  if (mode && std::string_view(mode) == "1") return hostname;
  return hostname + "~" + std::to_string(host_rank);
}

void ProcManager::serve_pmix(const CreateProcs& request) {
  start_pmix();
  if (!pmix_) return;
  const std::string job_id = env_value(request.env, "MESHRUN_JOB_ID");
  std::vector<std::string> names;
  const std::string list = env_value(request.env, "MESHRUN_HOSTNAMES");
  for (size_t start = 0; start <= list.size() && !list.empty();) {
    size_t comma = list.find(',', start);
    if (comma == std::string::npos) comma = list.size();
    names.push_back(
        pmix_node_name(list.substr(start, comma - start), static_cast<uint32_t>(names.size())));
    start = comma + 1;
  }
  const PmixNodes nodes = pmix_nodes(layout_.ranks_per_host, names);
  PmixJobInfo info;
  info.nspace = "meshrun-" + (job_id.empty() ? std::string("job") : job_id);
  info.size = request.mesh_size;
  info.node_names = nodes.names;
  info.node_ranks = nodes.ranks;
  info.my_node = host_rank_ < nodes.node_of_host.size() ? nodes.node_of_host[host_rank_] : 0;
  for (const auto& entry : request.procs)
    info.my_ranks.push_back(entry.rank);
  info.tmpdir = job_dir_->path();
  if (auto st = pmix_->register_job(info, *pmi_job_); !st) {
    log::warn("cannot serve PMIx to the ranks (" + st.error().message + "); they get PMI-1 only");
    pmix_.reset();
    pmix_failed_ = true;
    return;
  }
  // Open MPI's shared-memory segments (/dev/shm/vader_segment.*) outlive
  // ranks that are killed; in a directory of the job's they go with it.
  if (!shm_dir_)
    if (auto dir = JobDir::create(job_id + "-host" + std::to_string(host_rank_), "/dev/shm"))
      shm_dir_.emplace(std::move(*dir));
  if (shm_dir_)
    job_env_.pmix_defaults.emplace_back("OMPI_MCA_btl_vader_backing_directory", shm_dir_->path());
  // Agents all on this one machine: their ranks reach each other over TCP,
  // on loopback, which Open MPI leaves out unless told (there may be no
  // other interface); and one-sided windows need osc/pt2pt, the only one
  // that runs over TCP, which Debian's Open MPI leaves out.
  const char* mode = std::getenv("MESHRUN_SERVE_PMIX");
  if (mode && std::string_view(mode) == "local") {
    if (!env_has(host_env_, "OMPI_MCA_btl_tcp_if_include") &&
        !env_has(host_env_, "OMPI_MCA_btl_tcp_if_exclude"))
      job_env_.pmix_defaults.emplace_back("OMPI_MCA_btl_tcp_if_include", "lo");
    job_env_.pmix_defaults.emplace_back("OMPI_MCA_osc", "sm,rdma,pt2pt");
  }
  // More ranks than CPUs: Open MPI's ranks must yield when they wait (as
  // mpirun tells them), or their busy polling starves the rank they wait for.
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  if (::sched_getaffinity(0, sizeof cpus, &cpus) == 0 &&
      request.procs.size() > static_cast<size_t>(CPU_COUNT(&cpus)))
    job_env_.pmix_defaults.emplace_back("OMPI_MCA_mpi_oversubscribe", "1");
}

// What every rank of this host shares, computed once per CreateProcs.
void ProcManager::prepare_environment(const CreateProcs& request) {
  // An uneven layout (-N 2 -n 5) comes with every host's count.
  layout_ = request.ranks_per_host.empty()
                ? JobLayout::blocks(request.mesh_size, request.local_size)
                : JobLayout{request.ranks_per_host};
  job_env_ = JobEnvironment{};
  for (char** e = environ; e && *e; ++e)
    job_env_.inherited.emplace_back(*e);
  job_env_.job = request.env;
  job_env_.size = request.mesh_size;
  job_env_.local_size = request.local_size;
  job_env_.host_rank = host_rank_;
  job_env_.num_hosts = layout_.num_hosts();
  job_env_.command = !request.command.empty();
  job_env_.under_slurm = std::getenv("SLURM_JOB_ID") != nullptr;
  job_env_.control_fd = kControlFd;
  job_env_.pmi_fd = kPmiFd;
  host_env_ = host_environment(job_env_);
  if (job_env_.command) {
    make_ranks_dir();
    command_mpi_ = command_mpi(request.command, env_value(host_env_, "PATH"), request.cwd);
  }
}

// A rank of an interpreter (python3 with mpi4py) shows what it loaded only
// while it runs: look once, when it first writes, unless it spoke PMI.
void ProcManager::look_for_mpi(Proc& proc) {
  if (!command_mpi_.may_load || job_env_.size < 2 || !proc.mpi_mapped.empty() || !proc.child)
    return;
  if (proc.pmi && proc.pmi->session().state() != PmiSessionState::fresh) return;
  if (pmi_job_ && pmi_job_->spoke_pmix(proc.entry.rank)) return;
  proc.mpi_mapped = mpi_library_mapped(proc.child->pid());
  if (proc.mpi_mapped.empty()) proc.mpi_mapped = "-";  // looked: none
}

// Never a silent singleton: a rank of a job of several that used an MPI
// library without ever speaking to PMI-1 or PMIx ran as an MPI job of its own.
void ProcManager::note_silent_mpi(Proc& proc) {
  if (job_env_.size < 2 || proc.terminated) return;
  if (proc.pmi && proc.pmi->session().state() != PmiSessionState::fresh) return;
  if (pmi_job_ && pmi_job_->spoke_pmix(proc.entry.rank)) return;
  const std::string lib =
      !proc.mpi_mapped.empty() && proc.mpi_mapped != "-" ? proc.mpi_mapped : command_mpi_.linked;
  if (!lib.empty()) proc.notes.push_back(rank_note::make(rank_note::kMpiUnused, lib));
}

bool ProcManager::make_ranks_dir() {
  if (job_dir_) return true;
  if (ranks_dir_failed_) return false;
  auto dir = ranks_dir(host_rank_);
  if (!dir) {
    ranks_dir_failed_ = true;
    log::warn(dir.error().message + "; ranks get no TORCHELASTIC_ERROR_FILE and no PMIx");
    return false;
  }
  job_dir_.emplace(std::move(*dir));
  return true;
}

// Where the ranks' own files go on this host (TORCHELASTIC_ERROR_FILE, the
// PMIx server's): inside the launcher's job directory when this agent runs
// beside the launcher (it dials back over a unix socket there), so they go
// with it whatever ends the agent; else a job directory of the agent's own.
Result<JobDir> ProcManager::ranks_dir(uint32_t host_rank) {
  const char* bootstrap = std::getenv("MESHRUN_BOOTSTRAP_ADDR");
  std::string_view first = bootstrap ? bootstrap : "";
  first = first.substr(0, first.find(','));
  if (auto addr = Address::parse(first); addr && addr->kind == Address::Kind::unix_socket) {
    const auto slash = addr->path.rfind('/');
    if (slash != std::string::npos && slash > 0)
      if (auto dir =
              JobDir::create_under(addr->path.substr(0, slash), "host" + std::to_string(host_rank)))
        return dir;
  }
  return JobDir::create("host" + std::to_string(host_rank));
}

// Threads that make processes. spawn_process waits until its vfork child has
// exec'd; with several spawners those waits overlap, and a large local job
// starts several times faster on a few cores. The threads never exit: a
// child's PR_SET_PDEATHSIG fires when the *thread* that made it ends.
class SpawnerPool {
 public:
  explicit SpawnerPool(unsigned threads) : state_(std::make_shared<State>()) {
    // Each thread takes its low descriptors before this returns, while the
    // agent's table is still short (spawn_process is cheapest then).
    std::latch ready(threads);
    for (unsigned i = 0; i < threads; ++i)
      std::thread([s = state_, &ready] {
        prepare_spawning_thread();
        ready.count_down();
        s->run();
      }).detach();
    ready.wait();
  }
  void submit(std::function<void()> job) {
    {
      std::lock_guard lock(state_->mu);
      state_->jobs.push_back(std::move(job));
    }
    state_->cv.notify_one();
  }

 private:
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::function<void()>> jobs;
    void run() {
      for (;;) {
        std::function<void()> job;
        {
          std::unique_lock lock(mu);
          cv.wait(lock, [this] { return !jobs.empty(); });
          job = std::move(jobs.front());
          jobs.pop_front();
        }
        job();
      }
    }
  };
  std::shared_ptr<State> state_;
};

// One spawn in flight: prepared on the event loop, run on a spawner thread,
// finished on the event loop again.
struct ProcManager::Launch {
  std::shared_ptr<Proc> proc;
  SpawnOptions opt;
  Fd out_r, out_w, err_r, err_w, ctl_parent, ctl_child, in_r, pmi_child;
  bool actor_proc = false;
  bool raw = false;
  std::optional<Result<Spawned>> spawned;
  SpawnError why;
};

void ProcManager::create(const CreateProcs& request) {
  // Refused before any of them starts, rather than failing at the rank that
  // runs out of descriptors.
  if (auto fds = check_fd_limit(procs_.size() + request.procs.size(), 0); !fds) {
    for (const auto& entry : request.procs) {
      ProcStatus s;
      s.proc = entry.proc;
      s.state = ProcState::failed;
      s.detail = fds.error().message;
      upstream_->send(s);
    }
    return;
  }
  if (!request.command.empty() && pmix_ && !pmix_->started()) {
    // The PMIx server is still starting: the ranks start once it has, and
    // the loop serves the launcher (heartbeats, signals) meanwhile.
    deferred_ = request;
    pmix_->when_started([this] {
      if (!deferred_) return;
      CreateProcs r = std::move(*deferred_);
      deferred_.reset();
      create(r);
    });
    return;
  }
  if (!spawners_) spawners_ = std::make_shared<SpawnerPool>(kSpawnerThreads);
  prepare_environment(request);
  if (!request.command.empty() && !pmi_job_) {
    make_pmi_job(request);
    if (std::getenv("MESHRUN_SERVE_PMIX")) serve_pmix(request);
  }
  batch_start_ = std::chrono::steady_clock::now();
  batch_size_ = 0;
  for (const auto& entry : request.procs) {
    auto it = procs_.find(entry.proc);
    if (it != procs_.end()) {
      report(*it->second);  // create-or-update: it exists, say how it is
      continue;
    }
    spawn_one(request, entry);
  }
}

void ProcManager::spawn_one(const CreateProcs& request, const ProcEntry& entry) {
  auto proc = std::make_shared<Proc>();
  proc->entry = entry;
  proc->mesh = request.mesh;
  procs_[entry.proc] = proc;
  auto launch = std::make_shared<Launch>();
  launch->proc = proc;
  launch->actor_proc = request.command.empty();
  launch->raw = request.raw_output;
  const bool actor_proc = launch->actor_proc;
  auto fail = [&](const std::string& why) {
    proc->state = ProcState::failed;
    report(*proc, nullptr, why);
  };

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0)
    return fail(std::string("cannot make pipes: ") + std::strerror(errno));
  launch->out_r = Fd(out_pipe[0]);
  launch->out_w = Fd(out_pipe[1]);
  if (::pipe2(err_pipe, O_CLOEXEC) != 0)
    return fail(std::string("cannot make pipes: ") + std::strerror(errno));
  launch->err_r = Fd(err_pipe[0]);
  launch->err_w = Fd(err_pipe[1]);
  const auto stdin_mode = static_cast<StdinMode>(request.stdin_mode);
  const bool gets_stdin = !actor_proc && (stdin_mode == StdinMode::all ||
                                          (stdin_mode == StdinMode::rank0 && entry.rank == 0));
  if (gets_stdin) {
    int in_pipe[2];
    if (::pipe2(in_pipe, O_CLOEXEC) != 0)
      return fail(std::string("cannot make pipes: ") + std::strerror(errno));
    launch->in_r = Fd(in_pipe[0]);
    // Input may arrive before the spawn finishes: it waits in the pipe.
    proc->stdin_pipe = std::make_unique<asio::posix::stream_descriptor>(io_, in_pipe[1]);
    asio::error_code ignored;
    proc->stdin_pipe->non_blocking(true, ignored);
  }
  if (actor_proc) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
      return fail(std::string("cannot make a socketpair: ") + std::strerror(errno));
    launch->ctl_parent = Fd(sv[0]);
    launch->ctl_child = Fd(sv[1]);
  } else {
    auto pair = make_pmi_socketpair(io_);
    if (!pair) return fail(pair.error().message);
    launch->pmi_child = Fd(pair->child_fd);
    proc->pmi = std::make_unique<PmiConnection>(std::move(pair->server), *pmi_job_,
                                                static_cast<int>(entry.rank));
  }

  SpawnOptions& opt = launch->opt;
  RankSite site;
  site.rank = entry.rank;
  site.local_rank = entry.local_rank;
  site.proc_name = entry.name;
  site.proc = entry.proc;
  if (!actor_proc && job_dir_) site.error_file = torch_error_file(job_dir_->path(), entry.rank);
  if (!actor_proc && pmix_) {
    if (auto env = pmix_->rank_environment(entry.rank))
      site.pmix = std::move(*env);
    else
      log::warn("rank " + std::to_string(entry.rank) + " gets no PMIx: " + env.error().message);
  }
  opt.env = rank_environment(host_env_, job_env_, site);
  if (actor_proc) {
    opt.program = agent_path_;
    opt.argv = {agent_path_, "proc"};
    opt.fds.emplace_back(kControlFd, launch->ctl_child.fd);
  } else {
    opt.program = request.command.front();
    opt.argv = request.command;
    opt.fds.emplace_back(kPmiFd, launch->pmi_child.fd);
    opt.stdin_fd = launch->in_r.fd;
  }
  opt.cwd = request.cwd;
  opt.cpus = bound_cpus(request.env, entry.local_rank);  // --bind-to
  opt.stdout_fd = launch->out_w.fd;
  opt.stderr_fd = launch->err_w.fd;
  opt.new_process_group = true;
  opt.die_with_parent = true;
  opt.cgroup_procs_fd = proc_tracker::spawn_cgroup_fd();

  ++spawning_;
  ++batch_size_;
  {
    std::lock_guard lock(sink_->mu);
    ++sink_->in_flight;
  }
  spawners_->submit([sink = sink_, launch]() mutable {
    launch->spawned.emplace(spawn_process(launch->opt, &launch->why));
    std::lock_guard lock(sink->mu);
    // The launch (its proc's sockets and descriptors) is moved to the event
    // loop: released here, on this thread, it would race with the loop.
    if (sink->owner)
      asio::post(sink->owner->io_, [sink, launch = std::move(launch)] {
        if (sink->owner) sink->owner->finish_spawn(*launch);
      });
    else  // the agent gave up waiting for us and is exiting: leave it to exit
      new std::shared_ptr<Launch>(std::move(launch));
    --sink->in_flight;
    sink->done.notify_all();
  });
}

void ProcManager::finish_spawn(Launch& launch) {
  --spawning_;
  auto proc = launch.proc;
  auto& spawned = *launch.spawned;
  if (!spawned) {
    proc->state = ProcState::failed;
    if (proc->pmi) proc->pmi->close();
    if (proc->stdin_pipe) {
      asio::error_code ignored;
      proc->stdin_pipe->close(ignored);
    }
    ProcStatus s;
    s.proc = proc->entry.proc;
    s.state = ProcState::failed;
    s.spawn_failure = static_cast<uint8_t>(launch.why.kind);
    s.detail = spawned.error().message;
    upstream_->send(s);
    if (events_.on_gone) events_.on_gone(proc->entry.proc, proc->entry.name + " failed to start");
  } else {
    Spawned sp = *spawned;
    if (sp.pidfd >= 0) {
      int exit_fd = ::fcntl(sp.pidfd, F_DUPFD_CLOEXEC, 0);
      if (exit_fd >= 0)
        proc->exit_fd = std::make_unique<asio::posix::stream_descriptor>(io_, exit_fd);
    }
    proc->child = std::make_unique<Child>(io_, sp);
    // Only the child keeps these ends now, so its exit shows as end of file.
    launch.out_w.reset();
    launch.err_w.reset();
    launch.ctl_child.reset();
    launch.pmi_child.reset();
    launch.in_r.reset();

    proc->open_streams = 2;
    asio::co_spawn(io_, pump_output(proc, launch.out_r.release(), 1, launch.raw), asio::detached);
    asio::co_spawn(io_, pump_output(proc, launch.err_r.release(), 2, launch.raw), asio::detached);
    if (launch.actor_proc) {
      proc->conn = Connection::adopt_fd(io_, launch.ctl_parent.release(), proc->entry.name);
      asio::co_spawn(io_, serve_proc(proc), asio::detached);
      report(*proc);  // starting; running comes from the proc itself
    } else {
      proc->state = ProcState::running;  // exec succeeded: the command is running
      report(*proc);
      asio::co_spawn(io_, serve_pmi(proc), asio::detached);
    }
    asio::co_spawn(io_, watch(proc), asio::detached);
    // Asked to stop while it was being made.
    if (proc->pending_signal) proc->child->signal_group(proc->pending_signal);
  }
  if (spawning_ == 0 && batch_size_ > 0) {
    log::verbose("spawned " + std::to_string(batch_size_) + " procs in " +
                 format_duration(std::chrono::steady_clock::now() - batch_start_));
    batch_size_ = 0;
  }
  changed_.notify();
}

asio::awaitable<void> ProcManager::pump_output(std::shared_ptr<Proc> proc, int fd, uint8_t stream,
                                               bool raw) {
  asio::posix::stream_descriptor pipe(io_, fd);
  asio::error_code ignored;
  pipe.non_blocking(true, ignored);
  Output out;  // raw mode
  out.proc = proc->entry.proc;
  out.stream = stream;
  std::shared_ptr<OutputStream> lines;
  if (!raw)
    lines = OutputStream::create(io_, proc->entry.proc, stream, job_env_.size > 1,
                                 [this](const Output& o) { upstream_->send(o); });
  // Wait first, then read into the one scratch buffer all pipes share: an
  // idle rank's two pipes then cost no buffer of their own.
  if (output_scratch_.empty()) output_scratch_.resize(kReadChunk);
  for (;;) {
    if (upstream_->queued_bytes() > kOutputHighWater) co_await upstream_->flush();
    auto [wait_ec] = co_await pipe.async_wait(asio::posix::descriptor_base::wait_read, kTuple);
    if (wait_ec) break;
    asio::error_code ec;
    const size_t n = pipe.read_some(asio::buffer(output_scratch_), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) continue;
    if (ec) break;
    const std::string_view got(output_scratch_.data(), n);
    if (proc->mpi_mapped.empty()) look_for_mpi(*proc);
    if (lines) {
      lines->feed(got);
      continue;
    }
    out.data.assign(got);
    upstream_->send(out);
  }
  if (lines) lines->finish();
  --proc->open_streams;
  changed_.notify();
}

// A proc runs plugin code, so what it writes on its socket is not trusted:
// only the types a proc may send pass, each stamped with the proc this
// socket belongs to, whatever it claims. The rest is dropped and logged.
asio::awaitable<void> ProcManager::serve_proc(std::shared_ptr<Proc> proc) {
  const uint32_t id = proc->entry.proc;
  const Endpoint self{host_rank_, id, 0, 0};
  uint64_t refused = 0;
  auto refuse = [&](std::string_view what) {
    if (++refused > 3 && (refused & (refused - 1)) != 0) return;  // 1, 2, 3, then powers of 2
    log::warn(proc->entry.name + " (proc " + std::to_string(id) + ") sent " + std::string(what) +
              ", which a proc may not send; dropped (" + std::to_string(refused) + " so far)");
  };
  for (;;) {
    auto frame = co_await proc->conn->read();
    if (!frame) break;
    auto type = peek_type(*frame);
    if (!type) break;
    switch (*type) {
      case MsgType::heartbeat:
        break;
      case MsgType::proc_status:
        // Only "I am running": every other state the agent sees for itself.
        if (proc->state == ProcState::starting) {
          proc->state = ProcState::running;
          report(*proc);
        }
        break;
      case MsgType::actor_status: {
        auto msg = decode(*frame);
        if (!msg) {
          refuse("a malformed ActorStatus");
          break;
        }
        auto& st = std::get<ActorStatus>(*msg);
        st.proc = id;
        if (events_.on_frame) events_.on_frame(id, encode(st));
        break;
      }
      case MsgType::actor_cast: {
        auto head = peek_cast_head(*frame);
        if (!head) {
          refuse("a malformed ActorCast");
          break;
        }
        patch_cast_from(*frame, {self.host, self.proc, head->from.mesh, head->from.rank});
        if (events_.on_frame) events_.on_frame(id, std::move(*frame));
        if (events_.behind && events_.behind() && events_.hold_back) co_await events_.hold_back();
        break;
      }
      case MsgType::port_reply: {
        auto head = peek_reply_head(*frame);
        if (!head || head->kind == ReplyKind::partial) {
          refuse("a malformed or partial PortReply");
          break;
        }
        patch_reply_from(*frame, {self.host, self.proc, head->from.mesh, head->from.rank});
        if (events_.on_frame) events_.on_frame(id, std::move(*frame));
        break;
      }
      case MsgType::undeliverable:
        if (events_.on_frame) events_.on_frame(id, std::move(*frame));
        break;
      default:
        refuse(std::string(type_name(*type)));
    }
  }
}

asio::awaitable<void> ProcManager::watch(std::shared_ptr<Proc> proc) {
  while (proc->exit_fd && !proc->child->reaped()) {
    auto [ec] =
        co_await proc->exit_fd->async_wait(asio::posix::stream_descriptor::wait_read, kTuple);
    if (ec || proc->child->reaped()) break;
    // The wake-up is only a hint (a reused reactor slot can deliver a stale
    // one): look without reaping.
    siginfo_t info{};
    const pid_t pid = proc->child->pid();
    if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) break;
    if (info.si_pid != pid) continue;
    // What the rank left running in its group is a stray once it is gone
    // (srun ends a step's processes the same way). Until the leader is
    // reaped its zombie holds the group id, so no other group can be hit.
    ::kill(-pid, SIGKILL);
    break;
  }
  if (proc->exit_fd) {
    asio::error_code ignored;
    proc->exit_fd->close(ignored);
  }
  ExitStatus st = co_await proc->child->wait();
  if (!st.success() && !proc->terminated && job_dir_)
    proc->notes = torch_error_notes(torch_error_file(job_dir_->path(), proc->entry.rank));
  note_silent_mpi(*proc);
  // Let the output that was written before the exit reach the launcher first.
  co_await changed_.wait_until([&] { return proc->open_streams == 0; },
                               std::chrono::steady_clock::now() + kDrainAfterExit);
  if (proc->conn) proc->conn->close();
  if (proc->pmi) proc->pmi->close();
  if (pmi_job_) pmi_job_->rank_gone(static_cast<int>(proc->entry.rank));
  if (proc->stdin_pipe) {
    asio::error_code ignored;
    proc->stdin_pipe->close(ignored);
  }
  proc->stdin_queue.clear();
  proc->state = ProcState::exited;
  report(*proc, &st);
  if (events_.on_gone)
    events_.on_gone(proc->entry.proc, proc->entry.name + " exited (" + st.describe() + ")");
  changed_.notify();
}

bool ProcManager::send_to(uint32_t proc, std::string_view payload) {
  auto it = procs_.find(proc);
  if (it == procs_.end() || !it->second->conn || !it->second->conn->is_open()) return false;
  it->second->conn->send_payload(payload);
  return true;
}

bool ProcManager::send_to(uint32_t proc, std::string&& payload) {
  auto it = procs_.find(proc);
  if (it == procs_.end() || !it->second->conn || !it->second->conn->is_open()) return false;
  it->second->conn->send_payload(std::move(payload));
  return true;
}

bool ProcManager::has_live_proc(uint32_t proc) const {
  auto it = procs_.find(proc);
  return it != procs_.end() && it->second->conn && it->second->conn->is_open();
}

size_t ProcManager::max_queued() const {
  size_t most = 0;
  for (const auto& [rank, p] : procs_)
    if (p->conn) most = std::max(most, p->conn->queued_bytes());
  return most;
}

asio::awaitable<bool> ProcManager::wait_queued_below(
    size_t bytes, std::chrono::steady_clock::time_point deadline) {
  // Copies: a proc may go away while we wait.
  std::vector<ConnectionPtr> conns;
  for (const auto& [rank, p] : procs_)
    if (p->conn && p->conn->queued_bytes() > bytes) conns.push_back(p->conn);
  for (auto& c : conns)
    if (c->is_open() && !co_await c->wait_queued_below(bytes, deadline)) co_return !c->is_open();
  co_return true;
}

// Ranks that were to start once the PMIx server had are stopped before they
// ever start: reported as ended by meshrun.
void ProcManager::drop_deferred() {
  if (!deferred_) return;
  for (const auto& entry : deferred_->procs) {
    ProcStatus s;
    s.proc = entry.proc;
    s.state = ProcState::exited;
    s.code = SIGKILL;
    s.detail = std::string(kStoppedByMeshrun);
    upstream_->send(s);
  }
  deferred_.reset();
}

void ProcManager::signal_all(int sig) {
  if (sig == SIGTERM || sig == SIGKILL || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT)
    drop_deferred();
  signal_where([](const Proc&) { return true; }, sig);
}

void ProcManager::signal_where(const std::function<bool(const Proc&)>& which, int sig,
                               bool by_meshrun) {
  // The launcher sends SIGINT, SIGHUP or SIGQUIT only to end the job
  // (--signal-forward); they end it like SIGTERM.
  const bool ending =
      sig == SIGTERM || sig == SIGKILL || sig == SIGINT || sig == SIGHUP || sig == SIGQUIT;
  for (const auto& [rank, p] : procs_) {
    if (!which(*p)) continue;
    if (!p->child) {
      if (ending && p->state == ProcState::starting) {
        if (!by_meshrun) p->ended_from_outside = true;
        if (!p->ended_from_outside) p->terminated = true;
        p->pending_signal = sig;  // sent once its spawn completes
      }
      continue;
    }
    // A proc that already exited on its own keeps its own status.
    if (ending && p->child->try_reap()) continue;
    if (p->child->reaped()) continue;
    if (ending && !by_meshrun) p->ended_from_outside = true;
    if (ending && by_meshrun && !p->ended_from_outside) p->terminated = true;
    p->child->signal_group(sig);
    // A stopped (SIGTSTP) rank would not act on SIGTERM until continued.
    if (ending && sig != SIGKILL) p->child->signal_group(SIGCONT);
  }
}

bool ProcManager::handle(const Message& msg) {
  if (const auto* in = std::get_if<Input>(&msg)) {
    input(*in);
  } else if (const auto* out = std::get_if<PmiBarrierOut>(&msg)) {
    if (pmi_job_) pmi_job_->barrier_out(*out);
  } else if (const auto* name = std::get_if<NameReply>(&msg)) {
    if (pmi_job_) pmi_job_->name_reply(*name);
  } else if (std::holds_alternative<ReservePort>(msg)) {
    upstream_->send(PortReserved{host_rank_, free_tcp_port()});
  } else {
    return false;
  }
  return true;
}

void ProcManager::input(const Input& in) {
  auto it = procs_.find(in.proc);
  if (it == procs_.end()) return;
  auto& p = it->second;
  if (!p->stdin_pipe || p->stdin_eof) return;
  if (in.data.empty()) {
    p->stdin_eof = true;
  } else {
    p->stdin_queue.push_back(in.data);
  }
  if (!p->stdin_writing) {
    p->stdin_writing = true;
    asio::co_spawn(io_, write_stdin(p), asio::detached);
  }
}

asio::awaitable<void> ProcManager::write_stdin(std::shared_ptr<Proc> proc) {
  while (proc->stdin_pipe && proc->stdin_pipe->is_open()) {
    if (proc->stdin_queue.empty()) {
      if (proc->stdin_eof) {
        asio::error_code ignored;
        proc->stdin_pipe->close(ignored);  // the rank sees end of file
      }
      break;
    }
    std::string data = std::move(proc->stdin_queue.front());
    proc->stdin_queue.pop_front();
    auto [ec, n] = co_await asio::async_write(*proc->stdin_pipe, asio::buffer(data), kTuple);
    (void)n;
    if (ec) {
      // The rank closed its stdin or exited: the rest has no reader.
      proc->stdin_queue.clear();
      proc->stdin_eof = true;
      asio::error_code ignored;
      proc->stdin_pipe->close(ignored);
      break;
    }
  }
  proc->stdin_writing = false;
}

asio::awaitable<void> ProcManager::serve_pmi(std::shared_ptr<Proc> proc) {
  auto end = co_await proc->pmi->run();
  if (!end && end.error().code == Errc::protocol)
    log::warn("rank " + std::to_string(proc->entry.rank) +
              " broke the PMI protocol: " + end.error().message);
}

asio::awaitable<void> ProcManager::end_by_signal(int sig, Millis grace) {
  drop_deferred();
  signal_where([](const Proc&) { return true; }, sig, false);
  co_await changed_.wait_until([this] { return live() == 0; },
                               std::chrono::steady_clock::now() + grace);
  co_await stop_all(grace);
}

asio::awaitable<void> ProcManager::stop_all(Millis grace) {
  drop_deferred();
  co_await stop_where([](const Proc&) { return true; }, grace);
  // What the ranks started outside their process groups (daemons, setsid).
  co_await proc_tracker::sweep(io_, Millis(5000));
}

asio::awaitable<void> ProcManager::stop_mesh(std::string mesh, Millis grace) {
  co_await stop_where([mesh](const Proc& p) { return p.mesh == mesh; }, grace);
}

asio::awaitable<void> ProcManager::stop_where(std::function<bool(const Proc&)> which,
                                              Millis grace) {
  using Clock = std::chrono::steady_clock;
  auto all_reaped = [this, &which] {
    if (spawning_ > 0) return false;
    for (const auto& [id, p] : procs_)
      if (which(*p) && p->child && !p->child->reaped()) return false;
    return true;
  };
  auto signal = [&](int sig) { signal_where(which, sig); };
  bool asked = false;
  StopProcs stop;
  stop.grace_ms = static_cast<uint32_t>(grace.count());
  for (const auto& [rank, p] : procs_) {
    if (!which(*p)) continue;
    if (p->child && !p->child->try_reap()) {
      p->state = ProcState::stopping;
      if (!p->ended_from_outside) p->terminated = true;
    } else if (!p->child && p->state == ProcState::starting) {
      p->terminated = true;
      p->pending_signal = SIGTERM;
    }
    if (p->conn && p->conn->is_open()) {
      p->conn->send(stop);
      asked = true;
    }
  }
  if (asked && !co_await changed_.wait_until(all_reaped, Clock::now() + grace)) {
    log::verbose("procs did not stop when asked; sending SIGTERM");
  }
  if (!all_reaped()) {
    signal(SIGTERM);
    if (!co_await changed_.wait_until(all_reaped, Clock::now() + grace)) {
      log::verbose("procs did not stop after SIGTERM; sending SIGKILL");
      signal(SIGKILL);
      co_await changed_.wait_until(all_reaped, Clock::now() + Millis(5000));
    }
  }
}

}  // namespace meshrun
