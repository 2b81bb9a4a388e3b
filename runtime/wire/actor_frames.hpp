// The one place that reads and rewrites the heads of ActorCast and PortReply
// frames without decoding (or copying) their payloads. Host agents route
// every actor message through here, so it depends on the field order of
// those two messages in wire/messages.hpp; the codec tests pin it.
#pragma once

#include <string>
#include <string_view>

#include "mesh/mesh_ref.hpp"
#include "util/result.hpp"
#include "wire/messages.hpp"

namespace meshrun {

struct CastHead {
  Endpoint from;
  bool local_only = false;
  uint32_t timeout_ms = 0;
  PortRef port;
};

struct ReplyHead {
  Endpoint from;
  PortRef port;
  ReplyKind kind = ReplyKind::value;
};

// A cast read whole, copying nothing but its head: the target's fields (a
// reference without its tag), the message name and the payload lie in the
// frame.
struct CastParts {
  CastHead head;
  std::string_view target;
  std::string_view message;
  std::string_view payload;
};

// `frame` is a whole encoded message (type id first).
Result<CastHead> peek_cast_head(std::string_view frame);
Result<CastParts> peek_cast_parts(std::string_view frame);
// An ActorCast frame from its parts: `target` as peek_cast_parts gives it
// (or ref_fields() of a reference), so a sender need not decode it.
std::string encode_cast(const Endpoint& from, uint32_t timeout_ms, const PortRef& port,
                        std::string_view target, std::string_view message,
                        std::string_view payload);
// The head and the target; the message and payload stay unread.
Result<MeshRef> peek_cast_target(std::string_view frame);
void patch_cast_from(std::string& frame, const Endpoint& from);
void patch_cast_local_only(std::string& frame);

Result<ReplyHead> peek_reply_head(std::string_view frame);
void patch_reply_from(std::string& frame, const Endpoint& from);

}  // namespace meshrun
