// Where ranks' output lands: meshrun's stdout/stderr, whole lines at a time,
// optionally tagged "[rank] ", or files named by a pattern. Output that cannot
// be written is never dropped silently: the first error on each destination
// is reported with the file and the rank, and lost() says so at the end.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "util/result.hpp"
#include "wire/messages.hpp"

namespace meshrun {

struct OutputOptions {
  bool tag = false;
  bool raw = false;
  // %r rank, %h host, %% a percent sign. Without %r several ranks share a
  // file, and every line in it is tagged with its rank.
  std::string filename_pattern;
  // When one rank's line is left open (a prompt, or a line cut short) and
  // another rank's output comes, end the open line first so the other's
  // starts on a line of its own (with one rank, bytes pass as they are).
  bool end_partial_lines = true;
};

// Whether ranks would share a file (the pattern has no %r and there is more
// than one rank).
bool output_files_shared(const OutputOptions& options, uint64_t ranks);

// Before anything starts: a pattern whose directory does not exist, or raw
// output (which has no lines to tag) into a file several ranks share.
Status check_output_options(const OutputOptions& options, uint64_t ranks);

class OutputWriter {
 public:
  OutputWriter(OutputOptions options, uint64_t ranks);
  ~OutputWriter();
  // `host` names the rank's host for %h.
  void write(const Output& out, const std::string& host);
  // meshrun's own lines (cast replies) on its stdout.
  void print(std::string_view text);
  // Closes the files; a close that fails (NFS reports late) is output lost too.
  void close_all();
  // Some output could not be written (and was reported).
  bool lost() const { return lost_; }

 private:
  struct Destination {
    std::string name;  // the file, or "meshrun's standard output"
    int fd = -1;
    bool owned = false;  // a file we opened
    bool failed = false;
    // A rank's line is open here (its last bytes had no newline): its next
    // bytes continue that line, untagged.
    bool open_line = false;
    uint32_t open_rank = 0;
  };
  Destination* destination_for(const Output& out, const std::string& host);
  void put(Destination& d, std::string_view text, uint32_t rank, bool has_rank);
  void fail(Destination& d, int err, uint32_t rank, bool has_rank);

  OutputOptions options_;
  bool shared_ = false;
  Destination stdout_{"meshrun's standard output", 1};
  Destination stderr_{"meshrun's standard error", 2};
  std::map<std::string, std::unique_ptr<Destination>> files_;  // by path
  std::map<uint32_t, Destination*> by_rank_;
  std::string scratch_;
  bool lost_ = false;
};

// write(2) until done; EINTR retried, EAGAIN waited out with poll.
// Returns 0, or the errno that stopped it.
int write_all(int fd, const char* data, size_t size);

}  // namespace meshrun
