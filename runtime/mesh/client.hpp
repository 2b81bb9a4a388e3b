// The launcher's side of the mesh: it serves the bootstrap channel, holds the
// host agents' connections, and performs the lifecycle: allocate hosts,
// spawn procs, spawn actors, cast, shut down. Every wait has a deadline and
// ends early when the job has failed.
#pragma once

#include <signal.h>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "alloc/allocator.hpp"
#include "auth/secret.hpp"
#include "channel/listener.hpp"
#include "channel/pending_handshakes.hpp"
#include "mesh/meshes.hpp"
#include "util/notifier.hpp"
#include "wire/messages.hpp"

namespace meshrun {

struct JobFailure {
  std::string message;  // one line: what failed, where
  int status = 1;       // meshrun's exit status for it
  // A command rank exited non-zero or by a signal of its own: the job's
  // status is then that of the lowest-numbered rank that failed.
  bool rank_exit = false;
};

class MeshClient {
 public:
  using Clock = std::chrono::steady_clock;

  MeshClient(asio::io_context& io, const Secret& secret, Millis heartbeat_timeout);
  ~MeshClient();

  Status listen(const Address& address);
  const Address& address() const;

  // Starts the allocator's agents, authenticates each as it dials in, and
  // trampolines every one into a host agent.
  asio::awaitable<Result<HostMesh>> allocate(Allocator& allocator, AgentLaunch launch,
                                             Millis start_timeout);
  // `request` carries everything but the proc list, which is filled per host.
  // `ranks_per_host`, if given, lays out an uneven command-mode mesh: that
  // many ranks on each host, numbered host by host (per_host is then unused).
  asio::awaitable<Result<ProcMesh>> spawn_procs(const HostMesh& hosts, std::string name,
                                                const Extent& per_host, CreateProcs request,
                                                Millis timeout,
                                                std::vector<uint32_t> ranks_per_host = {});
  asio::awaitable<Result<ActorMesh>> spawn_actors(const ProcMesh& procs, SpawnActors request,
                                                  Millis timeout);
  // One message per host in the slice; replies come straight back to a port.
  asio::awaitable<Result<std::vector<Reply>>> cast(const ActorMesh& actors, const Slice& slice,
                                                   std::string message, std::string payload,
                                                   Millis timeout);
  // Fire and forget (Monarch's send, not call): the same cast, routed the
  // same way, with port 0, so no actor replies. Each actor gets the sends of
  // this client in order; an actor that fails is still reported (and fails
  // the job) through supervision. Never blocks: pace it with drain(). Once
  // the job failed it does nothing; drain() and cast() report the failure.
  void send(const ActorMesh& actors, const Slice& slice, std::string message, std::string payload);
  // Back-pressure for send(): until at most `max_queued` bytes wait to be
  // written to every host. Each agent in turn stops reading while its procs
  // are behind, so bytes in flight stay bounded end to end.
  asio::awaitable<Status> drain(size_t max_queued, Millis timeout);
  // Command mode: until every proc has exited, the job failed, or `deadline`.
  asio::awaitable<bool> wait_all_exited(Clock::time_point deadline);
  // Command mode: SIGTERM to every rank, SIGKILL after `grace`; returns once
  // every rank has been reaped (or its host is lost); `first_signal` may
  // replace SIGTERM (--signal-forward). A later
  // signal_procs(SIGKILL) cuts the grace short.
  asio::awaitable<void> stop_ranks(Millis grace, int first_signal = SIGTERM);
  bool all_exited() const;
  std::vector<uint32_t> running_ranks() const;
  // Command mode: the exit status of the lowest-numbered rank that failed on
  // its own (not by meshrun's SIGTERM/SIGKILL), if any did.
  std::optional<int> lowest_failed_status() const;
  // Goes to the agents (BecomeHost) and names the job's PMI KVS.
  void set_job_id(std::string id) { job_id_ = std::move(id); }
  // Agents dialling over TCP must then speak TLS with the job's material.
  void use_tls(std::shared_ptr<TlsContext> tls) { tls_ = std::move(tls); }
  // Stop every host's procs (stop, SIGTERM after grace, SIGKILL), then let
  // the agents exit; hosts that do not answer within `timeout` are given up.
  asio::awaitable<void> shutdown(Millis grace, Millis timeout);

  void signal_procs(int sig);
  // After meshrun itself was stopped (Ctrl-Z): the hosts' silence until now
  // is not theirs; judge it again from one heartbeat timeout on.
  void excuse_silence() { excused_until_ = Clock::now() + heartbeat_timeout_; }
  void send_input(uint32_t rank, const std::string& data);
  void fail(JobFailure failure);
  const std::optional<JobFailure>& failure() const { return failure_; }
  // Replies that came for no open port (late ones, or any to a send()).
  uint64_t unclaimed_replies() const { return unclaimed_replies_; }

  const std::vector<Host>& hosts() const { return hosts_; }
  // Latest status of every proc of the proc mesh, by rank.
  const std::vector<ProcStatus>& procs() const { return procs_; }
  std::string describe_rank(uint32_t rank) const;  // "rank 3 (host 1, node07)"

  std::function<void(const Output&)> on_output;
  std::function<void(const ProcStatus&)> on_proc_exit;
  std::function<void(const std::string&)> on_progress;

 private:
  asio::awaitable<void> accept_loop();
  asio::awaitable<void> greet(ConnectionPtr conn, PendingHandshakes::Slot slot);
  asio::awaitable<void> serve_host(uint32_t rank);
  asio::awaitable<void> heartbeat();
  void handle(uint32_t host, Message&& msg);
  // A child's AgentHello, routed up by its first-level host `parent`.
  void greet_routed(uint32_t parent, AgentHello&& hello);
  // Directly, or wrapped in Routed through the host's parent.
  void send_to(uint32_t host, const std::string& payload);
  template <class M>
  void send_to(uint32_t host, const M& msg) {
    send_to(host, encode(msg));
  }
  // A cast with its port set, encoded and sent to the hosts its slice needs.
  void route_cast(const ActorMesh& actors, const Slice& slice, uint64_t port, std::string message,
                  std::string payload);
  bool is_child(uint32_t parent, uint32_t host) const;
  void on_proc_status(ProcStatus&& st);
  void on_pmi_barrier(uint32_t host, PmiBarrierIn&& in);
  std::string master_addr() const;
  bool failed() const { return failure_.has_value(); }

  asio::io_context& io_;
  const Secret& secret_;
  std::shared_ptr<TlsContext> tls_;
  Millis heartbeat_timeout_;
  Clock::time_point excused_until_{};
  std::unique_ptr<Listener> listener_;
  PendingHandshakes pending_;
  Allocator* allocator_ = nullptr;
  std::vector<Host> hosts_;
  std::vector<ProcStatus> procs_;
  std::vector<bool> proc_known_;
  std::map<std::string, std::vector<ActorStatus>> actor_status_;
  // An open port: the replies so far, and how many the waiter needs; the
  // waiter is woken once, when they are all in.
  struct Port {
    std::vector<Reply> replies;
    size_t expected = 0;
  };
  std::map<uint64_t, Port> ports_;
  uint64_t next_port_ = 1;
  uint64_t unclaimed_replies_ = 0;
  ProcMesh proc_mesh_;
  bool procs_may_exit_ = false;
  bool shutting_down_ = false;
  bool closed_ = false;
  std::optional<JobFailure> failure_;
  std::string job_id_;
  std::map<uint32_t, int> failed_exits_;  // rank -> shell status, command mode
  // The PMI barrier being collected: which hosts entered it, their puts.
  uint32_t pmi_epoch_ = 0;
  std::vector<bool> pmi_in_;
  size_t pmi_count_ = 0;
  std::vector<KvPair> pmi_kvs_;
  std::optional<uint32_t> reserved_port_;
  Notifier changed_;
};

}  // namespace meshrun
