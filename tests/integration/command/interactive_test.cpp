// Interactive programs under meshrun: a prompt (a partial line waiting for
// input) shows without its newline, on a terminal and through pipes, with
// and without rank tags.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace meshrun_test;

TEST_CASE("python3 -i on a terminal: the prompt shows before any input", "[command][interactive]") {
  Options o;
  o.terminal = true;
  Meshrun m({"-n", "1", "--", "/usr/bin/python3", "-i", "-q"}, o);
  // Nothing is typed before the prompt is seen: it cannot be waiting on a newline.
  REQUIRE(m.wait_for_stdout(">>> "));
  m.type("print(6 * 7)\n");
  REQUIRE(m.wait_for_stdout("42\n"));
  REQUIRE(m.wait_for_stdout(">>> ", 2));
  m.type("import sys; sys.exit(5)\n");
  auto r = m.finish();
  CHECK(r.status == 5);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("a prompt waiting for input is forwarded whole, tagged once, then continued",
          "[command][interactive]") {
  TempDir dir;
  const std::string answer = dir.path + "/answer";
  // Rank 0 asks and waits (for a file, standing in for a user); rank 1 prints
  // a line meanwhile.
  const std::string script =
      "if [ $MESHRUN_RANK = 0 ]; then printf 'name? '; "
      "while [ ! -e " +
      answer +
      " ]; do sleep 0.01; done; "
      "echo \"hello $(cat " +
      answer +
      ")\"; "
      "else sleep 0.5; echo other line; fi";
  SECTION("tagged") {
    Meshrun m({"-n", "2", "-l", "--", "sh", "-c", script});
    REQUIRE(m.wait_for_stdout("[0] name? "));
    REQUIRE(m.wait_for_stdout("[1] other line\n"));
    {
      std::FILE* f = std::fopen(answer.c_str(), "w");
      REQUIRE(f);
      std::fputs("ada", f);
      std::fclose(f);
    }
    auto r = m.finish();
    CHECK(r.status == 0);
    // The open prompt is ended when rank 1's line comes, and rank 0's answer
    // starts a line of its own, tagged again.
    CHECK(r.out == "[0] name? \n[1] other line\n[0] hello ada\n");
    CHECK(r.leftovers == std::vector<std::string>{});
  }
  SECTION("one rank: its bytes exactly") {
    Meshrun m({"-n", "1", "--", "sh", "-c", script});
    REQUIRE(m.wait_for_stdout("name? "));
    std::FILE* f = std::fopen(answer.c_str(), "w");
    REQUIRE(f);
    std::fputs("bob", f);
    std::fclose(f);
    auto r = m.finish();
    CHECK(r.status == 0);
    CHECK(r.out == "name? hello bob\n");
  }
}
