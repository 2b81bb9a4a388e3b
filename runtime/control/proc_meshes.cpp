#include "control/proc_meshes.hpp"

#include <signal.h>

#include "process/child.hpp"
#include "process/spawn.hpp"
#include "util/duration_text.hpp"
#include "util/exit_status.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {
// After SIGKILL, how long a host may take to report its ranks reaped.
constexpr Millis kKillReportTimeout{10000};

ExitStatus exit_of(const ProcStatus& s) {
  ExitStatus es;
  es.exited = s.exited_normally;
  es.code = s.exited_normally ? s.code : 0;
  es.signal = s.exited_normally ? 0 : s.code;
  es.core_dumped = s.core_dumped;
  return es;
}
}  // namespace

ProcMeshes::ProcMeshes(asio::io_context& io, HostSet& hosts, JobState& job)
    : io_(io), hosts_(hosts), job_(job), changed_(io.get_executor()) {
  job_.watch(changed_);
}

ProcMeshes::Mesh* ProcMeshes::mesh_for(uint32_t proc, uint32_t* rank) {
  for (auto& m : meshes_)
    if (m.mesh.contains_proc(proc)) {
      if (rank) *rank = proc - m.mesh.base;
      return &m;
    }
  return nullptr;
}

const ProcMeshes::Mesh* ProcMeshes::mesh_for(uint32_t proc, uint32_t* rank) const {
  return const_cast<ProcMeshes*>(this)->mesh_for(proc, rank);
}

const ProcMesh* ProcMeshes::find(std::string_view name) const {
  for (const auto& m : meshes_)
    if (m.mesh.name == name) return &m.mesh;
  return nullptr;
}

const ProcMesh* ProcMeshes::mesh_of(uint32_t proc, uint32_t* rank) const {
  const Mesh* m = mesh_for(proc, rank);
  return m ? &m->mesh : nullptr;
}

bool ProcMeshes::owns(uint32_t host, uint32_t proc) const {
  uint32_t rank = 0;
  const Mesh* m = mesh_for(proc, &rank);
  return m && m->mesh.host_of(rank) == host;
}

std::string ProcMeshes::describe(uint32_t proc) const {
  uint32_t rank = 0;
  const Mesh* m = mesh_for(proc, &rank);
  if (!m) return "proc " + std::to_string(proc);
  const uint32_t h = m->mesh.host_of(rank);
  std::string s = (m == &meshes_.front() ? "" : m->mesh.name + " ") + "rank " +
                  std::to_string(rank) + " (host " + std::to_string(h);
  if (h < hosts_.hosts().size() && !hosts_.hosts()[h].hostname.empty())
    s += ", " + hosts_.hosts()[h].hostname;
  return s + ")";
}

std::vector<uint32_t> ProcMeshes::pids() const {
  std::vector<uint32_t> out;
  for (const auto& m : meshes_)
    for (const auto& p : m.procs)
      if (p.known && p.status.pid != 0) out.push_back(p.status.pid);
  return out;
}

asio::awaitable<Result<ProcMesh>> ProcMeshes::spawn(std::string name, Extent extent,
                                                    std::vector<uint32_t> counts,
                                                    CreateProcs request, Millis timeout) {
  if (find(name)) co_return make_error(Errc::invalid_argument, "a proc mesh '" + name + "' exists");
  if (counts.size() != hosts_.size())
    co_return make_error(Errc::invalid_argument, "a proc mesh needs a count for each of the " +
                                                     std::to_string(hosts_.size()) + " hosts");
  Mesh m;
  m.mesh.name = name;
  m.mesh.base = next_proc_;
  m.mesh.extent = std::move(extent);
  m.mesh.commands = !request.command.empty();
  m.mesh.first.push_back(0);
  for (uint32_t c : counts)
    m.mesh.first.push_back(m.mesh.first.back() + c);
  const uint32_t total = m.mesh.size();
  m.procs.assign(total, Proc{});
  next_proc_ += total;
  meshes_.push_back(std::move(m));
  const ProcMesh mesh = meshes_.back().mesh;
  const size_t index = meshes_.size() - 1;

  request.mesh = name;
  request.mesh_size = total;
  request.ranks_per_host = counts;
  for (uint32_t h = 0; h < mesh.hosts(); ++h) {
    request.procs.clear();
    request.local_size = mesh.count_on(h);
    for (uint32_t r = mesh.first[h]; r < mesh.first[h + 1]; ++r)
      request.procs.push_back(
          {mesh.base + r, r, r - mesh.first[h], name + "_" + std::to_string(r)});
    if (!request.procs.empty()) hosts_.send(h, request);
  }
  size_t running = 0;
  const auto deadline = Clock::now() + timeout;
  const bool ok = co_await changed_.wait_until(
      [&] {
        const auto& procs = meshes_[index].procs;
        running = 0;
        for (const auto& p : procs)
          if (p.known && p.status.state != ProcState::starting) ++running;
        if (on_progress)
          on_progress("procs ready " + std::to_string(running) + "/" + std::to_string(total));
        return job_.failed() || running == total;
      },
      deadline);
  if (job_.failed()) co_return make_error(Errc::failed, job_.failure()->message);
  if (!ok) {
    std::string missing;
    size_t shown = 0;
    const auto& procs = meshes_[index].procs;
    for (uint32_t r = 0; r < total; ++r)
      if ((!procs[r].known || procs[r].status.state == ProcState::starting) && shown++ < 8)
        missing += (missing.empty() ? "" : ", ") + describe(mesh.base + r);
    job_.fail({"procs did not start within " + duration_text(timeout) + ": " + missing,
               exit_status::kLaunchFailed});
    co_return make_error(Errc::timeout, job_.failure()->message);
  }
  co_return mesh;
}

asio::awaitable<Status> ProcMeshes::stop(const std::string& name, Millis grace, Millis timeout) {
  size_t index = meshes_.size();
  for (size_t i = 0; i < meshes_.size(); ++i)
    if (meshes_[i].mesh.name == name) index = i;
  if (index == meshes_.size()) co_return make_error(Errc::not_found, "no proc mesh '" + name + "'");
  meshes_[index].stopping = true;
  StopProcs stop;
  stop.grace_ms = static_cast<uint32_t>(grace.count());
  stop.exit_after = false;
  stop.mesh = name;
  const std::string frame = encode(stop);
  for (uint32_t h = 0; h < meshes_[index].mesh.hosts(); ++h)
    if (meshes_[index].mesh.count_on(h) > 0) hosts_.send(h, frame);
  const bool ok = co_await changed_.wait_until(
      [&] {
        const Mesh& m = meshes_[index];
        for (uint32_t r = 0; r < m.mesh.size(); ++r)
          if (!ended(m, r)) return false;
        return true;
      },
      Clock::now() + 2 * grace + timeout);
  if (!ok)
    co_return make_error(Errc::timeout, "proc mesh " + name + " did not stop within " +
                                            duration_text(2 * grace + timeout));
  co_return Status{};
}

bool ProcMeshes::ended(const Mesh& m, uint32_t rank) const {
  const uint32_t h = m.mesh.host_of(rank);
  if (h < hosts_.size() && hosts_.hosts()[h].lost) return true;  // nobody left to report it
  const auto& p = m.procs[rank];
  return p.known && (p.status.state == ProcState::exited || p.status.state == ProcState::failed);
}

void ProcMeshes::host_lost(uint32_t) {
  changed_.notify();
}

void ProcMeshes::on_status(uint32_t host, ProcStatus&& st) {
  uint32_t rank = 0;
  Mesh* m = mesh_for(st.proc, &rank);
  if (!m || m->mesh.host_of(rank) != host) {
    log::warn("host " + std::to_string(host) + " reported proc " + std::to_string(st.proc) +
              ", which is not one of its procs; ignored");
    return;
  }
  auto& p = m->procs[rank];
  p.known = true;
  p.status = std::move(st);
  const auto& s = p.status;
  if (s.state == ProcState::failed) {
    job_.fail({describe(s.proc) + " could not start: " + s.detail,
               s.spawn_failure == static_cast<uint8_t>(SpawnFailure::not_found)
                   ? exit_status::kNotFound
               : s.spawn_failure == static_cast<uint8_t>(SpawnFailure::not_executable)
                   ? exit_status::kNotExecutable
                   : exit_status::kLaunchFailed});
  } else if (s.state == ProcState::exited) {
    const ExitStatus es = exit_of(s);
    const int status = es.shell_status() == 0 ? 1 : es.shell_status();
    const bool ours = s.detail == kStoppedByMeshrun;
    if (m->mesh.commands) {
      if (on_rank_exit) on_rank_exit(s);
      // A rank ended by the job's teardown did not fail.
      if (!es.success() && !ours) {
        failed_.emplace(
            rank, RankFailures{rank, status, describe(s.proc) + " failed: " + es.describe(), 0});
        JobFailure f{describe(s.proc) + " failed: " + es.describe(), status};
        f.rank_exit = true;
        job_.fail(std::move(f));
      }
    } else if (!ours && !m->stopping && !hosts_.shutting_down()) {
      SupervisionEvent ev;
      ev.kind = SupervisionEvent::Kind::proc_exited;
      ev.mesh = m->mesh.name;
      ev.rank = rank;
      ev.host = host;
      if (host < hosts_.size()) ev.hostname = hosts_.hosts()[host].hostname;
      ev.cause = "exited unexpectedly: " + es.describe();
      if (on_proc_exited)
        on_proc_exited(ev);
      else
        job_.fail({describe(s.proc) + " exited unexpectedly: " + es.describe(), status});
    }
  }
  changed_.notify();
}

const ProcMeshes::Mesh* ProcMeshes::commands() const {
  for (const auto& m : meshes_)
    if (m.mesh.commands) return &m;
  return nullptr;
}

asio::awaitable<bool> ProcMeshes::wait_all_exited(Clock::time_point deadline) {
  co_return co_await changed_.wait_until(
      [&] {
        if (job_.failed()) return true;
        const Mesh* m = commands();
        if (!m) return true;
        for (const auto& p : m->procs)
          if (!p.known || p.status.state != ProcState::exited) return false;
        return true;
      },
      deadline);
}

bool ProcMeshes::all_exited() const {
  const Mesh* m = commands();
  if (!m) return true;
  for (uint32_t r = 0; r < m->mesh.size(); ++r)
    if (!ended(*m, r)) return false;
  return true;
}

std::vector<uint32_t> ProcMeshes::running_ranks() const {
  std::vector<uint32_t> out;
  const Mesh* m = commands();
  if (!m) return out;
  for (uint32_t r = 0; r < m->mesh.size(); ++r)
    if (!ended(*m, r)) out.push_back(r);
  return out;
}

uint32_t ProcMeshes::rank_count() const {
  const Mesh* m = commands();
  return m ? m->mesh.size() : 0;
}

std::vector<ProcStatus> ProcMeshes::rank_statuses() const {
  std::vector<ProcStatus> out;
  if (const Mesh* m = commands())
    for (const auto& p : m->procs)
      out.push_back(p.known ? p.status : ProcStatus{});
  return out;
}

asio::awaitable<void> ProcMeshes::settle(Millis window) {
  co_await changed_.wait_until([this] { return all_exited(); }, Clock::now() + window);
}

std::optional<ProcMeshes::RankFailures> ProcMeshes::rank_failures() const {
  if (failed_.empty()) return std::nullopt;
  RankFailures f = failed_.begin()->second;
  f.others = failed_.size() - 1;
  return f;
}

asio::awaitable<void> ProcMeshes::stop_ranks(Millis grace, int first_signal) {
  if (all_exited()) co_return;
  signal_all(first_signal);
  if (co_await changed_.wait_until([this] { return all_exited(); }, Clock::now() + grace))
    co_return;
  log::verbose("ranks still running " + duration_text(grace) + " after " +
               signal_name(first_signal) + "; sending SIGKILL");
  signal_all(SIGKILL);
  co_await changed_.wait_until([this] { return all_exited(); }, Clock::now() + kKillReportTimeout);
}

void ProcMeshes::signal_all(int sig) {
  const std::string frame = encode(SignalProcs{sig});
  for (uint32_t h = 0; h < hosts_.size(); ++h)
    hosts_.send(h, frame);
}

void ProcMeshes::send_input(uint32_t rank, const std::string& data) {
  const Mesh* m = commands();
  if (!m || rank >= m->mesh.size()) return;
  hosts_.send(m->mesh.host_of(rank), Input{m->mesh.base + rank, data});
}

}  // namespace meshrun
