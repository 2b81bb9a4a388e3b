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
