#include "mesh/supervision_event.hpp"

namespace meshrun {

std::string SupervisionEvent::describe() const {
  std::string where = "host " + std::to_string(host);
  if (!hostname.empty()) where += " (" + hostname + ")";
  switch (kind) {
    case Kind::actor_failed:
      return "actor " + mesh + "[" + std::to_string(rank) + "] on " + where + " failed: " + cause;
    case Kind::proc_exited:
      return "proc " + mesh + "[" + std::to_string(rank) + "] on " + where + " " + cause;
    case Kind::host_lost:
      return where + " was lost: " + cause;
  }
  return cause;
}

}  // namespace meshrun
