// Durations as people write them: "0.26 ms", "12 ms", "1.4 s", "2 min 5 s".
#pragma once

#include <chrono>
#include <string>

namespace meshrun {

// Two significant digits below 100 of a unit (whole numbers above), in ms
// under a second, s under a minute, then "M min S s" and "H h M min".
std::string format_duration(std::chrono::nanoseconds d);

}  // namespace meshrun
