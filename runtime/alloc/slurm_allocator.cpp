#include "alloc/slurm_allocator.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdlib>
#include <cstring>

#include "alloc/hostlist.hpp"
#include "auth/tls.hpp"
#include "process/line_splitter.hpp"
#include "process/spawn.hpp"
#include "util/log.hpp"

extern char** environ;

namespace meshrun {
namespace {

constexpr size_t kTailLines = 12;
// srun may leave grandchildren holding its stderr; do not wait for them long.
constexpr Millis kStderrDrain{1000};

std::string env_text(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool starts_with(const std::string& s, const char* prefix) {
  return s.rfind(prefix, 0) == 0;
}

}  // namespace

bool in_slurm_allocation() {
  return !env_text("SLURM_JOB_ID").empty() && !env_text("SLURM_JOB_NODELIST").empty();
}

Result<SlurmAllocation> read_slurm_allocation() {
  SlurmAllocation a;
  a.job_id = env_text("SLURM_JOB_ID");
  a.nodelist = env_text("SLURM_JOB_NODELIST");
  if (a.job_id.empty() || a.nodelist.empty())
    return make_error(Errc::invalid_argument,
                      "not inside a SLURM allocation (SLURM_JOB_ID and SLURM_JOB_NODELIST are "
                      "not set): run meshrun from an sbatch script or under salloc");
  auto nodes = expand_hostlist(a.nodelist);
  if (!nodes)
    return make_error(Errc::invalid_argument,
                      "SLURM_JOB_NODELIST=" + a.nodelist + ": " + nodes.error().message);
  a.nodes = std::move(*nodes);
  if (a.nodes.empty()) return make_error(Errc::invalid_argument, "SLURM_JOB_NODELIST is empty");

  const std::string ntasks = env_text("SLURM_NTASKS");
  uint32_t nt = 0;
  if (!ntasks.empty()) {
    char* end = nullptr;
    const unsigned long v = std::strtoul(ntasks.c_str(), &end, 10);
    if (*end != '\0' || v == 0 || v > (1u << 24))
      return make_error(Errc::invalid_argument, "SLURM_NTASKS=" + ntasks + " is not a count");
    nt = static_cast<uint32_t>(v);
  }

  a.tasks_per_node_text = env_text("SLURM_TASKS_PER_NODE");
  if (!a.tasks_per_node_text.empty()) {
    auto tasks = expand_tasks_per_node(a.tasks_per_node_text);
    if (!tasks)
      return make_error(Errc::invalid_argument, "SLURM_TASKS_PER_NODE=" + a.tasks_per_node_text +
                                                    ": " + tasks.error().message);
    if (tasks->size() != a.nodes.size())
      return make_error(Errc::invalid_argument, "SLURM_TASKS_PER_NODE=" + a.tasks_per_node_text +
                                                    " describes " + std::to_string(tasks->size()) +
                                                    " nodes but SLURM_JOB_NODELIST=" + a.nodelist +
                                                    " has " + std::to_string(a.nodes.size()));
    a.tasks = std::move(*tasks);
  } else {
    // Without it, spread SLURM_NTASKS as SLURM's block distribution would.
    const uint32_t n = static_cast<uint32_t>(a.nodes.size());
    const uint32_t total = nt ? nt : n;
    for (uint32_t i = 0; i < n; ++i)
      a.tasks.push_back(total / n + (i < total % n ? 1 : 0));
  }
  uint32_t sum = 0;
  for (auto t : a.tasks)
    sum += t;
  a.ntasks = nt ? nt : sum;
  return a;
}

SlurmAllocator::SlurmAllocator(asio::io_context& io, std::vector<std::string> nodes,
                               std::string srun)
    : io_(io), nodes_(std::move(nodes)), srun_(std::move(srun)), stderr_closed_(io.get_executor()) {
  if (srun_.empty()) srun_ = env_text("MESHRUN_SRUN");
  if (srun_.empty()) srun_ = "srun";
}

SlurmAllocator::~SlurmAllocator() {
  kill_all();
}

std::vector<std::string> SlurmAllocator::srun_argv(const std::string& agent_path) const {
  std::string nodelist;
  for (const auto& n : nodes_)
    nodelist += (nodelist.empty() ? "" : ",") + n;
  const std::string n = std::to_string(nodes_.size());
  return {srun_, "--nodes=" + n, "--ntasks=" + n, "--ntasks-per-node=1", "--nodelist=" + nodelist,
          "--kill-on-bad-exit=1", "--cpu-bind=none",
          // Broadcast: every agent reads the secret line from srun's stdin.
          "--input=all",
          // An sbatch --export=NONE must not hide MESHRUN_BOOTSTRAP_ADDR.
          "--export=ALL",
          // The agents are not MPI tasks: no PMI/PMIx setup for them.
          "--mpi=none",
          // Ranks that run their own srun steps may share the nodes.
          "--overlap", "--job-name=meshrun-agents", agent_path, "bootstrap"};
}

Status SlurmAllocator::start(const AgentLaunch& launch) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e) {
    // The agent takes its host index from SLURM_PROCID unless this is set.
    if (starts_with(*e, "MESHRUN_HOST_INDEX=") || starts_with(*e, "MESHRUN_BOOTSTRAP_ADDR="))
      continue;
    env.emplace_back(*e);
  }
  env.insert(env.end(), launch.env.begin(), launch.env.end());
  env.push_back("MESHRUN_BOOTSTRAP_ADDR=" + launch.bootstrap_addresses);

  int in[2], err[2];
  if (::pipe2(in, O_CLOEXEC) != 0)
    return make_error(Errc::spawn, std::string("cannot make a pipe: ") + std::strerror(errno));
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(in[0]);
    ::close(in[1]);
    return make_error(Errc::spawn, std::string("cannot make a pipe: ") + std::strerror(errno));
  }
  SpawnOptions opt;
  opt.program = srun_;
  opt.argv = srun_argv(launch.agent_path);
  opt.env = std::move(env);
  opt.stdin_fd = in[0];
  opt.stderr_fd = err[1];
  // Its own group: a Ctrl-C at the terminal goes to meshrun, which stops the
  // job in order, not to srun, which would kill the agents at once.
  opt.new_process_group = true;
  // Not die_with_parent: the step ends by itself once the agents lose us.
  opt.die_with_parent = false;
  SpawnError why;
  auto spawned = spawn_process(opt, &why);
  ::close(in[0]);
  ::close(err[1]);
  if (!spawned) {
    ::close(in[1]);
    ::close(err[0]);
    std::string msg = "cannot run " + srun_ + ": " + spawned.error().message;
    if (why.kind == SpawnFailure::not_found)
      msg += " (the slurm launcher needs SLURM's srun in PATH; set MESHRUN_SRUN to its path)";
    return make_error(Errc::spawn, msg);
  }
  const std::string secret_line = encode_agent_stdin(launch.secret_hex, launch.tls_bundle);
  // A few KiB always fit in an empty pipe: this write cannot block.
  [[maybe_unused]] auto n = ::write(in[1], secret_line.data(), secret_line.size());
  ::close(in[1]);
  child_ = std::make_unique<Child>(io_, *spawned);
  stderr_open_ = true;
  asio::co_spawn(io_, read_stderr(err[0]), asio::detached);
  asio::co_spawn(io_, watch(), asio::detached);
  log::verbose("started the agents with " + srun_ + " on " + std::to_string(nodes_.size()) +
               " node(s)");
  return {};
}

void SlurmAllocator::keep(std::string line) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
    line.pop_back();
  if (line.empty()) return;
  // srun's own chatter matters when the step fails, and then it is in the
  // failure message; the agents' lines are shown as a local agent's would be.
  if (starts_with(line, "srun: "))
    log::verbose(line);
  else
    log::relay(line);
  tail_.push_back(std::move(line));
  if (tail_.size() > kTailLines) tail_.pop_front();
}

asio::awaitable<void> SlurmAllocator::read_stderr(int fd) {
  asio::posix::stream_descriptor pipe(io_, fd);
  LineSplitter lines(64 * 1024);
  std::string buf(4096, '\0');
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buf),
                                                 asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) break;
    std::string whole = lines.feed(std::string_view(buf.data(), n));
    size_t start = 0;
    while (start < whole.size()) {
      auto nl = whole.find('\n', start);
      if (nl == std::string::npos) nl = whole.size();
      keep(whole.substr(start, nl - start));
      start = nl + 1;
    }
  }
  keep(lines.finish());
  stderr_open_ = false;
  stderr_closed_.notify();
}

asio::awaitable<void> SlurmAllocator::watch() {
  auto status = co_await child_->wait();
  // The failure message needs srun's last words, which may still be in the pipe.
  co_await stderr_closed_.wait_until([this] { return !stderr_open_; },
                                     std::chrono::steady_clock::now() + kStderrDrain);
  exit_ = status;
  if (!status.success())
    log::verbose("the srun step of the agents ended (" + status.describe() + ")");
  changed();
}

std::optional<std::string> SlurmAllocator::failure(size_t /*index*/) const {
  if (!exit_) return std::nullopt;
  std::string why = "the srun step of the agents ended (" + exit_->describe() + ")";
  if (!tail_.empty()) {
    why += "; srun's stderr ended with:";
    for (const auto& l : tail_)
      why += "\n  " + l;
  }
  return why;
}

void SlurmAllocator::kill_all() {
  // The agents then lose the launcher connection and stop their procs;
  // --kill-on-bad-exit ends the rest of the step.
  if (child_ && !child_->reaped()) child_->signal_group(SIGKILL);
}

asio::awaitable<void> SlurmAllocator::reap(Millis deadline) {
  if (!child_) co_return;
  Notifier done(io_.get_executor());
  auto previous = changed_;
  on_change([&] {
    done.notify();
    if (previous) previous();
  });
  auto gone = [&] { return exit_.has_value(); };
  if (!co_await done.wait_until(gone, std::chrono::steady_clock::now() + deadline)) {
    // srun passes SIGTERM on to the agents, which stop their procs.
    log::verbose("the srun step did not end in time; sending it SIGTERM");
    child_->signal_group(SIGTERM);
    if (!co_await done.wait_until(gone, std::chrono::steady_clock::now() + Millis(3000))) {
      kill_all();
      co_await done.wait_until(gone, std::chrono::steady_clock::now() + Millis(5000));
    }
  }
  on_change(previous);
}

}  // namespace meshrun
