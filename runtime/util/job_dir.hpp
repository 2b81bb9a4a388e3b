// A per-job private directory (mode 0700) for unix sockets; removed with
// everything in it when the job ends.
#pragma once

#include <string>

#include "util/result.hpp"

namespace meshrun {

class JobDir {
 public:
  static Result<JobDir> create(const std::string& job_id);
  JobDir(JobDir&& other) noexcept;
  JobDir& operator=(JobDir&&) = delete;
  ~JobDir();
  const std::string& path() const { return path_; }

 private:
  JobDir() = default;
  std::string path_;
};

// 16 hex digits from the CSPRNG.
std::string make_job_id();

}  // namespace meshrun
