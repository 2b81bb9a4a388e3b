#include "harness.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <exception>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace meshrun_test {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// /proc/PID/<what> as raw bytes; empty if the process is gone or not ours.
std::string read_proc(pid_t pid, const char* what) {
  return read_file("/proc/" + std::to_string(pid) + "/" + what);
}

bool is_zombie(pid_t pid) {
  const std::string stat = read_proc(pid, "stat");
  const auto paren = stat.rfind(')');
  return paren == std::string::npos || paren + 2 >= stat.size() || stat[paren + 2] == 'Z';
}

}  // namespace

TempDir::TempDir() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "meshrun-it-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  const std::string p = path_ + "/" + name;
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

std::string describe(const Outcome& o) {
  std::string s;
  if (o.timed_out)
    s = "timed out (killed)";
  else if (o.exited)
    s = "exit " + std::to_string(o.code);
  else
    s = "signal " + std::to_string(o.signal);
  s += " after " +
       std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(o.took).count()) +
       " ms\n--- stdout ---\n" + o.out + "--- stderr ---\n" + o.err;
  return s;
}

Process::Process(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                 const std::string& output_dir) {
  static int counter = 0;
  const std::string tag = std::to_string(++counter);
  out_path_ = output_dir + "/stdout." + tag;
  err_path_ = output_dir + "/stderr." + tag;

  std::vector<std::string> envs;
  for (char** e = environ; e && *e; ++e)
    envs.emplace_back(*e);
  for (const auto& kv : env) {
    const auto key = kv.substr(0, kv.find('=') + 1);
    std::erase_if(envs, [&](const std::string& e) { return e.starts_with(key); });
    envs.push_back(kv);
  }
  std::vector<char*> cargv, cenv;
  for (const auto& a : argv)
    cargv.push_back(const_cast<char*>(a.c_str()));
  cargv.push_back(nullptr);
  for (const auto& e : envs)
    cenv.push_back(const_cast<char*>(e.c_str()));
  cenv.push_back(nullptr);

  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  started_ = Clock::now();
  const int rc = ::posix_spawn(&pid_, cargv[0], &fa, nullptr, cargv.data(), cenv.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) throw std::runtime_error("posix_spawn " + argv[0] + ": " + std::strerror(rc));
}

Process::~Process() {
  if (!reaped_) {
    ::kill(pid_, SIGKILL);
    reap(true);
  }
}

bool Process::reap(bool block) {
  if (reaped_) return true;
  int st = 0;
  pid_t r;
  do {
    r = ::waitpid(pid_, &st, block ? 0 : WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    reaped_ = true;
    status_ = st;
  }
  return reaped_;
}

bool Process::running() {
  return !reap(false);
}

Outcome Process::wait(Clock::duration limit) {
  Outcome o;
  const bool done = wait_until([&] { return reap(false); }, limit);
  if (!done) {
    o.timed_out = true;
    ::kill(pid_, SIGKILL);
    reap(true);
  }
  o.took = Clock::now() - started_;
  o.exited = WIFEXITED(status_);
  o.code = o.exited ? WEXITSTATUS(status_) : -1;
  o.signal = WIFSIGNALED(status_) ? WTERMSIG(status_) : 0;
  o.out = stdout_so_far();
  o.err = stderr_so_far();
  return o;
}

std::string Process::stdout_so_far() const {
  return read_file(out_path_);
}
std::string Process::stderr_so_far() const {
  return read_file(err_path_);
}

Outcome run(const std::vector<std::string>& argv, const std::vector<std::string>& env,
            const std::string& output_dir, Clock::duration limit) {
  Process p(argv, env, output_dir);
  return p.wait(limit);
}

std::string random_marker() {
  std::random_device rd;
  std::ostringstream s;
  s << std::hex << rd() << rd() << ::getpid();
  return s.str();
}

std::vector<pid_t> job_pids(const std::string& marker) {
  const std::string needle = std::string(1, '\0') + kMarkerVar + "=" + marker + '\0';
  std::vector<pid_t> pids;
  DIR* d = ::opendir("/proc");
  if (!d) return pids;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0 || pid == ::getpid()) continue;
    const std::string env = std::string(1, '\0') + read_proc(static_cast<pid_t>(pid), "environ");
    if (env.find(needle) == std::string::npos) continue;
    if (is_zombie(static_cast<pid_t>(pid))) continue;
    pids.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(d);
  return pids;
}

std::vector<std::string> cmdline(pid_t pid) {
  std::vector<std::string> args;
  const std::string raw = read_proc(pid, "cmdline");
  size_t start = 0;
  while (start < raw.size()) {
    auto end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    args.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  return args;
}

bool cmdline_is(pid_t pid, const std::string& program, const std::vector<std::string>& args) {
  const auto argv = cmdline(pid);
  if (argv.empty()) return false;
  const auto slash = argv[0].rfind('/');
  const std::string base = slash == std::string::npos ? argv[0] : argv[0].substr(slash + 1);
  if (base != program || argv.size() < args.size() + 1) return false;
  return std::equal(args.begin(), args.end(), argv.begin() + 1);
}

bool wait_until(const std::function<bool()>& pred, Clock::duration limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    if (pred()) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(10ms);  // polling interval, bounded by the deadline
  }
}

bool wait_no_job_processes(const std::string& marker, Clock::duration limit) {
  return wait_until([&] { return job_pids(marker).empty(); }, limit);
}

std::vector<pid_t> kill_job(const std::string& marker) {
  std::vector<pid_t> found;
  for (int round = 0; round < 50; ++round) {
    const auto pids = job_pids(marker);
    if (pids.empty()) break;
    for (pid_t p : pids) {
      ::kill(p, SIGKILL);
      if (std::find(found.begin(), found.end(), p) == found.end()) found.push_back(p);
    }
    // SIGKILLed processes vanish from /proc (or turn zombie) shortly after.
    wait_until([&] { return job_pids(marker).empty(); }, 200ms);
  }
  return found;
}

JobGuard::JobGuard() : marker_(random_marker()) {}

JobGuard::~JobGuard() {
  // Give an orderly shutdown a moment before calling what is left a leak.
  const bool clean = wait_no_job_processes(marker_, 3s);
  std::string survivors;
  if (!clean) {
    for (pid_t p : job_pids(marker_)) {
      survivors += "\n  " + std::to_string(p) + ":";
      for (const auto& a : cmdline(p))
        survivors += " " + a;
    }
  }
  const auto killed = kill_job(marker_);
  if (!clean && std::uncaught_exceptions() == 0) {
    FAIL_CHECK("processes of the job were left running (" << killed.size()
                                                          << " SIGKILLed):" << survivors);
  }
}

}  // namespace meshrun_test
