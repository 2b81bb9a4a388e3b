// A framed, authenticated, full-duplex connection over a stream socket (unix
// or TCP). One reader: the owner co_awaits read(). The first frame sent in a
// turn of the event loop is written at once; the rest are queued for one
// writer coroutine, small ones copied into shared chunks, and go out in
// gathered writes.
// Given a TlsContext, a TCP connection runs TLS 1.3 under the framing.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/generic/stream_protocol.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <string_view>

#include "auth/secret.hpp"
#include "util/result.hpp"
#include "wire/frame.hpp"
#include "wire/messages.hpp"

namespace meshrun {

using Millis = std::chrono::milliseconds;
using Socket = asio::generic::stream_protocol::socket;

class TlsContext;

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  static std::shared_ptr<Connection> make(Socket socket, std::string peer);
  // Adopts one end of a socketpair (already trusted: only our child has the other end).
  static std::shared_ptr<Connection> adopt_fd(asio::io_context& io, int fd, std::string peer);
  ~Connection();

  // The handshake of auth/handshake.hpp, bounded by `timeout`. Until it
  // succeeds, frames are capped at a few bytes so an unauthenticated peer
  // cannot make us allocate. On failure the socket is closed.
  // With `tls` on a TCP socket, a TLS 1.3 handshake (each side verifying the
  // other against the job CA) comes first, within the same deadline; unix
  // sockets stay plain whatever `tls` says.
  asio::awaitable<Status> authenticate_client(const Secret& secret, Millis timeout,
                                              std::shared_ptr<TlsContext> tls = nullptr);
  asio::awaitable<Status> authenticate_server(const Secret& secret, Millis timeout,
                                              std::shared_ptr<TlsContext> tls = nullptr);
  bool tls() const { return tls_ != nullptr; }
  std::string tls_version() const;  // "TLSv1.3", or empty when plain

  // The next frame's payload; an error when the peer closed or broke the framing.
  asio::awaitable<Result<std::string>> read();
  // read(), but the connection is closed if no frame came within `timeout`
  // (a peer that connects and then says nothing holds nothing for long).
  asio::awaitable<Result<std::string>> read_within(Millis timeout);

  void send_payload(std::string_view payload);
  // A large payload is queued as it is, not copied.
  void send_payload(std::string&& payload);
  // One frame whose payload is `head` then `tail`; a large tail is not copied.
  void send_parts(std::string_view head, std::string&& tail);
  template <class M>
  void send(const M& message) {
    send_payload(encode(message));
  }
  size_t queued_bytes() const { return queued_bytes_; }
  // Completes when everything queued so far is written (or the connection failed).
  asio::awaitable<void> flush();
  // Back-pressure: true once at most `bytes` are queued; false when the
  // connection closed or `deadline` passed first.
  asio::awaitable<bool> wait_queued_below(size_t bytes,
                                          std::chrono::steady_clock::time_point deadline);

  void close();
  bool is_open() const { return socket_.is_open() && !closed_; }
  const std::string& peer() const { return peer_; }
  void set_peer(std::string peer) { peer_ = std::move(peer); }
  std::chrono::steady_clock::time_point last_receive() const { return last_receive_; }
  std::chrono::steady_clock::time_point last_send() const { return last_send_; }
  Socket& socket() { return socket_; }

 private:
  Connection(Socket socket, std::string peer);
  asio::awaitable<void> write_loop();
  // The chunk small frames are appended to (one the writer is not sending).
  std::string& open_chunk();
  void start_writing();
  void wake_waiters();
  // Closes the connection and says why a read failed.
  Error read_failed(const asio::error_code& ec);
  asio::awaitable<Result<std::string>> read_with_deadline(asio::steady_timer& timer);
  // The deadline, the pre-auth frame cap and TLS are the same for both
  // roles; only the HMAC exchange differs.
  asio::awaitable<Status> authenticate(const Secret& secret, Millis timeout,
                                       std::shared_ptr<TlsContext> tls, bool server);
  asio::awaitable<Status> prove_as_client(const Secret& secret, asio::steady_timer& timer);
  asio::awaitable<Status> prove_as_server(const Secret& secret, asio::steady_timer& timer);
  asio::awaitable<Status> start_tls(std::shared_ptr<TlsContext> tls, bool server,
                                    asio::steady_timer& timer);
  struct Tls;

  Socket socket_;
  std::unique_ptr<Tls> tls_;  // set once the TLS handshake succeeded
  bool tcp_ = false;
  std::string peer_;
  FrameDecoder decoder_;
  size_t read_chunk_ = 64 * 1024;  // bytes asked of each read; less before authentication
  std::deque<std::string> queue_;  // byte chunks, in stream order; frames may span them
  size_t in_flight_ = 0;           // front chunks in the writer's current write
  bool back_open_ = false;         // queue_.back() takes more small frames
  bool burst_ = false;             // a frame was written at once in this turn
  size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool closed_ = false;
  // Never expires; cancelled after every write so waiters re-check the queue.
  std::unique_ptr<asio::steady_timer> drained_;
  std::chrono::steady_clock::time_point last_receive_;
  std::chrono::steady_clock::time_point last_send_;
};

using ConnectionPtr = std::shared_ptr<Connection>;

}  // namespace meshrun
