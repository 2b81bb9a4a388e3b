// Host names as users and SLURM write them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "spec/job_spec.hpp"
#include "util/result.hpp"

namespace meshrun {

// "node[01-04,07],gpu-a[1-2]" -> node01 node02 node03 node04 node07 gpu-a1
// gpu-a2. Zero padding kept; several bracket groups in one name multiply.
// More than max_hosts names, or a malformed range, is an error saying where.
Result<std::vector<std::string>> expand_hostlist(std::string_view text, size_t max_hosts = 65536);

// "-H" syntax: comma list of [user@]host[:slots] with hostlist ranges.
Result<std::vector<HostEntry>> parse_host_list(std::string_view text, size_t max_hosts = 65536);

// A hostfile: "host slots=N" (or "host:N", "user@host"), '#' comments, blank
// lines. Errors name the file and line.
Result<std::vector<HostEntry>> parse_hostfile_text(std::string_view text,
                                                   const std::string& source);
Result<std::vector<HostEntry>> parse_hostfile(const std::string& path);

// SLURM_TASKS_PER_NODE: "4(x2),2" -> 4 4 2.
Result<std::vector<uint32_t>> expand_tasks_per_node(std::string_view text,
                                                    size_t max_nodes = 65536);

}  // namespace meshrun
