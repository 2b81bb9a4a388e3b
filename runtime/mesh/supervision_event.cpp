#include "mesh/supervision_event.hpp"

namespace meshrun {

std::string SupervisionEvent::describe() const {
  const std::string host_text = "host " + std::to_string(host);
  const std::string where = host_text + (hostname.empty() ? "" : ", " + hostname);
  switch (kind) {
    case Kind::actor_failed:
      return "actor " + mesh + "[" + std::to_string(rank) + "] (" + where + ") failed: " + cause;
    case Kind::proc_exited:
      return "rank " + std::to_string(rank) + " of proc mesh " + mesh + " (" + where + ") " + cause;
    case Kind::host_lost:
      return host_text + (hostname.empty() ? "" : " (" + hostname + ")") + " " + cause;
  }
  return cause;
}

}  // namespace meshrun
