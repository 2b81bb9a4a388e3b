// The command line: spec errors, --check, and command mode.
#include <filesystem>

#include "meshrun_it.hpp"

using namespace meshrun_it;

namespace {

// A stand-in agent that only records that it was started. Nothing under test
// should start one, so it never needs to behave like a real agent.
std::string fake_agent(const World& w) {
  const auto path = w.dir.write("fake-agent", "#!/bin/sh\ntouch \"$0.started\"\nexit 3\n");
  std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  return path;
}

bool fake_agent_started(const std::string& agent) {
  return std::filesystem::exists(agent + ".started");
}

}  // namespace

TEST_CASE("an unknown key is a spec error with file:line:column, exit 2", "[cli]") {
  World w;
  const auto agent = fake_agent(w);
  const auto spec = w.spec("[job]\nname = \"x\"\n\n[hosts]\n  launcher = \"local\"\n  bogus = 1\n");
  const auto o = w.meshrun({spec}, 10s, {"MESHRUN_AGENT=" + agent});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 2);
  REQUIRE_THAT(o.err, Catch::Contains(spec + ":6:3") && Catch::Contains("bogus"));
  REQUIRE_FALSE(fake_agent_started(agent));
}

TEST_CASE("a missing plugin is a clear error and nothing starts", "[cli]") {
  World w;
  const auto agent = fake_agent(w);
  const auto spec = w.spec(
      "[hosts]\nlauncher = \"local\"\ncount = 2\n"
      "[actors]\nplugin = \"no_such_plugin\"\ntype = \"TestActor\"\n");
  const auto o = w.meshrun({spec}, 10s, {"MESHRUN_AGENT=" + agent});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code != 0);
  REQUIRE_THAT(o.err, Catch::Contains("no_such_plugin") && Catch::Contains("not found"));
  REQUIRE_FALSE(fake_agent_started(agent));

  SECTION("also when the plugin is given by a path") {
    const auto by_path = w.spec(
        "[hosts]\nlauncher = \"local\"\n"
        "[actors]\nplugin = \"" +
            w.dir.path() + "/nope.so\"\ntype = \"TestActor\"\n",
        "path.toml");
    const auto p = w.meshrun({by_path}, 10s, {"MESHRUN_AGENT=" + agent});
    INFO(describe(p));
    REQUIRE(p.code != 0);
    REQUIRE_THAT(p.err, Catch::Contains(w.dir.path() + "/nope.so"));
    REQUIRE_FALSE(fake_agent_started(agent));
  }
}

TEST_CASE("meshrun --check on a good spec exits 0 and starts nothing", "[cli]") {
  World w;
  const auto agent = fake_agent(w);
  const auto spec = w.spec(actor_spec(2, "{ procs = 2 }", "message = \"GetActorId\"\n"));
  const auto o = w.meshrun({"--check", spec}, 10s, {"MESHRUN_AGENT=" + agent});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 0);
  REQUIRE_THAT(o.out, Catch::Contains("ok"));
  REQUIRE_FALSE(fake_agent_started(agent));

  SECTION("and fails a bad one with exit 2") {
    const auto bad = w.spec("[procs]\nextent = { procs = 0 }\n", "bad.toml");
    const auto b = w.meshrun({"--check", bad}, 10s, {"MESHRUN_AGENT=" + agent});
    INFO(describe(b));
    REQUIRE(b.code == 2);
    REQUIRE_THAT(b.err, Catch::Contains("bad.toml:2"));
  }
}

TEST_CASE("command mode: -l tags each rank's line", "[cli][command]") {
  World w;
  const auto o = w.meshrun({"-n", "4", "-l", "--", "sh", "-c", "echo r$MESHRUN_RANK"});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 0);
  auto lines = lines_of(o.out);
  std::sort(lines.begin(), lines.end());
  REQUIRE(lines == std::vector<std::string>{"[0] r0", "[1] r1", "[2] r2", "[3] r3"});
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

TEST_CASE("command mode: a rank's non-zero exit is the job's exit status", "[cli][command]") {
  World w;
  const auto o =
      w.meshrun({"-n", "3", "--", "sh", "-c", "if [ $MESHRUN_RANK = 1 ]; then exit 1; fi"});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 1);
  REQUIRE_THAT(o.err, Catch::Contains("rank 1") && Catch::Contains("exit code 1"));
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

TEST_CASE("command mode: 'exit $MESHRUN_RANK' exits with the lowest failing rank's code",
          "[cli][command]") {
  // Ranks 1 and 2 fail at the same moment. The status is the lowest failing
  // rank's (PRRTE's rule), but when rank 2's failure aborts the job first,
  // rank 1 may be stopped by that abort before its own exit: then 2 is right.
  World w;
  const auto o = w.meshrun({"-n", "3", "--", "sh", "-c", "exit $MESHRUN_RANK"});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE((o.code == 1 || o.code == 2));
  REQUIRE_THAT(o.err, (Catch::Contains("rank 1") && Catch::Contains("exit code 1")) ||
                          (Catch::Contains("rank 2") && Catch::Contains("exit code 2")));
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

TEST_CASE("command mode: a command that does not exist exits 127", "[cli][command]") {
  World w;
  const auto o = w.meshrun({"-n", "2", "--", "meshrun-no-such-command-xyz"});
  INFO(describe(o));
  REQUIRE(o.exited);
  REQUIRE(o.code == 127);
  REQUIRE_THAT(o.err, Catch::Contains("meshrun-no-such-command-xyz"));
}

// --- Mistakes on the command line: said once, named, with the fix; exit 2 ---

namespace {

// meshrun's one error line for ARGS (and that it exits 2 and starts nothing).
std::string usage_error(const World& w, std::vector<std::string> args) {
  const auto agent = fake_agent(w);
  const auto o = w.meshrun(std::move(args), 10s, {"MESHRUN_AGENT=" + agent});
  INFO(describe(o));
  CHECK(o.exited);
  CHECK(o.code == 2);
  CHECK_FALSE(fake_agent_started(agent));
  const auto first = o.err.substr(0, o.err.find('\n'));
  CHECK(first.rfind("meshrun: error: ", 0) == 0);
  return first;
}

}  // namespace

TEST_CASE("numbers: a whole number of at least 1, said so with what was given", "[cli]") {
  World w;
  CHECK(usage_error(w, {"-n", "abc", "--", "true"}) ==
        "meshrun: error: -n: must be a whole number of at least 1 (got \"abc\")");
  CHECK(usage_error(w, {"-n", "0", "--", "true"}) ==
        "meshrun: error: -n: must be a whole number of at least 1 (got \"0\")");
  CHECK(usage_error(w, {"-n", "-1", "--", "true"}) ==
        "meshrun: error: -n: must be a whole number of at least 1 (got \"-1\")");
  CHECK(usage_error(w, {"-N", "0", "--", "true"}) ==
        "meshrun: error: -N: must be a whole number of at least 1 (got \"0\")");
  CHECK(usage_error(w, {"--per-host", "0", "--", "true"}) ==
        "meshrun: error: --per-host: must be a whole number of at least 1 (got \"0\")");
  CHECK(usage_error(w, {"-n", "2.5", "--", "true"}) ==
        "meshrun: error: -n: must be a whole number of at least 1 (got \"2.5\")");
  CHECK_THAT(usage_error(w, {"-n"}), Catch::Contains("needs a value"));
}

TEST_CASE("an unknown option or value gets the nearest known one", "[cli]") {
  World w;
  CHECK_THAT(usage_error(w, {"--lancher", "local", "--", "true"}),
             Catch::Contains("unknown option --lancher; did you mean --launcher?"));
  CHECK_THAT(usage_error(w, {"--dryrun", "-n", "2", "--", "true"}),
             Catch::Contains("unknown option --dryrun; did you mean --dry-run?"));
  CHECK_THAT(usage_error(w, {"--launcher", "sssh", "--", "true"}),
             Catch::Contains("--launcher: must be one of auto, local, ssh or slurm (got \"sssh\"); "
                             "did you mean ssh?"));
  CHECK_THAT(usage_error(w, {"--bind-to", "cores", "--", "true"}),
             Catch::Contains("did you mean core?"));
  CHECK_THAT(usage_error(w, {"--signal-forward", "usr1", "--", "true"}),
             Catch::Contains("--signal-forward: must be one of int, term, hup or quit"));
}

TEST_CASE("flags that cannot go together are refused, naming both", "[cli]") {
  World w;
  CHECK_THAT(usage_error(w, {"-l", "--raw", "-n", "2", "--", "true"}),
             Catch::Contains("-l and --raw cannot go together"));
  CHECK_THAT(usage_error(w, {"-q", "-v", "--", "true"}),
             Catch::Contains("-q and -v cannot go together"));
  CHECK_THAT(usage_error(w, {"-H", "a", "--hostfile", "h", "--", "true"}),
             Catch::Contains("-H and --hostfile cannot go together"));
  CHECK_THAT(usage_error(w, {"--check", "--dry-run", "--", "true"}),
             Catch::Contains("--check and --dry-run cannot go together"));
  CHECK_THAT(usage_error(w, {"--launcher", "local", "--ssh-command", "ssh -p 2", "--", "true"}),
             Catch::Contains("--ssh-command contradicts --launcher local"));
  // One from the spec, one from the command line: both named.
  const auto spec = w.spec("[procs]\ncommand = [\"true\"]\n[output]\nraw = true\n");
  CHECK_THAT(usage_error(w, {"-l", spec}),
             Catch::Contains("-l contradicts output.raw = true in " + spec));
}

TEST_CASE("named hosts with the local launcher: refused on the command line as in a spec",
          "[cli]") {
  World w;
  CHECK_THAT(usage_error(w, {"--launcher", "local", "-H", "a,b,c", "-n", "6", "--", "true"}),
             Catch::Contains("-H contradicts --launcher local") &&
                 Catch::Contains("use -N for the number of local hosts"));
  CHECK_THAT(usage_error(w, {"--launcher", "local", "-H", "a,b", "-n", "2", "--", "true"}),
             Catch::Contains("-H contradicts --launcher local"));
  const auto spec =
      w.spec("[hosts]\nlauncher = \"local\"\nlist = \"a,b,c\"\n[procs]\ncommand = [\"true\"]\n");
  CHECK_THAT(usage_error(w, {spec}), Catch::Contains("contradicts hosts.launcher = \"local\""));
  const auto ssh = w.spec(
      "[hosts]\nlauncher = \"ssh\"\nlist = \"a,b\"\n[procs]\ncommand = [\"true\"]\n", "ssh.toml");
  CHECK_THAT(usage_error(w, {"--launcher", "local", ssh}),
             Catch::Contains("hosts.list in " + ssh + " contradicts --launcher local"));
}

TEST_CASE("what cannot run is refused at once, with the limit and the fix", "[cli]") {
  World w;
  for (const char* mode : {"--check", "--dry-run"}) {
    CAPTURE(mode);
    CHECK_THAT(usage_error(w, {mode, "-n", "100000", "--", "true"}),
               Catch::Contains("100000 ranks on host local0 is more than a host can run "
                               "(at most 65536)") &&
                   Catch::Contains("-N 2 or more"));
  }
  CHECK_THAT(usage_error(w, {"-n", "100000", "--", "true"}), Catch::Contains("at most 65536"));
  CHECK_THAT(usage_error(w, {"-N", "3", "-n", "2", "--", "true"}),
             Catch::Contains("-n 2 is fewer ranks than the 3 hosts"));
}

TEST_CASE("a TOML file that is not executable is a job spec, whatever its name", "[cli]") {
  World w;
  w.dir.write("myjob.conf", "[procs]\ncommand = [\"sh\", \"-c\", \"echo from the spec\"]\n");
  // As typed in the directory that holds it: a bare name, not on PATH.
  auto in_dir = [&](const std::string& args) {
    return run({"/bin/sh", "-c", "cd '" + w.dir.path() + "' && exec '" + kMeshrun + "' " + args},
               w.env(), w.dir.path(), 30s);
  };
  const auto o = in_dir("myjob.conf");
  INFO(describe(o));
  CHECK(o.code == 0);
  CHECK(o.out == "from the spec\n");
  const auto c = in_dir("--check myjob.conf");
  CHECK(c.code == 0);
  CHECK(c.out == "myjob.conf: ok\n");

  SECTION("a directory is an error that says so") {
    for (const auto& dir : {w.dir.path(), std::string("/tmp")}) {
      for (bool check : {false, true}) {
        std::vector<std::string> args{dir};
        if (check) args.insert(args.begin(), "--check");
        const auto d = w.meshrun(args);
        INFO(describe(d));
        CHECK(d.code == 126);
        CHECK_THAT(d.err, Catch::Contains(dir + " is a directory"));
        CHECK(d.out.find("ok") == std::string::npos);
      }
    }
  }
  SECTION("--check never says ok about a command it did not find") {
    const auto missing = w.meshrun({"--check", "-n", "2", "--", "no-such-program-xyz"});
    CHECK(missing.code == 127);
    CHECK_THAT(missing.err, Catch::Contains("no-such-program-xyz: command not found"));
    w.dir.write("notes.txt", "not a spec, not a program\n");
    const auto text = in_dir("--check ./notes.txt");
    CHECK(text.code == 126);
    CHECK_THAT(text.err, Catch::Contains("./notes.txt: not executable"));
    const auto remote = w.meshrun({"--check", "-H", "a,b", "--", "./prog"});
    CHECK(remote.code == 0);
    CHECK(remote.out == "<command line>: ok (./prog is not checked here: it runs on the hosts)\n");
  }
}

TEST_CASE("quiet hides warnings but never a security warning", "[cli]") {
  World w;
  // --no-tls with hosts that cannot start: the warning comes before the failure.
  const auto o = w.meshrun({"-q", "--no-tls", "-H", "127.0.0.1", "--ssh-command", "/bin/false",
                            "--start-timeout", "2s", "--", "true"});
  INFO(describe(o));
  CHECK(o.code == 125);
  CHECK_THAT(o.err, Catch::Contains("meshrun: warning: --no-tls: TCP between hosts is plain"));
  // An agent's warning (a rank that breaks the PMI protocol) shows without
  // -q and not with it: -q reaches the agents too.
  const std::vector<std::string> bad_pmi = {
      "-N", "2", "-n", "2", "--", "sh", "-c", "printf 'bogus\\n' >&$PMI_FD; sleep 0.3"};
  const auto loud = w.meshrun(bad_pmi);
  CHECK(loud.code == 0);
  CHECK_THAT(loud.err, Catch::Contains("warning: rank 0 broke the PMI protocol"));
  auto quiet_args = bad_pmi;
  quiet_args.insert(quiet_args.begin(), "-q");
  const auto quiet = w.meshrun(quiet_args);
  INFO(describe(quiet));
  CHECK(quiet.code == 0);
  CHECK(quiet.err.empty());
}

TEST_CASE("verbose says which launcher was chosen and why, and the summary", "[cli]") {
  World w;
  const auto o = w.meshrun({"-v", "-n", "2", "--", "true"});
  INFO(describe(o));
  CHECK(o.code == 0);
  CHECK_THAT(o.err, Catch::Contains("meshrun: launcher: local (--launcher auto: no hosts given"));
  CHECK_THAT(o.err, Catch::Contains("meshrun: summary: 2 ranks on 1 host; exit code 0: ranks 0-1; "
                                    "took "));
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

TEST_CASE("command mode's summary: one stable line, and no timing without -v", "[cli][command]") {
  World w;
  // Rank 3 fails; the others would run on and are stopped.
  const auto o = w.meshrun(
      {"-N", "2", "-n", "5", "--", "sh", "-c", "[ $MESHRUN_RANK = 3 ] && exit 3; exec sleep 100"});
  INFO(describe(o));
  CHECK(o.code == 3);
  const auto lines = lines_of(o.err);
  REQUIRE_FALSE(lines.empty());
  CHECK(lines.back() ==
        "meshrun: summary: 5 ranks on 2 hosts; exit code 3: rank 3; stopped by meshrun: ranks "
        "0-2, 4");
  const auto ok = w.meshrun({"-n", "2", "--", "true"});
  CHECK(ok.err.empty());  // success is quiet
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

// --- The flags people type (mpirun, Hydra) ---

TEST_CASE("mpirun's spellings: -np, -ppn, --npernode, -genv, -envall, -host, --oversubscribe",
          "[cli][command]") {
  World w;
  const std::vector<std::string> show = {"sh", "-c",
                                         "echo $MESHRUN_RANK/$MESHRUN_SIZE $MESHRUN_HOST_RANK "
                                         "$MESHRUN_LOCAL_SIZE ${FOO-} ${BAR-}"};
  auto run_sorted = [&](std::vector<std::string> args, std::vector<std::string> env = {}) {
    args.push_back("--");
    args.insert(args.end(), show.begin(), show.end());
    const auto o = w.meshrun(args, 30s, std::move(env));
    INFO(describe(o));
    CHECK(o.code == 0);
    auto ls = lines_of(o.out);
    std::sort(ls.begin(), ls.end());
    return ls;
  };
  CHECK(run_sorted({"-np", "2"}) == std::vector<std::string>{"0/2 0 2", "1/2 0 2"});
  CHECK(run_sorted({"-np", "3", "-ppn", "2"}) ==
        std::vector<std::string>{"0/3 0 2", "1/3 0 2", "2/3 1 1"});
  CHECK(run_sorted({"-n", "4", "--npernode", "2"}) ==
        std::vector<std::string>{"0/4 0 2", "1/4 0 2", "2/4 1 2", "3/4 1 2"});
  CHECK(run_sorted({"-np", "1", "-genv", "FOO", "a b", "-genv", "BAR", "2"}) ==
        std::vector<std::string>{"0/1 0 1 a b 2"});
  CHECK(run_sorted({"-n", "1", "--genv", "FOO", "x"}) == std::vector<std::string>{"0/1 0 1 x"});
  CHECK(run_sorted({"-np", "1", "-envall", "--oversubscribe"}, {"FOO=from-meshrun"}) ==
        std::vector<std::string>{"0/1 0 1 from-meshrun"});
  // -host is -H, with slots: -n fills them in order (the map, without ssh).
  const auto map = w.meshrun({"--dry-run", "-host", "a:2,b:2,c:2", "-np", "3", "--", "true"});
  INFO(describe(map));
  CHECK(map.code == 0);
  CHECK_THAT(map.out, Catch::Matches("launcher: ssh (.|\n)*\n0 +a +0 +true\n1 +a +1 +true\n"
                                     "2 +b +0 +true\n"));
  // With a local launcher that is the same refusal as -H.
  CHECK_THAT(usage_error(w, {"--launcher", "local", "-host", "a", "--", "true"}),
             Catch::Contains("-H contradicts --launcher local"));
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

TEST_CASE("uneven layouts run: -N 2 -n 5 is 3 and 2, -N 3 -n 8 is 3, 3, 2", "[cli][command]") {
  World w;
  for (const auto& [hosts, ranks, want] :
       {std::tuple<std::string, std::string, std::vector<std::string>>{
            "2", "5", {"0 0/3", "1 0/3", "2 0/3", "3 1/2", "4 1/2"}},
        {"3", "8", {"0 0/3", "1 0/3", "2 0/3", "3 1/3", "4 1/3", "5 1/3", "6 2/2", "7 2/2"}}}) {
    CAPTURE(hosts, ranks);
    const auto o = w.meshrun({"-N", hosts, "-n", ranks, "--", "sh", "-c",
                              "echo $MESHRUN_RANK $MESHRUN_HOST_RANK/$MESHRUN_LOCAL_SIZE"});
    INFO(describe(o));
    CHECK(o.code == 0);
    auto ls = lines_of(o.out);
    std::sort(ls.begin(), ls.end(), [](const std::string& a, const std::string& b) {
      return std::stoi(a) < std::stoi(b);
    });
    CHECK(ls == want);
    // --dry-run shows the same map.
    const auto d = w.meshrun({"--dry-run", "-N", hosts, "-n", ranks, "--", "true"});
    CHECK(d.code == 0);
    for (const auto& line : want) {
      const auto rank = line.substr(0, line.find(' '));
      const auto host = line.substr(line.find(' ') + 1, line.find('/') - line.find(' ') - 1);
      CHECK_THAT(d.out, Catch::Matches("(.|\n)*\n" + rank + " +local" + host + " (.|\n)*"));
    }
  }
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}

TEST_CASE("bind-to core and socket bind each rank to the CPUs the dry run shows",
          "[cli][command]") {
  World w;
  for (const std::string unit : {"core", "socket"}) {
    CAPTURE(unit);
    const auto o = w.meshrun({"--bind-to", unit, "-n", "2", "-l", "--", "sh", "-c",
                              "grep Cpus_allowed_list /proc/self/status"});
    INFO(describe(o));
    CHECK(o.code == 0);
    const auto d = w.meshrun({"--dry-run", "--bind-to", unit, "-n", "2", "--", "true"});
    CHECK_THAT(d.out, Catch::Contains("binding: --bind-to " + unit + " --map-by " + unit));
    // Each rank's CPUs are those --dry-run names for it.
    REQUIRE(lines_of(o.out).size() == 2);
    for (const auto& line : lines_of(o.out)) {
      const auto rank = line.substr(1, line.find(']') - 1);
      const auto cpus = line.substr(line.find('\t') + 1);
      CHECK_THAT(d.out, Catch::Matches("(.|\n)*\n" + rank + " +local0 +" + rank + " +" + unit +
                                       " [0-9]+ \\(cpus " + cpus + "\\) (.|\n)*"));
    }
  }
  // --map-by socket with --bind-to core: ranks go round the sockets, each on a core.
  const auto mapped =
      w.meshrun({"--dry-run", "--bind-to", "core", "--map-by", "socket", "-n", "2", "--", "true"});
  CHECK(mapped.code == 0);
  CHECK_THAT(mapped.out, Catch::Contains("binding: --bind-to core --map-by socket"));
  const auto none = w.meshrun({"--bind-to", "none", "-n", "1", "--", "sh", "-c",
                               "grep Cpus_allowed_list /proc/self/status"});
  const auto here =
      w.meshrun({"-n", "1", "--", "sh", "-c", "grep Cpus_allowed_list /proc/self/status"});
  CHECK(none.out == here.out);
  REQUIRE(wait_no_job_processes(w.job.marker(), 5s));
}
