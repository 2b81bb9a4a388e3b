#include "channel/listener.hpp"

#include <unistd.h>

#include <cerrno>

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace meshrun {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
}

Listener::Listener(Acceptor acceptor, Address local)
    : acceptor_(std::move(acceptor)), local_(std::move(local)) {}

Listener::~Listener() {
  close();
}

void Listener::close() {
  if (!acceptor_.is_open()) return;
  asio::error_code ec;
  acceptor_.close(ec);
  if (local_.kind == Address::Kind::unix_socket) ::unlink(local_.path.c_str());
}

Result<std::unique_ptr<Listener>> Listener::listen(asio::io_context& io, const Address& address) {
  auto ep = address.endpoint();
  if (!ep) return ep.error();
  Acceptor acceptor(io);
  asio::error_code ec;
  acceptor.open(ep->protocol(), ec);
  if (!ec && address.kind == Address::Kind::tcp)
    acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(*ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return make_error(Errc::io, "cannot listen on " + address.to_string() + ": " + ec.message());
  auto local = address_of(acceptor.local_endpoint());
  return std::unique_ptr<Listener>(new Listener(std::move(acceptor), std::move(local)));
}

asio::awaitable<Result<Socket>> Listener::accept() {
  for (;;) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (!ec) co_return std::move(socket);
    // Out of descriptors or memory (a flood of connections), or a peer that
    // gave up before we took it: the listener itself is fine, so keep
    // serving after a short pause instead of going deaf for good.
    const bool transient = ec == asio::error::no_descriptors ||
                           ec == asio::error::no_buffer_space || ec == asio::error::no_memory ||
                           ec == asio::error::connection_aborted || ec.value() == ENFILE;
    if (!transient || !acceptor_.is_open())
      co_return make_error(Errc::io, "accept on " + local_.to_string() + ": " + ec.message());
    asio::steady_timer pause(acceptor_.get_executor(), std::chrono::milliseconds(50));
    co_await pause.async_wait(kTuple);
    if (!acceptor_.is_open())
      co_return make_error(Errc::closed, "listener on " + local_.to_string() + " closed");
  }
}

asio::awaitable<Result<Socket>> connect_to(asio::io_context& io, const Address& address,
                                           Millis timeout) {
  auto ep = address.endpoint();
  if (!ep) co_return ep.error();
  Socket socket(io);
  asio::steady_timer timer(io, timeout);
  bool timed_out = false;
  timer.async_wait([&](asio::error_code ec) {
    if (!ec) {
      timed_out = true;
      asio::error_code ignored;
      socket.close(ignored);
    }
  });
  auto [ec] = co_await socket.async_connect(*ep, kTuple);
  timer.cancel();
  if (timed_out)
    co_return make_error(Errc::timeout, "connecting to " + address.to_string() + " timed out");
  if (ec)
    co_return make_error(Errc::io,
                         "cannot connect to " + address.to_string() + ": " + ec.message());
  co_return std::move(socket);
}

}  // namespace meshrun
