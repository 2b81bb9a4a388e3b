// Which launcher starts the hosts, which hosts, and how many ranks each gets.
#pragma once

#include <asio/io_context.hpp>
#include <memory>
#include <string>
#include <vector>

#include "alloc/allocator.hpp"
#include "spec/job_spec.hpp"
#include "util/result.hpp"

namespace meshrun {

struct Placement {
  LauncherKind launcher = LauncherKind::local;
  std::string why;               // "--launcher auto: no hosts given, so local"
  std::vector<HostEntry> hosts;  // one per host agent
  uint32_t per_host = 1;         // ranks per host
  bool remote() const { return launcher != LauncherKind::local; }
};

std::string launcher_name(LauncherKind kind);

// `per_host` is the ranks per host the spec's extent asks for.
Result<Placement> place(const JobSpec& spec, uint32_t per_host);

std::unique_ptr<Allocator> make_allocator(asio::io_context& io, const Placement& placement,
                                          const JobSpec& spec);

}  // namespace meshrun
