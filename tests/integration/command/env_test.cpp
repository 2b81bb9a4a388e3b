// What every rank finds in its environment, -x, --cwd, --dry-run, stdin,
// and the informational flags.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "harness.hpp"

using namespace meshrun_test;

namespace {
std::vector<std::string> sh(std::vector<std::string> flags, const std::string& script) {
  flags.insert(flags.end(), {"--", "sh", "-c", script});
  return flags;
}

// "[r] KEY=VALUE" lines -> per rank map.
std::map<int, std::map<std::string, std::string>> parse_env(const std::string& out) {
  std::map<int, std::map<std::string, std::string>> env;
  for (const auto& l : lines(out)) {
    auto close = l.find("] ");
    auto eq = l.find('=');
    if (l.empty() || l[0] != '[' || close == std::string::npos || eq == std::string::npos) continue;
    env[std::stoi(l.substr(1, close - 1))][l.substr(close + 2, eq - close - 2)] = l.substr(eq + 1);
  }
  return env;
}
}  // namespace

TEST_CASE("every rank's environment has meshrun's and torchrun's and Hydra's and PMI's names",
          "[command][env]") {
  const char* vars =
      "MESHRUN_RANK MESHRUN_SIZE MESHRUN_LOCAL_RANK MESHRUN_LOCAL_SIZE MESHRUN_HOST_RANK "
      "MESHRUN_JOB_ID RANK WORLD_SIZE LOCAL_RANK LOCAL_WORLD_SIZE GROUP_RANK GROUP_WORLD_SIZE "
      "ROLE_RANK ROLE_WORLD_SIZE ROLE_NAME TORCHELASTIC_RUN_ID TORCHELASTIC_RESTART_COUNT "
      "TORCHELASTIC_MAX_RESTARTS TORCHELASTIC_ERROR_FILE OMP_NUM_THREADS MASTER_ADDR "
      "MASTER_PORT MPI_LOCALRANKID MPI_LOCALNRANKS PMI_FD PMI_RANK PMI_SIZE FROM_X PASSED";
  const std::string script =
      std::string("for v in ") + vars + "; do eval \"echo $v=\\${$v-unset}\"; done";
  Options o;
  o.env = {"PASSED=through"};
  auto r1 = run(sh({"-n", "6", "-N", "3", "-l", "-x", "FROM_X=yes", "-x", "PASSED"}, script), o);
  REQUIRE(r1.status == 0);
  auto env = parse_env(r1.out);
  REQUIRE(env.size() == 6);
  const std::string job_id = env[0]["MESHRUN_JOB_ID"];
  CHECK(job_id.size() == 16);
  std::set<std::string> error_files;
  CHECK(job_id.find_first_not_of("0123456789abcdef") == std::string::npos);
  const std::string port = env[0]["MASTER_PORT"];
  CHECK(std::stoi(port) > 0);
  CHECK(std::stoi(port) < 65536);
  for (int r = 0; r < 6; ++r) {
    auto& e = env[r];
    CAPTURE(r);
    const auto s = std::to_string(r);
    CHECK(e["MESHRUN_RANK"] == s);
    CHECK(e["RANK"] == s);
    CHECK(e["PMI_RANK"] == s);
    CHECK(e["MESHRUN_SIZE"] == "6");
    CHECK(e["WORLD_SIZE"] == "6");
    CHECK(e["PMI_SIZE"] == "6");
    CHECK(e["MESHRUN_LOCAL_RANK"] == std::to_string(r % 2));
    CHECK(e["LOCAL_RANK"] == std::to_string(r % 2));
    CHECK(e["MESHRUN_LOCAL_SIZE"] == "2");
    CHECK(e["LOCAL_WORLD_SIZE"] == "2");
    CHECK(e["MESHRUN_HOST_RANK"] == std::to_string(r / 2));
    CHECK(e["GROUP_RANK"] == std::to_string(r / 2));
    CHECK(e["MESHRUN_JOB_ID"] == job_id);
    CHECK(e["MASTER_ADDR"] == "127.0.0.1");
    CHECK(e["MASTER_PORT"] == port);
    CHECK(e["PMI_FD"] == "3");
    CHECK(e["FROM_X"] == "yes");
    CHECK(e["PASSED"] == "through");
    // torchrun's whole set: torch.distributed.is_torchelastic_launched() is
    // true when TORCHELASTIC_RUN_ID is set.
    CHECK(e["GROUP_WORLD_SIZE"] == "3");
    CHECK(e["ROLE_RANK"] == s);
    CHECK(e["ROLE_WORLD_SIZE"] == "6");
    CHECK(e["ROLE_NAME"] == "default");
    CHECK(e["TORCHELASTIC_RUN_ID"] == job_id);
    CHECK(e["TORCHELASTIC_RESTART_COUNT"] == "0");
    CHECK(e["TORCHELASTIC_MAX_RESTARTS"] == "0");
    CHECK(e["TORCHELASTIC_ERROR_FILE"].find("/torch-error." + s + ".json") != std::string::npos);
    error_files.insert(e["TORCHELASTIC_ERROR_FILE"]);
    CHECK(e["OMP_NUM_THREADS"] == "1");
    CHECK(e["MPI_LOCALRANKID"] == std::to_string(r % 2));
    CHECK(e["MPI_LOCALNRANKS"] == "2");
  }
  CHECK(error_files.size() == 6);
  // A job id names one job.
  auto r2 = run(sh({"-n", "1", "-l"}, "echo MESHRUN_JOB_ID=$MESHRUN_JOB_ID"));
  REQUIRE(r2.status == 0);
  CHECK(parse_env(r2.out)[0]["MESHRUN_JOB_ID"] != job_id);
}

TEST_CASE("MASTER_PORT is free on rank 0's host: rank 0 can listen on it", "[command][env]") {
  auto r =
      run({"-n", "2", "--", "python3", "-c",
           "import os, socket\n"
           "if os.environ['RANK'] == '0':\n"
           "    s = socket.socket(); s.bind(('', int(os.environ['MASTER_PORT']))); s.listen()\n"
           "    print('bound', os.environ['MASTER_PORT'])\n"});
  CHECK(r.status == 0);
  CHECK(count(r.out, "bound ") == 1);
}

TEST_CASE("a user's OMP_NUM_THREADS stands, and one rank per host gets none", "[command][env]") {
  Options o;
  o.env = {"OMP_NUM_THREADS=6"};
  auto r = run(sh({"-n", "2"}, "echo threads=${OMP_NUM_THREADS-unset}"), o);
  CHECK(r.status == 0);
  CHECK(count(r.out, "threads=6\n") == 2);
  auto one = run(sh({"-n", "2", "-N", "2"}, "echo threads=${OMP_NUM_THREADS-unset}"));
  CHECK(one.status == 0);
  CHECK(count(one.out, "threads=unset\n") == 2);
}

// What torch's @record (torch.distributed.elastic.multiprocessing.errors)
// writes to TORCHELASTIC_ERROR_FILE when the function it wraps raises.
TEST_CASE("a failed rank's TORCHELASTIC_ERROR_FILE is reported as torchrun reports it",
          "[command][env][status]") {
  const char* program =
      "import json, os, sys, time, traceback\n"
      "def train():\n"
      "    if os.environ['RANK'] == '2':\n"
      "        raise ValueError('loss is nan at step 7')\n"
      "try:\n"
      "    train()\n"
      "except Exception as e:\n"
      "    with open(os.environ['TORCHELASTIC_ERROR_FILE'], 'w') as f:\n"
      "        json.dump({'message': {'message': f'{type(e).__name__}: {e}', 'extraInfo': {\n"
      "            'py_callstack': traceback.format_exc(), 'timestamp': str(int(time.time()))}}}, "
      "f)\n"
      "    sys.exit(1)\n";
  auto r = run({"-n", "4", "-N", "2", "--", "/usr/bin/python3", "-c", program});
  CHECK(r.status == 1);
  CAPTURE(r.err);
  CHECK(r.err.find("rank 2 (host 1") != std::string::npos);
  CHECK(r.err.find("rank 2 left an error file (") != std::string::npos);
  CHECK(r.err.find("\n  ValueError: loss is nan at step 7\n") != std::string::npos);
  CHECK(r.err.find("  Traceback (most recent call last):\n") != std::string::npos);
  CHECK(r.err.find("in train\n") != std::string::npos);
  CHECK(r.leftovers == std::vector<std::string>{});

  // A rank that fails without writing one adds nothing.
  auto plain = run(sh({"-n", "2"}, "exit 3"));
  CHECK(plain.status == 3);
  CHECK(plain.err.find("error file") == std::string::npos);
}

TEST_CASE("x flag MASTER_PORT and a user's own MASTER_ADDR are kept", "[command][env]") {
  Options o;
  o.env = {"MASTER_ADDR=10.1.2.3"};
  auto r = run(sh({"-n", "2", "-x", "MASTER_PORT=29500"}, "echo $MASTER_ADDR:$MASTER_PORT"), o);
  CHECK(r.status == 0);
  CHECK(count(r.out, "10.1.2.3:29500\n") == 2);
}

TEST_CASE("cwd flag sets every rank's working directory", "[command][env]") {
  TempDir dir;
  auto r = run(sh({"-n", "2", "-N", "2", "--cwd", dir.path}, "pwd"));
  CHECK(r.status == 0);
  char real[4096];
  REQUIRE(::realpath(dir.path.c_str(), real));
  CHECK(count(r.out, std::string(real) + "\n") == 2);
}

TEST_CASE("dry-run prints the map and starts nothing", "[command][dry-run]") {
  auto r = run({"-n", "4", "-N", "2", "--dry-run", "--", "echo", "two words", "x"});
  REQUIRE(r.status == 0);
  auto ls = lines(r.out);
  REQUIRE(ls.size() >= 5);
  std::vector<std::string> rows(ls.end() - 4, ls.end());
  const char* hosts[] = {"local0", "local0", "local1", "local1"};
  for (int k = 0; k < 4; ++k) {
    CAPTURE(rows[k]);
    std::istringstream in(rows[k]);
    std::string rank, host, local;
    in >> rank >> host >> local;
    std::string command;
    std::getline(in >> std::ws, command);
    CHECK(rank == std::to_string(k));
    CHECK(host == hosts[k]);
    CHECK(local == std::to_string(k % 2));
    CHECK(command == "echo 'two words' x");
  }
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("stdin goes to rank 0 by default and to all or none on request", "[command][stdin]") {
  Options o;
  o.stdin_data = "line one\nline two\n";
  SECTION("rank0") {
    auto r = run({"-n", "3", "-l", "--", "cat"}, o);
    CHECK(r.status == 0);
    CHECK(r.out == "[0] line one\n[0] line two\n");
  }
  SECTION("all") {
    auto r = run({"-n", "3", "-N", "3", "-l", "--stdin", "all", "--", "cat"}, o);
    CHECK(r.status == 0);
    for (int k = 0; k < 3; ++k)
      CHECK(count(r.out, "[" + std::to_string(k) + "] line two\n") == 1);
  }
  SECTION("none: rank 0 reads end of file") {
    auto r = run({"-n", "2", "--stdin", "none", "--", "cat"}, o);
    CHECK(r.status == 0);
    CHECK(r.out.empty());
  }
}

TEST_CASE("a large stdin arrives whole and its end of file too", "[command][stdin]") {
  Options o;
  o.stdin_data.assign(3 << 20, 'z');
  auto r = run({"-n", "2", "-l", "--", "sh", "-c", "wc -c"}, o);
  CHECK(r.status == 0);
  CHECK(count(r.out, "[0] " + std::to_string(3 << 20) + "\n") == 1);
  CHECK(count(r.out, "[1] 0\n") == 1);  // the others read /dev/null
}

TEST_CASE("version and quiet and verbose flags", "[command][flags]") {
  auto v = run({"--version"});
  CHECK(v.status == 0);
  CHECK(v.out.rfind("meshrun ", 0) == 0);
  auto verbose = run({"-v", "-n", "2", "--", "true"});
  CHECK(verbose.status == 0);
  CHECK(verbose.err.find("procs ready") != std::string::npos);
  auto quiet = run({"-q", "-n", "2", "--", "sh", "-c", "exit 4"});
  CHECK(quiet.status == 4);
  CHECK(count(quiet.err, "meshrun: error:") == 1);  // errors still show
}
