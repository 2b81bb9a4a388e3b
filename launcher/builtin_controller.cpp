#include "launcher/builtin_controller.hpp"

#include <algorithm>

#include "mesh/reducer.hpp"
#include "util/duration_text.hpp"
#include "util/exit_status.hpp"
#include "util/log.hpp"
#include "util/text_escape.hpp"

namespace meshrun {
namespace {

Millis left(BuiltinController::Clock::time_point deadline) {
  const auto d = deadline - BuiltinController::Clock::now();
  return std::max(Millis(1), std::chrono::duration_cast<Millis>(d));
}

std::string ranks_text(const std::vector<uint32_t>& ranks) {
  std::string out;
  for (size_t i = 0; i < ranks.size() && i < 8; ++i)
    out += (i ? ", " : "") + std::to_string(ranks[i]);
  return out + (ranks.size() > 8 ? ", ..." : "");
}

}  // namespace

asio::awaitable<Status> BuiltinController::spawn_meshes(const ProcMesh& procs,
                                                        Clock::time_point deadline) {
  for (size_t i = 0; i < spec_.actors.size(); ++i) {
    const auto& a = spec_.actors[i];
    auto on = actor_region(a, procs);
    if (!on) co_return make_error(Errc::invalid_argument, a.where + ": " + on.error().message);
    auto mesh =
        co_await plane_.spawn_actors(a.name, *on, plan_.actor_plugins[i], a.type, a.params_toml,
                                     std::min(a.spawn_timeout, left(deadline)));
    if (!mesh) co_return mesh.error();
    meshes_.push_back(std::move(*mesh));
  }
  co_return Status{};
}

std::string BuiltinController::verdict(const CastSpec& cast, const ActorMesh& mesh,
                                       const CallResult& r) const {
  if (!r.failures.empty()) {
    const auto& f = r.failures.front();
    const MeshRef& ref = mesh.ref;
    return "rank " + std::to_string(f.rank) + " (host " +
           std::to_string(ref.host_of(ref.proc_rank(f.rank))) + ") failed: " + f.cause +
           (r.failures.size() > 1 ? " (and " + std::to_string(r.failures.size() - 1) + " more)"
                                  : "");
  }
  if (!r.missing.empty())
    return "no reply within " + duration_text(cast.timeout) + " from " +
           std::to_string(r.missing.size()) + " rank(s): " + ranks_text(r.missing);
  if (!r.error.empty()) return r.error;
  if (cast.expect) {
    if (r.value && *r.value != *cast.expect)
      return "the " + cast.reduce + " of the replies is '" + printable(*r.value) + "', expected '" +
             printable(*cast.expect) + "'";
    for (const auto& [rank, value] : r.replies)
      if (value != *cast.expect)
        return "rank " + std::to_string(rank) + " replied '" + printable(value) + "', expected '" +
               printable(*cast.expect) + "'";
  }
  if (cast.message == "GetActorId" && cast.reduce.empty())
    for (const auto& [rank, value] : r.replies)
      if (rank >= mesh.actor_ids.size() || value != mesh.actor_ids[rank])
        return "rank " + std::to_string(rank) + " answered GetActorId with '" + printable(value) +
               "', which is not an actor of mesh " + mesh.name;
  return {};
}

asio::awaitable<int> BuiltinController::run_casts(Clock::time_point deadline) {
  for (const auto& cast : spec_.casts) {
    size_t index = 0;
    if (!cast.mesh.empty())
      while (index < spec_.actors.size() && spec_.actors[index].name != cast.mesh)
        ++index;
    if (index >= meshes_.size()) {
      log::error(cast.where + ": cast: no actor mesh '" + cast.mesh + "'");
      co_return exit_status::kUsage;
    }
    const ActorMesh& mesh = meshes_[index];
    auto target = cast_target(cast, mesh.ref);
    if (!target) {
      log::error(cast.where + ": cast: " + target.error().message);
      co_return exit_status::kUsage;
    }
    CallSettings options;
    options.reducer = reducer_from_name(cast.reduce).value_or(ReducerKind::none);
    for (uint32_t i = 0; i < std::max(1u, cast.repeat); ++i) {
      const bool job_deadline = deadline - Clock::now() < cast.timeout;
      options.timeout = std::min(cast.timeout, left(deadline));
      CallResult r = co_await plane_.call(*target, cast.message, cast.payload, options);
      const bool last = i + 1 == std::max(1u, cast.repeat);
      std::string wrong = verdict(cast, mesh, r);
      // Shown even when the job failed meanwhile: what did answer is kept.
      if (last || !wrong.empty() || plane_.failure())
        report_.cast(plane_.controller().last_record());
      if (plane_.failure()) co_return plane_.failure()->status;
      if (job_deadline && r.timed_out()) {
        log::error("timed out after " + duration_text(spec_.timeout) + " waiting for " +
                   cast.message + " to " + target->to_string() + " (no reply from rank(s) " +
                   ranks_text(r.missing) + ")");
        co_return exit_status::kTimeout;
      }
      if (!wrong.empty()) {
        log::error("cast " + cast.message + " to " + target->to_string() + ": " + wrong);
        co_return exit_status::kFailed;
      }
    }
  }
  co_return exit_status::kOk;
}

}  // namespace meshrun
