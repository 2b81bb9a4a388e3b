#include "wire/actor_frames.hpp"

#include <cstring>

#include "wire/codec.hpp"

namespace meshrun {
namespace {

constexpr size_t kTypeBytes = 2;
constexpr size_t kFromOffset = kTypeBytes;
constexpr size_t kLocalOnlyOffset = kFromOffset + kEndpointBytes;

bool is(std::string_view frame, MsgType type) {
  auto t = peek_type(frame);
  return t && *t == type;
}

void write_endpoint(std::string& frame, size_t at, const Endpoint& e) {
  std::string bytes;
  Writer w(bytes);
  w.put(e);
  std::memcpy(frame.data() + at, bytes.data(), kEndpointBytes);
}

}  // namespace

Result<CastHead> peek_cast_head(std::string_view frame) {
  if (!is(frame, MsgType::actor_cast)) return make_error(Errc::protocol, "not an ActorCast");
  Reader r(frame.substr(kTypeBytes));
  CastHead h;
  uint8_t local_only = 0;
  r(h.from, local_only, h.timeout_ms, h.port);
  if (!r.ok() || local_only > 1 || h.port.reducer > ReducerKind::all_equal)
    return make_error(Errc::protocol, "ActorCast head is truncated or malformed");
  h.local_only = local_only != 0;
  return h;
}

namespace {
constexpr size_t kCastHeadBytes = kTypeBytes + kEndpointBytes + 1 + 4 + kPortRefBytes;

// Moves `r` past one length-prefixed field, or fails it.
void skip_string(std::string_view in, size_t& pos, bool& ok) {
  if (!ok || in.size() - pos < 4) {
    ok = false;
    return;
  }
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n |= static_cast<uint32_t>(static_cast<uint8_t>(in[pos + i])) << (8 * i);
  pos += 4;
  if (n > kMaxFieldBytes || in.size() - pos < n) {
    ok = false;
    return;
  }
  pos += n;
}
uint32_t read_u32(std::string_view in, size_t& pos, bool& ok) {
  if (!ok || in.size() - pos < 4) {
    ok = false;
    return 0;
  }
  uint32_t n = 0;
  for (int i = 0; i < 4; ++i)
    n |= static_cast<uint32_t>(static_cast<uint8_t>(in[pos + i])) << (8 * i);
  pos += 4;
  return n;
}
void skip_fixed(std::string_view in, size_t& pos, size_t n, bool& ok) {
  if (!ok || in.size() - pos < n)
    ok = false;
  else
    pos += n;
}
// MeshRef's fields (mesh_ref.hpp), walked without decoding.
void skip_ref(std::string_view in, size_t& pos, bool& ok) {
  skip_fixed(in, pos, 4, ok);  // mesh
  skip_string(in, pos, ok);    // name
  skip_fixed(in, pos, 8, ok);  // proc_base, per_host
  const uint32_t dims = read_u32(in, pos, ok);
  for (uint32_t i = 0; ok && i < dims; ++i)
    skip_string(in, pos, ok);
  const uint32_t sizes = read_u32(in, pos, ok);
  if (ok && sizes > kMaxElements) ok = false;
  skip_fixed(in, pos, 4ull * sizes, ok);
  for (int k = 0; k < 2; ++k) {  // region, view
    const uint32_t ranges = read_u32(in, pos, ok);
    if (ok && ranges > kMaxElements) ok = false;
    skip_fixed(in, pos, 8ull * ranges, ok);
  }
}
}  // namespace

Result<CastParts> peek_cast_parts(std::string_view frame) {
  auto head = peek_cast_head(frame);
  if (!head) return head.error();
  bool ok = true;
  size_t pos = kCastHeadBytes;
  const size_t target_begin = pos;
  skip_ref(frame, pos, ok);
  const size_t target_end = pos;
  const size_t message_begin = pos + 4;
  skip_string(frame, pos, ok);
  const size_t message_end = pos;
  const size_t payload_begin = pos + 4;
  skip_string(frame, pos, ok);
  if (!ok || pos != frame.size())
    return make_error(Errc::protocol, "ActorCast is truncated or malformed");
  return CastParts{*head, frame.substr(target_begin, target_end - target_begin),
                   frame.substr(message_begin, message_end - message_begin),
                   frame.substr(payload_begin, pos - payload_begin)};
}

std::string encode_cast(const Endpoint& from, uint32_t timeout_ms, const PortRef& port,
                        std::string_view target, std::string_view message,
                        std::string_view payload) {
  std::string out;
  out.reserve(kCastHeadBytes + target.size() + 8 + message.size() + payload.size());
  Writer w(out);
  w.put(static_cast<uint16_t>(MsgType::actor_cast));
  w.put(from);
  w.put(uint8_t{0});
  w.put(timeout_ms);
  w.put(port);
  out.append(target);
  w.put(static_cast<uint32_t>(message.size()));
  out.append(message);
  w.put(static_cast<uint32_t>(payload.size()));
  out.append(payload);
  return out;
}

Result<MeshRef> peek_cast_target(std::string_view frame) {
  if (!is(frame, MsgType::actor_cast)) return make_error(Errc::protocol, "not an ActorCast");
  Reader r(frame.substr(kTypeBytes));
  CastHead h;
  uint8_t local_only = 0;
  MeshRef target;
  r(h.from, local_only, h.timeout_ms, h.port, target);
  if (!r.ok() || !target.valid())
    return make_error(Errc::protocol, "ActorCast target is truncated or malformed");
  return target;
}

void patch_cast_from(std::string& frame, const Endpoint& from) {
  if (frame.size() >= kFromOffset + kEndpointBytes) write_endpoint(frame, kFromOffset, from);
}

void patch_cast_local_only(std::string& frame) {
  if (frame.size() > kLocalOnlyOffset) frame[kLocalOnlyOffset] = 1;
}

Result<ReplyHead> peek_reply_head(std::string_view frame) {
  if (!is(frame, MsgType::port_reply)) return make_error(Errc::protocol, "not a PortReply");
  Reader r(frame.substr(kTypeBytes));
  ReplyHead h;
  r(h.from, h.port, h.kind);
  if (!r.ok() || h.kind > ReplyKind::partial || h.port.reducer > ReducerKind::all_equal)
    return make_error(Errc::protocol, "PortReply head is truncated or malformed");
  return h;
}

void patch_reply_from(std::string& frame, const Endpoint& from) {
  if (frame.size() >= kFromOffset + kEndpointBytes) write_endpoint(frame, kFromOffset, from);
}

}  // namespace meshrun
