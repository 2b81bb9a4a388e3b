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

// A host runs at most this many ranks (meshrun.toml(5), meshrun(1)).
inline constexpr uint32_t kMaxRanksPerHost = 65536;

struct Placement {
  LauncherKind launcher = LauncherKind::local;
  std::string why;               // "--launcher auto: no hosts given, so local"
  std::vector<HostEntry> hosts;  // one per host agent
  std::vector<uint32_t> ranks;   // per host: how many ranks it runs, in rank order
  bool remote() const { return launcher != LauncherKind::local; }
  uint64_t total() const;
  // Every host runs the same number of ranks (an actor mesh needs that).
  bool uniform() const;
};

std::string launcher_name(LauncherKind kind);

// How many ranks each host runs, as mpirun and srun lay them out: a block
// of consecutive ranks per host.
struct LayoutRequest {
  uint32_t ranks = 0;         // -n; 0: `per_host` on every host
  uint32_t per_host = 1;      // the extent's ranks, when ranks == 0
  uint32_t max_per_host = 0;  // --per-host with -n: fill hosts up to this
  uint32_t hosts = 0;         // -N: exactly this many hosts, evenly; 0: as needed
  uint32_t available = 0;     // hosts that can be used; 0: any number (local)
  // Per available host, its slots (0: not given). With slots and without -N,
  // -n fills hosts in order up to their slots, then spreads what is left.
  std::vector<uint32_t> slots;
  bool follow_slots = false;  // without -n: every host runs its slots
};
Result<std::vector<uint32_t>> lay_out(const LayoutRequest& request);

// Where the job's ranks go: the launcher, its hosts and their rank counts.
Result<Placement> place(const JobSpec& spec);

std::unique_ptr<Allocator> make_allocator(asio::io_context& io, const Placement& placement,
                                          const JobSpec& spec);

}  // namespace meshrun
