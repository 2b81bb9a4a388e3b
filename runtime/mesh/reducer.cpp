#include "mesh/reducer.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "wire/codec.hpp"

namespace meshrun {
namespace {

constexpr std::string_view kNames[] = {"none", "sum", "min", "max", "count", "concat", "all_equal"};

std::string_view trim(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\n' || s.front() == '\r'))
    s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string shown(std::string_view v) {
  std::string out = "'";
  for (char c : v.substr(0, 40))
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (v.size() > 40) out += "...";
  return out + "'";
}

}  // namespace

std::optional<ReducerKind> reducer_from_name(std::string_view name) {
  for (size_t i = 1; i < std::size(kNames); ++i)
    if (kNames[i] == name) return static_cast<ReducerKind>(i);
  return std::nullopt;
}

std::string_view reducer_name(ReducerKind kind) {
  const auto i = static_cast<size_t>(kind);
  return i < std::size(kNames) ? kNames[i] : "unknown";
}

std::string_view reducer_names() {
  return "sum, min, max, count, concat, all_equal";
}

Fold::Fold(ReducerKind kind) : kind_(kind) {}

Result<Fold::Number> Fold::parse_number(std::string_view text) {
  const std::string_view t = trim(text);
  Number n;
  const char* end = t.data() + t.size();
  if (auto [p, ec] = std::from_chars(t.data(), end, n.i);
      ec == std::errc() && p == end && !t.empty())
    return n;
  n.is_float = true;
  if (auto [p, ec] = std::from_chars(t.data(), end, n.d);
      ec == std::errc() && p == end && !t.empty() && std::isfinite(n.d))
    return n;
  return make_error(Errc::invalid_argument, "replied " + shown(text) + ", which is not a number");
}

std::string Fold::format(const Number& n) {
  if (!n.is_float) return std::to_string(n.i);
  char buf[64];
  auto [p, ec] = std::to_chars(buf, buf + sizeof buf, n.d);
  return ec == std::errc() ? std::string(buf, p) : std::to_string(n.d);
}

Status Fold::add_number(const Number& n) {
  if (!number_) {
    number_ = n;
    return {};
  }
  Number& acc = *number_;
  switch (kind_) {
    case ReducerKind::sum:
      if (!acc.is_float && !n.is_float) {
        int64_t out = 0;
        if (__builtin_add_overflow(acc.i, n.i, &out))
          return make_error(Errc::invalid_argument, "the sum overflows a 64-bit integer");
        acc.i = out;
      } else {
        acc.d = acc.as_double() + n.as_double();
        acc.is_float = true;
      }
      break;
    case ReducerKind::min:
    case ReducerKind::max: {
      const bool less =
          (!acc.is_float && !n.is_float) ? n.i < acc.i : n.as_double() < acc.as_double();
      const bool more =
          (!acc.is_float && !n.is_float) ? n.i > acc.i : n.as_double() > acc.as_double();
      if ((kind_ == ReducerKind::min && less) || (kind_ == ReducerKind::max && more)) acc = n;
      break;
    }
    default:
      break;
  }
  return {};
}

void Fold::add_distinct(uint32_t rank, std::string_view value) {
  constexpr size_t kKeep = 4;  // enough to name the lowest two that differ
  for (auto& [r, v] : parts_)
    if (v == value) {
      r = std::min(r, rank);
      return;
    }
  parts_.emplace_back(rank, std::string(value));
  if (parts_.size() > kKeep) {
    auto highest = std::max_element(parts_.begin(), parts_.end(),
                                    [](const auto& a, const auto& b) { return a.first < b.first; });
    parts_.erase(highest);
  }
}

Status Fold::add(uint32_t rank, std::string_view reply) {
  switch (kind_) {
    case ReducerKind::sum:
    case ReducerKind::min:
    case ReducerKind::max: {
      auto n = parse_number(reply);
      if (!n) return n.error();
      if (auto ok = add_number(*n); !ok) return ok;
      break;
    }
    case ReducerKind::concat:
      parts_.emplace_back(rank, std::string(reply));
      break;
    case ReducerKind::all_equal:
      add_distinct(rank, reply);
      break;
    case ReducerKind::count:
    case ReducerKind::none:
      break;
  }
  ++count_;
  return {};
}

std::string Fold::encode() const {
  std::string out;
  Writer w(out);
  w.put(static_cast<uint8_t>(kind_));
  w.put(count_);
  w.put(number_.has_value());
  const Number n = number_.value_or(Number{});
  w.put(n.is_float);
  w.put(n.i);
  uint64_t bits = 0;
  static_assert(sizeof bits == sizeof n.d);
  __builtin_memcpy(&bits, &n.d, sizeof bits);
  w.put(bits);
  w.put(static_cast<uint32_t>(parts_.size()));
  for (const auto& [rank, value] : parts_) {
    w.put(rank);
    w.put(value);
  }
  return out;
}

Status Fold::merge(std::string_view partial) {
  Reader r(partial);
  uint8_t kind = 0;
  uint32_t count = 0;
  bool has_number = false;
  Number n;
  uint64_t bits = 0;
  uint32_t parts = 0;
  r(kind, count, has_number, n.is_float, n.i, bits);
  r.get(parts);
  if (!r.ok() || kind != static_cast<uint8_t>(kind_) || parts > count)
    return make_error(Errc::protocol, "a partial reduction of another kind or malformed");
  __builtin_memcpy(&n.d, &bits, sizeof bits);
  for (uint32_t i = 0; i < parts && r.ok(); ++i) {
    uint32_t rank = 0;
    std::string value;
    r(rank, value);
    if (!r.ok()) break;
    if (kind_ == ReducerKind::all_equal)
      add_distinct(rank, value);
    else
      parts_.emplace_back(rank, std::move(value));
  }
  if (!r.ok() || !r.at_end()) return make_error(Errc::protocol, "a malformed partial reduction");
  if (has_number)
    if (auto ok = add_number(n); !ok) return ok;
  count_ += count;
  return {};
}

Result<std::string> Fold::result() const {
  switch (kind_) {
    case ReducerKind::sum:
    case ReducerKind::min:
    case ReducerKind::max:
      if (!number_)
        return make_error(Errc::failed, "no replies to " + std::string(reducer_name(kind_)));
      return format(*number_);
    case ReducerKind::count:
      return std::to_string(count_);
    case ReducerKind::concat: {
      auto sorted = parts_;
      std::sort(sorted.begin(), sorted.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      std::string out;
      for (const auto& p : sorted)
        out += p.second;
      return out;
    }
    case ReducerKind::all_equal: {
      if (parts_.empty()) return make_error(Errc::failed, "no replies to compare");
      auto sorted = parts_;
      std::sort(sorted.begin(), sorted.end(),
                [](const auto& a, const auto& b) { return a.first < b.first; });
      if (sorted.size() > 1)
        return make_error(Errc::failed, "replies differ: rank " + std::to_string(sorted[0].first) +
                                            " replied " + shown(sorted[0].second) + ", rank " +
                                            std::to_string(sorted[1].first) + " replied " +
                                            shown(sorted[1].second));
      return sorted[0].second;
    }
    case ReducerKind::none:
      break;
  }
  return make_error(Errc::failed, "no reducer");
}

}  // namespace meshrun
