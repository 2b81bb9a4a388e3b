#include "util/log.hpp"

#include <unistd.h>

#include <cerrno>

namespace meshrun::log {
namespace {
Level g_level = Level::warn;
std::string g_program = "meshrun";
}  // namespace

void set_level(Level level) {
  g_level = level;
}
Level level() {
  return g_level;
}
void set_program(std::string name) {
  g_program = std::move(name);
}
const std::string& program() {
  return g_program;
}
bool enabled(Level l) {
  return static_cast<int>(l) <= static_cast<int>(g_level);
}

void write(Level l, std::string_view text) {
  if (!enabled(l)) return;
  std::string line;
  line.reserve(g_program.size() + text.size() + 12);
  line += g_program;
  switch (l) {
    case Level::error:
      line += ": error: ";
      break;
    case Level::warn:
      line += ": warning: ";
      break;
    default:
      line += ": ";
      break;
  }
  line += text;
  line += '\n';
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace meshrun::log
