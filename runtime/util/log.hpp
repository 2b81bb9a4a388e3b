// Diagnostics on stderr. One line per call, written with a single write(2) so
// lines from concurrent processes never interleave inside a line.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace meshrun::log {

enum class Level { quiet = 0, error = 1, warn = 2, info = 3, verbose = 4, debug = 5 };

void set_level(Level level);
Level level();
// The program name printed before each line, e.g. "meshrun" or "meshrun-agent[host 3]".
void set_program(std::string name);
const std::string& program();

bool enabled(Level level);
void write(Level level, std::string_view text);

// Coloured "error:"/"warning:" labels. By default on only when stderr is a
// terminal, TERM is not "dumb" and NO_COLOR is not set (https://no-color.org).
void set_color(bool on);
bool color();

// Runs before every line is written, so a progress line drawn on the terminal
// can erase itself first. An empty function removes the hook.
void set_before_write(std::function<void()> hook);

inline void error(std::string_view text) {
  write(Level::error, text);
}
inline void warn(std::string_view text) {
  write(Level::warn, text);
}
inline void info(std::string_view text) {
  write(Level::info, text);
}
inline void verbose(std::string_view text) {
  write(Level::verbose, text);
}
inline void debug(std::string_view text) {
  write(Level::debug, text);
}

}  // namespace meshrun::log
