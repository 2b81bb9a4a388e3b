// What a job leaves on the machine: nothing, whichever signal ends meshrun;
// and what a killed meshrun left is removed by the next run.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "harness.hpp"
#include "process/proc_stat.hpp"

using namespace meshrun_test;
namespace fs = std::filesystem;

namespace {

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

TEST_CASE("a job directory left by a SIGKILLed meshrun is removed by the next run",
          "[command][signal]") {
  TempDir tmp;
  Options opt;
  opt.env = {"TMPDIR=" + tmp.path};
  {
    Meshrun m({"-n", "1", "--", "sh", "-c", "echo ready; exec sleep 100"}, opt);
    REQUIRE(m.wait_for_stdout("ready"));
    m.signal(SIGKILL);
    auto r = m.finish();
    CHECK(r.status == 128 + SIGKILL);
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
}
