// Every message meshrun's processes exchange, after the handshake. A frame's
// payload is a u16 type id followed by the message's fields.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "mesh/call_result.hpp"
#include "mesh/mesh_ref.hpp"
#include "util/result.hpp"
#include "wire/codec.hpp"

namespace meshrun {

enum class MsgType : uint16_t {
  heartbeat = 1,
  agent_hello = 2,
  become_host = 3,
  host_ready = 4,
  create_procs = 5,
  proc_status = 6,
  spawn_actors = 7,
  actor_status = 8,
  actor_cast = 9,
  port_reply = 10,
  output = 11,
  stop_procs = 12,
  host_stopped = 13,
  signal_procs = 14,
  input = 15,
  pmi_barrier_in = 16,
  pmi_barrier_out = 17,
  pmi_abort_rank = 18,
  reserve_port = 19,
  port_reserved = 20,
  routed = 21,
  host_failed = 22,
  host_directory = 23,
  peer_hello = 24,
  stop_actors = 25,
  undeliverable = 26,
  name_request = 27,
  name_reply = 28,
};

// Both directions, when nothing else was sent for a while.
struct Heartbeat {
  static constexpr MsgType kType = MsgType::heartbeat;
  template <class F>
  bool fields(F& f) {
    return f();
  }
};

// Agent -> launcher, first message after the handshake.
struct AgentHello {
  static constexpr MsgType kType = MsgType::agent_hello;
  uint32_t host_index = 0;
  std::string address;  // where this agent listens
  uint32_t pid = 0;
  std::string hostname;
  template <class F>
  bool fields(F& f) {
    return f(host_index, address, pid, hostname);
  }
};

// A host a first-level agent starts in a tree launch.
struct SubtreeHost {
  uint32_t rank = 0;
  std::string user;
  std::string name;
  uint32_t slots = 0;
  template <class F>
  bool fields(F& f) {
    return f(rank, user, name, slots);
  }
};

// A first-level host's share of a tree launch: its children (contiguous
// ranks) and how the launcher would have started them over ssh.
struct Subtree {
  std::vector<SubtreeHost> hosts;  // empty: start nobody
  std::string ssh_command;
  std::string ssh_user;
  uint32_t ssh_port = 0;
  std::string identity_file;
  std::vector<std::string> ssh_options;
  uint32_t max_parallel = 64;
  uint32_t start_timeout_ms = 10000;
  std::string agent_path;
  std::vector<std::string> env;
  template <class F>
  bool fields(F& f) {
    return f(hosts, ssh_command, ssh_user, ssh_port, identity_file, ssh_options, max_parallel,
             start_timeout_ms, agent_path, env);
  }
};

// Launcher -> agent: the trampoline. The bootstrap process becomes a host
// agent with a proc manager.
struct BecomeHost {
  static constexpr MsgType kType = MsgType::become_host;
  std::string job_id;
  uint32_t heartbeat_timeout_ms = 10000;
  uint32_t host_rank = 0;
  uint32_t num_hosts = 1;
  uint8_t tree_depth = 0;  // 1: a child of a first-level host (its upstream is that host)
  Subtree subtree;
  template <class F>
  bool fields(F& f) {
    return f(job_id, heartbeat_timeout_ms, host_rank, num_hosts, tree_depth, subtree);
  }
};

struct HostReady {
  static constexpr MsgType kType = MsgType::host_ready;
  uint32_t host_rank = 0;
  template <class F>
  bool fields(F& f) {
    return f(host_rank);
  }
};

struct ProcEntry {
  uint32_t proc = 0;        // job-wide proc id
  uint32_t rank = 0;        // in the proc mesh
  uint32_t local_rank = 0;  // on its host
  std::string name;         // "p0_5"
  template <class F>
  bool fields(F& f) {
    return f(proc, rank, local_rank, name);
  }
};

// Launcher -> host agent: create-or-update these procs. Empty `command` means
// procs that host actors (meshrun-agent in proc mode).
struct CreateProcs {
  static constexpr MsgType kType = MsgType::create_procs;
  std::string mesh;
  uint32_t mesh_size = 0;
  uint32_t local_size = 0;  // this host's procs
  std::vector<ProcEntry> procs;
  std::vector<std::string> command;
  std::vector<std::string> env;  // "KEY=VALUE", added to the agent's environment
  std::string cwd;
  uint8_t stdin_mode = 0;  // StdinMode
  bool raw_output = false;
  // Uneven layouts (-N 2 -n 5): every host's rank count, in host order, for
  // PMI_process_mapping; empty when every host runs local_size.
  std::vector<uint32_t> ranks_per_host;
  template <class F>
  bool fields(F& f) {
    return f(mesh, mesh_size, local_size, procs, command, env, cwd, stdin_mode, raw_output,
             ranks_per_host);
  }
};

enum class ProcState : uint8_t { starting = 0, running = 1, stopping = 2, exited = 3, failed = 4 };

struct ProcStatus {
  static constexpr MsgType kType = MsgType::proc_status;
  uint32_t proc = 0;  // job-wide proc id; the host agent writes it
  ProcState state = ProcState::starting;
  uint32_t pid = 0;
  bool exited_normally = false;  // for exited: exit code vs signal
  int32_t code = 0;              // exit code or signal number
  bool core_dumped = false;
  uint8_t spawn_failure = 0;  // SpawnFailure, for failed
  std::string detail;
  std::vector<std::string> notes;  // for exited: "KEY=VALUE", see rank_notes.hpp
  template <class F>
  bool fields(F& f) {
    return f(proc, state, pid, exited_normally, code, core_dumped, spawn_failure, detail, notes);
  }
};

// Launcher -> host -> the procs in the mesh's region: create an actor each.
struct SpawnActors {
  static constexpr MsgType kType = MsgType::spawn_actors;
  MeshRef mesh;           // the whole actor mesh
  std::string proc_mesh;  // the name of the proc mesh it lives on, for actor ids
  std::string plugin;
  std::string type;
  std::string params_toml;
  template <class F>
  bool fields(F& f) {
    return f(mesh, proc_mesh, plugin, type, params_toml);
  }
};

// Launcher -> host -> procs: stop (destroy) the actors of a mesh.
struct StopActors {
  static constexpr MsgType kType = MsgType::stop_actors;
  uint32_t mesh = 0;
  template <class F>
  bool fields(F& f) {
    return f(mesh);
  }
};

enum class ActorState : uint8_t { spawned = 0, spawn_failed = 1, failed = 2, stopped = 3 };

struct ActorStatus {
  static constexpr MsgType kType = MsgType::actor_status;
  uint32_t proc = 0;  // the host agent writes it
  uint32_t mesh = 0;
  uint32_t rank = 0;  // in the actor mesh
  ActorState state = ActorState::spawned;
  std::string actor_id;
  std::string error;
  template <class F>
  bool fields(F& f) {
    return f(proc, mesh, rank, state, actor_id, error);
  }
};

// A message to the actors a reference names (a mesh, a slice, one actor),
// from the launcher's controller or from an actor. It enters at the sender's
// host agent, which hands it to its own procs in the view and passes one
// copy to each other host the view touches (local_only then). With a port,
// every receiver replies to it; without, it is a one-way send.
// The fixed-size head (from, local_only, timeout_ms, port) comes first so a
// host agent can read and rewrite it in place (wire/actor_cast.hpp).
struct ActorCast {
  static constexpr MsgType kType = MsgType::actor_cast;
  Endpoint from;            // the host agent writes host and proc
  uint8_t local_only = 0;   // 1: passed on by another host; deliver here only
  uint32_t timeout_ms = 0;  // the caller's deadline, for folds on the way back
  PortRef port;
  MeshRef target;
  std::string message;
  std::string payload;  // last: a large one is queued uncopied
  template <class F>
  bool fields(F& f) {
    return f(from, local_only, timeout_ms, port, target, message, payload);
  }
};

enum class ReplyKind : uint8_t { value = 0, failure = 1, partial = 2 };

// To a port: one rank's reply (value), one rank's failure (the cause in
// `value`), or a partial reduction of several ranks (what a host folded).
struct PortReply {
  static constexpr MsgType kType = MsgType::port_reply;
  Endpoint from;  // the host agent writes host and proc
  PortRef port;   // port.slot: the rank, for value and failure
  ReplyKind kind = ReplyKind::value;
  std::vector<Range> ranks;           // partial: the ranks folded in, ascending
  std::vector<RankFailure> failures;  // partial: ranks that failed
  std::string value;                  // last
  template <class F>
  bool fields(F& f) {
    return f(from, port, kind, ranks, failures, value);
  }
};

// Back to a sender: a one-way message that could not be delivered.
struct Undeliverable {
  static constexpr MsgType kType = MsgType::undeliverable;
  Endpoint to;         // the original sender
  std::string target;  // "a0{hosts=1, procs=0}"
  std::string message;
  std::string cause;
  template <class F>
  bool fields(F& f) {
    return f(to, target, message, cause);
  }
};

// Launcher -> every host once all are up: where each host agent listens,
// by host rank, for the links actors' messages take between hosts.
struct HostDirectory {
  static constexpr MsgType kType = MsgType::host_directory;
  std::vector<std::string> addresses;
  template <class F>
  bool fields(F& f) {
    return f(addresses);
  }
};

// Host agent -> host agent, first message on a link it dialed.
struct PeerHello {
  static constexpr MsgType kType = MsgType::peer_hello;
  uint32_t host_rank = 0;
  template <class F>
  bool fields(F& f) {
    return f(host_rank);
  }
};

// Host -> launcher: whole lines (or raw bytes) a proc wrote.
struct Output {
  static constexpr MsgType kType = MsgType::output;
  uint32_t proc = 0;   // job-wide proc id (the rank, in command mode)
  uint8_t stream = 1;  // 1 stdout, 2 stderr
  std::string data;
  template <class F>
  bool fields(F& f) {
    return f(proc, stream, data);
  }
};

// Launcher -> host: stop every proc, or one proc mesh's (stop message,
// SIGTERM after the grace, then SIGKILL), then exit (or report the mesh
// stopped with HostStopped).
struct StopProcs {
  static constexpr MsgType kType = MsgType::stop_procs;
  uint32_t grace_ms = 5000;
  bool exit_after = true;
  std::string mesh;  // only this proc mesh's procs (then exit_after is false); empty: all
  template <class F>
  bool fields(F& f) {
    return f(grace_ms, exit_after, mesh);
  }
};

struct HostStopped {
  static constexpr MsgType kType = MsgType::host_stopped;
  uint32_t host_rank = 0;
  template <class F>
  bool fields(F& f) {
    return f(host_rank);
  }
};

// Launcher -> host: deliver a signal to every proc's process group.
struct SignalProcs {
  static constexpr MsgType kType = MsgType::signal_procs;
  int32_t signal = 0;
  template <class F>
  bool fields(F& f) {
    return f(signal);
  }
};

// Launcher -> host: bytes for a rank's stdin; empty data closes it.
struct Input {
  static constexpr MsgType kType = MsgType::input;
  uint32_t proc = 0;
  std::string data;
  template <class F>
  bool fields(F& f) {
    return f(proc, data);
  }
};

struct KvPair {
  std::string key;
  std::string value;
  template <class F>
  bool fields(F& f) {
    return f(key, value);
  }
};

// Host -> launcher: every rank of this host entered PMI barrier `epoch`;
// `kvs` holds the puts its ranks made since the previous barrier.
struct PmiBarrierIn {
  static constexpr MsgType kType = MsgType::pmi_barrier_in;
  uint32_t host_rank = 0;
  uint32_t epoch = 0;
  std::vector<KvPair> kvs;
  template <class F>
  bool fields(F& f) {
    return f(host_rank, epoch, kvs);
  }
};

// Launcher -> every host: barrier `epoch` is complete; the puts of all hosts.
struct PmiBarrierOut {
  static constexpr MsgType kType = MsgType::pmi_barrier_out;
  uint32_t epoch = 0;
  std::vector<KvPair> kvs;
  template <class F>
  bool fields(F& f) {
    return f(epoch, kvs);
  }
};

// Host -> launcher: a rank called PMI abort (MPI_Abort); the job ends with `code`.
struct PmiAbortRank {
  static constexpr MsgType kType = MsgType::pmi_abort_rank;
  uint32_t rank = 0;
  int32_t code = 0;
  std::string message;
  template <class F>
  bool fields(F& f) {
    return f(rank, code, message);
  }
};

// Launcher -> host 0: pick a TCP port that is free on that host (MASTER_PORT).
struct ReservePort {
  static constexpr MsgType kType = MsgType::reserve_port;
  template <class F>
  bool fields(F& f) {
    return f();
  }
};

struct PortReserved {
  static constexpr MsgType kType = MsgType::port_reserved;
  uint32_t host_rank = 0;
  uint32_t port = 0;  // 0: none could be bound
  template <class F>
  bool fields(F& f) {
    return f(host_rank, port);
  }
};

// Tree launch: a message to or from host `host_rank`, carried by the
// first-level host it hangs off (up: wrapped by that host; down: unwrapped by it).
struct Routed {
  static constexpr MsgType kType = MsgType::routed;
  uint32_t host_rank = 0;
  std::string payload;  // a whole encoded message
  template <class F>
  bool fields(F& f) {
    return f(host_rank, payload);
  }
};

// First-level host -> launcher: one of its children failed to start or was lost.
struct HostFailed {
  static constexpr MsgType kType = MsgType::host_failed;
  uint32_t host_rank = 0;
  std::string why;
  template <class F>
  bool fields(F& f) {
    return f(host_rank, why);
  }
};

// The job's name service (MPI_Publish_name and friends), kept by the launcher.
enum class NameOp : uint8_t { publish = 0, lookup = 1, unpublish = 2 };
enum class NameStatus : uint8_t {
  ok = 0,
  not_found = 1,
  duplicate = 2,
  bad_request = 3,
  unavailable = 4
};

// Host -> launcher: a rank's name-service request.
struct NameRequest {
  static constexpr MsgType kType = MsgType::name_request;
  uint32_t id = 0;  // chosen by the host, echoed in the reply
  NameOp op = NameOp::lookup;
  uint32_t rank = 0;  // who asks
  std::string key;
  std::string value;     // publish
  uint32_t wait_ms = 0;  // lookup: wait up to this long for the key to be published
  template <class F>
  bool fields(F& f) {
    return f(id, op, rank, key, value, wait_ms);
  }
};

// Launcher -> the asking host.
struct NameReply {
  static constexpr MsgType kType = MsgType::name_reply;
  uint32_t id = 0;
  NameStatus status = NameStatus::ok;
  std::string value;       // lookup
  uint32_t publisher = 0;  // lookup: the rank that published it
  template <class F>
  bool fields(F& f) {
    return f(id, status, value, publisher);
  }
};

using Message =
    std::variant<Heartbeat, AgentHello, BecomeHost, HostReady, CreateProcs, ProcStatus, SpawnActors,
                 ActorStatus, ActorCast, PortReply, Output, StopProcs, HostStopped, SignalProcs,
                 Input, PmiBarrierIn, PmiBarrierOut, PmiAbortRank, ReservePort, PortReserved,
                 Routed, HostFailed, HostDirectory, PeerHello, StopActors, Undeliverable,
                 NameRequest, NameReply>;

template <class M>
std::string encode(const M& msg) {
  std::string out;
  Writer w(out);
  w.put(static_cast<uint16_t>(M::kType));
  w.put(msg);
  return out;
}

// The type id at the front of a payload, without decoding the rest.
Result<MsgType> peek_type(std::string_view payload);
Result<Message> decode(std::string_view payload);
std::string_view type_name(MsgType type);

}  // namespace meshrun

namespace meshrun {
// ProcStatus.detail of a proc that exited after meshrun sent it SIGTERM or
// SIGKILL: its end was the job's teardown, not a failure of its own.
inline constexpr std::string_view kStoppedByMeshrun = "stopped by meshrun";
}  // namespace meshrun
