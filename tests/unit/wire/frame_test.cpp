#include <catch2/catch.hpp>
#include <string>
#include <vector>

#include "alloc_probe.hpp"
#include "wire/frame.hpp"

using namespace meshrun;

namespace {

// Every whole frame the decoder has; fails the test on a decoder error.
std::vector<std::string> drain(FrameDecoder& d) {
  std::vector<std::string> out;
  for (;;) {
    std::string payload;
    auto got = d.next(payload);
    REQUIRE(got.ok());
    if (!*got) return out;
    out.push_back(payload);
  }
}

std::string header(uint32_t len) {
  std::string h(kFrameHeaderSize, '\0');
  put_u32_be(h.data(), len);
  return h;
}

const std::vector<std::string> kPayloads = {"hello", "", std::string(1, '\0'),
                                            std::string(70000, 'x'), "last"};

std::string stream_of(const std::vector<std::string>& payloads) {
  std::string s;
  for (const auto& p : payloads)
    append_frame(s, p);
  return s;
}

}  // namespace

TEST_CASE("a frame is a big-endian length followed by the payload", "[frame]") {
  std::string out;
  append_frame(out, "abc");
  REQUIRE(out == std::string("\0\0\0\3abc", 7));
  REQUIRE(get_u32_be(header(0x01020304).data()) == 0x01020304u);
  REQUIRE(header(0x01020304) == "\1\2\3\4");
}

TEST_CASE("frames round trip through the decoder", "[frame]") {
  FrameDecoder d;
  for (const auto& p : kPayloads) {
    std::string s;
    append_frame(s, p);
    d.feed(s);
    auto got = drain(d);
    REQUIRE(got.size() == 1);
    REQUIRE(got[0] == p);
    REQUIRE(d.buffered() == 0);
  }
}

TEST_CASE("a decoder fed byte by byte yields every frame once, in order", "[frame]") {
  FrameDecoder d;
  const std::string s = stream_of(kPayloads);
  std::vector<std::string> got;
  for (char c : s) {
    d.feed(std::string_view(&c, 1));
    for (auto& p : drain(d))
      got.push_back(std::move(p));
  }
  REQUIRE(got == kPayloads);
  REQUIRE(d.buffered() == 0);
}

TEST_CASE("several frames in one feed all come out", "[frame]") {
  FrameDecoder d;
  d.feed(stream_of(kPayloads));
  REQUIRE(drain(d) == kPayloads);
}

TEST_CASE("the decoder reads straight into prepare()d space", "[frame]") {
  FrameDecoder d;
  const std::string s = stream_of({"one", "two"});
  char* p = d.prepare(s.size());
  std::copy(s.begin(), s.end(), p);
  d.commit(s.size());
  REQUIRE(drain(d) == std::vector<std::string>{"one", "two"});
}

TEST_CASE("truncated input means 'need more', not an error", "[frame]") {
  const std::string s = stream_of({"payload"});
  for (size_t cut = 0; cut < s.size(); ++cut) {
    CAPTURE(cut);
    FrameDecoder d;
    d.feed(s.substr(0, cut));
    std::string payload;
    auto got = d.next(payload);
    REQUIRE(got.ok());
    REQUIRE_FALSE(*got);
    REQUIRE(d.buffered() == cut);
    d.feed(s.substr(cut));
    REQUIRE(drain(d) == std::vector<std::string>{"payload"});
  }
}

TEST_CASE("an oversized length is rejected before anything is allocated for it", "[frame]") {
  FrameDecoder d;
  std::string payload;
  Result<bool> got = false;
  {
    alloc_probe::Scope probe;
    d.feed(header(1u << 30));  // claims 1 GiB
    got = d.next(payload);
    REQUIRE(probe.largest() < 4096);
  }
  REQUIRE_FALSE(got.ok());
  REQUIRE(got.error().code == Errc::protocol);
  REQUIRE_THAT(got.error().message, Catch::Contains("1073741824"));
  REQUIRE(d.buffered() <= kFrameHeaderSize);
  REQUIRE(payload.capacity() < 4096);

  SECTION("and the stream stays broken") {
    d.feed(stream_of({"fine"}));
    auto again = d.next(payload);
    REQUIRE_FALSE(again.ok());
  }
}

TEST_CASE("the frame limit is inclusive and adjustable", "[frame]") {
  FrameDecoder d(8);
  d.feed(stream_of({"12345678"}));
  REQUIRE(drain(d) == std::vector<std::string>{"12345678"});
  d.feed(header(9));
  std::string payload;
  REQUIRE_FALSE(d.next(payload).ok());

  FrameDecoder raised(8);
  raised.set_max_frame(100);
  raised.feed(stream_of({std::string(100, 'y')}));
  REQUIRE(drain(raised).at(0).size() == 100);
}

TEST_CASE("the default limit rejects one byte more than it allows", "[frame]") {
  FrameDecoder d;
  d.feed(header(kDefaultMaxFrame + 1));
  std::string payload;
  REQUIRE_FALSE(d.next(payload).ok());

  FrameDecoder ok;
  ok.feed(header(kDefaultMaxFrame));
  auto got = ok.next(payload);
  REQUIRE(got.ok());
  REQUIRE_FALSE(*got);  // allowed; just waiting for the bytes
}

TEST_CASE("the allocation probe sees a large allocation", "[frame]") {
  alloc_probe::Scope probe;
  std::string big(1u << 20, 'x');
  REQUIRE(probe.largest() >= (1u << 20));
  REQUIRE(big.size() == (1u << 20));
}
