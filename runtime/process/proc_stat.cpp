#include "process/proc_stat.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <sstream>

namespace meshrun {

std::optional<ProcStat> read_proc_stat(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/stat";
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  char buf[1024];
  const ssize_t n = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (n <= 0) return std::nullopt;
  buf[n] = '\0';
  // The command name may hold spaces and parentheses: fields follow the last ')'.
  const char* p = std::strrchr(buf, ')');
  if (!p || p[1] != ' ') return std::nullopt;
  p += 2;
  ProcStat st;
  st.pid = pid;
  st.state = *p;
  // Fields 3 (state) .. 22 (starttime), 1-based as in proc(5).
  for (int field = 3; field < 22; ++field) {
    p = std::strchr(p, ' ');
    if (!p) return std::nullopt;
    ++p;
    if (field + 1 == 4) st.ppid = static_cast<pid_t>(std::strtol(p, nullptr, 10));
  }
  st.start_time = std::strtoull(p, nullptr, 10);
  return st;
}

std::vector<ProcStat> all_processes() {
  std::vector<ProcStat> out;
  DIR* d = ::opendir("/proc");
  if (!d) return out;
  while (dirent* e = ::readdir(d)) {
    char* end = nullptr;
    const long pid = std::strtol(e->d_name, &end, 10);
    if (*end != '\0' || pid <= 0) continue;
    if (auto st = read_proc_stat(static_cast<pid_t>(pid))) out.push_back(*st);
  }
  ::closedir(d);
  return out;
}

ProcessIdentity ProcessIdentity::self() {
  ProcessIdentity id;
  id.pid = ::getpid();
  if (auto st = read_proc_stat(id.pid)) id.start_time = st->start_time;
  return id;
}

std::optional<ProcessIdentity> ProcessIdentity::parse(const std::string& text) {
  std::istringstream in(text);
  ProcessIdentity id;
  long long pid = 0;
  if (!(in >> pid >> id.start_time) || pid <= 0) return std::nullopt;
  id.pid = static_cast<pid_t>(pid);
  return id;
}

std::string ProcessIdentity::to_string() const {
  return std::to_string(pid) + " " + std::to_string(start_time);
}

bool ProcessIdentity::alive() const {
  auto st = read_proc_stat(pid);
  return st && st->state != 'Z' && st->start_time == start_time;
}

}  // namespace meshrun
