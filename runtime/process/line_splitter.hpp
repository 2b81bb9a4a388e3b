// Cuts a byte stream (a child's stdout or stderr) into whole lines, so output
// is forwarded a line at a time and never split inside one.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace meshrun {

class LineSplitter {
 public:
  explicit LineSplitter(size_t max_line = 4u << 20) : max_line_(max_line) {}

  // Appends bytes. Returns the longest prefix of buffered data that ends in a
  // newline (possibly empty); a line longer than max_line is cut at max_line
  // and the cut piece is returned as if it ended there, with a '\n' added, so
  // every non-empty result is whole lines. max_line 0: no cap.
  std::string feed(std::string_view bytes);
  // At end of stream: whatever is left (a final line without a newline).
  std::string finish();
  size_t buffered() const { return buf_.size(); }

 private:
  size_t max_line_;
  std::string buf_;
};

}  // namespace meshrun
