// TORCHELASTIC_ERROR_FILE: where a rank decorated with torch's @record
// writes the exception that ended it, as torchrun reads it back to say why
// the job failed.
#pragma once

#include <string>
#include <vector>

namespace meshrun {

// The rank's error file of this job on this host.
std::string torch_error_file(const std::string& job_dir, uint32_t rank);

// Notes (rank_notes.hpp) for the error file at `path`: its path, message and
// Python traceback; nothing when the rank wrote none. A file that is not
// torch's JSON is passed on as its first few KiB.
std::vector<std::string> torch_error_notes(const std::string& path);

}  // namespace meshrun
