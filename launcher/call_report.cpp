#include "launcher/call_report.hpp"

#include <unistd.h>

#include <cstdio>

#include "launcher/output_writer.hpp"
#include "mesh/reducer.hpp"
#include "util/text_escape.hpp"

namespace meshrun {
namespace {

uint32_t host_of(const MeshRef& target, uint32_t rank) {
  return target.host_of(target.proc_rank(rank));
}

std::string rank_list(const std::vector<uint32_t>& ranks) {
  std::string out;
  for (size_t i = 0; i < ranks.size();) {
    size_t j = i;
    while (j + 1 < ranks.size() && ranks[j + 1] == ranks[j] + 1)
      ++j;
    out += (out.empty() ? "" : ", ") + std::to_string(ranks[i]);
    if (j > i) out += "-" + std::to_string(ranks[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace

std::string human_ms(double ms) {
  char buf[32];
  if (ms >= 1000)
    std::snprintf(buf, sizeof buf, "%.2f s", ms / 1000);
  else if (ms >= 10)
    std::snprintf(buf, sizeof buf, "%.1f ms", ms);
  else
    std::snprintf(buf, sizeof buf, "%.2f ms", ms);
  return buf;
}

void CallReport::out(const std::string& text) {
  write_all(STDOUT_FILENO, text.data(), text.size());
}

std::string CallReport::json_record(std::string_view type, const CallRecord& r) const {
  const CallResult& res = r.result;
  std::string s = "{\"type\":" + json_string(type) + ",\"mesh\":" + json_string(r.target.name) +
                  ",\"target\":" + json_string(r.target.to_string()) +
                  ",\"message\":" + json_string(r.message);
  if (r.reducer != ReducerKind::none) s += ",\"reduce\":" + json_string(reducer_name(r.reducer));
  s += ",\"expected\":" + std::to_string(res.expected) +
       ",\"replied\":" + std::to_string(res.replied);
  if (r.reducer == ReducerKind::none) {
    s += ",\"replies\":{";
    bool first = true;
    for (const auto& [rank, value] : res.replies) {
      s += (first ? "\"" : ",\"") + std::to_string(rank) + "\":" + json_string(value);
      first = false;
    }
    s += "}";
  } else {
    s += ",\"value\":" + (res.value ? json_string(*res.value) : std::string("null"));
  }
  s += ",\"failures\":[";
  for (size_t i = 0; i < res.failures.size(); ++i) {
    const auto& f = res.failures[i];
    s += (i ? ",{" : "{") + std::string("\"rank\":") + std::to_string(f.rank) +
         ",\"host\":" + std::to_string(host_of(r.target, f.rank)) +
         ",\"cause\":" + json_string(f.cause) + "}";
  }
  s += "],\"missing\":[";
  for (size_t i = 0; i < res.missing.size(); ++i)
    s += (i ? "," : "") + std::to_string(res.missing[i]);
  s += "]";
  if (!res.error.empty()) s += ",\"error\":" + json_string(res.error);
  char ms[32];
  std::snprintf(ms, sizeof ms, "%.3f", r.ms);
  s += ",\"ms\":" + std::string(ms) + ",\"ok\":" + (res.ok() ? "true" : "false") + "}\n";
  return s;
}

void CallReport::cast(const CallRecord& r) {
  if (json_) {
    out(json_record("cast", r));
    return;
  }
  const CallResult& res = r.result;
  std::string s = "cast " + printable(r.message) + " to " + r.target.to_string();
  if (r.reducer != ReducerKind::none) s += " (reduce " + std::string(reducer_name(r.reducer)) + ")";
  s += ": " + std::to_string(res.replied) + " of " + std::to_string(res.expected) +
       " actors replied";
  if (timings_) s += " in " + human_ms(r.ms);
  s += "\n";
  if (r.reducer != ReducerKind::none) {
    if (res.value) s += "  value: " + printable(*res.value) + "\n";
  } else {
    for (const auto& [rank, value] : res.replies)
      s += "  rank " + std::to_string(rank) + ": " + printable(value) + "\n";
  }
  for (const auto& f : res.failures)
    s += "  rank " + std::to_string(f.rank) + " (host " +
         std::to_string(host_of(r.target, f.rank)) + ") failed: " + printable(f.cause) + "\n";
  if (!res.missing.empty())
    s += "  no reply from rank" + std::string(res.missing.size() > 1 ? "s " : " ") +
         rank_list(res.missing) + "\n";
  if (!res.error.empty()) s += "  " + printable(res.error) + "\n";
  out(s);
}

void CallReport::call(const CallRecord& r) {
  if (json_) out(json_record("call", r));
}

void CallReport::print(std::string_view line) {
  if (json_)
    out("{\"type\":\"print\",\"text\":" + json_string(line) + "}\n");
  else
    out(printable(line) + "\n");
}

void CallReport::exit(int status, std::string_view message) {
  if (!json_) return;
  std::string s = "{\"type\":\"exit\",\"status\":" + std::to_string(status);
  if (!message.empty()) s += ",\"message\":" + json_string(message);
  out(s + "}\n");
}

}  // namespace meshrun
