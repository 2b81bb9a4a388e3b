// What a job leaves on the machine: nothing, whichever signal ends meshrun;
// and what a killed meshrun left (its job directory, its cgroup) is removed
// by the next run.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <functional>

#include "harness.hpp"
#include "process/cgroup.hpp"
#include "process/proc_stat.hpp"

using namespace meshrun_test;
namespace fs = std::filesystem;

namespace {

using std::chrono_literals::operator""s;

std::vector<std::string> entries(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir))
    out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A job directory as a launcher makes it, owned by `owner` ("PID START").
void fake_job_dir(const std::string& path, const std::string& owner) {
  fs::create_directory(path);
  std::ofstream(path + "/bootstrap.sock") << "";
  if (!owner.empty()) std::ofstream(path + "/owner") << owner << "\n";
}

}  // namespace

TEST_CASE("SIGHUP to meshrun: the ranks get SIGTERM, exit 129, nothing is left",
          "[command][signal]") {
  TempDir tmp;
  Options opt;
  opt.env = {"TMPDIR=" + tmp.path};
  Meshrun m({"-n", "2", "-l", "--", "sh", "-c",
             "trap 'echo got TERM; exit 0' TERM; sleep 100 & echo ready; wait"},
            opt);
  REQUIRE(m.wait_for_stdout("ready", 2));
  CHECK(entries(tmp.path).size() == 1);  // the job directory
  m.signal(SIGHUP);
  auto r = m.finish();
  INFO(r.err);
  CHECK(r.status == 129);
  CHECK(count(r.out, "got TERM") == 2);
  CHECK_THAT(r.err, Catch::Contains("interrupted by SIGHUP"));
  CHECK(r.leftovers == std::vector<std::string>{});
  CHECK(entries(tmp.path) == std::vector<std::string>{});
}

TEST_CASE("a SIGKILLed meshrun's job directory is removed by its agents", "[command][signal]") {
  TempDir tmp;
  Options opt;
  opt.env = {"TMPDIR=" + tmp.path};
  Meshrun m({"-N", "2", "-n", "2", "--", "sh", "-c", "echo ready; exec sleep 100"}, opt);
  REQUIRE(m.wait_for_stdout("ready", 2));
  REQUIRE(entries(tmp.path).size() == 1);
  m.signal(SIGKILL);
  // The agents see their launcher gone, and that its directory's owner is.
  CHECK(wait_until([&] { return entries(tmp.path).empty(); }, 15s));
  CHECK(wait_until([&] { return processes_with_marker(m.marker()).empty(); }, 15s));
  auto r = m.finish();
  CHECK(r.status == 128 + SIGKILL);
}

TEST_CASE(
    "a job directory left when meshrun and its agents were all killed is removed by the "
    "next run",
    "[command][signal]") {
  TempDir tmp;
  Options opt;
  opt.env = {"TMPDIR=" + tmp.path};
  std::string cgroup;  // where the killed job's rank ran
  {
    Meshrun m(
        {"-n", "1", "--", "sh", "-c",
         "echo cgroup $(grep '^0::' /proc/self/cgroup | cut -c4-); echo ready; exec sleep 100"},
        opt);
    REQUIRE(m.wait_for_stdout("ready"));
    // Everything at once, as an OOM killer or a job scheduler might: all
    // stopped first, so that none sees the others go and cleans up.
    m.signal(SIGSTOP);
    for (int round = 0; round < 3; ++round)
      for (pid_t p : processes_with_marker(m.marker()))
        ::kill(p, SIGSTOP);
    // Children before parents (newer pids first): a parent killed first
    // orphans its stopped children's process group, and the kernel then
    // continues them (SIGHUP, SIGCONT), so they would clean up after all.
    auto procs = processes_with_marker(m.marker());
    std::sort(procs.begin(), procs.end(), std::greater<>());
    for (pid_t p : procs)
      ::kill(p, SIGKILL);
    m.signal(SIGKILL);
    const auto out = m.finish().out;
    const auto at = out.find("cgroup ");
    if (at != std::string::npos && out.find("/meshrun-", at) != std::string::npos) {
      auto dir = meshrun::cgroup_dir(out.substr(at + 7, out.find('\n', at) - at - 7));
      REQUIRE(dir);
      cgroup = *dir;
      CHECK(fs::exists(cgroup));  // nobody was left to remove it
    }
  }
  const auto left = entries(tmp.path);
  REQUIRE(left.size() == 1);  // what the next run has to clean up
  CHECK(left[0].starts_with("meshrun-"));

  // Beside it: directories whose owner lives (kept), whose owner's pid now
  // belongs to another process (removed), without an owner yet (kept), and
  // another user's (kept).
  const auto self = meshrun::ProcessIdentity::self();
  fake_job_dir(tmp.path + "/meshrun-live-a", self.to_string());
  fake_job_dir(tmp.path + "/meshrun-reused-b",
               std::to_string(self.pid) + " " + std::to_string(self.start_time + 1));
  fake_job_dir(tmp.path + "/meshrun-unowned-c", "");
  fake_job_dir(tmp.path + "/meshrun-other-d", "999999999 1");
  REQUIRE(::chown((tmp.path + "/meshrun-other-d").c_str(), 65534, 65534) == 0);
  fake_job_dir(tmp.path + "/unrelated-e", "999999999 1");

  auto r = run({"-v", "-n", "1", "true"}, opt);
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK_THAT(r.err, Catch::Contains("removed 2 job directories left by killed launchers"));
  CHECK(entries(tmp.path) == std::vector<std::string>{"meshrun-live-a", "meshrun-other-d",
                                                      "meshrun-unowned-c", "unrelated-e"});
  // The killed job's cgroup, too (by the next job's agent on this machine).
  if (!cgroup.empty()) CHECK_FALSE(fs::exists(cgroup));
}
