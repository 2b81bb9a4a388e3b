// Failures while a job runs: a killed launcher, agent or proc, a failing actor.
// Whatever dies, every process of the job must be gone soon after.
#include <regex>

#include "meshrun_it.hpp"

using namespace meshrun_it;

namespace {

// 2 hosts x 2 procs whose actors never answer: the job stays in its cast.
std::string hanging_spec(const World& w) {
  return w.spec(actor_spec(2, "{ procs = 2 }", "message = \"Hang\"\ntimeout = \"60s\"\n"));
}

// Starts the hanging job and waits until its 4 procs and 2 agents exist.
void wait_running(const World& w, Process& meshrun) {
  const bool up = wait_until(
      [&] {
        return agents_in_mode(w.job.marker(), "proc").size() == 4 &&
               agents_in_mode(w.job.marker(), "bootstrap").size() == 2;
      },
      20s);
  INFO("meshrun stderr so far:\n" << meshrun.stderr_so_far());
  REQUIRE(up);
  REQUIRE(meshrun.running());
}

pid_t with_env(const std::vector<pid_t>& pids, const std::string& key, const std::string& value) {
  for (pid_t p : pids)
    if (env_of(p, key) == value) return p;
  FAIL("no process with " << key << "=" << value);
  return -1;
}

}  // namespace

TEST_CASE("kill -9 of the launcher: every agent and proc is gone within the lifeline bound",
          "[failure]") {
  World w;
  Process meshrun(w.argv({hanging_spec(w)}), w.env(), w.dir.path());
  wait_running(w, meshrun);

  REQUIRE(::kill(meshrun.pid(), SIGKILL) == 0);
  const auto t0 = Clock::now();
  const auto o = meshrun.wait(5s);
  REQUIRE(o.signal == SIGKILL);
  INFO(describe(o));
  REQUIRE(wait_no_job_processes(w.job.marker(), 15s));
  INFO("took " << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()
               << " ms");
  SUCCEED();
}

TEST_CASE("kill -9 of a host agent: meshrun fails naming the host, nothing remains", "[failure]") {
  World w;
  Process meshrun(w.argv({hanging_spec(w)}), w.env(), w.dir.path());
  wait_running(w, meshrun);

  const pid_t agent =
      with_env(agents_in_mode(w.job.marker(), "bootstrap"), "MESHRUN_HOST_INDEX", "1");
  REQUIRE(::kill(agent, SIGKILL) == 0);
  const auto o = meshrun.wait(20s);
  INFO(describe(o));
  REQUIRE_FALSE(o.timed_out);
  REQUIRE(o.exited);
  REQUIRE(o.code != 0);
  REQUIRE_THAT(o.err, Catch::Contains("host 1"));
  REQUIRE(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("a proc killed by SIGKILL fails the job, naming the rank and the signal", "[failure]") {
  World w;
  Process meshrun(w.argv({hanging_spec(w)}), w.env(), w.dir.path());
  wait_running(w, meshrun);

  const pid_t proc = with_env(agents_in_mode(w.job.marker(), "proc"), "MESHRUN_RANK", "2");
  REQUIRE(::kill(proc, SIGKILL) == 0);
  const auto o = meshrun.wait(20s);
  INFO(describe(o));
  REQUIRE_FALSE(o.timed_out);
  REQUIRE(o.exited);
  REQUIRE(o.code != 0);
  REQUIRE_THAT(o.err, Catch::Contains("rank 2") && Catch::Contains("SIGKILL"));
  REQUIRE(wait_no_job_processes(w.job.marker(), 10s));
}

TEST_CASE("an actor that fails makes meshrun exit 1 naming the actor and the error", "[failure]") {
  World w;
  const auto spec =
      w.spec(actor_spec(2, "{ procs = 1 }", "message = \"Fail\"\ntimeout = \"10s\"\n"));
  const auto o = w.meshrun({spec}, 30s);
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 1);
  REQUIRE_THAT(o.err, Catch::Contains("requested failure"));
  std::smatch m;
  REQUIRE(std::regex_search(o.err, m, std::regex(R"(actor (p0\[(\d)\]\.a0\[0\]))")));
  REQUIRE((m[2] == "0" || m[2] == "1"));
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}
