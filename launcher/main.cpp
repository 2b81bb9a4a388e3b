// meshrun: the launcher. Parses the command line and the job spec (the only
// places exceptions are used), then runs the job.
#include <signal.h>

#include <cstdio>
#include <iostream>

#include "launcher/cli.hpp"
#include "launcher/job_runner.hpp"
#include "spec/spec_loader.hpp"
#include "util/log.hpp"
#include "util/malloc_tuning.hpp"

namespace {
void on_sigpipe(int) {}
}  // namespace

int main(int argc, char** argv) {
  meshrun::keep_message_buffers();
  struct sigaction sa {};
  sa.sa_handler = on_sigpipe;  // a handler, not SIG_IGN, so ranks get the default back
  ::sigaction(SIGPIPE, &sa, nullptr);

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
    return 2;
  } catch (const std::exception& e) {
    meshrun::log::error(e.what());
    return 2;
  }
  meshrun::RunOptions options;
  options.check_only = cli.check;
  options.json = cli.json;
  options.dry_run = cli.dry_run;
  options.no_tls = cli.no_tls;
  return meshrun::run_job(spec, options);
}
