#include "process/line_splitter.hpp"

#include <algorithm>

namespace meshrun {

std::string LineSplitter::feed(std::string_view bytes) {
  // Bytes already in buf_ hold no newline (or were returned), so only the new
  // bytes are scanned: a long line arriving in small reads stays linear.
  size_t scan = buf_.size();
  buf_.append(bytes);
  const size_t cap = max_line_ == 0 ? std::string::npos : max_line_;
  std::string out;
  size_t pos = 0;   // start of the current line
  size_t done = 0;  // buf_[done, pos) is whole lines not yet copied to out
  while (pos < buf_.size()) {
    size_t nl = buf_.find('\n', std::max(scan, pos));
    size_t len = (nl == std::string::npos ? buf_.size() : nl) - pos;
    if (len > cap) {
      out.append(buf_, done, pos - done);
      out.append(buf_, pos, cap);
      out.push_back('\n');
      pos += cap;
      done = pos;
      continue;
    }
    if (nl == std::string::npos) break;
    pos = nl + 1;
  }
  if (out.empty() && done == 0) {
    out = buf_.substr(0, pos);
  } else {
    out.append(buf_, done, pos - done);
  }
  buf_.erase(0, pos);
  return out;
}

std::string LineSplitter::finish() {
  std::string rest;
  rest.swap(buf_);
  return rest;
}

}  // namespace meshrun
