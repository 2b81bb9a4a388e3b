// TOML -> JobSpec. Every problem becomes a SpecError naming the file, line,
// column and key, thrown only here at the start-up boundary and converted to
// a message by the caller.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include "spec/job_spec.hpp"

namespace meshrun {

class SpecError : public std::runtime_error {
 public:
  SpecError(std::string file, uint32_t line, uint32_t column, std::string key, std::string what);
  const std::string& file() const { return file_; }
  uint32_t line() const { return line_; }
  uint32_t column() const { return column_; }
  const std::string& key() const { return key_; }          // dotted path, e.g. "hosts.count"
  const std::string& message() const { return message_; }  // WHAT alone
  // "FILE:LINE:COLUMN: KEY: WHAT" (parts that are unknown are left out)
  std::string describe() const;

 private:
  std::string file_;
  uint32_t line_;
  uint32_t column_;
  std::string key_;
  std::string message_;
};

// Parses TOML text; `source` names it in errors and anchors relative paths
// (its directory; the current directory when it has none, e.g. "<embedded>").
// hosts.hostfile is read here, so its hosts land in hosts.list.
JobSpec load_job_spec_text(std::string_view toml_text, const std::string& source);
JobSpec load_job_spec_file(const std::string& path);
// Whether the file at `path` is TOML at all (any keys): a file meshrun is
// given that is not executable is a job spec when this says so.
bool parses_as_toml(const std::string& path);

// The embedded default job (what `meshrun configs/local.toml` runs): local
// launcher, 2 hosts x 2 procs, TestActor, a GetActorId cast.
std::string_view default_job_toml();

// "90s", "5m", "250ms", "1h", "1.5s"; a bare number is seconds. Throws
// std::invalid_argument with a message naming the text.
Millis parse_duration(std::string_view text);

}  // namespace meshrun
