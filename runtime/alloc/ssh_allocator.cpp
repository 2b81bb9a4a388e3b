#include "alloc/ssh_allocator.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "auth/tls.hpp"
#include "process/line_splitter.hpp"
#include "process/spawn.hpp"
#include "util/log.hpp"

extern char** environ;

namespace meshrun {
namespace {

constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// After ssh exits, how long its last output may take to drain (a ProxyCommand
// child can hold the pipe open for ever).
constexpr Millis kDrainTimeout{500};

std::string seconds(Millis d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

}  // namespace

std::string shell_quote(std::string_view word) {
  auto safe = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::strchr("_-+=./:,@%", c) != nullptr;
  };
  bool plain = !word.empty();
  for (char c : word)
    if (!safe(c)) plain = false;
  if (plain) return std::string(word);
  std::string out = "'";
  for (char c : word) {
    if (c == '\'')
      out += "'\\''";
    else
      out += c;
  }
  return out + "'";
}

Result<std::vector<std::string>> split_command(std::string_view text) {
  std::vector<std::string> words;
  std::string cur;
  bool in_word = false;
  char quote = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quote == '\'') {
      if (c == '\'')
        quote = 0;
      else
        cur += c;
    } else if (quote == '"') {
      if (c == '"') {
        quote = 0;
      } else if (c == '\\' && i + 1 < text.size() && std::strchr("\"\\$`", text[i + 1])) {
        cur += text[++i];
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      in_word = true;
    } else if (c == '\\') {
      if (i + 1 < text.size()) cur += text[++i];
      in_word = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (in_word) words.push_back(std::move(cur));
      cur.clear();
      in_word = false;
    } else {
      cur += c;
      in_word = true;
    }
  }
  if (quote)
    return make_error(Errc::invalid_argument,
                      "unbalanced " + std::string(1, quote) + " in '" + std::string(text) + "'");
  if (in_word) words.push_back(std::move(cur));
  return words;
}

std::string ssh_remote_command(const AgentLaunch& launch, size_t host_index) {
  std::string cmd = "exec env";
  auto add = [&](const std::string& word) { cmd += " " + shell_quote(word); };
  add("MESHRUN_BOOTSTRAP_ADDR=" + launch.bootstrap_addresses);
  add("MESHRUN_HOST_INDEX=" + std::to_string(host_index));
  add("MESHRUN_BOOTSTRAP_ACK=1");
  for (const auto& e : launch.env)
    add(e);
  add(launch.agent_path);
  add("bootstrap");
  return cmd;
}

Result<std::vector<std::string>> ssh_argv(const SshSpec& ssh, const HostEntry& host) {
  auto words = split_command(ssh.command);
  if (!words) return make_error(Errc::invalid_argument, "ssh command: " + words.error().message);
  if (words->empty()) return make_error(Errc::invalid_argument, "the ssh command is empty");
  if (host.name.empty() || host.name.front() == '-')
    return make_error(Errc::invalid_argument, "'" + host.name + "' is not a host name");
  // First: ssh keeps the first value it sees for an option, so the user's
  // command cannot turn these off.
  std::vector<std::string> argv{words->front(), "-o", "BatchMode=yes", "-x", "-T"};
  argv.insert(argv.end(), words->begin() + 1, words->end());
  if (ssh.port != 0) argv.insert(argv.end(), {"-p", std::to_string(ssh.port)});
  if (!ssh.identity_file.empty()) argv.insert(argv.end(), {"-i", ssh.identity_file});
  const std::string& user = host.user.empty() ? ssh.user : host.user;
  if (!user.empty()) argv.insert(argv.end(), {"-l", user});
  for (const auto& o : ssh.options)
    argv.insert(argv.end(), {"-o", o});
  argv.push_back("--");
  argv.push_back(host.name);
  return argv;
}

std::vector<HostBlock> tree_blocks(size_t hosts, uint32_t threshold) {
  std::vector<HostBlock> blocks;
  size_t n = hosts;  // blocks
  if (threshold != 0 && hosts > threshold) {
    n = 1;
    while (n * n < hosts)
      ++n;
  }
  for (size_t b = 0, begin = 0; b < n; ++b) {
    const size_t size = hosts / n + (b < hosts % n ? 1 : 0);
    blocks.push_back({begin, begin + size});
    begin += size;
  }
  return blocks;
}

SshAllocatorOptions subtree_options(const Subtree& t) {
  SshAllocatorOptions o;
  o.ssh.command = t.ssh_command;
  o.ssh.user = t.ssh_user;
  o.ssh.port = static_cast<uint16_t>(t.ssh_port);
  o.ssh.identity_file = t.identity_file;
  o.ssh.options = t.ssh_options;
  o.max_parallel = t.max_parallel;
  o.start_timeout = Millis(t.start_timeout_ms);
  o.first_rank = t.hosts.empty() ? 0 : t.hosts.front().rank;
  return o;
}

std::vector<HostEntry> subtree_hosts(const Subtree& t) {
  std::vector<HostEntry> out;
  for (const auto& h : t.hosts)
    out.push_back({h.user, h.name, h.slots});
  return out;
}

SshAllocator::SshAllocator(asio::io_context& io, std::vector<HostEntry> hosts,
                           SshAllocatorOptions options)
    : io_(io),
      entries_(std::move(hosts)),
      options_(std::move(options)),
      hosts_(entries_.size()),
      blocks_(tree_blocks(entries_.size(), options_.tree_threshold)),
      alive_(std::make_shared<bool>(true)) {
  for (auto& h : hosts_)
    h = std::make_shared<Host>(io.get_executor());
  if (options_.max_parallel == 0) options_.max_parallel = 1;
}

SshAllocator::~SshAllocator() {
  *alive_ = false;
  kill_all();
  for (auto& h : hosts_) {
    if (h->deadline) h->deadline->cancel();
    if (h->output) {
      asio::error_code ec;
      h->output->close(ec);
    }
  }
}

std::string SshAllocator::host_name(size_t index) const {
  const auto& e = entries_[index];
  return e.user.empty() ? e.name : e.user + "@" + e.name;
}

size_t SshAllocator::in_flight() const {
  size_t n = 0;
  for (const auto& h : hosts_)
    if (h->started && !h->connected && !h->exited && !h->failure) ++n;
  return n;
}

Status SshAllocator::start(const AgentLaunch& launch) {
  launch_ = launch;
  for (const auto& e : entries_)
    if (auto argv = ssh_argv(options_.ssh, e); !argv) return argv.error();
  auto words = split_command(options_.ssh.command);
  const char* path = std::getenv("PATH");
  if (find_in_path(words->front(), path ? path : "").empty())
    return make_error(Errc::spawn, "cannot run the ssh client '" + words->front() +
                                       "': not found (see --ssh-command)");
  if (blocks_.size() < hosts_.size())
    log::verbose("tree launch: " + std::to_string(hosts_.size()) +
                 " hosts is above the threshold " + std::to_string(options_.tree_threshold) +
                 "; starting " + std::to_string(blocks_.size()) +
                 " first-level hosts, each starting the rest of " + "its block (at most " +
                 std::to_string(blocks_.front().end - 1) + ")");
  else if (hosts_.size() > options_.max_parallel)
    log::verbose("starting " + std::to_string(hosts_.size()) + " hosts, at most " +
                 std::to_string(options_.max_parallel) + " ssh starts at a time");
  start_more();
  return {};
}

void SshAllocator::start_more() {
  while (!stopping_ && next_ < blocks_.size() && in_flight() < options_.max_parallel)
    start_host(blocks_[next_++].begin);
}

void SshAllocator::start_host(size_t index) {
  auto& h = *hosts_[index];
  h.started = true;
  auto argv = ssh_argv(options_.ssh, entries_[index]);
  if (!argv) {
    fail_host(index, argv.error().message);
    return;
  }
  argv->push_back(ssh_remote_command(launch_, options_.first_rank + index));

  int in[2] = {-1, -1}, out[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0 || ::pipe2(out, O_CLOEXEC) != 0) {
    const std::string err = std::strerror(errno);
    close_fd(in[0]), close_fd(in[1]), close_fd(out[0]), close_fd(out[1]);
    fail_host(index, "cannot make a pipe: " + err);
    return;
  }
  SpawnOptions opt;
  opt.program = argv->front();
  opt.argv = *argv;
  for (char** e = environ; e && *e; ++e)
    opt.env.emplace_back(*e);
  opt.stdin_fd = in[0];
  opt.stdout_fd = out[1];
  opt.stderr_fd = out[1];
  // Ctrl-C at the terminal must reach meshrun only: it stops the job through
  // the agents, and ssh ends when its agent does.
  opt.new_process_group = true;
  opt.die_with_parent = true;
  auto spawned = spawn_process(opt);
  close_fd(in[0]);
  close_fd(out[1]);
  if (!spawned) {
    close_fd(in[1]);
    close_fd(out[0]);
    fail_host(index, "cannot run ssh: " + spawned.error().message);
    return;
  }
  // The secret and the TLS material travel on ssh's stdin, never in argv. A
  // few KiB always fit in an empty pipe, so this write cannot block.
  const std::string secret_line = encode_agent_stdin(launch_.secret_hex, launch_.tls_bundle);
  [[maybe_unused]] auto n = ::write(in[1], secret_line.data(), secret_line.size());
  close_fd(in[1]);

  h.child = std::make_unique<Child>(io_, *spawned);
  h.output = std::make_unique<asio::posix::stream_descriptor>(io_, out[0]);
  h.deadline = std::make_unique<asio::steady_timer>(io_, options_.start_timeout);
  h.deadline->async_wait([this, index, alive = alive_](asio::error_code ec) {
    if (ec || !*alive) return;
    auto& host = *hosts_[index];
    if (host.connected || host.exited) return;
    fail_host(index, "its agent did not dial in within " + seconds(options_.start_timeout) +
                         " of starting ssh (ssh killed)");
    if (host.child) host.child->signal_group(SIGKILL);
  });
  asio::co_spawn(io_, read_output(index, hosts_[index], alive_), asio::detached);
  asio::co_spawn(io_, watch(hosts_[index], alive_), asio::detached);
}

std::string SshAllocator::with_tail(const Host& h, std::string why) const {
  if (h.tail.empty()) return why + "; ssh printed nothing";
  why += "; last lines from ssh:";
  for (const auto& line : h.tail)
    why += "\n    " + line;
  return why;
}

void SshAllocator::fail_host(size_t index, std::string why) {
  auto& h = *hosts_[index];
  if (!h.failure) h.failure = with_tail(h, std::move(why));
  changed();
  start_more();
}

asio::awaitable<void> SshAllocator::read_output(size_t index, std::shared_ptr<Host> h,
                                                std::shared_ptr<bool> alive) {
  LineSplitter splitter(4096);
  char buf[4096];
  bool forwarding = false;  // the last line was the agent's, so its indented continuation is too
  auto take = [&](const std::string& lines) {
    size_t start = 0;
    while (start < lines.size()) {
      auto end = lines.find('\n', start);
      if (end == std::string::npos) end = lines.size();
      std::string line = lines.substr(start, end - start);
      start = end + 1;
      if (line == kAgentConnectedLine) {
        h->connected = true;
        if (h->deadline) h->deadline->cancel();
        start_more();
        continue;
      }
      // The agent's own diagnostics reach the user as they would locally;
      // ssh's chatter only when asked for.
      const bool from_agent = line.starts_with("meshrun-agent") ||
                              (forwarding && (line.starts_with(" ") || line.starts_with("\t")));
      forwarding = from_agent;
      if (from_agent) {
        log::relay(line);
      } else {
        log::verbose(host_name(index) + ": ssh: " + line);
      }
      h->tail.push_back(std::move(line));
      while (h->tail.size() > options_.tail_lines)
        h->tail.pop_front();
    }
  };
  for (;;) {
    auto [ec, n] = co_await h->output->async_read_some(asio::buffer(buf), kTuple);
    if (!*alive) co_return;
    if (ec) break;
    take(splitter.feed(std::string_view(buf, n)));
  }
  take(splitter.finish());
  h->output_done = true;
  h->notifier.notify();
}

asio::awaitable<void> SshAllocator::watch(std::shared_ptr<Host> h, std::shared_ptr<bool> alive) {
  auto status = co_await h->child->wait();
  if (!*alive) co_return;
  co_await h->notifier.wait_until([&] { return h->output_done; },
                                  std::chrono::steady_clock::now() + kDrainTimeout);
  if (!*alive) co_return;
  h->exited = true;
  if (h->deadline) h->deadline->cancel();
  if (!h->failure)
    h->failure = with_tail(
        *h, h->connected ? "its agent exited (" + status.describe() + ")"
                         : "ssh exited (" + status.describe() + ") before the agent dialed in");
  changed();
  start_more();
}

std::optional<std::string> SshAllocator::failure(size_t index) const {
  return hosts_[index]->failure;
}

Subtree SshAllocator::subtree(size_t index) const {
  Subtree t;
  for (const auto& b : blocks_) {
    if (b.begin != index) continue;
    for (size_t i = b.begin + 1; i < b.end; ++i)
      t.hosts.push_back({static_cast<uint32_t>(options_.first_rank + i), entries_[i].user,
                         entries_[i].name, entries_[i].slots});
  }
  if (t.hosts.empty()) return t;
  t.ssh_command = options_.ssh.command;
  t.ssh_user = options_.ssh.user;
  t.ssh_port = options_.ssh.port;
  t.identity_file = options_.ssh.identity_file;
  t.ssh_options = options_.ssh.options;
  t.max_parallel = options_.max_parallel;
  t.start_timeout_ms = static_cast<uint32_t>(options_.start_timeout.count());
  t.agent_path = launch_.agent_path;
  t.env = launch_.env;
  return t;
}

void SshAllocator::kill_all() {
  stopping_ = true;
  for (auto& h : hosts_)
    if (h->child && !h->child->reaped()) h->child->signal_group(SIGKILL);
}

asio::awaitable<void> SshAllocator::reap(Millis deadline) {
  stopping_ = true;
  // A host whose agent never dialed in has nothing to stop through the
  // launcher: end its ssh now rather than wait for it to time out.
  for (auto& h : hosts_)
    if (h->child && !h->child->reaped() && !h->connected) h->child->signal_group(SIGTERM);
  Notifier done(io_.get_executor());
  auto previous = changed_;
  on_change([&] {
    done.notify();
    if (previous) previous();
  });
  auto all_gone = [&] {
    for (auto& h : hosts_)
      if (h->child && !h->exited) return false;
    return true;
  };
  if (!co_await done.wait_until(all_gone, std::chrono::steady_clock::now() + deadline)) {
    kill_all();
    co_await done.wait_until(all_gone, std::chrono::steady_clock::now() + Millis(5000));
  }
  on_change(previous);
}

}  // namespace meshrun
