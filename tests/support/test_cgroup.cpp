#include "test_cgroup.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <exception>
#include <filesystem>

#include "process/cgroup.hpp"

namespace meshrun_test {

TestCgroup::TestCgroup(const std::string& name) {
  if (auto own = meshrun::own_cgroup_dir()) {
    const std::string dir = *own + "/" + name;
    if (::mkdir(dir.c_str(), 0755) == 0) path_ = dir;
  }
}

TestCgroup::~TestCgroup() {
  if (!path_.empty() && !meshrun::cgroup_kill_and_remove(path_, std::chrono::seconds(5)) &&
      std::uncaught_exceptions() == 0)
    FAIL_CHECK("cannot remove the test's cgroup " << path_);
}

std::vector<std::string> TestCgroup::wrap(std::vector<std::string> argv) const {
  if (path_.empty()) return argv;
  std::vector<std::string> out = {"/bin/sh", "-c", "echo $$ >\"$0/cgroup.procs\" && exec \"$@\"",
                                  path_};
  out.insert(out.end(), argv.begin(), argv.end());
  return out;
}

std::vector<std::string> TestCgroup::leftovers() const {
  std::vector<std::string> out;
  std::error_code ec;
  if (!path_.empty())
    for (const auto& e : std::filesystem::directory_iterator(path_, ec))
      if (e.is_directory(ec)) out.push_back("cgroup " + e.path().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace meshrun_test
