#include "harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <stdexcept>

#include "test_cgroup.hpp"

extern char** environ;

namespace meshrun_test {

// A run's own TMPDIR (where its launcher's job directory goes) and cgroup
// (below which its agents make the job's): what the job leaves there is its,
// whatever else runs beside it.
class RunPlace {
 public:
  explicit RunPlace(const std::string& marker) : cgroup("mrtest-" + marker) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mrtest-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
    tmpdir = tmpl;
  }
  ~RunPlace() {
    std::error_code ec;
    std::filesystem::remove_all(tmpdir, ec);
  }
  RunPlace(const RunPlace&) = delete;
  RunPlace& operator=(const RunPlace&) = delete;

  std::vector<std::string> leftovers() const {
    std::vector<std::string> out;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(tmpdir, ec))
      out.push_back("job directory " + e.path().string());
    std::sort(out.begin(), out.end());
    for (auto& c : cgroup.leftovers())
      out.push_back(std::move(c));
    return out;
  }

  std::string tmpdir;
  TestCgroup cgroup;
};

namespace {

std::string new_marker() {
  static std::atomic<int> n{0};
  std::random_device rd;
  return "mrt" + std::to_string(::getpid()) + "x" + std::to_string(rd()) + "x" +
         std::to_string(n++);
}

void set_nonblock(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

}  // namespace

std::string meshrun_path() {
  return MESHRUN_BIN;
}

std::string mpi_fixture(const std::string& name) {
#ifdef MESHRUN_MPI_FIXTURE_DIR
  return std::string(MESHRUN_MPI_FIXTURE_DIR) + "/" + name;
#else
  return name;
#endif
}

char process_state(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  std::getline(in, stat);
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() ? 0 : stat[paren + 2];
}

bool eventually(const std::function<bool()>& done, Seconds timeout) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= until) return false;
    ::poll(nullptr, 0, 10);
  }
  return true;
}

std::vector<pid_t> processes_with_marker(const std::string& marker) {
  std::vector<pid_t> found;
  const std::string needle = "MESHRUN_TEST_MARKER=" + marker;
  DIR* proc = ::opendir("/proc");
  if (!proc) return found;
  while (dirent* e = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == ::getpid()) continue;
    std::ifstream env("/proc/" + std::string(e->d_name) + "/environ", std::ios::binary);
    std::string data((std::istreambuf_iterator<char>(env)), std::istreambuf_iterator<char>());
    // Zombies have an empty environ; they are no longer running anything.
    size_t pos = data.find(needle);
    if (pos == std::string::npos) continue;
    size_t after = pos + needle.size();
    if ((pos == 0 || data[pos - 1] == '\0') && (after == data.size() || data[after] == '\0'))
      found.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return found;
}

std::string describe_process(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::string cmd((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (auto& c : cmd)
    if (c == '\0') c = ' ';
  return std::to_string(pid) + " " + cmd;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) {
      out.push_back(text.substr(start));
      break;
    }
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

bool wait_until(const std::function<bool()>& done, Seconds limit) {
  const auto deadline = std::chrono::steady_clock::now() +
                        std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit);
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    ::usleep(20000);  // polling /proc or files, bounded by the deadline
  }
  return true;
}

size_t count(const std::string& text, const std::string& needle) {
  size_t n = 0;
  for (size_t pos = text.find(needle); pos != std::string::npos;
       pos = text.find(needle, pos + needle.size()))
    ++n;
  return n;
}

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "meshrun-cmd-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
}

Meshrun::Meshrun(std::vector<std::string> args, Options options)
    : options_(std::move(options)), marker_(new_marker()) {
  int out[2], err[2], in[2] = {-1, -1};
  if (::pipe2(out, O_CLOEXEC) != 0 || ::pipe2(err, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe failed");
  const bool feed = !options_.terminal && (!options_.stdin_data.empty() || !options_.stdin_devnull);
  if (feed && ::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  int tty_slave = -1;
  if (options_.terminal) {
    if (::openpty(&tty_, &tty_slave, nullptr, nullptr, nullptr) != 0)
      throw std::runtime_error("openpty failed");
    termios t{};
    ::tcgetattr(tty_slave, &t);
    ::cfmakeraw(&t);
    ::tcsetattr(tty_slave, TCSANOW, &t);
    ::fcntl(tty_, F_SETFD, FD_CLOEXEC);
    ::fcntl(tty_slave, F_SETFD, FD_CLOEXEC);
  }

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  if (options_.terminal) {
    for (int fd : {0, 1, 2})
      posix_spawn_file_actions_adddup2(&fa, tty_slave, fd);
  } else if (feed)
    posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  else
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (options_.terminal) {
  } else if (!options_.stdout_path.empty()) {
    posix_spawn_file_actions_addopen(&fa, 1, options_.stdout_path.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
  } else {
    posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  }
  if (!options_.terminal) posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  if (!options_.cwd.empty()) posix_spawn_file_actions_addchdir_np(&fa, options_.cwd.c_str());
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  // meshrun in a group of its own, as a shell's job would be; signals it
  // gets come from the test, and it starts with default dispositions.
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &all);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::vector<std::string> env;
  for (char** e = environ; *e; ++e) {
    std::string kv = *e;
    if (kv.rfind("PMI_", 0) == 0 || kv.rfind("MASTER_", 0) == 0) continue;
    env.push_back(kv);
  }
  env.push_back("MESHRUN_TEST_MARKER=" + marker_);
  const bool own_tmpdir =
      std::any_of(options_.env.begin(), options_.env.end(),
                  [](const std::string& kv) { return kv.starts_with("TMPDIR="); });
  if (!own_tmpdir) {
    place_ = std::make_unique<RunPlace>(marker_);
    env.push_back("TMPDIR=" + place_->tmpdir);
  }
  for (const auto& kv : options_.env)
    env.push_back(kv);
  std::vector<char*> envp, argv;
  for (auto& kv : env)
    envp.push_back(kv.data());
  envp.push_back(nullptr);
  std::string program = options_.program.empty() ? meshrun_path() : options_.program;
  std::vector<std::string> full = options_.wrapper;
  full.push_back(program);
  if (place_) full = place_->cgroup.wrap(std::move(full));
  program = full.front();
  for (auto& a : full)
    argv.push_back(a.data());
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);

  start_ = std::chrono::steady_clock::now();
  deadline_ =
      start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(options_.deadline);
  int rc = ::posix_spawnp(&pid_, program.c_str(), &fa, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(err[1]);
  if (feed) ::close(in[0]);
  if (tty_slave >= 0) ::close(tty_slave);
  if (rc != 0) throw std::runtime_error("cannot start meshrun: " + std::string(strerror(rc)));
  pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (options_.terminal) {
    // What meshrun writes to its terminal is read here as its stdout.
    ::close(out[0]);
    ::close(err[0]);
    err[0] = -1;
    out_fd_ = tty_;
    tty_ = ::fcntl(out_fd_, F_DUPFD_CLOEXEC, 0);
    set_nonblock(out_fd_);
  } else if (options_.stdout_path.empty()) {
    out_fd_ = out[0];
    set_nonblock(out_fd_);
  } else {
    ::close(out[0]);
  }
  err_fd_ = err[0];
  if (err_fd_ >= 0) set_nonblock(err_fd_);
  if (feed) {
    in_fd_ = in[1];
    set_nonblock(in_fd_);
    if (options_.stdin_data.empty()) {
      ::close(in_fd_);
      in_fd_ = -1;
    }
  }
}

Meshrun::~Meshrun() {
  if (!exited_ && pid_ > 0) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  for (pid_t p : processes_with_marker(marker_))
    ::kill(p, SIGKILL);
  for (int fd : {pidfd_, out_fd_, err_fd_, in_fd_, tty_})
    if (fd >= 0) ::close(fd);
}

void Meshrun::type(const std::string& text) {
  size_t done = 0;
  while (tty_ >= 0 && done < text.size()) {
    ssize_t w = ::write(tty_, text.data() + done, text.size() - done);
    if (w > 0) {
      done += static_cast<size_t>(w);
    } else if (errno != EINTR) {
      pump(10);  // the terminal's buffer is full: let meshrun read
    }
  }
}

bool Meshrun::pump(int timeout_ms) {
  pollfd fds[4];
  nfds_t n = 0;
  int* owners[4];
  auto add = [&](int* fd, short events) {
    if (*fd < 0) return;
    fds[n] = {*fd, events, 0};
    owners[n++] = fd;
  };
  add(&out_fd_, POLLIN);
  add(&err_fd_, POLLIN);
  add(&in_fd_, POLLOUT);
  if (!exited_ && pidfd_ >= 0) {
    fds[n] = {pidfd_, POLLIN, 0};
    owners[n++] = nullptr;
  }
  if (n == 0) return false;
  int r = ::poll(fds, n, timeout_ms);
  if (r <= 0) return true;
  char buf[65536];
  for (nfds_t i = 0; i < n; ++i) {
    if (!fds[i].revents) continue;
    if (!owners[i]) {
      rusage ru{};
      if (::wait4(pid_, &wait_status_, WNOHANG, &ru) == pid_) {
        exited_ = true;
        max_rss_kb_ = ru.ru_maxrss;
      }
      continue;
    }
    int& fd = *owners[i];
    if (&fd == &in_fd_) {
      const auto& data = options_.stdin_data;
      ssize_t w = ::write(fd, data.data() + in_written_, data.size() - in_written_);
      if (w > 0) in_written_ += static_cast<size_t>(w);
      if ((w < 0 && errno != EAGAIN) || in_written_ == data.size()) {
        ::close(fd);
        fd = -1;
      }
      continue;
    }
    ssize_t got = ::read(fd, buf, sizeof buf);
    if (got > 0) {
      (&fd == &out_fd_ ? out_ : err_).append(buf, static_cast<size_t>(got));
    } else if (got == 0 || errno != EAGAIN) {
      ::close(fd);
      fd = -1;
    }
  }
  return !(exited_ && out_fd_ < 0 && err_fd_ < 0);
}

bool Meshrun::wait_for(const std::string& text, const std::string& needle, size_t n,
                       Seconds timeout) {
  const auto until = std::chrono::steady_clock::now() +
                     std::chrono::duration_cast<std::chrono::steady_clock::duration>(timeout);
  while (count(text, needle) < n) {
    if (std::chrono::steady_clock::now() >= until) return false;
    if (!pump(50) && count(text, needle) < n) return false;
  }
  return true;
}

bool Meshrun::wait_for_stdout(const std::string& needle, size_t n, Seconds timeout) {
  return wait_for(out_, needle, n, timeout);
}

bool Meshrun::wait_for_stderr(const std::string& needle, size_t n, Seconds timeout) {
  return wait_for(err_, needle, n, timeout);
}

void Meshrun::signal(int sig) {
  if (!exited_) ::kill(pid_, sig);
}

Result Meshrun::finish() {
  Result r;
  while (pump(50)) {
    if (std::chrono::steady_clock::now() >= deadline_ && !exited_) {
      r.timed_out = true;
      ::kill(pid_, SIGKILL);
    }
  }
  if (!exited_) {
    rusage ru{};
    ::wait4(pid_, &wait_status_, 0, &ru);
    exited_ = true;
    max_rss_kb_ = ru.ru_maxrss;
  }
  r.seconds = Seconds(std::chrono::steady_clock::now() - start_).count();
  r.status = WIFEXITED(wait_status_) ? WEXITSTATUS(wait_status_) : 128 + WTERMSIG(wait_status_);
  r.signaled = WIFSIGNALED(wait_status_);
  r.out = std::move(out_);
  r.err = std::move(err_);
  r.max_rss_kb = max_rss_kb_;
  // meshrun returns only after every rank is reaped: nothing may be left.
  for (pid_t p : processes_with_marker(marker_)) {
    r.leftovers.push_back(describe_process(p));
    ::kill(p, SIGKILL);
  }
  if (place_) {
    for (auto& l : place_->leftovers())
      r.leftovers.push_back(std::move(l));
  }
  if (!r.leftovers.empty() && std::uncaught_exceptions() == 0) {
    std::string what;
    for (const auto& l : r.leftovers)
      what += "\n  " + l;
    FAIL_CHECK("the job left" << what);
  }
  return r;
}

Result run(std::vector<std::string> args, Options options) {
  Meshrun m(std::move(args), std::move(options));
  return m.finish();
}

}  // namespace meshrun_test
