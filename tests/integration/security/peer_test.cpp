// A peer that knows the job secret but speaks out of turn: it authenticates
// to a host agent (or to the launcher) and then sends a cast for an actor
// mesh nobody spawned instead of its hello. The connection is dropped and
// the drop logged; the job on the other side goes on serving casts.
// The launcher side here is the runtime's own MeshClient, in this process,
// so the test holds the secret an outsider would have stolen.
#include <fcntl.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "alloc/local_allocator.hpp"
#include "auth/secret.hpp"
#include "channel/connection.hpp"
#include "channel/listener.hpp"
#include "harness.hpp"
#include "live_job.hpp"
#include "mesh/client.hpp"

using namespace meshrun;
using std::chrono::milliseconds;

namespace {

// This process's stderr (and so the agents' it starts) goes to a file for
// the scope, so the test can read what was logged.
class StderrToFile {
 public:
  explicit StderrToFile(const std::string& path) : saved_(::dup(2)) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~StderrToFile() {
    ::dup2(saved_, 2);
    ::close(saved_);
  }
  StderrToFile(const StderrToFile&) = delete;
  StderrToFile& operator=(const StderrToFile&) = delete;

 private:
  int saved_;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct Outcome {
  std::string error;              // the first thing that went wrong, if any
  bool agent_dropped_it = false;  // the agent closed on the rogue peer
  bool launcher_dropped_it = false;
  size_t replies_after = 0;  // answers to the job's own cast afterwards
  bool done = false;
};

// Authenticates to `address` with `secret`, sends a cast for an actor mesh
// that does not exist, and reports whether the server then hung up.
asio::awaitable<Result<bool>> rogue_peer(asio::io_context& io, const Secret& secret,
                                         Address address) {
  auto socket = co_await connect_to(io, address, Millis(5000));
  if (!socket) co_return socket.error();
  auto conn = Connection::make(std::move(*socket), "rogue");
  if (auto ok = co_await conn->authenticate_client(secret, Millis(5000)); !ok) co_return ok.error();
  Cast cast;
  cast.mesh = "no-such-mesh";
  cast.port = 424242;
  cast.message = "GetActorId";
  conn->send(cast);
  // The server's only possible answer is to close; nothing may come back.
  auto frame = co_await conn->read_within(Millis(10000));
  co_return !frame.ok();
}

// The job's own life, with the rogue peers in the middle; returns what went
// wrong, or nothing.
asio::awaitable<std::string> job_with_rogues(asio::io_context& io, MeshClient& client,
                                             Allocator& allocator, const AgentLaunch& launch,
                                             const Secret& secret, const std::string& dir,
                                             Outcome& out) {
  auto hosts = co_await client.allocate(allocator, launch, Millis(20000));
  if (!hosts) co_return "allocate: " + hosts.error().message;
  auto per_host = Extent::make({{"procs", 2}});
  // Named, not temporaries: GCC 12 mis-copies prvalue arguments into coroutine frames.
  const std::string name = "p";
  CreateProcs create;
  auto procs = co_await client.spawn_procs(*hosts, name, *per_host, create, Millis(20000));
  if (!procs) co_return "spawn_procs: " + procs.error().message;
  SpawnActors spawn;
  spawn.mesh = "actors";
  spawn.plugin = MESHRUN_TESTACTORS;
  spawn.type = "TestActor";
  auto actors = co_await client.spawn_actors(*procs, spawn, Millis(20000));
  if (!actors) co_return "spawn_actors: " + actors.error().message;

  auto agent = co_await rogue_peer(io, secret, *Address::parse("unix:" + dir + "/agent-0.sock"));
  if (!agent) co_return "to the agent: " + agent.error().message;
  out.agent_dropped_it = *agent;
  auto launcher = co_await rogue_peer(io, secret, client.address());
  if (!launcher) co_return "to the launcher: " + launcher.error().message;
  out.launcher_dropped_it = *launcher;

  const Slice all(procs->extent);
  auto replies = co_await client.cast(*actors, all, "GetActorId", "", Millis(10000));
  if (!replies) co_return "cast: " + replies.error().message;
  out.replies_after = replies->size();
  co_return "";
}

asio::awaitable<void> scenario(asio::io_context& io, MeshClient& client, const Secret& secret,
                               std::string dir, std::string marker, Outcome& out) {
  LocalAllocator allocator(io, 1);
  AgentLaunch launch;
  launch.bootstrap_addresses = client.address().to_string();
  launch.secret_hex = secret.to_hex();
  launch.agent_path = MESHRUN_AGENT;
  launch.env.push_back(std::string(meshrun_test::kMarkerVar) + "=" + marker);
  out.error = co_await job_with_rogues(io, client, allocator, launch, secret, dir, out);
  co_await client.shutdown(Millis(2000), Millis(10000));
  co_await allocator.reap(Millis(5000));
  out.done = true;
}

}  // namespace

TEST_CASE(
    "an authenticated peer's frame for an unknown actor is dropped and logged, and the job "
    "goes on") {
  meshrun_test::TempDir tmp;
  meshrun_test::JobGuard guard;  // no process of the job may outlive the test
  const std::string log_path = tmp.path() + "/stderr.log";
  Outcome out;
  {
    StderrToFile capture(log_path);
    asio::io_context io;
    auto secret = Secret::generate();
    REQUIRE(secret.ok());
    MeshClient client(io, *secret, Millis(30000));
    REQUIRE(client.listen(*Address::parse("unix:" + tmp.path() + "/bootstrap.sock")).ok());
    asio::co_spawn(io, scenario(io, client, *secret, tmp.path(), guard.marker(), out),
                   asio::detached);
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(90);
    while (!out.done && std::chrono::steady_clock::now() < until)
      io.run_one_for(milliseconds(200));
  }
  const std::string log = slurp(log_path);
  INFO("log: " << log);
  REQUIRE(out.done);
  CHECK(out.error.empty());
  CHECK(out.agent_dropped_it);
  CHECK(out.launcher_dropped_it);
  CHECK(out.replies_after == 2);
  CHECK(log.find("a peer sent something other than a hello; dropped") != std::string::npos);
  CHECK(log.find("sent something other than its hello; dropped") != std::string::npos);
  CHECK(meshrun_test::wait_no_job_processes(guard.marker(), std::chrono::seconds(10)));
}
