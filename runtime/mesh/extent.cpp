#include "mesh/extent.hpp"

#include <algorithm>

namespace meshrun {

Result<Extent> Extent::make(std::vector<Dim> dims) {
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i].name.empty()) return make_error(Errc::invalid_argument, "a dimension has no name");
    if (dims[i].size == 0)
      return make_error(Errc::invalid_argument, "dimension '" + dims[i].name + "' has size 0");
    for (size_t j = 0; j < i; ++j)
      if (dims[j].name == dims[i].name)
        return make_error(Errc::invalid_argument, "dimension '" + dims[i].name + "' appears twice");
  }
  Extent e;
  e.dims_ = std::move(dims);
  return e;
}

uint64_t Extent::num_ranks() const {
  uint64_t n = 1;
  for (const auto& d : dims_)
    n *= d.size;
  return n;
}

int Extent::find(std::string_view name) const {
  for (size_t i = 0; i < dims_.size(); ++i)
    if (dims_[i].name == name) return static_cast<int>(i);
  return -1;
}

std::vector<uint32_t> Extent::coords(uint64_t rank) const {
  std::vector<uint32_t> c(dims_.size());
  for (size_t i = dims_.size(); i-- > 0;) {
    c[i] = static_cast<uint32_t>(rank % dims_[i].size);
    rank /= dims_[i].size;
  }
  return c;
}

uint64_t Extent::rank(const std::vector<uint32_t>& coords) const {
  uint64_t r = 0;
  for (size_t i = 0; i < dims_.size(); ++i)
    r = r * dims_[i].size + coords[i];
  return r;
}

Result<Extent> Extent::concat(const Extent& inner) const {
  std::vector<Dim> dims = dims_;
  dims.insert(dims.end(), inner.dims_.begin(), inner.dims_.end());
  return make(std::move(dims));
}

std::string Extent::to_string() const {
  std::string s = "{";
  for (size_t i = 0; i < dims_.size(); ++i) {
    if (i) s += ", ";
    s += dims_[i].name + "=" + std::to_string(dims_[i].size);
  }
  return s + "}";
}

Slice::Slice(Extent extent) : extent_(std::move(extent)) {
  for (const auto& d : extent_.dims())
    ranges_.push_back({0, d.size});
}

Status Slice::restrict(std::string_view dim, uint32_t begin, uint32_t end) {
  int i = extent_.find(dim);
  if (i < 0)
    return make_error(Errc::invalid_argument,
                      "no dimension '" + std::string(dim) + "' in the mesh " + extent_.to_string());
  const uint32_t size = extent_.dims()[static_cast<size_t>(i)].size;
  if (begin >= end || end > size)
    return make_error(Errc::invalid_argument, "range " + std::to_string(begin) + ".." +
                                                  std::to_string(end) + " of dimension '" +
                                                  std::string(dim) + "' is empty or outside 0.." +
                                                  std::to_string(size));
  auto& r = ranges_[static_cast<size_t>(i)];
  // Checked before storing, so a refused restriction leaves the slice intact.
  const Range narrowed{std::max(r.begin, begin), std::min(r.end, end)};
  if (narrowed.begin >= narrowed.end)
    return make_error(Errc::invalid_argument,
                      "slice of dimension '" + std::string(dim) + "' selects nothing");
  r = narrowed;
  return {};
}

bool Slice::contains(uint64_t rank) const {
  if (rank >= extent_.num_ranks()) return false;
  auto c = extent_.coords(rank);
  for (size_t i = 0; i < c.size(); ++i)
    if (c[i] < ranges_[i].begin || c[i] >= ranges_[i].end) return false;
  return true;
}

uint64_t Slice::num_ranks() const {
  uint64_t n = 1;
  for (const auto& r : ranges_)
    n *= r.end - r.begin;
  return n;
}

std::vector<uint64_t> Slice::ranks() const {
  std::vector<uint64_t> out;
  const uint64_t n = num_ranks();
  out.reserve(n);
  std::vector<uint32_t> c(ranges_.size());
  for (size_t i = 0; i < c.size(); ++i)
    c[i] = ranges_[i].begin;
  for (uint64_t k = 0; k < n; ++k) {
    out.push_back(extent_.rank(c));
    for (size_t i = c.size(); i-- > 0;) {  // odometer, last dimension fastest
      if (++c[i] < ranges_[i].end) break;
      c[i] = ranges_[i].begin;
    }
  }
  return out;
}

std::string Slice::to_string() const {
  std::string s = "{";
  const auto& dims = extent_.dims();
  for (size_t i = 0; i < dims.size(); ++i) {
    if (i) s += ", ";
    s += dims[i].name + "=";
    const auto& r = ranges_[i];
    s += r.end - r.begin == 1 ? std::to_string(r.begin)
                              : std::to_string(r.begin) + ".." + std::to_string(r.end);
  }
  return s + "}";
}

}  // namespace meshrun
