// Signals to meshrun: forwarded ones reach every rank; SIGINT/SIGTERM end
// the job (SIGTERM, then SIGKILL after the grace, or at once on a second
// SIGINT); meshrun returns only once every rank is gone.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace meshrun_test;

namespace {
std::vector<std::string> sh(std::vector<std::string> flags, const std::string& script) {
  flags.insert(flags.end(), {"--", "sh", "-c", script});
  return flags;
}
}  // namespace

TEST_CASE("SIGUSR1 and SIGUSR2 and SIGALRM reach every rank", "[command][signal]") {
  const auto [sig, name] = GENERATE(std::pair<int, const char*>{SIGUSR1, "USR1"},
                                    std::pair<int, const char*>{SIGUSR2, "USR2"},
                                    std::pair<int, const char*>{SIGALRM, "ALRM"});
  CAPTURE(name);
  Meshrun m(sh({"-n", "4", "-N", "2", "--per-host", "2", "-l"},
               std::string("trap 'echo got ") + name + "; exit 0' " + name +
                   "; sleep 100 & echo ready; wait"));
  REQUIRE(m.wait_for_stdout("ready", 4));
  m.signal(sig);
  auto r = m.finish();
  CHECK(r.status == 0);
  CHECK(count(r.out, std::string("got ") + name) == 4);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("SIGTSTP stops the ranks and then meshrun, SIGCONT continues both", "[command][signal]") {
  // A short heartbeat timeout: a stopped meshrun must not look lost.
  Meshrun m(
      sh({"-n", "2", "-N", "2", "--heartbeat-timeout", "300ms"}, "echo ready; exec sleep 100"));
  REQUIRE(m.wait_for_stdout("ready", 2));
  std::vector<pid_t> ranks;
  for (pid_t p : processes_with_marker(m.marker()))
    if (describe_process(p).find(" sleep 100") != std::string::npos &&
        describe_process(p).find("meshrun") == std::string::npos)
      ranks.push_back(p);
  REQUIRE(ranks.size() == 2);
  auto all_ranks = [&](auto pred) {
    return std::all_of(ranks.begin(), ranks.end(), [&](pid_t p) { return pred(process_state(p)); });
  };
  m.signal(SIGTSTP);
  CHECK(eventually([&] { return all_ranks([](char s) { return s == 'T'; }); }));
  CHECK(eventually([&] { return process_state(m.pid()) == 'T'; }));
  // Stopped for many heartbeat timeouts, nobody gives up on anybody.
  CHECK_FALSE(
      eventually([&] { return !all_ranks([](char s) { return s == 'T'; }); }, Seconds{1.5}));
  m.signal(SIGCONT);
  CHECK(eventually([&] { return process_state(m.pid()) != 'T'; }));
  CHECK(eventually([&] { return all_ranks([](char s) { return s == 'S' || s == 'R'; }); }));
  // Continued, the job goes on and still ends in order.
  CHECK_FALSE(eventually([&] { return process_state(m.pid()) == 0; }, Seconds{1}));
  m.signal(SIGINT);
  auto r = m.finish();
  CHECK(r.status == 130);
  CHECK(r.err.find("lost") == std::string::npos);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("SIGINT once: SIGTERM to every rank, and meshrun ends by SIGINT", "[command][signal]") {
  Meshrun m(sh({"-n", "4", "-N", "2", "-l", "--grace", "30s"},
               "trap 'echo got TERM; exit 0' TERM; sleep 100 & echo ready; wait"));
  REQUIRE(m.wait_for_stdout("ready", 4));
  m.signal(SIGINT);
  // Said at once: what is waited for, and that a second Ctrl-C kills.
  CHECK(m.wait_for_stderr(
      "interrupted by SIGINT: sending SIGTERM to 4 ranks and waiting up to 30 s for them to exit "
      "before SIGKILL; press Ctrl-C again to kill at once"));
  auto r = m.finish();
  CHECK(r.status == 130);
  CHECK(r.signaled);  // re-raised after the teardown, so a shell loop stops
  CHECK(count(r.out, "got TERM") == 4);
  CHECK(r.seconds < 25);  // well inside the grace: nobody needed SIGKILL
  CHECK(count(r.err, "meshrun: error:") == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("SIGTERM to meshrun: exit 143, by SIGTERM", "[command][signal]") {
  Meshrun m(sh({"-n", "2"}, "sleep 100 & echo ready; wait"));
  REQUIRE(m.wait_for_stdout("ready", 2));
  m.signal(SIGTERM);
  auto r = m.finish();
  CHECK(r.status == 143);
  CHECK(r.signaled);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("signal-forward int: ranks get SIGINT first (Python KeyboardInterrupt)",
          "[command][signal]") {
  const std::string python = "/usr/bin/python3";
  const bool have_python = ::access(python.c_str(), X_OK) == 0;
  // A Python rank cleans up in its KeyboardInterrupt handler; without Python
  // a shell trap stands in.
  std::vector<std::string> args = {"-n",  "2", "-l", "--grace", "30s", "--signal-forward",
                                   "int", "--"};
  if (have_python) {
    args.insert(args.end(),
                {python, "-c",
                 "import time\ntry:\n    print('ready', flush=True)\n    time.sleep(100)\n"
                 "except KeyboardInterrupt:\n    print('cleaned up', flush=True)\n"});
  } else {
    args.insert(args.end(),
                {"sh", "-c", "trap 'echo cleaned up; exit 0' INT; sleep 100 & echo ready; wait"});
  }
  Meshrun m(args);
  REQUIRE(m.wait_for_stdout("ready", 2));
  m.signal(SIGINT);
  CHECK(m.wait_for_stderr("sending SIGINT to 2 ranks"));
  auto r = m.finish();
  CHECK(r.status == 130);
  CHECK(count(r.out, "cleaned up") == 2);
  CHECK(r.seconds < 25);  // they ended on SIGINT, not at the grace's SIGKILL
  CHECK(r.err.find("rank 0") == std::string::npos);  // not reported as failures
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("without --signal-forward a rank that only handles SIGINT gets SIGTERM",
          "[command][signal]") {
  Meshrun m(sh({"-n", "1", "--grace", "30s"},
               "trap 'echo got INT; exit 0' INT; trap 'echo got TERM; exit 0' TERM; "
               "sleep 100 & echo ready; wait"));
  REQUIRE(m.wait_for_stdout("ready"));
  m.signal(SIGINT);
  auto r = m.finish();
  CHECK(r.status == 130);
  CHECK(r.out.find("got TERM") != std::string::npos);
  CHECK(r.out.find("got INT") == std::string::npos);
}

TEST_CASE("ranks that ignore SIGTERM are killed after the grace", "[command][signal]") {
  Meshrun m(sh({"-n", "2", "--grace", "1s"}, "trap '' TERM; sleep 100 & echo ready; wait"));
  REQUIRE(m.wait_for_stdout("ready", 2));
  m.signal(SIGINT);
  auto r = m.finish();
  CHECK(r.status == 130);
  CHECK(r.seconds < 20);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("SIGINT twice: every rank is killed at once", "[command][signal]") {
  Meshrun m(sh({"-n", "4", "--grace", "100s"}, "trap '' TERM; sleep 100 & echo ready; wait"));
  REQUIRE(m.wait_for_stdout("ready", 4));
  m.signal(SIGINT);
  // Two signals sent back to back would merge into one.
  REQUIRE(m.wait_for_stderr("interrupted by SIGINT"));
  m.signal(SIGINT);
  auto r = m.finish();
  CHECK(r.status == 130);
  CHECK(r.seconds < 30);  // not the 100 s grace
  CHECK(r.leftovers == std::vector<std::string>{});
}
