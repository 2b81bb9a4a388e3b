// Output that cannot be written is never lost silently: a missing directory
// is refused before anything starts, ranks sharing a file have their lines
// tagged, and a full file system (for the files, or for meshrun's own stdout)
// is reported once per file with the file and the rank, and exits 74.
#include <sched.h>
#include <sys/mount.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
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

std::string hostname() {
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  return host;
}

// A 1 MiB tmpfs on `dir`, mounted in a mount namespace of this test process
// (and so of the meshrun it starts) alone, and unmounted at the end.
class SmallTmpfs {
 public:
  explicit SmallTmpfs(std::string dir) : dir_(std::move(dir)) {
    static const bool own_namespace =
        ::unshare(CLONE_NEWNS) == 0 &&
        ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0;
    REQUIRE(own_namespace);  // needs root (CAP_SYS_ADMIN)
    REQUIRE(::mount("tmpfs", dir_.c_str(), "tmpfs", 0, "size=1m") == 0);
  }
  ~SmallTmpfs() { ::umount2(dir_.c_str(), MNT_DETACH); }

 private:
  std::string dir_;
};

// 1.5 MB of lines from every rank: more than the tmpfs holds.
const char* kFlood = "yes 0123456789012345678901234567890123456789 | head -c 1500000";

}  // namespace

TEST_CASE("an output directory that does not exist is refused before anything starts",
          "[command][output]") {
  TempDir dir;
  const std::string pattern = dir.path + "/missing/out.%r";
  auto r = run(sh({"-n", "2", "--output-filename", pattern}, "touch " + dir.path + "/started"));
  INFO(r.err);
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("--output-filename " + pattern + ": the directory " + dir.path +
                                    "/missing: No such file or directory"));
  CHECK_FALSE(std::filesystem::exists(dir.path + "/started"));
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("an output file that cannot be opened is reported with its rank and exits 74",
          "[command][output]") {
  TempDir dir;
  // The directory depends on the host, so it can only fail once the job runs.
  auto r = run(sh({"-n", "2", "--output-filename", dir.path + "/%h/out.%r"}, "echo hello"));
  INFO(r.err);
  CHECK(r.status == 74);
  for (const std::string rank : {"0", "1"})
    CHECK(count(r.err, "cannot write rank " + rank + "'s output to " + dir.path + "/" + hostname() +
                           "/out." + rank + ": No such file or directory") == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("ranks that share an output file have every line tagged with their rank",
          "[command][output]") {
  TempDir dir;
  // All ranks in one file, or the ranks of one host in its file.
  const bool per_host = GENERATE(false, true);
  const std::string pattern = dir.path + (per_host ? "/out.%h" : "/out.log");
  const std::string file = per_host ? dir.path + "/out." + hostname() : pattern;
  const std::vector<std::string> flags = {"-n", "4", "-N", per_host ? "1" : "2"};
  CAPTURE(pattern);
  std::ofstream(file) << "left from an earlier run\n";
  auto args = flags;
  args.insert(args.end(), {"--output-filename", pattern});
  auto r = run(sh(args,
                  "i=0; while [ $i -lt 200 ]; do echo line $i; i=$((i+1)); done; "
                  "echo err >&2"));
  INFO(r.err);
  CHECK(r.status == 0);
  const std::string text = slurp(file);
  CHECK(text.find("left from an earlier run") == std::string::npos);  // truncated once
  for (int k = 0; k < 4; ++k) {
    const std::string tag = "[" + std::to_string(k) + "] ";
    CHECK(count(text, tag + "line ") == 200);
    CHECK(count(text, tag + "line 199\n") == 1);
    CHECK(count(text, tag + "err\n") == 1);
  }
  // Every line is whole and tagged.
  for (const auto& line : lines(text))
    CHECK(std::regex_match(line, std::regex(R"(\[[0-3]\] (line \d+|err))")));
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("raw output into a file several ranks share is refused", "[command][output]") {
  TempDir dir;
  auto r = run(sh({"-n", "2", "--raw", "--output-filename", dir.path + "/out.log"}, "echo x"));
  CHECK(r.status == 2);
  CHECK_THAT(r.err, Catch::Contains("has no %r, so 2 ranks would share its file"));
}

TEST_CASE("a full file system under the output files is reported per file and rank",
          "[command][output]") {
  TempDir dir;
  SmallTmpfs fs(dir.path);
  auto r = run(sh({"-n", "2", "--output-filename", dir.path + "/out.%r"}, kFlood));
  INFO(r.err);
  CHECK(r.status == 74);
  size_t reported = 0;
  for (const std::string rank : {"0", "1"}) {
    const auto n = count(r.err, "cannot write rank " + rank + "'s output to " + dir.path + "/out." +
                                    rank + ": No space left on device");
    CHECK(n <= 1);
    reported += n;
  }
  CHECK(reported >= 1);
  CHECK(count(r.err, "cannot write") == reported);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE(
    "a full file system under meshrun's stdout is reported once, and a failed rank "
    "still gives its status",
    "[command][output]") {
  TempDir dir;
  SmallTmpfs fs(dir.path);
  Options opt;
  opt.stdout_path = dir.path + "/stdout";
  const auto [script, status] =
      GENERATE(std::make_pair(std::string(kFlood), 74),
               std::make_pair(std::string(kFlood) + "; [ $MESHRUN_RANK = 1 ] || exit 3", 3));
  auto r = run(sh({"-n", "2"}, script), opt);
  INFO(r.err);
  CHECK(r.status == status);
  CHECK(count(r.err,
              "output to meshrun's standard output: No space left on device; what "
              "follows for it is lost") == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}
