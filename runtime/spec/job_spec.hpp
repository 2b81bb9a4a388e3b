// The job a user asks for: what a TOML spec (and later the command line) says.
// Plain data; loading and validation live in spec_loader.hpp.
#pragma once

#include <signal.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "process/cpu_binding.hpp"

namespace meshrun {

using Millis = std::chrono::milliseconds;

enum class LauncherKind { automatic, local, ssh, slurm };
enum class StdinMode { rank0, all, none };

// One named dimension of an extent, e.g. {"procs", 3}.
struct DimSpec {
  std::string name;
  uint32_t size = 1;
};

// One host as a user wrote it: "user@node01:4".
struct HostEntry {
  std::string user;  // empty: ssh's default
  std::string name;
  uint32_t slots = 0;  // 0: not given
};

struct SshSpec {
  std::string command = "ssh";  // may carry options, split on whitespace
  std::string user;
  uint16_t port = 0;  // 0: ssh's default
  std::string identity_file;
  std::vector<std::string> options;  // each passed as "-o OPTION"
};

struct HostsSpec {
  LauncherKind launcher = LauncherKind::automatic;
  uint32_t count = 0;           // 0: not given (local default 1)
  std::vector<HostEntry> list;  // expanded hostlist (from hosts.list or the hostfile)
  std::string hostfile;         // resolved against the spec's directory; already read
  SshSpec ssh;
  std::string agent_path;           // empty: the local meshrun-agent's absolute path
  std::string bind;                 // address agents dial back to; empty: automatic
  Millis start_timeout{10000};      // per host, from launch to agent ready
  Millis heartbeat_timeout{10000};  // silence after which a peer is dead
  uint32_t tree_threshold = 32;     // above this many hosts, launch as a tree
  uint32_t max_parallel = 64;       // concurrent remote starts
  // Ranks may exceed a SLURM node's tasks (slots in a host list never limit).
  bool oversubscribe = false;
};

struct ProcsSpec {
  std::string name = "p0";
  std::vector<DimSpec> extent{{"procs", 1}};  // per host, in the order written
  std::vector<std::string> command;           // non-empty: command mode
  std::map<std::string, std::string> env;     // extra environment for every rank
  std::string cwd;                            // empty: the launcher's cwd
  Millis spawn_timeout{30000};
  // -n: the ranks in all, laid out over the hosts by placement (which may
  // give hosts different counts); 0: every host runs `extent`.
  uint32_t ranks = 0;
  uint32_t max_per_host = 0;  // --per-host with -n: a cap; 0: none
  CpuBinding binding;         // --map-by, --bind-to
};

// Fix one dimension to [begin, end) (a single value v is [v, v+1)).
struct SliceSpec {
  std::string dim;
  uint32_t begin = 0;
  uint32_t end = 0;
};

// One [[actors]] table: an actor mesh spawned before anything else runs.
struct ActorsSpec {
  std::string name = "a0";
  std::string plugin;            // absolute path if it has a '/', else a bare plugin name
  std::string type;              // actor type name registered by the plugin
  std::string params_toml;       // the [actors.params] table re-serialised as TOML text
  std::vector<SliceSpec> procs;  // the part of the proc mesh it lives on; empty: every proc
  Millis spawn_timeout{30000};
  std::string where;  // "job.toml:12", for errors found once the hosts are known
};

// One [[cast]] table, run in order against the same live actors.
struct CastSpec {
  std::string mesh;  // the [[actors]] name; empty when the spec has one mesh
  std::string message = "GetActorId";
  std::string payload;
  std::vector<SliceSpec> slice;  // in the actor mesh's coordinates; empty: the whole mesh
  Millis timeout{30000};
  uint32_t repeat = 1;
  std::string reduce;                 // a reducer name ("sum", ...); empty: every reply
  std::optional<std::string> expect;  // each reply (or the reduced value) must equal it
  std::string where;
};

// [controller]: the job's main program, a controller type of a plugin.
struct ControllerSpec {
  std::string plugin;
  std::string type;
  std::string params_toml;
  std::string where;
};

struct OutputSpec {
  bool tag = false;
  std::string filename_pattern;  // %r rank, %h host
  bool raw = false;
  StdinMode stdin_mode = StdinMode::rank0;
};

struct JobSpec {
  std::string source;  // file the spec came from ("<embedded>" for the default)
  std::string name = "meshrun";
  HostsSpec hosts;
  ProcsSpec procs;
  std::vector<ActorsSpec> actors;
  std::vector<CastSpec> casts;
  std::optional<ControllerSpec> controller;
  OutputSpec output;
  Millis timeout{0};   // 0: none
  Millis grace{5000};  // SIGTERM to SIGKILL
  Millis shutdown_timeout{10000};
  int signal_forward = SIGTERM;  // what ranks get first when the job is interrupted

  bool command_mode() const { return !procs.command.empty(); }
  bool actor_mode() const { return !actors.empty() || controller.has_value(); }
};

// What --signal-forward and job.signal_forward may name: the signals the
// agents take as "the job is ending" (others are forwarded as they come).
inline bool is_stop_signal(int sig) {
  return sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT;
}

}  // namespace meshrun
