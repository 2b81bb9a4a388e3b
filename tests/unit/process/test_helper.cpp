// A child for process_test: behaviours sh cannot express portably.
//   write FD TEXT [FD TEXT...]  write TEXT to each FD
//   fds                          print the open descriptors, "0 1 2 ..."
//   spawn-grandchild             spawn `sleep 100` with die_with_parent, print
//                                its pid, then wait to be killed
#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "process/spawn.hpp"

namespace {

int write_fds(int argc, char** argv) {
  for (int i = 2; i + 1 < argc; i += 2) {
    int fd = std::atoi(argv[i]);
    size_t len = std::strlen(argv[i + 1]);
    if (write(fd, argv[i + 1], len) != static_cast<ssize_t>(len)) return 2;
  }
  return 0;
}

int list_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 2;
  std::vector<int> fds;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    int fd = std::atoi(e->d_name);
    if (fd != dirfd(dir)) fds.push_back(fd);
  }
  closedir(dir);
  std::sort(fds.begin(), fds.end());
  std::string out;
  for (int fd : fds)
    out += (out.empty() ? "" : " ") + std::to_string(fd);
  std::printf("%s\n", out.c_str());
  return 0;
}

int spawn_grandchild() {
  meshrun::SpawnOptions o;
  o.program = "/bin/sleep";
  o.argv = {"sleep", "100"};
  o.env = {"PATH=/usr/bin:/bin"};
  o.die_with_parent = true;
  auto r = meshrun::spawn_process(o);
  if (!r) {
    std::fprintf(stderr, "%s\n", r.error().message.c_str());
    return 2;
  }
  std::printf("%d\n", static_cast<int>(r->pid));
  std::fflush(stdout);
  for (;;)
    pause();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return 2;
  std::string cmd = argv[1];
  if (cmd == "write") return write_fds(argc, argv);
  if (cmd == "fds") return list_fds();
  if (cmd == "spawn-grandchild") return spawn_grandchild();
  return 2;
}
