#include "process/cgroup.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>
#include <utility>
#include <vector>

namespace meshrun {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kPoll{2};

std::string read_small(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

bool write_small(const std::string& path, std::string_view text) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ::close(fd);
  return ok;
}

// mountinfo writes space, tab, newline and backslash as \ooo.
std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      const std::string oct = s.substr(i + 1, 3);
      if (oct.find_first_not_of("01234567") == std::string::npos) {
        out += static_cast<char>(std::stoi(oct, nullptr, 8));
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

std::string events_field(const std::string& path, const std::string& key) {
  std::istringstream in(read_small(path + "/cgroup.events"));
  std::string k, v;
  while (in >> k >> v)
    if (k == key) return v;
  return {};
}

std::vector<std::string> child_cgroups(const std::string& path) {
  std::vector<std::string> out;
  if (DIR* d = ::opendir(path.c_str())) {
    while (dirent* e = ::readdir(d)) {
      if (e->d_type != DT_DIR || std::strcmp(e->d_name, ".") == 0 ||
          std::strcmp(e->d_name, "..") == 0)
        continue;
      out.push_back(path + "/" + e->d_name);
    }
    ::closedir(d);
  }
  return out;
}

// Without cgroup.kill: SIGKILL every process listed in the cgroup and below.
void kill_listed(const std::string& path) {
  std::istringstream in(read_small(path + "/cgroup.procs"));
  long pid = 0;
  while (in >> pid)
    if (pid > 0) ::kill(static_cast<pid_t>(pid), SIGKILL);
  for (const auto& child : child_cgroups(path))
    kill_listed(child);
}

bool wait_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPoll);
  }
  return true;
}

}  // namespace

Result<std::string> cgroup_dir(const std::string& place) {
  std::istringstream in(read_small("/proc/self/mountinfo"));
  std::string line;
  while (std::getline(in, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTS
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream after(line.substr(dash + 3));
    std::string fstype;
    after >> fstype;
    if (fstype != "cgroup2") continue;
    std::istringstream before(line.substr(0, dash));
    std::string id, parent, dev, root, mount;
    before >> id >> parent >> dev >> root >> mount;
    root = unescape(root);
    mount = unescape(mount);
    // A mount of part of the hierarchy shows only what is below its root.
    std::string rel;
    if (root == "/") {
      rel = place == "/" ? "" : place;
    } else if (place == root) {
      rel = "";
    } else if (place.starts_with(root + "/")) {
      rel = place.substr(root.size());
    } else {
      continue;
    }
    return mount + rel;
  }
  return make_error(Errc::not_found,
                    "no cgroup v2 mount shows the cgroup " + place + " (/proc/self/mountinfo)");
}

Result<std::string> own_cgroup_dir() {
  // "0::/path" is this process's place in the cgroup v2 hierarchy.
  std::istringstream in(read_small("/proc/self/cgroup"));
  std::string line;
  while (std::getline(in, line))
    if (line.starts_with("0::")) {
      auto dir = cgroup_dir(line.substr(3));
      if (!dir) return dir;
      struct stat st;
      if (::stat(dir->c_str(), &st) != 0 || !S_ISDIR(st.st_mode))
        return make_error(Errc::not_found, "cannot see this process's cgroup at " + *dir);
      return dir;
    }
  return make_error(Errc::not_found, "this process is in no cgroup v2 (/proc/self/cgroup)");
}

Result<JobCgroup> JobCgroup::create(const std::string& name) {
  auto dir = own_cgroup_dir();
  if (!dir) return dir.error();
  JobCgroup cg;
  cg.path_ = *dir + "/" + name;
  if (::mkdir(cg.path_.c_str(), 0755) != 0)
    return make_error(Errc::io, "cannot create a cgroup in " + *dir + ": " + std::strerror(errno));
  // Moving a process from here into it takes write access to both
  // cgroup.procs (a delegated subtree grants it to its user).
  for (const auto& procs : {*dir + "/cgroup.procs", cg.path_ + "/cgroup.procs"})
    if (::access(procs.c_str(), W_OK) != 0) {
      const std::string why =
          "cannot move processes into " + cg.path_ + ": " + procs + ": " + std::strerror(errno);
      cgroup_remove(cg.path_);
      return make_error(Errc::io, why);
    }
  cg.procs_fd_ = ::open((cg.path_ + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
  if (cg.procs_fd_ < 0) {
    const std::string why = "cannot open " + cg.path_ + "/cgroup.procs: " + std::strerror(errno);
    cgroup_remove(cg.path_);
    return make_error(Errc::io, why);
  }
  return cg;
}

JobCgroup::JobCgroup(JobCgroup&& other) noexcept
    : path_(std::move(other.path_)), procs_fd_(std::exchange(other.procs_fd_, -1)) {}

JobCgroup::~JobCgroup() {
  if (procs_fd_ >= 0) ::close(procs_fd_);
}

std::string cgroup_kill_method(const std::string& path) {
  if (::access((path + "/cgroup.kill").c_str(), W_OK) == 0) return "cgroup.kill";
  if (::access((path + "/cgroup.freeze").c_str(), W_OK) == 0) return "cgroup.freeze";
  return "";
}

void cgroup_kill(const std::string& path) {
  const std::string method = cgroup_kill_method(path);
  if (method == "cgroup.kill") {
    write_small(path + "/cgroup.kill", "1");
    return;
  }
  // Frozen, nothing in it can fork while its processes are listed and killed.
  const bool frozen = method == "cgroup.freeze" && write_small(path + "/cgroup.freeze", "1") &&
                      wait_for([&] { return events_field(path, "frozen") == "1"; },
                               std::chrono::milliseconds(1000));
  kill_listed(path);
  if (method == "cgroup.freeze") write_small(path + "/cgroup.freeze", "0");
  if (!frozen) kill_listed(path);  // what forked meanwhile
}

bool cgroup_populated(const std::string& path) {
  return events_field(path, "populated") == "1";
}

bool cgroup_remove(const std::string& path) {
  for (const auto& child : child_cgroups(path))
    cgroup_remove(child);
  if (::rmdir(path.c_str()) == 0) return true;
  return errno == ENOENT;
}

bool cgroup_kill_and_remove(const std::string& path, std::chrono::milliseconds limit) {
  if (::access(path.c_str(), F_OK) != 0) return true;
  cgroup_kill(path);
  if (!wait_for([&] { return !cgroup_populated(path); }, limit / 2)) {
    cgroup_kill(path);
    wait_for([&] { return !cgroup_populated(path); }, limit / 2);
  }
  return cgroup_remove(path);
}

}  // namespace meshrun
