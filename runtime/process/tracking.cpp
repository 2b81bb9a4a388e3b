#include "process/tracking.hpp"

#include <cstdlib>
#include <string>

namespace meshrun {

Result<Tracking> tracking_from_env() {
  const char* env = std::getenv("MESHRUN_PROC_TRACKING");
  const std::string value = env ? env : "";
  if (value.empty() || value == "auto") return Tracking::automatic;
  if (value == "cgroup") return Tracking::cgroup;
  if (value == "subreaper") return Tracking::subreaper;
  return make_error(Errc::invalid_argument,
                    "MESHRUN_PROC_TRACKING=" + value + ": use auto, cgroup or subreaper");
}

}  // namespace meshrun
