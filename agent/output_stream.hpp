// One rank's stdout or stderr in line mode, on its way to the launcher.
// Whole lines go on as they arrive and are never split. A partial line goes
// on once nothing more has arrived for a short moment, so a prompt
// (python3 -i's ">>> ", "Password: ") shows without waiting for a newline
// that only comes after the user answers.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "process/line_splitter.hpp"
#include "wire/messages.hpp"

namespace meshrun {

// How long a partial line waits for more bytes before it is sent as it is.
inline constexpr std::chrono::milliseconds kPartialLineDelay{200};

class OutputStream : public std::enable_shared_from_this<OutputStream> {
 public:
  using Send = std::function<void(const Output&)>;

  // `end_partial_line`: at the end of the stream, a last line without a
  // newline gets one (several ranks share the terminal; the next line of
  // another rank must not continue it).
  static std::shared_ptr<OutputStream> create(asio::io_context& io, uint32_t rank, uint8_t stream,
                                              bool end_partial_line, Send send,
                                              std::chrono::milliseconds delay = kPartialLineDelay);

  void feed(std::string_view bytes);
  // End of stream: what is left goes on, and no timer is left behind.
  void finish();

 private:
  OutputStream(asio::io_context& io, uint32_t rank, uint8_t stream, bool end_partial_line,
               Send send, std::chrono::milliseconds delay);
  void send(std::string data);
  void arm();

  LineSplitter lines_;
  Output out_;
  Send send_;
  asio::steady_timer timer_;
  std::chrono::milliseconds delay_;
  std::chrono::steady_clock::time_point last_feed_;
  bool armed_ = false;
  bool finished_ = false;
  bool end_partial_line_;
  bool at_line_start_ = true;  // the last byte sent was a newline (or none was sent)
};

}  // namespace meshrun
