// How host agents track the processes of a job: MESHRUN_PROC_TRACKING.
#pragma once

#include "util/result.hpp"

namespace meshrun {

enum class Tracking {
  automatic,  // a cgroup v2 where one can be made, else a child subreaper
  cgroup,     // a cgroup v2, or the host fails to start
  subreaper,  // the process tree below a child subreaper
};

// MESHRUN_PROC_TRACKING (unset or empty: automatic); an error names the
// values it takes.
Result<Tracking> tracking_from_env();

}  // namespace meshrun
