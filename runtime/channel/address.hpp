// Channel addresses as text: "unix:/path/to/socket" or "tcp:HOST:PORT"
// ("tcp:[::1]:PORT" for IPv6).
#pragma once

#include <asio/generic/stream_protocol.hpp>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace meshrun {

struct Address {
  enum class Kind { unix_socket, tcp } kind = Kind::unix_socket;
  std::string path;  // unix
  std::string host;  // tcp: a numeric address
  uint16_t port = 0;

  static Result<Address> parse(std::string_view text);
  std::string to_string() const;
  // Only numeric hosts: name lookups are the caller's business, off the hot path.
  Result<asio::generic::stream_protocol::endpoint> endpoint() const;
};

Address address_of(const asio::generic::stream_protocol::endpoint& ep);

}  // namespace meshrun
