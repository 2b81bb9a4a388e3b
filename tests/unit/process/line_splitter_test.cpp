#include <catch2/catch.hpp>
#include <string>

#include "process/line_splitter.hpp"

using meshrun::LineSplitter;

TEST_CASE("LineSplitter holds a partial line until its newline", "[line_splitter]") {
  LineSplitter s;
  CHECK(s.feed("hel") == "");
  CHECK(s.buffered() == 3);
  CHECK(s.feed("lo wor") == "");
  CHECK(s.feed("ld\nnext") == "hello world\n");
  CHECK(s.buffered() == 4);
  CHECK(s.feed("\n") == "next\n");
  CHECK(s.buffered() == 0);
}

TEST_CASE("LineSplitter returns several lines at once and keeps the tail", "[line_splitter]") {
  LineSplitter s;
  CHECK(s.feed("a\nbb\n\nccc\ndd") == "a\nbb\n\nccc\n");
  CHECK(s.finish() == "dd");
  CHECK(s.buffered() == 0);
  CHECK(s.finish() == "");
}

TEST_CASE("LineSplitter passes a 1 MiB line whole by default", "[line_splitter]") {
  LineSplitter s;
  std::string line(1u << 20, 'x');
  std::string got;
  // Arrives in pipe-sized reads, as from a child's stdout.
  for (size_t i = 0; i < line.size(); i += 65536)
    got += s.feed(line.substr(i, 65536));
  CHECK(got.empty());
  got += s.feed("\ntail");
  CHECK(got.size() == line.size() + 1);
  CHECK(got == line + "\n");
  CHECK(s.finish() == "tail");
}

TEST_CASE("LineSplitter cuts a line longer than the cap", "[line_splitter]") {
  LineSplitter s(4);
  CHECK(s.feed("abcd") == "");  // exactly the cap: may still end here
  CHECK(s.feed("\n") == "abcd\n");
  CHECK(s.feed("ab\nabcdefghij\nxy") == "ab\nabcd\nefgh\nij\n");
  CHECK(s.feed("zzzz") == "xyzz\n");
  CHECK(s.finish() == "zz");

  LineSplitter t(3);
  std::string out;
  for (char c : std::string("1234567"))
    out += t.feed(std::string(1, c));
  CHECK(out == "123\n456\n");
  CHECK(t.finish() == "7");
}

TEST_CASE("LineSplitter finish returns a final line without newline", "[line_splitter]") {
  LineSplitter s;
  CHECK(s.feed("only partial") == "");
  CHECK(s.finish() == "only partial");
  CHECK(s.feed("x\n") == "x\n");
}
