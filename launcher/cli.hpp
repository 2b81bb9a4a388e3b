// meshrun's command line (CLI11). Flags override the TOML job spec.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "spec/job_spec.hpp"

namespace meshrun {

struct CliOptions {
  std::string job_file;              // empty: flags alone
  std::vector<std::string> command;  // after "--" or the first non-option word
  std::optional<uint32_t> np, nodes, per_host, tree_threshold;
  std::optional<std::string> launcher, hosts, hostfile, cwd, output_filename, stdin_mode;
  std::optional<std::string> timeout, grace, ssh_command, agent_path, bind;
  std::optional<std::string> heartbeat_timeout, start_timeout;
  std::optional<std::string> map_by, bind_to, signal_forward;
  std::vector<std::string> env;                           // -x VAR or VAR=VALUE
  std::vector<std::pair<std::string, std::string>> genv;  // -genv NAME VALUE
  bool envall = false, oversubscribe = false;
  bool tag = false, raw = false, dry_run = false, check = false, no_tls = false, json = false;
  int verbose = 0;
  bool quiet = false;
  bool show_version = false;
};

// Parses argv. On --help or a usage error it prints and returns the exit
// status to use (0, or 2 for a usage error); otherwise std::nullopt.
std::optional<int> parse_cli(int argc, char** argv, CliOptions& out);

// The job: the TOML (if any) with the flags applied on top. Throws SpecError
// or std::invalid_argument with a message for the user.
JobSpec build_job(const CliOptions& cli);

// The --help footer's table of exit statuses (from util/exit_status.hpp).
std::string exit_status_help();

}  // namespace meshrun
