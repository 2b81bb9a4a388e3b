// A duration as a user would write it in a spec or a flag: "5s", "250ms",
// "1.5s", "2m".
#pragma once

#include <chrono>
#include <string>

namespace meshrun {

inline std::string duration_text(std::chrono::milliseconds d) {
  const auto n = d.count();
  if (n != 0 && n % 60000 == 0) return std::to_string(n / 60000) + "m";
  if (n % 1000 == 0) return std::to_string(n / 1000) + "s";
  if (n > 1000 && n % 100 == 0)
    return std::to_string(n / 1000) + "." + std::to_string((n % 1000) / 100) + "s";
  return std::to_string(n) + "ms";
}

}  // namespace meshrun
