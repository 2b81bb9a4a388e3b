#include "control/control_plane.hpp"

#include "route/router.hpp"
#include "util/log.hpp"
#include "wire/actor_frames.hpp"

namespace meshrun {

ControlPlane::ControlPlane(asio::io_context& io, const Secret& secret, Millis heartbeat_timeout)
    : io_(io),
      hosts_(
          io, secret, heartbeat_timeout, job_,
          [this](uint32_t host, Message&& msg) { dispatch(host, std::move(msg)); },
          [this](uint32_t host, const std::string& why) { host_lost(host, why); }),
      procs_(io, hosts_, job_),
      pmi_(io, hosts_, job_),
      actors_(io, hosts_, procs_, job_),
      controller_(std::make_unique<ControllerHost>(io, *this)),
      settle_(io) {
  job_.watch(controller_->exit_notifier());
  // A failed job takes no more calls. Those in flight get the settle window:
  // the replies that came with the failure (the other ranks of the call an
  // actor failed in) are kept, and what is still missing then fails.
  job_.on_fail([this](const JobFailure& f) {
    controller_->refuse_calls();
    settle_.expires_after(kSettleWindow);
    settle_.async_wait([this, why = "the job failed: " + f.message](asio::error_code ec) {
      if (!ec) controller_->close(why);
    });
  });
  procs_.on_proc_exited = [this](const SupervisionEvent& ev) { supervise(ev); };
  actors_.on_actor_failed = [this](const SupervisionEvent& ev) { supervise(ev); };
}

ControlPlane::~ControlPlane() = default;

void ControlPlane::set_job_id(std::string id) {
  job_id_ = id;
  hosts_.set_job_id(std::move(id));
}

void ControlPlane::set_progress(std::function<void(const std::string&)> fn) {
  hosts_.on_progress = fn;
  procs_.on_progress = fn;
  actors_.on_progress = std::move(fn);
}

asio::awaitable<Result<ProcMesh>> ControlPlane::spawn_procs(std::string name,
                                                            const Extent& per_host,
                                                            CreateProcs request, Millis timeout) {
  const auto n = static_cast<uint32_t>(hosts_.size());
  auto hosts = Extent::make({{"hosts", n}});
  if (!hosts) co_return hosts.error();
  auto extent = hosts->concat(per_host);
  if (!extent) co_return extent.error();
  std::vector<uint32_t> counts(n, static_cast<uint32_t>(per_host.num_ranks()));
  if (!request.command.empty())
    if (auto ok = co_await pmi_.add_rendezvous(request.env, timeout); !ok) co_return ok.error();
  co_return co_await procs_.spawn(std::move(name), *extent, std::move(counts), std::move(request),
                                  timeout);
}

asio::awaitable<Result<ProcMesh>> ControlPlane::spawn_procs(std::string name,
                                                            std::vector<uint32_t> counts,
                                                            CreateProcs request, Millis timeout) {
  uint32_t total = 0;
  for (uint32_t c : counts)
    total += c;
  auto extent = Extent::make({{"ranks", std::max(1u, total)}});
  if (!extent) co_return extent.error();
  if (!request.command.empty())
    if (auto ok = co_await pmi_.add_rendezvous(request.env, timeout); !ok) co_return ok.error();
  co_return co_await procs_.spawn(std::move(name), *extent, std::move(counts), std::move(request),
                                  timeout);
}

asio::awaitable<Status> ControlPlane::stop_procs(const std::string& name, Millis grace,
                                                 Millis timeout) {
  // Actor meshes on those procs go with them.
  for (const auto& a : actors_.on_procs(name))
    co_await actors_.stop(a, timeout);
  co_return co_await procs_.stop(name, grace, timeout);
}

Result<MeshRef> ControlPlane::lookup(std::string_view name) const {
  if (const ActorMesh* a = actors_.find(name)) return a->ref;
  if (const ProcMesh* p = procs_.find(name)) {
    if (!p->regular() || p->commands)
      return make_error(Errc::invalid_argument,
                        "proc mesh '" + std::string(name) + "' runs commands; it has no actors");
    return p->ref();
  }
  return make_error(Errc::not_found, "no mesh named '" + std::string(name) + "'");
}

void ControlPlane::route(const MeshRef* target, const Endpoint& to, std::string frame) {
  if (target) {
    // One copy per first-level host that has (or relays to) a host in view.
    auto hops = launcher_hops(*target, [this](uint32_t h) { return hosts_.via(h); });
    for (size_t i = 0; i < hops.size(); ++i) {
      if (i + 1 == hops.size())
        hosts_.send(hops[i], std::move(frame));
      else
        hosts_.send(hops[i], std::string_view(frame));
    }
    return;
  }
  if (to.is_launcher()) {
    // Our own port (the controller answering itself).
    auto msg = decode(frame);
    if (msg) controller_->deliver(*msg);
    return;
  }
  hosts_.send(to.host, std::move(frame));
}

// Whether command rank `rank` runs on `host`; a host speaks only for its own.
bool ControlPlane::host_has_rank(uint32_t host, uint32_t rank, const char* what) const {
  uint32_t local = 0;
  const ProcMesh* mesh = procs_.mesh_of(rank, &local);
  if (mesh && mesh->commands && mesh->host_of(local) == host) return true;
  log::warn("host " + std::to_string(host) + " " + what + " rank " + std::to_string(rank) +
            ", which is not one of its ranks; dropped");
  return false;
}

void ControlPlane::dispatch(uint32_t host, Message&& msg) {
  std::visit(
      [&](auto& m) {
        using M = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<M, Output>) {
          uint32_t rank = 0;
          const ProcMesh* mesh = procs_.mesh_of(m.proc, &rank);
          if (!mesh || mesh->host_of(rank) != host) {
            log::warn("host " + std::to_string(host) + " sent output for proc " +
                      std::to_string(m.proc) + ", which is not one of its procs; dropped");
          } else if (on_output) {
            on_output(m, *mesh, rank);
          }
        } else if constexpr (std::is_same_v<M, PortReply>) {
          if (m.from.host != host)
            log::warn("host " + std::to_string(host) + " sent a reply in host " +
                      std::to_string(m.from.host) + "'s name; dropped");
          else if (m.port.owner.is_launcher())
            controller_->deliver(msg);
        } else if constexpr (std::is_same_v<M, Undeliverable>) {
          if (m.to.is_launcher()) controller_->deliver(msg);
        } else if constexpr (std::is_same_v<M, ProcStatus>) {
          procs_.on_status(host, std::move(m));
        } else if constexpr (std::is_same_v<M, ActorStatus>) {
          actors_.on_status(host, std::move(m));
        } else if constexpr (std::is_same_v<M, PmiBarrierIn>) {
          pmi_.on_barrier_in(host, std::move(m));
        } else if constexpr (std::is_same_v<M, PortReserved>) {
          pmi_.on_port_reserved(host, m);
        } else if constexpr (std::is_same_v<M, NameRequest>) {
          if (host_has_rank(host, m.rank, "asked the name service for"))
            pmi_.on_name_request(host, m);
        } else if constexpr (std::is_same_v<M, PmiAbortRank>) {
          if (!host_has_rank(host, m.rank, "reported MPI_Abort for")) return;
          // MPI_Abort: the job ends with the code's low byte, as Hydra's
          // does (an exit status holds no more), but never 0.
          int status = m.code & 0xff;
          if (status == 0 && m.code != 0) status = 1;
          job_.fail({procs_.describe(m.rank) + " called MPI_Abort with code " +
                         std::to_string(m.code) + (m.message.empty() ? "" : ": " + m.message),
                     status});
        } else {
          log::warn("unexpected " + std::string(type_name(M::kType)) + " from host " +
                    std::to_string(host));
        }
      },
      msg);
}

void ControlPlane::supervise(const SupervisionEvent& event) {
  if (job_.failed() || hosts_.shutting_down()) return;
  if (supervisor && supervisor(event)) {
    log::verbose("the controller goes on after: " + event.describe());
    return;
  }
  job_.fail({event.describe(), 1});
}

void ControlPlane::host_lost(uint32_t host, const std::string& why) {
  procs_.host_lost(host);
  controller_->host_lost(host, why);
  SupervisionEvent ev;
  ev.kind = SupervisionEvent::Kind::host_lost;
  ev.host = host;
  if (host < hosts_.size()) {
    ev.hostname = hosts_.hosts()[host].name;
  }
  ev.cause = why;
  supervise(ev);
}

asio::awaitable<void> ControlPlane::shutdown(Millis grace, Millis timeout) {
  settle_.cancel();
  controller_->close("the job is ending");
  co_await hosts_.shutdown(grace, timeout);
}

}  // namespace meshrun
