// Proc mode: one OS process that hosts actors. It talks only to its host
// agent, over the socketpair it inherited as MESHRUN_CONTROL_FD; every actor
// message it sends goes there, and the agent routes it on.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <string>

namespace meshrun {

struct ProcConfig {
  int control_fd = 3;
  uint32_t proc = 0;       // job-wide proc id (MESHRUN_PROC_ID)
  uint32_t host_rank = 0;  // its host (MESHRUN_HOST_RANK)
  std::string name;        // "p0_3"
};

asio::awaitable<int> run_proc(asio::io_context& io, ProcConfig config);

}  // namespace meshrun
