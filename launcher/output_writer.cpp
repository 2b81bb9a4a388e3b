#include "launcher/output_writer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/log.hpp"

namespace meshrun {
namespace {

// The pattern with %r and %h filled in (%% is a percent sign).
std::string expand(const std::string& p, const std::string& rank, const std::string& host) {
  std::string path;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '%' && i + 1 < p.size()) {
      const char c = p[i + 1];
      if (c == 'r' || c == 'h' || c == '%') {
        path += c == 'r' ? rank : c == 'h' ? host : "%";
        ++i;
        continue;
      }
    }
    path += p[i];
  }
  return path;
}

bool has_rank(const std::string& pattern) {
  for (size_t i = 0; i + 1 < pattern.size(); ++i) {
    if (pattern[i] != '%') continue;
    if (pattern[i + 1] == 'r') return true;
    ++i;  // %% or another: skip the pair
  }
  return false;
}

}  // namespace

int write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, 1000);
        continue;
      }
      return errno;
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return 0;
}

bool output_files_shared(const OutputOptions& options, uint64_t ranks) {
  return !options.filename_pattern.empty() && !has_rank(options.filename_pattern) && ranks > 1;
}

Status check_output_options(const OutputOptions& options, uint64_t ranks) {
  const auto& p = options.filename_pattern;
  if (p.empty()) return {};
  if (options.raw && output_files_shared(options, ranks))
    return make_error(Errc::invalid_argument,
                      "--output-filename " + p + " has no %r, so " + std::to_string(ranks) +
                          " ranks would share its file, and --raw output has no lines to tag "
                          "with their ranks: add %r to the pattern or drop --raw");
  // A directory named by %h or %r is only known once hosts are up; its
  // errors are reported per file then.
  const auto slash = p.rfind('/');
  if (slash == std::string::npos) return {};
  const std::string dir = slash == 0 ? "/" : p.substr(0, slash);
  if (dir.find('%') != std::string::npos) return {};
  struct stat st;
  if (::stat(dir.c_str(), &st) != 0)
    return make_error(Errc::invalid_argument, "--output-filename " + p + ": the directory " + dir +
                                                  ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode))
    return make_error(Errc::invalid_argument,
                      "--output-filename " + p + ": " + dir + " is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return make_error(Errc::invalid_argument, "--output-filename " + p + ": cannot write in " +
                                                  dir + ": " + std::strerror(errno));
  return {};
}

OutputWriter::OutputWriter(OutputOptions options, uint64_t ranks)
    : options_(std::move(options)), shared_(output_files_shared(options_, ranks)) {}

OutputWriter::~OutputWriter() {
  close_all();
}

void OutputWriter::close_all() {
  for (auto& [path, d] : files_) {
    if (!d->owned || d->fd < 0) continue;
    if (::close(d->fd) != 0 && !d->failed) fail(*d, errno, 0, false);
    d->fd = -1;
  }
}

void OutputWriter::fail(Destination& d, int err, uint32_t rank, bool has_rank) {
  lost_ = true;
  if (d.failed) return;
  d.failed = true;
  const std::string whose =
      has_rank ? "rank " + std::to_string(rank) + "'s output" : std::string("output");
  log::error("cannot write " + whose + " to " + d.name + ": " + std::strerror(err) +
             "; what follows for it is lost");
}

OutputWriter::Destination* OutputWriter::destination_for(const Output& out,
                                                         const std::string& host) {
  if (options_.filename_pattern.empty()) return out.stream == 2 ? &stderr_ : &stdout_;
  if (auto it = by_rank_.find(out.proc); it != by_rank_.end()) return it->second;
  const std::string path = expand(options_.filename_pattern, std::to_string(out.proc), host);
  auto& d = files_[path];
  if (!d) {
    // Truncated once, by the first rank that writes it.
    d = std::make_unique<Destination>();
    d->name = path;
    d->owned = true;
    d->fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
    if (d->fd < 0) fail(*d, errno, out.proc, true);
  }
  by_rank_[out.proc] = d.get();
  return d.get();
}

void OutputWriter::put(Destination& d, std::string_view text, uint32_t rank, bool has_rank) {
  if (d.failed) {
    lost_ = true;
    return;
  }
  if (int err = write_all(d.fd, text.data(), text.size())) fail(d, err, rank, has_rank);
}

void OutputWriter::print(std::string_view text) {
  put(stdout_, text, 0, false);
}

void OutputWriter::write(const Output& out, const std::string& host) {
  Destination* d = destination_for(out, host);
  if (options_.raw) {
    put(*d, out.data, out.proc, true);
    return;
  }
  // Lines arrive whole, or as a partial line that waited (a prompt) and is
  // continued by the same rank's next bytes.
  if (out.data.empty()) return;
  const bool continuing = d->open_line && d->open_rank == out.proc;
  const bool end_other = d->open_line && !continuing && options_.end_partial_lines;
  d->open_line = out.data.back() != '\n';
  d->open_rank = out.proc;
  const bool tag = options_.tag || (shared_ && d->owned);
  if (!tag && !end_other) {
    put(*d, out.data, out.proc, true);
    return;
  }
  scratch_.assign(end_other ? "\n" : "");
  if (!tag) {
    scratch_ += out.data;
  } else {
    const std::string label = "[" + std::to_string(out.proc) + "] ";
    size_t start = 0;
    while (start < out.data.size()) {
      size_t nl = out.data.find('\n', start);
      size_t end = nl == std::string::npos ? out.data.size() : nl + 1;
      if (start > 0 || !continuing) scratch_ += label;
      scratch_.append(out.data, start, end - start);
      start = end;
    }
  }
  put(*d, scratch_, out.proc, true);
}

}  // namespace meshrun
