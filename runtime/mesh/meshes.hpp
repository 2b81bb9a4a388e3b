// The launcher's handles on what it created: a host mesh (agents), proc
// meshes on it, actor meshes in the procs.
#pragma once

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "channel/connection.hpp"
#include "mesh/extent.hpp"
#include "mesh/mesh_ref.hpp"

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

// A proc mesh: ranks laid out host by host. Host h holds ranks
// [first[h], first[h+1]). A regular mesh (the same count on every host, as
// actor meshes need) has the extent {hosts=N} ++ per-host; an uneven one
// (command mode's -N 2 -n 5) is {ranks=N}.
struct ProcMesh {
  std::string name;   // "p0"
  uint32_t base = 0;  // job-wide proc id of rank 0
  Extent extent;
  std::vector<uint32_t> first;  // size hosts+1, first[0] = 0
  bool commands = false;        // ranks run a command, not actors

  uint32_t size() const { return first.empty() ? 0 : first.back(); }
  uint32_t hosts() const { return first.empty() ? 0 : static_cast<uint32_t>(first.size() - 1); }
  uint32_t count_on(uint32_t host) const { return first[host + 1] - first[host]; }
  uint32_t host_of(uint32_t rank) const {
    return static_cast<uint32_t>(std::upper_bound(first.begin(), first.end(), rank) -
                                 first.begin() - 1);
  }
  uint32_t local_rank(uint32_t rank) const { return rank - first[host_of(rank)]; }
  bool regular() const {
    for (uint32_t h = 1; h < hosts(); ++h)
      if (count_on(h) != count_on(0)) return false;
    return !first.empty();
  }
  bool contains_proc(uint32_t proc) const { return proc >= base && proc - base < size(); }
  // The whole mesh as a reference (a regular mesh only).
  MeshRef ref() const {
    MeshRef r;
    r.name = name;
    r.proc_base = base;
    r.per_host = hosts() == 0 ? 1 : count_on(0);
    for (const auto& d : extent.dims()) {
      r.dims.push_back(d.name);
      r.sizes.push_back(d.size);
      r.region.push_back({0, d.size});
    }
    r.view = r.region;
    return r;
  }
};

struct ActorMesh {
  std::string name;   // "a0"
  MeshRef ref;        // the whole mesh
  std::string procs;  // the proc mesh it lives on
  std::string type;
  std::vector<std::string> actor_ids;  // by rank
};

}  // namespace meshrun
