// A pre-scan of TOML text for how deeply its tables nest, run before toml++
// parses it: toml++ builds dotted headers and dotted keys recursively, and a
// header nested tens of thousands of tables deep overflows its stack.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace meshrun {

// Deeper than any job spec needs, far below what exhausts a thread's stack.
inline constexpr size_t kMaxTomlDepth = 128;

struct TomlDepth {
  size_t depth = 0;   // tables and arrays enclosing the deepest value
  uint32_t line = 0;  // 1-based line where that depth is reached
};

// The first place where nesting exceeds `limit`, if any. Counts header key
// parts, dotted key parts, inline tables and arrays; strings and comments
// are skipped. The text need not be valid TOML (toml++ judges that later).
std::optional<TomlDepth> find_toml_too_deep(std::string_view text, size_t limit = kMaxTomlDepth);

}  // namespace meshrun
