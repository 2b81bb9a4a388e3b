#include "launcher/job_plan.hpp"

#include <algorithm>
#include <cstdio>

#include "alloc/slurm_allocator.hpp"
#include "launcher/locate.hpp"
#include "plugin/plugin_library.hpp"
#include "process/cpu_binding.hpp"

namespace meshrun {
namespace {

// An argument as a shell would need it typed, for the --dry-run map.
std::string shell_quote(const std::string& arg) {
  if (!arg.empty() && arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                            "0123456789_-+=/.,:%@") == std::string::npos)
    return arg;
  std::string out = "'";
  for (char c : arg)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

Error spec_error(const std::string& where, const std::string& what) {
  return make_error(Errc::invalid_argument, where + ": " + what);
}

const MeshRef* mesh_named(const JobSpec& spec, const std::vector<MeshRef>& meshes,
                          const std::string& name) {
  if (name.empty()) return meshes.empty() ? nullptr : &meshes.front();
  for (size_t i = 0; i < spec.actors.size(); ++i)
    if (spec.actors[i].name == name) return &meshes[i];
  return nullptr;
}

// Loads the plugins a local job needs and checks what the spec asks of
// them; a remote job's plugins may exist only on its hosts, so a plugin
// that does not load here is noted as unchecked there.
Status check_plugins(const JobSpec& spec, Plan& plan) {
  const bool remote = plan.placement.remote();
  auto load = [&](const std::string& path, const std::string& where,
                  const std::string& what) -> Result<std::shared_ptr<PluginLibrary>> {
    auto lib = PluginLibrary::load(path);
    if (!lib && remote) {
      plan.unchecked.push_back(what + " (" + lib.error().message + ")");
      return lib.error();
    }
    if (!lib) return spec_error(where, what + ": " + lib.error().message);
    return lib;
  };
  for (size_t i = 0; i < spec.actors.size(); ++i) {
    const auto& a = spec.actors[i];
    auto lib = load(plan.actor_plugins[i], a.where, "actor mesh " + a.name);
    if (!lib) {
      if (remote) continue;
      return lib.error();
    }
    if (!(*lib)->has_type(a.type)) {
      std::string known;
      for (const auto& t : (*lib)->type_names())
        known += (known.empty() ? "" : ", ") + t;
      return spec_error(a.where, "actor mesh " + a.name + ": plugin " + (*lib)->plugin_name() +
                                     " has no type '" + a.type + "'; it has: " + known);
    }
    const auto messages = (*lib)->messages_of(a.type);
    for (const auto& c : spec.casts) {
      if (!(c.mesh == a.name || (c.mesh.empty() && i == 0))) continue;
      if (!messages.empty() &&
          std::find(messages.begin(), messages.end(), c.message) == messages.end()) {
        std::string known;
        for (const auto& m : messages)
          known += (known.empty() ? "" : ", ") + m;
        return spec_error(c.where, "cast: type '" + a.type + "' has no message '" + c.message +
                                       "'; it handles: " + known);
      }
    }
  }
  if (spec.controller) {
    const auto& c = *spec.controller;
    auto lib = load(plan.controller_plugin, c.where, "the controller");
    if (lib) {
      if (!(*lib)->has_type(c.type))
        return spec_error(c.where, "controller: plugin " + (*lib)->plugin_name() +
                                       " has no type '" + c.type + "'");
      if (!(*lib)->is_controller_type(c.type))
        return spec_error(c.where, "controller: type '" + c.type + "' of plugin " +
                                       (*lib)->plugin_name() +
                                       " is an actor, not a controller (it has no run entry)");
    } else if (!remote) {
      return lib.error();
    }
  }
  return {};
}

}  // namespace

ProcMesh planned_procs(const JobSpec& spec, const Plan& plan) {
  ProcMesh m;
  m.name = spec.procs.name;
  m.commands = spec.command_mode();
  auto hosts = Extent::make({{"hosts", plan.hosts}});
  auto extent = hosts ? hosts->concat(plan.per_host) : Result<Extent>(hosts.error());
  if (extent) m.extent = *extent;
  m.first.push_back(0);
  for (uint32_t n : plan.placement.ranks)
    m.first.push_back(m.first.back() + n);
  return m;
}

Result<MeshRef> actor_region(const ActorsSpec& actors, const ProcMesh& procs) {
  MeshRef ref = procs.ref();
  for (const auto& s : actors.procs) {
    auto narrowed = ref.slice(s.dim, s.begin, s.end);
    if (!narrowed)
      return make_error(Errc::invalid_argument, "procs." + s.dim + ": " + narrowed.error().message);
    ref = *narrowed;
  }
  return ref;
}

Result<MeshRef> cast_target(const CastSpec& cast, const MeshRef& mesh) {
  MeshRef ref = mesh;
  for (const auto& s : cast.slice) {
    auto narrowed = ref.slice(s.dim, s.begin, s.end);
    if (!narrowed)
      return make_error(Errc::invalid_argument, "slice." + s.dim + ": " + narrowed.error().message);
    ref = *narrowed;
  }
  return ref;
}

Result<Plan> make_plan(const JobSpec& spec, bool checking) {
  Plan plan;
  std::vector<Dim> dims;
  for (const auto& d : spec.procs.extent)
    dims.push_back({d.name, d.size});
  auto extent = Extent::make(dims);
  if (!extent) return extent.error();
  if (extent->find("hosts") >= 0)
    return make_error(Errc::invalid_argument,
                      "the per-host extent cannot have a 'hosts' dimension");
  plan.per_host = *extent;
  auto placement = place(spec);
  if (!placement && checking && spec.hosts.launcher == LauncherKind::slurm &&
      !in_slurm_allocation()) {
    // Checked as if inside an allocation of the hosts the spec asks for.
    Placement p;
    p.launcher = LauncherKind::slurm;
    const uint32_t hosts = std::max(1u, spec.hosts.count);
    for (uint32_t i = 0; i < hosts; ++i) {
      p.hosts.push_back({"", "node" + std::to_string(i), 0});
      p.ranks.push_back(static_cast<uint32_t>(extent->num_ranks()));
    }
    plan.unchecked.push_back(
        "the SLURM placement (hosts and ranks are laid out inside the "
        "allocation)");
    placement = p;
  }
  if (!placement) return placement.error();
  plan.placement = *placement;
  const uint32_t most = *std::max_element(placement->ranks.begin(), placement->ranks.end());
  if (most != extent->num_ranks()) {
    // Placement chose the ranks per host (-n, SLURM's tasks per node), which
    // it only does for a job without a per-host extent of its own.
    auto resized = Extent::make({{dims.front().name, most}});
    if (!resized) return resized.error();
    plan.per_host = *resized;
  }
  plan.hosts = static_cast<uint32_t>(placement->hosts.size());
  auto agent = locate_agent(spec.hosts.agent_path);
  if (!agent) return agent.error();
  plan.agent_path = *agent;
  for (const auto& a : spec.actors) {
    auto plugin = locate_plugin(a.plugin);
    if (!plugin) return make_error(plugin.error().code, a.where + ": " + plugin.error().message);
    plan.actor_plugins.push_back(*plugin);
  }
  if (spec.controller) {
    auto plugin = locate_plugin(spec.controller->plugin);
    if (!plugin)
      return make_error(plugin.error().code,
                        spec.controller->where + ": " + plugin.error().message);
    plan.controller_plugin = *plugin;
  }
  // Slices against the extent the job will really have (the command line
  // may have changed the hosts), before anything starts.
  if (spec.actor_mode()) {
    const ProcMesh procs = planned_procs(spec, plan);
    std::vector<MeshRef> meshes;
    for (const auto& a : spec.actors) {
      auto region = actor_region(a, procs);
      if (!region)
        return spec_error(a.where, "actor mesh " + a.name + ": " + region.error().message +
                                       " (the job has " + procs.extent.to_string() + ")");
      meshes.push_back(*region);
    }
    for (const auto& c : spec.casts) {
      const MeshRef* mesh = mesh_named(spec, meshes, c.mesh);
      if (!mesh) return spec_error(c.where, "cast: no actor mesh '" + c.mesh + "'");
      auto target = cast_target(c, *mesh);
      if (!target)
        return spec_error(c.where, "cast: " + target.error().message + " (mesh " + mesh->name +
                                       " is " + mesh->to_string() + ")");
    }
    if (auto ok = check_plugins(spec, plan); !ok) return ok.error();
  }
  return plan;
}

void print_dry_run(const JobSpec& spec, const Plan& plan) {
  const auto& placement = plan.placement;
  std::printf("launcher: %s (%s)\n", launcher_name(placement.launcher).c_str(),
              placement.why.c_str());
  const auto& binding = spec.procs.binding;
  // The CPUs themselves are known for hosts on this machine only.
  const bool show_cpus = binding.bound() && !placement.remote();
  if (binding.bound()) {
    const CpuObject map = binding.map == CpuObject::none ? binding.bind : binding.map;
    std::printf("binding: --bind-to %s --map-by %s%s\n", cpu_object_name(binding.bind).c_str(),
                cpu_object_name(map).c_str(),
                show_cpus ? ""
                          : " (each host binds its ranks in local-rank order on its own "
                            "CPUs)");
  }
  const CpuTopology topology = show_cpus ? CpuTopology::current() : CpuTopology{};
  std::string command;
  for (const auto& a : spec.procs.command)
    command += (command.empty() ? "" : " ") + shell_quote(a);
  const ProcMesh procs = planned_procs(spec, plan);
  std::vector<MeshRef> meshes;
  for (const auto& a : spec.actors)
    if (auto r = actor_region(a, procs)) meshes.push_back(*r);
  std::printf("%-6s %-8s %-6s ", "rank", "host", "local");
  if (show_cpus) std::printf("%-20s ", "binding");
  std::printf("%s\n", spec.command_mode() ? "command" : "proc");
  uint32_t rank = 0;
  for (uint32_t h = 0; h < plan.hosts; ++h)
    for (uint32_t l = 0; l < placement.ranks[h]; ++l, ++rank) {
      std::string what = command;
      if (!spec.command_mode()) {
        what = spec.procs.name + "_" + std::to_string(rank);
        std::string actors;
        for (size_t i = 0; i < meshes.size(); ++i)
          if (meshes[i].in_region(rank))
            actors +=
                (actors.empty() ? "" : ", ") + spec.actors[i].name + ": " + spec.actors[i].type;
        if (!actors.empty()) what += " (actor " + actors + ")";
      }
      std::printf("%-6u %-8s %-6u ", rank, placement.hosts[h].name.c_str(), l);
      if (show_cpus) std::printf("%-20s ", describe(cpus_for(topology, binding, l)).c_str());
      std::printf("%s\n", what.c_str());
    }
  if (spec.controller)
    std::printf("controller: %s (%s), in meshrun\n", spec.controller->type.c_str(),
                plan.controller_plugin.c_str());
}

}  // namespace meshrun
