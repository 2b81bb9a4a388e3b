#include "wire/frame.hpp"

#include <algorithm>
#include <cstring>

namespace meshrun {

void put_u32_be(char* out, uint32_t v) {
  out[0] = static_cast<char>(v >> 24);
  out[1] = static_cast<char>(v >> 16);
  out[2] = static_cast<char>(v >> 8);
  out[3] = static_cast<char>(v);
}

uint32_t get_u32_be(const char* in) {
  const auto* p = reinterpret_cast<const unsigned char*>(in);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

void append_frame(std::string& out, std::string_view payload) {
  char header[kFrameHeaderSize];
  put_u32_be(header, static_cast<uint32_t>(payload.size()));
  out.append(header, kFrameHeaderSize);
  out.append(payload);
}

void FrameDecoder::compact() {
  if (begin_ == 0) return;
  if (begin_ == end_) {
    begin_ = end_ = 0;
    return;
  }
  std::memmove(buf_.get(), buf_.get() + begin_, end_ - begin_);
  end_ -= begin_;
  begin_ = 0;
}

char* FrameDecoder::prepare(size_t n) {
  if (capacity_ - end_ < n) {
    compact();
    if (capacity_ - end_ < n) {
      const size_t want = std::max(end_ + n, 2 * capacity_);
      std::unique_ptr<char[]> bigger(new char[want]);  // left uninitialised on purpose
      if (end_ > 0) std::memcpy(bigger.get(), buf_.get(), end_);
      buf_ = std::move(bigger);
      capacity_ = want;
    }
  }
  return buf_.get() + end_;
}

void FrameDecoder::commit(size_t n) {
  end_ += n;
}

void FrameDecoder::feed(std::string_view bytes) {
  if (bytes.empty()) return;  // the buffer may not exist yet, and memcpy wants a pointer
  std::memcpy(prepare(bytes.size()), bytes.data(), bytes.size());
  commit(bytes.size());
}

Result<bool> FrameDecoder::next(std::string& payload) {
  if (broken_) return make_error(Errc::protocol, "stream already broken");
  if (end_ - begin_ < kFrameHeaderSize) return false;
  const uint32_t len = get_u32_be(buf_.get() + begin_);
  if (len > max_frame_) {
    broken_ = true;
    return make_error(Errc::protocol, "frame of " + std::to_string(len) +
                                          " bytes is over the limit of " +
                                          std::to_string(max_frame_));
  }
  if (end_ - begin_ - kFrameHeaderSize < len) return false;
  payload.assign(buf_.get() + begin_ + kFrameHeaderSize, len);
  begin_ += kFrameHeaderSize + len;
  if (begin_ == end_) begin_ = end_ = 0;
  return true;
}

uint32_t FrameDecoder::next_length() const {
  if (broken_ || end_ - begin_ < kFrameHeaderSize) return 0;
  const uint32_t len = get_u32_be(buf_.get() + begin_);
  return len > max_frame_ ? 0 : len;
}

size_t FrameDecoder::take_partial(std::string& payload) {
  const uint32_t len = next_length();
  const size_t have = std::min<size_t>(len, end_ - begin_ - kFrameHeaderSize);
  payload.resize(len);
  if (have > 0) std::memcpy(payload.data(), buf_.get() + begin_ + kFrameHeaderSize, have);
  begin_ += kFrameHeaderSize + have;
  if (begin_ == end_) begin_ = end_ = 0;
  return have;
}

}  // namespace meshrun
