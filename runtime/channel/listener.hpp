// A listening socket for channel addresses. Binding "tcp:HOST:0" picks a free
// port; local_address() tells which.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/basic_socket_acceptor.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/io_context.hpp>

#include "channel/address.hpp"
#include "channel/connection.hpp"
#include "util/result.hpp"

namespace meshrun {

class Listener {
 public:
  using Acceptor = asio::basic_socket_acceptor<asio::generic::stream_protocol>;

  static Result<std::unique_ptr<Listener>> listen(asio::io_context& io, const Address& address);
  ~Listener();

  asio::awaitable<Result<Socket>> accept();
  const Address& local_address() const { return local_; }
  void close();

 private:
  Listener(Acceptor acceptor, Address local);
  Acceptor acceptor_;
  Address local_;
};

// Connects to an address, bounded by `timeout`.
asio::awaitable<Result<Socket>> connect_to(asio::io_context& io, const Address& address,
                                           Millis timeout);

}  // namespace meshrun
