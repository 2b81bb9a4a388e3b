// The start-up status line: "meshrun: hosts connected 3/8, ready 2/8" drawn
// on the terminal and redrawn in place as a job starts, erased before any
// other line and drawn again after it, and gone for good once the job runs.
// Nothing at all when stderr is not a terminal or with -q.
#pragma once

#include <string>
#include <string_view>

namespace meshrun {

class ProgressLine {
 public:
  // On stderr, enabled when it is a terminal (TERM not "dumb") and warnings
  // are shown (not -q).
  ProgressLine();
  // On `fd`, enabled as told (tests draw on a pipe).
  ProgressLine(int fd, bool enabled);
  ~ProgressLine();
  ProgressLine(const ProgressLine&) = delete;
  ProgressLine& operator=(const ProgressLine&) = delete;

  bool enabled() const { return enabled_; }
  // Replaces the line with `text`, cut to the terminal's width so it never wraps.
  void update(std::string_view text);
  // Erases the line if one is shown. Log lines call this first (log hook).
  void clear();
  // Draws the last text again after clear(). Log lines call this after
  // themselves (log hook).
  void redraw();
  // Erases the line and never draws it again: the job is running.
  void finish();

 private:
  void draw();
  int fd_;
  bool enabled_;
  bool shown_ = false;
  bool finished_ = false;
  std::string last_;
};

}  // namespace meshrun
