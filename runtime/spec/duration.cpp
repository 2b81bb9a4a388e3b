#include <charconv>
#include <cmath>
#include <stdexcept>
#include <string>

#include "spec/spec_loader.hpp"

namespace meshrun {

Millis parse_duration(std::string_view text) {
  const auto fail = [&](const std::string& why) -> std::invalid_argument {
    return std::invalid_argument("bad duration \"" + std::string(text) + "\": " + why +
                                 " (write e.g. \"90s\", \"250ms\", \"5m\", \"1h\")");
  };
  std::string_view s = text;
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  if (s.empty()) throw fail("empty");
  if (s.front() == '-') throw fail("negative");
  // from_chars would also take "inf", "nan" and exponents; durations are plain decimals.
  size_t digits_end = 0;
  bool seen_digit = false;
  bool seen_dot = false;
  while (digits_end < s.size()) {
    const char c = s[digits_end];
    if (c >= '0' && c <= '9') {
      seen_digit = true;
    } else if (c == '.' && !seen_dot) {
      seen_dot = true;
    } else {
      break;
    }
    ++digits_end;
  }
  if (!seen_digit) throw fail("no number");
  double value = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + digits_end, value);
  if (ec != std::errc() || p != s.data() + digits_end) throw fail("not a number");

  std::string_view unit = s.substr(digits_end);
  while (!unit.empty() && unit.front() == ' ')
    unit.remove_prefix(1);
  double per_unit_ms = 0;
  if (unit.empty() || unit == "s") {
    per_unit_ms = 1000;
  } else if (unit == "ms") {
    per_unit_ms = 1;
  } else if (unit == "m") {
    per_unit_ms = 60'000;
  } else if (unit == "h") {
    per_unit_ms = 3'600'000;
  } else {
    throw fail("unknown unit \"" + std::string(unit) + "\"");
  }
  const double ms = value * per_unit_ms;
  // About 30 years: anything longer is a typo, and it keeps the cast below in range.
  if (!std::isfinite(ms) || ms > 1e12) throw fail("too long");
  auto rounded = static_cast<Millis::rep>(std::llround(ms));
  // A tiny non-zero duration must not turn into 0, which often means "none".
  if (rounded == 0 && ms > 0) rounded = 1;
  return Millis{rounded};
}

}  // namespace meshrun
