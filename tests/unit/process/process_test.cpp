// spawn_process and Child against real processes. Every wait has a deadline.
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "process/child.hpp"
#include "process/cpu_binding.hpp"
#include "process/spawn.hpp"

using namespace meshrun;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kDeadline = std::chrono::seconds(20);
const std::vector<std::string> kEnv = {"PATH=/usr/bin:/bin"};

struct Fd {
  int fd = -1;
  Fd() = default;
  explicit Fd(int f) : fd(f) {}
  Fd(Fd&& o) noexcept : fd(o.fd) { o.fd = -1; }
  Fd& operator=(Fd&&) = delete;
  ~Fd() { reset(); }
  void reset() {
    if (fd >= 0) close(fd);
    fd = -1;
  }
};

struct Pipe {
  Fd r, w;
  Pipe() {
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    r.fd = p[0];
    w.fd = p[1];
  }
};

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "meshrun-process-XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    path = std::filesystem::canonical(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const std::string& name, const std::string& content, mode_t mode) const {
    std::string p = (path / name).string();
    std::ofstream(p) << content;
    REQUIRE(chmod(p.c_str(), mode) == 0);
    return p;
  }
};

// Reads until EOF, or fails the test at the deadline.
std::string read_all(int fd, Clock::duration timeout = kDeadline) {
  auto deadline = Clock::now() + timeout;
  std::string out;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    REQUIRE(left.count() > 0);
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    REQUIRE(r >= 0);
    if (r == 0) continue;
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    REQUIRE(n >= 0);
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

// Reads one line (without the newline), or fails the test at the deadline.
std::string read_line(int fd) {
  auto deadline = Clock::now() + kDeadline;
  std::string out;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    REQUIRE(left.count() > 0);
    pollfd p{fd, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
    char c;
    ssize_t n = read(fd, &c, 1);
    REQUIRE(n == 1);
    if (c == '\n') return out;
    out.push_back(c);
  }
}

// Runs the io_context until the child is reaped, or fails at the deadline.
ExitStatus wait_for(asio::io_context& io, Child& child) {
  std::optional<ExitStatus> status;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<void> { status = co_await child.wait(); }, asio::detached);
  io.restart();
  auto deadline = Clock::now() + kDeadline;
  while (!status && Clock::now() < deadline)
    io.run_for(deadline - Clock::now());
  REQUIRE(status.has_value());
  CHECK(child.reaped());
  return *status;
}

// True once `pid` has exited (zombies count), waiting on a pidfd up to the deadline.
bool exits_before_deadline(pid_t pid) {
  Fd pidfd(static_cast<int>(syscall(SYS_pidfd_open, pid, 0)));
  if (pidfd.fd < 0) return errno == ESRCH;
  pollfd p{pidfd.fd, POLLIN, 0};
  int r;
  do {
    r = poll(&p, 1, static_cast<int>(std::chrono::milliseconds(kDeadline).count()));
  } while (r < 0 && errno == EINTR);
  return r == 1;
}

SpawnOptions opts(std::string program, std::vector<std::string> argv) {
  SpawnOptions o;
  o.program = std::move(program);
  o.argv = std::move(argv);
  o.env = kEnv;
  return o;
}

Child spawn_ok(asio::io_context& io, const SpawnOptions& o) {
  auto r = spawn_process(o);
  if (!r) FAIL(r.error().message);
  CHECK(r->pidfd >= 0);
  return Child(io, *r);
}

// Runs a child with stdout on a pipe; returns its output and exit status.
std::pair<std::string, ExitStatus> run_capture(SpawnOptions o) {
  asio::io_context io;
  Pipe out;
  o.stdout_fd = out.w.fd;
  Child child = spawn_ok(io, o);
  out.w.reset();
  std::string text = read_all(out.r.fd);
  return {text, wait_for(io, child)};
}

size_t count_open_fds() {
  size_t n = 0;
  DIR* dir = opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  while (dirent* e = readdir(dir))
    n += e->d_name[0] != '.';
  closedir(dir);
  return n - 1;  // the directory's own fd
}

}  // namespace

TEST_CASE("true and false report their exit codes", "[process]") {
  asio::io_context io;
  Child t = spawn_ok(io, opts("/bin/true", {"true"}));
  Child f = spawn_ok(io, opts("false", {"false"}));  // found in PATH
  ExitStatus ts = wait_for(io, t);
  ExitStatus fs = wait_for(io, f);
  CHECK(ts.success());
  CHECK(ts.describe() == "exit code 0");
  CHECK(fs.exited);
  CHECK(fs.code == 1);
  CHECK_FALSE(fs.success());
  CHECK(fs.shell_status() == 1);

  Child three = spawn_ok(io, opts("/bin/sh", {"sh", "-c", "exit 3"}));
  CHECK(wait_for(io, three).describe() == "exit code 3");
}

TEST_CASE("a death by signal is described by name", "[process]") {
  asio::io_context io;
  Child c = spawn_ok(io, opts("/bin/sh", {"sh", "-c", "ulimit -c 0; kill -SEGV $$"}));
  ExitStatus st = wait_for(io, c);
  CHECK_FALSE(st.exited);
  CHECK(st.signal == SIGSEGV);
  CHECK(st.shell_status() == 128 + SIGSEGV);
  CHECK(st.describe().rfind("signal SIGSEGV", 0) == 0);
}

TEST_CASE("ExitStatus::describe and signal_name", "[process]") {
  CHECK(ExitStatus{true, 3, 0, false}.describe() == "exit code 3");
  CHECK(ExitStatus{false, 0, SIGSEGV, true}.describe() == "signal SIGSEGV (core dumped)");
  CHECK(ExitStatus{false, 0, SIGKILL, false}.describe() == "signal SIGKILL");
  CHECK(ExitStatus{false, 0, 99, false}.describe() == "signal 99");
  CHECK(signal_name(SIGTERM) == "SIGTERM");
  CHECK(signal_name(SIGRTMIN + 2) == "SIGRTMIN+2");
  CHECK(signal_name(99) == "signal 99");
}

TEST_CASE("a missing program is not_found, not a child exiting 127", "[process]") {
  SpawnError detail;
  auto r = spawn_process(opts("/nonexistent-meshrun-dir/prog", {"prog"}), &detail);
  REQUIRE_FALSE(r);
  CHECK(r.error().code == Errc::spawn);
  CHECK(r.error().message == "/nonexistent-meshrun-dir/prog: No such file or directory");
  CHECK(detail.kind == SpawnFailure::not_found);
  CHECK(detail.err == ENOENT);

  auto bare = spawn_process(opts("meshrun-no-such-program", {"x"}), &detail);
  REQUIRE_FALSE(bare);
  CHECK(detail.kind == SpawnFailure::not_found);
  CHECK(bare.error().message == "meshrun-no-such-program: No such file or directory");
}

TEST_CASE("a file that cannot be executed is not_executable", "[process]") {
  TempDir dir;
  SpawnError detail;

  std::string plain = dir.file("plain", "#!/bin/sh\necho hi\n", 0644);
  auto r = spawn_process(opts(plain, {"plain"}), &detail);
  REQUIRE_FALSE(r);
  CHECK(detail.kind == SpawnFailure::not_executable);
  CHECK(detail.err == EACCES);
  CHECK(r.error().message == plain + ": Permission denied");

  // errno from inside the child after exec failed: ENOEXEC.
  std::string garbage = dir.file("garbage", std::string("\x01\x02\x03\x04 not a program\n"), 0755);
  auto g = spawn_process(opts(garbage, {"garbage"}), &detail);
  REQUIRE_FALSE(g);
  CHECK(detail.kind == SpawnFailure::not_executable);
  CHECK(detail.err == ENOEXEC);
  CHECK(g.error().message == garbage + ": Exec format error");

  auto d = spawn_process(opts(dir.path.string(), {"dir"}), &detail);
  REQUIRE_FALSE(d);
  CHECK(detail.kind == SpawnFailure::not_executable);

  // Found in PATH but not executable: EACCES like execvp, not ENOENT.
  SpawnOptions o = opts("plain", {"plain"});
  o.env = {"PATH=" + dir.path.string()};
  auto p = spawn_process(o, &detail);
  REQUIRE_FALSE(p);
  CHECK(detail.kind == SpawnFailure::not_executable);
}

TEST_CASE("PATH lookup uses the child's environment", "[process]") {
  TempDir dir;
  std::filesystem::create_directory(dir.path / "bin");
  std::filesystem::create_directory(dir.path / "other");
  dir.file("bin/meshrun-test-prog", "#!/bin/sh\necho from-bin\n", 0755);
  dir.file("other/meshrun-test-prog", "#!/bin/sh\necho from-other\n", 0755);
  dir.file("other/meshrun-noexec", "#!/bin/sh\necho no\n", 0644);
  dir.file("bin/meshrun-noexec", "#!/bin/sh\necho from-bin-noexec\n", 0755);

  SpawnOptions o = opts("meshrun-test-prog", {"meshrun-test-prog"});
  o.env = {"PATH=" + (dir.path / "bin").string() + ":/usr/bin:/bin"};
  CHECK(run_capture(o).first == "from-bin\n");
  o.env = {"PATH=" + (dir.path / "other").string() + ":" + (dir.path / "bin").string()};
  CHECK(run_capture(o).first == "from-other\n");
  // A non-executable match is skipped when a later entry has an executable one.
  o.program = "meshrun-noexec";
  CHECK(run_capture(o).first == "from-bin-noexec\n");

  SpawnError detail;
  o.program = "meshrun-test-prog";
  o.env = kEnv;  // this process's PATH is not consulted
  REQUIRE_FALSE(spawn_process(o, &detail));
  CHECK(detail.kind == SpawnFailure::not_found);

  std::string path_env = "/nonexistent:" + (dir.path / "bin").string();
  CHECK(find_in_path("meshrun-test-prog", path_env) ==
        (dir.path / "bin/meshrun-test-prog").string());
  CHECK(find_in_path("meshrun-test-prog", "/nonexistent").empty());
  CHECK(find_in_path("./x/y", "/bin") == "./x/y");
}

TEST_CASE("environment and working directory reach the child", "[process]") {
  TempDir dir;
  SpawnOptions o = opts("/bin/sh", {"sh", "-c", "printf '%s|%s\\n' \"$FOO\" \"$HOME\"; pwd -P"});
  o.env = {"PATH=/usr/bin:/bin", "FOO=bar baz"};
  o.cwd = dir.path.string();
  auto [out, st] = run_capture(o);
  CHECK(st.success());
  CHECK(out == "bar baz|\n" + dir.path.string() + "\n");

  SpawnError detail;
  o.cwd = (dir.path / "missing").string();
  auto r = spawn_process(o, &detail);
  REQUIRE_FALSE(r);
  CHECK(detail.kind == SpawnFailure::other);
  CHECK(detail.err == ENOENT);
  CHECK(r.error().message.find("cannot change directory") != std::string::npos);
}

TEST_CASE("stdin defaults to /dev/null and can be a pipe", "[process]") {
  auto [out, st] = run_capture(opts("/bin/cat", {"cat"}));
  CHECK(st.success());
  CHECK(out.empty());

  Pipe in;
  REQUIRE(write(in.w.fd, "fed\n", 4) == 4);
  in.w.reset();
  SpawnOptions o = opts("/bin/cat", {"cat"});
  o.stdin_fd = in.r.fd;
  CHECK(run_capture(o).first == "fed\n");
}

TEST_CASE("stderr can be captured separately", "[process]") {
  asio::io_context io;
  Pipe err;
  SpawnOptions o = opts("/bin/sh", {"sh", "-c", "echo oops >&2"});
  o.stderr_fd = err.w.fd;
  Child c = spawn_ok(io, o);
  err.w.reset();
  CHECK(read_all(err.r.fd) == "oops\n");
  CHECK(wait_for(io, c).success());
}

TEST_CASE("extra descriptors are mapped to the requested child fds", "[process]") {
  SECTION("parent fd -> child fd 3") {
    Pipe p;
    SpawnOptions o = opts(PROCESS_TEST_HELPER, {"helper", "write", "3", "hello"});
    o.fds = {{3, p.w.fd}};
    asio::io_context io;
    Child c = spawn_ok(io, o);
    p.w.reset();
    CHECK(read_all(p.r.fd) == "hello");
    CHECK(wait_for(io, c).success());
  }
  SECTION("parent fd numbers collide with targets (a swap)") {
    Pipe p1, p2;
    // Put the write ends at fds a and b, then ask for child a <- b, child b <- a.
    Fd a(fcntl(p1.w.fd, F_DUPFD_CLOEXEC, 40));
    Fd b(fcntl(p2.w.fd, F_DUPFD_CLOEXEC, a.fd + 1));
    REQUIRE(a.fd >= 40);
    REQUIRE(b.fd > a.fd);
    p1.w.reset();
    p2.w.reset();
    std::string sa = std::to_string(a.fd), sb = std::to_string(b.fd);
    SpawnOptions o = opts(PROCESS_TEST_HELPER,
                          {"helper", "write", sa, "into-child-" + sa, sb, "into-child-" + sb});
    o.fds = {{a.fd, b.fd}, {b.fd, a.fd}};
    asio::io_context io;
    Child c = spawn_ok(io, o);
    a.reset();
    b.reset();
    CHECK(read_all(p1.r.fd) == "into-child-" + sb);
    CHECK(read_all(p2.r.fd) == "into-child-" + sa);
    CHECK(wait_for(io, c).success());
  }
  SECTION("a source equal to a standard fd target") {
    // child 1 <- pipe, child 3 <- parent's 1 would be clobbered by the first dup2
    // if done in order; here parent fd 1 is replaced by a pipe we can read.
    Pipe p_out, p_three;
    Fd saved(fcntl(1, F_DUPFD_CLOEXEC, 3));
    REQUIRE(dup2(p_three.w.fd, 1) == 1);
    SpawnOptions o = opts(PROCESS_TEST_HELPER, {"helper", "write", "1", "to-one", "3", "to-three"});
    o.stdout_fd = p_out.w.fd;
    o.fds = {{3, 1}};
    auto r = spawn_process(o);
    REQUIRE(dup2(saved.fd, 1) == 1);
    REQUIRE(r);
    asio::io_context io;
    Child c(io, *r);
    p_out.w.reset();
    p_three.w.reset();
    CHECK(read_all(p_out.r.fd) == "to-one");
    CHECK(read_all(p_three.r.fd) == "to-three");
    CHECK(wait_for(io, c).success());
  }
}

TEST_CASE("the child gets our signal mask and default SIGPIPE", "[process]") {
  // A launcher ignores SIGPIPE for its sockets; ranks must not inherit that.
  // An ignored SIGHUP (nohup) and the blocked mask are passed on, as posix_spawn does.
  struct sigaction ign = {}, old_pipe, old_hup;
  ign.sa_handler = SIG_IGN;
  REQUIRE(sigaction(SIGPIPE, &ign, &old_pipe) == 0);
  REQUIRE(sigaction(SIGHUP, &ign, &old_hup) == 0);
  sigset_t usr2, old_mask;
  sigemptyset(&usr2);
  sigaddset(&usr2, SIGUSR2);
  REQUIRE(pthread_sigmask(SIG_BLOCK, &usr2, &old_mask) == 0);

  auto field = [](const std::string& status, const std::string& key) {
    size_t at = status.find(key + ":\t");
    REQUIRE(at != std::string::npos);
    return std::stoull(status.substr(at + key.size() + 2, 16), nullptr, 16);
  };
  std::string ours;
  {
    std::ifstream in("/proc/thread-self/status");
    ours.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  auto [out, st] = run_capture(opts("/bin/cat", {"cat", "/proc/self/status"}));

  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  sigaction(SIGHUP, &old_hup, nullptr);
  REQUIRE(st.success());
  auto bit = [](int sig) { return 1ull << (sig - 1); };
  CHECK(field(out, "SigBlk") == field(ours, "SigBlk"));
  CHECK((field(out, "SigBlk") & bit(SIGUSR2)) != 0);
  CHECK(field(out, "SigIgn") == (field(ours, "SigIgn") & ~bit(SIGPIPE)));
  CHECK((field(out, "SigIgn") & bit(SIGHUP)) != 0);
}

TEST_CASE("mapping one child fd twice is refused", "[process]") {
  SpawnError detail;
  SpawnOptions o = opts("/bin/true", {"true"});
  o.fds = {{3, 0}, {3, 1}};
  REQUIRE_FALSE(spawn_process(o, &detail));
  CHECK(detail.kind == SpawnFailure::other);
}

TEST_CASE("no descriptor leaks into the child", "[process]") {
  // Not CLOEXEC on purpose: only the explicit close in the child removes it.
  Fd leaky(open("/dev/null", O_RDONLY));
  REQUIRE(leaky.fd >= 0);
  Pipe extra;
  SpawnOptions o = opts(PROCESS_TEST_HELPER, {"helper", "fds"});
  o.fds = {{7, extra.w.fd}};
  auto [out, st] = run_capture(o);
  CHECK(st.success());
  CHECK(out == "0 1 2 7\n");
}

TEST_CASE("the child leads its own process group", "[process]") {
  asio::io_context io;
  Child c = spawn_ok(io, opts("/bin/sleep", {"sleep", "100"}));
  CHECK(getpgid(c.pid()) == c.pid());
  CHECK_FALSE(c.try_reap());
  c.signal_group(SIGKILL);
  ExitStatus st = wait_for(io, c);
  CHECK(st.signal == SIGKILL);
  CHECK(st.describe() == "signal SIGKILL");

  SpawnOptions same = opts("/bin/sleep", {"sleep", "100"});
  same.new_process_group = false;
  Child d = spawn_ok(io, same);
  CHECK(getpgid(d.pid()) == getpgrp());
  d.signal_group(SIGTERM);  // must not hit our own group: we are still here
  CHECK(wait_for(io, d).signal == SIGTERM);
}

TEST_CASE("signal_group reaches grandchildren", "[process]") {
  asio::io_context io;
  Pipe out;
  SpawnOptions o = opts("/bin/sh", {"sh", "-c", "sleep 100 & echo $!; wait"});
  o.stdout_fd = out.w.fd;
  Child c = spawn_ok(io, o);
  out.w.reset();
  pid_t grandchild = std::atoi(read_line(out.r.fd).c_str());
  REQUIRE(grandchild > 0);
  Fd gfd(static_cast<int>(syscall(SYS_pidfd_open, grandchild, 0)));
  REQUIRE(gfd.fd >= 0);  // alive now

  c.signal_group(SIGTERM);
  CHECK(wait_for(io, c).signal == SIGTERM);
  CHECK(exits_before_deadline(grandchild));
}

TEST_CASE("signal and try_reap, and signals after reaping do nothing", "[process]") {
  asio::io_context io;
  Child c = spawn_ok(io, opts("/bin/sleep", {"sleep", "100"}));
  CHECK_FALSE(c.try_reap());
  CHECK_FALSE(c.reaped());
  c.signal(SIGTERM);
  CHECK(wait_for(io, c).signal == SIGTERM);
  CHECK(c.try_reap());
  c.signal(SIGKILL);
  c.signal_group(SIGKILL);
  CHECK(c.status().signal == SIGTERM);
}

TEST_CASE("die_with_parent: a grandchild dies with its SIGKILLed parent", "[process]") {
  asio::io_context io;
  Pipe out;
  SpawnOptions o = opts(PROCESS_TEST_HELPER, {"helper", "spawn-grandchild"});
  o.stdout_fd = out.w.fd;
  Child middle = spawn_ok(io, o);
  out.w.reset();
  pid_t grandchild = std::atoi(read_line(out.r.fd).c_str());
  REQUIRE(grandchild > 0);
  Fd gfd(static_cast<int>(syscall(SYS_pidfd_open, grandchild, 0)));
  REQUIRE(gfd.fd >= 0);
  // Its own group, so only PR_SET_PDEATHSIG can end it.
  CHECK(getpgid(grandchild) == grandchild);

  middle.signal(SIGKILL);
  CHECK(wait_for(io, middle).signal == SIGKILL);
  CHECK(exits_before_deadline(grandchild));
}

TEST_CASE("200 spawns are all reaped and leak no descriptors", "[process]") {
  asio::io_context io;
  {
    // The reactor opens its own fds on first use; count after that.
    Child warm = spawn_ok(io, opts("/bin/true", {"true"}));
    CHECK(wait_for(io, warm).success());
  }
  size_t before = count_open_fds();
  {
    std::vector<std::unique_ptr<Child>> children;
    for (int i = 0; i < 200; ++i) {
      auto r = spawn_process(opts("/bin/true", {"true"}));
      REQUIRE(r);
      children.push_back(std::make_unique<Child>(io, *r));
    }
    int done = 0, ok = 0;
    for (auto& c : children) {
      asio::co_spawn(
          io,
          [&, child = c.get()]() -> asio::awaitable<void> {
            ExitStatus st = co_await child->wait();
            ++done;
            ok += st.success();
          },
          asio::detached);
    }
    io.restart();
    auto deadline = Clock::now() + std::chrono::seconds(60);
    while (done < 200 && Clock::now() < deadline)
      io.run_for(deadline - Clock::now());
    CHECK(done == 200);
    CHECK(ok == 200);
  }
  CHECK(count_open_fds() == before);
}

TEST_CASE("cpus bind the child to those CPUs before it runs", "[process][binding]") {
  const CpuTopology here = CpuTopology::current();
  REQUIRE_FALSE(here.cpus.empty());
  const int last = here.cpus.back().id;
  SpawnOptions o = opts("/bin/sh", {"sh", "-c", "grep Cpus_allowed_list /proc/self/status"});
  o.cpus = {last};
  auto [out, st] = run_capture(o);
  CHECK(st.success());
  CHECK(out == "Cpus_allowed_list:\t" + std::to_string(last) + "\n");

  // A CPU this machine does not have: a clear error, no child.
  SpawnError detail;
  o.cpus = {4000};
  auto r = spawn_process(o, &detail);
  REQUIRE_FALSE(r);
  CHECK(r.error().message.find("cannot bind to CPUs 4000") != std::string::npos);
}
