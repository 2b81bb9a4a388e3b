// Durations as people write them, and "did you mean".
#include <catch2/catch.hpp>

#include "util/duration_format.hpp"
#include "util/spelling.hpp"

using namespace meshrun;
using namespace std::chrono;

TEST_CASE("durations: two significant digits in ms, s, then minutes and hours", "[util]") {
  CHECK(format_duration(microseconds(261)) == "0.26 ms");
  CHECK(format_duration(microseconds(90)) == "0.09 ms");
  CHECK(format_duration(nanoseconds(4200)) == "0.0042 ms");
  CHECK(format_duration(nanoseconds(0)) == "0 ms");
  CHECK(format_duration(microseconds(2610)) == "2.6 ms");
  CHECK(format_duration(microseconds(2000)) == "2 ms");
  CHECK(format_duration(microseconds(26100)) == "26 ms");
  CHECK(format_duration(microseconds(261000)) == "261 ms");
  CHECK(format_duration(microseconds(999700)) == "1 s");  // not "1000 ms"
  CHECK(format_duration(milliseconds(1440)) == "1.4 s");
  CHECK(format_duration(milliseconds(12400)) == "12 s");
  CHECK(format_duration(milliseconds(59700)) == "1 min 0 s");  // not "60 s"
  CHECK(format_duration(seconds(125)) == "2 min 5 s");
  CHECK(format_duration(seconds(3600 + 125)) == "1 h 2 min");
  CHECK(format_duration(milliseconds(5000)) == "5 s");
}

TEST_CASE("the nearest word: a typo or two, never a stranger", "[util]") {
  const std::vector<std::string_view> options{"--launcher", "--dry-run", "--np", "--nodes"};
  CHECK(nearest_word("--lancher", options) == "--launcher");
  CHECK(nearest_word("--dryrun", options) == "--dry-run");
  CHECK(nearest_word("--nodse", options) == "--nodes");
  CHECK_FALSE(nearest_word("--timeout", options));
  CHECK_FALSE(nearest_word("x", {"y"}));  // one edit, but as long as the word itself
  CHECK(edit_distance("kitten", "sitting") == 3);
}
