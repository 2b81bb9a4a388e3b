#include "util/job_dir.hpp"

#include <dirent.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace meshrun {

std::string make_job_id() {
  unsigned char b[8] = {};
  RAND_bytes(b, sizeof b);
  static const char* digits = "0123456789abcdef";
  std::string id;
  for (unsigned char c : b) {
    id += digits[c >> 4];
    id += digits[c & 15];
  }
  return id;
}

Result<JobDir> JobDir::create(const std::string& job_id) {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp && *tmp ? tmp : "/tmp";
  // Unix socket paths are limited to 107 bytes; fall back to /tmp for long TMPDIRs.
  if (base.size() > 60) base = "/tmp";
  std::string tmpl = base + "/meshrun-" + job_id + "-XXXXXX";
  if (!::mkdtemp(tmpl.data()))
    return make_error(Errc::io,
                      "cannot create a job directory in " + base + ": " + std::strerror(errno));
  ::chmod(tmpl.c_str(), 0700);
  JobDir d;
  d.path_ = tmpl;
  return d;
}

JobDir::JobDir(JobDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

JobDir::~JobDir() {
  if (path_.empty()) return;
  // Only sockets and small files live here; no subdirectories.
  if (DIR* d = ::opendir(path_.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      ::unlink((path_ + "/" + e->d_name).c_str());
    }
    ::closedir(d);
  }
  ::rmdir(path_.c_str());
}

}  // namespace meshrun
