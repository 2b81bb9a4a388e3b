#include "route/router.hpp"

#include <algorithm>

namespace meshrun {

CastHops route_cast(uint32_t me, const MeshRef& target, CastSource source,
                    const std::vector<uint32_t>& children) {
  CastHops hops;
  for (uint32_t h : target.hosts()) {
    if (h == me) {
      hops.local = true;
    } else if (source == CastSource::own_proc) {
      hops.peers.push_back(h);
    } else if (source == CastSource::upstream &&
               std::binary_search(children.begin(), children.end(), h)) {
      hops.children.push_back(h);
    }
    // From a peer: this host only. From upstream: this host and its children.
  }
  return hops;
}

ReplyHop route_reply(uint32_t me, const Endpoint& owner) {
  if (owner.is_launcher()) return ReplyHop::upstream;
  if (owner.host == me) return ReplyHop::local_proc;
  return ReplyHop::peer;
}

std::vector<uint32_t> launcher_hops(const MeshRef& target,
                                    const std::function<std::optional<uint32_t>(uint32_t)>& via) {
  std::vector<uint32_t> out;
  for (uint32_t h : target.hosts())
    out.push_back(via(h).value_or(h));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace meshrun
