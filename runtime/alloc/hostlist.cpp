#include "alloc/hostlist.hpp"

#include <charconv>
#include <fstream>
#include <sstream>

namespace meshrun {
namespace {

// Larger counts saturate here so a product of huge ranges never overflows.
constexpr uint64_t kSaturated = uint64_t{1} << 62;
constexpr size_t kMaxHostfileHosts = 65536;

uint64_t saturating_mul(uint64_t a, uint64_t b) {
  if (a == 0 || b == 0) return 0;
  if (a > kSaturated / b) return kSaturated;
  return a * b;
}

uint64_t saturating_add(uint64_t a, uint64_t b) {
  return (a > kSaturated - b) ? kSaturated : a + b;
}

Error bad(std::string_view text, size_t pos, const std::string& what) {
  return make_error(Errc::invalid_argument, "hostlist \"" + std::string(text) + "\": " + what +
                                                " at column " + std::to_string(pos + 1));
}

std::string_view trim(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool parse_u64(std::string_view s, uint64_t& out) {
  if (!all_digits(s)) return false;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// One lo-hi range of a bracket group; width pads each number with zeros.
struct Range {
  uint64_t lo = 0;
  uint64_t hi = 0;
  size_t width = 0;
};

// A name is literal text and bracket groups in turn: "n" [1-2] "-gpu" [0-3].
struct Part {
  std::string literal;        // used when ranges is empty
  std::vector<Range> ranges;  // a bracket group
};

struct Name {
  std::vector<Part> parts;
  uint64_t count = 1;
};

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.';
}

// `offset` is where `item` starts inside `text`, so errors point into the whole text.
Result<Name> parse_name(std::string_view text, std::string_view item, size_t offset) {
  Name name;
  size_t i = 0;
  while (i < item.size()) {
    const char c = item[i];
    if (c == ']') return bad(text, offset + i, "']' without a matching '['");
    if (c != '[') {
      if (!is_name_char(c)) {
        return bad(text, offset + i,
                   std::string("unexpected character '") + c + "' in a host name");
      }
      if (name.parts.empty() || !name.parts.back().ranges.empty()) name.parts.emplace_back();
      name.parts.back().literal += c;
      ++i;
      continue;
    }
    const size_t close = item.find(']', i + 1);
    const size_t nested = item.find('[', i + 1);
    if (close == std::string_view::npos) return bad(text, offset + i, "'[' is never closed");
    if (nested < close) return bad(text, offset + nested, "'[' inside a bracket group");
    const std::string_view group = item.substr(i + 1, close - i - 1);
    if (trim(group).empty()) return bad(text, offset + i, "empty bracket group");
    Part part;
    uint64_t group_count = 0;
    size_t start = 0;
    while (start <= group.size()) {
      size_t end = group.find(',', start);
      if (end == std::string_view::npos) end = group.size();
      const std::string_view piece = group.substr(start, end - start);
      const size_t at = offset + i + 1 + start;
      if (piece.empty()) return bad(text, at, "empty range in a bracket group");
      const size_t dash = piece.find('-');
      const std::string_view lo_text = piece.substr(0, dash);
      const std::string_view hi_text =
          dash == std::string_view::npos ? lo_text : piece.substr(dash + 1);
      Range r;
      if (lo_text.empty() || hi_text.empty()) {
        return bad(text, at, "range \"" + std::string(piece) + "\" is missing a number");
      }
      if (!parse_u64(lo_text, r.lo) || !parse_u64(hi_text, r.hi) || lo_text.size() > 18 ||
          hi_text.size() > 18) {
        return bad(text, at,
                   "range \"" + std::string(piece) + "\" must be digits N or N-M (like 01-04)");
      }
      if (r.hi < r.lo) {
        return bad(
            text, at,
            "range \"" + std::string(piece) + "\" goes down; write the smaller number first");
      }
      r.width = lo_text.size();
      group_count = saturating_add(group_count, r.hi - r.lo + 1);
      part.ranges.push_back(r);
      start = end + 1;
    }
    name.count = saturating_mul(name.count, group_count);
    name.parts.push_back(std::move(part));
    i = close + 1;
  }
  return name;
}

std::string padded(uint64_t v, size_t width) {
  std::string digits = std::to_string(v);
  if (digits.size() < width) digits.insert(0, width - digits.size(), '0');
  return digits;
}

void materialise(const Name& name, size_t part, std::string& prefix,
                 std::vector<std::string>& out) {
  if (part == name.parts.size()) {
    out.push_back(prefix);
    return;
  }
  const Part& p = name.parts[part];
  const size_t keep = prefix.size();
  if (p.ranges.empty()) {
    prefix += p.literal;
    materialise(name, part + 1, prefix, out);
  } else {
    for (const Range& r : p.ranges) {
      for (uint64_t v = r.lo;; ++v) {
        prefix += padded(v, r.width);
        materialise(name, part + 1, prefix, out);
        prefix.resize(keep);
        if (v == r.hi) break;
      }
    }
  }
  prefix.resize(keep);
}

// Splits on commas that are not inside brackets; offsets say where each item starts.
std::vector<std::pair<std::string_view, size_t>> split_top_level(std::string_view text) {
  std::vector<std::pair<std::string_view, size_t>> items;
  int depth = 0;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i < text.size()) {
      if (text[i] == '[') ++depth;
      if (text[i] == ']' && depth > 0) --depth;
      if (text[i] != ',' || depth > 0) continue;
    }
    items.emplace_back(text.substr(start, i - start), start);
    start = i + 1;
  }
  return items;
}

std::string too_many(uint64_t count, size_t max_hosts) {
  const std::string n = count >= kSaturated ? "an enormous number of" : std::to_string(count);
  return "names " + n + " hosts, more than the limit of " + std::to_string(max_hosts);
}

Error too_many_error(std::string_view text, uint64_t count, size_t max_hosts) {
  return make_error(Errc::invalid_argument,
                    "hostlist \"" + std::string(text) + "\" " + too_many(count, max_hosts));
}

Result<HostEntry> split_entry(std::string_view text, std::string_view item, size_t offset,
                              std::string_view& host_part, size_t& host_offset) {
  HostEntry e;
  host_part = item;
  host_offset = offset;
  const size_t at = item.find('@');
  if (at != std::string_view::npos) {
    e.user = std::string(item.substr(0, at));
    if (e.user.empty()) return bad(text, offset, "empty user name before '@'");
    host_part = item.substr(at + 1);
    host_offset = offset + at + 1;
  }
  const size_t last_bracket = host_part.rfind(']');
  const size_t colon = host_part.rfind(':');
  if (colon != std::string_view::npos &&
      (last_bracket == std::string_view::npos || colon > last_bracket)) {
    const std::string_view slots = host_part.substr(colon + 1);
    uint64_t n = 0;
    if (!parse_u64(slots, n) || n == 0 || n > UINT32_MAX) {
      return bad(text, host_offset + colon + 1,
                 "slots \"" + std::string(slots) + "\" must be a whole number >= 1");
    }
    e.slots = static_cast<uint32_t>(n);
    host_part = host_part.substr(0, colon);
  }
  if (host_part.empty()) return bad(text, host_offset, "empty host name");
  return e;
}

}  // namespace

Result<std::vector<std::string>> expand_hostlist(std::string_view text, size_t max_hosts) {
  if (trim(text).empty()) return make_error(Errc::invalid_argument, "empty hostlist");
  // Count everything first: a huge range must fail before anything is allocated.
  std::vector<Name> parsed;
  uint64_t total = 0;
  for (const auto& [item, offset] : split_top_level(text)) {
    const std::string_view t = trim(item);
    if (t.empty()) return bad(text, offset, "empty host name");
    auto name = parse_name(text, t, offset + item.find(t));
    if (!name) return name.error();
    total = saturating_add(total, name->count);
    parsed.push_back(std::move(*name));
  }
  if (total > max_hosts) return too_many_error(text, total, max_hosts);
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(total));
  std::string prefix;
  for (const Name& name : parsed)
    materialise(name, 0, prefix, out);
  return out;
}

Result<std::vector<HostEntry>> parse_host_list(std::string_view text, size_t max_hosts) {
  if (trim(text).empty()) return make_error(Errc::invalid_argument, "empty host list");
  std::vector<std::pair<HostEntry, Name>> parsed;
  uint64_t total = 0;
  for (const auto& [raw, raw_offset] : split_top_level(text)) {
    const std::string_view item = trim(raw);
    if (item.empty()) return bad(text, raw_offset, "empty host entry");
    const size_t offset = raw_offset + raw.find(item);
    std::string_view host_part;
    size_t host_offset = 0;
    auto entry = split_entry(text, item, offset, host_part, host_offset);
    if (!entry) return entry.error();
    auto name = parse_name(text, host_part, host_offset);
    if (!name) return name.error();
    total = saturating_add(total, name->count);
    parsed.emplace_back(std::move(*entry), std::move(*name));
  }
  if (total > max_hosts) return too_many_error(text, total, max_hosts);
  std::vector<HostEntry> out;
  out.reserve(static_cast<size_t>(total));
  std::vector<std::string> names;
  std::string prefix;
  for (const auto& [entry, name] : parsed) {
    names.clear();
    materialise(name, 0, prefix, names);
    for (auto& n : names) {
      HostEntry e = entry;
      e.name = std::move(n);
      out.push_back(std::move(e));
    }
  }
  return out;
}

Result<std::vector<HostEntry>> parse_hostfile_text(std::string_view text,
                                                   const std::string& source) {
  std::vector<HostEntry> out;
  size_t line_no = 0;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) eol = text.size();
    std::string_view line = text.substr(pos, eol - pos);
    pos = eol + 1;
    ++line_no;
    const auto fail = [&](const std::string& what) {
      return make_error(Errc::invalid_argument,
                        source + ":" + std::to_string(line_no) + ": " + what);
    };
    if (const size_t hash = line.find('#'); hash != std::string_view::npos) {
      line = line.substr(0, hash);
    }
    line = trim(line);
    if (line.empty()) continue;

    std::istringstream words{std::string(line)};
    std::string host;
    words >> host;
    auto entries = parse_host_list(host, kMaxHostfileHosts);
    if (!entries) return fail(entries.error().message);
    if (out.size() + entries->size() > kMaxHostfileHosts) {
      return fail("the hostfile names more than " + std::to_string(kMaxHostfileHosts) + " hosts");
    }
    std::string word;
    while (words >> word) {
      uint64_t n = 0;
      if (word.rfind("slots=", 0) != 0) {
        return fail("unknown field \"" + word + "\"; a line is \"[user@]host [slots=N]\"");
      }
      if (!parse_u64(std::string_view(word).substr(6), n) || n == 0 || n > UINT32_MAX) {
        return fail("\"" + word + "\": slots must be a whole number >= 1");
      }
      for (auto& e : *entries) {
        if (e.slots != 0) return fail("slots given twice (\"host:N\" and \"slots=N\")");
        e.slots = static_cast<uint32_t>(n);
      }
    }
    for (auto& e : *entries)
      out.push_back(std::move(e));
  }
  return out;
}

Result<std::vector<HostEntry>> parse_hostfile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(Errc::not_found, "cannot open hostfile " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return make_error(Errc::io, "cannot read hostfile " + path);
  return parse_hostfile_text(ss.str(), path);
}

Result<std::vector<uint32_t>> expand_tasks_per_node(std::string_view text, size_t max_nodes) {
  const auto fail = [&](const std::string& what) {
    return make_error(Errc::invalid_argument,
                      "SLURM_TASKS_PER_NODE \"" + std::string(text) + "\": " + what);
  };
  if (trim(text).empty()) return fail("empty");
  struct Item {
    uint32_t tasks;
    uint64_t repeat;
  };
  std::vector<Item> items;
  uint64_t total = 0;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view piece = trim(text.substr(start, end - start));
    start = end + 1;
    uint64_t repeat = 1;
    if (const size_t paren = piece.find('('); paren != std::string_view::npos) {
      const std::string_view rep = piece.substr(paren);
      if (rep.size() < 4 || rep.substr(0, 2) != "(x" || rep.back() != ')' ||
          !parse_u64(rep.substr(2, rep.size() - 3), repeat) || repeat == 0) {
        return fail("\"" + std::string(piece) + "\" must be N or N(xM) with M >= 1");
      }
      piece = piece.substr(0, paren);
    }
    uint64_t tasks = 0;
    if (!parse_u64(piece, tasks) || tasks > UINT32_MAX) {
      return fail("\"" + std::string(piece) + "\" is not a task count");
    }
    total = saturating_add(total, std::min(repeat, kSaturated));
    if (total > max_nodes) {
      return fail("names more than " + std::to_string(max_nodes) + " nodes");
    }
    items.push_back({static_cast<uint32_t>(tasks), repeat});
  }
  std::vector<uint32_t> out;
  out.reserve(static_cast<size_t>(total));
  for (const Item& it : items)
    out.insert(out.end(), static_cast<size_t>(it.repeat), it.tasks);
  return out;
}

}  // namespace meshrun
