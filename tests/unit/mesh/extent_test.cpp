#include <algorithm>
#include <catch2/catch.hpp>
#include <vector>

#include "mesh/extent.hpp"

using namespace meshrun;

namespace {

Extent extent(std::vector<Dim> dims) {
  auto e = Extent::make(std::move(dims));
  REQUIRE(e.ok());
  return *e;
}

const Extent k2x3 = Extent::make({{"hosts", 2}, {"procs", 3}}).value();

}  // namespace

TEST_CASE("ranks and coordinates round trip, last dimension fastest", "[extent]") {
  const Extent e = extent({{"hosts", 2}, {"gpus", 3}, {"procs", 4}});
  REQUIRE(e.num_ranks() == 24);
  REQUIRE(e.coords(0) == std::vector<uint32_t>{0, 0, 0});
  REQUIRE(e.coords(1) == std::vector<uint32_t>{0, 0, 1});
  REQUIRE(e.coords(4) == std::vector<uint32_t>{0, 1, 0});
  REQUIRE(e.coords(23) == std::vector<uint32_t>{1, 2, 3});
  for (uint64_t r = 0; r < e.num_ranks(); ++r) {
    CAPTURE(r);
    REQUIRE(e.rank(e.coords(r)) == r);
  }
  REQUIRE(e.find("gpus") == 1);
  REQUIRE(e.find("nope") == -1);
}

TEST_CASE("the unit extent has one rank", "[extent]") {
  const Extent unit;
  REQUIRE(unit.num_ranks() == 1);
  REQUIRE(unit.coords(0).empty());
  REQUIRE(unit.rank({}) == 0);
  REQUIRE(unit.to_string() == "{}");
}

TEST_CASE("bad extents are refused", "[extent]") {
  REQUIRE_FALSE(Extent::make({{"procs", 0}}).ok());
  REQUIRE_FALSE(Extent::make({{"", 2}}).ok());
  auto dup = Extent::make({{"procs", 2}, {"procs", 3}});
  REQUIRE_FALSE(dup.ok());
  REQUIRE(dup.error().code == Errc::invalid_argument);
  REQUIRE_THAT(dup.error().message, Catch::Contains("procs"));
}

TEST_CASE("concat puts the outer dimensions first", "[extent]") {
  auto c = extent({{"hosts", 2}}).concat(extent({{"gpus", 2}, {"procs", 3}}));
  REQUIRE(c.ok());
  REQUIRE(c->to_string() == "{hosts=2, gpus=2, procs=3}");
  REQUIRE(c->num_ranks() == 12);
  REQUIRE(*c == extent({{"hosts", 2}, {"gpus", 2}, {"procs", 3}}));

  auto dup = extent({{"hosts", 2}}).concat(extent({{"hosts", 3}}));
  REQUIRE_FALSE(dup.ok());
  REQUIRE_THAT(dup.error().message, Catch::Contains("hosts"));
}

TEST_CASE("to_string lists the dimensions in order", "[extent]") {
  REQUIRE(k2x3.to_string() == "{hosts=2, procs=3}");
}

TEST_CASE("a whole slice covers every rank", "[slice]") {
  const Slice s(k2x3);
  REQUIRE(s.num_ranks() == 6);
  REQUIRE(s.ranks() == std::vector<uint64_t>{0, 1, 2, 3, 4, 5});
  REQUIRE(s.to_string() == "{hosts=0..2, procs=0..3}");
  REQUIRE_FALSE(s.contains(6));
}

TEST_CASE("restricting a 2x3 mesh selects the right ranks", "[slice]") {
  Slice s(k2x3);
  SECTION("procs=1") {
    REQUIRE(s.restrict("procs", 1, 2).ok());
    REQUIRE(s.ranks() == std::vector<uint64_t>{1, 4});
    REQUIRE(s.to_string() == "{hosts=0..2, procs=1}");
  }
  SECTION("hosts=1") {
    REQUIRE(s.restrict("hosts", 1, 2).ok());
    REQUIRE(s.ranks() == std::vector<uint64_t>{3, 4, 5});
  }
  SECTION("procs 1..3") {
    REQUIRE(s.restrict("procs", 1, 3).ok());
    REQUIRE(s.ranks() == std::vector<uint64_t>{1, 2, 4, 5});
  }
  SECTION("hosts=1 and procs 0..2") {
    REQUIRE(s.restrict("hosts", 1, 2).ok());
    REQUIRE(s.restrict("procs", 0, 2).ok());
    REQUIRE(s.ranks() == std::vector<uint64_t>{3, 4});
    REQUIRE(s.to_string() == "{hosts=1, procs=0..2}");
  }
  SECTION("two restrictions of one dimension intersect") {
    REQUIRE(s.restrict("procs", 0, 2).ok());
    REQUIRE(s.restrict("procs", 1, 3).ok());
    REQUIRE(s.ranks() == std::vector<uint64_t>{1, 4});
  }
  // contains() agrees with ranks() whatever the restriction.
  const auto ranks = s.ranks();
  REQUIRE(s.num_ranks() == ranks.size());
  for (uint64_t r = 0; r < 8; ++r) {
    CAPTURE(r);
    REQUIRE(s.contains(r) == (std::find(ranks.begin(), ranks.end(), r) != ranks.end()));
  }
}

TEST_CASE("bad restrictions are errors", "[slice]") {
  Slice s(k2x3);
  SECTION("an unknown dimension") {
    auto st = s.restrict("gpus", 0, 1);
    REQUIRE_FALSE(st.ok());
    REQUIRE(st.error().code == Errc::invalid_argument);
    REQUIRE_THAT(st.error().message,
                 Catch::Contains("gpus") && Catch::Contains("{hosts=2, procs=3}"));
  }
  SECTION("past the end") {
    auto st = s.restrict("procs", 2, 4);
    REQUIRE_FALSE(st.ok());
    REQUIRE_THAT(st.error().message, Catch::Contains("procs"));
    REQUIRE_FALSE(s.restrict("hosts", 2, 3).ok());
  }
  SECTION("empty") {
    REQUIRE_FALSE(s.restrict("procs", 1, 1).ok());
    REQUIRE_FALSE(s.restrict("procs", 2, 1).ok());
  }
  SECTION("disjoint restrictions select nothing") {
    REQUIRE(s.restrict("procs", 0, 1).ok());
    REQUIRE_FALSE(s.restrict("procs", 2, 3).ok());
  }
}

TEST_CASE("a refused restriction leaves the slice as it was", "[slice]") {
  Slice s(k2x3);
  REQUIRE(s.restrict("procs", 0, 1).ok());
  REQUIRE_FALSE(s.restrict("procs", 2, 3).ok());  // disjoint: selects nothing
  REQUIRE(s.num_ranks() == 2);
  REQUIRE(s.ranks() == std::vector<uint64_t>{0, 3});
  REQUIRE(s.to_string() == "{hosts=0..2, procs=0}");
}
