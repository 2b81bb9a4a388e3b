#include "agent/output_stream.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <vector>

using namespace meshrun;
using namespace std::chrono_literals;

namespace {

struct Sink {
  asio::io_context io;
  std::vector<std::string> sent;
  std::shared_ptr<OutputStream> make(bool end_partial_line, std::chrono::milliseconds delay) {
    return OutputStream::create(
        io, 3, 1, end_partial_line,
        [this](const Output& o) {
          CHECK(o.proc == 3);
          CHECK(o.stream == 1);
          sent.push_back(o.data);
        },
        delay);
  }
  // Runs the loop until `n` pieces were sent, or 10 s.
  bool run_until(size_t n) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (sent.size() < n && std::chrono::steady_clock::now() < until) {
      io.restart();
      io.run_for(5ms);
    }
    return sent.size() >= n;
  }
};

}  // namespace

TEST_CASE("OutputStream sends whole lines at once and never splits them", "[agent][output]") {
  Sink s;
  auto out = s.make(false, 10ms);
  out->feed("one\ntwo\nthr");
  out->feed("ee\n");
  CHECK(s.sent == std::vector<std::string>{"one\ntwo\n", "three\n"});
  // No partial line is left, so the timer finds nothing to send.
  s.io.run_for(50ms);
  CHECK(s.sent.size() == 2);
}

TEST_CASE("OutputStream sends a partial line that waited, then its rest", "[agent][output]") {
  Sink s;
  auto out = s.make(false, 20ms);
  out->feed(">>> ");
  CHECK(s.sent.empty());  // not before the moment has passed
  REQUIRE(s.run_until(1));
  CHECK(s.sent[0] == ">>> ");
  out->feed("print(1)\n");
  CHECK(s.sent.back() == "print(1)\n");
  out->finish();
  CHECK(s.sent.size() == 2);
}

TEST_CASE("OutputStream keeps waiting while a partial line keeps growing", "[agent][output]") {
  Sink s;
  // A long moment: the pieces below are fed well within it.
  auto out = s.make(false, 300ms);
  out->feed("a");
  s.io.run_for(1ms);
  out->feed("b");
  s.io.run_for(1ms);
  out->feed("c\n");
  CHECK(s.sent == std::vector<std::string>{"abc\n"});
}

TEST_CASE("OutputStream ends a final partial line only when asked", "[agent][output]") {
  SECTION("several ranks: ended") {
    Sink s;
    auto out = s.make(true, 1h);
    out->feed("last");
    out->finish();
    CHECK(s.sent == std::vector<std::string>{"last\n"});
  }
  SECTION("sent already as a prompt: a newline alone ends it") {
    Sink s;
    auto out = s.make(true, 1ms);
    out->feed("prompt> ");
    REQUIRE(s.run_until(1));
    out->finish();
    CHECK(s.sent == std::vector<std::string>{"prompt> ", "\n"});
  }
  SECTION("one rank: as it is") {
    Sink s;
    auto out = s.make(false, 1h);
    out->feed("last");
    out->finish();
    out->feed("ignored after the end");
    CHECK(s.sent == std::vector<std::string>{"last"});
  }
  SECTION("a stream that ended on a newline gets nothing more") {
    Sink s;
    auto out = s.make(true, 1h);
    out->feed("done\n");
    out->finish();
    CHECK(s.sent == std::vector<std::string>{"done\n"});
  }
}
