// No process of a job escapes it: what ranks start in a session of its own
// (a daemon), in a process group of its own, or as plain children ends with
// the job, whether the job ends by itself, by a signal to meshrun (even
// SIGKILL), or because a host agent was killed or stopped. Each case runs with
// the job's cgroup (where this machine lets the agent make one) and with the
// child subreaper that replaces it elsewhere; afterwards no process, cgroup,
// job directory or socket of the job remains.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <regex>

#include "harness.hpp"
#include "process/cgroup.hpp"

using namespace meshrun_test;
namespace fs = std::filesystem;

namespace {

using std::chrono_literals::operator""s;

// Each rank leaves a daemon (setsid), a process in a group of its own
// (setpgrp) and a plain background child, says where it is, and then waits
// for `until` (a shell command).
std::string escapees(const std::string& until) {
  return R"SH(( setsid sh -c 'exec sleep 1234.5' </dev/null >/dev/null 2>&1 & )
perl -e 'setpgrp(0, 0); exec "sleep", "1235.5"' </dev/null >/dev/null 2>&1 &
sleep 1236.5 &
echo "cgroup $(grep '^0::' /proc/self/cgroup | cut -c4-)"
echo ready
)SH" + until;
}

size_t count_running(const std::string& marker, const std::string& arg) {
  size_t n = 0;
  for (pid_t p : processes_with_marker(marker)) {
    std::ifstream in("/proc/" + std::to_string(p) + "/cmdline", std::ios::binary);
    std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmd == "sleep" + std::string(1, '\0') + arg + std::string(1, '\0')) ++n;
  }
  return n;
}

// Every escapee of every rank runs: the test is about to prove something.
void require_escapees(const Meshrun& m, size_t ranks) {
  for (const char* arg : {"1234.5", "1235.5", "1236.5"}) {
    CAPTURE(arg);
    REQUIRE(wait_until([&] { return count_running(m.marker(), arg) == ranks; }, 10s));
  }
}

// The job's cgroups, as its ranks named them ("cgroup /meshrun-...-h0").
std::vector<std::string> job_cgroups(const std::string& out) {
  std::vector<std::string> dirs;
  std::regex re(R"(cgroup (\S*/meshrun-[0-9a-f]+-h\d+-\d+-\d+)$)");
  for (const auto& line : lines(out)) {
    std::smatch m;
    if (!std::regex_search(line, m, re)) continue;
    auto dir = meshrun::cgroup_dir(m[1]);
    if (dir && std::find(dirs.begin(), dirs.end(), *dir) == dirs.end()) dirs.push_back(*dir);
  }
  return dirs;
}

pid_t agent_of_host(const std::string& marker, int host) {
  for (pid_t p : processes_with_marker(marker)) {
    const std::string proc = "/proc/" + std::to_string(p);
    std::ifstream cmd(proc + "/cmdline", std::ios::binary);
    std::string args((std::istreambuf_iterator<char>(cmd)), std::istreambuf_iterator<char>());
    if (args.find(std::string(1, '\0') + "bootstrap") == std::string::npos) continue;
    std::ifstream env(proc + "/environ", std::ios::binary);
    std::string vars((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    if (vars.find(std::string(1, '\0') + "MESHRUN_HOST_INDEX=" + std::to_string(host) +
                  std::string(1, '\0')) != std::string::npos)
      return p;
  }
  return -1;
}

struct Setup {
  std::string tracking;
  TempDir tmp;  // TMPDIR: the job directory lives here
  Options opt;
  explicit Setup(std::string how) : tracking(std::move(how)) {
    opt.env = {"TMPDIR=" + tmp.path, "MESHRUN_PROC_TRACKING=" + tracking};
  }
  // What a job leaves: nothing, once meshrun is gone.
  void check_nothing_left(const Result& r) const {
    INFO(r.out << r.err);
    CHECK(r.leftovers == std::vector<std::string>{});
    const auto cgroups = job_cgroups(r.out);
    if (tracking == "cgroup") CHECK_FALSE(cgroups.empty());
    for (const auto& dir : cgroups) {
      CAPTURE(dir);
      CHECK_FALSE(fs::exists(dir));
    }
    CHECK(fs::is_empty(tmp.path));  // the job directory and its sockets
  }
};

// Both trackings where this machine lets a job make a cgroup (root, with
// cgroup v2 writable); elsewhere the subreaper alone, which is what such a
// machine would use.
std::string tracking_mode() {
  static const bool cgroup = [] {
    auto probe = meshrun::JobCgroup::create("meshrun-probe-" + std::to_string(::getpid()));
    if (probe) meshrun::cgroup_remove(probe->path());
    return static_cast<bool>(probe);
  }();
  if (!cgroup) {
    WARN("no writable cgroup v2 here: only the subreaper tracking is tested");
    return GENERATE(as<std::string>(), "subreaper");
  }
  return GENERATE(as<std::string>(), "cgroup", "subreaper");
}

}  // namespace

TEST_CASE("the issue's daemonising rank: meshrun exits 0 and the daemon is gone",
          "[command][contain]") {
  Setup s(tracking_mode());
  CAPTURE(s.tracking);
  auto r = run({"-v", "-n", "2", "--", "sh", "-c",
                "( setsid sh -c \"exec sleep 1234.5\" </dev/null >/dev/null 2>&1 & ); "
                "echo \"cgroup $(grep '^0::' /proc/self/cgroup | cut -c4-)\"; sleep 0.3"},
               s.opt);
  CHECK(r.status == 0);
  CHECK_THAT(r.err, Catch::Contains(s.tracking == "subreaper" ? "tracked by child subreaper"
                                                              : "tracked by cgroup "));
  s.check_nothing_left(r);
}

TEST_CASE("what ranks start ends with the job, however the job ends", "[command][contain]") {
  Setup s(tracking_mode());
  const std::string how = GENERATE("exit", "SIGINT", "SIGTERM", "SIGKILL");
  CAPTURE(s.tracking, how);
  const std::string go = s.tmp.path + "/go";
  Meshrun m({"-v", "-N", "2", "-n", "4", "-l", "--", "sh", "-c",
             escapees("while [ ! -e " + go + " ]; do sleep 0.05; done")},
            s.opt);
  REQUIRE(m.wait_for_stdout("ready", 4));
  require_escapees(m, 4);
  int expected = 0;
  if (how == "exit") {
    std::ofstream(go) << "";
  } else {
    const int sig = how == "SIGINT" ? SIGINT : how == "SIGTERM" ? SIGTERM : SIGKILL;
    expected = 128 + sig;
    m.signal(sig);
    // A SIGKILLed meshrun does not wait for its hosts: they notice on their own.
    if (sig == SIGKILL)
      CHECK(wait_until([&] { return processes_with_marker(m.marker()).empty(); }, 15s));
  }
  auto r = m.finish();
  CHECK(r.status == expected);
  CHECK(count(r.err, "tracked by " + std::string(s.tracking == "subreaper" ? "child subreaper"
                                                                           : "cgroup ")) == 2);
  std::remove(go.c_str());
  s.check_nothing_left(r);
}

TEST_CASE("SIGKILL of one host agent of a -N 2 -n 4 job: its ranks' children end too",
          "[command][contain]") {
  Setup s(tracking_mode());
  CAPTURE(s.tracking);
  Meshrun m({"-N", "2", "-n", "4", "-l", "--", "sh", "-c", escapees("wait")}, s.opt);
  REQUIRE(m.wait_for_stdout("ready", 4));
  require_escapees(m, 4);
  const pid_t agent = agent_of_host(m.marker(), 1);
  REQUIRE(agent > 0);
  REQUIRE(::kill(agent, SIGKILL) == 0);
  auto r = m.finish();
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("host 1 (local1)"));
  s.check_nothing_left(r);
}

TEST_CASE("SIGTERM to one host agent (a SLURM time limit, scancel): its ranks end and are reported",
          "[command][contain]") {
  Setup s(tracking_mode());
  CAPTURE(s.tracking);
  Meshrun m({"-N", "2", "-n", "4", "-l", "--", "sh", "-c", escapees("wait")}, s.opt);
  REQUIRE(m.wait_for_stdout("ready", 4));
  require_escapees(m, 4);
  const pid_t agent = agent_of_host(m.marker(), 1);
  REQUIRE(agent > 0);
  REQUIRE(::kill(agent, SIGTERM) == 0);
  auto r = m.finish();
  // The job fails, the agent says why, and its ranks end of the signal.
  // Not asserted: that every status arrives before the agent leaves (a
  // known race, see the closing note of issue 12).
  CHECK(r.status != 0);
  CHECK_THAT(r.err, Catch::Contains("meshrun-agent[host 1]: warning: received Terminated; "
                                    "stopping 2 procs"));
  CHECK_THAT(r.err, !Catch::Contains("lost the launcher"));
  s.check_nothing_left(r);
}

TEST_CASE("a rank that SIGSTOPs its own host agent: the job fails and nothing is left",
          "[command][contain]") {
  Setup s(tracking_mode());
  CAPTURE(s.tracking);
  const std::string go = s.tmp.path + "/go";
  Meshrun m({"--heartbeat-timeout", "1s", "-N", "2", "-n", "4", "-l", "--", "sh", "-c",
             escapees("[ $MESHRUN_RANK = 3 ] || { wait; exit; }\nwhile [ ! -e " + go +
                      " ]; do sleep 0.05; done; kill -STOP $PPID; wait")},
            s.opt);
  REQUIRE(m.wait_for_stdout("ready", 4));
  require_escapees(m, 4);
  std::ofstream(go) << "";
  auto r = m.finish();
  CHECK(r.status == 1);
  CHECK_THAT(r.err, Catch::Contains("host 1 (local1) has been silent for 1s"));
  // Its keeper, not stopped, ended the agent and the job's processes there.
  CHECK_THAT(r.err, Catch::Contains("meshrun-agent[host 1 keeper]: warning: the host agent"));
  CHECK(r.seconds < 15);
  std::remove(go.c_str());
  s.check_nothing_left(r);
}
