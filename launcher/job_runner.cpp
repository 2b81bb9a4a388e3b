#include "launcher/job_runner.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <signal.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "alloc/placement.hpp"
#include "alloc/ssh_allocator.hpp"
#include "auth/secret.hpp"
#include "auth/tls.hpp"
#include "launcher/locate.hpp"
#include "launcher/output_writer.hpp"
#include "launcher/progress.hpp"
#include "launcher/rank_report.hpp"
#include "mesh/client.hpp"
#include "process/child.hpp"
#include "process/mpi_probe.hpp"
#include "process/tracking.hpp"
#include "util/exit_status.hpp"
#include "util/fd_limit.hpp"
#include "util/job_dir.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitLaunchFailed = exit_status::kLaunchFailed;
constexpr int kExitTimeout = exit_status::kTimeout;

// "0-3, 7, 9-10"
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

// An argument as a shell would need it typed, for the --dry-run map.
std::string shell_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789_-+=/.,:%@") == std::string::npos)
    return arg;
  std::string out = "'";
  for (char c : arg)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
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

struct Plan {
  Placement placement;
  uint32_t hosts = 1;
  Extent per_host;
  std::string agent_path;
  std::string plugin_path;
};

Result<Plan> make_plan(const JobSpec& spec) {
  Plan plan;
  std::vector<Dim> dims;
  for (const auto& d : spec.procs.extent)
    dims.push_back({d.name, d.size});
  auto extent = Extent::make(dims);
  if (!extent) return extent.error();
  if (extent->find("hosts") >= 0)
    return make_error(Errc::invalid_argument,
                      "the per-host extent cannot have a 'hosts' dimension");
  plan.per_host = *extent;
  auto placement = place(spec, static_cast<uint32_t>(extent->num_ranks()));
  if (!placement) return placement.error();
  plan.placement = *placement;
  if (placement->per_host != extent->num_ranks()) {
    // The launcher chose the ranks per host (SLURM's tasks per node), which it
    // only does for a job that gave no per-host extent of its own.
    auto resized = Extent::make({{dims.front().name, placement->per_host}});
    if (!resized) return resized.error();
    plan.per_host = *resized;
  }
  plan.hosts = static_cast<uint32_t>(placement->hosts.size());
  auto agent = locate_agent(spec.hosts.agent_path);
  if (!agent) return agent.error();
  plan.agent_path = *agent;
  if (spec.actors) {
    auto plugin = locate_plugin(spec.actors->plugin);
    if (!plugin) return plugin.error();
    plan.plugin_path = *plugin;
  }
  return plan;
}

OutputOptions output_options(const JobSpec& spec, const Plan& plan) {
  return {spec.output.tag, spec.output.raw, spec.output.filename_pattern,
          plan.hosts * plan.per_host.num_ranks() > 1};
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

void print_dry_run(const JobSpec& spec, const Plan& plan) {
  const uint64_t per = plan.per_host.num_ranks();
  std::printf("launcher: %s (%s)\n", launcher_name(plan.placement.launcher).c_str(),
              plan.placement.why.c_str());
  std::printf("%-6s %-8s %-10s %s\n", "rank", "host", "local",
              spec.command_mode() ? "command" : "proc");
  for (uint32_t h = 0; h < plan.hosts; ++h)
    for (uint64_t l = 0; l < per; ++l) {
      std::string what;
      if (spec.command_mode()) {
        for (const auto& a : spec.procs.command)
          what += (what.empty() ? "" : " ") + shell_quote(a);
      } else {
        what = spec.procs.name + "_" + std::to_string(h * per + l) + " (actor " +
               spec.actors->name + ": " + spec.actors->type + ")";
      }
      std::printf("%-6llu %-8s %-10llu %s\n", static_cast<unsigned long long>(h * per + l),
                  plan.placement.hosts[h].name.c_str(), static_cast<unsigned long long>(l),
                  what.c_str());
    }
}

class Job {
 public:
  Job(asio::io_context& io, const JobSpec& spec, const Plan& plan, const Secret& secret,
      std::string job_id)
      : io_(io),
        spec_(spec),
        plan_(plan),
        client_(io, secret, spec.hosts.heartbeat_timeout),
        output_(output_options(spec, plan), plan.hosts * plan.per_host.num_ranks()),
        secret_(secret),
        job_id_(std::move(job_id)) {
    client_.set_job_id(job_id_);
    client_.on_output = [this](const Output& out) {
      const uint32_t host =
          static_cast<uint32_t>(out.rank / std::max<uint64_t>(1, plan_.per_host.num_ranks()));
      progress_.clear();
      output_.write(out, host < client_.hosts().size() ? client_.hosts()[host].hostname : "");
    };
    client_.on_proc_exit = [this](const ProcStatus& st) { rank_report_.note(st); };
    client_.on_progress = [this](const std::string& line) {
      log::debug(line);
      progress_.update(line);
    };
  }

  asio::awaitable<int> run(const Address& bootstrap) {
    const auto t0 = Clock::now();
    if (auto ok = client_.listen(bootstrap); !ok) {
      log::error(ok.error().message);
      co_return kExitLaunchFailed;
    }
    auto phase = [&](const char* what) {
      progress_.clear();
      log::verbose(
          std::string(what) + " after " +
          std::to_string(
              std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count() /
              1000.0) +
          " ms");
    };
    auto allocator = make_allocator(io_, plan_.placement, spec_);
    const AgentLaunch launch = agent_launch();

    int status = co_await lifecycle(*allocator, launch, phase);
    co_await client_.shutdown(spec_.grace, spec_.shutdown_timeout);
    phase("shut down");
    // A job stopped by a signal exits 128+N whatever else failed meanwhile.
    if (interrupt_signal_) status = 128 + interrupt_signal_;
    output_.close_all();
    if (status == exit_status::kOk && output_.lost()) status = exit_status::kOutputLost;
    co_return status;
  }

  // What every agent is told: where to dial, the secret, its environment.
  AgentLaunch agent_launch() const {
    AgentLaunch launch;
    launch.bootstrap_addresses = client_.address().to_string();
    if (plan_.placement.remote()) {
      launch.bootstrap_addresses = remote_candidates(client_.address(), plan_.placement.launcher);
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
    client_.use_tls(std::move(tls));
    tls_bundle_ = std::move(bundle);
  }

  void interrupt(int sig) {
    const auto now = Clock::now();
    if (interrupted_ && now - last_interrupt_ < std::chrono::seconds(2)) {
      log::warn("second interrupt: killing every rank now");
      client_.signal_procs(SIGKILL);
    } else if (interrupted_) {
      log::warn(std::string("interrupted by ") + signal_name(sig) +
                " again; another within 2 s kills every rank at once");
    }
    interrupted_ = true;
    last_interrupt_ = now;
    interrupt_signal_ = sig;
    // fail() keeps the first failure; under SLURM the ranks' own SIGTERM
    // deaths can arrive before ours, and this must still be said.
    if (client_.failure() && client_.failure()->status != 128 + sig)
      log::error(std::string("interrupted by ") + signal_name(sig) + " while stopping");
    client_.fail(
        {std::string("interrupted by ") + signal_name(sig) + "; stopping every rank", 128 + sig});
  }

  void forward_signal(int sig) { client_.signal_procs(sig); }

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
    auto hosts = co_await client_.allocate(allocator, launch, start_timeout);
    if (!hosts) {
      // allocate() records a failure for hosts that failed, not for an
      // allocator that could not start at all.
      if (!client_.failure()) log::error(hosts.error().message);
      co_return report_failure(kExitLaunchFailed);
    }
    phase("hosts ready");

    CreateProcs create;
    create.command = spec_.procs.command;
    for (const auto& [k, v] : spec_.procs.env)
      create.env.push_back(k + "=" + v);
    create.env.push_back("MESHRUN_JOB_ID=" + job_id_);
    if (spec_.command_mode()) create.env.push_back(host_names_variable(client_.hosts()));
    create.cwd = spec_.procs.cwd;
    create.stdin_mode = static_cast<uint8_t>(spec_.output.stdin_mode);
    create.raw_output = spec_.output.raw;
    const auto deadline =
        spec_.timeout.count() > 0 ? Clock::now() + spec_.timeout : Clock::time_point::max();
    auto procs = co_await client_.spawn_procs(*hosts, spec_.procs.name, plan_.per_host, create,
                                              spec_.procs.spawn_timeout);
    if (!procs) {
      // Ranks that started (or failed) before the failure are ended and
      // counted like any other; a start timeout is left to the shutdown.
      const auto& f = client_.failure();
      if (spec_.command_mode() && f && f->status != kExitLaunchFailed) co_return co_await finish();
      co_return report_failure(kExitLaunchFailed);
    }
    phase("procs ready");

    if (spec_.command_mode()) {
      if (spec_.output.stdin_mode != StdinMode::none) start_stdin(procs->extent.num_ranks());
      const bool done = co_await client_.wait_all_exited(deadline);
      if (!done) {
        log::error("timed out after " + format_seconds(spec_.timeout) +
                   "; ranks still running: " + rank_ranges(client_.running_ranks()));
        client_.fail({"timeout", kExitTimeout});
        timed_out_ = true;
      }
      co_return co_await finish();
    }

    SpawnActors spawn;
    spawn.mesh = spec_.actors->name;
    spawn.plugin = plan_.plugin_path;
    spawn.type = spec_.actors->type;
    spawn.params_toml = spec_.actors->params_toml;
    auto actors = co_await client_.spawn_actors(*procs, spawn, spec_.actors->spawn_timeout);
    if (!actors) co_return report_failure(1);
    phase("actors spawned");

    if (spec_.cast) {
      Slice slice(procs->extent);
      for (const auto& s : spec_.cast->slice) {
        auto ok = slice.restrict(s.dim, s.begin, s.end);
        if (!ok) {
          log::error(spec_.source + ": cast.slice: " + ok.error().message);
          co_return 2;
        }
      }
      for (uint32_t i = 0; i < std::max(1u, spec_.cast->repeat); ++i) {
        const auto c0 = Clock::now();
        auto replies = co_await client_.cast(*actors, slice, spec_.cast->message,
                                             spec_.cast->payload, spec_.cast->timeout);
        if (!replies) {
          if (client_.failure()) co_return report_failure(1);
          log::error(replies.error().message);
          co_return 1;
        }
        const auto us =
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c0).count();
        std::sort(replies->begin(), replies->end(),
                  [](const Reply& a, const Reply& b) { return a.rank < b.rank; });
        if (i + 1 == std::max(1u, spec_.cast->repeat)) print_replies(*actors, slice, *replies, us);
        if (spec_.cast->message == "GetActorId") {
          for (const auto& r : *replies)
            if (r.rank >= actors->actor_ids.size() || r.payload != actors->actor_ids[r.rank]) {
              log::error("rank " + std::to_string(r.rank) + " answered GetActorId with '" +
                         r.payload + "', which is not an actor of mesh " + actors->name);
              co_return 1;
            }
        }
      }
      phase("cast answered");
    }
    co_return 0;
  }

  void print_replies(const ActorMesh& actors, const Slice& slice, const std::vector<Reply>& replies,
                     long long us) {
    std::string out;
    out += "cast " + spec_.cast->message + " to " + actors.name + slice.to_string() + ": " +
           std::to_string(replies.size()) + " of " + std::to_string(slice.num_ranks()) +
           " actors replied in " + std::to_string(us / 1000.0) + " ms\n";
    for (const auto& r : replies)
      out += "  rank " + std::to_string(r.rank) + ": " + r.payload + "\n";
    output_.print(out);
  }

  static std::string format_seconds(Millis d) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", static_cast<double>(d.count()) / 1000.0);
    return buf;
  }

  // Command mode's end: say what failed (once), end every rank still
  // running (SIGTERM, SIGKILL after the grace), then decide the status from
  // what every rank did.
  asio::awaitable<int> finish() {
    const auto& f = client_.failure();
    if (f && !timed_out_) log::error(f->message);
    if (auto r = rank_report_.error_file_report(); f && !r.empty()) log::error(r);
    if (auto w = rank_report_.singleton_warning(); !w.empty()) log::warn(w);
    if (f) co_await client_.stop_ranks(spec_.grace);
    if (stdin_) stdin_->stop();
    if (!f) co_return 0;
    if (f->rank_exit)
      if (auto s = client_.lowest_failed_status()) co_return *s;
    co_return f->status;
  }

  void start_stdin(uint64_t ranks) {
    const bool all = spec_.output.stdin_mode == StdinMode::all;
    stdin_ = StdinReader::start(io_, [this, all, ranks](std::string data) {
      for (uint64_t r = 0; r < (all ? ranks : 1); ++r)
        client_.send_input(static_cast<uint32_t>(r), data);
    });
  }

  int report_failure(int fallback) {
    const auto& f = client_.failure();
    if (!f) return fallback;
    log::error(f->message);
    return f->status;
  }

  asio::io_context& io_;
  const JobSpec& spec_;
  const Plan& plan_;
  MeshClient client_;
  RankReport rank_report_{plan_.hosts * plan_.per_host.num_ranks()};
  OutputWriter output_;
  const Secret& secret_;
  std::string job_id_;
  std::string tls_bundle_;  // what agents get after the secret; empty: no TLS
  std::shared_ptr<StdinReader> stdin_;
  bool timed_out_ = false;
  bool interrupted_ = false;
  int interrupt_signal_ = 0;
  Clock::time_point last_interrupt_;
  ProgressLine progress_;  // on the terminal until the job runs
};

}  // namespace

int run_job(const JobSpec& spec, const RunOptions& options) {
  auto plan = make_plan(spec);
  if (!plan) {
    log::error(plan.error().message);
    return plan.error().code == Errc::invalid_argument ? 2 : kExitLaunchFailed;
  }
  if (options.dry_run) {
    print_dry_run(spec, *plan);
    return 0;
  }
  if (auto out = check_output_options(output_options(spec, *plan),
                                      plan->hosts * plan->per_host.num_ranks());
      !out) {
    log::error(out.error().message);
    return exit_status::kUsage;
  }
  if (auto tracking = tracking_from_env(); !tracking) {
    log::error(tracking.error().message);
    return exit_status::kUsage;
  }
  if (auto fds = check_descriptors(spec, *plan); !fds) {
    log::error(fds.error().message);
    return kExitLaunchFailed;
  }
  auto secret = Secret::generate();
  if (!secret) {
    log::error(secret.error().message);
    return kExitLaunchFailed;
  }
  const std::string job_id = make_job_id();
  if (const size_t stale = remove_stale_job_dirs())
    log::verbose("removed " + std::to_string(stale) + " job directories left by killed launchers");
  auto dir = JobDir::create(job_id);
  if (!dir) {
    log::error(dir.error().message);
    return kExitLaunchFailed;
  }
  asio::io_context io(1);
  Address bootstrap;
  bootstrap.kind = Address::Kind::unix_socket;
  bootstrap.path = dir->path() + "/bootstrap.sock";
  if (plan->placement.remote()) {
    auto remote = remote_listen_address(spec.hosts.bind);
    if (!remote) {
      log::error(remote.error().message);
      return 2;
    }
    bootstrap = *remote;
  }

  Job job(io, spec, *plan, *secret, job_id);
  if (plan->placement.remote() && options.no_tls) {
    log::warn(
        "--no-tls: TCP between hosts is plain; anyone on the network can read and alter "
        "the job's traffic");
  } else if (plan->placement.remote()) {
    const auto t0 = Clock::now();
    auto material = make_job_tls(job_id);
    auto tls = material ? TlsContext::make(*material)
                        : Result<std::shared_ptr<TlsContext>>(material.error());
    if (!tls) {
      log::error("cannot set up TLS (--no-tls runs without it): " + tls.error().message);
      return kExitLaunchFailed;
    }
    job.use_tls(*tls, material->bundle());
    log::verbose(
        "TLS 1.3 between hosts, per-job CA made in " +
        std::to_string(
            std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count() /
            1000.0) +
        " ms");
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
  // Caught, so meshrun itself is not stopped by SIGTSTP: the ranks are.
  asio::signal_set forwarded(io, SIGUSR1, SIGUSR2, SIGALRM);
  forwarded.add(SIGCONT);
  forwarded.add(SIGTSTP);
  std::function<void()> arm_forward = [&] {
    forwarded.async_wait([&](asio::error_code ec, int sig) {
      if (ec) return;
      job.forward_signal(sig);
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
  return status;
}

}  // namespace meshrun
