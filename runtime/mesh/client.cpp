#include "mesh/client.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include <signal.h>

#include <cstdlib>

#include "channel/address.hpp"
#include "process/child.hpp"
#include "process/spawn.hpp"
#include "util/exit_status.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr Millis kHandshakeTimeout{5000};
// After SIGKILL, how long a host may take to report its ranks reaped.
constexpr Millis kKillReportTimeout{10000};
// A cast's payload above this size goes to the socket without being copied
// into the encoded frame.
constexpr size_t kSplitPayload = 16 * 1024;

bool has_env(const std::vector<std::string>& env, const std::string& key) {
  for (const auto& e : env)
    if (e.size() > key.size() && e.compare(0, key.size(), key) == 0 && e[key.size()] == '=')
      return true;
  return false;
}

std::string ms(Millis d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}
}  // namespace

MeshClient::MeshClient(asio::io_context& io, const Secret& secret, Millis heartbeat_timeout)
    : io_(io),
      secret_(secret),
      heartbeat_timeout_(heartbeat_timeout),
      changed_(io.get_executor()) {}

MeshClient::~MeshClient() {
  closed_ = true;
  for (auto& h : hosts_)
    if (h.conn) h.conn->close();
}

Status MeshClient::listen(const Address& address) {
  auto l = Listener::listen(io_, address);
  if (!l) return l.error();
  listener_ = std::move(*l);
  asio::co_spawn(io_, accept_loop(), asio::detached);
  return {};
}

const Address& MeshClient::address() const {
  return listener_->local_address();
}

void MeshClient::fail(JobFailure failure) {
  if (!failure_) failure_ = std::move(failure);
  changed_.notify();
}

std::string MeshClient::describe_rank(uint32_t rank) const {
  const uint32_t h = proc_mesh_.host_of(rank);
  std::string s = "rank " + std::to_string(rank) + " (host " + std::to_string(h);
  if (h < hosts_.size() && !hosts_[h].hostname.empty()) s += ", " + hosts_[h].hostname;
  return s + ")";
}

asio::awaitable<void> MeshClient::accept_loop() {
  while (!closed_) {
    auto socket = co_await listener_->accept();
    if (!socket) co_return;
    auto conn = Connection::make(std::move(*socket), "an agent");
    auto slot = pending_.admit(conn);
    asio::co_spawn(io_, greet(conn, std::move(slot)), asio::detached);
  }
}

// Authenticate, then read AgentHello: only then is a connection a host.
asio::awaitable<void> MeshClient::greet(ConnectionPtr conn, PendingHandshakes::Slot slot) {
  auto ok = co_await conn->authenticate_server(secret_, kHandshakeTimeout, tls_);
  slot.release();
  if (!ok) {
    log::verbose("refused a connection: " + ok.error().message);
    co_return;
  }
  auto frame = co_await conn->read_within(kHandshakeTimeout);
  if (!frame) co_return;
  auto msg = decode(*frame);
  if (!msg || !std::holds_alternative<AgentHello>(*msg)) {
    log::warn("an agent of this job sent something other than its hello; dropped");
    conn->close();
    co_return;
  }
  auto& hello = std::get<AgentHello>(*msg);
  if (hello.host_index >= hosts_.size() || hosts_[hello.host_index].conn) {
    log::warn("an agent claimed host index " + std::to_string(hello.host_index) +
              ", which is out of range or taken; dropped");
    conn->close();
    co_return;
  }
  auto& host = hosts_[hello.host_index];
  host.conn = conn;
  host.hostname = hello.hostname;
  host.address = hello.address;
  host.pid = hello.pid;
  conn->set_peer("host " + std::to_string(host.rank) + " (" + host.name + ")");
  log::debug("host " + std::to_string(host.rank) + " connected from " + hello.hostname +
             ", listening on " + hello.address);
  changed_.notify();
  asio::co_spawn(io_, serve_host(host.rank), asio::detached);
}

asio::awaitable<void> MeshClient::serve_host(uint32_t rank) {
  auto conn = hosts_[rank].conn;
  for (;;) {
    auto frame = co_await conn->read();
    if (!frame) {
      if (closed_) co_return;
      auto& host = hosts_[rank];
      host.lost = true;
      if (!host.stopped && !shutting_down_)
        fail({"host " + std::to_string(rank) + " (" + host.name +
                  ") was lost: " + frame.error().message,
              1});
      // Its children are unreachable now; their lifeline stops them.
      for (auto& h : hosts_)
        if (h.via == rank) h.lost = true;
      changed_.notify();
      co_return;
    }
    auto msg = decode(*frame);
    if (msg && std::holds_alternative<Routed>(*msg)) {
      auto& routed = std::get<Routed>(*msg);
      const uint32_t from = routed.host_rank;
      msg = decode(routed.payload);
      if (msg && std::holds_alternative<AgentHello>(*msg)) {
        greet_routed(rank, std::move(std::get<AgentHello>(*msg)));
        continue;
      }
      if (from >= hosts_.size() || hosts_[from].via != rank) {
        fail({"host " + std::to_string(rank) + " routed a message for host " +
                  std::to_string(from) + ", which is not its child",
              1});
        conn->close();
        co_return;
      }
      if (msg) {
        handle(from, std::move(*msg));
        continue;
      }
    }
    if (!msg) {
      fail({"host " + std::to_string(rank) + " sent a bad message: " + msg.error().message, 1});
      conn->close();
      co_return;
    }
    handle(rank, std::move(*msg));
  }
}

void MeshClient::greet_routed(uint32_t parent, AgentHello&& hello) {
  const uint32_t i = hello.host_index;
  if (i >= hosts_.size() || hosts_[i].conn) {
    log::warn("host " + std::to_string(parent) + " routed a hello from host " + std::to_string(i) +
              ", which is out of range or taken; ignored");
    return;
  }
  if (!is_child(parent, i)) {
    log::warn("host " + std::to_string(parent) + " routed a hello from host " + std::to_string(i) +
              ", which is not in its share; ignored");
    return;
  }
  auto& host = hosts_[i];
  host.conn = hosts_[parent].conn;
  host.via = parent;
  host.hostname = hello.hostname;
  host.address = hello.address;
  host.pid = hello.pid;
  log::debug("host " + std::to_string(i) + " connected through host " + std::to_string(parent) +
             " from " + hello.hostname + ", listening on " + hello.address);
  changed_.notify();
}

void MeshClient::send_to(uint32_t host, const std::string& payload) {
  auto& h = hosts_[host];
  if (!h.conn || !h.conn->is_open()) return;
  if (h.via)
    h.conn->send(Routed{host, payload});
  else
    h.conn->send_payload(payload);
}

bool MeshClient::is_child(uint32_t parent, uint32_t host) const {
  if (!allocator_ || host >= hosts_.size()) return false;
  for (const auto& h : allocator_->subtree(parent).hosts)
    if (h.rank == host) return true;
  return false;
}

void MeshClient::handle(uint32_t host, Message&& msg) {
  std::visit(
      [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, Output>) {
          if (on_output) on_output(m);
        } else if constexpr (std::is_same_v<M, Reply>) {
          auto it = ports_.find(m.port);
          if (it != ports_.end()) {
            auto& port = it->second;
            port.replies.push_back(std::move(m));
            if (port.replies.size() == port.expected) changed_.notify();
          } else {
            ++unclaimed_replies_;
          }
        } else if constexpr (std::is_same_v<M, ProcStatus>) {
          on_proc_status(std::move(m));
        } else if constexpr (std::is_same_v<M, ActorStatus>) {
          if (m.failed_later) {
            fail({"actor " + (m.actor_id.empty() ? m.mesh : m.actor_id) + " on " +
                      describe_rank(m.rank) + " failed: " + m.error,
                  1});
          } else {
            actor_status_[m.mesh].push_back(std::move(m));
            changed_.notify();
          }
        } else if constexpr (std::is_same_v<M, HostReady>) {
          hosts_[host].ready = true;
          changed_.notify();
        } else if constexpr (std::is_same_v<M, HostStopped>) {
          hosts_[host].stopped = true;
          changed_.notify();
        } else if constexpr (std::is_same_v<M, PmiBarrierIn>) {
          on_pmi_barrier(host, std::move(m));
        } else if constexpr (std::is_same_v<M, PmiAbortRank>) {
          // MPI_Abort: the job ends with the rank's code (kept to what an
          // exit status can carry).
          const int status = m.code >= 0 && m.code <= 255 ? m.code : 1;
          fail({describe_rank(m.rank) + " called MPI_Abort with code " + std::to_string(m.code) +
                    (m.message.empty() ? "" : ": " + m.message),
                status});
        } else if constexpr (std::is_same_v<M, PortReserved>) {
          reserved_port_ = m.port;
          changed_.notify();
        } else if constexpr (std::is_same_v<M, HostFailed>) {
          if (is_child(host, m.host_rank)) {
            auto& h = hosts_[m.host_rank];
            const bool started = h.ready;
            h.lost = true;
            if (!h.stopped && !shutting_down_)
              fail({"host " + std::to_string(h.rank) + " (" + h.name + ") " +
                        (started ? "was lost: " : "failed to start: ") + m.why,
                    started ? 1 : exit_status::kLaunchFailed});
            changed_.notify();
          }
        } else if constexpr (std::is_same_v<M, Heartbeat>) {
        } else {
          log::warn("unexpected message from host " + std::to_string(host));
        }
      },
      msg);
}

void MeshClient::on_proc_status(ProcStatus&& st) {
  if (st.rank >= procs_.size()) return;
  proc_known_[st.rank] = true;
  procs_[st.rank] = st;
  const auto& s = procs_[st.rank];
  if (s.state == ProcState::failed) {
    fail({describe_rank(s.rank) + " could not start: " + s.detail,
          s.spawn_failure == static_cast<uint8_t>(SpawnFailure::not_found) ? 127
          : s.spawn_failure == static_cast<uint8_t>(SpawnFailure::not_executable)
              ? 126
              : exit_status::kLaunchFailed});
  } else if (s.state == ProcState::exited) {
    if (on_proc_exit) on_proc_exit(s);
    ExitStatus es;
    es.exited = s.exited_normally;
    es.code = s.exited_normally ? s.code : 0;
    es.signal = s.exited_normally ? 0 : s.code;
    es.core_dumped = s.core_dumped;
    const int status = es.shell_status() == 0 ? 1 : es.shell_status();
    if (procs_may_exit_) {
      // A rank ended by the job's teardown did not fail.
      if (!es.success() && s.detail != kStoppedByMeshrun) {
        failed_exits_.emplace(s.rank, status);
        JobFailure f{describe_rank(s.rank) + " failed: " + es.describe(), status};
        f.rank_exit = true;
        fail(std::move(f));
      }
    } else if (!shutting_down_) {
      fail({describe_rank(s.rank) + " exited unexpectedly: " + es.describe(), status});
    }
  }
  changed_.notify();
}

asio::awaitable<void> MeshClient::heartbeat() {
  const Millis period = std::max(Millis(50), heartbeat_timeout_ / 4);
  asio::steady_timer timer(io_);
  while (!closed_ && !shutting_down_) {
    timer.expires_after(period);
    co_await timer.async_wait(kTuple);
    if (closed_ || shutting_down_) co_return;
    const auto now = Clock::now();
    for (auto& h : hosts_) {
      if (!h.conn || !h.conn->is_open() || h.via) continue;
      if (now - h.conn->last_receive() > heartbeat_timeout_ && now >= excused_until_) {
        fail({"host " + std::to_string(h.rank) + " (" + h.name + ") has been silent for " +
                  ms(heartbeat_timeout_) + "; it is considered lost",
              1});
        h.conn->close();
        continue;
      }
      if (now - h.conn->last_send() >= period) h.conn->send(Heartbeat{});
    }
  }
}

asio::awaitable<Result<HostMesh>> MeshClient::allocate(Allocator& allocator, AgentLaunch launch,
                                                       Millis start_timeout) {
  allocator_ = &allocator;
  const size_t n = allocator.num_hosts();
  pending_.set_limit(kSparePendingHandshakes + n);
  hosts_.assign(n, Host{});
  for (size_t i = 0; i < n; ++i) {
    hosts_[i].rank = static_cast<uint32_t>(i);
    hosts_[i].name = allocator.host_name(i);
  }
  allocator.on_change([this] { changed_.notify(); });
  if (auto st = allocator.start(launch); !st) co_return st.error();

  const auto deadline = Clock::now() + start_timeout;
  size_t connected = 0, ready = 0;
  auto progress = [&] {
    if (on_progress)
      on_progress("hosts connected " + std::to_string(connected) + "/" + std::to_string(n) +
                  ", ready " + std::to_string(ready) + "/" + std::to_string(n));
  };
  auto all = [&](auto pred) {
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
      if (pred(hosts_[i]))
        ++k;
      else if (auto why = allocator.failure(i)) {
        fail({"host " + std::to_string(i) + " (" + hosts_[i].name + ") failed to start: " + *why,
              exit_status::kLaunchFailed});
      }
    }
    return k;
  };
  // Trampoline each host as soon as it says hello, not after the slowest.
  std::vector<bool> sent(n, false);
  BecomeHost become;
  become.job_id = job_id_;
  become.heartbeat_timeout_ms = static_cast<uint32_t>(heartbeat_timeout_.count());
  become.num_hosts = static_cast<uint32_t>(n);
  const bool ok = co_await changed_.wait_until(
      [&] {
        connected = all([](const Host& h) { return h.conn != nullptr; });
        for (size_t i = 0; i < n; ++i)
          if (hosts_[i].conn && !sent[i]) {
            become.host_rank = static_cast<uint32_t>(i);
            become.subtree = allocator.subtree(i);
            send_to(static_cast<uint32_t>(i), become);
            sent[i] = true;
          }
        ready = all([](const Host& h) { return h.ready; });
        progress();
        return failed() || ready == n;
      },
      deadline);
  if (failed()) co_return make_error(Errc::failed, failure_->message);
  if (!ok) {
    std::string missing;
    size_t shown = 0;
    for (size_t i = 0; i < n; ++i)
      if (!hosts_[i].ready && shown++ < 8)
        missing += (missing.empty() ? "" : ", ") + std::to_string(i) + " (" + hosts_[i].name + ")";
    if (shown > 8) missing += ", ...";
    fail({"hosts did not start within " + ms(start_timeout) + ": " + missing,
          exit_status::kLaunchFailed});
    co_return make_error(Errc::timeout, failure_->message);
  }
  asio::co_spawn(io_, heartbeat(), asio::detached);
  auto extent = Extent::make({{"hosts", static_cast<uint32_t>(n)}});
  if (!extent) co_return extent.error();
  co_return HostMesh{*extent};
}

asio::awaitable<Result<ProcMesh>> MeshClient::spawn_procs(const HostMesh& hosts, std::string name,
                                                          const Extent& per_host,
                                                          CreateProcs request, Millis timeout,
                                                          std::vector<uint32_t> ranks_per_host) {
  uint64_t uneven_total = 0;
  for (uint32_t n : ranks_per_host)
    uneven_total += n;
  auto extent = ranks_per_host.empty()
                    ? hosts.extent.concat(per_host)
                    : Extent::make({{"ranks", static_cast<uint32_t>(uneven_total)}});
  if (!extent) co_return extent.error();
  ProcMesh mesh;
  mesh.name = name;
  mesh.extent = *extent;
  mesh.per_host = static_cast<uint32_t>(per_host.num_ranks());
  for (uint64_t first = 0; uint32_t n : ranks_per_host) {
    mesh.first_rank.push_back(first);
    first += n;
  }
  request.ranks_per_host = ranks_per_host;
  proc_mesh_ = mesh;
  const uint64_t total = extent->num_ranks();
  procs_.assign(total, ProcStatus{});
  proc_known_.assign(total, false);
  procs_may_exit_ = !request.command.empty();

  request.mesh = name;
  request.mesh_size = static_cast<uint32_t>(total);
  request.local_size = mesh.per_host;
  pmi_in_.assign(hosts_.size(), false);
  const auto deadline = Clock::now() + timeout;
  if (procs_may_exit_ && !hosts_.empty()) {
    // torchrun's rendezvous: a port free on rank 0's host, unless the user
    // chose one (with -x or in meshrun's own environment).
    for (const char* key : {"MASTER_ADDR", "MASTER_PORT"}) {
      if (has_env(request.env, key)) continue;
      if (const char* v = std::getenv(key)) {
        request.env.push_back(std::string(key) + "=" + v);
        continue;
      }
      if (std::string(key) == "MASTER_ADDR") {
        request.env.push_back("MASTER_ADDR=" + master_addr());
        continue;
      }
      reserved_port_.reset();
      send_to(0, ReservePort{});
      co_await changed_.wait_until([&] { return failed() || reserved_port_.has_value(); },
                                   deadline);
      if (failed()) co_return make_error(Errc::failed, failure_->message);
      if (reserved_port_ && *reserved_port_ != 0)
        request.env.push_back("MASTER_PORT=" + std::to_string(*reserved_port_));
      else
        log::warn("host 0 found no free TCP port; MASTER_PORT is not set");
    }
  }
  for (auto& host : hosts_) {
    request.procs.clear();
    const bool uneven = !mesh.first_rank.empty();
    const uint32_t local_size = uneven ? ranks_per_host[host.rank] : mesh.per_host;
    const uint64_t first =
        uneven ? mesh.first_rank[host.rank] : uint64_t{host.rank} * mesh.per_host;
    request.local_size = local_size;
    for (uint32_t l = 0; l < local_size; ++l) {
      const auto rank = static_cast<uint32_t>(first + l);
      request.procs.push_back({rank, l, name + "_" + std::to_string(rank)});
    }
    send_to(host.rank, request);
  }
  size_t running = 0;
  const bool ok = co_await changed_.wait_until(
      [&] {
        running = 0;
        for (size_t r = 0; r < total; ++r)
          if (proc_known_[r] && procs_[r].state != ProcState::starting) ++running;
        if (on_progress)
          on_progress("procs ready " + std::to_string(running) + "/" + std::to_string(total));
        return failed() || running == total;
      },
      deadline);
  if (failed()) co_return make_error(Errc::failed, failure_->message);
  if (!ok) {
    std::string missing;
    size_t shown = 0;
    for (uint32_t r = 0; r < total; ++r)
      if ((!proc_known_[r] || procs_[r].state == ProcState::starting) && shown++ < 8)
        missing += (missing.empty() ? "" : ", ") + describe_rank(r);
    fail(
        {"procs did not start within " + ms(timeout) + ": " + missing, exit_status::kLaunchFailed});
    co_return make_error(Errc::timeout, failure_->message);
  }
  co_return mesh;
}

asio::awaitable<Result<ActorMesh>> MeshClient::spawn_actors(const ProcMesh& procs,
                                                            SpawnActors request, Millis timeout) {
  const uint64_t total = procs.extent.num_ranks();
  request.mesh_size = static_cast<uint32_t>(total);
  auto& statuses = actor_status_[request.mesh];
  statuses.clear();
  const std::string payload = encode(request);
  for (auto& host : hosts_)
    send_to(host.rank, payload);
  const auto deadline = Clock::now() + timeout;
  const bool ok = co_await changed_.wait_until(
      [&] {
        if (on_progress)
          on_progress("actors spawned " + std::to_string(statuses.size()) + "/" +
                      std::to_string(total));
        return failed() || statuses.size() == total;
      },
      deadline);
  if (failed()) co_return make_error(Errc::failed, failure_->message);
  if (!ok) {
    fail({"actors of mesh '" + request.mesh + "' did not spawn within " + ms(timeout) + " (" +
              std::to_string(statuses.size()) + " of " + std::to_string(total) + " answered)",
          1});
    co_return make_error(Errc::timeout, failure_->message);
  }
  ActorMesh mesh;
  mesh.name = request.mesh;
  mesh.procs = procs;
  mesh.actor_ids.resize(total);
  for (const auto& st : statuses) {
    if (!st.ok) {
      fail({"cannot spawn actor '" + request.type + "' on " + describe_rank(st.rank) + ": " +
                st.error,
            1});
      co_return make_error(Errc::plugin, failure_->message);
    }
    if (st.rank < total) mesh.actor_ids[st.rank] = st.actor_id;
  }
  co_return mesh;
}

asio::awaitable<Result<std::vector<Reply>>> MeshClient::cast(const ActorMesh& actors,
                                                             const Slice& slice,
                                                             std::string message,
                                                             std::string payload, Millis timeout) {
  const uint64_t port_id = next_port_++;
  const uint64_t expected = slice.num_ranks();
  auto& port = ports_[port_id];
  port.expected = expected;
  auto& replies = port.replies;
  route_cast(actors, slice, port_id, message, std::move(payload));
  const bool ok = co_await changed_.wait_until(
      [&] { return failed() || replies.size() >= expected; }, Clock::now() + timeout);
  std::vector<Reply> got = std::move(replies);
  ports_.erase(port_id);
  if (failed()) co_return make_error(Errc::failed, failure_->message);
  if (!ok) {
    std::vector<bool> answered(actors.procs.extent.num_ranks(), false);
    for (const auto& r : got)
      if (r.rank < answered.size()) answered[r.rank] = true;
    std::string missing;
    size_t shown = 0, count = 0;
    for (uint64_t r : slice.ranks())
      if (!answered[r]) {
        ++count;
        if (shown++ < 8) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      }
    if (count > 8) missing += ", ...";
    co_return make_error(Errc::timeout, "cast of " + message + " to " + slice.to_string() +
                                            ": no reply within " + ms(timeout) + " from " +
                                            std::to_string(count) + " rank(s): " + missing);
  }
  co_return got;
}

void MeshClient::route_cast(const ActorMesh& actors, const Slice& slice, uint64_t port,
                            std::string message, std::string payload) {
  Cast cast;
  cast.mesh = actors.name;
  const auto& dims = slice.extent().dims();
  for (size_t i = 0; i < dims.size(); ++i)
    cast.slice.push_back(
        {dims[i].name, dims[i].size, slice.ranges()[i].begin, slice.ranges()[i].end});
  cast.port = port;
  cast.message = std::move(message);
  // Hosts are the outermost dimension: a host gets the cast when any of its
  // procs is in the slice. Casts follow the tree: a first-level host passes
  // it on to its children.
  const int host_dim = slice.extent().find("hosts");
  std::vector<bool> wanted(hosts_.size(), host_dim < 0);
  if (host_dim >= 0) {
    const auto& r = slice.ranges()[static_cast<size_t>(host_dim)];
    for (auto& host : hosts_)
      if (host.rank >= r.begin && host.rank < r.end) wanted[host.via.value_or(host.rank)] = true;
  }
  std::vector<uint32_t> to;
  for (auto& host : hosts_)
    if (!host.via && wanted[host.rank]) to.push_back(host.rank);
  if (to.size() == 1 && payload.size() > kSplitPayload) {
    // The payload is the last field: encode the rest, then its length, and
    // let the connection queue the payload itself, uncopied.
    std::string head = encode(cast);
    head.resize(head.size() - sizeof(uint32_t));
    Writer w(head);
    w(static_cast<uint32_t>(payload.size()));
    auto& h = hosts_[to[0]];
    if (h.conn && h.conn->is_open()) h.conn->send_parts(head, std::move(payload));
    return;
  }
  cast.payload = std::move(payload);
  const std::string frame = encode(cast);
  for (uint32_t host : to)
    send_to(host, frame);
}

void MeshClient::send(const ActorMesh& actors, const Slice& slice, std::string message,
                      std::string payload) {
  if (failed()) return;
  route_cast(actors, slice, 0, std::move(message), std::move(payload));
}

asio::awaitable<Status> MeshClient::drain(size_t max_queued, Millis timeout) {
  const auto deadline = Clock::now() + timeout;
  for (size_t i = 0; i < hosts_.size(); ++i) {
    auto conn = hosts_[i].conn;
    if (hosts_[i].via || !conn || !conn->is_open()) continue;
    const bool ok = co_await conn->wait_queued_below(max_queued, deadline);
    if (failed()) co_return make_error(Errc::failed, failure_->message);
    if (!ok && conn->is_open())
      co_return make_error(Errc::timeout,
                           "host " + std::to_string(i) + " took no more within " + ms(timeout));
  }
  if (failed()) co_return make_error(Errc::failed, failure_->message);
  co_return Status{};
}

asio::awaitable<bool> MeshClient::wait_all_exited(Clock::time_point deadline) {
  co_return co_await changed_.wait_until(
      [&] {
        if (failed()) return true;
        for (size_t r = 0; r < procs_.size(); ++r)
          if (!proc_known_[r] || procs_[r].state != ProcState::exited) return false;
        return true;
      },
      deadline);
}

bool MeshClient::all_exited() const {
  for (uint32_t r = 0; r < procs_.size(); ++r) {
    const uint32_t h = proc_mesh_.host_of(r);
    if (h < hosts_.size() && hosts_[h].lost) continue;  // nobody left to report it
    if (!proc_known_[r]) return false;
    if (procs_[r].state != ProcState::exited && procs_[r].state != ProcState::failed) return false;
  }
  return true;
}

std::vector<uint32_t> MeshClient::running_ranks() const {
  std::vector<uint32_t> out;
  for (uint32_t r = 0; r < procs_.size(); ++r)
    if (!proc_known_[r] ||
        (procs_[r].state != ProcState::exited && procs_[r].state != ProcState::failed))
      out.push_back(r);
  return out;
}

std::optional<int> MeshClient::lowest_failed_status() const {
  if (failed_exits_.empty()) return std::nullopt;
  return failed_exits_.begin()->second;
}

asio::awaitable<void> MeshClient::stop_ranks(Millis grace, int first_signal) {
  if (all_exited()) co_return;
  signal_procs(first_signal);
  if (co_await changed_.wait_until([this] { return all_exited(); }, Clock::now() + grace))
    co_return;
  log::verbose("ranks still running " + ms(grace) + " after " + signal_name(first_signal) +
               "; sending SIGKILL");
  signal_procs(SIGKILL);
  co_await changed_.wait_until([this] { return all_exited(); }, Clock::now() + kKillReportTimeout);
}

void MeshClient::on_pmi_barrier(uint32_t host, PmiBarrierIn&& in) {
  if (host >= pmi_in_.size() || in.epoch != pmi_epoch_ || pmi_in_[host]) {
    fail({"host " + std::to_string(host) + " entered PMI barrier " + std::to_string(in.epoch) +
              " while barrier " + std::to_string(pmi_epoch_) + " was open",
          1});
    return;
  }
  pmi_in_[host] = true;
  ++pmi_count_;
  for (auto& kv : in.kvs)
    pmi_kvs_.push_back(std::move(kv));
  if (pmi_count_ < hosts_.size()) return;
  PmiBarrierOut out;
  out.epoch = pmi_epoch_;
  out.kvs = std::move(pmi_kvs_);
  const std::string frame = encode(out);
  for (auto& h : hosts_)
    send_to(h.rank, frame);
  pmi_kvs_.clear();
  pmi_in_.assign(hosts_.size(), false);
  pmi_count_ = 0;
  ++pmi_epoch_;
}

// Where rank 0's host can be reached: the address its agent listens on for a
// remote host, loopback for one on this machine.
std::string MeshClient::master_addr() const {
  if (!hosts_.empty()) {
    auto addr = Address::parse(hosts_[0].address);
    if (addr && addr->kind == Address::Kind::tcp && !addr->host.empty() &&
        addr->host != "0.0.0.0" && addr->host != "::")
      return addr->host;
  }
  return "127.0.0.1";
}

void MeshClient::signal_procs(int sig) {
  for (auto& h : hosts_)
    send_to(h.rank, SignalProcs{sig});
}

void MeshClient::send_input(uint32_t rank, const std::string& data) {
  const uint32_t h = proc_mesh_.host_of(rank);
  if (h < hosts_.size()) send_to(h, Input{rank, data});
}

asio::awaitable<void> MeshClient::shutdown(Millis grace, Millis timeout) {
  shutting_down_ = true;
  StopProcs stop;
  stop.grace_ms = static_cast<uint32_t>(grace.count());
  // Teardown follows the tree: a first-level host stops its children and
  // reports its own stop after theirs.
  for (auto& h : hosts_)
    if (!h.via) send_to(h.rank, stop);
  // Each host needs up to two graces (stop, then SIGTERM) before SIGKILL.
  const auto deadline = Clock::now() + 2 * grace + timeout;
  co_await changed_.wait_until(
      [&] {
        for (const auto& h : hosts_)
          if (h.conn && !h.stopped && !h.lost) return false;
        return true;
      },
      deadline);
  closed_ = true;
  for (auto& h : hosts_)
    if (h.conn) h.conn->close();
  if (listener_) listener_->close();
  if (allocator_) co_await allocator_->reap(timeout);
}

}  // namespace meshrun
