// Tracking a job's processes against real ones: the process tree below a
// process, killing by identity, and a job cgroup that holds what its members
// start (in sessions and groups of their own) and is killed and removed whole.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "process/cgroup.hpp"
#include "process/proc_tree.hpp"
#include "process/spawn.hpp"

using namespace meshrun;

namespace {

bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

// A shell that leaves a daemon (its own session) and a plain child, prints
// their pids, and waits.
pid_t start_family(int out_fd) {
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c",
            "setsid sleep 1000 </dev/null & echo $!; sleep 1001 & echo $!; exec sleep 1002"};
  o.env = {"PATH=/usr/bin:/bin"};
  o.stdout_fd = out_fd;
  o.die_with_parent = false;
  auto s = spawn_process(o);
  REQUIRE(s);
  ::close(s->pidfd);
  return s->pid;
}

std::vector<pid_t> pids_of(const std::vector<ProcStat>& procs) {
  std::vector<pid_t> out;
  for (const auto& p : procs)
    out.push_back(p.pid);
  std::sort(out.begin(), out.end());
  return out;
}

void reap_all() {
  while (::waitpid(-1, nullptr, WNOHANG) > 0) {
  }
}

}  // namespace

TEST_CASE("descendants lists the tree below a process and kill_processes ends it",
          "[process][tracking]") {
  int p[2];
  REQUIRE(::pipe(p) == 0);
  const pid_t shell = start_family(p[1]);
  ::close(p[1]);
  FILE* in = ::fdopen(p[0], "r");
  long daemon = 0, child = 0;
  REQUIRE(std::fscanf(in, "%ld %ld", &daemon, &child) == 2);
  std::fclose(in);
  // The shell execs its last sleep: three processes below us, one level down
  // and two below it.
  REQUIRE(eventually([&] { return descendants(::getpid()).size() == 3; }));
  auto below = descendants(::getpid());
  std::vector<pid_t> expected{shell, static_cast<pid_t>(daemon), static_cast<pid_t>(child)};
  std::sort(expected.begin(), expected.end());
  CHECK(pids_of(below) == expected);
  CHECK(pids_of(descendants(::getpid(), shell)).empty());  // skip takes the subtree

  // A listed process whose start time no longer matches is another one now.
  auto stale = below;
  for (auto& s : stale)
    s.start_time += 1;
  CHECK(kill_processes(stale) == 0);
  CHECK(kill_processes(below) == 3);
  reap_all();  // the shell (ours); its orphans went to init or a subreaper
  CHECK(eventually([&] {
    reap_all();
    return descendants(::getpid()).empty();
  }));
}

TEST_CASE("a job cgroup holds what its members start and is killed and removed whole",
          "[process][tracking][cgroup]") {
  if (::geteuid() != 0 || !own_cgroup_dir()) {
    WARN("no writable cgroup v2 here: the subreaper tests cover this machine");
    return;
  }
  auto cg = JobCgroup::create("meshrun-unit-" + std::to_string(::getpid()));
  REQUIRE(cg);
  const std::string path = cg->path();
  CHECK(std::filesystem::is_directory(path));
  CHECK_FALSE(cgroup_populated(path));
  CHECK_FALSE(cgroup_kill_method(path).empty());

  int p[2];
  REQUIRE(::pipe(p) == 0);
  SpawnOptions o;
  o.argv = {"/bin/sh", "-c",
            "setsid sleep 1000 </dev/null & echo $!; sleep 1001 & echo $!; exec sleep 1002"};
  o.env = {"PATH=/usr/bin:/bin"};
  o.stdout_fd = p[1];
  o.die_with_parent = false;
  o.cgroup_procs_fd = cg->procs_fd();
  auto s = spawn_process(o);
  REQUIRE(s);
  ::close(s->pidfd);
  ::close(p[1]);
  FILE* in = ::fdopen(p[0], "r");
  long daemon = 0, child = 0;
  REQUIRE(std::fscanf(in, "%ld %ld", &daemon, &child) == 2);
  std::fclose(in);
  // All three are in the job's cgroup, the daemon's own session too.
  const std::string place = path.substr(path.rfind("/meshrun-unit-"));
  for (long pid : {static_cast<long>(s->pid), daemon, child}) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/cgroup");
    std::string text((std::istreambuf_iterator<char>(f)), {});
    CAPTURE(pid, text);
    CHECK(text.find("0::") != std::string::npos);
    CHECK(text.find(place + "\n") != std::string::npos);
  }
  CHECK(cgroup_populated(path));
  CHECK(cgroup_kill_and_remove(path, std::chrono::milliseconds(5000)));
  CHECK_FALSE(std::filesystem::exists(path));
  for (long pid : {daemon, child})
    CHECK(eventually([&] {
      reap_all();
      const auto st = read_proc_stat(static_cast<pid_t>(pid));
      return !st || st->state == 'Z';
    }));
  reap_all();
}

TEST_CASE("cgroup_dir finds a cgroup under the cgroup2 mount", "[process][tracking][cgroup]") {
  auto root = cgroup_dir("/");
  if (!root) {
    WARN("no cgroup v2 mounted here");
    return;
  }
  CHECK(std::filesystem::exists(*root + "/cgroup.procs"));
  auto sub = cgroup_dir("/a/b");
  REQUIRE(sub);
  CHECK(*sub == (*root == "/" ? std::string() : *root) + "/a/b");
}
