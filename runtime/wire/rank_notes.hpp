// Facts a host agent learns about a rank when it ends and hands to the
// launcher for its report (ProcStatus::notes, "KEY=VALUE" each).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meshrun::rank_note {

// The rank loaded this MPI library but never spoke to the PMI-1 or PMIx
// server: it ran as a singleton. The value names the library.
inline constexpr std::string_view kMpiUnused = "mpi-unused";
// The TORCHELASTIC_ERROR_FILE a failed rank left, and what it says: the
// error's message and its Python traceback.
inline constexpr std::string_view kErrorFile = "error-file";
inline constexpr std::string_view kErrorMessage = "error-message";
inline constexpr std::string_view kErrorTrace = "error-trace";

inline std::string make(std::string_view key, std::string_view value) {
  return std::string(key).append("=").append(value);
}

inline std::optional<std::string> find(const std::vector<std::string>& notes,
                                       std::string_view key) {
  for (const auto& n : notes)
    if (n.size() > key.size() && n[key.size()] == '=' && n.compare(0, key.size(), key) == 0)
      return n.substr(key.size() + 1);
  return std::nullopt;
}

}  // namespace meshrun::rank_note
