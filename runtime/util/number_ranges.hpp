// Sorted numbers written as ranges: "0-3, 7, 9-10" (ranks), "0-1,4-5" (CPUs).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace meshrun {

template <class T>
std::string number_ranges(const std::vector<T>& sorted, std::string_view separator = ", ") {
  std::string out;
  for (size_t i = 0; i < sorted.size();) {
    size_t j = i;
    while (j + 1 < sorted.size() && sorted[j + 1] == sorted[j] + 1)
      ++j;
    if (!out.empty()) out += separator;
    out += std::to_string(sorted[i]);
    if (j > i) out += "-" + std::to_string(sorted[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace meshrun
