// Runs the real meshrun (with its real agents and ranks) the way a user's
// shell would, with deadlines instead of sleeps, and checks afterwards that
// no process of the job is left: every run carries a unique environment
// marker that its agents and ranks inherit.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace meshrun_test {

using Seconds = std::chrono::duration<double>;

struct Result {
  int status = -1;        // shell convention: exit code, or 128 + signal
  bool signaled = false;  // meshrun ended by a signal, not by exit()
  std::string out, err;
  bool timed_out = false;  // the harness killed meshrun at the deadline
  long max_rss_kb = 0;     // peak RSS of meshrun or any process it reaped
  double seconds = 0;
  // What the job left once meshrun was gone: its processes ("PID CMD"), and
  // where the run has a place of its own, its job directories and cgroups.
  // The harness fails the test on any.
  std::vector<std::string> leftovers;
};

struct Options {
  std::string stdin_data;        // fed to meshrun's stdin, then closed
  bool stdin_devnull = true;     // when stdin_data is empty
  std::string stdout_path;       // non-empty: meshrun's stdout goes to this file
  std::vector<std::string> env;  // extra "KEY=VALUE" for meshrun
  std::string cwd;
  // Runs meshrun under this command (e.g. {"prlimit", "--nofile=64", "--"}),
  // which must exec it.
  std::vector<std::string> wrapper;
  // meshrun's stdin, stdout and stderr are one pseudo-terminal (raw mode: no
  // echo, no CR), as in an interactive shell: output goes to Result::out,
  // input is typed with Meshrun::type.
  bool terminal = false;
  std::string program;  // empty: the meshrun this build made
  Seconds deadline{60};
};

class RunPlace;

class Meshrun {
 public:
  explicit Meshrun(std::vector<std::string> args, Options options = {});
  ~Meshrun();  // kills what is left (by pid) if the test gave up early
  Meshrun(const Meshrun&) = delete;
  Meshrun& operator=(const Meshrun&) = delete;

  // Reads output until `needle` has appeared `count` times in stdout, or the
  // deadline passes (false).
  bool wait_for_stdout(const std::string& needle, size_t count = 1, Seconds timeout = Seconds{30});
  bool wait_for_stderr(const std::string& needle, size_t count = 1, Seconds timeout = Seconds{30});
  void signal(int sig);
  // Writes to the terminal (Options::terminal), as a user typing.
  void type(const std::string& text);
  pid_t pid() const { return pid_; }
  // What every process of this run carries in MESHRUN_TEST_MARKER.
  const std::string& marker() const { return marker_; }
  // Until meshrun exits (or the deadline: then it and its job are killed).
  Result finish();

 private:
  bool pump(int timeout_ms);
  bool wait_for(const std::string& stream, const std::string& needle, size_t n,
                Seconds timeout);  // false once meshrun exited and its pipes are drained

  Options options_;
  std::string marker_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int out_fd_ = -1, err_fd_ = -1, in_fd_ = -1;
  int tty_ = -1;  // the terminal's master side
  size_t in_written_ = 0;
  bool exited_ = false;
  int wait_status_ = 0;
  long max_rss_kb_ = 0;
  std::chrono::steady_clock::time_point start_, deadline_;
  std::string out_, err_;
  std::unique_ptr<RunPlace> place_;  // unless the test chose TMPDIR
};

// One-shot: run meshrun with `args` and wait for it.
Result run(std::vector<std::string> args, Options options = {});

// Where the build put things.
std::string meshrun_path();
std::string mpi_fixture(const std::string& name);

// Processes (other than zombies) whose environment holds `marker`.
std::vector<pid_t> processes_with_marker(const std::string& marker);
// Its state letter in /proc (R, S, T for stopped, ...); 0 once it is gone.
char process_state(pid_t pid);
// Polls `done` until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, Seconds timeout = Seconds{20});
// "PID CMDLINE" of a process, for messages.
std::string describe_process(pid_t pid);

// Polls `done` (every 20 ms) until it holds or `limit` passes (false).
bool wait_until(const std::function<bool()>& done, Seconds limit);

// Lines of `text`, without their newlines.
std::vector<std::string> lines(const std::string& text);
size_t count(const std::string& text, const std::string& needle);

// A private temporary directory, removed with its contents.
struct TempDir {
  std::string path;
  TempDir();
  ~TempDir();
};

}  // namespace meshrun_test
