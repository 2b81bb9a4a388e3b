// PMI-1 from a rank: the line parser and a whole session over a two-rank
// local job, fed in pieces the way a socket delivers them.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "pmi/local_pmi_job.hpp"
#include "pmi/pmi_protocol.hpp"
#include "pmi/pmi_session.hpp"

using namespace meshrun;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  for (size_t pos = 0; pos <= in.size();) {
    size_t nl = in.find('\n', pos);
    auto line = in.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    (void)parse_pmi_line(line, 4096);
    if (nl == std::string_view::npos) break;
    pos = nl + 1;
  }

  LocalPmiJob job(2);
  size_t sent = 0;
  PmiLimits limits;
  limits.max_line = 4096;
  // Rank 1 sits in the barrier already, so rank 0's barrier_in completes it.
  PmiSession other(
      job, 1, [&](std::string_view b) { sent += b.size(); }, limits);
  (void)other.feed("cmd=init pmi_version=1 pmi_subversion=1\ncmd=barrier_in\n");
  PmiSession s(
      job, 0, [&](std::string_view b) { sent += b.size(); }, limits);
  size_t chunk = size == 0 ? 1 : static_cast<size_t>(data[0] % 13) + 1;
  for (size_t pos = 0; pos < in.size(); pos += chunk) {
    if (!s.feed(in.substr(pos, chunk))) break;
  }
  (void)s.end_of_stream();
  (void)other.end_of_stream();
  return 0;
}
