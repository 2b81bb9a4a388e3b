// A per-job private directory (mode 0700) for unix sockets and the ranks'
// files; removed with everything in it when the job ends. It records its owner (pid and start
// time), so a directory left by a killed launcher can be told from a live one.
#pragma once

#include <cstddef>
#include <string>

#include "util/result.hpp"

namespace meshrun {

class JobDir {
 public:
  static Result<JobDir> create(const std::string& job_id);
  // A directory of its own inside another job directory (a host agent's,
  // beside its launcher): removed with it, or with its parent.
  static Result<JobDir> create_under(const std::string& parent, const std::string& name);
  JobDir(JobDir&& other) noexcept;
  JobDir& operator=(JobDir&&) = delete;
  ~JobDir();
  const std::string& path() const { return path_; }

 private:
  JobDir() = default;
  std::string path_;
};

// Removes this user's job directories whose launcher is gone (a pid alone is
// not enough: it may have been reused); returns how many.
size_t remove_stale_job_dirs();

// 16 hex digits from the CSPRNG.
std::string make_job_id();

}  // namespace meshrun
