// Framing: every message on a stream is a 4-byte big-endian payload length
// followed by the payload. The length is checked against a limit before any
// memory is set aside for it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "util/result.hpp"

namespace meshrun {

inline constexpr size_t kFrameHeaderSize = 4;
inline constexpr uint32_t kDefaultMaxFrame = 64u << 20;

void put_u32_be(char* out, uint32_t v);
uint32_t get_u32_be(const char* in);

// Appends header + payload to `out`.
void append_frame(std::string& out, std::string_view payload);

// Incremental decoder for a byte stream: feed what the socket gave, take out
// whole frames. Errors are sticky: after one, the stream is unusable.
class FrameDecoder {
 public:
  explicit FrameDecoder(uint32_t max_frame = kDefaultMaxFrame) : max_frame_(max_frame) {}

  void feed(std::string_view bytes);
  // A whole frame's payload; std::nullopt-like empty Result means "need more":
  // returns true and fills `payload` when one is ready, false when more bytes
  // are needed, or an error when the stream is broken.
  Result<bool> next(std::string& payload);

  // Where the socket can read into directly, avoiding a copy.
  char* prepare(size_t n);
  void commit(size_t n);

  size_t buffered() const { return end_ - begin_; }
  // The next frame's payload length once its header is in (checked against
  // the limit), else 0.
  uint32_t next_length() const;
  // Takes the next frame out before it is all in: `payload` is sized to it
  // and holds the bytes buffered so far, which are returned; the caller
  // reads the rest into it straight from the socket.
  size_t take_partial(std::string& payload);
  void set_max_frame(uint32_t max_frame) { max_frame_ = max_frame; }

 private:
  void compact();
  uint32_t max_frame_;
  // Not a std::string: growing one zero-fills it, so every connection's
  // 64 KiB read space would be resident even when it only sees small frames.
  std::unique_ptr<char[]> buf_;
  size_t capacity_ = 0;
  size_t begin_ = 0;
  size_t end_ = 0;
  bool broken_ = false;
};

}  // namespace meshrun
