// "Did you mean ...?": the known word nearest to a mistyped one.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meshrun {

// Levenshtein distance: insertions, deletions and substitutions.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate nearest to `word` if it is close enough to be a typo (at
// most 2 edits, and fewer than the candidate's length); ties go to the
// earlier candidate.
std::optional<std::string> nearest_word(std::string_view word,
                                        const std::vector<std::string_view>& candidates);

}  // namespace meshrun
