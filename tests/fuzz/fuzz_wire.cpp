// Frame decoder + message codec: arbitrary bytes from a socket must come out
// as whole frames, clean errors, or "need more" - never a crash or a huge
// allocation. Frames that decode must re-encode to the same bytes.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

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
      auto msg = decode(payload);
      if (!msg) continue;
      // A message that decodes is one the codec could have written.
      std::string again = std::visit([](const auto& m) { return encode(m); }, *msg);
      if (again != payload) std::abort();
    }
  }
  // The whole input as one payload, without framing.
  (void)decode(in);
  (void)peek_type(in);
  return 0;
}
