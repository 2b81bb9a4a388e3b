#include "alloc/placement.hpp"

#include "alloc/local_allocator.hpp"

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
    case LauncherKind::ssh:
    case LauncherKind::slurm:
    case LauncherKind::automatic:
      break;
  }
  return make_error(Errc::invalid_argument,
                    "the " + launcher_name(p.launcher) + " launcher is not available yet");
}

std::unique_ptr<Allocator> make_allocator(asio::io_context& io, const Placement& placement,
                                          const JobSpec& /*spec*/) {
  switch (placement.launcher) {
    case LauncherKind::local:
      return std::make_unique<LocalAllocator>(io, placement.hosts.size());
    default:
      return nullptr;
  }
}

}  // namespace meshrun
