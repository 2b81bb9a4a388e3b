// An allocator starts one meshrun-agent in bootstrap mode per host: locally,
// over ssh or through srun. Everything after that (the handshake, the
// trampoline) is the same for every allocator.
#pragma once

#include <asio/awaitable.hpp>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "util/result.hpp"
#include "wire/messages.hpp"

namespace meshrun {

using Millis = std::chrono::milliseconds;

// What every agent is told. The secret and the TLS material go to the
// agent's stdin (encode_agent_stdin in auth/tls.hpp).
struct AgentLaunch {
  std::string bootstrap_addresses;  // comma-separated, tried in order
  std::string secret_hex;
  std::string tls_bundle;  // empty: TCP between hosts is plain (--no-tls)
  std::string agent_path;
  std::vector<std::string> env;  // "KEY=VALUE" for the agent
};

class Allocator {
 public:
  virtual ~Allocator() = default;

  virtual std::string kind() const = 0;
  virtual size_t num_hosts() const = 0;
  virtual std::string host_name(size_t index) const = 0;

  // Starts every agent. An error here means nothing could be started; the
  // allocator then has nothing running.
  virtual Status start(const AgentLaunch& launch) = 0;
  // Why host `index` failed before it connected (its agent or ssh exited),
  // if it did.
  virtual std::optional<std::string> failure(size_t index) const = 0;
  // Tree launch: the hosts that host `index`'s agent starts itself (empty for
  // a host the allocator started, or will, and for allocators without trees).
  virtual Subtree subtree(size_t /*index*/) const { return {}; }
  // Called whenever an agent process ends.
  void on_change(std::function<void()> fn) { changed_ = std::move(fn); }
  // Completes when every agent process it started is gone, SIGKILLing what
  // is left at `deadline`.
  virtual asio::awaitable<void> reap(Millis deadline) = 0;
  // SIGKILL every agent process now (the launcher is failing hard).
  virtual void kill_all() = 0;

 protected:
  void changed() {
    if (changed_) changed_();
  }
  std::function<void()> changed_;
};

}  // namespace meshrun
