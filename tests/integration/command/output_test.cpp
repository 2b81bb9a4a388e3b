// Ranks' output as meshrun forwards it: whole lines, tags, partial last
// lines, long lines, files per rank, raw mode, and a flood that neither
// stalls the other ranks nor grows meshrun's memory.
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "harness.hpp"

using namespace meshrun_test;

namespace {
std::vector<std::string> sh(std::vector<std::string> flags, const std::string& script) {
  flags.insert(flags.end(), {"--", "sh", "-c", script});
  return flags;
}
std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("tag-output puts the rank on every line with stdout and stderr apart",
          "[command][output]") {
  auto r = run(sh({"-n", "3", "-l"}, "echo out $MESHRUN_RANK; echo err $MESHRUN_RANK >&2"));
  REQUIRE(r.status == 0);
  for (int k = 0; k < 3; ++k) {
    const auto s = std::to_string(k);
    CHECK(count(r.out, "[" + s + "] out " + s + "\n") == 1);
    CHECK(count(r.err, "[" + s + "] err " + s + "\n") == 1);
  }
  CHECK(lines(r.out).size() == 3);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("a final line without a newline arrives", "[command][output]") {
  SECTION("one rank: its bytes exactly") {
    auto r = run(sh({"-n", "1"}, "printf 'first\\nlast'"));
    CHECK(r.status == 0);
    CHECK(r.out == "first\nlast");
  }
  SECTION("several ranks: ended so the next line starts on its own") {
    auto r = run(sh({"-n", "3", "-l"}, "printf 'a\\nno newline %s' $MESHRUN_RANK"));
    CHECK(r.status == 0);
    for (int k = 0; k < 3; ++k)
      CHECK(count(r.out, "[" + std::to_string(k) + "] no newline " + std::to_string(k) + "\n") ==
            1);
    CHECK(lines(r.out).size() == 6);
  }
}

TEST_CASE("a 1 MiB line passes whole and tagged once", "[command][output]") {
  auto r = run(sh({"-n", "2", "-l"}, "head -c 1048576 /dev/zero | tr '\\0' x; echo"));
  REQUIRE(r.status == 0);
  auto ls = lines(r.out);
  REQUIRE(ls.size() == 2);
  for (const auto& l : ls) {
    CHECK(l.size() == 4 + 1048576);
    CHECK((l.rfind("[0] x", 0) == 0 || l.rfind("[1] x", 0) == 0));
    CHECK(l.find_first_not_of('x', 4) == std::string::npos);
  }
}

TEST_CASE("lines of concurrent ranks never mix and keep their order", "[command][output]") {
  // 4 ranks write 3000 lines each, all at once, in writes that do not align
  // with lines (dd-like bursts from awk).
  const std::string script =
      "awk -v r=$MESHRUN_RANK 'BEGIN { for (i = 0; i < 3000; i++) "
      "printf \"rank %d line %d %0200d\\n\", r, i, 0 }'";
  auto r = run(sh({"-n", "4", "-l"}, script));
  REQUIRE(r.status == 0);
  std::map<int, int> next;
  const std::regex line(R"(\[(\d)\] rank (\d) line (\d+) 0{200})");
  size_t bad = 0;
  for (const auto& l : lines(r.out)) {
    std::smatch m;
    if (!std::regex_match(l, m, line) || m[1] != m[2]) {
      ++bad;
      continue;
    }
    const int rank = std::stoi(m[1]);
    if (std::stoi(m[3]) != next[rank]) ++bad;
    ++next[rank];
  }
  CHECK(bad == 0);
  for (int k = 0; k < 4; ++k)
    CHECK(next[k] == 3000);
}

TEST_CASE("output-filename writes one file per rank with %r and %h", "[command][output]") {
  TempDir dir;
  auto r = run(sh({"-n", "4", "-N", "2", "--output-filename", dir.path + "/out.%r.%h"},
                  "echo hello from $MESHRUN_RANK; echo oops $MESHRUN_RANK >&2"));
  REQUIRE(r.status == 0);
  CHECK(r.out.empty());
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  for (int k = 0; k < 4; ++k) {
    const auto text = slurp(dir.path + "/out." + std::to_string(k) + "." + host);
    CHECK(text.find("hello from " + std::to_string(k) + "\n") != std::string::npos);
    CHECK(text.find("oops " + std::to_string(k) + "\n") != std::string::npos);
  }
}

TEST_CASE("raw passes bytes through as they come", "[command][output]") {
  auto r = run(sh({"-n", "1", "--raw"}, "printf 'a\\rb\\nc'; printf 'd'"));
  CHECK(r.status == 0);
  CHECK(r.out == "a\rb\ncd");
}

TEST_CASE("a rank writing 100 MB stalls no one and meshrun's memory stays bounded",
          "[command][output][slow]") {
  TempDir dir;
  Options o;
  o.stdout_path = dir.path + "/out";
  o.deadline = Seconds{120};
  // Rank 0 floods; rank 1 says one line right away.
  auto r = run(sh({"-n", "2"},
                  "if [ $MESHRUN_RANK = 0 ]; then yes "
                  "0123456789012345678901234567890123456789012345678901234567890123456789"
                  "012345678901234567890123456789 | head -c 101000000; else echo marker; fi"),
               o);
  REQUIRE(r.status == 0);
  const auto out = slurp(o.stdout_path);
  CHECK(out.size() == 101000000 + 7);
  const size_t marker = out.find("marker\n");
  REQUIRE(marker != std::string::npos);
  // Rank 1's line went out while rank 0 was still flooding, not after it.
  CHECK(marker < out.size() / 2);
  // meshrun, its agents and the ranks together peaked far below the flood.
  // (Not under AddressSanitizer, whose quarantine alone holds hundreds of MB,
  // nor ThreadSanitizer, whose shadow memory doubles what a host agent with
  // its PMIx server takes.)
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
  CHECK(r.max_rss_kb < 100 * 1024);
#endif
  WARN("peak RSS " << r.max_rss_kb << " kB, " << r.seconds << " s for 101 MB");
  CHECK(r.leftovers == std::vector<std::string>{});
}
