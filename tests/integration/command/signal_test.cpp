// Signals to meshrun: forwarded ones reach every rank; SIGINT/SIGTERM end
// the job (SIGTERM, then SIGKILL after the grace, or at once on a second
// SIGINT); meshrun returns only once every rank is gone.
#include <signal.h>

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

TEST_CASE("SIGTSTP goes to the ranks while meshrun itself keeps running", "[command][signal]") {
  Meshrun m(
      sh({"-n", "2", "-l"}, "trap 'echo got TSTP; exit 0' TSTP; sleep 100 & echo ready; wait"));
  REQUIRE(m.wait_for_stdout("ready", 2));
  m.signal(SIGTSTP);
  REQUIRE(m.wait_for_stdout("got TSTP", 2));
  auto r = m.finish();
  CHECK(r.status == 0);  // meshrun was not stopped: it saw both ranks exit
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("SIGINT once: SIGTERM to every rank and exit 130", "[command][signal]") {
  Meshrun m(sh({"-n", "4", "-N", "2", "-l", "--grace", "30s"},
               "trap 'echo got TERM; exit 0' TERM; sleep 100 & echo ready; wait"));
  REQUIRE(m.wait_for_stdout("ready", 4));
  m.signal(SIGINT);
  auto r = m.finish();
  CHECK(r.status == 130);
  CHECK(count(r.out, "got TERM") == 4);
  CHECK(r.seconds < 25);  // well inside the grace: nobody needed SIGKILL
  CHECK(count(r.err, "meshrun: error:") == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("SIGTERM to meshrun: exit 143", "[command][signal]") {
  Meshrun m(sh({"-n", "2"}, "sleep 100 & echo ready; wait"));
  REQUIRE(m.wait_for_stdout("ready", 2));
  m.signal(SIGTERM);
  auto r = m.finish();
  CHECK(r.status == 143);
  CHECK(r.leftovers == std::vector<std::string>{});
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
