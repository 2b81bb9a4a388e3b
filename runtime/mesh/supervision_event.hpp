// A failure somewhere in the job, as the launcher's supervision reports it to
// the job's owner (the controller, or the built-in policy that ends the job).
#pragma once

#include <cstdint>
#include <string>

namespace meshrun {

struct SupervisionEvent {
  enum class Kind { actor_failed = 1, proc_exited = 2, host_lost = 3 };
  Kind kind = Kind::actor_failed;
  std::string mesh;   // actor mesh (actor_failed) or proc mesh (proc_exited); empty for a host
  uint32_t rank = 0;  // in that mesh
  uint32_t host = 0;
  std::string hostname;
  std::string cause;  // host_lost: "was lost: ..." or "has been silent for ..."
  // "actor a0[3] (host 1, node07) failed: requested failure"
  std::string describe() const;
};

}  // namespace meshrun
