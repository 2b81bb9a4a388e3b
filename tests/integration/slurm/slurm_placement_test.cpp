// SLURM placement and the srun allocator without a SLURM cluster: the
// allocation comes from the environment, srun is a stand-in script.
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <fstream>
#include <string>

#include "alloc/placement.hpp"
#include "alloc/slurm_allocator.hpp"

using namespace meshrun;

namespace {

// Sets the SLURM variables for one test and clears them afterwards.
struct FakeAllocation {
  FakeAllocation(const char* nodelist, const char* tasks, const char* ntasks = nullptr) {
    clear();
    ::setenv("SLURM_JOB_ID", "4242", 1);
    if (nodelist) ::setenv("SLURM_JOB_NODELIST", nodelist, 1);
    if (tasks) ::setenv("SLURM_TASKS_PER_NODE", tasks, 1);
    if (ntasks) ::setenv("SLURM_NTASKS", ntasks, 1);
  }
  ~FakeAllocation() { clear(); }
  static void clear() {
    for (const char* v :
         {"SLURM_JOB_ID", "SLURM_JOB_NODELIST", "SLURM_TASKS_PER_NODE", "SLURM_NTASKS"})
      ::unsetenv(v);
  }
};

JobSpec command_job(uint32_t count = 0, uint32_t per_host = 1) {
  JobSpec spec;
  spec.procs.command = {"true"};
  spec.hosts.count = count;
  spec.procs.extent = {{"procs", per_host}};
  return spec;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/meshrun-slurm-unit.XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    for (const char* f : {"/srun", "/seen"})
      ::unlink((path + f).c_str());
    ::rmdir(path.c_str());
  }
  std::string script(const std::string& body) {
    const std::string p = path + "/srun";
    std::ofstream(p) << "#!/bin/sh\n" << body << "\n";
    ::chmod(p.c_str(), 0755);
    return p;
  }
};

// Runs the io_context until the allocator's srun has ended or 10 s passed.
std::optional<std::string> run_until_failure(asio::io_context& io, SlurmAllocator& a) {
  bool done = false;
  a.on_change([&] { done = true; });
  asio::steady_timer guard(io, std::chrono::seconds(10));
  guard.async_wait([&](asio::error_code) { done = true; });
  while (!done && io.run_one()) {
  }
  return a.failure(0);
}

}  // namespace

TEST_CASE("auto picks slurm inside an allocation and says why", "[slurm][placement]") {
  FakeAllocation env("node[1-2]", "2(x2)", "4");
  auto p = place(command_job());
  REQUIRE(p);
  CHECK(p->launcher == LauncherKind::slurm);
  CHECK(contains(p->why, "SLURM_JOB_ID and SLURM_JOB_NODELIST are set, so slurm"));
  CHECK(contains(p->why, "2 hosts x 2 ranks from SLURM_TASKS_PER_NODE"));
  REQUIRE(p->hosts.size() == 2);
  CHECK(p->hosts[0].name == "node1");
  CHECK(p->hosts[1].name == "node2");
  CHECK(p->ranks == std::vector<uint32_t>{2, 2});
}

TEST_CASE("auto stays local without SLURM_JOB_NODELIST", "[slurm][placement]") {
  FakeAllocation env(nullptr, "2");
  auto p = place(command_job());
  REQUIRE(p);
  CHECK(p->launcher == LauncherKind::local);
}

TEST_CASE("auto prefers slurm over hosts given, restricted to them", "[slurm][placement]") {
  FakeAllocation env("node[01-04,07]", "3(x5)");
  JobSpec spec = command_job();
  spec.hosts.list = {{"", "node07", 0}, {"", "node02", 0}};
  auto p = place(spec);
  REQUIRE(p);
  CHECK(p->launcher == LauncherKind::slurm);
  REQUIRE(p->hosts.size() == 2);
  CHECK(p->hosts[0].name == "node07");
  CHECK(p->ranks == std::vector<uint32_t>{3, 3});

  spec.hosts.list = {{"", "elsewhere", 0}};
  auto bad = place(spec);
  REQUIRE_FALSE(bad);
  CHECK(contains(bad.error().message, "host elsewhere is not in SLURM job 4242"));
}

TEST_CASE("uneven tasks per node: command mode follows them, an actor mesh takes the fewest",
          "[slurm][placement]") {
  FakeAllocation env("node[01-02],gpu-a[1-2]", "4(x2),2(x2)", "12");
  auto p = place(command_job());
  REQUIRE(p);
  REQUIRE(p->hosts.size() == 4);
  CHECK(p->hosts[2].name == "gpu-a1");
  CHECK(p->ranks == std::vector<uint32_t>{4, 4, 2, 2});
  CHECK(contains(p->why, "from SLURM_TASKS_PER_NODE"));

  JobSpec actors;
  actors.actors = {ActorsSpec{}};
  auto a = place(actors);
  REQUIRE(a);
  CHECK(a->ranks == std::vector<uint32_t>{2, 2, 2, 2});
  CHECK(contains(a->why, "the fewest tasks on any node"));
}

TEST_CASE("-n fills the nodes in order, as srun's block distribution does", "[slurm][placement]") {
  FakeAllocation env("node[1-3]", "4(x3)", "12");
  JobSpec spec = command_job();
  spec.procs.ranks = 6;
  auto p = place(spec);
  REQUIRE(p);
  CHECK(p->ranks == std::vector<uint32_t>{4, 2});
  spec.procs.ranks = 13;
  auto over = place(spec);
  REQUIRE_FALSE(over);
  CHECK(contains(over.error().message, "--oversubscribe"));
  spec.hosts.oversubscribe = true;
  auto forced = place(spec);
  REQUIRE(forced);
  CHECK(forced->ranks == std::vector<uint32_t>{5, 4, 4});
}

TEST_CASE("explicit counts are kept when they fit", "[slurm][placement]") {
  FakeAllocation env("node[1-3]", "4(x3)");
  auto p = place(command_job(2, 3));
  REQUIRE(p);
  CHECK(p->hosts.size() == 2);
  CHECK(p->ranks == std::vector<uint32_t>{3, 3});
}

TEST_CASE("more than the allocation is a clear usage error", "[slurm][placement]") {
  FakeAllocation env("node[1-2]", "2,1", "3");
  auto per = place(command_job(2, 2));
  REQUIRE_FALSE(per);
  CHECK(per.error().code == Errc::invalid_argument);
  CHECK(contains(per.error().message, "2 ranks on node node2"));
  CHECK(contains(per.error().message, "SLURM job 4242"));
  CHECK(contains(per.error().message, "has 1 task there"));

  auto hosts = place(command_job(3, 1));
  REQUIRE_FALSE(hosts);
  CHECK(contains(hosts.error().message, "3 hosts asked for, but SLURM job 4242"));
  CHECK(contains(hosts.error().message, "has 2 nodes"));
}

TEST_CASE("forcing the slurm launcher outside an allocation says how to get one",
          "[slurm][placement]") {
  FakeAllocation::clear();
  JobSpec spec = command_job();
  spec.hosts.launcher = LauncherKind::slurm;
  auto p = place(spec);
  REQUIRE_FALSE(p);
  CHECK(contains(p.error().message, "not inside a SLURM allocation"));
  CHECK(contains(p.error().message, "sbatch"));
}

TEST_CASE("malformed SLURM variables name the variable", "[slurm][placement]") {
  {
    FakeAllocation env("node[1-2]", "2(x3)");
    auto p = place(command_job());
    REQUIRE_FALSE(p);
    CHECK(contains(p.error().message, "SLURM_TASKS_PER_NODE=2(x3) describes 3 nodes"));
  }
  {
    FakeAllocation env("node[3-1]", "1");
    auto p = place(command_job());
    REQUIRE_FALSE(p);
    CHECK(contains(p.error().message, "SLURM_JOB_NODELIST=node[3-1]"));
  }
}

TEST_CASE("without SLURM_TASKS_PER_NODE, SLURM_NTASKS is spread by block", "[slurm][placement]") {
  FakeAllocation env("n[1-2]", nullptr, "4");
  auto a = read_slurm_allocation();
  REQUIRE(a);
  CHECK(a->tasks == std::vector<uint32_t>{2, 2});
  CHECK(a->ntasks == 4);
}

TEST_CASE("one srun step, one agent per node, no secret in argv", "[slurm][srun]") {
  asio::io_context io;
  SlurmAllocator a(io, {"node1", "node2"}, "srun");
  auto argv = a.srun_argv("/opt/meshrun-agent");
  const std::string joined = [&] {
    std::string s;
    for (const auto& w : argv)
      s += w + " ";
    return s;
  }();
  CHECK(argv.front() == "srun");
  CHECK(contains(joined, "--nodes=2 --ntasks=2 --ntasks-per-node=1 --nodelist=node1,node2 "));
  CHECK(contains(joined, "--kill-on-bad-exit=1 --cpu-bind=none --input=all "));
  CHECK(contains(joined, "/opt/meshrun-agent bootstrap "));
}

TEST_CASE("srun gets the secret on stdin and the address in its environment", "[slurm][srun]") {
  TempDir dir;
  const std::string seen = dir.path + "/seen";
  // Records what it was given, then fails as srun does when the step is refused.
  auto srun = dir.script(
      "read secret\n"
      "{ echo \"secret=$secret\"; echo \"addr=$MESHRUN_BOOTSTRAP_ADDR\";\n"
      "  echo \"index=${MESHRUN_HOST_INDEX-unset}\"; echo \"args=$*\"; } > " +
      seen +
      "\n"
      "echo 'srun: error: Unable to create step for job 4242: it is over' >&2\n"
      "exit 1");
  ::setenv("MESHRUN_HOST_INDEX", "7", 1);
  asio::io_context io;
  SlurmAllocator a(io, {"node1"}, srun);
  AgentLaunch launch;
  launch.agent_path = "/opt/meshrun-agent";
  launch.bootstrap_addresses = "tcp:10.1.2.3:4567,tcp:127.0.0.1:4567";
  launch.secret_hex = std::string(64, 'a');
  REQUIRE(a.start(launch));
  ::unsetenv("MESHRUN_HOST_INDEX");
  CHECK_FALSE(a.failure(0));
  auto why = run_until_failure(io, a);
  REQUIRE(why);
  CHECK(contains(*why, "the srun step of the agents ended (exit code 1)"));
  CHECK(contains(*why, "srun: error: Unable to create step for job 4242: it is over"));

  std::ifstream in(seen);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(contains(text, "secret=" + std::string(64, 'a') + "\n"));
  CHECK(contains(text, "addr=tcp:10.1.2.3:4567,tcp:127.0.0.1:4567\n"));
  CHECK(contains(text, "index=unset\n"));
  CHECK_FALSE(contains(text.substr(text.find("args=")), std::string(64, 'a')));
}

TEST_CASE("a missing srun is an error that names it", "[slurm][srun]") {
  asio::io_context io;
  SlurmAllocator a(io, {"node1"}, "/nonexistent/srun");
  AgentLaunch launch;
  launch.agent_path = "/opt/meshrun-agent";
  launch.secret_hex = std::string(64, 'b');
  auto st = a.start(launch);
  REQUIRE_FALSE(st);
  CHECK(contains(st.error().message, "/nonexistent/srun"));
  CHECK(contains(st.error().message, "MESHRUN_SRUN"));
}
