#include <catch2/catch.hpp>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "plugin/plugin_library.hpp"

using meshrun::ActorContext;
using meshrun::ActorInstance;
using meshrun::Errc;
using meshrun::PluginLibrary;

namespace {

std::shared_ptr<PluginLibrary> load_ok(const std::string& path) {
  auto lib = PluginLibrary::load(path);
  INFO((lib ? std::string() : lib.error().message));
  REQUIRE(lib.ok());
  return *lib;
}

meshrun::Error load_error(const std::string& path) {
  auto lib = PluginLibrary::load(path);
  REQUIRE_FALSE(lib.ok());
  return lib.error();
}

ActorContext context(std::string id, std::string params = {}) {
  ActorContext ctx;
  ctx.actor_id = std::move(id);
  ctx.mesh_name = "a0";
  ctx.rank = 3;
  ctx.size = 8;
  ctx.params_toml = std::move(params);
  return ctx;
}

std::unique_ptr<ActorInstance> create_ok(PluginLibrary& lib, std::string_view type,
                                         ActorContext ctx) {
  auto actor = lib.create(type, std::move(ctx));
  INFO((actor ? std::string() : actor.error().message));
  REQUIRE(actor.ok());
  return std::move(actor).value();
}

// Sends one message and collects every reply as text.
struct Call {
  meshrun::Status status;
  std::vector<std::string> replies;
};

Call call(ActorInstance& actor, std::string_view message, std::string_view payload = {}) {
  Call c;
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(payload.data()),
                                       payload.size());
  c.status = actor.handle(message, bytes, [&](std::span<const uint8_t> reply) {
    c.replies.emplace_back(reinterpret_cast<const char*>(reply.data()), reply.size());
  });
  return c;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("the test actor plugin loads and lists its types") {
  auto lib = load_ok(MESHRUN_TESTACTORS_PATH);
  CHECK(lib->plugin_name() == "testactors");
  CHECK(lib->path() == MESHRUN_TESTACTORS_PATH);
  CHECK(lib->type_names() == std::vector<std::string>{"Greeter", "TestActor"});
  CHECK(lib->has_type("TestActor"));
  CHECK(lib->has_type("Greeter"));
  CHECK_FALSE(lib->has_type("Nope"));
}

TEST_CASE("the test actor plugin is named like a meshrun plugin") {
  const std::string path = MESHRUN_TESTACTORS_PATH;
  CHECK(path.ends_with("/libmeshrun_testactors.so"));
}

TEST_CASE("loading the same plugin twice shares one registration") {
  auto a = load_ok(MESHRUN_TESTACTORS_PATH);
  auto b = load_ok(MESHRUN_TESTACTORS_PATH);
  CHECK(a->type_names() == b->type_names());
  auto actor = create_ok(*b, "TestActor", context("p0.a0[1]"));
  CHECK(call(*actor, "GetActorId").replies == std::vector<std::string>{"p0.a0[1]"});
}

TEST_CASE("TestActor answers GetActorId, Echo, Fail and Hang") {
  auto lib = load_ok(MESHRUN_TESTACTORS_PATH);
  auto actor = create_ok(*lib, "TestActor", context("p0_3.a0[3]"));
  CHECK(actor->context().actor_id == "p0_3.a0[3]");

  SECTION("GetActorId replies the actor id") {
    auto c = call(*actor, "GetActorId");
    REQUIRE(c.status.ok());
    CHECK(c.replies == std::vector<std::string>{"p0_3.a0[3]"});
  }
  SECTION("Echo replies the payload unchanged, bytes included") {
    const std::string payload("hi\0there\xff", 10);
    auto c = call(*actor, "Echo", payload);
    REQUIRE(c.status.ok());
    CHECK(c.replies == std::vector<std::string>{payload});
    auto empty = call(*actor, "Echo", "");
    REQUIRE(empty.status.ok());
    CHECK(empty.replies == std::vector<std::string>{""});
  }
  SECTION("Fail is an error carrying the exception text") {
    auto c = call(*actor, "Fail");
    REQUIRE_FALSE(c.status.ok());
    CHECK(c.status.error().code == Errc::failed);
    CHECK(contains(c.status.error().message, "requested failure"));
    CHECK(contains(c.status.error().message, "p0_3.a0[3]"));
    CHECK(c.replies.empty());
    // The actor survives its handler's failure.
    CHECK(call(*actor, "GetActorId").status.ok());
  }
  SECTION("Hang succeeds without replying") {
    auto c = call(*actor, "Hang");
    CHECK(c.status.ok());
    CHECK(c.replies.empty());
  }
  SECTION("an unknown message names the type, the message and what it handles") {
    auto c = call(*actor, "Dance");
    REQUIRE_FALSE(c.status.ok());
    CHECK(c.status.error().code == Errc::not_found);
    const std::string& m = c.status.error().message;
    CHECK(contains(m, "'TestActor'"));
    CHECK(contains(m, "'Dance'"));
    CHECK(contains(m, "GetActorId, Echo, Fail, Hang"));
  }
}

TEST_CASE("a reply callback that throws fails the handler instead of unwinding") {
  auto lib = load_ok(MESHRUN_TESTACTORS_PATH);
  auto actor = create_ok(*lib, "TestActor", context("p0.a0[0]"));
  const meshrun::Status s = actor->handle(
      "GetActorId", {}, [](std::span<const uint8_t>) { throw std::runtime_error("port closed"); });
  REQUIRE_FALSE(s.ok());
  CHECK(contains(s.error().message, "port closed"));
}

TEST_CASE("Greeter greets with its greeting parameter") {
  auto lib = load_ok(MESHRUN_TESTACTORS_PATH);
  SECTION("from params") {
    auto actor = create_ok(*lib, "Greeter", context("p1.g[0]", "greeting = \"bonjour\"\n"));
    auto c = call(*actor, "Greet");
    REQUIRE(c.status.ok());
    CHECK(c.replies == std::vector<std::string>{"bonjour from p1.g[0]"});
  }
  SECTION("defaulted when absent") {
    auto actor = create_ok(*lib, "Greeter", context("p1.g[1]"));
    CHECK(call(*actor, "Greet").replies == std::vector<std::string>{"hello from p1.g[1]"});
  }
  SECTION("a greeting of the wrong type fails creation, naming the key") {
    auto actor = lib->create("Greeter", context("p1.g[2]", "greeting = 5\n"));
    REQUIRE_FALSE(actor.ok());
    CHECK(contains(actor.error().message, "'greeting'"));
    CHECK(contains(actor.error().message, "wrong type"));
  }
  SECTION("parameters that are not TOML fail creation") {
    auto actor = lib->create("Greeter", context("p1.g[3]", "greeting = = \n"));
    REQUIRE_FALSE(actor.ok());
    CHECK(actor.error().code == Errc::invalid_argument);
    CHECK(contains(actor.error().message, "p1.g[3]"));
  }
}

TEST_CASE("creating an unknown type lists the types the plugin has") {
  auto lib = load_ok(MESHRUN_TESTACTORS_PATH);
  auto actor = lib->create("Frobnicator", context("p0.a0[0]"));
  REQUIRE_FALSE(actor.ok());
  CHECK(actor.error().code == Errc::not_found);
  CHECK(contains(actor.error().message, "'Frobnicator'"));
  CHECK(contains(actor.error().message, "Greeter, TestActor"));
}

TEST_CASE("a missing plugin file is reported as such") {
  const auto err = load_error(MESHRUN_FIXTURE_MISSING);
  CHECK(err.code == Errc::not_found);
  CHECK(contains(err.message, MESHRUN_FIXTURE_MISSING));
  CHECK(contains(err.message, "file not found"));
}

TEST_CASE("a file that is not a shared object is refused with dlopen's reason") {
  const auto err = load_error(MESHRUN_FIXTURE_NOT_A_PLUGIN);
  CHECK(err.code == Errc::plugin);
  CHECK(contains(err.message, MESHRUN_FIXTURE_NOT_A_PLUGIN));
  CHECK(contains(err.message, "not a loadable shared object"));
  // dlerror's text, e.g. "invalid ELF header" or "file too short".
  CHECK((contains(err.message, "ELF") || contains(err.message, "too short")));
}

TEST_CASE("a shared object without the entry point is refused") {
  const auto err = load_error(MESHRUN_FIXTURE_NO_ENTRY);
  CHECK(err.code == Errc::plugin);
  CHECK(contains(err.message, MESHRUN_FIXTURE_NO_ENTRY));
  CHECK(contains(err.message, "no entry point 'meshrun_plugin_entry'"));
}

TEST_CASE("a bare file name is a file in the working directory, not a library search") {
  const std::filesystem::path fixture = MESHRUN_FIXTURE_NO_ENTRY;
  const std::filesystem::path before = std::filesystem::current_path();
  std::filesystem::current_path(fixture.parent_path());
  auto lib = PluginLibrary::load(fixture.filename().string());
  std::filesystem::current_path(before);
  REQUIRE_FALSE(lib.ok());
  // Found and opened: it fails on the missing entry, not in dlopen.
  CHECK(contains(lib.error().message, "no entry point"));
}

TEST_CASE("a plugin of another ABI major is refused, naming both versions") {
  const auto err = load_error(MESHRUN_FIXTURE_ABI_MAJOR);
  CHECK(err.code == Errc::plugin);
  CHECK(contains(err.message, MESHRUN_FIXTURE_ABI_MAJOR));
  CHECK(contains(err.message, "ABI major version mismatch"));
  const std::string theirs = std::to_string(MESHRUN_PLUGIN_ABI_MAJOR + 1) + ".7";
  const std::string ours =
      std::to_string(MESHRUN_PLUGIN_ABI_MAJOR) + "." + std::to_string(MESHRUN_PLUGIN_ABI_MINOR);
  CHECK(contains(err.message, "plugin has ABI " + theirs));
  CHECK(contains(err.message, "this meshrun has ABI " + ours));
}

TEST_CASE("a plugin whose init fails is refused with its message") {
  const auto err = load_error(MESHRUN_FIXTURE_INIT_FAILS);
  CHECK(err.code == Errc::plugin);
  CHECK(contains(err.message, MESHRUN_FIXTURE_INIT_FAILS));
  CHECK(contains(err.message,
                 "plugin init failed: greeting database /nonexistent/greetings.db is missing"));
}

TEST_CASE("an actor whose constructor throws is a creation error") {
  auto lib = load_ok(MESHRUN_FIXTURE_CTOR_THROWS);
  auto actor = lib->create("Grumpy", context("p2.grumpy[0]"));
  REQUIRE_FALSE(actor.ok());
  CHECK(actor.error().code == Errc::plugin);
  CHECK(contains(actor.error().message, "p2.grumpy[0]"));
  CHECK(contains(actor.error().message, "'Grumpy'"));
  CHECK(contains(actor.error().message, "Grumpy refuses to start before coffee"));
}

TEST_CASE("actors read typed parameters by dotted key and know their place") {
  auto lib = load_ok(MESHRUN_FIXTURE_CTOR_THROWS);
  auto probe = create_ok(*lib, "ParamProbe", context("p2.probe[3]", R"(
name = "probe"
small = 300
[db]
port = 5432
ratio = 0.25
whole = 2
on = true
)"));
  auto get = [&](std::string_view spec) {
    auto c = call(*probe, "Param", spec);
    INFO((c.status ? std::string() : c.status.error().message));
    REQUIRE(c.status.ok());
    REQUIRE(c.replies.size() == 1);
    return c.replies[0];
  };
  CHECK(get("string:name") == "probe");
  CHECK(get("int:db.port") == "5432");
  CHECK(get("double:db.ratio") == "0.250000");
  CHECK(get("double:db.whole") == "2.000000");
  CHECK(get("bool:db.on") == "true");
  CHECK(get("default:db.absent") == "fallback");

  auto missing = call(*probe, "Param", "string:db.host");
  REQUIRE_FALSE(missing.status.ok());
  CHECK(contains(missing.status.error().message, "missing parameter 'db.host'"));

  auto wrong = call(*probe, "Param", "bool:db.port");
  REQUIRE_FALSE(wrong.status.ok());
  CHECK(contains(wrong.status.error().message, "'db.port' has the wrong type"));

  auto range = call(*probe, "Param", "u8:small");
  REQUIRE_FALSE(range.status.ok());
  CHECK(contains(range.status.error().message, "'small' is out of range"));

  auto who = call(*probe, "Whoami");
  REQUIRE(who.status.ok());
  CHECK(who.replies == std::vector<std::string>{"a0 3/8"});
}
