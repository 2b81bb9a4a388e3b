#include "launcher/progress.hpp"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "util/log.hpp"

namespace meshrun {
namespace {

// Back to column 0 and erase to the end of the line.
constexpr std::string_view kErase = "\r\033[K";

bool stderr_wants_progress() {
  const char* term = std::getenv("TERM");
  if (term == nullptr || std::strcmp(term, "dumb") == 0) return false;
  return ::isatty(STDERR_FILENO) == 1 && log::enabled(log::Level::warn);
}

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    s.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

ProgressLine::ProgressLine() : ProgressLine(STDERR_FILENO, stderr_wants_progress()) {}

ProgressLine::ProgressLine(int fd, bool enabled) : fd_(fd), enabled_(enabled) {
  if (!enabled_) return;
  log::set_before_write([this] { clear(); });
  log::set_after_write([this] { redraw(); });
}

ProgressLine::~ProgressLine() {
  if (!enabled_) return;
  clear();
  log::set_before_write({});
  log::set_after_write({});
}

void ProgressLine::update(std::string_view text) {
  if (!enabled_ || finished_ || (shown_ && text == last_)) return;
  last_ = text;
  draw();
}

void ProgressLine::redraw() {
  if (!enabled_ || finished_ || shown_ || last_.empty()) return;
  draw();
}

void ProgressLine::finish() {
  clear();
  finished_ = true;
}

void ProgressLine::draw() {
  const std::string_view text = last_;
  std::string line(kErase);
  line += log::program();
  line += ": ";
  line += text;
  winsize ws{};
  // One column short of the width: a full line would move the cursor on.
  if (::ioctl(fd_, TIOCGWINSZ, &ws) == 0 && ws.ws_col > kErase.size() + 1)
    line.resize(std::min<size_t>(line.size(), kErase.size() + ws.ws_col - 1));
  write_all(fd_, line);
  shown_ = true;
}

void ProgressLine::clear() {
  if (!shown_) return;
  write_all(fd_, kErase);
  shown_ = false;
}

}  // namespace meshrun
