// Proc mode: one OS process that hosts actors. It talks only to its host
// agent, over the socketpair it inherited as MESHRUN_CONTROL_FD.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <string>

namespace meshrun {

struct ProcConfig {
  int control_fd = 3;
  uint32_t rank = 0;
  std::string name;  // "p0_3"
};

asio::awaitable<int> run_proc(asio::io_context& io, ProcConfig config);

}  // namespace meshrun
