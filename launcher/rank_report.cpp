#include "launcher/rank_report.hpp"

#include <algorithm>

#include "util/number_ranges.hpp"
#include "wire/rank_notes.hpp"

namespace meshrun {

namespace {

std::string indented(const std::string& text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    size_t end = nl == std::string::npos ? text.size() : nl;
    out += "  " + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return out;
}

}  // namespace

void RankReport::note(const ProcStatus& status) {
  if (status.notes.empty()) return;
  if (rank_note::find(status.notes, rank_note::kErrorFile))
    error_files_[status.proc] = status.notes;
  if (auto lib = rank_note::find(status.notes, rank_note::kMpiUnused))
    singletons_[*lib].push_back(status.proc);
}

std::string RankReport::error_file_report() const {
  if (error_files_.empty()) return {};
  const auto& [rank, notes] = *error_files_.begin();
  std::string out = "rank " + std::to_string(rank) + " left an error file (" +
                    rank_note::find(notes, rank_note::kErrorFile).value_or("") + "):\n";
  if (auto m = rank_note::find(notes, rank_note::kErrorMessage)) out += indented(*m);
  if (auto t = rank_note::find(notes, rank_note::kErrorTrace)) out += indented(*t);
  out.pop_back();  // log::error ends the line
  return out;
}

std::string RankReport::singleton_warning() const {
  if (singletons_.empty() || job_size_ < 2) return {};
  std::vector<uint32_t> ranks;
  std::string libs;
  for (const auto& [lib, rs] : singletons_) {
    ranks.insert(ranks.end(), rs.begin(), rs.end());
    libs += (libs.empty() ? "" : ", ") + lib;
  }
  std::sort(ranks.begin(), ranks.end());
  const bool all = ranks.size() == job_size_;
  return std::string(all ? "every rank" : "ranks " + rank_ranges(ranks)) + " of this " +
         std::to_string(job_size_) + "-rank job loaded " + libs +
         " but never contacted meshrun's PMI-1 or PMIx server: each that called MPI_Init ran "
         "as a singleton MPI job of size 1. Likely causes: an MPI library that speaks neither "
         "(PMI-2 only, Slurm's libpmi), or something between meshrun and the program that "
         "dropped PMI_FD and the PMIX_* variables (env -i, a wrapper script). meshrun serves "
         "MPICH (mpicc.mpich) through PMI-1 and Open MPI (mpicc.openmpi) through PMIx.";
}

std::string rank_ranges(const std::vector<uint32_t>& ranks) {
  return number_ranges(ranks);
}

}  // namespace meshrun
