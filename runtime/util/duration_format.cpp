#include "util/duration_format.hpp"

#include <cmath>
#include <cstdio>

namespace meshrun {
namespace {

// Two significant digits, never fewer than the whole number has; no ".0".
std::string two_digits(double v, const char* unit) {
  char buf[48];
  if (v >= 10)
    std::snprintf(buf, sizeof buf, "%.0f", v);
  else if (v >= 1)
    std::snprintf(buf, sizeof buf, "%.1f", v);
  else
    std::snprintf(buf, sizeof buf, "%.2g", v);
  std::string out = buf;
  if (out.size() > 2 && out.compare(out.size() - 2, 2, ".0") == 0) out.resize(out.size() - 2);
  return out + " " + unit;
}

}  // namespace

std::string format_duration(std::chrono::nanoseconds d) {
  const double ns = static_cast<double>(d.count());
  if (ns < 0) return "-" + format_duration(-d);
  const double ms = ns / 1e6;
  if (ms < 999.5) return two_digits(ms, "ms");  // 999.5 would print as "1000 ms"
  const double s = ns / 1e9;
  if (s < 59.5) return two_digits(s, "s");
  const auto total_s = static_cast<long long>(std::llround(s));
  if (total_s < 3600)
    return std::to_string(total_s / 60) + " min " + std::to_string(total_s % 60) + " s";
  const auto total_min = static_cast<long long>(std::llround(s / 60));
  return std::to_string(total_min / 60) + " h " + std::to_string(total_min % 60) + " min";
}

}  // namespace meshrun
