// The launcher's handles on what it created: a host mesh (agents), a proc
// mesh on it, an actor mesh in the procs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "channel/connection.hpp"
#include "mesh/extent.hpp"

namespace meshrun {

struct Host {
  uint32_t rank = 0;
  std::string name;      // as the allocator knows it
  std::string hostname;  // as the agent reported it
  std::string address;   // where the agent listens
  uint32_t pid = 0;
  ConnectionPtr conn;           // for a routed host: its parent's
  std::optional<uint32_t> via;  // tree launch: reached through this first-level host
  bool ready = false;           // trampolined into a host agent
  bool stopped = false;
  bool lost = false;
};

struct HostMesh {
  Extent extent;  // {hosts=N}
};

struct ProcMesh {
  std::string name;  // "p0"
  Extent extent;     // hosts x per-host; {ranks=N} for an uneven layout
  uint32_t per_host = 1;
  std::vector<uint64_t> first_rank;  // uneven layouts: each host's first rank
  uint32_t host_of(uint64_t rank) const {
    if (first_rank.empty()) return static_cast<uint32_t>(rank / per_host);
    return static_cast<uint32_t>(std::upper_bound(first_rank.begin(), first_rank.end(), rank) -
                                 first_rank.begin() - 1);
  }
};

struct ActorMesh {
  std::string name;  // "a0"
  ProcMesh procs;
  std::vector<std::string> actor_ids;  // by rank
};

}  // namespace meshrun
