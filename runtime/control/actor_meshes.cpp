#include "control/actor_meshes.hpp"

#include "util/duration_text.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {
constexpr uint8_t kWaiting = 0;
uint8_t state_code(ActorState s) {
  return static_cast<uint8_t>(1 + static_cast<uint8_t>(s));
}
}  // namespace

ActorMeshes::ActorMeshes(asio::io_context& io, HostSet& hosts, ProcMeshes& procs, JobState& job)
    : hosts_(hosts), procs_(procs), job_(job), changed_(io.get_executor()) {
  job_.watch(changed_);
}

ActorMeshes::Record* ActorMeshes::record(uint32_t id) {
  auto it = meshes_.find(id);
  return it == meshes_.end() ? nullptr : &it->second;
}

const ActorMesh* ActorMeshes::find(std::string_view name) const {
  for (const auto& [id, r] : meshes_)
    if (r.mesh.name == name) return &r.mesh;
  return nullptr;
}

const ActorMesh* ActorMeshes::find(uint32_t id) const {
  auto it = meshes_.find(id);
  return it == meshes_.end() ? nullptr : &it->second.mesh;
}

std::vector<std::string> ActorMeshes::on_procs(const std::string& procs) const {
  std::vector<std::string> out;
  for (const auto& [id, r] : meshes_)
    if (r.mesh.procs == procs) out.push_back(r.mesh.name);
  return out;
}

asio::awaitable<Result<ActorMesh>> ActorMeshes::spawn(std::string name, const MeshRef& on,
                                                      std::string plugin, std::string type,
                                                      std::string params_toml, Millis timeout) {
  if (name.empty()) co_return make_error(Errc::invalid_argument, "an actor mesh needs a name");
  if (find(name) || procs_.find(name))
    co_return make_error(Errc::invalid_argument, "a mesh named '" + name + "' exists already");
  if (!on.is_procs() || !on.valid())
    co_return make_error(Errc::invalid_argument, "actors are spawned on procs: " + on.to_string() +
                                                     " is not a proc mesh or a slice of one");
  const ProcMesh* procs = procs_.find(on.name);
  if (!procs || procs->commands)
    co_return make_error(Errc::not_found, "no proc mesh '" + on.name + "' of actor procs");
  const uint32_t id = next_id_++;
  Record r;
  r.mesh.name = name;
  r.mesh.procs = on.name;
  r.mesh.type = type;
  r.mesh.ref = on;
  r.mesh.ref.mesh = id;
  r.mesh.ref.name = name;
  r.mesh.ref.region = on.view;
  r.mesh.ref.view = on.view;
  const uint32_t total = r.mesh.ref.mesh_size();
  r.mesh.actor_ids.resize(total);
  r.state.assign(total, kWaiting);
  r.errors.resize(total);
  SpawnActors msg;
  msg.mesh = r.mesh.ref;
  msg.proc_mesh = on.name;
  msg.plugin = std::move(plugin);
  msg.type = type;
  msg.params_toml = std::move(params_toml);
  const MeshRef ref = r.mesh.ref;
  meshes_.emplace(id, std::move(r));
  const std::string frame = encode(msg);
  for (uint32_t h : ref.hosts())
    hosts_.send(h, frame);

  const bool ok = co_await changed_.wait_until(
      [&] {
        Record* rec = record(id);
        if (!rec) return true;
        if (on_progress)
          on_progress("actors spawned " + std::to_string(rec->answered) + "/" +
                      std::to_string(total));
        return job_.failed() || rec->answered == total;
      },
      Clock::now() + timeout);
  Record* rec = record(id);
  if (job_.failed()) co_return make_error(Errc::failed, job_.failure()->message);
  if (!rec)
    co_return make_error(Errc::failed, "actor mesh '" + name + "' was stopped while spawning");
  std::string why;
  if (!ok) {
    why = "actors of mesh '" + name + "' did not spawn within " + duration_text(timeout) + " (" +
          std::to_string(rec->answered) + " of " + std::to_string(total) + " answered)";
  } else {
    for (uint32_t rank = 0; rank < total && why.empty(); ++rank)
      if (rec->state[rank] != state_code(ActorState::spawned))
        why = "cannot spawn actor '" + type + "' on " +
              procs_.describe(static_cast<uint32_t>(ref.proc_base + ref.proc_rank(rank))) + ": " +
              rec->errors[rank];
  }
  if (!why.empty()) {
    // The actors that did start go again; the name stays taken by nobody.
    for (uint32_t h : ref.hosts())
      hosts_.send(h, StopActors{id});
    meshes_.erase(id);
    co_return make_error(ok ? Errc::plugin : Errc::timeout, why);
  }
  co_return rec->mesh;
}

asio::awaitable<Status> ActorMeshes::stop(const std::string& name, Millis timeout) {
  const ActorMesh* mesh = find(name);
  if (!mesh) co_return make_error(Errc::not_found, "no actor mesh '" + name + "'");
  const uint32_t id = mesh->ref.mesh;
  Record* rec = record(id);
  rec->stopping = true;
  const MeshRef ref = rec->mesh.ref;
  const std::string frame = encode(StopActors{id});
  for (uint32_t h : ref.hosts())
    hosts_.send(h, frame);
  const bool ok = co_await changed_.wait_until(
      [&] {
        Record* r = record(id);
        if (!r || job_.failed()) return true;
        for (uint32_t rank = 0; rank < r->state.size(); ++rank) {
          const uint64_t proc_rank = ref.proc_rank(rank);
          const uint32_t host = ref.host_of(proc_rank);
          if (host < hosts_.size() && hosts_.hosts()[host].lost) continue;
          if (r->state[rank] != state_code(ActorState::stopped)) return false;
        }
        return true;
      },
      Clock::now() + timeout);
  meshes_.erase(id);
  if (!ok)
    co_return make_error(Errc::timeout,
                         "actor mesh " + name + " did not stop within " + duration_text(timeout));
  co_return Status{};
}

void ActorMeshes::on_status(uint32_t host, ActorStatus&& st) {
  uint32_t proc_rank = 0;
  if (!procs_.owns(host, st.proc)) {
    log::warn("host " + std::to_string(host) + " reported an actor of proc " +
              std::to_string(st.proc) + ", which is not one of its procs; ignored");
    return;
  }
  Record* rec = record(st.mesh);
  if (!rec) return;  // a mesh that was given up (a failed spawn, or stopped)
  const MeshRef& ref = rec->mesh.ref;
  const ProcMesh* pm = procs_.mesh_of(st.proc, &proc_rank);
  if (!pm || pm->name != rec->mesh.procs || !ref.in_region(proc_rank)) {
    log::warn("host " + std::to_string(host) + " reported an actor of mesh " + rec->mesh.name +
              " in proc " + std::to_string(st.proc) + ", which the mesh does not cover; ignored");
    return;
  }
  // The rank follows from the proc, whatever the proc says.
  const uint32_t rank = ref.actor_rank(proc_rank);
  if (st.state == ActorState::failed) {
    SupervisionEvent ev;
    ev.kind = SupervisionEvent::Kind::actor_failed;
    ev.mesh = rec->mesh.name;
    ev.rank = rank;
    ev.host = host;
    if (host < hosts_.size()) ev.hostname = hosts_.hosts()[host].hostname;
    ev.cause = st.error;
    if (on_actor_failed)
      on_actor_failed(ev);
    else
      job_.fail({ev.describe(), 1});
    return;
  }
  if (rec->state[rank] == kWaiting || st.state == ActorState::stopped) {
    if (rec->state[rank] == kWaiting) ++rec->answered;
    rec->state[rank] = state_code(st.state);
    rec->errors[rank] = st.error;
    if (st.state == ActorState::spawned) rec->mesh.actor_ids[rank] = st.actor_id;
  }
  changed_.notify();
}

}  // namespace meshrun
