#include "pmi/pmi_server.hpp"

// GCC 12 misreads asio's coroutine frame allocator as a new/delete mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/read.hpp>
#include <asio/redirect_error.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <cerrno>
#include <cstring>
#include <variant>

namespace meshrun {

PmiConnection::PmiConnection(asio::local::stream_protocol::socket socket, PmiJob& job, int rank,
                             PmiLimits limits)
    : socket_(std::move(socket)),
      wake_(socket_.get_executor()),
      session_(
          job, rank, [this](std::string_view bytes) { send(bytes); }, limits,
          [this](const Error&) {
            // Failed while handling queued lines: hang up so run() returns the error.
            asio::error_code ec;
            socket_.close(ec);
          }) {}

void PmiConnection::send(std::string_view bytes) {
  outbox_.append(bytes);
  wake_.cancel();
}

void PmiConnection::close() {
  closed_by_owner_ = true;
  asio::error_code ec;
  socket_.close(ec);
  wake_.cancel();
}

asio::awaitable<Result<PmiEnd>> PmiConnection::run() {
  using namespace asio::experimental::awaitable_operators;
  auto ended = co_await (read_loop() || write_loop());
  asio::error_code ec;
  socket_.close(ec);
  if (auto* r = std::get_if<0>(&ended)) co_return std::move(*r);
  co_return make_error(
      Errc::io, "PMI connection of rank " + std::to_string(session_.rank()) + " failed to write");
}

asio::awaitable<Result<PmiEnd>> PmiConnection::read_loop() {
  std::array<char, 4096> buf;
  for (;;) {
    asio::error_code ec;
    size_t n = co_await socket_.async_read_some(asio::buffer(buf),
                                                asio::redirect_error(asio::use_awaitable, ec));
    if (const Error* e = session_.error()) co_return *e;
    if (closed_by_owner_) {
      co_return make_error(Errc::closed,
                           "PMI connection of rank " + std::to_string(session_.rank()) + " closed");
    }
    if (n > 0) {
      if (auto st = session_.feed(std::string_view(buf.data(), n)); !st) co_return st.error();
    }
    if (ec == asio::error::eof || ec == asio::error::connection_reset) {
      co_return session_.end_of_stream();
    }
    if (ec) {
      co_return make_error(Errc::io, "reading PMI from rank " + std::to_string(session_.rank()) +
                                         ": " + ec.message());
    }
  }
}

asio::awaitable<void> PmiConnection::write_loop() {
  // Cancellation (the reader finished) is seen as a value, not an exception.
  co_await asio::this_coro::throw_if_cancelled(false);
  for (;;) {
    while (!outbox_.empty() && !write_failed_) {
      std::string out = std::move(outbox_);
      outbox_.clear();
      asio::error_code ec;
      co_await asio::async_write(socket_, asio::buffer(out),
                                 asio::redirect_error(asio::use_awaitable, ec));
      // A rank that is gone shows up on the read side too; let the reader report it.
      if (ec) write_failed_ = true;
    }
    if (write_failed_) outbox_.clear();
    wake_.expires_at(asio::steady_timer::time_point::max());
    asio::error_code ec;
    co_await wake_.async_wait(asio::redirect_error(asio::use_awaitable, ec));
    auto cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) co_return;
  }
}

Result<PmiSocketPair> make_pmi_socketpair(asio::io_context& io) {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return make_error(Errc::io, std::string("socketpair: ") + std::strerror(errno));
  }
  asio::local::stream_protocol::socket server(io);
  asio::error_code ec;
  server.assign(asio::local::stream_protocol(), fds[0], ec);
  if (ec) {
    ::close(fds[0]);
    ::close(fds[1]);
    return make_error(Errc::io, "socketpair: " + ec.message());
  }
  return PmiSocketPair{std::move(server), fds[1]};
}

std::vector<std::string> pmi_environment(int rank, int size, int fd_in_child) {
  return {"PMI_FD=" + std::to_string(fd_in_child), "PMI_RANK=" + std::to_string(rank),
          "PMI_SIZE=" + std::to_string(size)};
}

}  // namespace meshrun
