#include "launcher/output_writer.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/log.hpp"

namespace meshrun {

void write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) {
        pollfd p{fd, POLLOUT, 0};
        ::poll(&p, 1, 1000);
        continue;
      }
      return;  // a closed terminal or pipe: nothing more to do with the bytes
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

OutputWriter::~OutputWriter() {
  for (auto& [rank, fd] : files_)
    ::close(fd);
}

int OutputWriter::file_for(uint32_t rank, const std::string& host) {
  auto it = files_.find(rank);
  if (it != files_.end()) return it->second;
  std::string path;
  const auto& p = options_.filename_pattern;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '%' && i + 1 < p.size()) {
      if (p[i + 1] == 'r') {
        path += std::to_string(rank);
        ++i;
        continue;
      }
      if (p[i + 1] == 'h') {
        path += host;
        ++i;
        continue;
      }
      if (p[i + 1] == '%') {
        path += '%';
        ++i;
        continue;
      }
    }
    path += p[i];
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_APPEND, 0644);
  if (fd < 0) log::error("cannot open output file " + path + ": " + std::strerror(errno));
  files_[rank] = fd;
  return fd;
}

void OutputWriter::write(const Output& out, const std::string& host) {
  int fd = out.stream == 2 ? STDERR_FILENO : STDOUT_FILENO;
  if (!options_.filename_pattern.empty()) {
    fd = file_for(out.proc, host);
    if (fd < 0) return;
  }
  if (options_.raw) {
    write_all(fd, out.data.data(), out.data.size());
    return;
  }
  // Lines arrive whole; a final piece without a newline gets one so the next
  // rank's line starts on its own line.
  const bool needs_newline =
      options_.end_partial_lines && !out.data.empty() && out.data.back() != '\n';
  if (!options_.tag) {
    if (!needs_newline) {
      write_all(fd, out.data.data(), out.data.size());
    } else {
      scratch_.assign(out.data);
      scratch_ += '\n';
      write_all(fd, scratch_.data(), scratch_.size());
    }
    return;
  }
  const std::string tag = "[" + std::to_string(out.proc) + "] ";
  scratch_.clear();
  size_t start = 0;
  while (start < out.data.size()) {
    size_t nl = out.data.find('\n', start);
    size_t end = nl == std::string::npos ? out.data.size() : nl + 1;
    scratch_ += tag;
    scratch_.append(out.data, start, end - start);
    start = end;
  }
  if (needs_newline) scratch_ += '\n';
  write_all(fd, scratch_.data(), scratch_.size());
}

}  // namespace meshrun
