#include "alloc/placement.hpp"

#include "alloc/local_allocator.hpp"
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

Result<Placement> place(const JobSpec& spec, uint32_t per_host) {
  Placement p;
  p.per_host = per_host;
  p.launcher = spec.hosts.launcher;
  if (p.launcher == LauncherKind::automatic) {
    if (!spec.hosts.list.empty()) {
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
          SshAllocatorOptions{spec.hosts.ssh, spec.hosts.max_parallel, spec.hosts.start_timeout});
    default:
      return nullptr;
  }
}

}  // namespace meshrun
