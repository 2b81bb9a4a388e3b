// Hosts reached over OpenSSH: one `ssh HOST exec env ... meshrun-agent
// bootstrap` per host, the job secret on ssh's stdin. The system ssh client
// does the work (keys, agents, ProxyJump, config files); meshrun adds
// BatchMode so nothing ever prompts.
#pragma once

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "alloc/allocator.hpp"
#include "process/child.hpp"
#include "spec/job_spec.hpp"
#include "util/notifier.hpp"

namespace meshrun {

// An agent started with MESHRUN_BOOTSTRAP_ACK=1 prints this line on stdout
// once it has authenticated with the launcher: the ssh start is then done.
inline constexpr std::string_view kAgentConnectedLine = "meshrun-agent: connected to the launcher";

// "ssh:PORT" in MESHRUN_BOOTSTRAP_ADDR: the launcher's address as the ssh
// connection saw it (SSH_CONNECTION on the host), at PORT.
inline constexpr std::string_view kSshClientAddressPrefix = "ssh:";

// POSIX shell single quoting; words of only safe characters stay bare.
std::string shell_quote(std::string_view word);
// Splits a command like "ssh -F 'my config'" into words: whitespace
// separates, single and double quotes group, backslash escapes.
Result<std::vector<std::string>> split_command(std::string_view text);

// The command line the remote shell runs: `exec env K=V ... AGENT bootstrap`.
// Never holds the secret.
std::string ssh_remote_command(const AgentLaunch& launch, size_t host_index);
// Everything but the remote command: ssh words, BatchMode, -x, port,
// identity, user, -o options, then the host.
Result<std::vector<std::string>> ssh_argv(const SshSpec& ssh, const HostEntry& host);

// Tree launch. Above `threshold` hosts the launcher starts ceil(sqrt(H))
// first-level hosts and each of those starts the rest of its block: H is cut
// into that many contiguous blocks of near-equal size, and a block's first
// host is its parent. So the launcher and every parent run about sqrt(H)
// ssh starts (1024 hosts: 32 + 31). At or below the threshold every block is
// one host: the flat launch. Returns [begin, end) per block.
struct HostBlock {
  size_t begin = 0;
  size_t end = 0;
};
std::vector<HostBlock> tree_blocks(size_t hosts, uint32_t threshold);

struct SshAllocatorOptions {
  SshSpec ssh;
  uint32_t max_parallel = 64;   // ssh starts in flight at once
  Millis start_timeout{10000};  // per host, from its ssh start to its agent dialing in
  size_t tail_lines = 10;       // of ssh's stderr, shown when a host fails
  uint32_t tree_threshold = 0;  // 0: never a tree
  uint32_t first_rank = 0;      // the job-wide rank of hosts[0] (MESHRUN_HOST_INDEX)
};

// The options and hosts a first-level agent starts its share with.
SshAllocatorOptions subtree_options(const Subtree& t);
std::vector<HostEntry> subtree_hosts(const Subtree& t);

class SshAllocator : public Allocator {
 public:
  SshAllocator(asio::io_context& io, std::vector<HostEntry> hosts, SshAllocatorOptions options);
  ~SshAllocator() override;

  std::string kind() const override { return "ssh"; }
  size_t num_hosts() const override { return hosts_.size(); }
  std::string host_name(size_t index) const override;
  Status start(const AgentLaunch& launch) override;
  std::optional<std::string> failure(size_t index) const override;
  asio::awaitable<void> reap(Millis deadline) override;
  void kill_all() override;
  Subtree subtree(size_t index) const override;

 private:
  struct Host {
    explicit Host(const asio::any_io_executor& ex) : notifier(ex) {}
    std::unique_ptr<Child> child;
    std::unique_ptr<asio::posix::stream_descriptor> output;  // ssh's stdout and stderr
    std::unique_ptr<asio::steady_timer> deadline;
    std::deque<std::string> tail;
    bool started = false;
    bool connected = false;  // the agent said it reached the launcher
    bool output_done = false;
    bool exited = false;
    std::optional<std::string> failure;
    Notifier notifier;  // output_done changed
  };

  void start_more();
  void start_host(size_t index);
  void fail_host(size_t index, std::string why);
  std::string with_tail(const Host& h, std::string why) const;
  // Both hold the host and `alive` so they can finish after the allocator.
  asio::awaitable<void> read_output(size_t index, std::shared_ptr<Host> h,
                                    std::shared_ptr<bool> alive);
  asio::awaitable<void> watch(std::shared_ptr<Host> h, std::shared_ptr<bool> alive);
  size_t in_flight() const;

  asio::io_context& io_;
  std::vector<HostEntry> entries_;
  SshAllocatorOptions options_;
  std::vector<std::shared_ptr<Host>> hosts_;
  AgentLaunch launch_;
  std::vector<HostBlock> blocks_;
  size_t next_ = 0;  // the next block whose first host to start
  bool stopping_ = false;
  std::shared_ptr<bool> alive_;
};

}  // namespace meshrun
