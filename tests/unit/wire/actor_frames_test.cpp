// The heads host agents read and rewrite in place must agree with the codec.
#include <catch2/catch.hpp>

#include "mesh/ref_cache.hpp"
#include "wire/actor_frames.hpp"

using namespace meshrun;

namespace {

MeshRef ref() {
  MeshRef r;
  r.mesh = 9;
  r.name = "ring";
  r.proc_base = 4;
  r.per_host = 2;
  r.dims = {"hosts", "procs"};
  r.sizes = {3, 2};
  r.region = {{0, 3}, {0, 2}};
  r.view = {{1, 3}, {0, 1}};
  return r;
}

}  // namespace

TEST_CASE("a cast's head and target are read without its payload", "[actor_frames]") {
  ActorCast c;
  c.from = {2, 7, 9, 5};
  c.timeout_ms = 1234;
  c.port = {{kLauncherHost, kNoProc, 0, 0}, 42, kAnySlot, ReducerKind::max};
  c.target = ref();
  c.message = "Token";
  c.payload = std::string(100000, 'x');
  const std::string frame = encode(c);
  auto head = peek_cast_head(frame);
  REQUIRE(head.ok());
  CHECK(head->from == c.from);
  CHECK_FALSE(head->local_only);
  CHECK(head->timeout_ms == 1234);
  CHECK(head->port == c.port);
  auto target = peek_cast_target(frame);
  REQUIRE(target.ok());
  CHECK(*target == c.target);
}

TEST_CASE("a cast built from its parts is the codec's frame, and its parts read back",
          "[actor_frames]") {
  ActorCast c;
  c.from = {1, 3, 9, 2};
  c.timeout_ms = 50;
  c.port = {{kLauncherHost, kNoProc, 0, 0}, 7, 2, ReducerKind::sum};
  c.target = ref();
  c.message = "Put";
  c.payload = "k=v";
  const std::string frame = encode(c);
  const std::string bytes = encode_ref(c.target);
  CHECK(encode_cast(c.from, c.timeout_ms, c.port, ref_fields(bytes), c.message, c.payload) ==
        frame);
  auto parts = peek_cast_parts(frame);
  REQUIRE(parts.ok());
  CHECK(parts->head.from == c.from);
  CHECK(parts->head.port == c.port);
  CHECK(parts->target == ref_fields(bytes));
  CHECK(parts->message == "Put");
  CHECK(parts->payload == "k=v");
  for (size_t cut = 1; cut < frame.size(); ++cut)
    CHECK_FALSE(peek_cast_parts(std::string_view(frame).substr(0, cut)).ok());
  CHECK(ref_fields("not a reference").empty());
}

TEST_CASE("the reference cache decodes once and keeps the most recent", "[actor_frames]") {
  RefCache cache;
  std::vector<std::string> fields;
  for (uint32_t i = 0; i < 10; ++i) {
    MeshRef r = ref();
    r.mesh = 100 + i;
    fields.emplace_back(ref_fields(encode_ref(r)));
  }
  for (uint32_t i = 0; i < 10; ++i) {
    const MeshRef* got = cache.get(fields[i]);
    REQUIRE(got != nullptr);
    CHECK(got->mesh == 100 + i);
  }
  // The oldest were evicted; whatever is asked for is still decoded right.
  for (uint32_t i : {0u, 9u, 1u, 8u}) {
    const MeshRef* got = cache.get(fields[i]);
    REQUIRE(got != nullptr);
    CHECK(got->mesh == 100 + i);
  }
  CHECK(cache.get("junk") == nullptr);
  CHECK(cache.get(fields[2].substr(0, fields[2].size() - 1)) == nullptr);
}

TEST_CASE("a cast rewritten in place decodes with the new sender and flag", "[actor_frames]") {
  ActorCast c;
  c.from = {99, 99, 9, 5};  // what a proc claims
  c.target = ref();
  c.message = "Token";
  c.payload = "p";
  std::string frame = encode(c);
  patch_cast_from(frame, {1, 3, 9, 5});
  patch_cast_local_only(frame);
  auto msg = decode(frame);
  REQUIRE(msg.ok());
  const auto& back = std::get<ActorCast>(*msg);
  CHECK(back.from == Endpoint{1, 3, 9, 5});
  CHECK(back.local_only == 1);
  CHECK(back.target == c.target);
  CHECK(back.payload == "p");
}

TEST_CASE("a reply's head is read and its sender rewritten", "[actor_frames]") {
  PortReply r;
  r.from = {5, 5, 0, 0};
  r.port = {{0, 3, 1, 0}, 7, 2, ReducerKind::none};
  r.kind = ReplyKind::failure;
  r.value = "boom";
  std::string frame = encode(r);
  auto head = peek_reply_head(frame);
  REQUIRE(head.ok());
  CHECK(head->port == r.port);
  CHECK(head->kind == ReplyKind::failure);
  patch_reply_from(frame, {1, 8, 0, 0});
  auto msg = decode(frame);
  REQUIRE(msg.ok());
  CHECK(std::get<PortReply>(*msg).from == Endpoint{1, 8, 0, 0});
  CHECK(std::get<PortReply>(*msg).value == "boom");
}

TEST_CASE("heads of other messages, cut frames and bad enums are refused", "[actor_frames]") {
  CHECK_FALSE(peek_cast_head(encode(HostReady{1})).ok());
  CHECK_FALSE(peek_reply_head(encode(HostReady{1})).ok());
  ActorCast c;
  c.target = ref();
  const std::string frame = encode(c);
  for (size_t cut = 0; cut < 2 + kEndpointBytes + 1 + 4 + kPortRefBytes; ++cut)
    CHECK_FALSE(peek_cast_head(std::string_view(frame).substr(0, cut)).ok());
  std::string bad = frame;
  bad[2 + kEndpointBytes + 1 + 4 + kPortRefBytes - 1] = 42;  // the reducer
  CHECK_FALSE(peek_cast_head(bad).ok());
  MeshRef broken = ref();
  broken.view = {{0, 4}, {0, 1}};  // outside the region
  c.target = broken;
  CHECK_FALSE(peek_cast_target(encode(c)).ok());
}
