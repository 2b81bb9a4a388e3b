#include "util/job_dir.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "process/proc_stat.hpp"

namespace meshrun {
namespace {

constexpr const char* kPrefix = "meshrun-";
// Who made the directory: "PID START_TIME" of its launcher.
constexpr const char* kOwnerFile = "owner";

std::string job_dir_base() {
  const char* tmp = std::getenv("TMPDIR");
  std::string base = tmp && *tmp ? tmp : "/tmp";
  // Unix socket paths are limited to 107 bytes; fall back to /tmp for long TMPDIRs.
  if (base.size() > 60) base = "/tmp";
  return base;
}

// Sockets, small files, and the directories of a host's ranks (the PMIx
// server's, the MPI library's session files), depth first. Through the
// directories' descriptors, so a swapped-in symlink is never followed.
void remove_dir_at(int parent, const char* name, int depth = 0) {
  const int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  if (DIR* d = ::fdopendir(fd)) {
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
      if (::unlinkat(fd, e->d_name, 0) != 0 && (errno == EISDIR || errno == EPERM) && depth < 32)
        remove_dir_at(fd, e->d_name, depth + 1);
    }
    ::closedir(d);
  } else {
    ::close(fd);
  }
  ::unlinkat(parent, name, AT_REMOVEDIR);
}

std::optional<ProcessIdentity> read_owner(int parent, const char* name) {
  const std::string path = std::string(name) + "/" + kOwnerFile;
  const int fd = ::openat(parent, path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[64];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  return ProcessIdentity::parse(std::string(buf, static_cast<size_t>(n)));
}

}  // namespace

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

size_t remove_stale_job_dirs() {
  const std::string base = job_dir_base();
  const int dirfd = ::open(base.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) return 0;
  DIR* d = ::fdopendir(dirfd);
  if (!d) {
    ::close(dirfd);
    return 0;
  }
  size_t removed = 0;
  while (dirent* e = ::readdir(d)) {
    if (std::strncmp(e->d_name, kPrefix, std::strlen(kPrefix)) != 0) continue;
    struct stat st;
    if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode) ||
        st.st_uid != ::geteuid())
      continue;
    // No owner yet: a launcher between mkdtemp and writing it.
    auto owner = read_owner(dirfd, e->d_name);
    if (!owner || owner->alive()) continue;
    remove_dir_at(dirfd, e->d_name);
    ++removed;
  }
  ::closedir(d);
  return removed;
}

Result<JobDir> JobDir::create(const std::string& job_id) {
  const std::string base = job_dir_base();
  std::string tmpl = base + "/" + kPrefix + job_id + "-XXXXXX";
  if (!::mkdtemp(tmpl.data()))
    return make_error(Errc::io,
                      "cannot create a job directory in " + base + ": " + std::strerror(errno));
  ::chmod(tmpl.c_str(), 0700);
  JobDir d;
  d.path_ = tmpl;
  // Written whole under a temporary name, so a reader never sees half of it.
  const std::string owner = ProcessIdentity::self().to_string() + "\n";
  const std::string part = tmpl + "/" + kOwnerFile + ".new";
  const int fd = ::open(part.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  bool ok =
      fd >= 0 && ::write(fd, owner.data(), owner.size()) == static_cast<ssize_t>(owner.size());
  if (fd >= 0 && ::close(fd) != 0) ok = false;
  if (!ok || ::rename(part.c_str(), (tmpl + "/" + kOwnerFile).c_str()) != 0)
    return make_error(Errc::io, "cannot record the owner of the job directory " + tmpl + ": " +
                                    std::strerror(errno));
  return d;
}

Result<JobDir> JobDir::create_under(const std::string& parent, const std::string& name) {
  const std::string path = parent + "/" + name;
  if (::mkdir(path.c_str(), 0700) != 0)
    return make_error(Errc::io, "cannot create " + path + ": " + std::strerror(errno));
  JobDir d;
  d.path_ = path;
  return d;
}

JobDir::JobDir(JobDir&& other) noexcept : path_(std::move(other.path_)) {
  other.path_.clear();
}

JobDir::~JobDir() {
  if (path_.empty()) return;
  const auto slash = path_.rfind('/');
  const int parent = ::open(path_.substr(0, slash).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (parent < 0) return;
  remove_dir_at(parent, path_.c_str() + slash + 1);
  ::close(parent);
}

}  // namespace meshrun
