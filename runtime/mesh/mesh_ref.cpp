#include "mesh/mesh_ref.hpp"

#include <algorithm>

#include "wire/codec.hpp"

namespace meshrun {
namespace {

constexpr uint8_t kRefTag = 'M';
constexpr uint8_t kPortTag = 'P';
constexpr uint8_t kValueVersion = 1;

std::string range_text(const Range& r) {
  return r.size() == 1 ? std::to_string(r.begin)
                       : std::to_string(r.begin) + ".." + std::to_string(r.end);
}

template <class T>
std::string encode_value(uint8_t tag, const T& value) {
  std::string out;
  Writer w(out);
  w.put(tag);
  w.put(kValueVersion);
  w.put(value);
  return out;
}

template <class T>
Result<T> decode_value(uint8_t tag, std::string_view bytes, const char* what) {
  Reader r(bytes);
  uint8_t got_tag = 0, version = 0;
  T value;
  r(got_tag, version);
  r.get(value);
  if (!r.ok() || !r.at_end() || got_tag != tag)
    return make_error(Errc::invalid_argument, std::string("not a meshrun ") + what);
  if (version != kValueVersion)
    return make_error(Errc::invalid_argument, std::string("a ") + what + " of another version (" +
                                                  std::to_string(version) + ")");
  return value;
}

}  // namespace

bool in_ranges(const std::vector<uint32_t>& sizes, const std::vector<Range>& ranges,
               uint64_t rank) {
  if (sizes.size() != ranges.size()) return false;
  for (size_t i = sizes.size(); i-- > 0;) {
    if (sizes[i] == 0) return false;
    const uint64_t c = rank % sizes[i];
    rank /= sizes[i];
    if (c < ranges[i].begin || c >= ranges[i].end) return false;
  }
  return rank == 0;
}

uint64_t volume(const std::vector<Range>& ranges) {
  uint64_t n = 1;
  for (const auto& r : ranges)
    n *= r.end > r.begin ? r.end - r.begin : 0;
  return n;
}

uint64_t nth_in_ranges(const std::vector<uint32_t>& sizes, const std::vector<Range>& ranges,
                       uint64_t i) {
  uint64_t rank = 0;
  uint64_t stride_of_rest = volume(ranges);
  for (size_t d = 0; d < ranges.size(); ++d) {
    stride_of_rest /= std::max<uint32_t>(1, ranges[d].size());
    const uint64_t c = ranges[d].begin + i / stride_of_rest;
    i %= stride_of_rest;
    rank = rank * sizes[d] + c;
  }
  return rank;
}

bool MeshRef::valid() const {
  const size_t n = sizes.size();
  if (n == 0 || dims.size() != n || region.size() != n || view.size() != n || per_host == 0)
    return false;
  for (size_t i = 0; i < n; ++i) {
    if (sizes[i] == 0) return false;
    if (region[i].begin >= region[i].end || region[i].end > sizes[i]) return false;
    if (view[i].begin < region[i].begin || view[i].end > region[i].end ||
        view[i].begin >= view[i].end)
      return false;
  }
  // Hosts first: a host's procs are the rest of the extent. Bounded, so a
  // reference from a plugin can never make us list billions of ranks.
  uint64_t total = sizes[0];
  uint64_t inner = 1;
  for (size_t i = 1; i < n; ++i) {
    inner *= sizes[i];
    total *= sizes[i];
    if (total > kMaxMeshRanks) return false;
  }
  return total <= kMaxMeshRanks && inner == per_host;
}

uint32_t MeshRef::actor_rank(uint64_t proc_rank) const {
  uint64_t a = 0;
  uint64_t stride = 1;
  for (size_t i = sizes.size(); i-- > 0;) {
    const uint64_t c = proc_rank % sizes[i];
    proc_rank /= sizes[i];
    a += (c - region[i].begin) * stride;
    stride *= region[i].size();
  }
  return static_cast<uint32_t>(a);
}

uint64_t MeshRef::proc_rank(uint32_t actor) const {
  return nth_in_ranges(sizes, region, actor);
}

std::vector<uint32_t> MeshRef::actor_ranks() const {
  std::vector<uint32_t> out;
  const uint64_t n = volume(view);
  out.reserve(n);
  for (uint64_t i = 0; i < n; ++i)
    out.push_back(actor_rank(nth_in_ranges(sizes, view, i)));
  return out;
}

std::vector<uint32_t> MeshRef::hosts() const {
  // The hosts are the first dimension (valid() checks it).
  std::vector<uint32_t> out;
  if (view.empty()) return out;
  for (uint32_t h = view[0].begin; h < view[0].end; ++h)
    out.push_back(h);
  return out;
}

std::vector<uint64_t> MeshRef::proc_ranks_on(uint32_t host) const {
  std::vector<uint64_t> out;
  const uint64_t first = static_cast<uint64_t>(host) * per_host;
  for (uint64_t r = first; r < first + per_host; ++r)
    if (contains_proc_rank(r)) out.push_back(r);
  return out;
}

Result<MeshRef> MeshRef::at(uint32_t i) const {
  if (i >= size())
    return make_error(Errc::invalid_argument, "rank " + std::to_string(i) + " is outside " +
                                                  to_string() + " (" + std::to_string(size()) +
                                                  " actors)");
  const uint64_t r = nth_in_ranges(sizes, view, i);
  MeshRef one = *this;
  uint64_t rest = r;
  for (size_t d = sizes.size(); d-- > 0;) {
    const auto c = static_cast<uint32_t>(rest % sizes[d]);
    rest /= sizes[d];
    one.view[d] = {c, c + 1};
  }
  return one;
}

Result<MeshRef> MeshRef::slice(std::string_view dim, uint32_t begin, uint32_t end) const {
  const auto it = std::find(dims.begin(), dims.end(), dim);
  if (it == dims.end()) {
    std::string known;
    for (const auto& d : dims)
      known += (known.empty() ? "" : ", ") + d;
    return make_error(Errc::invalid_argument, "mesh " + name + " has no dimension '" +
                                                  std::string(dim) + "'; it has " + known);
  }
  const size_t d = static_cast<size_t>(it - dims.begin());
  const Range& reg = region[d];
  if (begin >= end || end > reg.size())
    return make_error(Errc::invalid_argument, "range " + std::to_string(begin) + ".." +
                                                  std::to_string(end) + " of '" + std::string(dim) +
                                                  "' is empty or outside 0.." +
                                                  std::to_string(reg.size()) + " of mesh " + name);
  MeshRef out = *this;
  const Range wanted{reg.begin + begin, reg.begin + end};
  const Range narrowed{std::max(view[d].begin, wanted.begin), std::min(view[d].end, wanted.end)};
  if (narrowed.begin >= narrowed.end)
    return make_error(Errc::invalid_argument,
                      "slice " + std::string(dim) + "=" + std::to_string(begin) + ".." +
                          std::to_string(end) + " of " + to_string() + " selects nothing");
  out.view[d] = narrowed;
  return out;
}

std::string MeshRef::to_string() const {
  std::string s = name + "{";
  for (size_t i = 0; i < dims.size() && i < view.size() && i < region.size(); ++i) {
    if (i) s += ", ";
    const Range rel{view[i].begin - region[i].begin, view[i].end - region[i].begin};
    s += dims[i] + "=" + range_text(rel);
  }
  return s + "}";
}

std::string encode_ref(const MeshRef& ref) {
  return encode_value(kRefTag, ref);
}

Result<MeshRef> decode_ref(std::string_view bytes) {
  auto ref = decode_value<MeshRef>(kRefTag, bytes, "mesh reference");
  if (ref && !ref->valid())
    return make_error(Errc::invalid_argument, "a mesh reference with inconsistent shape");
  return ref;
}

std::string_view ref_fields(std::string_view bytes) {
  if (bytes.size() < 2 || static_cast<uint8_t>(bytes[0]) != kRefTag ||
      static_cast<uint8_t>(bytes[1]) != kValueVersion)
    return {};
  return bytes.substr(2);
}

Result<MeshRef> decode_ref_fields(std::string_view fields) {
  Reader r(fields);
  MeshRef ref;
  r.get(ref);
  if (!r.ok() || !r.at_end() || !ref.valid())
    return make_error(Errc::invalid_argument, "not a meshrun mesh reference");
  return ref;
}

std::string encode_port(const PortRef& port) {
  return encode_value(kPortTag, port);
}

Result<PortRef> decode_port(std::string_view bytes) {
  auto port = decode_value<PortRef>(kPortTag, bytes, "port");
  if (port && (!port->valid() || port->reducer > ReducerKind::all_equal))
    return make_error(Errc::invalid_argument, "a port with no id or an unknown reducer");
  return port;
}

}  // namespace meshrun
