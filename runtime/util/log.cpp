#include "util/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace meshrun::log {
namespace {
Level g_level = Level::warn;
std::string g_program = "meshrun";
int g_color = -1;  // -1: decide on first use
std::function<void()> g_before_write;
std::function<void()> g_after_write;

bool detect_color() {
  if (std::getenv("NO_COLOR") != nullptr) return false;
  const char* term = std::getenv("TERM");
  if (term == nullptr || std::strcmp(term, "dumb") == 0) return false;
  return ::isatty(STDERR_FILENO) == 1;
}
}  // namespace

void set_color(bool on) {
  g_color = on ? 1 : 0;
}
bool color() {
  if (g_color < 0) g_color = detect_color() ? 1 : 0;
  return g_color == 1;
}
void set_before_write(std::function<void()> hook) {
  g_before_write = std::move(hook);
}
void set_after_write(std::function<void()> hook) {
  g_after_write = std::move(hook);
}

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

namespace {

void write_line(const std::string& line) {
  if (g_before_write) g_before_write();
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    p += n;
    left -= static_cast<size_t>(n);
  }
  if (g_after_write) g_after_write();
}

std::string format(Level l, std::string_view text) {
  std::string line;
  line.reserve(g_program.size() + text.size() + 12);
  line += g_program;
  const bool paint = (l == Level::error || l == Level::warn) && color();
  switch (l) {
    case Level::error:
      line += paint ? ": \033[1;31merror:\033[0m " : ": error: ";
      break;
    case Level::warn:
      line += paint ? ": \033[1;35mwarning:\033[0m " : ": warning: ";
      break;
    default:
      line += ": ";
      break;
  }
  line += text;
  line += '\n';
  return line;
}

}  // namespace

void write(Level l, std::string_view text) {
  if (enabled(l)) write_line(format(l, text));
}

void notice(std::string_view text) {
  if (enabled(Level::warn)) write_line(format(Level::info, text));
}

void security(std::string_view text) {
  write_line(format(Level::warn, text));
}

void relay(std::string_view line) {
  std::string out(line);
  out += '\n';
  write_line(out);
}

}  // namespace meshrun::log
