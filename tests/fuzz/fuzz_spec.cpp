// The job-spec loader: any TOML text gives a JobSpec or a SpecError.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "spec/spec_loader.hpp"

using namespace meshrun;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // hosts.hostfile names a file to read; reading /dev/zero is not a parser bug.
  if (in.find("hostfile") != std::string_view::npos) return 0;
  try {
    JobSpec spec = load_job_spec_text(in, "<fuzz>");
    (void)spec;
  } catch (const SpecError& e) {
    (void)e.describe();
  }
  return 0;
}
