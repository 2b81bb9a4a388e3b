// Where ranks' output lands: meshrun's stdout/stderr, whole lines at a time,
// optionally tagged "[rank] ", or one file per rank.
#pragma once

#include <map>
#include <string>

#include "wire/messages.hpp"

namespace meshrun {

struct OutputOptions {
  bool tag = false;
  bool raw = false;
  std::string filename_pattern;  // %r rank, %h host
  // When one rank's line is left open (a prompt, or a line cut short) and
  // another rank's output comes, end the open line first so the other's
  // starts on a line of its own (with one rank, bytes pass as they are).
  bool end_partial_lines = true;
};

class OutputWriter {
 public:
  explicit OutputWriter(OutputOptions options) : options_(std::move(options)) {}
  ~OutputWriter();
  // `host` names the rank's host for %h.
  void write(const Output& out, const std::string& host);

 private:
  int file_for(uint32_t rank, const std::string& host);
  OutputOptions options_;
  std::map<uint32_t, int> files_;
  // Per descriptor, the rank whose line is open there (its last bytes had
  // no newline): its next bytes continue that line, untagged.
  std::map<int, uint32_t> open_line_;
  std::string scratch_;
};

// write(2) until done; EINTR retried, EAGAIN waited out with poll.
void write_all(int fd, const char* data, size_t size);

}  // namespace meshrun
