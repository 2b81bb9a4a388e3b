// Hosts on this machine: H agent processes spawned directly.
#pragma once

#include <asio/io_context.hpp>
#include <memory>
#include <vector>

#include "alloc/allocator.hpp"
#include "process/child.hpp"

namespace meshrun {

class LocalAllocator : public Allocator {
 public:
  LocalAllocator(asio::io_context& io, size_t hosts);
  ~LocalAllocator() override;

  std::string kind() const override { return "local"; }
  size_t num_hosts() const override { return agents_.size(); }
  std::string host_name(size_t index) const override;
  Status start(const AgentLaunch& launch) override;
  std::optional<std::string> failure(size_t index) const override;
  asio::awaitable<void> reap(Millis deadline) override;
  void kill_all() override;

 private:
  struct Agent {
    std::unique_ptr<Child> child;
    std::optional<ExitStatus> exit;
  };
  asio::awaitable<void> watch(size_t index);
  // An agent's diagnostics, passed on line by line through the log (so a
  // progress line on the terminal steps aside for them).
  asio::awaitable<void> relay_stderr(int fd);

  asio::io_context& io_;
  std::vector<Agent> agents_;
  // Agents' stderr pipes still open; shared with the relays, which may
  // outlive this allocator.
  struct Relays {
    size_t open = 0;
    bool allocator_alive = true;
  };
  std::shared_ptr<Relays> relays_ = std::make_shared<Relays>();
};

}  // namespace meshrun
