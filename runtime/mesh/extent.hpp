// A named N-dimensional shape ({hosts=2, procs=3}) and slices of it. Ranks are
// row-major: the last dimension varies fastest.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace meshrun {

struct Dim {
  std::string name;
  uint32_t size = 1;
  bool operator==(const Dim&) const = default;
};

class Extent {
 public:
  Extent() = default;  // the unit extent: no dims, one rank
  static Result<Extent> make(std::vector<Dim> dims);

  const std::vector<Dim>& dims() const { return dims_; }
  uint64_t num_ranks() const;
  // Index of a dimension, or -1.
  int find(std::string_view name) const;

  std::vector<uint32_t> coords(uint64_t rank) const;
  uint64_t rank(const std::vector<uint32_t>& coords) const;

  // {hosts=2} ++ {procs=3} = {hosts=2, procs=3}; a repeated name is an error.
  Result<Extent> concat(const Extent& inner) const;

  std::string to_string() const;  // "{hosts=2, procs=3}"
  bool operator==(const Extent&) const = default;

 private:
  std::vector<Dim> dims_;
};

// Per-dimension half-open ranges over an extent.
class Slice {
 public:
  struct Range {
    uint32_t begin = 0;
    uint32_t end = 0;
  };

  explicit Slice(Extent extent);  // the whole extent
  // Restrict `dim` to [begin, end); names, bounds and emptiness are checked.
  Status restrict(std::string_view dim, uint32_t begin, uint32_t end);

  const Extent& extent() const { return extent_; }
  const std::vector<Range>& ranges() const { return ranges_; }
  bool contains(uint64_t rank) const;
  uint64_t num_ranks() const;
  std::vector<uint64_t> ranks() const;  // ascending
  std::string to_string() const;        // "{hosts=0..2, procs=1}"

 private:
  Extent extent_;
  std::vector<Range> ranges_;
};

}  // namespace meshrun
