// How finished casts and calls are shown: a block of lines for a person, or
// with --json one JSON object per line for a program (and a last one with
// the job's exit status). Reply bytes that are not text are escaped.
#pragma once

#include <string>
#include <string_view>

#include "control/controller_host.hpp"

namespace meshrun {

class CallReport {
 public:
  CallReport(bool json, bool timings) : json_(json), timings_(timings) {}

  bool json() const { return json_; }
  // A [[cast]] of the spec: shown in either format.
  void cast(const CallRecord& record);
  // A controller's call: one JSON object under --json, nothing otherwise.
  void call(const CallRecord& record);
  // A line the controller prints.
  void print(std::string_view line);
  // The job's end: under --json the last line.
  void exit(int status, std::string_view message);

 private:
  std::string json_record(std::string_view type, const CallRecord& record) const;
  static void out(const std::string& text);
  bool json_;
  bool timings_;
};

// "0.26 ms", "12.5 ms", "1.20 s": as people write durations.
std::string human_ms(double ms);

}  // namespace meshrun
