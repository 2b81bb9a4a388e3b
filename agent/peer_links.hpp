// Links from this host agent to the other host agents of the job, for the
// messages actors send each other: between hosts they go agent to agent,
// never through the launcher. A link is dialed on first use, authenticated
// with the job's secret (and TLS over TCP, as every link between hosts), and
// announced with PeerHello. Each direction has its own link, so what one
// host sends another arrives in order. Frames wait while a link is dialed;
// if it cannot be made (or breaks), each waiting frame is handed back as
// undelivered, so its sender hears of it.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "auth/secret.hpp"
#include "channel/connection.hpp"
#include "util/gate.hpp"

namespace meshrun {

class PeerLinks {
 public:
  using Undelivered = std::function<void(uint32_t host, std::string frame, const std::string& why)>;

  PeerLinks(asio::io_context& io, uint32_t me, const Secret& secret,
            std::shared_ptr<TlsContext> tls, Undelivered undelivered);
  ~PeerLinks();

  // Where each host agent listens, by host rank (HostDirectory).
  void set_directory(std::vector<std::string> addresses);
  // Queues `frame` for host `host`, dialing it first if need be.
  void send(uint32_t host, std::string frame);
  void send(uint32_t host, std::string_view frame) { send(host, std::string(frame)); }
  // Back-pressure for the caller: the most bytes queued on any link.
  size_t max_queued() const;
  asio::awaitable<void> wait_queued_below(size_t bytes,
                                          std::chrono::steady_clock::time_point deadline);
  // Closes every link and waits (bounded) for their coroutines to end.
  asio::awaitable<void> close();

 private:
  struct Link {
    ConnectionPtr conn;  // set once dialed and announced
    bool dialing = false;
    bool broken = false;
    std::string why;  // what broke it
    std::deque<std::string> waiting;
  };
  asio::awaitable<void> dial(uint32_t host);
  asio::awaitable<void> watch(uint32_t host, ConnectionPtr conn);
  void give_back(uint32_t host, Link& link);

  asio::io_context& io_;
  uint32_t me_;
  const Secret& secret_;
  std::shared_ptr<TlsContext> tls_;
  Undelivered undelivered_;
  std::vector<std::string> directory_;
  std::map<uint32_t, Link> links_;
  Gate gate_;
};

}  // namespace meshrun
