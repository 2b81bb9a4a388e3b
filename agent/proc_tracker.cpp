#include "agent/proc_tracker.hpp"

#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <filesystem>
#include <fstream>
#include <optional>

#include "agent/keeper.hpp"
#include "process/cgroup.hpp"
#include "process/proc_stat.hpp"
#include "process/proc_tree.hpp"
#include "process/tracking.hpp"
#include "util/log.hpp"

namespace meshrun::proc_tracker {
namespace {

using Millis = std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr Millis kPoll{2};

struct State {
  bool begun = false;
  std::optional<JobCgroup> cgroup;
  std::string description = "none (not a host yet)";
};

State& state() {
  static State s;
  return s;
}

constexpr const char* kPrefix = "meshrun-";

// "meshrun-JOB-hRANK-PID-START": the job and host, and the keeper that
// removes it (so that a later job can tell a cgroup nobody will remove).
std::string cgroup_name(const std::string& job_id, uint32_t host_rank) {
  std::string name = kPrefix;
  for (char c : job_id)
    if (std::isalnum(static_cast<unsigned char>(c))) name += c;
  ProcessIdentity owner;
  owner.pid = keeper::pid();
  if (auto st = read_proc_stat(owner.pid)) owner.start_time = st->start_time;
  return name + "-h" + std::to_string(host_rank) + "-" + std::to_string(owner.pid) + "-" +
         std::to_string(owner.start_time);
}

// The keeper named in a cgroup's name, if it is one of ours.
std::optional<ProcessIdentity> owner_of(const std::string& name) {
  if (!name.starts_with(kPrefix)) return std::nullopt;
  const auto last = name.rfind('-');
  if (last == std::string::npos || last == 0) return std::nullopt;
  const auto before = name.rfind('-', last - 1);
  if (before == std::string::npos) return std::nullopt;
  std::string text = name.substr(before + 1);
  text[last - before - 1] = ' ';
  return ProcessIdentity::parse(text);
}

// Cgroups beside ours whose keeper is gone (killed along with its agent):
// what is still in them belongs to a dead job.
void remove_stale(const std::string& parent) {
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(parent, ec)) {
    const std::string name = e.path().filename().string();
    const auto owner = owner_of(name);
    if (!owner || owner->alive() || !e.is_directory(ec)) continue;
    if (cgroup_kill_and_remove(e.path().string(), Millis(2000)))
      log::verbose("removed the cgroup " + e.path().string() + " of a job whose agent was killed");
  }
}

asio::awaitable<void> beat(asio::io_context& io, Millis period) {
  asio::steady_timer timer(io);
  for (;;) {
    keeper::beat();
    timer.expires_after(period);
    auto [ec] = co_await timer.async_wait(kTuple);
    if (ec) co_return;
  }
}

size_t count_procs(const std::string& cgroup) {
  std::ifstream in(cgroup + "/cgroup.procs");
  size_t n = 0;
  for (long pid; in >> pid;)
    ++n;
  return n;
}

}  // namespace

Status begin(asio::io_context& io, const std::string& job_id, uint32_t host_rank,
             Millis heartbeat_timeout) {
  State& s = state();
  if (s.begun) return {};
  s.begun = true;
  auto mode = tracking_from_env();
  if (!mode) return mode.error();
  std::string why_not = "MESHRUN_PROC_TRACKING=subreaper";
  if (*mode != Tracking::subreaper) {
    auto cg = JobCgroup::create(cgroup_name(job_id, host_rank));
    if (cg) remove_stale(std::filesystem::path(cg->path()).parent_path().string());
    if (cg) {
      s.cgroup.emplace(std::move(*cg));
      keeper::set_cgroup(s.cgroup->path());
      const std::string method = cgroup_kill_method(s.cgroup->path());
      s.description = "cgroup " + s.cgroup->path() + " (ended with " +
                      (method.empty() ? std::string("SIGKILL to each process") : method) + ")";
    } else if (*mode == Tracking::cgroup) {
      return make_error(Errc::invalid_argument,
                        "MESHRUN_PROC_TRACKING=cgroup: " + cg.error().message);
    } else {
      why_not = cg.error().message;
    }
  }
  if (!s.cgroup) s.description = "child subreaper (no cgroup: " + why_not + ")";
  // Longer than the launcher's own limit, so that it names a silent host
  // first, and short of its hard kill of local agents.
  keeper::set_silence_limit(heartbeat_timeout + std::max(heartbeat_timeout / 2, Millis(1000)));
  asio::co_spawn(io, beat(io, std::max(Millis(50), heartbeat_timeout / 4)), asio::detached);
  return {};
}

const std::string& description() {
  return state().description;
}

int spawn_cgroup_fd() {
  const State& s = state();
  return s.cgroup ? s.cgroup->procs_fd() : -1;
}

asio::awaitable<void> sweep(asio::io_context& io, Millis limit) {
  State& s = state();
  const auto deadline = Clock::now() + limit;
  asio::steady_timer timer(io);
  auto pause = [&]() -> asio::awaitable<void> {
    timer.expires_after(kPoll);
    co_await timer.async_wait(kTuple);
  };
  if (s.cgroup) {
    const std::string& path = s.cgroup->path();
    if (!cgroup_populated(path)) co_return;
    const size_t n = count_procs(path);
    cgroup_kill(path);
    while (cgroup_populated(path) && Clock::now() < deadline)
      co_await pause();
    log::verbose("killed " + std::to_string(n) + " processes the ranks left in " + path);
    co_return;
  }
  if (keeper::pid() == 0) co_return;
  size_t killed = 0;
  for (;;) {
    const auto left = descendants(keeper::pid(), ::getpid());
    if (left.empty() || Clock::now() >= deadline) break;
    killed += kill_processes(left);
    co_await pause();
  }
  if (killed > 0)
    log::verbose("killed " + std::to_string(killed) + " processes the ranks left behind");
}

}  // namespace meshrun::proc_tracker
