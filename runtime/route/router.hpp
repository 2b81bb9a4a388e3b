// Where an actor message goes next. One set of rules for every hop:
//  - a proc sends everything to its host agent;
//  - a host agent hands a cast to its own procs in the view, and passes one
//    copy to each other host the view touches, straight over a link between
//    the two agents (never through the launcher); a copy that came from
//    another host is delivered here only;
//  - the launcher sends one copy to each host, or to the first-level host a
//    tree-launched host hangs off, which passes it down;
//  - a reply goes to the host of the port's owner: a local proc, the
//    launcher (upstream), or another host over a direct link.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "mesh/mesh_ref.hpp"

namespace meshrun {

enum class CastSource { own_proc, upstream, peer };

struct CastHops {
  bool local = false;              // procs of this host are in the view
  std::vector<uint32_t> peers;     // other hosts, over direct links (local_only)
  std::vector<uint32_t> children;  // tree children of this host that are in the view
};

// At host agent `me`; `children` are its tree children (sorted), if any.
CastHops route_cast(uint32_t me, const MeshRef& target, CastSource source,
                    const std::vector<uint32_t>& children);

enum class ReplyHop { local_proc, upstream, peer };
ReplyHop route_reply(uint32_t me, const Endpoint& owner);

// At the launcher: the connected hosts a cast must be sent to, given which
// first-level host (if any) each host hangs off. Ascending, distinct.
std::vector<uint32_t> launcher_hops(const MeshRef& target,
                                    const std::function<std::optional<uint32_t>(uint32_t)>& via);

}  // namespace meshrun
