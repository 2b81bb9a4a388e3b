// meshrun: the launcher. Parses the command line and the job spec (the only
// places exceptions are used), then runs the job.
#include <signal.h>
#include <sys/prctl.h>

#include <cstdio>
#include <iostream>

#include "launcher/cli.hpp"
#include "launcher/job_runner.hpp"
#include "spec/spec_loader.hpp"
#include "util/exit_status.hpp"
#include "util/fd_limit.hpp"
#include "util/log.hpp"
#include "util/malloc_tuning.hpp"

namespace {
void on_sigpipe(int) {}

// A program stopped by SIGINT or SIGTERM ends by that signal once it has
// cleaned up, so its parent (a shell's `for` loop, make) sees why and stops
// too. Returns only if the signal does not end the process.
void die_by(int sig) {
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  ::sigaction(sig, &dfl, nullptr);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, sig);
  ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);
  ::raise(sig);
}
}  // namespace

int main(int argc, char** argv) {
  meshrun::keep_message_buffers();
  struct sigaction sa {};
  sa.sa_handler = on_sigpipe;  // a handler, not SIG_IGN, so ranks get the default back
  ::sigaction(SIGPIPE, &sa, nullptr);

  // The job secret will live here: no process of the same user (a local
  // rank) may read it through /proc/PID/mem or ptrace.
  ::prctl(PR_SET_DUMPABLE, 0);
  meshrun::raise_fd_limit();
  meshrun::CliOptions cli;
  if (auto exit_code = meshrun::parse_cli(argc, argv, cli)) return *exit_code;
  using meshrun::log::Level;
  meshrun::log::set_level(cli.quiet          ? Level::error
                          : cli.verbose >= 2 ? Level::debug
                          : cli.verbose == 1 ? Level::verbose
                                             : Level::warn);
  meshrun::JobSpec spec;
  try {
    spec = meshrun::build_job(cli);
  } catch (const meshrun::SpecError& e) {
    meshrun::log::error(e.describe());
    return meshrun::exit_status::kUsage;
  } catch (const std::exception& e) {
    meshrun::log::error(e.what());
    return meshrun::exit_status::kUsage;
  }
  if (cli.check) return meshrun::check_job(spec);
  meshrun::RunOptions options;
  options.json = cli.json;
  options.dry_run = cli.dry_run;
  options.no_tls = cli.no_tls;
  const auto outcome = meshrun::run_job(spec, options);
  std::fflush(stdout);
  if (outcome.signal) die_by(outcome.signal);
  return outcome.status;
}
