#include "agent/torch_error_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "wire/rank_notes.hpp"

namespace meshrun {

namespace {

constexpr size_t kMaxRead = 1u << 20;
constexpr size_t kMaxText = 16u << 10;  // of a message or traceback passed on

std::string clip(std::string s) {
  if (s.size() > kMaxText) s = s.substr(0, kMaxText) + "... (cut)";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
    s.pop_back();
  return s;
}

std::string read_some(const std::string& path) {
  std::string data;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return data;
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    data.append(buf, static_cast<size_t>(n));
    if (data.size() >= kMaxRead) break;
  }
  ::close(fd);
  return data;
}

}  // namespace

std::string torch_error_file(const std::string& job_dir, uint32_t rank) {
  return job_dir + "/torch-error." + std::to_string(rank) + ".json";
}

std::vector<std::string> torch_error_notes(const std::string& path) {
  const std::string data = read_some(path);
  if (data.empty()) return {};
  std::vector<std::string> notes{rank_note::make(rank_note::kErrorFile, path)};
  // torch 1.13+: {"message": {"message": "T: e", "extraInfo": {"py_callstack": "..."}}};
  // errors from C++ may carry a plain string.
  auto json = nlohmann::json::parse(data, nullptr, /*allow_exceptions=*/false);
  std::string message, trace;
  if (json.is_object() && json.contains("message")) {
    const auto& m = json["message"];
    if (m.is_string()) {
      message = m.get<std::string>();
    } else if (m.is_object()) {
      if (m.contains("message") && m["message"].is_string())
        message = m["message"].get<std::string>();
      if (m.contains("extraInfo") && m["extraInfo"].is_object()) {
        const auto& extra = m["extraInfo"];
        if (extra.contains("py_callstack") && extra["py_callstack"].is_string())
          trace = extra["py_callstack"].get<std::string>();
      }
    }
  }
  if (message.empty() && trace.empty()) message = data.substr(0, 4096);
  if (!message.empty()) notes.push_back(rank_note::make(rank_note::kErrorMessage, clip(message)));
  if (!trace.empty()) notes.push_back(rank_note::make(rank_note::kErrorTrace, clip(trace)));
  return notes;
}

}  // namespace meshrun
