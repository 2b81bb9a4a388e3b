#include "launcher/locate.hpp"

#include <unistd.h>

#include <climits>
#include <cstdlib>

namespace meshrun {
namespace {
bool is_file(const std::string& p) {
  return ::access(p.c_str(), F_OK) == 0;
}
bool is_executable(const std::string& p) {
  return ::access(p.c_str(), X_OK) == 0;
}

std::string canonical(const std::string& p) {
  char buf[PATH_MAX];
  return ::realpath(p.c_str(), buf) ? std::string(buf) : p;
}
}  // namespace

std::string self_exe_dir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<size_t>(n));
  return p.substr(0, p.rfind('/'));
}

Result<std::string> locate_agent(const std::string& configured) {
  if (!configured.empty()) return configured;
  if (const char* env = std::getenv("MESHRUN_AGENT"); env && *env) return std::string(env);
  const std::string dir = self_exe_dir();
  for (const auto& candidate : {dir + "/meshrun-agent", dir + "/../agent/meshrun-agent"})
    if (is_executable(candidate)) return canonical(candidate);
  return make_error(Errc::not_found, "cannot find meshrun-agent beside " + dir +
                                         "/meshrun; set MESHRUN_AGENT or --agent-path");
}

Result<std::string> locate_plugin(const std::string& name) {
  if (name.find('/') != std::string::npos) {
    if (!is_file(name)) return make_error(Errc::not_found, "plugin " + name + ": file not found");
    return name;
  }
  std::vector<std::string> dirs;
  if (const char* env = std::getenv("MESHRUN_PLUGIN_PATH")) {
    std::string s = env;
    size_t start = 0;
    while (start <= s.size()) {
      auto end = s.find(':', start);
      if (end == std::string::npos) end = s.size();
      if (end > start) dirs.push_back(s.substr(start, end - start));
      start = end + 1;
    }
  }
  dirs.push_back(self_exe_dir() + "/../lib/meshrun");
  std::string searched;
  for (const auto& d : dirs) {
    for (const auto& file : {d + "/libmeshrun_" + name + ".so", d + "/" + name + ".so"}) {
      if (is_file(file)) return canonical(file);
      searched += "\n  " + file;
    }
  }
  return make_error(Errc::not_found, "plugin '" + name + "' not found; searched:" + searched +
                                         "\nset MESHRUN_PLUGIN_PATH or give the plugin's path");
}

}  // namespace meshrun
