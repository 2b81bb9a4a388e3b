// What every integration test needs: the built binaries, a per-test temp dir,
// a job marker, and meshrun runs under a deadline.
#pragma once

#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "harness.hpp"
#include "test_cgroup.hpp"

namespace meshrun_it {

using namespace meshrun_test;

inline const std::string kMeshrun = MESHRUN_BIN;
inline const std::string kSourceDir = MESHRUN_SOURCE_DIR;

// One test's world: its temp dir and its job marker (checked at scope exit).
struct World {
  TempDir dir;
  TestCgroup cgroup{"mrtest-" + random_marker()};  // meshrun runs in it; removed after
  JobGuard job;                                    // the check for survivors

  World() = default;
  World(const World&) = delete;
  World& operator=(const World&) = delete;
  // Once the job's processes are gone (JobGuard checks that), none of its
  // job directories (sockets) is left in its TMPDIR, nor any of its cgroups.
  ~World() {
    if (std::uncaught_exceptions() != 0 || !wait_no_job_processes(job.marker(), 3s)) return;
    std::error_code ec;
    for (const auto& e : std::filesystem::directory_iterator(dir.path(), ec))
      if (e.path().filename().string().starts_with("meshrun-"))
        FAIL_CHECK("the job left its job directory " << e.path().string());
    for (const auto& c : cgroup.leftovers())
      FAIL_CHECK("the job left its " << c);
  }

  std::vector<std::string> env(std::vector<std::string> extra = {}) const {
    extra.push_back(job.env());
    // Job dirs (bootstrap sockets) go under this test's temp dir too.
    extra.push_back("TMPDIR=" + dir.path());
    return extra;
  }
  std::vector<std::string> argv(std::vector<std::string> args) const {
    args.insert(args.begin(), kMeshrun);
    return cgroup.wrap(std::move(args));
  }
  Outcome meshrun(std::vector<std::string> args, Clock::duration limit = 30s,
                  std::vector<std::string> extra_env = {}) const {
    return run(argv(std::move(args)), env(std::move(extra_env)), dir.path(), limit);
  }
  std::string spec(const std::string& text, const std::string& name = "job.toml") const {
    return dir.write(name, text);
  }
};

// The job's processes whose command line is `meshrun-agent <mode>`.
inline std::vector<pid_t> agents_in_mode(const std::string& marker, const std::string& mode) {
  std::vector<pid_t> out;
  for (pid_t p : job_pids(marker))
    if (cmdline_is(p, "meshrun-agent", {mode})) out.push_back(p);
  return out;
}

// A variable of a process's environment ("" if absent).
inline std::string env_of(pid_t pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  while (std::getline(in, entry, '\0'))
    if (entry.rfind(key + "=", 0) == 0) return entry.substr(key.size() + 1);
  return "";
}

inline std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line))
    out.push_back(line);
  return out;
}

// "  rank R: PAYLOAD" lines of a cast report, as rank -> payload.
inline std::map<uint32_t, std::string> cast_replies(const std::string& out) {
  std::map<uint32_t, std::string> replies;
  for (const auto& l : lines_of(out)) {
    const std::string prefix = "  rank ";
    if (l.rfind(prefix, 0) != 0) continue;
    const auto colon = l.find(": ");
    REQUIRE(colon != std::string::npos);
    const auto rank =
        static_cast<uint32_t>(std::stoul(l.substr(prefix.size(), colon - prefix.size())));
    REQUIRE(replies.count(rank) == 0);
    replies[rank] = l.substr(colon + 2);
  }
  return replies;
}

// A spec for `hosts` local hosts with a TestActor mesh "a0" on proc mesh "p0".
inline std::string actor_spec(uint32_t hosts, const std::string& extent, const std::string& cast) {
  return "[job]\nname = \"it\"\n"
         "[hosts]\nlauncher = \"local\"\ncount = " +
         std::to_string(hosts) +
         "\n"
         "[procs]\nname = \"p0\"\nextent = " +
         extent +
         "\n"
         "[actors]\nname = \"a0\"\nplugin = \"" MESHRUN_TESTACTORS
         "\"\ntype = \"TestActor\"\n"
         "[cast]\n" +
         cast;
}

}  // namespace meshrun_it
