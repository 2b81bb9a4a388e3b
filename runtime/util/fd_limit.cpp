#include "util/fd_limit.hpp"

#include <sys/resource.h>

#include <atomic>
#include <string>

namespace meshrun {
namespace {

// 0: raise_fd_limit() was not called.
std::atomic<uint64_t> g_original{0};

uint64_t as_count(rlim_t v) {
  return v == RLIM_INFINITY ? UINT64_MAX : static_cast<uint64_t>(v);
}

// Per rank at the peak of a spawn wave: stdout, stderr and control (or PMI)
// pipes with both ends open, a stdin pipe, then a pidfd and its duplicate.
constexpr uint64_t kPerRank = 10;
// Per host: its connection, and an ssh client's three pipes and pidfd.
constexpr uint64_t kPerHost = 6;
// The process's own: stdio, the event loop, listeners, logs, libraries.
constexpr uint64_t kBase = 64;

}  // namespace

uint64_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  uint64_t expected = 0;
  g_original.compare_exchange_strong(expected, as_count(rl.rlim_cur));
  if (rl.rlim_cur != rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return as_count(rl.rlim_cur);
}

uint64_t original_fd_limit() {
  if (const uint64_t v = g_original.load()) return v;
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  return as_count(rl.rlim_cur);
}

uint64_t fds_needed(uint64_t ranks, uint64_t hosts) {
  return kBase + kPerRank * ranks + kPerHost * hosts;
}

Status check_fd_limit(uint64_t ranks, uint64_t hosts) {
  const uint64_t limit = raise_fd_limit();
  const uint64_t needed = fds_needed(ranks, hosts);
  if (limit == 0 || needed <= limit) return {};
  std::string what;
  if (ranks > 0) what = std::to_string(ranks) + " ranks on one host";
  if (hosts > 0) what += (what.empty() ? "" : " and ") + std::to_string(hosts) + " hosts";
  return make_error(Errc::invalid_argument,
                    what + " need " + std::to_string(needed) +
                        " open files, but the hard limit here is " + std::to_string(limit) +
                        " (ulimit -Hn): raise it (limits.conf nofile, systemd LimitNOFILE) " +
                        "or run fewer ranks per host");
}

}  // namespace meshrun
