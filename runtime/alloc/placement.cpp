#include "alloc/placement.hpp"

#include <algorithm>
#include <limits>
#include <numeric>

#include "alloc/local_allocator.hpp"
#include "alloc/slurm_allocator.hpp"
#include "alloc/ssh_allocator.hpp"

namespace meshrun {

uint64_t Placement::total() const {
  return std::accumulate(ranks.begin(), ranks.end(), uint64_t{0});
}

bool Placement::uniform() const {
  return std::adjacent_find(ranks.begin(), ranks.end(), std::not_equal_to<>()) == ranks.end();
}

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

std::string plural(uint64_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// n ranks over h hosts in blocks, the first n % h hosts one more (srun's
// block distribution: -N 2 -n 5 is 3 and 2).
std::vector<uint32_t> even(uint32_t n, uint32_t h) {
  std::vector<uint32_t> out(h, n / h);
  for (uint32_t i = 0; i < n % h; ++i)
    ++out[i];
  return out;
}

Error layout_error(const std::string& what) {
  return make_error(Errc::invalid_argument, what);
}

bool default_extent(const JobSpec& spec) {
  const auto& e = spec.procs.extent;
  return e.size() == 1 && e[0].name == "procs" && e[0].size == 1;
}

uint32_t extent_ranks(const JobSpec& spec) {
  uint64_t n = 1;
  for (const auto& d : spec.procs.extent)
    n *= d.size;
  return static_cast<uint32_t>(std::min<uint64_t>(n, std::numeric_limits<uint32_t>::max()));
}

LayoutRequest layout_request(const JobSpec& spec) {
  LayoutRequest r;
  r.ranks = spec.procs.ranks;
  r.per_host = extent_ranks(spec);
  r.max_per_host = spec.procs.max_per_host;
  r.hosts = spec.hosts.count;
  return r;
}

// Every host may run at most kMaxRanksPerHost, and the job at most what a
// rank number (an int in PMI) can count.
Status check_limits(const std::vector<uint32_t>& ranks, const std::vector<HostEntry>& hosts) {
  uint64_t total = 0;
  for (size_t i = 0; i < ranks.size(); ++i) {
    total += ranks[i];
    if (ranks[i] > kMaxRanksPerHost) {
      const uint64_t need = (uint64_t{ranks[i]} + kMaxRanksPerHost - 1) / kMaxRanksPerHost;
      return layout_error(plural(ranks[i], "rank") + " on host " + hosts[i].name +
                          " is more than a host can run (at most " +
                          std::to_string(kMaxRanksPerHost) + "); spread them over more hosts (-N " +
                          std::to_string(need * ranks.size()) + " or more)");
    }
  }
  if (total > static_cast<uint64_t>(std::numeric_limits<int32_t>::max()))
    return layout_error(plural(total, "rank") + " in all is more than a job can number (at most " +
                        std::to_string(std::numeric_limits<int32_t>::max()) + ")");
  return {};
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
        return layout_error("host " + h.name + " is not in " + where +
                            "; the slurm launcher only starts agents inside the allocation "
                            "(use --launcher ssh to reach other hosts)");
      chosen.push_back(i);
    }
  } else {
    for (size_t i = 0; i < alloc->nodes.size(); ++i)
      chosen.push_back(i);
  }
  if (spec.hosts.count > chosen.size())
    return layout_error(std::to_string(spec.hosts.count) + " hosts asked for, but " + where +
                        " has " + std::to_string(chosen.size()) +
                        (spec.hosts.list.empty() ? " nodes" : " of the hosts given") +
                        "; ask for at most " + std::to_string(chosen.size()) + " (-N)");
  if (spec.hosts.count) chosen.resize(spec.hosts.count);

  LayoutRequest r = layout_request(spec);
  r.available = static_cast<uint32_t>(chosen.size());
  for (size_t i : chosen)
    r.slots.push_back(alloc->tasks[i]);
  // Neither -n, a host count nor a per-host extent: the allocation decides,
  // as srun would (-n defaults to SLURM_NTASKS).
  const bool follow = r.ranks == 0 && spec.hosts.count == 0 && default_extent(spec);
  r.follow_slots = follow;
  if (follow) {
    for (size_t k = 0; k < chosen.size(); ++k)
      if (r.slots[k] == 0)
        return layout_error(where + " has no tasks on node " + alloc->nodes[chosen[k]]);
    // An actor mesh is rectangular: every host runs the fewest.
    if (!spec.command_mode())
      r.slots.assign(r.slots.size(), *std::min_element(r.slots.begin(), r.slots.end()));
  }
  auto ranks = lay_out(r);
  if (!ranks) return ranks.error();
  for (size_t k = 0; k < ranks->size(); ++k) {
    const size_t i = chosen[k];
    if ((*ranks)[k] <= alloc->tasks[i] || spec.hosts.oversubscribe) continue;
    const uint64_t total = std::accumulate(ranks->begin(), ranks->end(), uint64_t{0});
    return layout_error(plural((*ranks)[k], "rank") + " on node " + alloc->nodes[i] + " (" +
                        plural(total, "rank") + " on " + plural(ranks->size(), "host") + "), but " +
                        where + " has " + plural(alloc->tasks[i], "task") +
                        " there; ask for fewer ranks, leave -n/-N out to use the whole "
                        "allocation (SLURM_NTASKS=" +
                        std::to_string(alloc->ntasks) +
                        "), or add --oversubscribe to run them anyway");
  }
  for (size_t k = 0; k < ranks->size(); ++k)
    p.hosts.push_back({"", alloc->nodes[chosen[k]], alloc->tasks[chosen[k]]});
  p.ranks = std::move(*ranks);
  p.why += "; " + where + ": " + plural(p.hosts.size(), "host");
  if (p.uniform()) p.why += " x " + plural(p.ranks.front(), "rank");
  if (follow) {
    const bool uneven = std::adjacent_find(alloc->tasks.begin(), alloc->tasks.end(),
                                           std::not_equal_to<>()) != alloc->tasks.end();
    p.why += uneven && !spec.command_mode()
                 ? " (the fewest tasks on any node: an actor mesh runs the same number of "
                   "ranks on every host)"
                 : " from SLURM_TASKS_PER_NODE";
  }
  return p;
}

}  // namespace

Result<std::vector<uint32_t>> lay_out(const LayoutRequest& r) {
  const uint32_t available = r.available;
  if (r.hosts && available && r.hosts > available)
    return layout_error(plural(r.hosts, "host") + " asked for (-N), but only " +
                        std::to_string(available) + " are given");
  const bool have_slots =
      std::any_of(r.slots.begin(), r.slots.end(), [](uint32_t s) { return s > 0; });
  if (r.ranks == 0) {
    if (r.follow_slots && have_slots) {
      std::vector<uint32_t> out;
      for (uint32_t s : r.slots)
        out.push_back(s ? s : 1);
      return out;
    }
    const uint32_t h = r.hosts ? r.hosts : (available ? available : 1);
    return std::vector<uint32_t>(h, r.per_host);
  }
  const uint32_t n = r.ranks;
  if (r.hosts && n < r.hosts)
    return layout_error("-n " + std::to_string(n) + " is fewer ranks than the " +
                        std::to_string(r.hosts) +
                        " hosts asked for (-N); every host runs at least one rank: use -N " +
                        std::to_string(n) + " or fewer");
  if (r.max_per_host) {
    const uint32_t cap = r.max_per_host;
    const uint32_t need = static_cast<uint32_t>((uint64_t{n} + cap - 1) / cap);
    if (r.hosts) {
      auto out = even(n, r.hosts);
      if (out.front() > cap)
        return layout_error("-n " + std::to_string(n) + " over " + plural(r.hosts, "host") +
                            " puts " + std::to_string(out.front()) +
                            " ranks on a host, more than --per-host " + std::to_string(cap) +
                            ": use -N " + std::to_string(need) + " or more, or leave -N out");
      return out;
    }
    if (available && need > available)
      return layout_error("-n " + std::to_string(n) + " with --per-host " + std::to_string(cap) +
                          " needs " + plural(need, "host") + ", but only " +
                          std::to_string(available) +
                          " are given: give more hosts or raise --per-host");
    std::vector<uint32_t> out(need, cap);
    out.back() = n - cap * (need - 1);
    return out;
  }
  if (r.hosts) return even(n, r.hosts);
  if (have_slots) {
    // mpirun's by-slot mapping: fill each host's slots in order (a host
    // without slots has one); ranks beyond every slot are spread evenly.
    std::vector<uint32_t> out;
    uint32_t left = n;
    for (uint32_t s : r.slots) {
      const uint32_t take = std::min(left, s ? s : 1);
      if (take) out.push_back(take);
      left -= take;
    }
    if (left) {
      const auto extra = even(left, static_cast<uint32_t>(out.size()));
      for (size_t i = 0; i < out.size(); ++i)
        out[i] += extra[i];
    }
    return out;
  }
  return even(n, available ? std::min(n, available) : 1);
}

Result<Placement> place(const JobSpec& spec) {
  Placement p;
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
      if (!spec.hosts.list.empty())
        return layout_error(
            "hosts were named, but the local launcher runs every host on this machine: drop "
            "-H/--hostfile (-N sets the number of local hosts) or use --launcher ssh");
      auto ranks = lay_out(layout_request(spec));
      if (!ranks) return ranks.error();
      for (size_t i = 0; i < ranks->size(); ++i)
        p.hosts.push_back({"", "local" + std::to_string(i), 0});
      p.ranks = std::move(*ranks);
      break;
    }
    case LauncherKind::ssh: {
      if (spec.hosts.list.empty())
        return layout_error("the ssh launcher needs hosts: give -H, --hostfile or hosts.list");
      for (const auto& h : spec.hosts.list)
        if (h.name.empty() || h.name.front() == '-')
          return layout_error("'" + h.name + "' is not a host name");
      LayoutRequest r = layout_request(spec);
      r.available = static_cast<uint32_t>(spec.hosts.list.size());
      for (const auto& h : spec.hosts.list)
        r.slots.push_back(h.slots);
      r.follow_slots = spec.hosts.count == 0 && default_extent(spec) && spec.command_mode();
      auto ranks = lay_out(r);
      if (!ranks) return ranks.error();
      p.hosts.assign(spec.hosts.list.begin(), spec.hosts.list.begin() + ranks->size());
      p.ranks = std::move(*ranks);
      break;
    }
    case LauncherKind::slurm: {
      auto placed = place_slurm(spec, std::move(p));
      if (!placed) return placed.error();
      p = std::move(*placed);
      break;
    }
    case LauncherKind::automatic:
      return layout_error("the " + launcher_name(p.launcher) + " launcher is not available yet");
  }
  if (auto ok = check_limits(p.ranks, p.hosts); !ok) return ok.error();
  if (!spec.command_mode() && !p.uniform()) {
    const auto [fewest, most] = std::minmax_element(p.ranks.begin(), p.ranks.end());
    return layout_error(
        "an actor mesh runs the same number of procs on every host, but this layout puts " +
        std::to_string(*most) + " on host " + p.hosts[most - p.ranks.begin()].name + " and " +
        std::to_string(*fewest) + " on host " + p.hosts[fewest - p.ranks.begin()].name +
        ": give -n a multiple of the number of hosts");
  }
  return p;
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
