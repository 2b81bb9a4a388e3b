#include "launcher/cli.hpp"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "alloc/hostlist.hpp"
#include "alloc/slurm_allocator.hpp"
#include "spec/spec_loader.hpp"
#include "wire/protocol.hpp"

namespace meshrun {
namespace {

// Inside a SLURM allocation `-n N` fills nodes in order, as srun's block
// distribution does: the fewest nodes whose tasks can hold N evenly.
uint32_t slurm_hosts_for(uint32_t n, LauncherKind launcher) {
  if (launcher != LauncherKind::automatic && launcher != LauncherKind::slurm) return 1;
  if (!in_slurm_allocation()) return 1;
  auto alloc = read_slurm_allocation();
  if (!alloc || alloc->tasks.empty()) return 1;
  const uint32_t fewest = *std::min_element(alloc->tasks.begin(), alloc->tasks.end());
  for (uint32_t k = 1; k <= alloc->nodes.size(); ++k)
    if (n % k == 0 && n / k <= fewest) return k;
  return static_cast<uint32_t>(alloc->nodes.size());
}

bool looks_like_job_file(const std::string& word) {
  return word.size() > 5 && word.compare(word.size() - 5, 5, ".toml") == 0;
}

// Usage first, then the option groups one blank line apart, then the footer.
class HelpFormatter : public CLI::Formatter {
 public:
  std::string make_usage(const CLI::App*, std::string) const override {
    return "usage: meshrun [OPTIONS] JOB.toml\n"
           "       meshrun [OPTIONS] -- COMMAND [ARGS...]\n"
           "       meshrun [OPTIONS] JOB.toml -- COMMAND [ARGS...]\n\n";
  }
  std::string make_description(const CLI::App* app) const override {
    return app->get_description() + "\n\n";
  }
  std::string make_group(std::string group, bool positional,
                         std::vector<const CLI::Option*> opts) const override {
    std::string out = group + ":\n";
    for (const CLI::Option* opt : opts)
      out += make_option(opt, positional);
    return out;
  }
};

constexpr const char* kHelpFooter =
    "Exit status: 0 ok; 1 a rank or actor failed; 2 usage or job spec error; 124 timeout;\n"
    "125 launch failure; 126/127 command not executable/not found; 128+N a rank was killed\n"
    "by signal N (or meshrun was interrupted by it).\n"
    "See meshrun(1) and meshrun.toml(5).";

}  // namespace

std::optional<int> parse_cli(int argc, char** argv, CliOptions& o) {
  CLI::App app{
      "Start a job of procs and actors on local, ssh or SLURM hosts: the actors a\n"
      "job spec names, or COMMAND in every rank.",
      "meshrun"};
  app.prefix_command(true);  // options stop at the first word of the job or command
  app.formatter(std::make_shared<HelpFormatter>());
  app.get_formatter()->column_width(26);
  app.footer(kHelpFooter);

  const char* job = "Job";
  app.add_option("-n,--np", o.np, "Total number of ranks")
      ->option_text("N")
      ->group(job)
      ->check(CLI::PositiveNumber);
  app.add_option("-N,--nodes", o.nodes, "Number of hosts")
      ->option_text("N")
      ->group(job)
      ->check(CLI::PositiveNumber);
  app.add_option("--per-host", o.per_host, "Ranks per host")
      ->option_text("N")
      ->group(job)
      ->check(CLI::PositiveNumber);
  app.add_option("-x,--env", o.env, "Pass VAR, or set VAR=VALUE, in every rank")
      ->option_text("VAR[=VALUE]")
      ->group(job)
      ->take_first()
      ->allow_extra_args(false);
  app.add_option("--cwd", o.cwd, "Working directory of every rank")->option_text("DIR")->group(job);
  app.add_flag("--check", o.check, "Check the job spec and flags, print ok, start nothing")
      ->group(job);
  app.add_flag("--dry-run", o.dry_run, "Print the launcher and rank map, start nothing")
      ->group(job);

  const char* hosts = "Hosts";
  app.add_option("--launcher", o.launcher, "How hosts are started: auto, local, ssh, slurm")
      ->option_text("KIND")
      ->group(hosts)
      ->check(CLI::IsMember({"auto", "local", "ssh", "slurm"}));
  app.add_option("-H,--host", o.hosts, "Hosts: a,b or node[01-04] or user@host:slots")
      ->option_text("HOSTS")
      ->group(hosts);
  app.add_option("--hostfile", o.hostfile, "File of hosts, one 'host slots=N' a line")
      ->option_text("FILE")
      ->group(hosts);
  app.add_option("--ssh-command", o.ssh_command, "ssh client and its options (default: ssh)")
      ->option_text("CMD")
      ->group(hosts);
  app.add_option("--agent-path", o.agent_path, "meshrun-agent's path on the hosts")
      ->option_text("PATH")
      ->group(hosts);
  app.add_option("--bind", o.bind, "Address the agents dial back to")
      ->option_text("ADDR")
      ->group(hosts);
  app.add_option("--tree-threshold", o.tree_threshold, "Launch as a tree above N hosts (32)")
      ->option_text("N")
      ->group(hosts);
  app.add_flag("--no-tls", o.no_tls, "Plain TCP between hosts (trusted networks only)")
      ->group(hosts);

  const char* output = "Output";
  app.add_flag("-l,--tag-output", o.tag, "Prefix every output line with [rank]")->group(output);
  app.add_option("--output-filename", o.output_filename,
                 "Write each rank's output to a file (%r rank, %h host)")
      ->option_text("PATTERN")
      ->group(output);
  app.add_flag("--raw", o.raw, "Pass output through unbuffered, not line by line")->group(output);
  app.add_flag("--json", o.json,
               "Results as JSON lines on stdout (one per cast or call, then the exit)")
      ->group(output);
  app.add_option("--stdin", o.stdin_mode, "Who reads meshrun's stdin: rank0, all, none")
      ->option_text("WHO")
      ->group(output)
      ->check(CLI::IsMember({"rank0", "all", "none"}));

  const char* time = "Signals and time";
  app.add_option("--timeout", o.timeout, "End the job after DURATION (90s, 5m); exit 124")
      ->option_text("DURATION")
      ->group(time);
  app.add_option("--grace", o.grace, "Time from SIGTERM to SIGKILL (default 5s)")
      ->option_text("DURATION")
      ->group(time);
  app.add_option("--heartbeat-timeout", o.heartbeat_timeout,
                 "Silence after which a host is lost (default 10s)")
      ->option_text("DURATION")
      ->group(time);
  app.add_option("--start-timeout", o.start_timeout, "Time a host may take to start (default 10s)")
      ->option_text("DURATION")
      ->group(time);

  const char* diag = "Diagnostics";
  app.add_flag("-v,--verbose", o.verbose, "More detail (-vv: messages too)")->group(diag);
  app.add_flag("-q,--quiet", o.quiet, "Only errors")->group(diag);
  app.add_flag("-V,--version", o.show_version, "Print the version and protocol, and exit")
      ->group(diag);
  app.set_help_flag("-h,--help", "Print this help and exit")->group(diag);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    std::cout << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    std::cerr << "meshrun: error: " << e.what() << "\n"
              << "Run 'meshrun --help' for usage.\n";
    return 2;
  }
  if (o.show_version) {
    std::cout << "meshrun " << MESHRUN_VERSION << " (protocol " << kProtocolVersion << ")\n";
    return 0;
  }
  auto rest = app.remaining();
  // prefix_command hands back an unknown option as the command; say what it is.
  if (!rest.empty() && rest[0].size() > 1 && rest[0][0] == '-' && rest[0] != "--") {
    std::cerr << "meshrun: error: unknown option " << rest[0] << "\n"
              << "Run 'meshrun --help' for usage; put a command after --.\n";
    return 2;
  }
  size_t i = 0;
  // prefix_command hands an unknown option over as if it were the command.
  if (!rest.empty() && rest[0].size() > 1 && rest[0][0] == '-' && rest[0] != "--") {
    std::cerr << "meshrun: error: unknown option " << rest[0] << "\n"
              << "Run 'meshrun --help' for usage.\n";
    return 2;
  }
  if (i < rest.size() && rest[i] == "--") ++i;
  if (i < rest.size() && looks_like_job_file(rest[i])) {
    o.job_file = rest[i++];
    if (i < rest.size() && rest[i] == "--") ++i;
  }
  o.command.assign(rest.begin() + static_cast<long>(i), rest.end());
  return std::nullopt;
}

JobSpec build_job(const CliOptions& cli) {
  JobSpec spec;
  if (!cli.job_file.empty()) {
    spec = load_job_spec_file(cli.job_file);
  } else if (cli.command.empty()) {
    throw std::invalid_argument(
        "nothing to run: give a job spec (meshrun JOB.toml) or a command (meshrun -n 4 -- PROG)");
  } else {
    spec.source = "<command line>";
  }
  if (!cli.command.empty()) {
    spec.procs.command = cli.command;
    spec.actors.clear();
    spec.casts.clear();
    spec.controller.reset();
  }
  auto& h = spec.hosts;
  if (cli.launcher) {
    static const std::pair<const char*, LauncherKind> kinds[] = {{"auto", LauncherKind::automatic},
                                                                 {"local", LauncherKind::local},
                                                                 {"ssh", LauncherKind::ssh},
                                                                 {"slurm", LauncherKind::slurm}};
    for (const auto& [name, kind] : kinds)
      if (*cli.launcher == name) h.launcher = kind;
  }
  if (cli.hosts) {
    auto list = parse_host_list(*cli.hosts);
    if (!list) throw std::invalid_argument("-H " + *cli.hosts + ": " + list.error().message);
    h.list = *list;
  }
  if (cli.hostfile) {
    auto list = parse_hostfile(*cli.hostfile);
    if (!list) throw std::invalid_argument(list.error().message);
    h.hostfile = *cli.hostfile;
    h.list = *list;
  }
  if (cli.ssh_command) h.ssh.command = *cli.ssh_command;
  if (cli.agent_path) h.agent_path = *cli.agent_path;
  if (cli.bind) h.bind = *cli.bind;
  if (cli.tree_threshold) h.tree_threshold = *cli.tree_threshold;
  auto duration = [](const std::string& flag, const std::string& text) {
    try {
      return parse_duration(text);
    } catch (const std::exception& e) {
      throw std::invalid_argument(flag + " " + text + ": " + e.what());
    }
  };
  if (cli.timeout) spec.timeout = duration("--timeout", *cli.timeout);
  if (cli.grace) spec.grace = duration("--grace", *cli.grace);
  if (cli.heartbeat_timeout)
    h.heartbeat_timeout = duration("--heartbeat-timeout", *cli.heartbeat_timeout);
  if (cli.start_timeout) h.start_timeout = duration("--start-timeout", *cli.start_timeout);

  // Counts: -N hosts, --per-host ranks per host, -n ranks in all.
  if (cli.nodes) h.count = *cli.nodes;
  uint32_t per_host = 0;
  if (cli.per_host) per_host = *cli.per_host;
  if (cli.np) {
    const uint32_t n = *cli.np;
    if (!cli.nodes && !per_host && h.list.empty()) {
      if (h.count == 0 || cli.job_file.empty()) h.count = slurm_hosts_for(n, h.launcher);
    }
    if (!cli.nodes && per_host && h.list.empty()) {
      if (n % per_host != 0)
        throw std::invalid_argument("-n " + std::to_string(n) +
                                    " is not a multiple of --per-host " + std::to_string(per_host));
      h.count = n / per_host;
    }
    uint32_t hosts_n = h.count ? h.count : static_cast<uint32_t>(h.list.size());
    if (hosts_n == 0) hosts_n = 1;
    if (!per_host) {
      if (n % hosts_n != 0)
        throw std::invalid_argument("-n " + std::to_string(n) +
                                    " ranks do not divide evenly over " + std::to_string(hosts_n) +
                                    " hosts; give --per-host or a multiple of the host count");
      per_host = n / hosts_n;
    } else if (per_host * hosts_n != n) {
      throw std::invalid_argument("-n " + std::to_string(n) + " contradicts -N " +
                                  std::to_string(hosts_n) + " x --per-host " +
                                  std::to_string(per_host));
    }
  }
  if (per_host) {
    if (spec.procs.extent.size() > 1 && !cli.np)
      throw std::invalid_argument("--per-host cannot replace the multi-dimensional extent of " +
                                  spec.source);
    spec.procs.extent = {
        {spec.procs.extent.empty() ? "procs" : spec.procs.extent.front().name, per_host}};
  }
  for (const auto& e : cli.env) {
    auto eq = e.find('=');
    if (eq != std::string::npos) {
      spec.procs.env[e.substr(0, eq)] = e.substr(eq + 1);
    } else if (const char* v = std::getenv(e.c_str())) {
      spec.procs.env[e] = v;
    }
  }
  if (cli.cwd) spec.procs.cwd = *cli.cwd;
  if (cli.tag) spec.output.tag = true;
  if (cli.raw) spec.output.raw = true;
  if (cli.output_filename) spec.output.filename_pattern = *cli.output_filename;
  if (cli.stdin_mode)
    spec.output.stdin_mode = *cli.stdin_mode == "all"    ? StdinMode::all
                             : *cli.stdin_mode == "none" ? StdinMode::none
                                                         : StdinMode::rank0;
  return spec;
}

}  // namespace meshrun
