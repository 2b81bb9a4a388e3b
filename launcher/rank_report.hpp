// What meshrun says at the end of a command job beyond the ranks' statuses:
// a failed rank's own account of why (the TORCHELASTIC_ERROR_FILE it left,
// as torchrun shows it), and ranks that ran an MPI library as a silent
// singleton (in the style of srun's --mpi hints).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wire/messages.hpp"

namespace meshrun {

class RankReport {
 public:
  explicit RankReport(uint64_t job_size) : job_size_(job_size) {}

  // Every rank's last status (MeshClient::on_proc_exit).
  void note(const ProcStatus& status);

  // The error file of the lowest-numbered failed rank that left one, as
  // lines to print after the job's error; empty when none did.
  std::string error_file_report() const;
  // One warning for the ranks that linked MPI but never spoke to meshrun's
  // PMI servers; empty when there were none (or the job has one rank).
  std::string singleton_warning() const;

 private:
  uint64_t job_size_;
  std::map<uint32_t, std::vector<std::string>> error_files_;  // rank -> notes
  std::map<std::string, std::vector<uint32_t>> singletons_;   // library -> ranks
};

// "0-3, 7, 9-10" for sorted ranks.
std::string rank_ranges(const std::vector<uint32_t>& ranks);

}  // namespace meshrun
