// The job secret is never given to ranks: not in their environment, not on
// a descriptor, and not readable from the memory of their host agent or of
// meshrun, as the same ordinary user (here nobody, through setpriv).
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "harness.hpp"

using namespace meshrun_test;
namespace fs = std::filesystem;

namespace {

// What a rank of the same user can do to each meshrun process above it: read
// its memory ("read NAME") or not ("denied NAME"). The control is the rank's
// own shell, which it must be able to read (a child still in exec would race).
const char* kProbe = R"SH(
probe() {
  addr=$(head -c 12 /proc/$1/maps 2>/dev/null | cut -d- -f1)
  if [ -n "$addr" ] && dd if=/proc/$1/mem bs=16 count=1 skip=$((0x$addr / 16)) of=/dev/null 2>/dev/null
  then echo "read $2"; else echo "denied $2"; fi
}
probe $$ control
p=$PPID
while [ "$p" -gt 1 ]; do
  name=$(cat /proc/$p/comm)
  case "$name" in meshrun|meshrun-agent) probe $p "$name $p";; esac
  p=$(cut -d' ' -f4 /proc/$p/stat)
done
# Listed by a child in the background, which redirects on its own: a pipe or
# a redirection would open descriptors in this shell.
ls /proc/$$/fd >/tmp/meshrun-fds.$$ & wait
printf 'fds '; tr '\n' ' ' </tmp/meshrun-fds.$$; echo
rm -f /tmp/meshrun-fds.$$
env | grep -Eq '[0-9a-fA-F]{64}' && echo "hex in env"
echo done
)SH";

}  // namespace

TEST_CASE("a rank running as an ordinary user cannot read its agent's or meshrun's memory",
          "[command][secret]") {
  REQUIRE(::geteuid() == 0);  // root, to run the job as another user (scripts/test runs as root)
  // Binaries and a working directory that user can reach wherever the build is.
  TempDir dir;
  REQUIRE(::chmod(dir.path.c_str(), 0755) == 0);
  for (const std::string& bin : {meshrun_path(), std::string(MESHRUN_AGENT_BIN)})
    fs::copy_file(bin, dir.path + "/" + fs::path(bin).filename().string());
  Options opt;
  opt.wrapper = {"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"};
  opt.program = dir.path + "/meshrun";
  opt.cwd = dir.path;
  opt.env = {"TMPDIR=/tmp"};
  auto r = run({"-n", "2", "-l", "--stdin", "none", "--", "sh", "-c", kProbe}, opt);
  INFO(r.out << r.err);
  REQUIRE(r.status == 0);
  for (const std::string rank : {"0", "1"}) {
    const std::string tag = "[" + rank + "] ";
    CHECK(count(r.out, tag + "read control") == 1);  // reading memory works for this user
    CHECK(count(r.out, tag + "denied meshrun-agent ") >= 1);
    CHECK(count(r.out, tag + "denied meshrun ") == 1);
    CHECK(count(r.out, tag + "read meshrun") == 0);
    // stdin (/dev/null), stdout, stderr and the PMI socket; nothing else.
    CHECK(count(r.out, tag + "fds 0 1 2 3 \n") == 1);
    CHECK(count(r.out, tag + "done") == 1);
  }
  CHECK(count(r.out, "hex in env") == 0);
  CHECK(r.leftovers == std::vector<std::string>{});
}
