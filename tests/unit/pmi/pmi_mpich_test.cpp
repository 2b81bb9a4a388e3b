// Real MPICH ranks (the Debian build, ch4) served by PmiConnection + LocalPmiJob.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "pmi/local_pmi_job.hpp"
#include "pmi/pmi_server.hpp"

// GCC 12 misreads asio's coroutine frame allocator as a new/delete mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

extern char** environ;

using namespace meshrun;
namespace fs = std::filesystem;

namespace {

constexpr int kPmiFdInChild = 3;

struct RankRun {
  pid_t pid = -1;
  int wait_status = 0;
  bool reaped = false;
  std::optional<Result<PmiEnd>> end;
  fs::path out_path, err_path;
  std::string out, err;
};

struct JobRun {
  std::vector<RankRun> ranks;
  std::optional<PmiAbort> abort;
  bool timed_out = false;
  int barriers = 0;
};

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "meshrun-pmi-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

asio::awaitable<void> serve_into(PmiConnection* conn, std::optional<Result<PmiEnd>>* out,
                                 int* remaining) {
  *out = co_await conn->run();
  --*remaining;
}

// Waits for the child through a pidfd so no SIGCHLD handling is needed.
asio::awaitable<void> reap(asio::io_context& io, RankRun* r, int* remaining) {
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, r->pid, 0));
  if (pidfd >= 0) {
    asio::posix::stream_descriptor d(io, pidfd);
    asio::error_code ec;
    co_await d.async_wait(asio::posix::stream_descriptor::wait_read,
                          asio::redirect_error(asio::use_awaitable, ec));
  }
  if (::waitpid(r->pid, &r->wait_status, 0) == r->pid) r->reaped = true;
  --*remaining;
}

std::vector<std::string> child_env(int rank, int size) {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv = *e;
    // Whatever launched this test must not leak its own PMI/Hydra settings in.
    if (kv.rfind("PMI_", 0) == 0 || kv.rfind("HYDRA_", 0) == 0 || kv.rfind("MPIR_", 0) == 0) {
      continue;
    }
    env.push_back(kv);
  }
  for (auto& kv : pmi_environment(rank, size, kPmiFdInChild))
    env.push_back(kv);
  return env;
}

pid_t spawn_rank(const std::string& program, int rank, int size, int child_fd, const fs::path& out,
                 const fs::path& err) {
  // Above any descriptor the file actions touch, so dup2 onto 3 never clobbers it.
  int high = ::fcntl(child_fd, F_DUPFD_CLOEXEC, 64);
  REQUIRE(high >= 0);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, high, kPmiFdInChild);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);

  auto env = child_env(rank, size);
  std::vector<char*> envp;
  for (auto& kv : env)
    envp.push_back(kv.data());
  envp.push_back(nullptr);
  std::string arg0 = program;
  char* argv[] = {arg0.data(), nullptr};
  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, program.c_str(), &fa, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(high);
  REQUIRE(rc == 0);
  return pid;
}

// Runs `size` ranks of `program` under our PMI server, like a launcher on one
// host: on PMI_Abort every rank is killed, as Hydra does.
JobRun run_mpi_job(const std::string& program, int size, std::chrono::seconds deadline) {
  TempDir tmp;
  asio::io_context io;
  LocalPmiJob job(size);
  JobRun run;
  run.ranks.resize(static_cast<size_t>(size));
  // Declared after io and job: connections go first.
  std::vector<std::unique_ptr<PmiConnection>> conns;
  int remaining = 0;

  job.set_abort_handler([&](const PmiAbort& a) {
    if (!run.abort) run.abort = a;
    for (auto& r : run.ranks) {
      if (!r.reaped && r.pid > 0) ::kill(r.pid, SIGKILL);
    }
  });

  for (int i = 0; i < size; ++i) {
    auto& r = run.ranks[static_cast<size_t>(i)];
    auto pair = make_pmi_socketpair(io);
    REQUIRE(pair.ok());
    r.out_path = tmp.path / ("rank" + std::to_string(i) + ".out");
    r.err_path = tmp.path / ("rank" + std::to_string(i) + ".err");
    r.pid = spawn_rank(program, i, size, pair->child_fd, r.out_path, r.err_path);
    ::close(pair->child_fd);
    conns.push_back(std::make_unique<PmiConnection>(std::move(pair->server), job, i));
    remaining += 2;
    asio::co_spawn(io, serve_into(conns.back().get(), &r.end, &remaining), asio::detached);
    asio::co_spawn(io, reap(io, &r, &remaining), asio::detached);
  }

  auto until = std::chrono::steady_clock::now() + deadline;
  while (remaining > 0 && std::chrono::steady_clock::now() < until) {
    io.run_one_for(std::chrono::milliseconds(200));
  }
  if (remaining > 0) {
    run.timed_out = true;
    for (auto& r : run.ranks) {
      if (!r.reaped) {
        ::kill(r.pid, SIGKILL);
        ::waitpid(r.pid, &r.wait_status, 0);
        r.reaped = true;
      }
    }
    for (auto& c : conns)
      c->close();
    io.run_for(std::chrono::seconds(2));
  }
  for (auto& r : run.ranks) {
    r.out = slurp(r.out_path);
    r.err = slurp(r.err_path);
  }
  run.barriers = job.barriers_completed();
  return run;
}

std::string fixture(const char* name) {
  return std::string(MESHRUN_MPI_FIXTURE_DIR) + "/" + name;
}

}  // namespace

TEST_CASE("real MPICH ranks run a job through our PMI server", "[pmi][mpich]") {
  int size = GENERATE(1, 2, 4);
  CAPTURE(size);
  REQUIRE(fs::exists(fixture("mpi_hello")));
  JobRun run = run_mpi_job(fixture("mpi_hello"), size, std::chrono::seconds(60));
  CHECK_FALSE(run.timed_out);
  CHECK_FALSE(run.abort.has_value());
  // MPI_Init and MPI_Finalize each synchronise through PMI barriers.
  CHECK(run.barriers >= 2);
  int expected_sum = size * (size - 1) / 2;
  for (int i = 0; i < size; ++i) {
    auto& r = run.ranks[static_cast<size_t>(i)];
    CAPTURE(i, r.out, r.err);
    CHECK(WIFEXITED(r.wait_status));
    CHECK(WEXITSTATUS(r.wait_status) == 0);
    CHECK(r.out.find("rank " + std::to_string(i) + " of " + std::to_string(size)) !=
          std::string::npos);
    CHECK(r.out.find("allreduce sum=" + std::to_string(expected_sum) + " expected=") !=
          std::string::npos);
    CHECK(r.out.find("rank " + std::to_string(i) + " ok") != std::string::npos);
    REQUIRE(r.end.has_value());
    REQUIRE(r.end->ok());
    CHECK(**r.end == PmiEnd::finalized);
  }
}

TEST_CASE("MPI_Abort on rank 1 reaches the job with code 7", "[pmi][mpich]") {
  REQUIRE(fs::exists(fixture("mpi_abort")));
  JobRun run = run_mpi_job(fixture("mpi_abort"), 3, std::chrono::seconds(60));
  CHECK_FALSE(run.timed_out);
  REQUIRE(run.abort.has_value());
  CHECK(run.abort->rank == 1);
  CHECK(run.abort->code == 7);
  auto& r1 = run.ranks[1];
  CAPTURE(r1.out, r1.err);
  CHECK(r1.out.find("rank 1 aborting") != std::string::npos);
  REQUIRE(r1.end.has_value());
  REQUIRE(r1.end->ok());
  CHECK(**r1.end == PmiEnd::aborted);
  for (auto& r : run.ranks)
    CHECK(r.reaped);
}
