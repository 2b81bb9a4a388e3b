// A cgroup v2 of a test's own, for the jobs it starts: what they leave there
// is theirs, whatever other tests run beside them.
#pragma once

#include <string>
#include <vector>

namespace meshrun_test {

// Made below this process's cgroup where this process may make one (root, or
// a delegated subtree). The jobs started in it make their cgroups below it.
// Removed at the end with anything still in it.
class TestCgroup {
 public:
  explicit TestCgroup(const std::string& name);
  ~TestCgroup();
  TestCgroup(const TestCgroup&) = delete;
  TestCgroup& operator=(const TestCgroup&) = delete;
  const std::string& path() const { return path_; }  // empty if none could be made
  // The command line that runs `argv` inside it (`argv` itself without one).
  std::vector<std::string> wrap(std::vector<std::string> argv) const;
  // The cgroups left below it ("cgroup PATH").
  std::vector<std::string> leftovers() const;

 private:
  std::string path_;
};

}  // namespace meshrun_test
