#include <catch2/catch.hpp>

#include <toml++/toml.h>

#include <unistd.h>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "spec/spec_loader.hpp"
#include "spec/toml_depth.hpp"

using namespace meshrun;
using namespace std::chrono_literals;

namespace {

const std::string kActors = "[actors]\nplugin = \"testactors\"\ntype = \"TestActor\"\n";

JobSpec load(const std::string& text) {
  return load_job_spec_text(text, "/specs/test.toml");
}

SpecError error_of(const std::string& text) {
  try {
    load(text);
  } catch (const SpecError& e) {
    return e;
  }
  FAIL("no SpecError for:\n" << text);
  throw std::logic_error("unreachable");
}

// Asserts where the error points; the message is checked by the caller.
#define CHECK_AT(err, LINE, COLUMN, KEY)       \
  do {                                         \
    INFO((err).describe());                    \
    CHECK((err).file() == "/specs/test.toml"); \
    CHECK((err).line() == (LINE));             \
    CHECK((err).column() == (COLUMN));         \
    CHECK((err).key() == (KEY));               \
  } while (false)

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A temporary directory removed at the end of the test.
struct TempDir {
  std::filesystem::path path;
  TempDir() {
    static int n = 0;
    path = std::filesystem::temp_directory_path() /
           ("meshrun-spec-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name, std::ios::binary) << text;
    return (path / name).string();
  }
};

}  // namespace

TEST_CASE("a full actors spec fills every field") {
  const std::string text = R"(
[job]
name = "big"
timeout = "90s"
grace = "250ms"
shutdown_timeout = 3

[hosts]
launcher = "ssh"
count = 3
list = ["node[01-02]", "alice@gpu1:8"]
agent_path = "/opt/meshrun-agent"
bind = "10.0.0.1"
start_timeout = "1m"
heartbeat_timeout = "1.5s"
tree_threshold = 8
max_parallel = 4

[hosts.ssh]
command = "ssh -q"
user = "bob"
port = 2222
identity_file = "~/.ssh/id_ed25519"
options = ["StrictHostKeyChecking=no", "BatchMode=yes"]

[procs]
name = "workers"
extent = { gpus = 2, procs = 3 }
spawn_timeout = "45s"

[actors]
name = "trainers"
plugin = "plugins/../lib/libtrain.so"
type = "Trainer"
spawn_timeout = "20s"

[actors.params]
lr = 0.5

[cast]
message = "Step"
payload = "go"
slice = { hosts = 2, gpus = "0..=1", procs = "1..3" }
timeout = "5s"
repeat = 7

[output]
tag = true
filename = "out.%r.log"
raw = false
stdin = "all"
)";
  const JobSpec s = load(text);
  CHECK(s.source == "/specs/test.toml");
  CHECK(s.name == "big");
  CHECK(s.timeout == 90s);
  CHECK(s.grace == 250ms);
  CHECK(s.shutdown_timeout == 3s);

  CHECK(s.hosts.launcher == LauncherKind::ssh);
  CHECK(s.hosts.count == 3);
  REQUIRE(s.hosts.list.size() == 3);
  CHECK(s.hosts.list[0].name == "node01");
  CHECK(s.hosts.list[1].name == "node02");
  CHECK(s.hosts.list[2].user == "alice");
  CHECK(s.hosts.list[2].name == "gpu1");
  CHECK(s.hosts.list[2].slots == 8);
  CHECK(s.hosts.agent_path == "/opt/meshrun-agent");
  CHECK(s.hosts.bind == "10.0.0.1");
  CHECK(s.hosts.start_timeout == 60s);
  CHECK(s.hosts.heartbeat_timeout == 1500ms);
  CHECK(s.hosts.tree_threshold == 8);
  CHECK(s.hosts.max_parallel == 4);
  CHECK(s.hosts.ssh.command == "ssh -q");
  CHECK(s.hosts.ssh.user == "bob");
  CHECK(s.hosts.ssh.port == 2222);
  CHECK(s.hosts.ssh.identity_file == "~/.ssh/id_ed25519");
  CHECK(s.hosts.ssh.options ==
        std::vector<std::string>{"StrictHostKeyChecking=no", "BatchMode=yes"});

  CHECK(s.procs.name == "workers");
  REQUIRE(s.procs.extent.size() == 2);
  CHECK(s.procs.extent[0].name == "gpus");
  CHECK(s.procs.extent[0].size == 2);
  CHECK(s.procs.extent[1].name == "procs");
  CHECK(s.procs.extent[1].size == 3);
  CHECK(s.procs.spawn_timeout == 45s);
  CHECK_FALSE(s.command_mode());

  REQUIRE(s.actors.size() == 1);
  CHECK(s.actors.at(0).name == "trainers");
  CHECK(s.actors.at(0).plugin == "/specs/lib/libtrain.so");
  CHECK(s.actors.at(0).type == "Trainer");
  CHECK(s.actors.at(0).spawn_timeout == 20s);
  CHECK(toml::parse(s.actors.at(0).params_toml) == toml::table{{"lr", 0.5}});

  REQUIRE(s.casts.size() == 1);
  CHECK(s.casts.at(0).message == "Step");
  CHECK(s.casts.at(0).payload == "go");
  REQUIRE(s.casts.at(0).slice.size() == 3);
  CHECK((s.casts.at(0).slice[0].dim == "hosts" && s.casts.at(0).slice[0].begin == 2 &&
         s.casts.at(0).slice[0].end == 3));
  CHECK((s.casts.at(0).slice[1].dim == "gpus" && s.casts.at(0).slice[1].begin == 0 &&
         s.casts.at(0).slice[1].end == 2));
  CHECK((s.casts.at(0).slice[2].dim == "procs" && s.casts.at(0).slice[2].begin == 1 &&
         s.casts.at(0).slice[2].end == 3));
  CHECK(s.casts.at(0).timeout == 5s);
  CHECK(s.casts.at(0).repeat == 7);

  CHECK(s.output.tag);
  CHECK(s.output.filename_pattern == "out.%r.log");
  CHECK_FALSE(s.output.raw);
  CHECK(s.output.stdin_mode == StdinMode::all);
}

TEST_CASE("a command spec reads command, env and cwd and defaults the rest") {
  const JobSpec s = load(R"(
[hosts]
launcher = "local"

[procs]
command = ["./prog", "arg one"]
env = { FOO = "bar", EMPTY = "" }
cwd = "/tmp"

[output]
stdin = "none"
)");
  CHECK(s.command_mode());
  CHECK(s.procs.command == std::vector<std::string>{"./prog", "arg one"});
  CHECK(s.procs.env == std::map<std::string, std::string>{{"EMPTY", ""}, {"FOO", "bar"}});
  CHECK(s.procs.cwd == "/tmp");
  CHECK(s.hosts.count == 0);  // not given: placement runs one local host
  CHECK(s.procs.name == "p0");
  REQUIRE(s.procs.extent.size() == 1);
  CHECK(s.procs.extent[0].name == "procs");
  CHECK(s.procs.extent[0].size == 1);
  CHECK(s.actors.empty());
  CHECK(s.casts.empty());
  CHECK(s.name == "meshrun");
  CHECK(s.timeout == 0ms);
  CHECK(s.grace == 5s);
  CHECK(s.output.stdin_mode == StdinMode::none);
}

TEST_CASE("extent dims keep the order they were written in") {
  const JobSpec s = load("[procs]\nextent = { z = 2, a = 3 }\n" + kActors);
  REQUIRE(s.procs.extent.size() == 2);
  CHECK(s.procs.extent[0].name == "z");
  CHECK(s.procs.extent[0].size == 2);
  CHECK(s.procs.extent[1].name == "a");
  CHECK(s.procs.extent[1].size == 3);

  const JobSpec t = load("[procs.extent]\nzz = 1\nmm = 4\naa = 2\n" + kActors);
  REQUIRE(t.procs.extent.size() == 3);
  CHECK(t.procs.extent[0].name == "zz");
  CHECK(t.procs.extent[1].name == "mm");
  CHECK(t.procs.extent[2].name == "aa");
}

TEST_CASE("actor params survive a round trip through params_toml") {
  const JobSpec s = load(kActors + R"(
[actors.params]
greeting = "hello \"you\""
count = 3
ratio = 0.25
on = true
list = [1, 2, 3]
[actors.params.nested]
deep = { x = "y" }
)");
  REQUIRE(s.actors.size() == 1);
  const toml::table back = toml::parse(s.actors.at(0).params_toml);
  const toml::table want = toml::parse(R"(
greeting = "hello \"you\""
count = 3
ratio = 0.25
on = true
list = [1, 2, 3]
nested = { deep = { x = "y" } }
)");
  CHECK(back == want);
  CHECK(load(kActors).actors.at(0).params_toml.empty());
}

TEST_CASE("plugin paths are resolved against the spec's directory, bare names kept") {
  CHECK(load("[actors]\nplugin = \"./libx.so\"\ntype = \"T\"\n").actors.at(0).plugin ==
        "/specs/libx.so");
  CHECK(load("[actors]\nplugin = \"/abs/libx.so\"\ntype = \"T\"\n").actors.at(0).plugin ==
        "/abs/libx.so");
  CHECK(load("[actors]\nplugin = \"testactors\"\ntype = \"T\"\n").actors.at(0).plugin ==
        "testactors");
}

TEST_CASE("a hostfile is read relative to the spec file") {
  TempDir dir;
  dir.write("hosts.txt", "# two nodes\nnode1 slots=2\nbob@node2:4\n");
  const std::string spec = dir.write("job.toml",
                                     "[hosts]\nlauncher = \"ssh\"\ncount = 2\n"
                                     "hostfile = \"hosts.txt\"\n" +
                                         kActors);
  const JobSpec s = load_job_spec_file(spec);
  CHECK(s.hosts.hostfile == (dir.path / "hosts.txt").string());
  REQUIRE(s.hosts.list.size() == 2);
  CHECK(s.hosts.list[0].name == "node1");
  CHECK(s.hosts.list[0].slots == 2);
  CHECK(s.hosts.list[1].user == "bob");
  CHECK(s.hosts.list[1].slots == 4);

  // A bad line in the hostfile points at the hostfile's own line.
  dir.write("bad.txt", "node1\nnode[2-\n");
  const std::string bad = dir.write("bad.toml",
                                    "[hosts]\nlauncher = \"ssh\"\n"
                                    "hostfile = \"bad.txt\"\n" +
                                        kActors);
  try {
    load_job_spec_file(bad);
    FAIL("no error");
  } catch (const SpecError& e) {
    CHECK(e.line() == 3);
    CHECK(e.column() == 12);
    CHECK(e.key() == "hosts.hostfile");
    CHECK_THAT(e.message(), Catch::Contains((dir.path / "bad.txt").string() + ":2:"));
  }
}

TEST_CASE("describe() is FILE:LINE:COLUMN: KEY: WHAT and leaves out unknown parts") {
  CHECK(SpecError("a.toml", 3, 7, "hosts.count", "bad").describe() ==
        "a.toml:3:7: hosts.count: bad");
  CHECK(SpecError("a.toml", 0, 0, "", "cannot open").describe() == "a.toml: cannot open");
  CHECK(SpecError("a.toml", 2, 5, "", "oops").describe() == "a.toml:2:5: oops");
  CHECK(std::string(SpecError("a.toml", 2, 5, "k", "oops").what()) == "a.toml:2:5: k: oops");
  CHECK(SpecError("a.toml", 2, 5, "k", "oops").message() == "oops");
}

TEST_CASE("a TOML syntax error becomes a SpecError at its line and column") {
  const SpecError e = error_of("[job]\nname = \"x\"\ntimeout = = 3\n");
  CHECK_AT(e, 3, 11, "");
  CHECK_THAT(e.describe(), Catch::StartsWith("/specs/test.toml:3:11: "));
}

TEST_CASE("a value of the wrong type is reported at the value") {
  const SpecError e = error_of("[hosts]\ncount = \"two\"\n" + kActors);
  CHECK_AT(e, 2, 9, "hosts.count");
  CHECK_THAT(e.message(), Catch::Contains("expected an integer, got a string"));

  const SpecError section = error_of("hosts = 3\n" + kActors);
  CHECK_AT(section, 1, 9, "hosts");
  CHECK_THAT(section.message(), Catch::Contains("expected a table"));

  const SpecError element = error_of("[procs]\ncommand = [\"a\", 2]\n");
  CHECK_AT(element, 2, 17, "procs.command");
  CHECK_THAT(element.message(), Catch::Contains("not a string"));
}

TEST_CASE("an unknown top-level section is named, with the allowed ones") {
  const SpecError e = error_of("[jobs]\nname = \"x\"\n" + kActors);
  CHECK_AT(e, 1, 2, "jobs");
  CHECK_THAT(e.message(),
             Catch::Contains("unknown key \"jobs\"") && Catch::Contains("did you mean \"job\"") &&
                 Catch::Contains("job, hosts, procs, actors, cast, controller, output"));
}

TEST_CASE("unknown nested keys are named with their dotted path") {
  const SpecError e = error_of(kActors + "[hosts]\nlaunchr = \"local\"\n");
  CHECK_AT(e, 5, 1, "hosts.launchr");
  CHECK_THAT(e.message(), Catch::Contains("did you mean \"launcher\""));

  const SpecError ssh = error_of(kActors + "[hosts.ssh]\n  port = 22\n  colour = 1\n");
  CHECK_AT(ssh, 6, 3, "hosts.ssh.colour");
  CHECK_THAT(ssh.message(), Catch::Contains("allowed keys in [hosts.ssh]: command, user, port"));
  CHECK_THAT(ssh.message(), !Catch::Contains("did you mean"));
}

TEST_CASE("a missing required key is reported at its table") {
  const SpecError e = error_of("[job]\nname = \"x\"\n\n[actors]\nplugin = \"testactors\"\n");
  CHECK_AT(e, 4, 1, "actors.type");
  CHECK_THAT(e.message(), Catch::Contains("missing"));

  const SpecError plugin = error_of("[actors]\ntype = \"T\"\n");
  CHECK_AT(plugin, 1, 1, "actors.plugin");

  const SpecError nothing = error_of("[job]\nname = \"x\"\n");
  CHECK_AT(nothing, 1, 1, "actors");
  CHECK_THAT(nothing.message(),
             Catch::Contains("add an [actors] table") && Catch::Contains("procs.command"));
}

TEST_CASE("contradictory settings say what contradicts what") {
  const SpecError both = error_of("[procs]\ncommand = [\"x\"]\n" + kActors);
  CHECK_AT(both, 3, 1, "actors");
  CHECK_THAT(both.message(), Catch::Contains("contradicts procs.command (line 2)"));

  const SpecError cast = error_of("[procs]\ncommand = [\"x\"]\n[cast]\nmessage = \"M\"\n");
  CHECK_AT(cast, 3, 1, "cast");
  CHECK_THAT(cast.message(), Catch::Contains("[cast] needs [actors]"));

  const SpecError local = error_of(kActors + "[hosts]\nlauncher = \"local\"\nlist = \"node1\"\n");
  CHECK_AT(local, 6, 8, "hosts.list");
  CHECK_THAT(local.message(), Catch::Contains("contradicts hosts.launcher = \"local\" (line 5)"));

  const SpecError count =
      error_of(kActors + "[hosts]\nlauncher = \"ssh\"\ncount = 4\nlist = \"n[1-3]\"\n");
  CHECK_AT(count, 6, 9, "hosts.count");
  CHECK_THAT(count.message(), Catch::Contains("hosts.list (line 7) names only 3"));

  const SpecError files = error_of(kActors + "[hosts]\nlist = \"a\"\nhostfile = \"h.txt\"\n");
  CHECK_AT(files, 6, 12, "hosts.hostfile");
  CHECK_THAT(files.message(), Catch::Contains("contradicts hosts.list (line 5)"));

  const SpecError output = error_of(kActors + "[output]\ntag = true\nraw = true\n");
  CHECK_AT(output, 6, 7, "output.raw");
  CHECK_THAT(output.message(), Catch::Contains("contradicts tag = true (line 5)"));

  const SpecError ssh =
      error_of(kActors + "[hosts]\nlauncher = \"slurm\"\n[hosts.ssh]\nport = 22\n");
  CHECK_AT(ssh, 6, 1, "hosts.ssh");
  CHECK_THAT(ssh.message(), Catch::Contains("contradicts hosts.launcher = \"slurm\" (line 5)"));

  // With slurm, a list picks nodes of the allocation, as -H does.
  CHECK(load(kActors + "[hosts]\nlauncher = \"slurm\"\nlist = \"n[1-2]\"\n").hosts.list.size() ==
        2);

  // count up to the number listed is fine.
  CHECK(load(kActors + "[hosts]\nlauncher = \"ssh\"\ncount = 2\nlist = \"n[1-3]\"\n").hosts.count ==
        2);
}

TEST_CASE("an empty host list is an error") {
  const SpecError arr = error_of(kActors + "[hosts]\nlauncher = \"ssh\"\nlist = []\n");
  CHECK_AT(arr, 6, 8, "hosts.list");
  CHECK_THAT(arr.message(), Catch::Contains("empty"));

  const SpecError str = error_of(kActors + "[hosts]\nlist = \"\"\n");
  CHECK_AT(str, 5, 8, "hosts.list");
  CHECK_THAT(str.message(), Catch::Contains("empty host list"));
}

TEST_CASE("a malformed hostlist is reported at its string") {
  const SpecError e = error_of(kActors + "[hosts]\nlist = [\"a\", \"node[1-4\"]\n");
  CHECK_AT(e, 5, 14, "hosts.list");
  CHECK_THAT(e.message(), Catch::Contains("'[' is never closed"));

  const SpecError down = error_of(kActors + "[hosts]\nlist = \"node[4-1]\"\n");
  CHECK_AT(down, 5, 8, "hosts.list");
  CHECK_THAT(down.message(), Catch::Contains("goes down"));
}

TEST_CASE("a million hosts is refused") {
  const SpecError e = error_of(kActors + "[hosts]\nlist = \"n[1-1000000]\"\n");
  CHECK_AT(e, 5, 8, "hosts.list");
  CHECK_THAT(e.message(), Catch::Contains("more than the limit of 65536"));

  const SpecError sum = error_of(kActors + "[hosts]\nlist = [\"a[1-40000]\", \"b[1-40000]\"]\n");
  CHECK_AT(sum, 5, 23, "hosts.list");
  CHECK_THAT(sum.message(), Catch::Contains("more than 65536 hosts in all"));
}

TEST_CASE("bad durations are reported at the value") {
  const SpecError unit = error_of(kActors + "[job]\ntimeout = \"5 parsecs\"\n");
  CHECK_AT(unit, 5, 11, "job.timeout");
  CHECK_THAT(unit.message(), Catch::Contains("unknown unit \"parsecs\""));

  const SpecError neg = error_of(kActors + "[job]\ngrace = -1\n");
  CHECK_AT(neg, 5, 9, "job.grace");
  CHECK_THAT(neg.message(), Catch::Contains("negative"));

  const SpecError zero = error_of(kActors + "[hosts]\nstart_timeout = \"0s\"\n");
  CHECK_AT(zero, 5, 17, "hosts.start_timeout");
  CHECK_THAT(zero.message(), Catch::Contains("longer than 0"));

  const SpecError type = error_of(kActors + "[cast]\ntimeout = true\n");
  CHECK_AT(type, 5, 11, "cast.timeout");
}

TEST_CASE("parse_duration reads units and rejects garbage") {
  CHECK(parse_duration("90s") == 90s);
  CHECK(parse_duration("5m") == 5min);
  CHECK(parse_duration("250ms") == 250ms);
  CHECK(parse_duration("1h") == 1h);
  CHECK(parse_duration("1.5s") == 1500ms);
  CHECK(parse_duration("2") == 2s);
  CHECK(parse_duration("0") == 0ms);
  CHECK(parse_duration("0.0001s") == 1ms);  // never rounds a real wait down to "none"
  for (const char* bad : {"", "-1s", "abc", "5 parsecs", "1e3", "nan", "inf", "1..5s", "s", ".",
                          "5sec", "1000000000h"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_duration(bad), std::invalid_argument);
  }
  CHECK_THROWS_WITH(parse_duration("-1s"), Catch::Contains("\"-1s\""));
}

TEST_CASE("slices with an unknown dim or a bad range are rejected") {
  const std::string base =
      "[hosts]\nlauncher = \"local\"\ncount = 2\n[procs]\nextent = { procs = 3 }\n" + kActors;
  // Lines of base: 1-5, actors 6-8, [cast] 9, slice 10.
  const SpecError dim = error_of(base + "[cast]\nslice = { gpus = 0 }\n");
  CHECK_AT(dim, 10, 11, "cast.slice.gpus");
  CHECK_THAT(dim.message(), Catch::Contains("its dimensions are hosts, procs"));

  const SpecError empty = error_of(base + "[cast]\nslice = { procs = \"2..2\" }\n");
  CHECK_AT(empty, 10, 19, "cast.slice.procs");
  CHECK_THAT(empty.message(), Catch::Contains("empty range"));

  const SpecError outside = error_of(base + "[cast]\nslice = { procs = \"1..=3\" }\n");
  CHECK_AT(outside, 10, 19, "cast.slice.procs");
  CHECK_THAT(outside.message(), Catch::Contains("outside procs (size 3"));

  const SpecError hosts = error_of(base + "[cast]\nslice = { hosts = 2 }\n");
  CHECK_AT(hosts, 10, 19, "cast.slice.hosts");
  CHECK_THAT(hosts.message(), Catch::Contains("outside hosts (size 2"));

  const SpecError garbage = error_of(base + "[cast]\nslice = { procs = \"1-2\" }\n");
  CHECK_AT(garbage, 10, 19, "cast.slice.procs");
  CHECK_THAT(garbage.message(), Catch::Contains("not a range"));

  const SpecError negative = error_of(base + "[cast]\nslice = { procs = -1 }\n");
  CHECK_AT(negative, 10, 19, "cast.slice.procs");

  const JobSpec ok = load(base + "[cast]\nslice = { procs = \"1..=2\", hosts = 1 }\n");
  REQUIRE(ok.casts.at(0).slice.size() == 2);
  CHECK(ok.casts.at(0).slice[0].dim == "procs");
  CHECK(ok.casts.at(0).slice[0].begin == 1);
  CHECK(ok.casts.at(0).slice[0].end == 3);
  CHECK(ok.casts.at(0).slice[1].dim == "hosts");
}

TEST_CASE("extent dims named hosts, duplicated or sized 0 are rejected") {
  const SpecError reserved = error_of("[procs]\nextent = { procs = 2, hosts = 2 }\n" + kActors);
  CHECK_AT(reserved, 2, 23, "procs.extent.hosts");
  CHECK_THAT(reserved.message(), Catch::Contains("reserved"));

  // TOML itself forbids a key twice; the parser's error keeps its position.
  const SpecError dup = error_of("[procs]\nextent = { a = 2, a = 3 }\n" + kActors);
  CHECK_AT(dup, 2, 23, "");  // toml++ points at the second value
  CHECK_THAT(dup.message(), Catch::Contains("redefine"));

  const SpecError zero = error_of("[procs]\nextent = { a = 0 }\n" + kActors);
  CHECK_AT(zero, 2, 16, "procs.extent.a");
  CHECK_THAT(zero.message(), Catch::Contains("out of range"));

  const SpecError empty = error_of("[procs]\nextent = {}\n" + kActors);
  CHECK_AT(empty, 2, 10, "procs.extent");
}

TEST_CASE("launcher and stdin values are checked") {
  const SpecError l = error_of(kActors + "[hosts]\nlauncher = \"pbs\"\n");
  CHECK_AT(l, 5, 12, "hosts.launcher");
  CHECK_THAT(l.message(), Catch::Contains("\"auto\", \"local\", \"ssh\" or \"slurm\""));

  const SpecError s = error_of(kActors + "[output]\nstdin = \"rank1\"\n");
  CHECK_AT(s, 5, 9, "output.stdin");
}

TEST_CASE("a missing spec file is a SpecError naming it") {
  try {
    load_job_spec_file("/nonexistent/meshrun/job.toml");
    FAIL("no error");
  } catch (const SpecError& e) {
    CHECK(e.file() == "/nonexistent/meshrun/job.toml");
    CHECK(e.line() == 0);
    CHECK_THAT(e.describe(), Catch::StartsWith("/nonexistent/meshrun/job.toml: cannot open"));
  }
}

TEST_CASE("the embedded default job is configs/local.toml and loads") {
  const std::filesystem::path local =
      std::filesystem::path(MESHRUN_SOURCE_DIR) / "configs" / "local.toml";
  CHECK(read_file(local) == std::string(default_job_toml()));

  const JobSpec s = load_job_spec_text(default_job_toml(), "<embedded>");
  CHECK(s.name == "local");
  CHECK(s.hosts.launcher == LauncherKind::local);
  CHECK(s.hosts.count == 2);
  CHECK(s.procs.name == "p0");
  REQUIRE(s.procs.extent.size() == 1);
  CHECK(s.procs.extent[0].name == "procs");
  CHECK(s.procs.extent[0].size == 2);
  REQUIRE(s.actors.size() == 1);
  CHECK(s.actors.at(0).name == "a0");
  CHECK(s.actors.at(0).plugin == "testactors");
  CHECK(s.actors.at(0).type == "TestActor");
  REQUIRE(s.casts.size() == 1);
  CHECK(s.casts.at(0).message == "GetActorId");
  CHECK(s.casts.at(0).slice.empty());
  CHECK(s.casts.at(0).timeout == 10s);
}

TEST_CASE("every example in configs/ loads") {
  const std::filesystem::path dir = std::filesystem::path(MESHRUN_SOURCE_DIR) / "configs";
  int loaded = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".toml") continue;
    INFO(entry.path());
    try {
      load_job_spec_file(entry.path().string());
    } catch (const SpecError& e) {
      FAIL(e.describe());
    }
    ++loaded;
  }
  CHECK(loaded >= 4);
}

TEST_CASE("tables nested 50,000 deep are refused before parsing, at their line") {
  std::string dotted = "a";
  for (int i = 1; i < 50000; ++i)
    dotted += ".a";
  SECTION("a header") {
    auto err = error_of("[job]\nname = \"x\"\n\n[" + dotted + "]\nx = 1\n");
    CHECK_AT(err, 4, 0, "");
    CHECK_THAT(err.message(), Catch::Contains("nested 129 deep") && Catch::Contains("at most 128"));
  }
  SECTION("a dotted key under a header") {
    auto err = error_of("[job]\n" + dotted + " = 1\n");
    CHECK_AT(err, 2, 0, "");
  }
  SECTION("inline tables and arrays add to a header's depth") {
    std::string header = "[a";
    for (int i = 0; i < 100; ++i)
      header += ".b";
    std::string value;
    for (int i = 0; i < 30; ++i)
      value += "{ k = [";
    auto err = error_of(header + "]\n# a comment\nv = " + value + "\n");
    CHECK_AT(err, 3, 0, "");
  }
}

TEST_CASE("the depth pre-scan counts nesting, not dots in strings, numbers or comments") {
  CHECK_FALSE(find_toml_too_deep("[a.b.c]\nx.y = { z = [1.5, 2.5, { w = \"1.2.3.4\" }] }\n", 8));
  CHECK(find_toml_too_deep("[a.b.c]\nx.y = { z = [1.5, 2.5, { w = \"1.2.3.4\" }] }\n", 7));
  CHECK(find_toml_too_deep("[a.b.c]\nx.y = { z = [1.5, 2.5, { w = \"1.2.3.4\" }] }\n", 7)->line ==
        2);
  // Quoted header parts, strings (also multi-line ones) and comments hold dots
  // that are not tables.
  CHECK_FALSE(find_toml_too_deep("[\"a.b.c.d\".e]\n", 2));
  CHECK_FALSE(find_toml_too_deep("x = \"\"\"\n.a.b.c.d.\n{[{[{[\n\"\"\"\n# .a.b.c.d {[{[\n", 1));
  CHECK_FALSE(find_toml_too_deep("x = '''.a.b.c'''  # .d.e.f\ny = 'a.b.c.d.e'\n", 1));
  // A multi-line array keeps its depth across lines and ends where it closes.
  const auto deep = find_toml_too_deep("a = [\n  [\n    [\n 1 ]]]\nb = 1\n[x.y.z.w]\n", 3);
  REQUIRE(deep);
  CHECK(deep->line == 3);
  CHECK_FALSE(find_toml_too_deep("a = [\n  [\n 1 ]]\nb = 1\n", 3));
  // Every example in configs/ is far below the limit.
  for (const auto& e : std::filesystem::directory_iterator(MESHRUN_SOURCE_DIR "/configs"))
    if (e.path().extension() == ".toml") CHECK_FALSE(find_toml_too_deep(read_file(e.path()), 8));
}

TEST_CASE("procs.bind_to, procs.map_by and job.signal_forward") {
  const JobSpec s = load(kActors +
                         "[procs]\nbind_to = \"core\"\nmap_by = \"socket\"\n"
                         "[job]\nsignal_forward = \"int\"\n");
  CHECK(s.procs.binding.bind == meshrun::CpuObject::core);
  CHECK(s.procs.binding.map == meshrun::CpuObject::socket);
  CHECK(s.signal_forward == SIGINT);
  CHECK(load(kActors).signal_forward == SIGTERM);

  const SpecError bind = error_of(kActors + "[procs]\nbind_to = \"cores\"\n");
  CHECK_AT(bind, 5, 11, "procs.bind_to");
  CHECK_THAT(bind.message(), Catch::Contains("none, hwthread, core, socket"));
  const SpecError sig = error_of(kActors + "[job]\nsignal_forward = \"usr1\"\n");
  CHECK_AT(sig, 5, 18, "job.signal_forward");
  CHECK_THAT(sig.message(), Catch::Contains("\"int\", \"term\", \"hup\" or \"quit\""));
}
