#include "in_process_job.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>

#include "alloc/local_allocator.hpp"
#include "harness.hpp"

namespace meshrun::test {
namespace {

asio::awaitable<std::string> start(InProcessJob& job, Allocator& allocator,
                                   const AgentLaunch& launch) {
  auto hosts = co_await job.plane.allocate(allocator, launch, Millis(20000));
  if (!hosts) co_return "allocate: " + hosts.error().message;
  auto per_host = Extent::make({{"procs", 2}});
  // Named, not temporaries: GCC 12 mis-copies prvalue arguments into coroutine frames.
  const std::string name = "p";
  CreateProcs create;
  auto procs = co_await job.plane.spawn_procs(name, *per_host, create, Millis(20000));
  if (!procs) co_return "spawn_procs: " + procs.error().message;
  const std::string mesh = "actors";
  const std::string plugin = MESHRUN_TESTACTORS;
  const std::string type = "TestActor";
  const std::string params;
  auto actors =
      co_await job.plane.spawn_actors(mesh, procs->ref(), plugin, type, params, Millis(20000));
  if (!actors) co_return "spawn_actors: " + actors.error().message;
  job.procs = *procs;
  job.actors = *actors;
  co_return "";
}

asio::awaitable<void> lifecycle(InProcessJob& job, std::string marker, const JobScenario& scenario,
                                std::string& error, bool& done) {
  LocalAllocator allocator(job.io, 1);
  AgentLaunch launch;
  launch.bootstrap_addresses = job.plane.address().to_string();
  launch.secret_hex = job.secret.to_hex();
  launch.agent_path = MESHRUN_AGENT;
  launch.env.push_back(std::string(meshrun_test::kMarkerVar) + "=" + marker);
  error = co_await start(job, allocator, launch);
  if (error.empty()) error = co_await scenario(job);
  co_await job.plane.shutdown(Millis(2000), Millis(10000));
  co_await allocator.reap(Millis(5000));
  done = true;
}

}  // namespace

std::string run_in_process_job(const std::string& marker, const JobScenario& scenario,
                               std::chrono::seconds limit) {
  meshrun_test::TempDir tmp;
  asio::io_context io;
  auto secret = Secret::generate();
  if (!secret) return "secret: " + secret.error().message;
  ControlPlane plane(io, *secret, Millis(30000));
  auto bootstrap = Address::parse("unix:" + tmp.path() + "/bootstrap.sock");
  if (!bootstrap) return bootstrap.error().message;
  if (auto ok = plane.listen(*bootstrap); !ok) return "listen: " + ok.error().message;
  InProcessJob job{io, plane, *secret, {}, {}};
  std::string error;
  bool done = false;
  asio::co_spawn(io, lifecycle(job, marker, scenario, error, done), asio::detached);
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!done && std::chrono::steady_clock::now() < until)
    io.run_one_for(std::chrono::milliseconds(200));
  return done ? error : "the job did not finish within " + std::to_string(limit.count()) + " s";
}

}  // namespace meshrun::test
