#include "launcher/job_runner.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "alloc/placement.hpp"
#include "alloc/slurm_allocator.hpp"
#include "alloc/ssh_allocator.hpp"
#include "auth/secret.hpp"
#include "auth/tls.hpp"
#include "control/control_plane.hpp"
#include "launcher/builtin_controller.hpp"
#include "launcher/call_report.hpp"
#include "launcher/job_plan.hpp"
#include "launcher/locate.hpp"
#include "launcher/output_writer.hpp"
#include "launcher/progress.hpp"
#include "launcher/rank_report.hpp"
#include "process/child.hpp"
#include "process/cpu_binding.hpp"
#include "process/mpi_probe.hpp"
#include "process/spawn.hpp"
#include "process/tracking.hpp"
#include "util/duration_format.hpp"
#include "util/exit_status.hpp"
#include "util/fd_limit.hpp"
#include "util/job_dir.hpp"
#include "util/log.hpp"
#include "util/number_ranges.hpp"

namespace meshrun {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitLaunchFailed = exit_status::kLaunchFailed;
constexpr int kExitTimeout = exit_status::kTimeout;

// MESHRUN_SERVE_PMIX for the agents, empty when they serve no PMIx: they
// start the server as they start, before the ranks' spawn needs it, for a
// command that may speak it (a plain program such as true or hostname is
// spared its start-up). "1": every agent on a machine of its own; "shared":
// some share one; "local": all on this one.
std::string pmix_mode(const JobSpec& spec, const Placement& placement) {
  if (!spec.command_mode()) return {};
  const char* path = std::getenv("PATH");
  char cwd[4096];
  std::string dir = spec.procs.cwd;
  if (dir.empty() && ::getcwd(cwd, sizeof cwd)) dir = cwd;
  if (!may_use_pmix(spec.procs.command, path ? path : "/usr/bin:/bin", dir)) return {};
  if (!placement.remote()) return placement.hosts.size() > 1 ? "local" : "1";
  std::set<std::string> names;
  for (const auto& h : placement.hosts)
    if (!names.insert(h.name).second) return "shared";
  return "1";
}

// MESHRUN_HOSTNAMES: every host's machine name, by host rank, for the agents
// (PMIx: hosts on one machine are one node); not passed on to ranks.
std::string host_names_variable(const std::vector<Host>& hosts) {
  std::string v = "MESHRUN_HOSTNAMES=";
  for (size_t i = 0; i < hosts.size(); ++i)
    v += (i ? "," : "") + hosts[i].hostname;
  return v;
}

// Stops meshrun as SIGTSTP's default action would (the handler that caught
// it is set aside meanwhile); returns once meshrun is continued.
void stop_self() {
  struct sigaction dfl {
  }, caught{};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(SIGTSTP, &dfl, &caught);
  sigset_t tstp;
  sigemptyset(&tstp);
  sigaddset(&tstp, SIGTSTP);
  ::pthread_sigmask(SIG_UNBLOCK, &tstp, nullptr);
  ::raise(SIGTSTP);
  ::sigaction(SIGTSTP, &caught, nullptr);
}

// meshrun's stdin, read on a thread of its own: fd 0 is shared with the
// shell (often a terminal), so it must stay blocking. One chunk is in flight
// at a time; the next is read once the event loop has sent this one on.
class StdinReader : public std::enable_shared_from_this<StdinReader> {
 public:
  using Deliver = std::function<void(std::string)>;  // empty: end of file

  StdinReader(asio::io_context& io, Deliver deliver) : io_(io), deliver_(std::move(deliver)) {}
  static std::shared_ptr<StdinReader> start(asio::io_context& io, Deliver deliver) {
    auto r = std::make_shared<StdinReader>(io, std::move(deliver));
    std::thread([r] { r->loop(); }).detach();  // may stay blocked in read() until exit
    return r;
  }
  // On the event loop, before it goes away: nothing is delivered after this.
  void stop() {
    std::lock_guard lock(mu_);
    stopped_ = true;
    cv_.notify_all();
  }

 private:
  void loop() {
    auto self = shared_from_this();
    std::string buf(64 * 1024, '\0');
    for (;;) {
      ssize_t n = ::read(STDIN_FILENO, buf.data(), buf.size());
      if (n < 0 && errno == EINTR) continue;
      std::string data = n > 0 ? buf.substr(0, static_cast<size_t>(n)) : std::string();
      std::unique_lock lock(mu_);
      if (stopped_) return;
      ready_ = false;
      // Under the lock: stop() cannot complete (and the loop go away) meanwhile.
      asio::post(io_, [self, data = std::move(data)]() mutable { self->deliver(std::move(data)); });
      if (n <= 0) return;
      cv_.wait(lock, [this] { return ready_ || stopped_; });
      if (stopped_) return;
    }
  }
  void deliver(std::string data) {
    {
      std::lock_guard lock(mu_);
      if (stopped_) return;
    }
    deliver_(std::move(data));
    std::lock_guard lock(mu_);
    ready_ = true;
    cv_.notify_all();
  }

  asio::io_context& io_;
  Deliver deliver_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool ready_ = true;
};

OutputOptions output_options(const JobSpec& spec, const Plan& plan) {
  return {spec.output.tag, spec.output.raw, spec.output.filename_pattern,
          plan.placement.total() > 1};
}

// Local agents inherit this process's limits, so their ranks are checked here
// too; a remote agent checks its own before it starts any rank.
Status check_descriptors(const JobSpec& spec, const Plan& plan) {
  if (!plan.placement.remote())
    if (auto ok = check_fd_limit(plan.per_host.num_ranks(), 0); !ok) return ok;
  const size_t direct = plan.placement.launcher == LauncherKind::ssh
                            ? tree_blocks(plan.hosts, spec.hosts.tree_threshold).size()
                            : plan.hosts;
  return check_fd_limit(0, direct);
}

// Where the launcher listens when its hosts are elsewhere: --bind ADDR (an
// IP, a name, or tcp:HOST:PORT), else every interface on a free port.
Result<Address> remote_listen_address(const std::string& bind) {
  Address a;
  a.kind = Address::Kind::tcp;
  a.host = "0.0.0.0";
  if (bind.empty()) return a;
  if (bind.starts_with("tcp:")) return Address::parse(bind);
  asio::error_code ec;
  auto ip = asio::ip::make_address(bind, ec);
  if (!ec) {
    a.host = ip.to_string();
    return a;
  }
  asio::io_context io;
  asio::ip::tcp::resolver resolver(io);
  auto results = resolver.resolve(bind, "", ec);
  if (ec || results.empty())
    return make_error(Errc::invalid_argument,
                      "--bind " + bind +
                          ": cannot resolve: " + (ec ? ec.message() : std::string("no addresses")));
  a.host = results.begin()->endpoint().address().to_string();
  for (const auto& r : results)
    if (r.endpoint().address().is_v4()) {
      a.host = r.endpoint().address().to_string();
      break;
    }
  return a;
}

bool is_wildcard(const std::string& host) {
  return host == "0.0.0.0" || host == "::";
}

// What a remote agent tries, in order: a bound address alone; otherwise the
// address its ssh connection came from, then every non-loopback IPv4 address
// of this machine (then loopback, for SLURM nodes on this machine).
std::string remote_candidates(const Address& listening, LauncherKind launcher) {
  const std::string port = std::to_string(listening.port);
  if (!is_wildcard(listening.host)) return listening.to_string();
  std::vector<std::string> out;
  if (launcher == LauncherKind::ssh) out.push_back(std::string(kSshClientAddressPrefix) + port);
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) == 0) {
    for (ifaddrs* i = list; i; i = i->ifa_next) {
      if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET) continue;
      if ((i->ifa_flags & IFF_LOOPBACK) || !(i->ifa_flags & IFF_UP)) continue;
      sockaddr_in sin;
      std::memcpy(&sin, i->ifa_addr, sizeof sin);
      const std::string text =
          "tcp:" + asio::ip::address_v4(ntohl(sin.sin_addr.s_addr)).to_string() + ":" + port;
      if (std::find(out.begin(), out.end(), text) == out.end()) out.push_back(text);
    }
    ::freeifaddrs(list);
  }
  // Emulated SLURM nodes may share this machine's loopback.
  if (launcher == LauncherKind::slurm) out.push_back("tcp:127.0.0.1:" + port);
  std::string joined;
  for (const auto& c : out)
    joined += (joined.empty() ? "" : ",") + c;
  return joined;
}

class Job {
 public:
  Job(asio::io_context& io, const JobSpec& spec, const Plan& plan, const Secret& secret,
      std::string job_id, CallReport& report)
      : io_(io),
        spec_(spec),
        plan_(plan),
        plane_(io, secret, spec.hosts.heartbeat_timeout),
        output_(output_options(spec, plan), plan.placement.total()),
        secret_(secret),
        job_id_(std::move(job_id)),
        report_(report) {
    plane_.set_job_id(job_id_);
    plane_.on_output = [this](const Output& out, const ProcMesh& mesh, uint32_t rank) {
      const uint32_t host = mesh.host_of(rank);
      // Ranks of the job's first proc mesh are named by rank; a proc of a
      // mesh a controller made later, by its job-wide id.
      Output labelled = out;
      if (mesh.base == 0) labelled.proc = rank;
      progress_.clear();
      output_.write(labelled, host < plane_.hosts().size() ? plane_.hosts()[host].hostname : "");
      progress_.redraw();
    };
    plane_.procs().on_rank_exit = [this](const ProcStatus& st) { rank_report_.note(st); };
    plane_.set_progress([this](const std::string& line) {
      log::debug(line);
      progress_.update(line);
    });
  }

  asio::awaitable<int> run(const Address& bootstrap) {
    const auto t0 = Clock::now();
    if (auto ok = plane_.listen(bootstrap); !ok) {
      log::error(ok.error().message);
      co_return kExitLaunchFailed;
    }
    auto phase = [&](const char* what) {
      log::verbose(std::string(what) + " after " + format_duration(Clock::now() - t0));
    };
    auto allocator = make_allocator(io_, plan_.placement, spec_);
    const AgentLaunch launch = agent_launch();

    int status = co_await lifecycle(*allocator, launch, phase);
    progress_.finish();
    co_await plane_.shutdown(spec_.grace, spec_.shutdown_timeout);
    phase("shut down");
    if (spec_.command_mode() && plane_.procs().rank_count() > 0 &&
        (status != 0 || log::enabled(log::Level::verbose)))
      log::notice(rank_summary(Clock::now() - t0));
    // A job stopped by a signal exits 128+N whatever else failed meanwhile.
    if (interrupt_signal_) status = exit_status::kSignalBase + interrupt_signal_;
    output_.close_all();
    if (status == exit_status::kOk && output_.lost()) status = exit_status::kOutputLost;
    report_.exit(status, plane_.failure() ? plane_.failure()->message : std::string());
    co_return status;
  }

  // What every agent is told: where to dial, the secret, its environment.
  AgentLaunch agent_launch() const {
    AgentLaunch launch;
    launch.bootstrap_addresses = plane_.address().to_string();
    if (plan_.placement.remote()) {
      launch.bootstrap_addresses = remote_candidates(plane_.address(), plan_.placement.launcher);
      // Ranks start where meshrun was started, if that directory exists there.
      char cwd[4096];
      if (spec_.procs.cwd.empty() && ::getcwd(cwd, sizeof cwd))
        launch.env.push_back(std::string("MESHRUN_CWD=") + cwd);
      log::debug("agents dial back to " + launch.bootstrap_addresses);
    }
    if (auto mode = pmix_mode(spec_, plan_.placement); !mode.empty())
      launch.env.push_back("MESHRUN_SERVE_PMIX=" + mode);
    launch.secret_hex = secret_.to_hex();
    launch.tls_bundle = tls_bundle_;
    launch.agent_path = plan_.agent_path;
    if (log::enabled(log::Level::debug))
      launch.env.push_back("MESHRUN_VERBOSE=2");
    else if (log::enabled(log::Level::verbose))
      launch.env.push_back("MESHRUN_VERBOSE=1");
    else if (!log::enabled(log::Level::warn))
      launch.env.push_back("MESHRUN_VERBOSE=0");  // -q: the agents and procs too
    // How agents track their ranks' processes (agent/proc_tracker.hpp).
    if (const char* tracking = std::getenv("MESHRUN_PROC_TRACKING"))
      launch.env.push_back(std::string("MESHRUN_PROC_TRACKING=") + tracking);

    return launch;
  }

  ~Job() {
    if (stdin_) stdin_->stop();
    OPENSSL_cleanse(tls_bundle_.data(), tls_bundle_.size());
  }

  // TCP between hosts runs TLS with this job's material from now on.
  void use_tls(std::shared_ptr<TlsContext> tls, std::string bundle) {
    plane_.use_tls(std::move(tls));
    tls_bundle_ = std::move(bundle);
  }

  // The first SIGINT or SIGTERM stops the job in order and says so at once;
  // the second kills every rank.
  void interrupt(int sig) {
    if (interrupted_) {
      log::warn(signal_name(sig) + " again: killing every rank now");
      plane_.signal_procs(SIGKILL);
      return;
    }
    interrupted_ = true;
    interrupt_signal_ = sig;
    // fail() keeps the first failure; under SLURM the ranks' own SIGTERM
    // deaths can arrive before ours, and this must still be said.
    const bool stopping = plane_.failure().has_value();
    plane_.fail({"interrupted by " + signal_name(sig), exit_status::kSignalBase + sig});
    const std::string again =
        sig == SIGINT ? "press Ctrl-C again" : "send " + signal_name(sig) + " again";
    const auto running = plane_.procs().running_ranks();
    std::string now;
    if (spec_.command_mode() && !running.empty())
      now = "sending " + signal_name(spec_.signal_forward) + " to " +
            std::to_string(running.size()) + (running.size() == 1 ? " rank" : " ranks") +
            " and waiting up to " + format_duration(spec_.grace) + " for " +
            (running.size() == 1 ? "it" : "them") + " to exit before SIGKILL; " + again +
            " to kill at once";
    else
      now = "stopping the job's procs and hosts (SIGKILL after " + format_duration(spec_.grace) +
            "); " + again + " to kill every rank at once";
    log::error("interrupted by " + signal_name(sig) + (stopping ? " while stopping" : "") + ": " +
               now);
  }
  int interrupted_by() const { return interrupt_signal_; }

  void forward_signal(int sig) { plane_.signal_procs(sig); }

  // Ctrl-Z: the ranks have been sent SIGTSTP; once that has left, meshrun
  // stops itself so the shell gets the terminal back. `fg` continues
  // meshrun, and its SIGCONT is forwarded to the ranks.
  void suspend() {
    if (suspending_) return;  // Ctrl-Z twice: stop once
    suspending_ = true;
    asio::co_spawn(
        io_,
        [this]() -> asio::awaitable<void> {
          co_await plane_.drain(0, std::chrono::seconds(1));
          progress_.clear();
          stop_self();
          suspending_ = false;
          // Hosts kept talking while we were stopped; their words are
          // waiting to be read, not missing.
          plane_.host_set().excuse_silence();
          progress_.redraw();
        },
        asio::detached);
  }

 private:
  template <class Phase>
  asio::awaitable<int> lifecycle(Allocator& allocator, AgentLaunch launch, Phase phase) {
    // start_timeout is per host; the allocator enforces it for each one. With
    // more hosts than parallel starts, later waves start later.
    Millis start_timeout = spec_.hosts.start_timeout;
    if (plan_.placement.launcher == LauncherKind::ssh) {
      const uint32_t cap = std::max(1u, spec_.hosts.max_parallel);
      start_timeout = start_timeout * ((plan_.hosts + cap - 1) / cap) + Millis(2000);
      // A tree starts in two waves: the first level, then their children.
      if (plan_.hosts > spec_.hosts.tree_threshold) start_timeout *= 2;
    }
    auto hosts = co_await plane_.allocate(allocator, launch, start_timeout);
    if (!hosts) {
      // allocate() records a failure for hosts that failed, not for an
      // allocator that could not start at all.
      if (!plane_.failure()) log::error(hosts.error().message);
      co_return report_failure(kExitLaunchFailed);
    }
    phase("hosts ready");

    CreateProcs create;
    for (const auto& [k, v] : spec_.procs.env)
      create.env.push_back(k + "=" + v);
    create.env.push_back("MESHRUN_JOB_ID=" + job_id_);
    create.env.push_back("MESHRUN_JOB_NAME=" + spec_.name);
    if (spec_.command_mode()) create.env.push_back(host_names_variable(plane_.hosts()));
    create.cwd = spec_.procs.cwd;
    create.stdin_mode = static_cast<uint8_t>(spec_.output.stdin_mode);
    create.raw_output = spec_.output.raw;
    plane_.set_proc_template(create);  // what a controller's proc meshes get
    create.command = spec_.procs.command;
    for (auto& kv : binding_env(spec_.procs.binding))  // the agents bind the ranks
      create.env.push_back(std::move(kv));
    const auto deadline =
        spec_.timeout.count() > 0 ? Clock::now() + spec_.timeout : Clock::time_point::max();
    Result<ProcMesh> procs = make_error(Errc::failed, "");
    if (plan_.placement.uniform()) {
      procs = co_await plane_.spawn_procs(spec_.procs.name, plan_.per_host, create,
                                          spec_.procs.spawn_timeout);
    } else {
      // A named local, not a temporary: GCC 12 destroys a temporary in a
      // co_await expression twice.
      std::vector<uint32_t> counts = plan_.placement.ranks;
      procs = co_await plane_.spawn_procs(spec_.procs.name, std::move(counts), create,
                                          spec_.procs.spawn_timeout);
    }
    if (!procs) {
      // Ranks that started (or failed) before the failure are ended and
      // counted like any other; a start timeout is left to the shutdown.
      const auto& f = plane_.failure();
      if (spec_.command_mode() && f && f->status != kExitLaunchFailed) co_return co_await finish();
      co_return report_failure(kExitLaunchFailed);
    }
    phase("procs ready");

    if (spec_.command_mode()) {
      progress_.finish();  // the job runs: output is the ranks' now
      if (spec_.output.stdin_mode != StdinMode::none) start_stdin(procs->size());
      const bool done = co_await plane_.procs().wait_all_exited(deadline);
      if (!done) {
        log::error("timed out after " + format_duration(spec_.timeout) +
                   "; ranks still running: " + number_ranges(plane_.procs().running_ranks()));
        plane_.fail({"timeout", kExitTimeout});
        timed_out_ = true;
      }
      co_return co_await finish();
    }
    co_return co_await actors(*procs, deadline, phase);
  }

  // Actor mode: the spec's meshes, then its controller (or the built-in one
  // that plays [[cast]]), until it ends the job, it fails, or the deadline.
  template <class Phase>
  asio::awaitable<int> actors(const ProcMesh& procs, Clock::time_point deadline, Phase phase) {
    BuiltinController builtin(plane_, spec_, plan_, report_);
    if (auto ok = co_await builtin.spawn_meshes(procs, deadline); !ok) {
      if (plane_.failure()) co_return report_failure(exit_status::kFailed);
      log::error(ok.error().message);
      co_return ok.error().code == Errc::timeout&& Clock::now() >= deadline ? kExitTimeout
                                                                            : exit_status::kFailed;
    }
    phase("actors spawned");
    progress_.finish();
    if (!spec_.controller) {
      const int status = co_await builtin.run_casts(deadline);
      if (plane_.failure()) co_return report_failure(exit_status::kFailed);
      phase("casts answered");
      co_return status;
    }
    ControllerHost& controller = plane_.controller();
    controller.on_call = [this](const CallRecord& r) { report_.call(r); };
    controller.on_print = [this](std::string_view line) { report_.print(line); };
    if (auto ok = controller.load(plan_.controller_plugin, spec_.controller->type,
                                  spec_.controller->params_toml);
        !ok) {
      log::error(spec_.controller->where + ": controller: " + ok.error().message);
      co_return exit_status::kFailed;
    }
    plane_.supervisor = [&controller](const SupervisionEvent& ev) {
      return controller.supervise(ev);
    };
    if (auto ok = controller.start(); !ok) {
      log::error(ok.error().message);
      co_return exit_status::kFailed;
    }
    phase("controller started");
    const bool ended = co_await controller.wait_exit(deadline);
    if (plane_.failure() && !controller.exit_status())
      co_return report_failure(exit_status::kFailed);
    if (!ended) {
      std::string waiting;
      for (const auto& c : controller.calls_in_flight())
        waiting += (waiting.empty() ? "" : "; ") + c;
      log::error("timed out after " + format_duration(spec_.timeout) +
                 (waiting.empty() ? "; the controller had not ended the job"
                                  : "; still waiting for: " + waiting));
      co_return kExitTimeout;
    }
    const int status = *controller.exit_status();
    if (!controller.exit_reason().empty()) {
      if (status == 0)
        log::verbose("the controller ended the job: " + controller.exit_reason());
      else
        log::error(controller.exit_reason());
    }
    co_return status;
  }

  // Command mode's end: let failures that come together all arrive, end
  // every rank still running (the first signal, SIGKILL after the grace),
  // then decide the status from what every rank did: the lowest rank that
  // failed on its own, the others counted.
  asio::awaitable<int> finish() {
    auto& procs = plane_.procs();
    const auto& f = plane_.failure();
    if (f && f->rank_exit) co_await procs.settle(kSettleWindow);
    // Said before the grace, so a user waiting knows why; a rank's failure
    // is said after it, with every failure counted.
    if (f && !f->rank_exit && !timed_out_ && !interrupted_) log::error(f->message);
    if (auto r = rank_report_.error_file_report(); f && !r.empty()) log::error(r);
    if (auto w = rank_report_.singleton_warning(); !w.empty()) log::warn(w);
    if (f) co_await procs.stop_ranks(spec_.grace, interrupted_ ? spec_.signal_forward : SIGTERM);
    if (stdin_) stdin_->stop();
    if (!f) co_return exit_status::kOk;
    if (f->rank_exit)
      if (auto failed = procs.rank_failures()) {
        if (!interrupted_)
          log::error(failed->what + (failed->others == 0
                                         ? std::string()
                                         : " (" + std::to_string(failed->others) + " other rank" +
                                               (failed->others > 1 ? "s" : "") + " failed too)"));
        co_return failed->status;
      }
    co_return f->status;
  }

  void start_stdin(uint64_t ranks) {
    const bool all = spec_.output.stdin_mode == StdinMode::all;
    stdin_ = StdinReader::start(io_, [this, all, ranks](std::string data) {
      for (uint64_t r = 0; r < (all ? ranks : 1); ++r)
        plane_.send_input(static_cast<uint32_t>(r), data);
    });
  }

  int report_failure(int fallback) {
    const auto& f = plane_.failure();
    if (!f) return fallback;
    if (!interrupted_) log::error(f->message);  // interrupt() said it
    return f->status;
  }

  // Command mode's last word, in a fixed form for people and CI alike:
  // "summary: 4 ranks on 2 hosts; exit code 0: ranks 0-1, 3; exit code 3:
  // rank 2" (and "; took 1.2 s" with -v). Outcomes in a fixed order.
  std::string rank_summary(Clock::duration took) const {
    std::map<std::pair<int, int>, std::vector<uint32_t>> by_outcome;
    const auto procs = plane_.procs().rank_statuses();
    for (uint32_t r = 0; r < procs.size(); ++r) {
      const auto& p = procs[r];
      std::pair<int, int> key{4, 0};  // never reported an end
      if (p.state == ProcState::failed)
        key = {3, 0};
      else if (p.state == ProcState::exited && p.detail == kStoppedByMeshrun)
        key = {2, 0};
      else if (p.state == ProcState::exited)
        key = {p.exited_normally ? 0 : 1, p.code};
      by_outcome[key].push_back(r);
    }
    const size_t hosts = plane_.hosts().size();
    std::string out = "summary: " + std::to_string(procs.size()) +
                      (procs.size() == 1 ? " rank" : " ranks") + " on " + std::to_string(hosts) +
                      (hosts == 1 ? " host" : " hosts");
    for (const auto& [key, ranks] : by_outcome) {
      static const char* kWhat[] = {"exit code ", "signal ", "stopped by meshrun",
                                    "could not start", "no exit status"};
      std::string what = kWhat[key.first];
      if (key.first == 0) what += std::to_string(key.second);
      if (key.first == 1) what += signal_name(key.second);
      out += "; " + what + (ranks.size() == 1 ? ": rank " : ": ranks ") + number_ranges(ranks);
    }
    if (log::enabled(log::Level::verbose)) out += "; took " + format_duration(took);
    return out;
  }

  asio::io_context& io_;
  const JobSpec& spec_;
  const Plan& plan_;
  ControlPlane plane_;
  RankReport rank_report_{plan_.placement.total()};
  OutputWriter output_;
  const Secret& secret_;
  std::string job_id_;
  CallReport& report_;
  std::string tls_bundle_;  // what agents get after the secret; empty: no TLS
  std::shared_ptr<StdinReader> stdin_;
  bool timed_out_ = false;
  bool interrupted_ = false;
  bool suspending_ = false;  // between Ctrl-Z and meshrun stopping itself
  int interrupt_signal_ = 0;
  ProgressLine progress_;  // on the terminal until the job runs
};

}  // namespace

JobOutcome run_job(const JobSpec& spec, const RunOptions& options) {
  auto plan = make_plan(spec);
  if (!plan) {
    log::error(plan.error().message);
    return {plan.error().code == Errc::invalid_argument || plan.error().code == Errc::not_found
                ? exit_status::kUsage
                : kExitLaunchFailed};
  }
  for (const auto& u : plan->unchecked)
    log::warn("not checked here: " + u);
  if (auto fds = check_descriptors(spec, *plan); !fds) {
    log::error(fds.error().message);
    return {kExitLaunchFailed};
  }
  if (options.dry_run) {
    print_dry_run(spec, *plan);
    return {exit_status::kOk};
  }
  if (auto out = check_output_options(output_options(spec, *plan), plan->placement.total()); !out) {
    log::error(out.error().message);
    return {exit_status::kUsage};
  }
  if (auto tracking = tracking_from_env(); !tracking) {
    log::error(tracking.error().message);
    return {exit_status::kUsage};
  }
  log::verbose("launcher: " + launcher_name(plan->placement.launcher) + " (" + plan->placement.why +
               ")");
  auto secret = Secret::generate();
  if (!secret) {
    log::error(secret.error().message);
    return {kExitLaunchFailed};
  }
  const std::string job_id = make_job_id();
  log::verbose("job " + spec.name + ", id " + job_id);
  if (const size_t stale = remove_stale_job_dirs())
    log::verbose("removed " + std::to_string(stale) + " job directories left by killed launchers");
  auto dir = JobDir::create(job_id);
  if (!dir) {
    log::error(dir.error().message);
    return {kExitLaunchFailed};
  }
  asio::io_context io(1);
  Address bootstrap;
  bootstrap.kind = Address::Kind::unix_socket;
  bootstrap.path = dir->path() + "/bootstrap.sock";
  if (plan->placement.remote()) {
    auto remote = remote_listen_address(spec.hosts.bind);
    if (!remote) {
      log::error(remote.error().message);
      return {exit_status::kUsage};
    }
    bootstrap = *remote;
  }

  CallReport report(options.json, log::enabled(log::Level::verbose));
  Job job(io, spec, *plan, *secret, job_id, report);
  if (plan->placement.remote() && options.no_tls) {
    log::security(
        "--no-tls: TCP between hosts is plain; anyone on the network can read and alter "
        "the job's traffic");
  } else if (plan->placement.remote()) {
    const auto t0 = Clock::now();
    auto material = make_job_tls(job_id);
    auto tls = material ? TlsContext::make(*material)
                        : Result<std::shared_ptr<TlsContext>>(material.error());
    if (!tls) {
      log::error("cannot set up TLS (--no-tls runs without it): " + tls.error().message);
      return {kExitLaunchFailed};
    }
    job.use_tls(*tls, material->bundle());
    log::verbose("TLS 1.3 between hosts, per-job CA made in " + format_duration(Clock::now() - t0));
  } else {
    log::debug("local job: unix sockets in the 0700 job directory, no TLS needed");
  }
  int status = kExitLaunchFailed;
  // SIGHUP (the terminal closed) ends the job like SIGTERM, with its teardown.
  asio::signal_set interrupts(io, SIGINT, SIGTERM, SIGHUP);
  std::function<void()> arm_interrupts = [&] {
    interrupts.async_wait([&](asio::error_code ec, int sig) {
      if (ec) return;
      job.interrupt(sig);
      arm_interrupts();
    });
  };
  arm_interrupts();
  // Caught and passed on to every rank; after SIGTSTP meshrun stops itself.
  asio::signal_set forwarded(io, SIGUSR1, SIGUSR2, SIGALRM);
  forwarded.add(SIGCONT);
  forwarded.add(SIGTSTP);
  std::function<void()> arm_forward = [&] {
    forwarded.async_wait([&](asio::error_code ec, int sig) {
      if (ec) return;
      job.forward_signal(sig);
      if (sig == SIGTSTP) job.suspend();
      arm_forward();
    });
  };
  arm_forward();

  asio::co_spawn(
      io, [&]() -> asio::awaitable<int> { co_return co_await job.run(bootstrap); },
      [&](std::exception_ptr e, int rc) {
        if (e) {
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            log::error(std::string("internal error: ") + ex.what());
          }
          rc = kExitLaunchFailed;
        }
        status = rc;
        interrupts.cancel();
        forwarded.cancel();
        io.stop();
      });
  io.run();
  return {status, job.interrupted_by()};
}

int check_job(const JobSpec& spec) {
  std::string note;
  // A spec for a SLURM job is checked before it is submitted, outside the
  // allocation its layout depends on: laid out as if inside it.
  const bool later = spec.hosts.launcher == LauncherKind::slurm && !in_slurm_allocation();
  std::optional<Plan> plan;
  auto made = make_plan(spec, true);
  if (!made) {
    log::error(made.error().message);
    return made.error().code == Errc::invalid_argument || made.error().code == Errc::not_found
               ? exit_status::kUsage
               : kExitLaunchFailed;
  }
  if (later) {
    note = " (hosts and ranks are laid out inside the SLURM allocation)";
  } else {
    if (auto fds = check_descriptors(spec, *made); !fds) {
      log::error(fds.error().message);
      return kExitLaunchFailed;
    }
    if (auto out = check_output_options(output_options(spec, *made), made->placement.total());
        !out) {
      log::error(out.error().message);
      return exit_status::kUsage;
    }
  }
  for (const auto& u : made->unchecked)
    if (!later || u.find("SLURM placement") == std::string::npos)
      log::warn("not checked here: " + u);
  if (spec.actor_mode() && made->unchecked.empty())
    note += " (plugins loaded; types and messages checked)";
  if (!later) plan = std::move(*made);
  if (spec.command_mode() && plan) {
    std::string program = spec.procs.command.front();
    if (plan->placement.remote()) {
      note = " (" + program + " is not checked here: it runs on the hosts)";
    } else {
      // A relative path is relative to where the ranks start.
      if (!spec.procs.cwd.empty() && program.find('/') != std::string::npos &&
          program.front() != '/')
        program = spec.procs.cwd + "/" + program;
      const auto it = spec.procs.env.find("PATH");
      const char* path = it != spec.procs.env.end() ? it->second.c_str() : std::getenv("PATH");
      const std::string found = find_in_path(program, path ? path : "");
      struct stat st {};
      if (found.empty() || ::stat(found.c_str(), &st) != 0) {
        log::error(program + ": command not found" +
                   (program.find('/') == std::string::npos ? " (searched PATH)" : ""));
        return exit_status::kNotFound;
      }
      if (S_ISDIR(st.st_mode) || ::access(found.c_str(), X_OK) != 0) {
        log::error(found + ": " + (S_ISDIR(st.st_mode) ? "is a directory" : "not executable"));
        return exit_status::kNotExecutable;
      }
    }
  }
  std::printf("%s: ok%s\n", spec.source.c_str(), note.c_str());
  return exit_status::kOk;
}

}  // namespace meshrun
