// Built-in reducers: values, partial folds merged in any order, and errors.
#include <catch2/catch.hpp>

#include "mesh/reducer.hpp"

using namespace meshrun;

namespace {

Fold folded(ReducerKind kind, std::vector<std::pair<uint32_t, std::string>> replies) {
  Fold f(kind);
  for (const auto& [rank, v] : replies)
    REQUIRE(f.add(rank, v).ok());
  return f;
}

}  // namespace

TEST_CASE("sum, min, max and count over decimal text", "[reducer]") {
  CHECK(*folded(ReducerKind::sum, {{0, "1"}, {1, "2"}, {2, " 39\n"}}).result() == "42");
  CHECK(*folded(ReducerKind::sum, {{0, "1.5"}, {1, "2"}}).result() == "3.5");
  CHECK(*folded(ReducerKind::min, {{0, "3"}, {1, "-7"}, {2, "5"}}).result() == "-7");
  CHECK(*folded(ReducerKind::max, {{0, "3"}, {1, "2.5"}}).result() == "3");
  CHECK(*folded(ReducerKind::count, {{0, "x"}, {1, "y"}}).result() == "2");
}

TEST_CASE("a reply that does not fit the reducer is refused by name", "[reducer]") {
  Fold f(ReducerKind::sum);
  auto bad = f.add(3, "twelve");
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error().message, Catch::Contains("'twelve'"));
  Fold big(ReducerKind::sum);
  REQUIRE(big.add(0, "9223372036854775807").ok());
  CHECK_FALSE(big.add(1, "1").ok());  // overflow is an error, not a wrap
}

TEST_CASE("concat joins in rank order however partials arrive", "[reducer]") {
  Fold a = folded(ReducerKind::concat, {{2, "c"}, {0, "a"}});
  Fold b = folded(ReducerKind::concat, {{1, "b"}, {3, "d"}});
  Fold total(ReducerKind::concat);
  REQUIRE(total.merge(b.encode()).ok());
  REQUIRE(total.merge(a.encode()).ok());
  CHECK(*total.result() == "abcd");
  CHECK(total.count() == 4);
}

TEST_CASE("all_equal gives the value or names the lowest two that differ", "[reducer]") {
  CHECK(*folded(ReducerKind::all_equal, {{0, "42"}, {1, "42"}}).result() == "42");
  Fold a = folded(ReducerKind::all_equal, {{5, "x"}, {6, "y"}});
  Fold b = folded(ReducerKind::all_equal, {{1, "y"}, {2, "y"}});
  Fold t1(ReducerKind::all_equal), t2(ReducerKind::all_equal);
  REQUIRE(t1.merge(a.encode()).ok());
  REQUIRE(t1.merge(b.encode()).ok());
  REQUIRE(t2.merge(b.encode()).ok());
  REQUIRE(t2.merge(a.encode()).ok());
  auto r1 = t1.result(), r2 = t2.result();
  REQUIRE_FALSE(r1.ok());
  REQUIRE_FALSE(r2.ok());
  CHECK(r1.error().message == r2.error().message);
  CHECK_THAT(r1.error().message, Catch::Contains("rank 1") && Catch::Contains("rank 5"));
}

TEST_CASE("partials merge like the replies they fold", "[reducer]") {
  for (auto kind : {ReducerKind::sum, ReducerKind::min, ReducerKind::max, ReducerKind::count}) {
    CAPTURE(reducer_name(kind));
    Fold whole = folded(kind, {{0, "4"}, {1, "-2"}, {2, "10"}, {3, "7"}});
    Fold left = folded(kind, {{0, "4"}, {1, "-2"}});
    Fold right = folded(kind, {{2, "10"}, {3, "7"}});
    Fold merged(kind);
    REQUIRE(merged.merge(right.encode()).ok());
    REQUIRE(merged.merge(left.encode()).ok());
    CHECK(*merged.result() == *whole.result());
    CHECK(merged.count() == 4);
  }
  Fold sum(ReducerKind::sum);
  CHECK_FALSE(sum.merge(Fold(ReducerKind::max).encode()).ok());
  CHECK_FALSE(sum.merge("garbage").ok());
}

TEST_CASE("reducer names", "[reducer]") {
  CHECK(reducer_from_name("all_equal") == ReducerKind::all_equal);
  CHECK_FALSE(reducer_from_name("avg"));
  CHECK(reducer_name(ReducerKind::concat) == "concat");
}
