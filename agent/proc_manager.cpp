#include "agent/proc_manager.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "process/line_splitter.hpp"
#include "process/spawn.hpp"
#include "util/log.hpp"

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

std::vector<std::string> current_environment() {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    env.emplace_back(*e);
  return env;
}

void set_env(std::vector<std::string>& env, const std::string& key, const std::string& value) {
  const std::string prefix = key + "=";
  for (auto& e : env)
    if (e.starts_with(prefix)) {
      e = prefix + value;
      return;
    }
  env.push_back(prefix + value);
}

}  // namespace

ProcManager::ProcManager(asio::io_context& io, ConnectionPtr upstream, std::string agent_path,
                         uint32_t host_rank)
    : io_(io),
      upstream_(std::move(upstream)),
      agent_path_(std::move(agent_path)),
      host_rank_(host_rank),
      changed_(io.get_executor()) {}

size_t ProcManager::live() const {
  size_t n = 0;
  for (const auto& [rank, p] : procs_)
    if (p->child && !p->child->reaped()) ++n;
  return n;
}

void ProcManager::report(const Proc& proc, const ExitStatus* status, std::string detail) {
  ProcStatus s;
  s.rank = proc.entry.rank;
  s.state = proc.state;
  s.pid = proc.child ? static_cast<uint32_t>(proc.child->pid()) : 0;
  if (status) {
    s.exited_normally = status->exited;
    s.code = status->exited ? status->code : status->signal;
    s.core_dumped = status->core_dumped;
  }
  s.detail = std::move(detail);
  upstream_->send(s);
}

void ProcManager::create(const CreateProcs& request) {
  for (const auto& entry : request.procs) {
    auto it = procs_.find(entry.rank);
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
  procs_[entry.rank] = proc;
  const bool actor_proc = request.command.empty();

  int out_pipe[2], err_pipe[2];
  if (::pipe2(out_pipe, O_CLOEXEC) != 0 || ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    proc->state = ProcState::failed;
    report(*proc, nullptr, std::string("cannot make pipes: ") + std::strerror(errno));
    return;
  }
  Fd out_r(out_pipe[0]), out_w(out_pipe[1]), err_r(err_pipe[0]), err_w(err_pipe[1]);
  Fd ctl_parent, ctl_child;
  if (actor_proc) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
      proc->state = ProcState::failed;
      report(*proc, nullptr, std::string("cannot make a socketpair: ") + std::strerror(errno));
      return;
    }
    ctl_parent = Fd(sv[0]);
    ctl_child = Fd(sv[1]);
  }

  SpawnOptions opt;
  opt.env = current_environment();
  for (const auto& kv : request.env) {
    auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    set_env(opt.env, kv.substr(0, eq), kv.substr(eq + 1));
  }
  const auto rank = std::to_string(entry.rank);
  set_env(opt.env, "MESHRUN_RANK", rank);
  set_env(opt.env, "MESHRUN_SIZE", std::to_string(request.mesh_size));
  set_env(opt.env, "MESHRUN_LOCAL_RANK", std::to_string(entry.local_rank));
  set_env(opt.env, "MESHRUN_LOCAL_SIZE", std::to_string(request.local_size));
  set_env(opt.env, "MESHRUN_HOST_RANK", std::to_string(host_rank_));
  set_env(opt.env, "MESHRUN_PROC_NAME", entry.name);
  if (actor_proc) {
    opt.program = agent_path_;
    opt.argv = {agent_path_, "proc"};
    set_env(opt.env, "MESHRUN_CONTROL_FD", "3");
    opt.fds.emplace_back(3, ctl_child.fd);
  } else {
    opt.program = request.command.front();
    opt.argv = request.command;
  }
  opt.cwd = request.cwd;
  opt.stdout_fd = out_w.fd;
  opt.stderr_fd = err_w.fd;
  opt.new_process_group = true;
  opt.die_with_parent = true;

  SpawnError why;
  auto spawned = spawn_process(opt, &why);
  if (!spawned) {
    proc->state = ProcState::failed;
    ProcStatus s;
    s.rank = entry.rank;
    s.state = ProcState::failed;
    s.spawn_failure = static_cast<uint8_t>(why.kind);
    s.detail = spawned.error().message;
    upstream_->send(s);
    return;
  }
  proc->child = std::make_unique<Child>(io_, *spawned);
  out_w.reset();
  err_w.reset();
  ctl_child.reset();

  proc->open_streams = 2;
  asio::co_spawn(io_, pump_output(proc, out_r.release(), 1, request.raw_output), asio::detached);
  asio::co_spawn(io_, pump_output(proc, err_r.release(), 2, request.raw_output), asio::detached);
  if (actor_proc) {
    proc->conn = Connection::adopt_fd(io_, ctl_parent.release(), entry.name);
    asio::co_spawn(io_, serve_proc(proc), asio::detached);
    report(*proc);  // starting; running comes from the proc itself
  } else {
    proc->state = ProcState::running;  // exec succeeded: the command is running
    report(*proc);
  }
  asio::co_spawn(io_, watch(proc), asio::detached);
}

asio::awaitable<void> ProcManager::pump_output(std::shared_ptr<Proc> proc, int fd, uint8_t stream,
                                               bool raw) {
  asio::posix::stream_descriptor pipe(io_, fd);
  asio::error_code ignored;
  pipe.non_blocking(true, ignored);
  LineSplitter lines;
  std::string buf(kReadChunk, '\0');
  Output out;
  out.rank = proc->entry.rank;
  out.stream = stream;
  for (;;) {
    if (upstream_->queued_bytes() > kOutputHighWater) co_await upstream_->flush();
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buf), kTuple);
    if (ec) break;
    if (raw) {
      out.data.assign(buf.data(), n);
    } else {
      out.data = lines.feed(std::string_view(buf.data(), n));
      if (out.data.empty()) continue;
    }
    upstream_->send(out);
  }
  if (!raw) {
    out.data = lines.finish();
    if (!out.data.empty()) upstream_->send(out);
  }
  --proc->open_streams;
  changed_.notify();
}

asio::awaitable<void> ProcManager::serve_proc(std::shared_ptr<Proc> proc) {
  for (;;) {
    auto frame = co_await proc->conn->read();
    if (!frame) break;
    auto type = peek_type(*frame);
    if (!type) break;
    if (*type == MsgType::proc_status) {
      auto msg = decode(*frame);
      if (!msg) break;
      const auto& st = std::get<ProcStatus>(*msg);
      if (st.state == ProcState::running && proc->state == ProcState::starting) {
        proc->state = ProcState::running;
        report(*proc);
      }
      continue;
    }
    // Replies, actor status: the launcher is their destination.
    upstream_->send_payload(*frame);
  }
}

asio::awaitable<void> ProcManager::watch(std::shared_ptr<Proc> proc) {
  ExitStatus st = co_await proc->child->wait();
  // Let the output that was written before the exit reach the launcher first.
  co_await changed_.wait_until([&] { return proc->open_streams == 0; },
                               std::chrono::steady_clock::now() + kDrainAfterExit);
  if (proc->conn) proc->conn->close();
  proc->state = ProcState::exited;
  report(*proc, &st);
  changed_.notify();
}

void ProcManager::forward(const std::string& payload,
                          const std::function<bool(uint32_t rank)>& pred) {
  for (const auto& [rank, p] : procs_)
    if (p->conn && p->conn->is_open() && pred(rank)) p->conn->send_payload(payload);
}

void ProcManager::signal_all(int sig) {
  for (const auto& [rank, p] : procs_)
    if (p->child && !p->child->reaped()) p->child->signal_group(sig);
}

asio::awaitable<void> ProcManager::stop_all(Millis grace) {
  using Clock = std::chrono::steady_clock;
  auto all_reaped = [this] { return live() == 0; };
  bool asked = false;
  StopProcs stop;
  stop.grace_ms = static_cast<uint32_t>(grace.count());
  for (const auto& [rank, p] : procs_) {
    if (p->child && !p->child->reaped()) p->state = ProcState::stopping;
    if (p->conn && p->conn->is_open()) {
      p->conn->send(stop);
      asked = true;
    }
  }
  if (asked && !co_await changed_.wait_until(all_reaped, Clock::now() + grace)) {
    log::verbose("procs did not stop when asked; sending SIGTERM");
  }
  if (!all_reaped()) {
    signal_all(SIGTERM);
    if (!co_await changed_.wait_until(all_reaped, Clock::now() + grace)) {
      log::verbose("procs did not stop after SIGTERM; sending SIGKILL");
      signal_all(SIGKILL);
      co_await changed_.wait_until(all_reaped, Clock::now() + Millis(5000));
    }
  }
}

}  // namespace meshrun
