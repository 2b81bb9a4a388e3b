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

// Run before and after every line is written (log lines and relayed ones),
// so a progress line drawn on the terminal can erase itself first and come
// back after. An empty function removes a hook.
void set_before_write(std::function<void()> hook);
void set_after_write(std::function<void()> hook);

// A line another process wrote (an agent's diagnostics), passed on to
// stderr as it is, whatever the level, between the hooks.
void relay(std::string_view line);

// A plain line (no label) shown unless -q: summaries a user and CI read.
void notice(std::string_view text);

// A warning about security (plain TCP, refused strangers): shown even with
// -q, which hides every other warning.
void security(std::string_view text);

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
