// Where an actor message goes next, at a host agent and at the launcher.
#include <catch2/catch.hpp>

#include "route/router.hpp"

using namespace meshrun;

namespace {

MeshRef four_hosts() {
  MeshRef r;
  r.mesh = 1;
  r.name = "a";
  r.per_host = 2;
  r.dims = {"hosts", "procs"};
  r.sizes = {4, 2};
  r.region = {{0, 4}, {0, 2}};
  r.view = {{1, 4}, {0, 2}};  // hosts 1, 2, 3
  return r;
}

}  // namespace

TEST_CASE("a cast from a proc goes to its own procs and straight to other hosts", "[router]") {
  const auto hops = route_cast(1, four_hosts(), CastSource::own_proc, {});
  CHECK(hops.local);
  CHECK(hops.peers == std::vector<uint32_t>{2, 3});
  CHECK(hops.children.empty());
}

TEST_CASE("a cast from another host is delivered here only", "[router]") {
  const auto hops = route_cast(2, four_hosts(), CastSource::peer, {3});
  CHECK(hops.local);
  CHECK(hops.peers.empty());
  CHECK(hops.children.empty());
  CHECK_FALSE(route_cast(0, four_hosts(), CastSource::peer, {}).local);
}

TEST_CASE("from the launcher a first-level host passes a cast to its children", "[router]") {
  const auto hops = route_cast(0, four_hosts(), CastSource::upstream, {2, 3});
  CHECK_FALSE(hops.local);
  CHECK(hops.children == std::vector<uint32_t>{2, 3});
  CHECK(launcher_hops(four_hosts(), [](uint32_t h) -> std::optional<uint32_t> {
          if (h >= 2) return 0u;
          return std::nullopt;
        }) == std::vector<uint32_t>{0, 1});
}

TEST_CASE("replies go to the host of their port's owner", "[router]") {
  CHECK(route_reply(1, Endpoint{kLauncherHost, kNoProc, 0, 0}) == ReplyHop::upstream);
  CHECK(route_reply(1, Endpoint{1, 5, 2, 0}) == ReplyHop::local_proc);
  CHECK(route_reply(1, Endpoint{3, 5, 2, 0}) == ReplyHop::peer);
}
