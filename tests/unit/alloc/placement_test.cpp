// How many ranks each host runs: block layouts as mpirun and srun make them,
// and the limits a host or a job has.
#include <catch2/catch.hpp>

#include "alloc/placement.hpp"

using namespace meshrun;
using Counts = std::vector<uint32_t>;

// Requests name only the fields they set; the rest keep their defaults.
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

namespace {

Counts layout(LayoutRequest r) {
  auto out = lay_out(r);
  if (!out) FAIL(out.error().message);
  return *out;
}

std::string layout_error(LayoutRequest r) {
  auto out = lay_out(r);
  REQUIRE_FALSE(out);
  CHECK(out.error().code == Errc::invalid_argument);
  return out.error().message;
}

JobSpec command(uint32_t ranks, uint32_t hosts = 0, uint32_t max_per_host = 0) {
  JobSpec spec;
  spec.procs.command = {"true"};
  spec.hosts.launcher = LauncherKind::local;
  spec.procs.ranks = ranks;
  spec.hosts.count = hosts;
  spec.procs.max_per_host = max_per_host;
  return spec;
}

}  // namespace

TEST_CASE("with -N and -n: blocks, the first hosts one more", "[placement]") {
  CHECK(layout({.ranks = 5, .hosts = 2}) == Counts{3, 2});
  CHECK(layout({.ranks = 8, .hosts = 3}) == Counts{3, 3, 2});
  CHECK(layout({.ranks = 4, .hosts = 2}) == Counts{2, 2});
  CHECK(layout({.ranks = 3, .hosts = 3}) == Counts{1, 1, 1});
  CHECK_THAT(layout_error({.ranks = 2, .hosts = 3}),
             Catch::Contains("-n 2 is fewer ranks than the 3 hosts") && Catch::Contains("-N 2"));
}

TEST_CASE("a per-host cap: filled in order, or checked against -N", "[placement]") {
  CHECK(layout({.ranks = 10, .max_per_host = 4}) == Counts{4, 4, 2});
  CHECK(layout({.ranks = 8, .max_per_host = 4}) == Counts{4, 4});
  CHECK(layout({.ranks = 8, .max_per_host = 4, .hosts = 3}) == Counts{3, 3, 2});
  CHECK_THAT(
      layout_error({.ranks = 10, .max_per_host = 4, .hosts = 2}),
      Catch::Contains("puts 5 ranks on a host, more than --per-host 4") && Catch::Contains("-N 3"));
  CHECK_THAT(layout_error({.ranks = 10, .max_per_host = 4, .available = 2}),
             Catch::Contains("needs 3 hosts, but only 2 are given"));
}

TEST_CASE("without -N: one local host, or the hosts given, or their slots", "[placement]") {
  CHECK(layout({.ranks = 6}) == Counts{6});
  CHECK(layout({.ranks = 16, .available = 4}) == Counts{4, 4, 4, 4});
  CHECK(layout({.ranks = 2, .available = 4}) == Counts{1, 1});  // the first two hosts
  CHECK(layout({.ranks = 6, .available = 3, .slots = {4, 4, 4}}) == Counts{4, 2});
  CHECK(layout({.ranks = 10, .available = 2, .slots = {2, 4}}) == Counts{4, 6});  // beyond slots
  CHECK(layout({.ranks = 3, .available = 2, .slots = {2, 0}}) == Counts{2, 1});
}

TEST_CASE("without -n: every host runs the extent, or its slots when told to", "[placement]") {
  CHECK(layout({.per_host = 3, .hosts = 2}) == Counts{3, 3});
  CHECK(layout({.per_host = 1}) == Counts{1});
  CHECK(layout({.per_host = 2, .available = 3}) == Counts{2, 2, 2});
  CHECK(layout({.available = 3, .slots = {4, 2, 0}, .follow_slots = true}) == Counts{4, 2, 1});
  CHECK_THAT(layout_error({.per_host = 1, .hosts = 4, .available = 3}),
             Catch::Contains("4 hosts asked for (-N), but only 3 are given"));
}

TEST_CASE("local placement: uneven in command mode, even or refused for actors", "[placement]") {
  auto p = place(command(5, 2));
  REQUIRE(p);
  CHECK(p->ranks == Counts{3, 2});
  CHECK(p->hosts.size() == 2);
  CHECK(p->total() == 5);
  CHECK_FALSE(p->uniform());

  JobSpec actors = command(5, 2);
  actors.procs.command.clear();
  actors.actors = {ActorsSpec{}};
  auto a = place(actors);
  REQUIRE_FALSE(a);
  CHECK_THAT(a.error().message, Catch::Contains("same number of procs on every host") &&
                                    Catch::Contains("3 on host local0 and 2 on host local1"));
}

TEST_CASE("a host runs at most 65536 ranks: refused at once, with the fix", "[placement]") {
  auto p = place(command(100000));
  REQUIRE_FALSE(p);
  CHECK(p.error().code == Errc::invalid_argument);
  CHECK_THAT(p.error().message, Catch::Contains("100000 ranks on host local0") &&
                                    Catch::Contains("at most 65536") &&
                                    Catch::Contains("-N 2 or more"));
  CHECK(place(command(100000, 2)));
}

TEST_CASE("the local launcher refuses named hosts", "[placement]") {
  JobSpec spec = command(6);
  spec.hosts.list = {{"", "a", 0}, {"", "b", 0}, {"", "c", 0}};
  auto p = place(spec);
  REQUIRE_FALSE(p);
  CHECK_THAT(p.error().message, Catch::Contains("local launcher runs every host on this machine"));
}
