#include "agent/output_stream.hpp"

namespace meshrun {

std::shared_ptr<OutputStream> OutputStream::create(asio::io_context& io, uint32_t rank,
                                                   uint8_t stream, bool end_partial_line, Send send,
                                                   std::chrono::milliseconds delay) {
  return std::shared_ptr<OutputStream>(
      new OutputStream(io, rank, stream, end_partial_line, std::move(send), delay));
}

OutputStream::OutputStream(asio::io_context& io, uint32_t rank, uint8_t stream,
                           bool end_partial_line, Send send, std::chrono::milliseconds delay)
    : send_(std::move(send)), timer_(io), delay_(delay), end_partial_line_(end_partial_line) {
  out_.proc = rank;
  out_.stream = stream;
}

void OutputStream::send(std::string data) {
  if (data.empty()) return;
  at_line_start_ = data.back() == '\n';
  out_.data = std::move(data);
  send_(out_);
}

void OutputStream::feed(std::string_view bytes) {
  if (finished_) return;
  send(lines_.feed(bytes));
  if (lines_.buffered() == 0) return;
  last_feed_ = std::chrono::steady_clock::now();
  arm();
}

// One timer wait at a time; when it fires early (more bytes came meanwhile)
// it waits again for the rest of the moment after the last of them.
void OutputStream::arm() {
  if (armed_) return;
  armed_ = true;
  timer_.expires_at(last_feed_ + delay_);
  timer_.async_wait([self = shared_from_this()](asio::error_code ec) {
    self->armed_ = false;
    if (ec || self->finished_ || self->lines_.buffered() == 0) return;
    if (std::chrono::steady_clock::now() < self->last_feed_ + self->delay_) {
      self->arm();
      return;
    }
    self->send(self->lines_.finish());
  });
}

void OutputStream::finish() {
  if (finished_) return;
  finished_ = true;
  timer_.cancel();
  std::string rest = lines_.finish();
  const bool open = rest.empty() ? !at_line_start_ : rest.back() != '\n';
  if (end_partial_line_ && open) rest += '\n';
  send(std::move(rest));
}

}  // namespace meshrun
