#include "launcher/cli.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <iostream>
#include <limits>

#include "alloc/hostlist.hpp"
#include "process/child.hpp"
#include "process/spawn.hpp"
#include "spec/spec_loader.hpp"
#include "util/exit_status.hpp"
#include "util/log.hpp"
#include "util/spelling.hpp"
#include "wire/protocol.hpp"

extern char** environ;

namespace meshrun {
namespace {

// A mistake on the command line: said once, with the usage hint, exit 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// mpirun's and Hydra's single-dash spellings, which CLI11 would read as
// bundles of short options ("-np" as "-n p").
constexpr std::pair<const char*, const char*> kMpirunSpellings[] = {
    {"-np", "--np"},         {"-ppn", "--per-host"},    {"-npernode", "--per-host"},
    {"-genv", "--genv"},     {"-envall", "--envall"},   {"-genvall", "--envall"},
    {"-host", "--host"},     {"-hosts", "--host"},      {"-hostfile", "--hostfile"},
    {"-map-by", "--map-by"}, {"-bind-to", "--bind-to"}, {"-oversubscribe", "--oversubscribe"},
};

// argv with mpirun's spellings turned into ours, up to the first word that
// is not an option (the job spec or the command) or "--".
std::vector<std::string> with_our_spellings(const CLI::App& app, int argc, char** argv) {
  std::vector<std::string> out(argv, argv + argc);
  for (size_t i = 1; i < out.size(); ++i) {
    std::string& word = out[i];
    if (word == "--" || word.size() < 2 || word[0] != '-') break;
    for (const auto& [theirs, ours] : kMpirunSpellings)
      if (word == theirs) word = ours;
    if (word.find('=') != std::string::npos) continue;
    if (word[1] != '-' && word.size() > 2) continue;  // "-n4", "-lv"
    const CLI::Option* opt = app.get_option_no_throw(word);
    if (opt != nullptr) i += static_cast<size_t>(std::max(0, opt->get_items_expected_min()));
  }
  return out;
}

// Every spelling of every option, for "did you mean".
std::vector<std::string> option_spellings(const CLI::App& app) {
  std::vector<std::string> out;
  for (const CLI::Option* opt : app.get_options()) {
    for (const auto& l : opt->get_lnames())
      out.push_back("--" + l);
    for (const auto& s : opt->get_snames())
      out.push_back("-" + s);
  }
  for (const auto& [theirs, ours] : kMpirunSpellings)
    out.emplace_back(theirs);
  return out;
}

std::string did_you_mean(const std::string& word, const std::vector<std::string>& known) {
  std::vector<std::string_view> views(known.begin(), known.end());
  auto best = nearest_word(word, views);
  return best ? "; did you mean " + *best + "?" : "";
}

// "-n: must be a whole number of at least 1 (got "abc")"
uint32_t whole_number(const char* flag, const std::string& text, uint32_t max) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  const auto [p, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec == std::errc::invalid_argument || p != end || v < 1)
    throw UsageError(std::string(flag) + ": must be a whole number of at least 1 (got \"" + text +
                     "\")");
  if (ec == std::errc::result_out_of_range || v > max)
    throw UsageError(std::string(flag) + ": at most " + std::to_string(max) + " (got \"" + text +
                     "\")");
  return static_cast<uint32_t>(v);
}

// "--launcher: must be one of auto, local, ssh or slurm (got "sssh"); did you mean ssh?"
std::string one_of(const char* flag, const std::string& value,
                   const std::vector<std::string>& allowed) {
  if (std::find(allowed.begin(), allowed.end(), value) != allowed.end()) return value;
  std::string list;
  for (size_t i = 0; i < allowed.size(); ++i)
    list += (i == 0 ? "" : i + 1 == allowed.size() ? " or " : ", ") + allowed[i];
  throw UsageError(std::string(flag) + ": must be one of " + list + " (got \"" + value + "\")" +
                   did_you_mean(value, allowed));
}

// What the first word after the options is.
enum class FirstWord { spec, command, directory };

FirstWord classify(const std::string& word) {
  if (word.size() > 5 && word.compare(word.size() - 5, 5, ".toml") == 0) return FirstWord::spec;
  const bool bare = word.find('/') == std::string::npos;
  // A program on PATH wins, as the shell would run it.
  if (bare) {
    const char* path = std::getenv("PATH");
    if (!find_in_path(word, path ? path : "").empty()) return FirstWord::command;
  }
  struct stat st {};
  if (::stat(word.c_str(), &st) != 0) return FirstWord::command;
  if (S_ISDIR(st.st_mode)) return FirstWord::directory;
  if (!S_ISREG(st.st_mode) || ::access(word.c_str(), X_OK) == 0) return FirstWord::command;
  // Not executable: a job spec, whatever its name, if it is TOML.
  return parses_as_toml(word) ? FirstWord::spec : FirstWord::command;
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

int usage_error(const std::string& message) {
  log::error(message);
  std::cerr << "Run 'meshrun --help' for usage.\n";
  return exit_status::kUsage;
}

// The name of the option a CLI11 error is about ("--np: ..." -> "--np").
std::string option_in(const std::string& what) {
  const auto colon = what.find(':');
  return colon == std::string::npos ? "" : what.substr(0, colon);
}

}  // namespace

std::string exit_status_help() {
  std::string out = "Exit status:\n";
  constexpr size_t kStatus = 21, kWidth = 79;  // "  the rank's status  " fits
  for (const auto& row : exit_status::kTable) {
    std::string line = "  " + std::string(row.status);
    line.resize(kStatus, ' ');
    size_t col = line.size();
    std::string_view rest = row.meaning;
    while (!rest.empty()) {
      size_t take = rest.size();
      if (col + take > kWidth) {
        take = rest.rfind(' ', kWidth - col);
        if (take == std::string_view::npos || take == 0) take = rest.find(' ');
        if (take == std::string_view::npos) take = rest.size();
      }
      line += rest.substr(0, take);
      rest.remove_prefix(std::min(rest.size(), take + 1));
      if (!rest.empty()) {
        line += "\n" + std::string(kStatus, ' ');
        col = kStatus;
      }
    }
    out += line + "\n";
  }
  return out;
}

std::optional<int> parse_cli(int argc, char** argv, CliOptions& o) {
  CLI::App app{
      "Start a job of procs and actors on local, ssh or SLURM hosts: the actors a\n"
      "job spec names, or COMMAND in every rank.",
      "meshrun"};
  app.prefix_command(true);  // options stop at the first word of the job or command
  app.formatter(std::make_shared<HelpFormatter>());
  app.get_formatter()->column_width(28);
  app.footer(exit_status_help() + "\nSee meshrun(1) and meshrun.toml(5).");

  std::optional<std::string> np, nodes, per_host, tree_threshold;
  // An option with a value: its names, where it goes, its value's name, help.
  auto option = [&app](const char* group, const char* names, auto& into, const char* value,
                       const char* help) {
    return app.add_option(names, into, help)->option_text(value)->group(group);
  };
  auto flag = [&app](const char* group, const char* names, auto& into, const char* help) {
    return app.add_flag(names, into, help)->group(group);
  };
  const char* job = "Job";
  option(job, "-n,--np", np, "N", "Total number of ranks (also -np)");
  option(job, "-N,--nodes", nodes, "N", "Number of hosts");
  option(job, "--per-host,--npernode", per_host, "N",
         "Ranks per host; with -n, at most (also -ppn)");
  option(job, "--map-by", o.map_by, "OBJ", "Place local ranks by: slot, hwthread, core, socket");
  option(job, "--bind-to", o.bind_to, "OBJ", "Bind ranks to: none, hwthread, core, socket");
  option(job, "-x,--env", o.env, "VAR[=VALUE]", "Pass VAR, or set VAR=VALUE, in every rank")
      ->take_first()
      ->allow_extra_args(false);
  option(job, "--genv", o.genv, "NAME VALUE", "Set NAME to VALUE in every rank (also -genv)");
  flag(job, "--envall", o.envall, "Pass meshrun's whole environment (also -envall)");
  option(job, "--cwd", o.cwd, "DIR", "Working directory of every rank");
  flag(job, "--check", o.check, "Check the job and flags, print ok, start nothing");
  flag(job, "--dry-run", o.dry_run, "Print the launcher and rank map, start nothing");

  const char* hosts = "Hosts";
  option(hosts, "--launcher", o.launcher, "KIND", "How hosts are started: auto, local, ssh, slurm");
  option(hosts, "-H,--host", o.hosts, "HOSTS",
         "Hosts: a,b, node[1-4], user@host:slots (also -host)");
  option(hosts, "--hostfile", o.hostfile, "FILE", "File of hosts, one 'host slots=N' a line");
  flag(hosts, "--oversubscribe", o.oversubscribe,
       "Accepted; slots never limit (SLURM: past tasks)");
  option(hosts, "--ssh-command", o.ssh_command, "CMD", "ssh client and its options (default: ssh)");
  option(hosts, "--agent-path", o.agent_path, "PATH", "meshrun-agent's path on the hosts");
  option(hosts, "--bind", o.bind, "ADDR", "Address the agents dial back to");
  option(hosts, "--tree-threshold", tree_threshold, "N", "Launch as a tree above N hosts (32)");
  flag(hosts, "--no-tls", o.no_tls, "Plain TCP between hosts (trusted networks only)");

  const char* output = "Output";
  flag(output, "-l,--tag-output", o.tag, "Prefix every output line with [rank]");
  option(output, "--output-filename", o.output_filename, "PATTERN",
         "Each rank's output to a file (%r rank, %h host)");
  flag(output, "--raw", o.raw, "Pass output through unbuffered, not line by line");
  flag(output, "--json", o.json, "Actor jobs: results as JSON lines on stdout");
  option(output, "--stdin", o.stdin_mode, "WHO", "Who reads meshrun's stdin: rank0, all, none");

  const char* time = "Signals and time";
  option(time, "--timeout", o.timeout, "DURATION",
         "End the job after DURATION (90s, 5m); exit 124");
  option(time, "--grace", o.grace, "DURATION",
         "Time from the first signal to SIGKILL (default 5s)");
  option(time, "--signal-forward", o.signal_forward, "SIG",
         "What ranks get first on Ctrl-C or SIGTERM (term)");
  option(time, "--heartbeat-timeout", o.heartbeat_timeout, "DURATION",
         "Silence after which a host is lost (default 10s)");
  option(time, "--start-timeout", o.start_timeout, "DURATION",
         "Time a host may take to start (default 10s)");

  const char* diag = "Diagnostics";
  flag(diag, "-v,--verbose", o.verbose, "More detail (-vv: messages too)");
  flag(diag, "-q,--quiet", o.quiet, "Only errors (and security warnings)");
  flag(diag, "-V,--version", o.show_version, "Print the version and protocol, and exit");
  app.set_help_flag("-h,--help", "Print this help and exit")->group(diag);

  const auto args = with_our_spellings(app, argc, argv);
  std::vector<const char*> cargs;
  for (const auto& a : args)
    cargs.push_back(a.c_str());
  try {
    app.parse(static_cast<int>(cargs.size()), cargs.data());
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return exit_status::kOk;
  } catch (const CLI::ArgumentMismatch& e) {
    const CLI::Option* opt = app.get_option_no_throw(option_in(e.what()));
    if (!opt) return usage_error(e.what());
    std::string names = opt->get_name(false, true);
    std::replace(names.begin(), names.end(), ',', '/');
    return usage_error(names + " needs a value (" + opt->get_option_text() + ")");
  } catch (const CLI::ParseError& e) {
    return usage_error(e.what());
  }
  if (o.show_version) {
    std::cout << "meshrun " << MESHRUN_VERSION << " (protocol " << kProtocolVersion << ")\n";
    return exit_status::kOk;
  }

  auto rest = app.remaining();
  // prefix_command hands an unknown option over as if it were the command.
  if (!rest.empty() && rest[0].size() > 1 && rest[0][0] == '-' && rest[0] != "--") {
    const std::string word = rest[0].substr(0, rest[0].find('='));
    return usage_error("unknown option " + word + did_you_mean(word, option_spellings(app)) +
                       " (a command goes after --)");
  }
  try {
    if (np) o.np = whole_number("-n", *np, std::numeric_limits<int32_t>::max());
    if (nodes) o.nodes = whole_number("-N", *nodes, 65536);
    if (per_host) o.per_host = whole_number("--per-host", *per_host, 65536);
    if (tree_threshold) o.tree_threshold = whole_number("--tree-threshold", *tree_threshold, 65536);
    if (o.launcher) one_of("--launcher", *o.launcher, {"auto", "local", "ssh", "slurm"});
    if (o.stdin_mode) one_of("--stdin", *o.stdin_mode, {"rank0", "all", "none"});
    if (o.map_by) one_of("--map-by", *o.map_by, {"slot", "hwthread", "core", "socket"});
    if (o.bind_to) one_of("--bind-to", *o.bind_to, {"none", "hwthread", "core", "socket"});
    if (o.signal_forward) {
      const auto sig = parse_signal_name(*o.signal_forward);
      if (!sig || !is_stop_signal(*sig))
        one_of("--signal-forward", *o.signal_forward, {"int", "term", "hup", "quit"});
    }
    // Flags that cannot go together, named both.
    if (o.tag && o.raw)
      throw UsageError(
          "-l and --raw cannot go together: raw output is not split into lines, so it cannot be "
          "tagged; drop one");
    if (o.quiet && o.verbose)
      throw UsageError("-q and -v cannot go together: -q shows errors only; drop one");
    if (o.hosts && o.hostfile)
      throw UsageError("-H and --hostfile cannot go together: name the hosts in one of them");
    if (o.check && o.dry_run)
      throw UsageError(
          "--check and --dry-run cannot go together: --dry-run checks the job too, then prints "
          "its map; drop --check");
  } catch (const UsageError& e) {
    return usage_error(e.what());
  }

  size_t i = 0;
  if (i < rest.size() && rest[i] == "--") ++i;
  if (i < rest.size()) {
    switch (classify(rest[i])) {
      case FirstWord::spec:
        o.job_file = rest[i++];
        if (i < rest.size() && rest[i] == "--") ++i;
        break;
      case FirstWord::directory:
        log::error(rest[i] + " is a directory: give a job spec (a TOML file) or a command");
        return exit_status::kNotExecutable;
      case FirstWord::command:
        break;
    }
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
  // Where a setting came from, for messages about two that contradict.
  const std::string in_spec = " in " + spec.source;
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
    h.hostfile.clear();
  }
  if (cli.hostfile) {
    auto list = parse_hostfile(*cli.hostfile);
    if (!list) throw std::invalid_argument(list.error().message);
    h.hostfile = *cli.hostfile;
    h.list = *list;
  }
  if (h.launcher == LauncherKind::local && !h.list.empty()) {
    const std::string hosts_from = cli.hosts      ? std::string("-H")
                                   : cli.hostfile ? std::string("--hostfile")
                                                  : "hosts.list" + in_spec;
    const std::string local_from =
        cli.launcher ? std::string("--launcher local") : "hosts.launcher = \"local\"" + in_spec;
    throw std::invalid_argument(hosts_from + " contradicts " + local_from +
                                ": the local launcher runs every host on this machine; use -N "
                                "for the number of local hosts, or --launcher ssh");
  }
  if (cli.ssh_command) {
    if (h.launcher == LauncherKind::local || h.launcher == LauncherKind::slurm)
      throw std::invalid_argument(
          "--ssh-command contradicts --launcher " +
          std::string(h.launcher == LauncherKind::local ? "local" : "slurm") +
          ": only the ssh launcher runs ssh; drop one");
    h.ssh.command = *cli.ssh_command;
  }
  if (cli.agent_path) h.agent_path = *cli.agent_path;
  if (cli.bind) h.bind = *cli.bind;
  if (cli.tree_threshold) h.tree_threshold = *cli.tree_threshold;
  if (cli.oversubscribe) h.oversubscribe = true;
  auto duration = [](const std::string& flag, const std::string& text) {
    try {
      return parse_duration(text);
    } catch (const std::exception& e) {
      throw std::invalid_argument(flag + ": " + e.what());
    }
  };
  if (cli.timeout) spec.timeout = duration("--timeout", *cli.timeout);
  if (cli.grace) spec.grace = duration("--grace", *cli.grace);
  if (cli.heartbeat_timeout)
    h.heartbeat_timeout = duration("--heartbeat-timeout", *cli.heartbeat_timeout);
  if (cli.start_timeout) h.start_timeout = duration("--start-timeout", *cli.start_timeout);
  if (cli.signal_forward) spec.signal_forward = *parse_signal_name(*cli.signal_forward);

  // Counts: -N hosts, -n ranks in all (laid out by placement), --per-host
  // ranks on each host (a cap with -n).
  if (cli.nodes) h.count = *cli.nodes;
  const std::string dim = spec.procs.extent.empty() ? "procs" : spec.procs.extent.front().name;
  if (cli.np) {
    spec.procs.ranks = *cli.np;
    spec.procs.max_per_host = cli.per_host.value_or(0);
    spec.procs.extent = {{dim, 1}};
  } else if (cli.per_host) {
    if (spec.procs.extent.size() > 1)
      throw std::invalid_argument("--per-host cannot replace the multi-dimensional extent of " +
                                  spec.source + "; give -n as well, or change procs.extent");
    spec.procs.extent = {{dim, *cli.per_host}};
  }
  if (cli.bind_to) spec.procs.binding.bind = *parse_cpu_object(*cli.bind_to);
  if (cli.map_by) {
    spec.procs.binding.map = *parse_cpu_object(*cli.map_by);
    // mpirun binds to what it maps by unless told otherwise.
    if (!cli.bind_to && !spec.procs.binding.bound())
      spec.procs.binding.bind =
          spec.procs.binding.map == CpuObject::slot ? CpuObject::core : spec.procs.binding.map;
  }

  if (cli.envall)
    for (char** e = environ; e && *e; ++e) {
      const std::string kv = *e;
      const auto eq = kv.find('=');
      if (eq != std::string::npos && eq > 0) spec.procs.env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
  for (const auto& e : cli.env) {
    auto eq = e.find('=');
    if (eq != std::string::npos) {
      spec.procs.env[e.substr(0, eq)] = e.substr(eq + 1);
    } else if (const char* v = std::getenv(e.c_str())) {
      spec.procs.env[e] = v;
    }
  }
  for (const auto& [name, value] : cli.genv) {
    if (name.empty() || name.find('=') != std::string::npos)
      throw std::invalid_argument("--genv " + name +
                                  ": a variable name must be non-empty without '='");
    spec.procs.env[name] = value;
  }
  if (cli.cwd) spec.procs.cwd = *cli.cwd;
  if (cli.tag) spec.output.tag = true;
  if (cli.raw) spec.output.raw = true;
  if (spec.output.tag && spec.output.raw)  // one of them from the spec
    throw std::invalid_argument(
        std::string(cli.tag ? "-l" : "output.tag = true" + in_spec) + " contradicts " +
        (cli.raw ? "--raw" : "output.raw = true" + in_spec) +
        ": raw output is not split into lines, so it cannot be tagged; drop one");
  if (cli.output_filename) spec.output.filename_pattern = *cli.output_filename;
  if (cli.stdin_mode)
    spec.output.stdin_mode = *cli.stdin_mode == "all"    ? StdinMode::all
                             : *cli.stdin_mode == "none" ? StdinMode::none
                                                         : StdinMode::rank0;
  return spec;
}

}  // namespace meshrun
