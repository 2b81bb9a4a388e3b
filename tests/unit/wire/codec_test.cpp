#include <algorithm>
#include <catch2/catch.hpp>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "alloc_probe.hpp"
#include "wire/messages.hpp"

using namespace meshrun;

namespace {

// A third inspector, independent of Writer and Reader: renders every field as
// text, so a decoded message can be compared with the original field by field
// and a mismatch is readable.
class Dumper {
 public:
  template <class... Ts>
  bool operator()(Ts&... values) {
    ((put(values), out_ += ' '), ...);
    return true;
  }
  const std::string& str() const { return out_; }

 private:
  template <class T>
  void put(T& v) {
    if constexpr (std::is_same_v<T, bool>) {
      out_ += v ? "true" : "false";
    } else if constexpr (std::is_enum_v<T>) {
      out_ += "enum:" + std::to_string(static_cast<long long>(v));
    } else if constexpr (std::is_integral_v<T>) {
      out_ += std::to_string(v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      out_ += '"' + v + '"' + "#" + std::to_string(v.size());
    } else if constexpr (requires { v.begin(); }) {
      out_ += "[";
      for (auto& x : v) {
        put(x);
        out_ += ',';
      }
      out_ += "]";
    } else {
      out_ += "{";
      v.fields(*this);
      out_ += "}";
    }
  }
  std::string out_;
};

template <class M>
std::string dump(const M& m) {
  Dumper d;
  const_cast<M&>(m).fields(d);
  return d.str();
}

// One sample per message type, every field away from its default. A new
// message type without a sample fails to compile here.
template <class M>
M sample();

template <>
Heartbeat sample() {
  return {};
}
template <>
AgentHello sample() {
  return {7, "tcp:[::1]:4242", 123456, "node-07"};
}
template <>
BecomeHost sample() {
  Subtree t;
  t.hosts = {{4, "me", "node04", 2}, {5, "", "node05", 0}};
  t.ssh_command = "ssh -F 'a b'";
  t.ssh_user = "u";
  t.ssh_port = 2222;
  t.identity_file = "/k";
  t.ssh_options = {"StrictHostKeyChecking=no"};
  t.max_parallel = 8;
  t.start_timeout_ms = 3000;
  t.agent_path = "/opt/meshrun-agent";
  t.env = {"MESHRUN_CWD=/w"};
  return {"job-\xff-42", 2500, 3, 9, 1, t};
}
template <>
HostReady sample() {
  return {5};
}
template <>
CreateProcs sample() {
  CreateProcs m;
  m.mesh = "p0";
  m.mesh_size = 6;
  m.local_size = 3;
  m.ranks_per_host = {3, 3};
  m.procs = {{13, 3, 0, "p0_3"}, {14, 4, 1, "p0_4"}, {15, 5, 2, "p0_5"}};
  m.command = {"/bin/sh", "-c", "echo $MESHRUN_RANK", ""};
  m.env = {"A=1", "B=two words"};
  m.cwd = "/tmp/work";
  m.stdin_mode = 2;
  m.raw_output = true;
  return m;
}
template <>
ProcStatus sample() {
  return {4, ProcState::failed, 99999, true, -9, true, 3, "exec failed: No such file", {"a=b"}};
}
MeshRef sample_ref() {
  MeshRef r;
  r.mesh = 3;
  r.name = "a0";
  r.proc_base = 12;
  r.per_host = 3;
  r.dims = {"hosts", "procs"};
  r.sizes = {2, 3};
  r.region = {{0, 2}, {1, 3}};
  r.view = {{1, 2}, {1, 3}};
  return r;
}
PortRef sample_port() {
  return {{kLauncherHost, 7, 2, 1}, 0x0123456789abcdefull, 4, ReducerKind::sum};
}
template <>
SpawnActors sample() {
  return {sample_ref(), "p0", "/usr/lib/meshrun/libmeshrun_testactors.so", "TestActor",
          "greeting = \"hi\"\n"};
}
template <>
StopActors sample() {
  return {3};
}
template <>
ActorStatus sample() {
  return {14, 3, 4, ActorState::failed, "p0[4].a0[0]", "requested failure"};
}
template <>
ActorCast sample() {
  ActorCast m;
  m.from = {1, 14, 3, 2};
  m.local_only = 1;
  m.timeout_ms = 5000;
  m.port = sample_port();
  m.target = sample_ref();
  m.message = "Echo";
  m.payload = std::string("bin\0ary", 7);
  return m;
}
template <>
PortReply sample() {
  PortReply m;
  m.from = {1, kNoProc, 0, 0};
  m.port = sample_port();
  m.kind = ReplyKind::partial;
  m.ranks = {{0, 2}, {5, 6}};
  m.failures = {{3, "proc exited"}};
  m.value = "p0[17].a0[0]";
  return m;
}
template <>
Undeliverable sample() {
  return {{0, 14, 3, 2}, "a0[5]", "Ping", "host 1 is lost"};
}
template <>
HostDirectory sample() {
  return {{"unix:/tmp/j/agent-0.sock", "tcp:10.0.0.2:4242"}};
}
template <>
PeerHello sample() {
  return {6};
}
template <>
Output sample() {
  return {3, 2, "a line\n"};
}
template <>
StopProcs sample() {
  return {123, false, "p1"};
}
template <>
HostStopped sample() {
  return {8};
}
template <>
SignalProcs sample() {
  return {15};
}
template <>
Input sample() {
  return {2, "stdin bytes"};
}
template <>
PmiBarrierIn sample() {
  return {3, 2, {{"key-1", "value-1"}, {"PMI_process_mapping", "(vector,(0,2,2))"}}};
}
template <>
PmiBarrierOut sample() {
  return {5, {{"k", "v"}, {"hostname[1]", "node-02"}}};
}
template <>
PmiAbortRank sample() {
  return {6, 7, "MPI_Abort called"};
}
template <>
ReservePort sample() {
  return {};
}
template <>
PortReserved sample() {
  return {1, 29500};
}
template <>
Routed sample() {
  return {12, encode(HostReady{12})};
}
template <>
HostFailed sample() {
  return {13, "ssh exited (status 255) before the agent dialed in"};
}
template <>
NameRequest sample() {
  return {7, NameOp::lookup, 3, "MyTest", "", 2500};
}
template <>
NameReply sample() {
  return {7, NameStatus::ok, "otherhost:122", 1};
}

template <class F, size_t... I>
void for_each_message(F&& f, std::index_sequence<I...>) {
  (f(std::variant_alternative_t<I, Message>{}), ...);
}
template <class F>
void for_each_message(F&& f) {
  for_each_message(f, std::make_index_sequence<std::variant_size_v<Message>>{});
}

std::string u16_le(uint16_t v) {
  return {static_cast<char>(v & 0xff), static_cast<char>(v >> 8)};
}
std::string u32_le(uint32_t v) {
  std::string s;
  for (int i = 0; i < 4; ++i)
    s += static_cast<char>(v >> (8 * i));
  return s;
}

}  // namespace

TEST_CASE("every message type round trips with every field intact", "[codec]") {
  int tested = 0;
  for_each_message([&](auto empty) {
    using M = decltype(empty);
    const M original = sample<M>();
    const std::string name(type_name(M::kType));
    CAPTURE(name);
    if (!std::is_same_v<M, Heartbeat> && !std::is_same_v<M, ReservePort>)
      REQUIRE(dump(original) != dump(M{}));
    const std::string bytes = encode(original);
    auto type = peek_type(bytes);
    REQUIRE(type.ok());
    REQUIRE(*type == M::kType);
    auto decoded = decode(bytes);
    REQUIRE(decoded.ok());
    REQUIRE(std::holds_alternative<M>(*decoded));
    REQUIRE(dump(std::get<M>(*decoded)) == dump(original));
    REQUIRE(name != "Unknown");
    ++tested;
  });
  REQUIRE(tested == static_cast<int>(std::variant_size_v<Message>));
}

TEST_CASE("message type ids are distinct", "[codec]") {
  std::vector<uint16_t> ids;
  for_each_message(
      [&](auto empty) { ids.push_back(static_cast<uint16_t>(decltype(empty)::kType)); });
  std::sort(ids.begin(), ids.end());
  REQUIRE(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
}

TEST_CASE("integers are little-endian on the wire", "[codec]") {
  REQUIRE(encode(HostReady{0x01020304}) == u16_le(4) + "\x04\x03\x02\x01");
}

TEST_CASE("every truncation of a message is an error", "[codec]") {
  for_each_message([&](auto empty) {
    using M = decltype(empty);
    const std::string bytes = encode(sample<M>());
    for (size_t cut = 0; cut < bytes.size(); ++cut) {
      const std::string name(type_name(M::kType));
      CAPTURE(name, cut);
      auto decoded = decode(std::string_view(bytes).substr(0, cut));
      REQUIRE_FALSE(decoded.ok());
      REQUIRE(decoded.error().code == Errc::protocol);
    }
  });
}

TEST_CASE("trailing bytes after a message are an error", "[codec]") {
  for_each_message([&](auto empty) {
    using M = decltype(empty);
    auto decoded = decode(encode(sample<M>()) + "x");
    const std::string name(type_name(M::kType));
    CAPTURE(name);
    REQUIRE_FALSE(decoded.ok());
    REQUIRE_THAT(decoded.error().message, Catch::Contains("trailing"));
  });
}

TEST_CASE("an unknown message type is an error", "[codec]") {
  auto decoded = decode(u16_le(999) + "abc");
  REQUIRE_FALSE(decoded.ok());
  REQUIRE(decoded.error().code == Errc::protocol);
  REQUIRE_THAT(decoded.error().message, Catch::Contains("999"));
  REQUIRE_FALSE(decode(u16_le(0)).ok());
  REQUIRE_FALSE(decode("").ok());
  REQUIRE_FALSE(peek_type("x").ok());
}

TEST_CASE("a bool other than 0 or 1 is an error", "[codec]") {
  std::string bytes = encode(StopProcs{100, true, ""});
  // type, grace_ms, then exit_after, then the empty mesh name's length
  const size_t at = 2 + 4;
  REQUIRE(bytes[at] == '\1');
  bytes[at] = '\2';
  REQUIRE_FALSE(decode(bytes).ok());
}

TEST_CASE("lying lengths fail without a huge allocation", "[codec]") {
  // CreateProcs starts with the mesh name, then mesh_size, local_size, procs.
  const std::string prefix = u16_le(static_cast<uint16_t>(MsgType::create_procs)) + u32_le(2) +
                             "p0" + u32_le(6) + u32_le(3);

  SECTION("a vector count larger than the bytes left") {
    const std::string bytes = prefix + u32_le((1u << 24) - 1) + std::string(16, '\0');
    alloc_probe::Scope probe;
    auto decoded = decode(bytes);
    REQUIRE_FALSE(decoded.ok());
    REQUIRE(probe.largest() < 64 * 1024);
  }
  SECTION("a vector count over the element limit") {
    const std::string bytes = prefix + u32_le(0xffffffffu);
    alloc_probe::Scope probe;
    REQUIRE_FALSE(decode(bytes).ok());
    REQUIRE(probe.largest() < 64 * 1024);
  }
  SECTION("a string length larger than the bytes left") {
    const std::string bytes =
        u16_le(static_cast<uint16_t>(MsgType::output)) + u32_le(1) + "\1" + u32_le(1u << 30) + "ab";
    alloc_probe::Scope probe;
    REQUIRE_FALSE(decode(bytes).ok());
    REQUIRE(probe.largest() < 64 * 1024);
  }
}
