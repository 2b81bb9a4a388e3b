#include "channel/connection.hpp"

#include <array>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>
#include <asio/read.hpp>
#include <asio/ssl/error.hpp>
#include <asio/ssl/stream.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <tuple>
#include <vector>

#include "auth/handshake.hpp"
#include "auth/tls.hpp"

namespace meshrun {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr uint32_t kHandshakeMaxFrame = 64;
constexpr size_t kReadChunk = 64 * 1024;
constexpr size_t kMaxGather = 64;
// Frames from this size on are read straight into their payload.
constexpr size_t kDirectRead = 128 * 1024;
// Frames up to this size are copied into shared chunks; larger ones are
// queued on their own (moved in when the caller gives them up).
constexpr size_t kCopyMax = 16 * 1024;
// A chunk of small frames stops taking more at this size.
constexpr size_t kChunkSize = 64 * 1024;
// TLS writes one buffer per record: frames are copied into one up to this size.
constexpr size_t kTlsCoalesce = 256 * 1024;

bool is_closed_error(const asio::error_code& ec) {
  return ec == asio::error::eof || ec == asio::error::connection_reset ||
         ec == asio::error::operation_aborted || ec == asio::error::bad_descriptor ||
         ec == asio::ssl::error::stream_truncated;
}
}  // namespace

struct Connection::Tls {
  Tls(Socket& s, std::shared_ptr<TlsContext> c)
      : context(std::move(c)), stream(s, context->native()) {}
  std::shared_ptr<TlsContext> context;  // outlives the stream
  asio::ssl::stream<Socket&> stream;
  std::string scratch;
};

std::shared_ptr<Connection> Connection::make(Socket socket, std::string peer) {
  return std::shared_ptr<Connection>(new Connection(std::move(socket), std::move(peer)));
}

std::shared_ptr<Connection> Connection::adopt_fd(asio::io_context& io, int fd, std::string peer) {
  Socket s(io);
  asio::error_code ec;
  s.assign(asio::generic::stream_protocol(AF_UNIX, SOCK_STREAM), fd, ec);
  return make(std::move(s), std::move(peer));
}

Connection::Connection(Socket socket, std::string peer)
    : socket_(std::move(socket)), peer_(std::move(peer)), decoder_(kDefaultMaxFrame) {
  if (socket_.is_open()) {
    asio::error_code ec;
    socket_.non_blocking(true, ec);  // send_payload's fast path must never block
  }
  if (socket_.is_open()) {
    asio::error_code ec;
    auto ep = socket_.local_endpoint(ec);
    tcp_ = !ec && ep.protocol().family() != AF_UNIX;
  }
  if (tcp_) {
    asio::error_code ec;
    socket_.set_option(asio::ip::tcp::no_delay(true), ec);
  }
  last_receive_ = last_send_ = std::chrono::steady_clock::now();
}

Connection::~Connection() = default;

std::string Connection::tls_version() const {
  if (!tls_) return {};
  return SSL_get_version(const_cast<asio::ssl::stream<Socket&>&>(tls_->stream).native_handle());
}

void Connection::close() {
  closed_ = true;
  asio::error_code ec;
  socket_.shutdown(asio::socket_base::shutdown_both, ec);
  socket_.close(ec);
  queue_.clear();
  in_flight_ = 0;
  back_open_ = false;
  queued_bytes_ = 0;
  wake_waiters();
}

Error Connection::read_failed(const asio::error_code& ec) {
  close();
  if (is_closed_error(ec)) return make_error(Errc::closed, "connection to " + peer_ + " closed");
  return make_error(Errc::io, "reading from " + peer_ + ": " + ec.message());
}

asio::awaitable<Result<std::string>> Connection::read() {
  std::string payload;
  for (;;) {
    auto got = decoder_.next(payload);
    if (!got) {
      close();
      co_return got.error();
    }
    if (*got) co_return payload;
    if (!is_open()) co_return make_error(Errc::closed, "connection to " + peer_ + " is closed");
    if (decoder_.next_length() >= kDirectRead && read_chunk_ == kReadChunk) {
      // A large frame skips the decoder's buffer: read straight into it.
      const size_t have = decoder_.take_partial(payload);
      auto [ec, n] =
          tls_ ? co_await asio::async_read(
                     tls_->stream, asio::buffer(payload.data() + have, payload.size() - have),
                     kTuple)
               : co_await asio::async_read(
                     socket_, asio::buffer(payload.data() + have, payload.size() - have), kTuple);
      if (ec) co_return read_failed(ec);
      last_receive_ = std::chrono::steady_clock::now();
      co_return payload;
    }
    char* buf = decoder_.prepare(read_chunk_);
    auto [ec, n] =
        tls_ ? co_await tls_->stream.async_read_some(asio::buffer(buf, read_chunk_), kTuple)
             : co_await socket_.async_read_some(asio::buffer(buf, read_chunk_), kTuple);
    if (ec) co_return read_failed(ec);
    // Per read, not per frame: a read may carry hundreds of frames.
    last_receive_ = std::chrono::steady_clock::now();
    decoder_.commit(n);
  }
}

asio::awaitable<Result<std::string>> Connection::read_within(Millis timeout) {
  auto self = shared_from_this();
  asio::steady_timer timer(socket_.get_executor(), timeout);
  timer.async_wait([self](asio::error_code ec) {
    if (!ec) self->close();
  });
  auto frame = co_await read();
  timer.cancel();
  if (!frame && timer.expiry() <= asio::steady_timer::clock_type::now())
    co_return make_error(Errc::timeout,
                         peer_ + " sent nothing within " + std::to_string(timeout.count()) + " ms");
  co_return frame;
}

std::string& Connection::open_chunk() {
  if (!back_open_ || queue_.size() <= in_flight_ || queue_.back().size() >= kChunkSize) {
    queue_.emplace_back();
    back_open_ = true;
  }
  return queue_.back();
}

// Not written at once: the writer starts after the current handler, so every
// frame sent until then shares its write.
void Connection::start_writing() {
  if (writing_) return;
  writing_ = true;
  asio::co_spawn(socket_.get_executor(), write_loop(), asio::detached);
}

void Connection::send_payload(std::string_view payload) {
  if (closed_) return;
  char header[kFrameHeaderSize];
  put_u32_be(header, static_cast<uint32_t>(payload.size()));
  size_t sent = 0;
  if (!writing_ && queue_.empty() && !tls_ && !burst_) {
    // The first frame of a turn goes at once, which saves a round trip
    // through the scheduler when it is alone; the rest of the turn's frames
    // wait for the writer and share its writes.
    burst_ = true;
    asio::post(socket_.get_executor(), [self = shared_from_this()] { self->burst_ = false; });
    const std::array<asio::const_buffer, 2> bufs{asio::buffer(header, kFrameHeaderSize),
                                                 asio::buffer(payload.data(), payload.size())};
    asio::error_code ec;
    sent = socket_.write_some(bufs, ec);
    if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
      close();
      return;
    }
    if (sent == kFrameHeaderSize + payload.size()) {
      last_send_ = std::chrono::steady_clock::now();
      return;
    }
    if (sent < kFrameHeaderSize) {
      open_chunk().append(header + sent, kFrameHeaderSize - sent);
      queued_bytes_ += kFrameHeaderSize - sent;
      sent = 0;
    } else {
      sent -= kFrameHeaderSize;
    }
    // The rest of the frame, as its own chunk.
    queue_.emplace_back(payload.substr(sent));
    back_open_ = false;
    queued_bytes_ += payload.size() - sent;
    start_writing();
    return;
  }
  if (payload.size() <= kCopyMax) {
    auto& chunk = open_chunk();
    chunk.append(header, kFrameHeaderSize);
    chunk.append(payload);
  } else {
    std::string frame;
    frame.reserve(kFrameHeaderSize + payload.size());
    frame.append(header, kFrameHeaderSize);
    frame.append(payload);
    queue_.push_back(std::move(frame));
    back_open_ = false;
  }
  queued_bytes_ += kFrameHeaderSize + payload.size();
  start_writing();
}

void Connection::send_payload(std::string&& payload) {
  if (payload.size() <= kCopyMax) return send_payload(std::string_view(payload));
  if (closed_) return;
  char header[kFrameHeaderSize];
  put_u32_be(header, static_cast<uint32_t>(payload.size()));
  open_chunk().append(header, kFrameHeaderSize);
  queued_bytes_ += kFrameHeaderSize + payload.size();
  queue_.push_back(std::move(payload));
  back_open_ = false;
  start_writing();
}

void Connection::send_parts(std::string_view head, std::string&& tail) {
  if (closed_) return;
  char header[kFrameHeaderSize];
  put_u32_be(header, static_cast<uint32_t>(head.size() + tail.size()));
  auto& chunk = open_chunk();
  chunk.append(header, kFrameHeaderSize);
  chunk.append(head);
  queued_bytes_ += kFrameHeaderSize + head.size() + tail.size();
  if (tail.size() <= kCopyMax) {
    chunk.append(tail);
  } else {
    queue_.push_back(std::move(tail));
    back_open_ = false;
  }
  start_writing();
}

void Connection::wake_waiters() {
  if (drained_) drained_->cancel();
}

asio::awaitable<void> Connection::write_loop() {
  auto self = shared_from_this();
  std::vector<asio::const_buffer> bufs;
  while (!queue_.empty() && !closed_) {
    bufs.clear();
    size_t count = std::min(queue_.size(), kMaxGather);
    size_t bytes = 0;
    asio::error_code ec;
    if (tls_) {
      // One buffer, so small frames share records instead of one each; a
      // lone or large chunk goes as it is.
      count = 1;
      bytes = queue_[0].size();
      while (count < queue_.size() && bytes + queue_[count].size() <= kTlsCoalesce)
        bytes += queue_[count++].size();
      in_flight_ = count;
      asio::const_buffer out = asio::buffer(queue_[0]);
      if (count > 1) {
        tls_->scratch.clear();
        for (size_t i = 0; i < count; ++i)
          tls_->scratch += queue_[i];
        out = asio::buffer(tls_->scratch);
      }
      std::tie(ec, std::ignore) = co_await asio::async_write(tls_->stream, out, kTuple);
    } else {
      for (size_t i = 0; i < count; ++i) {
        bufs.emplace_back(asio::buffer(queue_[i]));
        bytes += queue_[i].size();
      }
      in_flight_ = count;
      std::tie(ec, std::ignore) = co_await asio::async_write(socket_, bufs, kTuple);
    }
    in_flight_ = 0;
    if (ec || closed_) {
      close();
      break;
    }
    for (size_t i = 0; i < count; ++i)
      queue_.pop_front();
    if (queue_.empty()) back_open_ = false;
    queued_bytes_ -= bytes;
    last_send_ = std::chrono::steady_clock::now();
    wake_waiters();
  }
  writing_ = false;
  wake_waiters();
}

asio::awaitable<void> Connection::flush() {
  auto self = shared_from_this();
  while (writing_ && !closed_) {
    if (!drained_) {
      drained_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
      drained_->expires_at(asio::steady_timer::time_point::max());
    }
    co_await drained_->async_wait(kTuple);
  }
}

asio::awaitable<bool> Connection::wait_queued_below(
    size_t bytes, std::chrono::steady_clock::time_point deadline) {
  auto self = shared_from_this();
  while (queued_bytes_ > bytes && !closed_) {
    if (std::chrono::steady_clock::now() >= deadline) co_return false;
    if (!drained_) {
      drained_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
      drained_->expires_at(asio::steady_timer::time_point::max());
    }
    asio::steady_timer guard(socket_.get_executor(), deadline);
    guard.async_wait([self](asio::error_code ec) {
      if (!ec) self->wake_waiters();
    });
    co_await drained_->async_wait(kTuple);
  }
  co_return !closed_;
}

asio::awaitable<Result<std::string>> Connection::read_with_deadline(asio::steady_timer& timer) {
  auto r = co_await read();
  if (!r && timer.expiry() <= asio::steady_timer::clock_type::now())
    co_return make_error(Errc::timeout, "handshake with " + peer_ + " timed out");
  co_return r;
}

asio::awaitable<Status> Connection::start_tls(std::shared_ptr<TlsContext> tls, bool server,
                                              asio::steady_timer& timer) {
  auto t = std::make_unique<Tls>(socket_, std::move(tls));
  auto [ec] = co_await t->stream.async_handshake(
      server ? asio::ssl::stream_base::server : asio::ssl::stream_base::client, kTuple);
  if (ec) {
    if (timer.expiry() <= asio::steady_timer::clock_type::now())
      co_return make_error(Errc::timeout, "TLS handshake with " + peer_ + " timed out");
    co_return make_error(Errc::auth, "TLS handshake with " + peer_ + " failed (" + ec.message() +
                                         "): is it another job, or run with --no-tls?");
  }
  tls_ = std::move(t);
  co_return Status{};
}

asio::awaitable<Status> Connection::authenticate_client(const Secret& secret, Millis timeout,
                                                        std::shared_ptr<TlsContext> tls) {
  Status status = co_await authenticate(secret, timeout, std::move(tls), false);
  co_return status;
}

asio::awaitable<Status> Connection::authenticate_server(const Secret& secret, Millis timeout,
                                                        std::shared_ptr<TlsContext> tls) {
  Status status = co_await authenticate(secret, timeout, std::move(tls), true);
  co_return status;
}

asio::awaitable<Status> Connection::authenticate(const Secret& secret, Millis timeout,
                                                 std::shared_ptr<TlsContext> tls, bool server) {
  auto self = shared_from_this();
  asio::steady_timer timer(socket_.get_executor(), timeout);
  timer.async_wait([self](asio::error_code ec) {
    if (!ec) self->close();
  });
  decoder_.set_max_frame(kHandshakeMaxFrame);
  // A crowd of pending strangers must not cost a full read buffer each.
  read_chunk_ = kFrameHeaderSize + kHandshakeMaxFrame;
  Status status;
  if (tls && tcp_) {
    Status tls_status = co_await start_tls(std::move(tls), server, timer);
    status = tls_status;
  }
  if (status) {
    if (server) {
      Status proved = co_await prove_as_server(secret, timer);
      status = proved;
    } else {
      Status proved = co_await prove_as_client(secret, timer);
      status = proved;
    }
  }
  timer.cancel();
  if (!status) close();
  decoder_.set_max_frame(kDefaultMaxFrame);
  read_chunk_ = kReadChunk;
  co_return status;
}

asio::awaitable<Status> Connection::prove_as_client(const Secret& secret,
                                                    asio::steady_timer& timer) {
  auto mine = make_nonce();
  if (!mine) co_return mine.error();
  send_payload(encode_greeting(*mine));
  auto challenge = co_await read_with_deadline(timer);
  if (!challenge)
    co_return make_error(challenge.error().code == Errc::timeout ? Errc::timeout : Errc::auth,
                         peer_ + " refused the connection during the handshake (" +
                             challenge.error().message +
                             "): is it another job, or another meshrun version?");
  auto theirs = decode_greeting(*challenge);
  if (!theirs) co_return theirs.error();
  send_payload(encode_proof(compute_proof(secret, ProofRole::client, *theirs, *mine)));
  auto proof = co_await read_with_deadline(timer);
  if (!proof)
    co_return make_error(Errc::auth, peer_ + " did not accept our proof of the job secret (" +
                                         proof.error().message + ")");
  if (!check_proof(*proof, compute_proof(secret, ProofRole::server, *mine, *theirs)))
    co_return make_error(Errc::auth, peer_ + " does not know the job secret");
  co_return Status{};
}

asio::awaitable<Status> Connection::prove_as_server(const Secret& secret,
                                                    asio::steady_timer& timer) {
  auto hello = co_await read_with_deadline(timer);
  if (!hello) co_return hello.error();
  auto theirs = decode_greeting(*hello);
  if (!theirs) co_return theirs.error();
  auto mine = make_nonce();
  if (!mine) co_return mine.error();
  send_payload(encode_greeting(*mine));
  auto proof = co_await read_with_deadline(timer);
  if (!proof) co_return proof.error();
  auto ok = check_proof(*proof, compute_proof(secret, ProofRole::client, *mine, *theirs));
  if (!ok) co_return ok.error();
  send_payload(encode_proof(compute_proof(secret, ProofRole::server, *theirs, *mine)));
  co_return Status{};
}

}  // namespace meshrun
