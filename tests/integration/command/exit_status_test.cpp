// meshrun's exit status, the one line that names a failure, and that no
// process of the job outlives meshrun.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "harness.hpp"

using namespace meshrun_test;

namespace {

std::vector<std::string> job(std::vector<std::string> flags, const std::string& script) {
  flags.push_back("--");
  flags.push_back("sh");
  flags.push_back("-c");
  flags.push_back(script);
  return flags;
}

// Rank `k` does `action`; the others wait to be ended by meshrun.
std::string rank_k(int k, const std::string& action) {
  return "if [ \"$MESHRUN_RANK\" = " + std::to_string(k) + " ]; then " + action +
         "; fi; sleep 100 & wait";
}

size_t error_lines(const std::string& err) {
  return count(err, "meshrun: error:");
}

}  // namespace

TEST_CASE("every rank exits 0: meshrun exits 0", "[command][status]") {
  auto r = run(job({"-n", "4"}, "exit 0"));
  CHECK(r.status == 0);
  CHECK(r.err.empty());
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("a rank's exit code is meshrun's and the others are stopped", "[command][status]") {
  const int code = GENERATE(1, 3, 255);
  const int k = GENERATE(0, 2);
  CAPTURE(code, k);
  auto r = run(job({"-n", "4", "--grace", "10s"}, rank_k(k, "exit " + std::to_string(code))));
  CHECK(r.status == code);
  CHECK(error_lines(r.err) == 1);
  CHECK(r.err.find("rank " + std::to_string(k) + " (host 0, ") != std::string::npos);
  CHECK(r.err.find("exit code " + std::to_string(code)) != std::string::npos);
  // The others were sent SIGTERM, not left to run out their 100 s.
  CHECK(r.seconds < 30);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("a rank killed by a signal: 128 + the signal and its name", "[command][status]") {
  const auto [sig, name] = GENERATE(std::pair<int, const char*>{11, "SIGSEGV"},
                                    std::pair<int, const char*>{9, "SIGKILL"});
  CAPTURE(sig);
  auto r = run(job({"-n", "3", "-N", "3"}, rank_k(1, "kill -" + std::to_string(sig) + " $$")));
  CHECK(r.status == 128 + sig);
  CHECK(error_lines(r.err) == 1);
  CHECK(r.err.find("rank 1 (host 1, ") != std::string::npos);
  CHECK(r.err.find(name) != std::string::npos);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("ranks ended by meshrun's SIGTERM do not count as failures", "[command][status]") {
  // Rank 0 (lower than the failing rank) turns the SIGTERM into exit 1; the
  // job still ends with rank 3's status, not rank 0's.
  auto r = run(job({"-n", "4"},
                   "trap 'exit 1' TERM; if [ $MESHRUN_RANK = 3 ]; then exit 5; fi; "
                   "sleep 100 & echo ready; wait"));
  CHECK(r.status == 5);
  CHECK(error_lines(r.err) == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("two ranks fail on their own: the lowest rank's status and not the first's",
          "[command][status]") {
  // Rank 1 exits 2 but its report is held back: a child in a session of its
  // own (so not ended with rank 1's group) keeps its stdout open until rank 0
  // is gone, which happens only when meshrun ends the job for rank 3's
  // failure. Rank 3 exits 5 once rank 1 is reaped, so it is reported first.
  // Both failed before any SIGTERM: the status is rank 1's. Every wait is on
  // an event (a file appearing, a pid going), each bounded to 30 s.
  TempDir dir;
  const std::string d = dir.path;
  auto wait_file = [&](const std::string& f) {
    return "i=0; while [ ! -e " + d + "/" + f + " ] && [ $i -lt 3000 ]; do sleep 0.01; " +
           "i=$((i+1)); done; ";
  };
  auto publish_pid = [&](const std::string& f) {
    return "echo $$ > " + d + "/" + f + ".tmp; mv " + d + "/" + f + ".tmp " + d + "/" + f + "; ";
  };
  const std::string script =
      "if [ $MESHRUN_RANK = 0 ]; then " + publish_pid("r0") + "fi; " +
      "if [ $MESHRUN_RANK = 1 ]; then " + wait_file("r0") + "p=$(cat " + d + "/r0); " +
      // The holder says it has left rank 1's group before rank 1 exits.
      "setsid sh -c \"touch " + d + "/held; i=0; while kill -0 $p 2>/dev/null && " +
      "[ \\$i -lt 3000 ]; do sleep 0.01; i=\\$((i+1)); done\" & " + wait_file("held") +
      publish_pid("r1") + "exit 2; fi; " + "if [ $MESHRUN_RANK = 3 ]; then " + wait_file("r1") +
      "p=$(cat " + d + "/r1); " +
      "i=0; while kill -0 $p 2>/dev/null && [ $i -lt 3000 ]; do sleep 0.01; i=$((i+1)); done; " +
      "exit 5; fi; " + "sleep 100 & wait";
  auto r = run(job({"-n", "4"}, script));
  INFO("stderr: " << r.err);
  // The status and the message agree: the lowest rank that failed, the
  // others counted, whatever order their reports came in.
  CHECK(r.status == 2);
  CHECK(error_lines(r.err) == 1);
  CHECK(r.err.find("rank 1 ") != std::string::npos);
  CHECK(r.err.find("exit code 2") != std::string::npos);
  CHECK(r.err.find("1 other rank failed too") != std::string::npos);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("a command that is not found: 127 said once", "[command][status]") {
  const int hosts = GENERATE(1, 2);
  CAPTURE(hosts);
  auto r = run({"-n", "4", "-N", std::to_string(hosts), "--", "no-such-command-xyz"});
  CHECK(r.status == 127);
  CHECK(count(r.err, "no-such-command-xyz") == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("a command that is not executable: 126", "[command][status]") {
  TempDir dir;
  const std::string path = dir.path + "/not-exec";
  std::ofstream(path) << "#!/bin/sh\necho hi\n";
  ::chmod(path.c_str(), 0644);
  auto r = run({"-n", "2", "--", path});
  CHECK(r.status == 126);
  CHECK(count(r.err, path) == 1);
}

TEST_CASE("timeout: 124 and the ranks still running", "[command][status]") {
  auto r = run(job({"-n", "3", "--timeout", "1s", "--grace", "1s"},
                   "if [ $MESHRUN_RANK = 1 ]; then exit 0; fi; trap '' TERM; sleep 100 & wait"));
  CHECK(r.status == 124);
  // The limit as people write durations ("1 s", not "1000 ms" or "1.000000").
  CHECK_THAT(r.err,
             Catch::Contains("meshrun: error: timed out after 1 s; ranks still running: 0, 2"));
  // SIGTERM is ignored by the ranks: SIGKILL after the 1 s grace ends them.
  CHECK(r.seconds < 30);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("usage and spec errors: 2", "[command][status]") {
  CHECK(run({"--no-such-flag", "--", "true"}).status == 2);
  CHECK(run({"-n", "2", "-N", "3", "--", "true"}).status == 2);
  CHECK(run({"--stdin", "rank7", "--", "true"}).status == 2);
  CHECK(run({"--timeout", "soon", "--", "true"}).status == 2);
  CHECK(run({}).status == 2);
}
