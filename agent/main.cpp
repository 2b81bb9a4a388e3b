// meshrun-agent: one binary, three modes. `bootstrap` is what allocators
// start on each host; the launcher turns it into a host agent; a host agent
// starts `proc` children that host actors.
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <fcntl.h>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "agent/bootstrap.hpp"
#include "agent/keeper.hpp"
#include "agent/proc.hpp"
#include "auth/tls.hpp"
#include "util/fd_limit.hpp"
#include "util/log.hpp"
#include "util/malloc_tuning.hpp"
#include "wire/protocol.hpp"

namespace {

const char* kUsage =
    "usage: meshrun-agent bootstrap   (started by meshrun; reads the job secret on stdin)\n"
    "       meshrun-agent proc        (started by a host agent)\n"
    "       meshrun-agent --version\n"
    "\n"
    "meshrun-agent is not run by hand: meshrun starts it on every host of a job.\n"
    "See meshrun-agent(1).\n";

std::string env_or(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

std::string self_path() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "meshrun-agent";
  return std::string(buf, static_cast<size_t>(n));
}

// A line from stdin, read byte by byte so nothing after it is consumed.
std::string read_secret_line() {
  std::string line;
  char c;
  while (line.size() < 256) {
    ssize_t n = ::read(STDIN_FILENO, &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == '\n') break;
    line += c;
  }
  return line;
}

// After the secret, "tls N" and N bytes of TLS material (auth/tls.hpp), or
// end of input when the job runs without TLS. False: the header came but
// not the material.
bool read_tls_bundle(std::string& bundle) {
  const std::string header = read_secret_line();
  if (header.empty()) return true;
  if (!header.starts_with("tls ")) return false;
  const size_t size = std::strtoul(header.c_str() + 4, nullptr, 10);
  if (size == 0 || size > meshrun::kMaxTlsBundle) return false;
  bundle.assign(size, '\0');
  size_t got = 0;
  while (got < size) {
    ssize_t n = ::read(STDIN_FILENO, bundle.data() + got, size - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    got += static_cast<size_t>(n);
  }
  return true;
}

void on_sigpipe(int) {}

int run(asio::io_context& io, asio::awaitable<int> main_task) {
  int code = 1;
  asio::co_spawn(io, std::move(main_task), [&](std::exception_ptr e, int rc) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        meshrun::log::error(std::string("internal error: ") + ex.what());
      }
      code = 70;
    } else {
      code = rc;
    }
    io.stop();
  });
  io.run();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  meshrun::keep_message_buffers();
  // A handler (not SIG_IGN) so children get the default action back at exec.
  struct sigaction sa {};
  sa.sa_handler = on_sigpipe;
  ::sigaction(SIGPIPE, &sa, nullptr);

  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "--version" || mode == "-V") {
    std::printf("meshrun-agent %s (protocol %u)\n", MESHRUN_VERSION,
                unsigned{meshrun::kProtocolVersion});
    return 0;
  }
  if (mode == "--help" || mode == "-h") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  // meshrun's -q (0), -v (1) and -vv (2), for the agent and its procs.
  const std::string verbosity = env_or("MESHRUN_VERBOSE", "");
  if (verbosity == "0") meshrun::log::set_level(meshrun::log::Level::error);
  if (verbosity == "1") meshrun::log::set_level(meshrun::log::Level::verbose);
  if (verbosity == "2") meshrun::log::set_level(meshrun::log::Level::debug);

  asio::io_context io(1);
  if (mode == "bootstrap") {
    // Before the secret is read: a rank (same user) must not read it out of
    // this process through /proc/PID/mem or ptrace.
    ::prctl(PR_SET_DUMPABLE, 0);
    meshrun::raise_fd_limit();
    meshrun::BootstrapConfig cfg;
    cfg.launcher_addresses = env_or("MESHRUN_BOOTSTRAP_ADDR", "");
    // Under srun (one agent task per node) the task rank is the host index.
    const std::string index = env_or("MESHRUN_HOST_INDEX", env_or("SLURM_PROCID", "0").c_str());
    cfg.host_index = static_cast<uint32_t>(std::strtoul(index.c_str(), nullptr, 10));
    cfg.agent_path = self_path();
    meshrun::log::set_program("meshrun-agent[host " + std::to_string(cfg.host_index) + "]");
    if (cfg.launcher_addresses.empty()) {
      meshrun::log::error("MESHRUN_BOOTSTRAP_ADDR is not set: meshrun-agent is started by meshrun");
      return 2;
    }
    // The keeper forks off while this process holds no secret and runs one
    // thread; the agent goes on below.
    if (std::string why; !meshrun::keeper::start(argv, why)) {
      meshrun::log::error("cannot start the keeper that ends this host's job with it: " + why);
      return 1;
    }
    cfg.secret_hex = read_secret_line();
    if (!read_tls_bundle(cfg.tls_bundle)) {
      meshrun::log::error("the job's TLS material on stdin is cut short or malformed");
      return 2;
    }
    // Procs must not inherit the channel the secret came on.
    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull >= 0) {
      ::dup2(devnull, STDIN_FILENO);
      ::close(devnull);
    }
    return run(io, meshrun::run_bootstrap(io, std::move(cfg)));
  }
  if (mode == "proc") {
    meshrun::ProcConfig cfg;
    cfg.control_fd = std::atoi(env_or("MESHRUN_CONTROL_FD", "3").c_str());
    cfg.proc =
        static_cast<uint32_t>(std::strtoul(env_or("MESHRUN_PROC_ID", "0").c_str(), nullptr, 10));
    cfg.host_rank =
        static_cast<uint32_t>(std::strtoul(env_or("MESHRUN_HOST_RANK", "0").c_str(), nullptr, 10));
    cfg.name = env_or("MESHRUN_PROC_NAME", "p0_0");
    meshrun::log::set_program("meshrun-agent[" + cfg.name + "]");
    // Our host agent set PR_SET_PDEATHSIG before exec; check it is still there.
    if (::getppid() == 1) return 1;
    return run(io, meshrun::run_proc(io, cfg));
  }
  std::fputs(kUsage, stderr);
  return 2;
}
