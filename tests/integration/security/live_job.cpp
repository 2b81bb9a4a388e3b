#include "live_job.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace meshrun::test {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string random_hex(size_t bytes) {
  std::vector<unsigned char> b(bytes);
  RAND_bytes(b.data(), static_cast<int>(b.size()));
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// Sleeps are not used to wait for events; this polls /proc, which has no
// event to wait on, with a short pause between looks.
void pause_briefly() {
  ::poll(nullptr, 0, 20);
}

}  // namespace

std::vector<std::string> proc_strings(pid_t pid, const char* what) {
  std::string raw = read_file("/proc/" + std::to_string(pid) + "/" + what);
  std::vector<std::string> out;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    out.emplace_back(raw.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::vector<pid_t> processes_with_marker(const std::string& marker) {
  const std::string needle = "MESHRUN_TEST_MARKER=" + marker;
  std::vector<pid_t> pids;
  DIR* d = ::opendir("/proc");
  if (!d) return pids;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    for (const auto& s : proc_strings(static_cast<pid_t>(pid), "environ"))
      if (s == needle) {
        pids.push_back(static_cast<pid_t>(pid));
        break;
      }
  }
  ::closedir(d);
  return pids;
}

LiveJob::LiveJob(const std::string& toml, std::vector<std::string> extra_args, std::string tmpdir) {
  if (tmpdir.empty()) {
    // Short: unix socket paths in the job dir must stay under 108 bytes.
    std::string tmpl = "/tmp/msec-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    tmp_ = tmpl;
  } else {
    tmp_ = std::move(tmpdir);
    own_tmp_ = false;
  }
  marker_ = random_hex(8);
  std::ofstream(tmp_ + "/job.toml") << toml;

  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string_view v(*e);
    if (v.starts_with("TMPDIR=") || v.starts_with("MESHRUN_")) continue;
    env.emplace_back(v);
  }
  env.push_back("TMPDIR=" + tmp_);
  env.push_back("MESHRUN_TEST_MARKER=" + marker_);
  std::vector<std::string> args{MESHRUN_BIN};
  for (auto& a : extra_args)
    args.push_back(std::move(a));
  args.push_back(tmp_ + "/job.toml");

  std::vector<char*> argv, envp;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env)
    envp.push_back(e.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, (tmp_ + "/out").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  posix_spawn_file_actions_addopen(&fa, 2, (tmp_ + "/err").c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  int rc = ::posix_spawn(&pid_, MESHRUN_BIN, &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) {
    pid_ = -1;
    throw std::runtime_error(std::string("cannot start meshrun: ") + std::strerror(rc));
  }
}

LiveJob::~LiveJob() {
  if (pid_ > 0 && !reaped_) {
    ::kill(pid_, SIGTERM);
    if (!wait_exit(Millis(15000))) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  // Agents of a killed launcher finish its teardown on their own; once they
  // are gone, none of the job's directories (or sockets) may be left.
  const auto deadline = Clock::now() + Millis(10000);
  while (!processes_with_marker(marker_).empty() && Clock::now() < deadline)
    ::usleep(20000);
  // Anything of the job still alive was started by this test.
  for (pid_t p : processes_with_marker(marker_))
    ::kill(p, SIGKILL);
  if (!own_tmp_) return;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(tmp_, ec))
    if (e.path().filename().string().starts_with("meshrun-") && std::uncaught_exceptions() == 0)
      FAIL_CHECK("the job left its job directory " << e.path().string());
  fs::remove_all(tmp_, ec);
}

std::string LiveJob::wait_ready(int hosts, size_t procs, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    std::string dir;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(tmp_, ec))
      if (e.path().filename().string().starts_with("meshrun-")) dir = e.path().string();
    bool sockets = !dir.empty() && fs::exists(dir + "/bootstrap.sock");
    for (int h = 0; sockets && h < hosts; ++h)
      sockets = fs::exists(dir + "/agent-" + std::to_string(h) + ".sock");
    if (sockets && processes_with_marker(marker_).size() >= procs) return dir;
    if (Clock::now() >= deadline) return {};
    if (reaped_ || (pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == pid_)) {
      reaped_ = true;
      return {};
    }
    pause_briefly();
  }
}

std::optional<int> LiveJob::wait_exit(Millis timeout) {
  if (reaped_) return std::nullopt;
  int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(timeout.count()));
    ::close(pidfd);
  }
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) != pid_) return std::nullopt;
  reaped_ = true;
  return status;
}

std::string LiveJob::out() const {
  return read_file(tmp_ + "/out");
}
std::string LiveJob::err() const {
  return read_file(tmp_ + "/err");
}

Intruder::Intruder(const std::string& socket_path) {
  fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

Intruder::~Intruder() {
  if (fd_ >= 0) ::close(fd_);
}

bool Intruder::send(std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void Intruder::shut_write() {
  ::shutdown(fd_, SHUT_WR);
}

std::optional<std::string> Intruder::read_exact(size_t n, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string out;
  while (out.size() < n) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) return std::nullopt;
    char buf[4096];
    ssize_t got = ::recv(fd_, buf, std::min(sizeof buf, n - out.size()), 0);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return std::nullopt;
    out.append(buf, static_cast<size_t>(got));
  }
  return out;
}

bool Intruder::closed_within(Millis timeout, std::string* got) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0) return false;
    char buf[4096];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;  // EOF or reset
    if (got) got->append(buf, static_cast<size_t>(n));
  }
}

}  // namespace meshrun::test
