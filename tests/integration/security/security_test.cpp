// An intruder on the same machine against a live job: the host agents' and
// the launcher's unix sockets refuse anything but a peer that proves it
// knows the job secret, spawn nothing for anyone else, and keep serving the
// job. Also: the job directory is private and the secret shows up in no
// process's argv or environment.
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cctype>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth/handshake.hpp"
#include "live_job.hpp"
#include "wire/frame.hpp"
#include "wire/messages.hpp"
#include "wire/protocol.hpp"

using namespace meshrun;
using namespace meshrun::test;
namespace fs = std::filesystem;
using std::chrono::milliseconds;

namespace {

constexpr int kHosts = 2;
constexpr int kProcsPerHost = 2;
// launcher + agents and their keepers + procs, each carrying the marker.
constexpr size_t kJobProcesses = 1 + 2 * kHosts + kHosts * kProcsPerHost;
// Longer than the servers' 5 s handshake deadline, for the silent intruders.
constexpr milliseconds kRefusal{8000};

// Actors that never answer: the job stays up for the cast timeout, then
// ends in good order with exit 1, naming every rank.
std::string hang_job(const std::string& cast_timeout) {
  return "[job]\nname = \"sec\"\ntimeout = \"2m\"\n"
         "[hosts]\nlauncher = \"local\"\ncount = " +
         std::to_string(kHosts) + "\n[procs]\nextent = { procs = " + std::to_string(kProcsPerHost) +
         " }\n[actors]\nplugin = \"testactors\"\ntype = \"TestActor\"\n"
         "[cast]\nmessage = \"Hang\"\ntimeout = \"" +
         cast_timeout + "\"\n";
}

std::string frame(std::string_view payload) {
  std::string out;
  append_frame(out, payload);
  return out;
}

std::string greeting_with(uint32_t magic, uint16_t version) {
  std::string p;
  Writer w(p);
  w.put(magic);
  w.put(version);
  p.append(32, '\x11');
  return frame(p);
}

Nonce some_nonce() {
  Nonce n{};
  n.fill(0x42);
  return n;
}

// A CreateProcs that would leave a file behind if anyone ran it.
std::string spawn_request(const std::string& evidence) {
  CreateProcs cp;
  cp.mesh = "intruder";
  cp.mesh_size = 1;
  cp.local_size = 1;
  cp.procs = {{0, 0, 0, "intruder_0"}};
  cp.command = {"/bin/sh", "-c", "touch " + evidence};
  return frame(encode(cp));
}

constexpr size_t kGreetingFrame = kFrameHeaderSize + 4 + 2 + 32;

// Reads the server's challenge to a good hello; nullopt if it sent none.
std::optional<Nonce> hello(Intruder& in, const Nonce& mine) {
  in.send(frame(encode_greeting(mine)));
  auto got = in.read_exact(kGreetingFrame, milliseconds(5000));
  if (!got) return std::nullopt;
  auto n = decode_greeting(std::string_view(*got).substr(kFrameHeaderSize));
  if (!n) return std::nullopt;
  return *n;
}

struct Attack {
  std::string name;
  // Sends the attack; returns false when the server behaved wrongly before
  // the refusal (e.g. no challenge to a good hello).
  std::function<bool(Intruder&)> run;
};

std::vector<Attack> attacks(const std::string& evidence) {
  std::vector<Attack> a;
  a.push_back({"garbage", [](Intruder& in) {
                 in.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
                 return true;
               }});
  a.push_back({"random bytes with a small length", [](Intruder& in) {
                 std::string junk = frame(std::string(38, '\x7f'));
                 in.send(junk);
                 return true;
               }});
  a.push_back({"length above the maximum", [](Intruder& in) {
                 in.send(std::string("\xff\xff\xff\xff", 4) + std::string(64, 'A'));
                 return true;
               }});
  a.push_back({"truncated frame", [](Intruder& in) {
                 in.send(frame(encode_greeting(some_nonce())).substr(0, 10));
                 in.shut_write();
                 return true;
               }});
  a.push_back({"wrong magic", [](Intruder& in) {
                 in.send(greeting_with(kProtocolMagic ^ 1, kProtocolVersion));
                 return true;
               }});
  a.push_back({"wrong protocol version", [](Intruder& in) {
                 in.send(greeting_with(kProtocolMagic, kProtocolVersion + 1));
                 return true;
               }});
  a.push_back({"CreateProcs without a handshake", [evidence](Intruder& in) {
                 in.send(spawn_request(evidence));
                 return true;
               }});
  a.push_back({"greeting, then CreateProcs instead of a proof", [evidence](Intruder& in) {
                 if (!hello(in, some_nonce())) return false;
                 in.send(spawn_request(evidence));
                 return true;
               }});
  a.push_back({"greeting, then a made-up proof", [](Intruder& in) {
                 if (!hello(in, some_nonce())) return false;
                 Mac junk{};
                 junk.fill(0x5a);
                 in.send(frame(encode_proof(junk)));
                 return true;
               }});
  a.push_back({"proof made with the wrong secret, then CreateProcs", [evidence](Intruder& in) {
                 const Nonce mine = some_nonce();
                 auto theirs = hello(in, mine);
                 if (!theirs) return false;
                 auto wrong = Secret::generate();
                 in.send(
                     frame(encode_proof(compute_proof(*wrong, ProofRole::client, *theirs, mine))) +
                     spawn_request(evidence));
                 return true;
               }});
  a.push_back({"a proof for an old challenge (replay)", [](Intruder& in) {
                 // What a recorded proof looks like: right length, made for
                 // nonces of another connection.
                 auto wrong = Secret::generate();
                 Nonce old{};
                 auto theirs = hello(in, some_nonce());
                 if (!theirs) return false;
                 in.send(frame(encode_proof(compute_proof(*wrong, ProofRole::client, old, old))));
                 return true;
               }});
  return a;
}

std::vector<pid_t> sorted(std::vector<pid_t> v) {
  std::sort(v.begin(), v.end());
  return v;
}

bool has_hex_run(std::string_view s, size_t len) {
  size_t run = 0;
  for (char c : s) {
    run = std::isxdigit(static_cast<unsigned char>(c)) ? run + 1 : 0;
    if (run >= len) return true;
  }
  return false;
}

void expect_clean_end(LiveJob& job, milliseconds timeout) {
  auto status = job.wait_exit(timeout);
  REQUIRE(status.has_value());
  INFO("stderr: " << job.err());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 1);
  // The cast timed out on every rank and nothing else went wrong: no host
  // was lost and the agents shut down in order.
  CHECK(job.err().find("no reply within") != std::string::npos);
  CHECK(job.err().find(std::to_string(kHosts * kProcsPerHost) + " rank(s)") != std::string::npos);
  CHECK(job.err().find("lost") == std::string::npos);
  CHECK(processes_with_marker(job.marker()).empty());
}

}  // namespace

TEST_CASE(
    "an intruder without the job secret is refused by agents and launcher, and spawns "
    "nothing") {
  LiveJob job(hang_job("6s"), {"-v"});
  const std::string dir = job.wait_ready(kHosts, kJobProcesses, milliseconds(20000));
  INFO("stderr: " << job.err());
  REQUIRE(!dir.empty());
  const auto before = sorted(processes_with_marker(job.marker()));
  REQUIRE(before.size() == kJobProcesses);
  const std::string evidence = job.tmpdir() + "/pwned";

  std::vector<std::string> targets;
  for (int h = 0; h < kHosts; ++h)
    targets.push_back(dir + "/agent-" + std::to_string(h) + ".sock");
  targets.push_back(dir + "/bootstrap.sock");

  for (const auto& target : targets) {
    for (const auto& attack : attacks(evidence)) {
      INFO(target << ": " << attack.name);
      Intruder in(target);
      REQUIRE(in.connected());
      CHECK(attack.run(in));
      std::string reply;
      CHECK(in.closed_within(kRefusal, &reply));
      // Closed without a reply: in particular no server proof.
      CHECK(reply.empty());
    }
  }

  CHECK(!fs::exists(evidence));
  CHECK(sorted(processes_with_marker(job.marker())) == before);
  expect_clean_end(job, milliseconds(30000));
  CHECK(!fs::exists(evidence));
  // The agents say why they hung up, and with -v the launcher too.
  CHECK(job.err().find("meshrun-agent[host 0]: warning: refused a connection") !=
        std::string::npos);
  CHECK(job.err().find("\nmeshrun: refused a connection: ") != std::string::npos);
}

TEST_CASE("100 bogus connections at once to each socket do not disturb the job") {
  const auto start = std::chrono::steady_clock::now();
  LiveJob job(hang_job("10s"));
  const std::string dir = job.wait_ready(kHosts, kJobProcesses, milliseconds(20000));
  INFO("stderr: " << job.err());
  REQUIRE(!dir.empty());
  const auto before = sorted(processes_with_marker(job.marker()));

  std::vector<std::unique_ptr<Intruder>> crowd;
  std::vector<std::string> targets{dir + "/bootstrap.sock"};
  for (int h = 0; h < kHosts; ++h)
    targets.push_back(dir + "/agent-" + std::to_string(h) + ".sock");
  for (const auto& target : targets)
    for (int i = 0; i < 100; ++i) {
      crowd.push_back(std::make_unique<Intruder>(target));
      REQUIRE(crowd.back()->connected());
      // Half say nothing (held until the handshake deadline), half a hello
      // they cannot follow up.
      if (i % 2) crowd.back()->send(frame(encode_greeting(some_nonce())));
    }
  for (auto& in : crowd) {
    std::string ignored;
    CHECK(in->closed_within(kRefusal, &ignored));
  }
  crowd.clear();

  CHECK(sorted(processes_with_marker(job.marker())) == before);
  expect_clean_end(job, milliseconds(30000));
  // 10 s of cast plus start and shutdown; the crowd must not add to it.
  CHECK(std::chrono::steady_clock::now() - start < milliseconds(10000 + 8000));
  // Each refusal is logged, but a crowd does not flood the terminal: a few
  // in full, then running counts.
  size_t refusal_lines = 0;
  for (size_t at = job.err().find("refused"); at != std::string::npos;
       at = job.err().find("refused", at + 1))
    ++refusal_lines;
  CHECK(refusal_lines >= 1);
  CHECK(refusal_lines <= kHosts * 5);
  // Without -v the launcher keeps its refusals to itself.
  CHECK(job.err().find("\nmeshrun: refused") == std::string::npos);
}

TEST_CASE("the job directory is private and the secret is in no argv or environment") {
  LiveJob job(hang_job("4s"), {"-vv"});
  const std::string dir = job.wait_ready(kHosts, kJobProcesses, milliseconds(20000));
  INFO("stderr: " << job.err());
  REQUIRE(!dir.empty());

  struct stat st {};
  REQUIRE(::stat(dir.c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 0700);
  CHECK(st.st_uid == ::getuid());
  for (const auto& e : fs::directory_iterator(dir)) {
    INFO(e.path());
    struct stat fst {};
    REQUIRE(::lstat(e.path().c_str(), &fst) == 0);
    if (S_ISREG(fst.st_mode)) CHECK((fst.st_mode & 077) == 0);
  }

  const auto pids = processes_with_marker(job.marker());
  REQUIRE(pids.size() == kJobProcesses);
  for (pid_t p : pids) {
    for (const auto& arg : proc_strings(p, "cmdline")) {
      INFO("pid " << p << " argv element: " << arg);
      CHECK(!has_hex_run(arg, 64));
    }
    for (const auto& var : proc_strings(p, "environ")) {
      INFO("pid " << p << " environment: " << var);
      CHECK(!has_hex_run(var, 64));
    }
  }

  expect_clean_end(job, milliseconds(30000));
  // Not in the log either, even at -vv.
  CHECK(!has_hex_run(job.err(), 64));
  CHECK(!has_hex_run(job.out(), 64));
  CHECK(!fs::exists(dir));
}
