// What the README promises about refused connections: a host agent logs the
// first three in full, then one line as the count reaches 10, 100, 1000, so a
// crowd cannot flood the terminal; and these lines show even with -q.
#include "channel/refusal_log.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

using namespace meshrun;

namespace {

// What the log wrote on stderr while `body` ran, line by line.
template <class Body>
std::vector<std::string> stderr_lines(Body body) {
  char path[] = "/tmp/meshrun-refusal-log-XXXXXX";
  const int file = ::mkstemp(path);
  REQUIRE(file >= 0);
  ::unlink(path);
  const int saved = ::dup(2);
  ::dup2(file, 2);
  body();
  ::dup2(saved, 2);
  ::close(saved);
  std::string text(1 << 16, '\0');
  const ssize_t n = ::pread(file, text.data(), text.size(), 0);
  ::close(file);
  text.resize(n > 0 ? static_cast<size_t>(n) : 0);
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

}  // namespace

TEST_CASE("refusals: three in full, then one line at 10, 100 and 1000, even with -q") {
  log::set_program("meshrun-agent[host 0]");
  log::set_color(false);
  log::set_level(log::Level::quiet);
  RefusalLog refusals("this agent");
  const auto lines = stderr_lines([&] {
    for (int i = 1; i <= 1500; ++i)
      refusals.refused("wrong proof #" + std::to_string(i));
  });
  log::set_level(log::Level::info);
  CHECK(refusals.count() == 1500);
  const std::string head = "meshrun-agent[host 0]: warning: refused ";
  CHECK(lines == std::vector<std::string>{
                     head + "a connection to this agent: wrong proof #1",
                     head + "a connection to this agent: wrong proof #2",
                     head + "a connection to this agent: wrong proof #3",
                     head + "10 connections to this agent so far; the latest: wrong proof #10",
                     head + "100 connections to this agent so far; the latest: wrong proof #100",
                     head + "1000 connections to this agent so far; the latest: wrong proof #1000",
                 });
}
