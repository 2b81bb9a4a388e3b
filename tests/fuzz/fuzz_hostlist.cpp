// Hostlists, -H lists, hostfiles and SLURM_TASKS_PER_NODE come from users and
// the environment.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "alloc/hostlist.hpp"

using namespace meshrun;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  // The first byte picks the parser, so one corpus feeds all four.
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0: {
      auto r = expand_hostlist(in, 4096);
      if (r && r->size() > 4096) __builtin_trap();
      break;
    }
    case 1: {
      auto r = parse_host_list(in, 4096);
      if (r && r->size() > 4096) __builtin_trap();
      break;
    }
    case 2:
      (void)parse_hostfile_text(in, "<fuzz>");
      break;
    case 3: {
      auto r = expand_tasks_per_node(in, 4096);
      if (r && r->size() > 4096) __builtin_trap();
      break;
    }
  }
  return 0;
}
