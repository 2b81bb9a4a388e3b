// Finding meshrun's own files: the agent binary and plugins named by a bare
// name, in the build tree and in an installed prefix alike.
#pragma once

#include <string>
#include <vector>

#include "util/result.hpp"

namespace meshrun {

std::string self_exe_dir();
// $MESHRUN_AGENT, then meshrun-agent beside meshrun, then the build tree's agent/.
Result<std::string> locate_agent(const std::string& configured);
// A path (contains '/') is taken as is; a bare name NAME is looked up as
// libmeshrun_NAME.so / NAME.so in $MESHRUN_PLUGIN_PATH and <prefix>/lib/meshrun.
Result<std::string> locate_plugin(const std::string& name_or_path);

}  // namespace meshrun
