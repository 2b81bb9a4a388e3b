// Bootstrap mode: dial the launcher, prove membership of the job, say which
// host this is and where it listens, then wait to be turned into a host
// agent (the trampoline).
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <string>

namespace meshrun {

struct BootstrapConfig {
  std::string launcher_addresses;  // comma-separated, tried in order
  uint32_t host_index = 0;
  std::string secret_hex;  // read from stdin, never from argv or the environment
  std::string tls_bundle;  // from stdin after the secret; empty: no TLS (auth/tls.hpp)
  std::string agent_path;  // this binary, for spawning procs
};

asio::awaitable<int> run_bootstrap(asio::io_context& io, BootstrapConfig config);

}  // namespace meshrun
