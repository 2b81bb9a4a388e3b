// A peer that knows the job secret but speaks out of turn: it authenticates
// to a host agent (or to the launcher) and then sends a cast for an actor
// mesh nobody spawned instead of its hello. The connection is dropped and
// the drop logged; the job on the other side goes on serving casts.
// The launcher side here is the runtime's own ControlPlane, in this process,
// so the test holds the secret an outsider would have stolen.
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "channel/connection.hpp"
#include "channel/listener.hpp"
#include "harness.hpp"
#include "in_process_job.hpp"

using namespace meshrun;
using meshrun::test::InProcessJob;

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
  bool agent_dropped_it = false;  // the agent closed on the rogue peer
  bool launcher_dropped_it = false;
  size_t replies_after = 0;  // answers to the job's own cast afterwards
};

// Authenticates to `address` with `secret`, sends a cast for an actor mesh
// that does not exist, and reports whether the server then hung up.
asio::awaitable<Result<bool>> rogue_peer(asio::io_context& io, const Secret& secret,
                                         Address address) {
  auto socket = co_await connect_to(io, address, Millis(5000));
  if (!socket) co_return socket.error();
  auto conn = Connection::make(std::move(*socket), "rogue");
  if (auto ok = co_await conn->authenticate_client(secret, Millis(5000)); !ok) co_return ok.error();
  ActorCast cast;
  cast.target.mesh = 999;  // a mesh nobody spawned
  cast.target.name = "no-such-mesh";
  cast.target.dims = {"hosts", "procs"};
  cast.target.sizes = {1, 2};
  cast.target.per_host = 2;
  cast.target.region = {{0, 1}, {0, 2}};
  cast.target.view = cast.target.region;
  cast.port.id = 424242;
  cast.message = "GetActorId";
  conn->send(cast);
  // The server's only possible answer is to close; nothing may come back.
  auto frame = co_await conn->read_within(Millis(10000));
  co_return !frame.ok();
}

// The rogue peers in the middle of the job's life, then the job's own cast.
asio::awaitable<std::string> rogues(InProcessJob& job, Outcome& out) {
  auto agent =
      co_await rogue_peer(job.io, job.secret, *Address::parse(job.plane.hosts().front().address));
  if (!agent) co_return "to the agent: " + agent.error().message;
  out.agent_dropped_it = *agent;
  auto launcher = co_await rogue_peer(job.io, job.secret, job.plane.address());
  if (!launcher) co_return "to the launcher: " + launcher.error().message;
  out.launcher_dropped_it = *launcher;

  CallSettings options;
  options.timeout = Millis(10000);
  auto replies = co_await job.plane.call(job.actors.ref, "GetActorId", "", options);
  out.replies_after = replies.replies.size();
  co_return "";
}

}  // namespace

TEST_CASE(
    "an authenticated peer's frame for an unknown actor is dropped and logged, and the job "
    "goes on") {
  meshrun_test::TempDir tmp;
  meshrun_test::JobGuard guard;  // no process of the job may outlive the test
  const std::string log_path = tmp.path() + "/stderr.log";
  Outcome out;
  std::string error;
  {
    StderrToFile capture(log_path);
    error = meshrun::test::run_in_process_job(guard.marker(),
                                              [&](InProcessJob& job) { return rogues(job, out); });
  }
  const std::string log = slurp(log_path);
  INFO("log: " << log);
  CHECK(error.empty());
  CHECK(out.agent_dropped_it);
  CHECK(out.launcher_dropped_it);
  CHECK(out.replies_after == 2);
  CHECK(log.find("a peer sent something other than a hello; dropped") != std::string::npos);
  CHECK(log.find("sent something other than its hello; dropped") != std::string::npos);
  CHECK(meshrun_test::wait_no_job_processes(guard.marker(), std::chrono::seconds(10)));
}
