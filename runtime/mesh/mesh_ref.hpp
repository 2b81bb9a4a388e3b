// References are values: where an actor mesh (or a slice of it, or one of its
// actors) lives, and where a reply goes. They travel in messages and in
// plugins' payloads, so anyone holding one can route to it.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace meshrun {

inline constexpr uint32_t kLauncherHost = std::numeric_limits<uint32_t>::max();
inline constexpr uint32_t kNoProc = std::numeric_limits<uint32_t>::max();
// The most procs a proc mesh (and so a reference) may span.
inline constexpr uint64_t kMaxMeshRanks = 1u << 24;
// A port's slot before a receiver fills in its own rank.
inline constexpr uint32_t kAnySlot = std::numeric_limits<uint32_t>::max();

// Half-open [begin, end) along one dimension.
struct Range {
  uint32_t begin = 0;
  uint32_t end = 0;
  uint32_t size() const { return end - begin; }
  bool operator==(const Range&) const = default;
  template <class F>
  bool fields(F& f) {
    return f(begin, end);
  }
};

// True when `rank` of an extent whose dimension sizes are `sizes` (row-major,
// last fastest) has every coordinate inside `ranges`. The one membership test.
bool in_ranges(const std::vector<uint32_t>& sizes, const std::vector<Range>& ranges, uint64_t rank);
uint64_t volume(const std::vector<Range>& ranges);
// The `i`-th rank (ascending) of the ranks `ranges` select.
uint64_t nth_in_ranges(const std::vector<uint32_t>& sizes, const std::vector<Range>& ranges,
                       uint64_t i);

// Who sent a message, or who owns a port: a proc (or the launcher, host
// kLauncherHost) and, inside it, one actor (mesh 0: the proc or controller itself).
struct Endpoint {
  uint32_t host = kLauncherHost;
  uint32_t proc = kNoProc;
  uint32_t mesh = 0;
  uint32_t rank = 0;
  bool operator==(const Endpoint&) const = default;
  bool is_launcher() const { return host == kLauncherHost; }
  template <class F>
  bool fields(F& f) {
    return f(host, proc, mesh, rank);
  }
};
inline constexpr size_t kEndpointBytes = 16;

// An actor mesh lives on a region of a proc mesh; a reference names a view
// of it (the whole mesh, a slice, or one actor). Ranges are in the proc
// mesh's coordinates; an actor's rank is its row-major index in the region.
struct MeshRef {
  uint32_t mesh = 0;              // job-wide actor mesh id; 0: no mesh
  std::string name;               // "a0"
  uint32_t proc_base = 0;         // job-wide proc id of the proc mesh's rank 0
  uint32_t per_host = 1;          // procs per host; the first dimension is the hosts
  std::vector<std::string> dims;  // the proc mesh's dimension names
  std::vector<uint32_t> sizes;    // and sizes
  std::vector<Range> region;      // the actor mesh
  std::vector<Range> view;        // the referenced actors, inside region

  bool operator==(const MeshRef&) const = default;
  template <class F>
  bool fields(F& f) {
    return f(mesh, name, proc_base, per_host, dims, sizes, region, view);
  }

  bool valid() const;  // consistent shapes, view inside region, sizes non-zero
  bool is_procs() const { return mesh == 0; }  // a proc mesh (or slice), not actors
  uint32_t mesh_size() const { return static_cast<uint32_t>(volume(region)); }
  uint32_t size() const { return static_cast<uint32_t>(volume(view)); }
  bool contains_proc_rank(uint64_t proc_rank) const { return in_ranges(sizes, view, proc_rank); }
  bool in_region(uint64_t proc_rank) const { return in_ranges(sizes, region, proc_rank); }
  uint32_t host_of(uint64_t proc_rank) const { return static_cast<uint32_t>(proc_rank / per_host); }
  // Rank in the actor mesh of a proc rank in its region, and back.
  uint32_t actor_rank(uint64_t proc_rank) const;
  uint64_t proc_rank(uint32_t actor_rank) const;
  // Actor ranks of the view, ascending; the hosts the view touches, ascending.
  std::vector<uint32_t> actor_ranks() const;
  std::vector<uint32_t> hosts() const;
  // The view's proc ranks on `host`.
  std::vector<uint64_t> proc_ranks_on(uint32_t host) const;

  // The i-th referenced actor, alone.
  Result<MeshRef> at(uint32_t i) const;
  // Narrow the view along `dim`, in the actor mesh's own coordinates (0 is
  // the region's first index).
  Result<MeshRef> slice(std::string_view dim, uint32_t begin, uint32_t end) const;
  std::string to_string() const;  // "a0{hosts=0..2, procs=1}"
};

// Built-in folds of a call's replies (mesh/reducer.hpp).
enum class ReducerKind : uint8_t { none = 0, sum, min, max, count, concat, all_equal };

// Where replies go: a port of an endpoint. `slot` is the rank a reply
// through this port stands for. A call's port leaves it kAnySlot and each
// receiver fills in its own rank; a port handed on keeps its slot, so it
// still answers for its first holder.
struct PortRef {
  Endpoint owner;
  uint64_t id = 0;  // 0: no port (a one-way send)
  uint32_t slot = kAnySlot;
  ReducerKind reducer = ReducerKind::none;
  bool operator==(const PortRef&) const = default;
  bool valid() const { return id != 0; }
  template <class F>
  bool fields(F& f) {
    return f(owner, id, slot, reducer);
  }
};
inline constexpr size_t kPortRefBytes = kEndpointBytes + 8 + 4 + 1;

// Values as opaque bytes for plugins: encode, and decode with checks.
std::string encode_ref(const MeshRef& ref);
Result<MeshRef> decode_ref(std::string_view bytes);
// A reference's fields without its tag: the bytes an ActorCast carries as its
// target. Empty when `bytes` is not a reference of this version.
std::string_view ref_fields(std::string_view bytes);
Result<MeshRef> decode_ref_fields(std::string_view fields);
std::string encode_port(const PortRef& port);
Result<PortRef> decode_port(std::string_view bytes);

}  // namespace meshrun
