// What meshrun hands to ssh and to the remote shell, and how ssh hosts are
// placed. The real launches are in ssh_cluster_test.sh.
#include <catch2/catch.hpp>

#include "alloc/placement.hpp"
#include "alloc/ssh_allocator.hpp"

using namespace meshrun;

namespace {
std::vector<std::string> words(const std::string& text) {
  auto w = split_command(text);
  REQUIRE(w);
  return *w;
}
}  // namespace

TEST_CASE("shell_quote survives a round trip through shell word splitting") {
  for (std::string w : {"plain", "with space", "it's", "$HOME", "a\"b", "", "tcp:10.0.0.1:5,ssh:5",
                        "back\\slash", "new\nline"}) {
    INFO(w);
    auto back = words(shell_quote(w));
    REQUIRE(back.size() == 1);
    CHECK(back[0] == w);
  }
  CHECK(shell_quote("MESHRUN_HOST_INDEX=3") == "MESHRUN_HOST_INDEX=3");
  CHECK(shell_quote("a b") == "'a b'");
  CHECK(shell_quote("it's") == "'it'\\''s'");
}

TEST_CASE("split_command splits an ssh command like a shell") {
  CHECK(words("ssh -F ./cluster/ssh_config") ==
        std::vector<std::string>{"ssh", "-F", "./cluster/ssh_config"});
  CHECK(words("  ssh   -F 'my config'  -o \"A=b c\" ") ==
        std::vector<std::string>{"ssh", "-F", "my config", "-o", "A=b c"});
  CHECK(words("ssh -F my\\ config") == std::vector<std::string>{"ssh", "-F", "my config"});
  CHECK_FALSE(split_command("ssh -F 'unclosed"));
}

TEST_CASE("ssh argv: BatchMode first, no X11, options, user, then the host") {
  SshSpec ssh;
  ssh.command = "ssh -F cfg";
  ssh.user = "deploy";
  ssh.port = 2222;
  ssh.identity_file = "/keys/id";
  ssh.options = {"ConnectTimeout=5"};
  auto argv = ssh_argv(ssh, HostEntry{"", "node01", 0});
  REQUIRE(argv);
  const std::vector<std::string> want{"ssh",    "-o",       "BatchMode=yes",
                                      "-x",     "-T",       "-F",
                                      "cfg",    "-p",       "2222",
                                      "-i",     "/keys/id", "-l",
                                      "deploy", "-o",       "ConnectTimeout=5",
                                      "--",     "node01"};
  CHECK(*argv == want);

  // user@host beats hosts.ssh.user.
  auto with_user = ssh_argv(ssh, HostEntry{"alice", "gpu1", 8});
  REQUIRE(with_user);
  auto l = std::find(with_user->begin(), with_user->end(), "-l");
  REQUIRE(l != with_user->end());
  CHECK(*(l + 1) == "alice");

  // A host name cannot smuggle in an ssh option.
  CHECK_FALSE(ssh_argv(ssh, HostEntry{"", "-oProxyCommand=sh", 0}));
  ssh.command = "  ";
  CHECK_FALSE(ssh_argv(ssh, HostEntry{"", "node01", 0}));
}

TEST_CASE("the remote command carries addresses and env, never the secret") {
  AgentLaunch launch;
  launch.bootstrap_addresses = "ssh:4000,tcp:10.0.0.1:4000";
  launch.secret_hex = std::string(64, 'a');
  launch.agent_path = "/opt/mesh run/meshrun-agent";
  launch.env = {"MESHRUN_VERBOSE=1", "MESHRUN_CWD=/home/u/it's here"};
  const std::string cmd = ssh_remote_command(launch, 7);
  CHECK(cmd.find(launch.secret_hex) == std::string::npos);
  CHECK(words(cmd) == std::vector<std::string>{"exec", "env",
                                               "MESHRUN_BOOTSTRAP_ADDR=ssh:4000,tcp:10.0.0.1:4000",
                                               "MESHRUN_HOST_INDEX=7", "MESHRUN_BOOTSTRAP_ACK=1",
                                               "MESHRUN_VERBOSE=1", "MESHRUN_CWD=/home/u/it's here",
                                               "/opt/mesh run/meshrun-agent", "bootstrap"});
}

TEST_CASE("ssh placement: hosts from the list, -N takes the first ones, slots never limit") {
  JobSpec spec;
  spec.hosts.list = {{"", "a", 0}, {"bob", "b", 4}, {"", "c", 0}};
  spec.procs.extent = {{"procs", 2}};
  auto p = place(spec);
  REQUIRE(p);
  CHECK(p->launcher == LauncherKind::ssh);  // auto with hosts
  REQUIRE(p->hosts.size() == 3);
  CHECK(p->hosts[1].user == "bob");

  spec.hosts.count = 2;
  p = place(spec);
  REQUIRE(p);
  CHECK(p->hosts.size() == 2);

  spec.hosts.count = 4;
  CHECK_FALSE(place(spec));

  spec.hosts.count = 0;
  spec.procs.extent = {{"procs", 5}};  // b has 4 slots: meshrun oversubscribes
  auto over = place(spec);
  REQUIRE(over);
  CHECK(over->ranks == std::vector<uint32_t>{5, 5, 5});

  JobSpec none;
  none.hosts.launcher = LauncherKind::ssh;
  auto empty = place(none);
  REQUIRE_FALSE(empty);
  CHECK(empty.error().message.find("needs hosts") != std::string::npos);
}

TEST_CASE("ssh placement: -n fills slots in order, like mpirun's by-slot mapping") {
  JobSpec spec;
  spec.procs.command = {"true"};
  spec.hosts.list = {{"", "a", 2}, {"", "b", 4}, {"", "c", 2}};
  spec.procs.ranks = 5;
  auto p = place(spec);
  REQUIRE(p);
  CHECK(p->ranks == std::vector<uint32_t>{2, 3});  // c is not started
  CHECK(p->hosts.size() == 2);
  spec.procs.ranks = 0;  // no -n: every host runs its slots
  p = place(spec);
  REQUIRE(p);
  CHECK(p->ranks == std::vector<uint32_t>{2, 4, 2});
}

TEST_CASE("tree_blocks: flat at or below the threshold, sqrt(H) contiguous blocks above") {
  auto check_cover = [](const std::vector<HostBlock>& b, size_t hosts) {
    size_t at = 0;
    for (const auto& x : b) {
      CHECK(x.begin == at);
      CHECK(x.end > x.begin);
      at = x.end;
    }
    CHECK(at == hosts);
  };
  // Flat: every host is its own block, the launcher starts all of them.
  for (size_t h : {1, 4, 32}) {
    auto b = tree_blocks(h, 32);
    CHECK(b.size() == h);
    check_cover(b, h);
  }
  CHECK(tree_blocks(100, 0).size() == 100);  // 0: never a tree
  // 16 hosts, threshold 4: 4 parents (0, 4, 8, 12) with 3 children each.
  auto b16 = tree_blocks(16, 4);
  REQUIRE(b16.size() == 4);
  for (size_t i = 0; i < 4; ++i) {
    CHECK(b16[i].begin == 4 * i);
    CHECK(b16[i].end == 4 * i + 4);
  }
  // Uneven: sizes differ by at most one, the larger blocks first.
  auto b33 = tree_blocks(33, 32);
  REQUIRE(b33.size() == 6);
  check_cover(b33, 33);
  CHECK(b33.front().end - b33.front().begin == 6);
  CHECK(b33.back().end - b33.back().begin == 5);
  // 1024 hosts: 32 first-level hosts, each starting 31 more.
  auto b1024 = tree_blocks(1024, 32);
  CHECK(b1024.size() == 32);
  check_cover(b1024, 1024);
  for (const auto& x : b1024)
    CHECK(x.end - x.begin == 32);
  for (size_t h = 5; h < 300; ++h)
    check_cover(tree_blocks(h, 4), h);
}

TEST_CASE("a subtree share gives the parent the launcher's ssh settings and job-wide ranks") {
  Subtree t;
  t.hosts = {{5, "alice", "node05", 2}, {6, "", "node06", 0}};
  t.ssh_command = "ssh -F /cfg";
  t.ssh_user = "bob";
  t.ssh_port = 2222;
  t.identity_file = "/key";
  t.ssh_options = {"ConnectTimeout=3"};
  t.max_parallel = 7;
  t.start_timeout_ms = 4500;
  auto o = subtree_options(t);
  CHECK(o.ssh.command == "ssh -F /cfg");
  CHECK(o.ssh.user == "bob");
  CHECK(o.ssh.port == 2222);
  CHECK(o.ssh.identity_file == "/key");
  CHECK(o.ssh.options == std::vector<std::string>{"ConnectTimeout=3"});
  CHECK(o.max_parallel == 7);
  CHECK(o.start_timeout == Millis(4500));
  CHECK(o.tree_threshold == 0);  // children never start further hosts
  CHECK(o.first_rank == 5);      // MESHRUN_HOST_INDEX of the first child
  auto hosts = subtree_hosts(t);
  REQUIRE(hosts.size() == 2);
  CHECK(hosts[0].user == "alice");
  CHECK(hosts[0].name == "node05");
  CHECK(hosts[0].slots == 2);
  CHECK(hosts[1].name == "node06");
  auto argv = ssh_argv(o.ssh, hosts[0]);
  REQUIRE(argv);
  CHECK(argv->back() == "node05");
  AgentLaunch launch;
  launch.bootstrap_addresses = "tcp:10.0.0.5:4000";
  launch.agent_path = "/opt/meshrun-agent";
  CHECK(ssh_remote_command(launch, o.first_rank + 1).find("MESHRUN_HOST_INDEX=6") !=
        std::string::npos);
}
