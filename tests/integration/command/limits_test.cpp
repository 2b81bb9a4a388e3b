// Open-file limits: meshrun and its agents raise the soft limit to the hard
// one, ranks get the limit meshrun was started with, and a host that cannot
// hold its ranks is refused before any rank starts, naming the number needed.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "harness.hpp"

using namespace meshrun_test;

namespace {
std::vector<std::string> prlimit(const std::string& nofile) {
  return {"prlimit", "--nofile=" + nofile, "--"};
}
}  // namespace

TEST_CASE("a soft open-file limit below what a host needs is raised to the hard limit",
          "[command][limits]") {
  Options opt;
  opt.wrapper = prlimit("256:4096");
  // 60 ranks on one host hold more than 256 descriptors in their agent.
  auto r = run({"-n", "60", "--", "sh", "-c", "echo limit $(ulimit -n)"}, opt);
  INFO(r.err);
  CHECK(r.status == 0);
  CHECK(count(r.out, "limit 256\n") == 60);  // ranks keep the limit meshrun got
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("a hard open-file limit too low for a host's ranks is refused before anything starts",
          "[command][limits]") {
  Options opt;
  opt.wrapper = prlimit("256:256");
  auto r = run({"-n", "30", "--", "sh", "-c", "echo started"}, opt);
  INFO(r.err);
  CHECK(r.status == 125);
  CHECK_THAT(r.err, Catch::Contains("30 ranks on one host need 364 open files, but the hard "
                                    "limit here is 256"));
  CHECK(count(r.out, "started") == 0);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("an agent whose hard open-file limit is too low refuses its ranks before starting one",
          "[command][limits]") {
  TempDir dir;
  const std::string agent = dir.path + "/limited-agent";
  std::ofstream(agent) << "#!/bin/sh\nexec prlimit --nofile=256:256 -- " MESHRUN_AGENT_BIN
                          " \"$@\"\n";
  REQUIRE(::chmod(agent.c_str(), 0755) == 0);
  auto r = run({"--agent-path", agent, "-n", "30", "--", "sh", "-c", "echo started"});
  INFO(r.err);
  CHECK(r.status == 125);
  CHECK_THAT(r.err, Catch::Contains("could not start: 30 ranks on one host need 364 open files, "
                                    "but the hard limit here is 256"));
  CHECK(count(r.out, "started") == 0);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("a TOML header nested 50,000 tables deep is refused by --check, with file and line",
          "[command][limits]") {
  TempDir dir;
  std::string header = "[a";
  for (int i = 1; i < 50000; ++i)
    header += ".a";
  const std::string spec = dir.path + "/deep.toml";
  std::ofstream(spec) << "[job]\nname = \"deep\"\n" << header << "]\nx = 1\n";
  auto r = run({"--check", spec});
  CHECK(r.status == 2);  // not a crash (SIGSEGV in the TOML parser)
  CHECK_THAT(r.err, Catch::Contains(spec + ":3: tables nested 129 deep here; a job spec may "
                                           "nest at most 128"));
}
