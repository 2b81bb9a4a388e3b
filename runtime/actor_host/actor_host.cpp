#include "actor_host/actor_host.hpp"

#include <algorithm>
#include <limits>

#include "util/log.hpp"

namespace meshrun {
namespace {

// Monarch's naming: proc mesh name and rank, actor name and index in the proc.
std::string actor_id_of(const std::string& proc_mesh, const MeshRef& mesh, uint64_t proc_rank) {
  return proc_mesh + "[" + std::to_string(proc_rank) + "]." + mesh.name + "[0]";
}

}  // namespace

ActorHost::ActorHost(asio::io_context& io, Endpoint self, Out out)
    : io_(io), self_(self), out_(std::move(out)), ports_(io) {}

ActorHost::~ActorHost() {
  closed_ = true;
}

bool ActorHost::deliver(const Message& msg) {
  if (const auto* cast = std::get_if<ActorCast>(&msg)) {
    const CastHead head{cast->from, cast->local_only != 0, cast->timeout_ms, cast->port};
    deliver_cast(head, cast->target, cast->message, cast->payload);
  } else if (const auto* reply = std::get_if<PortReply>(&msg)) {
    deliver_reply(*reply);
  } else if (const auto* u = std::get_if<Undeliverable>(&msg)) {
    deliver_undeliverable(*u);
  } else if (const auto* spawn_msg = std::get_if<SpawnActors>(&msg)) {
    spawn(*spawn_msg);
  } else if (const auto* stop_msg = std::get_if<StopActors>(&msg)) {
    stop_mesh(stop_msg->mesh);
  } else {
    return false;
  }
  return true;
}

Result<std::shared_ptr<PluginLibrary>> ActorHost::library(const std::string& path) {
  auto it = libraries_.find(path);
  if (it != libraries_.end()) return it->second;
  auto lib = PluginLibrary::load(path);
  if (lib) libraries_[path] = *lib;
  return lib;
}

void ActorHost::spawn(const SpawnActors& msg) {
  ActorStatus st;
  st.mesh = msg.mesh.mesh;
  // This proc's place in the mesh: its proc rank is its id less the base.
  const uint64_t proc_rank = static_cast<uint64_t>(self_.proc) - msg.mesh.proc_base;
  if (self_.proc < msg.mesh.proc_base || !msg.mesh.in_region(proc_rank)) {
    st.state = ActorState::spawn_failed;
    st.error =
        "proc " + std::to_string(self_.proc) + " is not in the region of mesh " + msg.mesh.name;
    actor_status(st);
    return;
  }
  const uint32_t rank = msg.mesh.actor_rank(proc_rank);
  st.rank = rank;
  st.actor_id = actor_id_of(msg.proc_mesh, msg.mesh, proc_rank);
  auto lib = library(msg.plugin);
  if (!lib) {
    st.state = ActorState::spawn_failed;
    st.error = lib.error().message;
    actor_status(st);
    return;
  }
  ActorContext ctx;
  ctx.actor_id = st.actor_id;
  ctx.mesh_name = msg.mesh.name;
  ctx.rank = rank;
  ctx.size = msg.mesh.mesh_size();
  ctx.params_toml = msg.params_toml;
  ctx.mesh_id = msg.mesh.mesh;
  ctx.self = msg.mesh;
  ctx.self.view = msg.mesh.region;
  ctx.services = this;
  auto actor = (*lib)->create(msg.type, std::move(ctx));
  if (!actor) {
    st.state = ActorState::spawn_failed;
    st.error = actor.error().message;
  } else {
    actors_[{msg.mesh.mesh, rank}] = Hosted{std::move(*actor), msg.mesh};
    st.state = ActorState::spawned;
  }
  actor_status(st);
}

void ActorHost::adopt(uint32_t mesh, uint32_t rank, std::unique_ptr<ActorInstance> instance) {
  actors_[{mesh, rank}] = Hosted{std::move(instance), MeshRef{}};
}

ActorInstance* ActorHost::find(uint32_t mesh, uint32_t rank) {
  auto it = actors_.find({mesh, rank});
  return it == actors_.end() ? nullptr : it->second.instance.get();
}

void ActorHost::stop_mesh(uint32_t mesh) {
  for (auto it = actors_.begin(); it != actors_.end();) {
    if (it->first.first != mesh) {
      ++it;
      continue;
    }
    ActorStatus st;
    st.mesh = mesh;
    st.rank = it->first.second;
    st.state = ActorState::stopped;
    st.actor_id = it->second.instance->context().actor_id;
    it = actors_.erase(it);  // destroys the actor
    actor_status(st);
  }
}

void ActorHost::stop_all() {
  actors_.clear();
}

void ActorHost::refuse_calls() {
  closed_ = true;
}

void ActorHost::close(const std::string& why) {
  closed_ = true;
  ports_.fail_all(why);
}

void ActorHost::actor_failed(uint32_t mesh, uint32_t rank, const std::string& actor_id,
                             const std::string& why) {
  ActorStatus st;
  st.mesh = mesh;
  st.rank = rank;
  st.state = ActorState::failed;
  st.actor_id = actor_id;
  st.error = why;
  actor_status(st);
}

void ActorHost::actor_status(const ActorStatus& status) {
  emit(nullptr, Endpoint{kLauncherHost, kNoProc, 0, 0}, encode(status));
}

void ActorHost::check(const Key& key) {
  auto it = actors_.find(key);
  if (it == actors_.end()) return;
  if (auto failed = it->second.instance->take_failure(); !failed)
    actor_failed(key.first, key.second, it->second.instance->context().actor_id,
                 failed.error().message);
}

void ActorHost::deliver_cast(const CastHead& cast, const MeshRef& target, std::string_view message,
                             std::string_view payload) {
  const uint64_t proc_rank = static_cast<uint64_t>(self_.proc) - target.proc_base;
  const bool mine = self_.proc >= target.proc_base && target.contains_proc_rank(proc_rank);
  const uint32_t rank = mine ? target.actor_rank(proc_rank) : 0;
  auto it = mine ? actors_.find({target.mesh, rank}) : actors_.end();
  PortRef port = cast.port;
  if (port.valid() && port.slot == kAnySlot) port.slot = rank;
  if (it == actors_.end()) {
    const std::string cause =
        mine ? "no actor of mesh " + target.name + " in proc " + std::to_string(self_.proc) +
                   " (stopped, or never spawned)"
             : "proc " + std::to_string(self_.proc) + " is not in " + target.to_string();
    if (port.valid()) {
      PortReply r;
      r.port = port;
      r.kind = ReplyKind::failure;
      r.value = "undeliverable: " + cause;
      emit(nullptr, port.owner, encode(r));
    } else {
      Undeliverable u;
      u.to = cast.from;
      u.target = target.name + "[" + std::to_string(rank) + "]";
      u.message = std::string(message);
      u.cause = cause;
      emit(nullptr, cast.from, encode(u));
    }
    return;
  }
  ActorInstance& actor = *it->second.instance;
  bool replied = false;
  const Endpoint replier{self_.host, self_.proc, target.mesh, rank};
  auto reply = [&](std::span<const uint8_t> bytes) {
    if (!port.valid() || closed_) return;  // a one-way message: nobody listens
    PortReply r;
    r.from = replier;
    r.port = port;
    r.value.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    emit(nullptr, port.owner, encode(r));
    replied = true;
  };
  auto status = actor.handle(
      message,
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(payload.data()), payload.size()),
      reply, port.valid() ? &port : nullptr);
  if (!status) {
    // The launcher hears of it as supervision, then the caller on its port:
    // in that order, so a launcher that gets the reply knows of the failure.
    actor_failed(target.mesh, rank, actor.context().actor_id, status.error().message);
    if (port.valid() && !replied) {
      PortReply r;
      r.from = replier;
      r.port = port;
      r.kind = ReplyKind::failure;
      r.value = status.error().message;
      emit(nullptr, port.owner, encode(r));
    }
  }
}

void ActorHost::deliver_reply(const PortReply& reply) {
  ports_.deliver(reply.port.id, reply);
}

void ActorHost::deliver_undeliverable(const Undeliverable& u) {
  auto it = actors_.find({u.to.mesh, u.to.rank});
  if (it == actors_.end()) {
    log::warn("'" + u.message + "' to " + u.target + " was undeliverable (" + u.cause +
              "), and its sender is gone too");
    return;
  }
  if (auto ok = it->second.instance->undeliverable(u.target, u.message, u.cause); !ok)
    actor_failed(u.to.mesh, u.to.rank, it->second.instance->context().actor_id, ok.error().message);
}

Status ActorHost::send(const Caller& from, const MeshRef& to, std::string_view message,
                       std::string_view payload, const PortRef* port, std::string_view fields) {
  if (closed_) return make_error(Errc::closed, "the job is ending");
  if (to.is_procs() || !to.valid())
    return make_error(Errc::invalid_argument, "not a reference to actors: " + to.to_string());
  if (message.empty()) return make_error(Errc::invalid_argument, "a message needs a name");
  std::string encoded;
  if (fields.empty()) {
    encoded = encode_ref(to);
    fields = ref_fields(encoded);
  }
  PortRef reply_to;
  uint32_t timeout_ms = 0;
  if (port) {
    reply_to = *port;
    if (port->owner.host == self_.host && port->owner.proc == self_.proc &&
        ports_.is_open(port->id) && port->slot == kAnySlot) {
      calls_[port->id] =
          CallInfo{to, std::string(message), port->reducer, std::chrono::steady_clock::now()};
      timeout_ms = static_cast<uint32_t>(std::min<int64_t>(ports_.remaining(port->id).count(),
                                                           std::numeric_limits<uint32_t>::max()));
    }
  }
  emit(&to, Endpoint{},
       encode_cast({self_.host, self_.proc, from.mesh, from.rank}, timeout_ms, reply_to, fields,
                   message, payload));
  return {};
}

Result<PortRef> ActorHost::open_port(const Caller& from, const MeshRef& to, ReducerKind reducer,
                                     Millis timeout, uint64_t cookie) {
  const Key caller{from.mesh, from.rank};
  return open_port_with(from, to, reducer, timeout, [this, caller, cookie](CallResult&& result) {
    auto actor = actors_.find(caller);
    if (actor == actors_.end()) return;  // it was stopped meanwhile
    actor->second.instance->done(cookie, result);
    check(caller);
  });
}

Result<PortRef> ActorHost::open_port_with(const Caller& from, const MeshRef& to,
                                          ReducerKind reducer, Millis timeout,
                                          PortTable::Done done) {
  if (closed_) return make_error(Errc::closed, "the job is ending");
  if (to.is_procs() || !to.valid())
    return make_error(Errc::invalid_argument, "not a reference to actors: " + to.to_string());
  const bool single = to.size() == 1;
  const Key callee{to.mesh, single ? to.actor_ranks().front() : 0};
  if (single) ++in_flight_[callee];
  auto id = std::make_shared<uint64_t>(0);
  *id = ports_.open(to.actor_ranks(), reducer, PortTable::Clock::now() + timeout,
                    [this, callee, single, id, done = std::move(done)](CallResult&& result) {
                      if (single) {
                        auto it = in_flight_.find(callee);
                        if (it != in_flight_.end() && --it->second == 0) in_flight_.erase(it);
                      }
                      if (auto info = calls_.find(*id); info != calls_.end()) {
                        call_finished(info->second, result);
                        calls_.erase(info);
                      }
                      done(std::move(result));
                    });
  PortRef port;
  port.owner = {self_.host, self_.proc, from.mesh, from.rank};
  port.id = *id;
  port.reducer = reducer;
  return port;
}

void ActorHost::fail_calls_where(const std::function<bool(const MeshRef&, uint32_t rank)>& lost,
                                 const std::string& cause) {
  for (const auto& [id, info] : calls_) {
    std::vector<uint32_t> ranks;
    for (uint32_t rank : info.target.actor_ranks())
      if (lost(info.target, rank)) ranks.push_back(rank);
    if (!ranks.empty()) ports_.fail_ranks(id, ranks, cause);
  }
}

Status ActorHost::port_reply(const Caller& from, const PortRef& port, std::string_view data,
                             bool failure) {
  if (closed_) return make_error(Errc::closed, "the job is ending");
  if (port.slot == kAnySlot)
    return make_error(Errc::invalid_argument, "a port with no rank to answer for");
  PortReply r;
  r.from = {self_.host, self_.proc, from.mesh, from.rank};
  r.port = port;
  r.kind = failure ? ReplyKind::failure : ReplyKind::value;
  r.value = std::string(data);
  if (port.owner.host == self_.host && port.owner.proc == self_.proc) {
    ports_.deliver(port.id, r);  // our own port: no need to leave the process
    return {};
  }
  emit(nullptr, port.owner, encode(r));
  return {};
}

Result<MeshRef> ActorHost::choose(const Caller&, const MeshRef& among) {
  if (among.is_procs() || !among.valid() || among.size() == 0)
    return make_error(Errc::invalid_argument, "not a reference to actors: " + among.to_string());
  const uint32_t n = among.size();
  const auto ranks = among.actor_ranks();
  // The fewest calls in flight; among equals, take turns.
  uint32_t best = 0;
  uint32_t best_load = UINT32_MAX;
  const uint32_t start = choose_turn_++ % n;
  for (uint32_t k = 0; k < n; ++k) {
    const uint32_t i = (start + k) % n;
    auto it = in_flight_.find({among.mesh, ranks[i]});
    const uint32_t load = it == in_flight_.end() ? 0 : it->second;
    if (load < best_load) {
      best = i;
      best_load = load;
      if (load == 0) break;
    }
  }
  return among.at(best);
}

}  // namespace meshrun
