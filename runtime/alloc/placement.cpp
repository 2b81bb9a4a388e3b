#include "alloc/placement.hpp"

#include "alloc/local_allocator.hpp"
#include "alloc/slurm_allocator.hpp"
#include "alloc/ssh_allocator.hpp"

namespace meshrun {

std::string launcher_name(LauncherKind kind) {
  switch (kind) {
    case LauncherKind::automatic:
      return "auto";
    case LauncherKind::local:
      return "local";
    case LauncherKind::ssh:
      return "ssh";
    case LauncherKind::slurm:
      return "slurm";
  }
  return "?";
}

namespace {

bool default_extent(const JobSpec& spec) {
  const auto& e = spec.procs.extent;
  return e.size() == 1 && e[0].name == "procs" && e[0].size == 1;
}

// Hosts are the allocation's nodes (or the named subset of them); ranks per
// host follow SLURM_TASKS_PER_NODE unless the job says how many.
Result<Placement> place_slurm(const JobSpec& spec, Placement p) {
  auto alloc = read_slurm_allocation();
  if (!alloc) return alloc.error();
  const std::string where =
      "SLURM job " + alloc->job_id + " (nodes " + alloc->nodelist +
      (alloc->tasks_per_node_text.empty() ? "" : ", tasks per node " + alloc->tasks_per_node_text) +
      ")";
  std::vector<size_t> chosen;  // indices into the allocation
  if (!spec.hosts.list.empty()) {
    for (const auto& h : spec.hosts.list) {
      size_t i = 0;
      while (i < alloc->nodes.size() && alloc->nodes[i] != h.name)
        ++i;
      if (i == alloc->nodes.size())
        return make_error(Errc::invalid_argument,
                          "host " + h.name + " is not in " + where +
                              "; the slurm launcher only starts agents inside the allocation "
                              "(use --launcher ssh to reach other hosts)");
      chosen.push_back(i);
    }
  }
  const size_t available = chosen.empty() ? alloc->nodes.size() : chosen.size();
  const size_t want = spec.hosts.count ? spec.hosts.count : available;
  if (want > available)
    return make_error(Errc::invalid_argument,
                      std::to_string(want) + " hosts asked for, but " + where + " has " +
                          std::to_string(available) +
                          (chosen.empty() ? " nodes" : " of the hosts given") +
                          "; ask for at most " + std::to_string(available) + " (-N)");
  if (chosen.empty())
    for (size_t i = 0; i < want; ++i)
      chosen.push_back(i);
  chosen.resize(want);

  uint32_t fewest = UINT32_MAX;
  size_t fewest_at = 0;
  for (size_t i : chosen)
    if (alloc->tasks[i] < fewest) {
      fewest = alloc->tasks[i];
      fewest_at = i;
    }
  bool uneven = false;
  for (size_t i : chosen)
    uneven = uneven || alloc->tasks[i] != fewest;

  // Neither a host count nor a per-host extent: the allocation decides, as
  // srun would (-n defaults to SLURM_NTASKS).
  const bool follow = spec.hosts.count == 0 && default_extent(spec);
  if (follow) {
    if (fewest == 0)
      return make_error(Errc::invalid_argument,
                        where + " has no tasks on node " + alloc->nodes[fewest_at]);
    p.per_host = fewest;
  } else if (p.per_host > fewest) {
    return make_error(
        Errc::invalid_argument,
        std::to_string(p.per_host) + " ranks per host asked for (" +
            std::to_string(uint64_t{p.per_host} * want) + " in all on " + std::to_string(want) +
            " host" + (want == 1 ? "" : "s") + "), but node " + alloc->nodes[fewest_at] + " of " +
            where + " has " + std::to_string(fewest) + " task" + (fewest == 1 ? "" : "s") +
            "; ask for at most " + std::to_string(fewest) +
            " per host, or leave -n/-N out to use " +
            "the whole allocation (SLURM_NTASKS=" + std::to_string(alloc->ntasks) + ")");
  }
  for (size_t i : chosen)
    p.hosts.push_back({"", alloc->nodes[i], alloc->tasks[i]});
  p.why += "; " + where + ": " + std::to_string(want) + " host" + (want == 1 ? "" : "s") + " x " +
           std::to_string(p.per_host) + " rank" + (p.per_host == 1 ? "" : "s");
  if (follow)
    p.why += uneven ? " (the fewest tasks on any node: every host runs the same number of ranks)"
                    : " from SLURM_TASKS_PER_NODE";
  return p;
}

}  // namespace

Result<Placement> place(const JobSpec& spec, uint32_t per_host) {
  Placement p;
  p.per_host = per_host;
  p.launcher = spec.hosts.launcher;
  if (p.launcher == LauncherKind::automatic) {
    if (in_slurm_allocation()) {
      p.launcher = LauncherKind::slurm;
      p.why = "--launcher auto: SLURM_JOB_ID and SLURM_JOB_NODELIST are set, so slurm";
    } else if (!spec.hosts.list.empty()) {
      p.launcher = LauncherKind::ssh;
      p.why = "--launcher auto: hosts were given, so ssh";
    } else {
      p.launcher = LauncherKind::local;
      p.why = "--launcher auto: no hosts given and no SLURM allocation, so local";
    }
  } else {
    p.why = "--launcher " + launcher_name(p.launcher) + " was asked for";
  }
  switch (p.launcher) {
    case LauncherKind::local: {
      const uint32_t n = spec.hosts.count ? spec.hosts.count : 1;
      for (uint32_t i = 0; i < n; ++i)
        p.hosts.push_back({"", "local" + std::to_string(i), 0});
      return p;
    }
    case LauncherKind::ssh: {
      if (spec.hosts.list.empty())
        return make_error(Errc::invalid_argument,
                          "the ssh launcher needs hosts: give -H, --hostfile or hosts.list");
      p.hosts = spec.hosts.list;
      if (spec.hosts.count > p.hosts.size())
        return make_error(Errc::invalid_argument,
                          std::to_string(spec.hosts.count) + " hosts were asked for but only " +
                              std::to_string(p.hosts.size()) + " are listed");
      if (spec.hosts.count > 0) p.hosts.resize(spec.hosts.count);
      for (const auto& h : p.hosts) {
        if (h.name.empty() || h.name.front() == '-')
          return make_error(Errc::invalid_argument, "'" + h.name + "' is not a host name");
        // Every host runs the same per-host extent, so slots can only be a cap.
        if (h.slots != 0 && h.slots < per_host)
          return make_error(Errc::invalid_argument,
                            "host " + h.name + " has " + std::to_string(h.slots) +
                                " slots but the job puts " + std::to_string(per_host) +
                                " ranks on every host");
      }
      return p;
    }
    case LauncherKind::slurm:
      return place_slurm(spec, std::move(p));
    case LauncherKind::automatic:
      break;
  }
  return make_error(Errc::invalid_argument,
                    "the " + launcher_name(p.launcher) + " launcher is not available yet");
}

std::unique_ptr<Allocator> make_allocator(asio::io_context& io, const Placement& placement,
                                          const JobSpec& spec) {
  switch (placement.launcher) {
    case LauncherKind::local:
      return std::make_unique<LocalAllocator>(io, placement.hosts.size());
    case LauncherKind::ssh:
      return std::make_unique<SshAllocator>(
          io, placement.hosts,
          SshAllocatorOptions{spec.hosts.ssh, spec.hosts.max_parallel, spec.hosts.start_timeout, 10,
                              spec.hosts.tree_threshold, 0});
    case LauncherKind::slurm: {
      std::vector<std::string> nodes;
      for (const auto& h : placement.hosts)
        nodes.push_back(h.name);
      return std::make_unique<SlurmAllocator>(io, std::move(nodes));
    }
    default:
      return nullptr;
  }
}

}  // namespace meshrun
