#include "channel/address.hpp"

#include <asio/ip/tcp.hpp>
#include <asio/local/stream_protocol.hpp>
#include <charconv>

namespace meshrun {

Result<Address> Address::parse(std::string_view text) {
  Address a;
  if (text.starts_with("unix:")) {
    a.kind = Kind::unix_socket;
    a.path = std::string(text.substr(5));
    if (a.path.empty()) return make_error(Errc::invalid_argument, "empty unix socket path");
    return a;
  }
  if (!text.starts_with("tcp:"))
    return make_error(Errc::invalid_argument,
                      "address '" + std::string(text) + "' is neither unix:PATH nor tcp:HOST:PORT");
  auto rest = text.substr(4);
  auto colon = rest.rfind(':');
  if (colon == std::string_view::npos)
    return make_error(Errc::invalid_argument, "address '" + std::string(text) + "' has no port");
  auto host = rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  auto port_text = rest.substr(colon + 1);
  unsigned port = 0;
  auto [p, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc{} || p != port_text.data() + port_text.size() || port > 65535)
    return make_error(Errc::invalid_argument, "address '" + std::string(text) + "' has a bad port");
  a.kind = Kind::tcp;
  a.host = std::string(host);
  a.port = static_cast<uint16_t>(port);
  return a;
}

std::string Address::to_string() const {
  if (kind == Kind::unix_socket) return "unix:" + path;
  if (host.find(':') != std::string::npos) return "tcp:[" + host + "]:" + std::to_string(port);
  return "tcp:" + host + ":" + std::to_string(port);
}

Result<asio::generic::stream_protocol::endpoint> Address::endpoint() const {
  if (kind == Kind::unix_socket)
    return asio::generic::stream_protocol::endpoint(asio::local::stream_protocol::endpoint(path));
  asio::error_code ec;
  auto ip = asio::ip::make_address(host, ec);
  if (ec) return make_error(Errc::invalid_argument, "'" + host + "' is not a numeric IP address");
  return asio::generic::stream_protocol::endpoint(asio::ip::tcp::endpoint(ip, port));
}

Address address_of(const asio::generic::stream_protocol::endpoint& ep) {
  Address a;
  if (ep.protocol().family() == AF_UNIX) {
    a.kind = Address::Kind::unix_socket;
    asio::local::stream_protocol::endpoint local;
    local.resize(ep.size());
    std::memcpy(local.data(), ep.data(), ep.size());
    a.path = local.path();
  } else {
    a.kind = Address::Kind::tcp;
    asio::ip::tcp::endpoint tcp;
    std::memcpy(tcp.data(), ep.data(), ep.size());
    tcp.resize(ep.size());
    a.host = tcp.address().to_string();
    a.port = tcp.port();
  }
  return a;
}

}  // namespace meshrun
