// Frame decoder + message codec: arbitrary bytes from a socket must come out
// as whole frames, clean errors, or "need more" - never a crash or a huge
// allocation. Frames that decode must re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "mesh/mesh_ref.hpp"
#include "wire/actor_frames.hpp"
#include "wire/frame.hpp"
#include "wire/messages.hpp"

using namespace meshrun;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  // Byte 0 picks how the stream is cut, so split reads are covered; byte 1
  // picks a small frame limit, so the over-limit path is reachable.
  const size_t chunk = static_cast<size_t>(data[0] % 17) + 1;
  FrameDecoder dec((data[1] & 1) ? 1024 : kDefaultMaxFrame);
  std::string_view in(reinterpret_cast<const char*>(data) + 2, size - 2);
  std::string payload;
  for (size_t pos = 0; pos < in.size(); pos += chunk) {
    dec.feed(in.substr(pos, chunk));
    for (;;) {
      auto r = dec.next(payload);
      if (!r) return 0;  // broken stream: the connection would be dropped
      if (!*r) break;
      // What host agents read of actor messages without decoding them must
      // agree with the codec: a head is read only from a frame that decodes.
      auto cast_head = peek_cast_head(payload);
      auto reply_head = peek_reply_head(payload);
      auto msg = decode(payload);
      if (!msg) continue;
      if (cast_head) {
        const auto& c = std::get<ActorCast>(*msg);
        if (!(c.from == cast_head->from) || !(c.port == cast_head->port)) std::abort();
      }
      if (reply_head && !(std::get<PortReply>(*msg).port == reply_head->port)) std::abort();
      // A message that decodes is one the codec could have written.
      std::string again = std::visit([](const auto& m) { return encode(m); }, *msg);
      if (again != payload) std::abort();
    }
  }
  // The whole input as one payload, without framing.
  (void)decode(in);
  (void)peek_type(in);
  // References and ports arrive in plugins' payloads as bytes.
  if (auto ref = decode_ref(in)) {
    (void)ref->actor_ranks();
    (void)ref->hosts();
    if (ref->size() > 0) (void)ref->at(ref->size() - 1);
    if (encode_ref(*ref) != in) std::abort();
  }
  (void)decode_port(in);
  return 0;
}
