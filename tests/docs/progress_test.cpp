// The start-up progress line: what reaches the terminal, byte for byte.
#include <fcntl.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

#include "launcher/progress.hpp"
#include "util/log.hpp"

namespace {

struct Pipe {
  int r = -1, w = -1;
  Pipe() {
    int fds[2];
    REQUIRE(::pipe2(fds, O_NONBLOCK | O_CLOEXEC) == 0);
    r = fds[0];
    w = fds[1];
  }
  ~Pipe() {
    ::close(r);
    ::close(w);
  }
  std::string drain() const {
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ::read(r, buf, sizeof buf)) > 0)
      out.append(buf, static_cast<size_t>(n));
    return out;
  }
};

const std::string kErase = "\r\033[K";

}  // namespace

TEST_CASE("a disabled progress line writes nothing") {
  Pipe p;
  {
    meshrun::ProgressLine line(p.w, false);
    line.update("hosts connected 1/2, ready 0/2");
    line.clear();
  }
  CHECK(p.drain().empty());
}

TEST_CASE("the progress line redraws in place and erases itself") {
  meshrun::log::set_program("meshrun");
  Pipe p;
  meshrun::ProgressLine line(p.w, true);
  line.update("procs ready 1/4");
  CHECK(p.drain() == kErase + "meshrun: procs ready 1/4");
  line.update("procs ready 1/4");  // unchanged: no flicker
  CHECK(p.drain().empty());
  line.update("procs ready 4/4");
  CHECK(p.drain() == kErase + "meshrun: procs ready 4/4");
  line.clear();
  CHECK(p.drain() == kErase);
  line.clear();  // nothing shown, nothing to erase
  CHECK(p.drain().empty());
}

TEST_CASE("a log line erases the progress line before it is written and redraws it after") {
  Pipe p;
  {
    meshrun::ProgressLine line(p.w, true);
    line.update("actors spawned 2/4");
    CHECK(p.drain() == kErase + "meshrun: actors spawned 2/4");
    meshrun::log::error("test: a diagnostic while the line is shown");
    CHECK(p.drain() == kErase + kErase + "meshrun: actors spawned 2/4");
    meshrun::log::relay("meshrun-agent[host 0]: another process's line");
    CHECK(p.drain() == kErase + kErase + "meshrun: actors spawned 2/4");
    line.update("actors spawned 3/4");
    CHECK(p.drain() == kErase + "meshrun: actors spawned 3/4");
  }
  CHECK(p.drain() == kErase);  // erased when it goes away
  meshrun::log::error("test: a diagnostic after the line is gone");
  CHECK(p.drain().empty());
}

TEST_CASE("the progress line is cut to the terminal width") {
  int master = -1, slave = -1;
  winsize ws{};
  ws.ws_col = 20;
  ws.ws_row = 10;
  REQUIRE(::openpty(&master, &slave, nullptr, nullptr, &ws) == 0);
  {
    meshrun::ProgressLine line(slave, true);
    line.update("hosts connected 1000/2000, ready 999/2000");
  }
  ::close(slave);
  std::string out;
  char buf[512];
  ssize_t n;
  while ((n = ::read(master, buf, sizeof buf)) > 0)
    out.append(buf, static_cast<size_t>(n));
  ::close(master);
  // 20 columns: 19 drawn, so the cursor never wraps to a new line.
  const auto first = out.find("meshrun: ");
  REQUIRE(first != std::string::npos);
  const auto end = out.find('\r', first);
  REQUIRE(end != std::string::npos);
  CHECK(out.substr(first, end - first) == std::string("meshrun: hosts conn"));
}

TEST_CASE("once the job runs the progress line is gone for good") {
  meshrun::log::set_program("meshrun");
  Pipe p;
  meshrun::ProgressLine line(p.w, true);
  line.update("procs ready 4/4");
  CHECK(p.drain() == kErase + "meshrun: procs ready 4/4");
  line.finish();
  CHECK(p.drain() == kErase);
  line.update("procs ready 4/4");
  line.redraw();
  meshrun::log::error("test: a diagnostic after the job started");
  CHECK(p.drain().empty());
}
