#include "launcher/job_runner.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <cstdio>
#include <iostream>

#include "alloc/placement.hpp"
#include "auth/secret.hpp"
#include "launcher/locate.hpp"
#include "launcher/output_writer.hpp"
#include "launcher/progress.hpp"
#include "mesh/client.hpp"
#include "process/child.hpp"
#include "util/job_dir.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kExitLaunchFailed = 125;
constexpr int kExitTimeout = 124;

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
          what += (what.empty() ? "" : " ") + a;
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
  Job(asio::io_context& io, const JobSpec& spec, const Plan& plan, const Secret& secret)
      : io_(io),
        spec_(spec),
        plan_(plan),
        client_(io, secret, spec.hosts.heartbeat_timeout),
        output_({spec.output.tag, spec.output.raw, spec.output.filename_pattern}),
        secret_(secret) {
    client_.on_output = [this](const Output& out) {
      const uint32_t host =
          static_cast<uint32_t>(out.rank / std::max<uint64_t>(1, plan_.per_host.num_ranks()));
      progress_.clear();
      output_.write(out, host < client_.hosts().size() ? client_.hosts()[host].hostname : "");
    };
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
    AgentLaunch launch;
    launch.bootstrap_addresses = client_.address().to_string();
    launch.secret_hex = secret_.to_hex();
    launch.agent_path = plan_.agent_path;
    if (log::enabled(log::Level::debug))
      launch.env.push_back("MESHRUN_VERBOSE=2");
    else if (log::enabled(log::Level::verbose))
      launch.env.push_back("MESHRUN_VERBOSE=1");

    int status = co_await lifecycle(*allocator, launch, phase);
    co_await client_.shutdown(spec_.grace, spec_.shutdown_timeout);
    phase("shut down");
    co_return status;
  }

  void interrupt(int sig) {
    const auto now = Clock::now();
    if (interrupted_ && now - last_interrupt_ < std::chrono::seconds(2)) {
      log::warn("second interrupt: killing every rank now");
      client_.signal_procs(SIGKILL);
    }
    interrupted_ = true;
    last_interrupt_ = now;
    client_.fail(
        {std::string("interrupted by ") + signal_name(sig) + "; stopping every rank", 128 + sig});
  }

  void forward_signal(int sig) { client_.signal_procs(sig); }

 private:
  template <class Phase>
  asio::awaitable<int> lifecycle(Allocator& allocator, AgentLaunch launch, Phase phase) {
    auto hosts = co_await client_.allocate(allocator, launch, spec_.hosts.start_timeout);
    if (!hosts) co_return report_failure(kExitLaunchFailed);
    phase("hosts ready");

    CreateProcs create;
    create.command = spec_.procs.command;
    for (const auto& [k, v] : spec_.procs.env)
      create.env.push_back(k + "=" + v);
    create.env.push_back("MESHRUN_JOB_ID=" + spec_.name);
    create.cwd = spec_.procs.cwd;
    create.stdin_mode = static_cast<uint8_t>(spec_.output.stdin_mode);
    create.raw_output = spec_.output.raw;
    auto procs = co_await client_.spawn_procs(*hosts, spec_.procs.name, plan_.per_host, create,
                                              spec_.procs.spawn_timeout);
    if (!procs) co_return report_failure(kExitLaunchFailed);
    phase("procs ready");

    if (spec_.command_mode()) {
      const auto deadline =
          spec_.timeout.count() > 0 ? Clock::now() + spec_.timeout : Clock::time_point::max();
      const bool done = co_await client_.wait_all_exited(deadline);
      if (!done) {
        std::string running;
        const auto& ps = client_.procs();
        for (uint32_t r = 0; r < ps.size(); ++r)
          if (ps[r].state != ProcState::exited)
            running += (running.empty() ? "" : ", ") + std::to_string(r);
        log::error("timed out after " + std::to_string(spec_.timeout.count() / 1000.0) +
                   " s; ranks still running: " + running);
        client_.fail({"timeout", kExitTimeout});
        co_return kExitTimeout;
      }
      if (client_.failure()) co_return report_failure(1);
      co_return 0;
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
    write_all(STDOUT_FILENO, out.data(), out.size());
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
  OutputWriter output_;
  const Secret& secret_;
  bool interrupted_ = false;
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
  auto secret = Secret::generate();
  if (!secret) {
    log::error(secret.error().message);
    return kExitLaunchFailed;
  }
  auto dir = JobDir::create(make_job_id());
  if (!dir) {
    log::error(dir.error().message);
    return kExitLaunchFailed;
  }
  asio::io_context io(1);
  Address bootstrap;
  bootstrap.kind = Address::Kind::unix_socket;
  bootstrap.path = dir->path() + "/bootstrap.sock";

  Job job(io, spec, *plan, *secret);
  int status = kExitLaunchFailed;
  asio::signal_set interrupts(io, SIGINT, SIGTERM);
  std::function<void()> arm_interrupts = [&] {
    interrupts.async_wait([&](asio::error_code ec, int sig) {
      if (ec) return;
      job.interrupt(sig);
      arm_interrupts();
    });
  };
  arm_interrupts();
  asio::signal_set forwarded(io, SIGUSR1, SIGUSR2, SIGALRM);
  forwarded.add(SIGCONT);
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
