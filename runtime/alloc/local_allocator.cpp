#include "alloc/local_allocator.hpp"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <cstring>

#include "auth/tls.hpp"
#include "process/line_splitter.hpp"
#include "process/spawn.hpp"
#include "util/log.hpp"
#include "util/notifier.hpp"

extern char** environ;

namespace meshrun {

LocalAllocator::LocalAllocator(asio::io_context& io, size_t hosts) : io_(io), agents_(hosts) {}

LocalAllocator::~LocalAllocator() {
  relays_->allocator_alive = false;
  kill_all();
}

std::string LocalAllocator::host_name(size_t index) const {
  return "local" + std::to_string(index);
}

Status LocalAllocator::start(const AgentLaunch& launch) {
  std::vector<std::string> env;
  for (char** e = environ; e && *e; ++e)
    env.emplace_back(*e);
  env.insert(env.end(), launch.env.begin(), launch.env.end());
  env.push_back("MESHRUN_BOOTSTRAP_ADDR=" + launch.bootstrap_addresses);
  env.push_back("MESHRUN_HOST_INDEX=");
  const std::string secret_line = encode_agent_stdin(launch.secret_hex, launch.tls_bundle);

  for (size_t i = 0; i < agents_.size(); ++i) {
    int in[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) {
      kill_all();
      return make_error(Errc::spawn, std::string("cannot make a pipe: ") + std::strerror(errno));
    }
    if (::pipe2(err, O_CLOEXEC) != 0) {
      ::close(in[0]);
      ::close(in[1]);
      kill_all();
      return make_error(Errc::spawn, std::string("cannot make a pipe: ") + std::strerror(errno));
    }
    env.back() = "MESHRUN_HOST_INDEX=" + std::to_string(i);
    SpawnOptions opt;
    opt.program = launch.agent_path;
    opt.argv = {launch.agent_path, "bootstrap"};
    opt.env = env;
    opt.stdin_fd = in[0];
    opt.stderr_fd = err[1];
    opt.new_process_group = true;
    // Not die_with_parent: a host agent outlives a SIGKILLed launcher just
    // long enough to stop its procs (its lifeline is the connection).
    opt.die_with_parent = false;
    auto spawned = spawn_process(opt);
    ::close(in[0]);
    ::close(err[1]);
    if (!spawned) {
      ::close(in[1]);
      ::close(err[0]);
      kill_all();
      return make_error(Errc::spawn, "cannot start the host agent " + launch.agent_path + ": " +
                                         spawned.error().message);
    }
    // A few KiB at most always fit in an empty pipe: this write cannot block.
    [[maybe_unused]] auto n = ::write(in[1], secret_line.data(), secret_line.size());
    ::close(in[1]);
    agents_[i].child = std::make_unique<Child>(io_, *spawned);
    asio::co_spawn(io_, watch(i), asio::detached);
    ++relays_->open;
    asio::co_spawn(io_, relay_stderr(err[0]), asio::detached);
  }
  return {};
}

asio::awaitable<void> LocalAllocator::relay_stderr(int fd) {
  auto relays = relays_;
  asio::posix::stream_descriptor pipe(io_, fd);
  LineSplitter lines(64 * 1024);
  std::string buf(4096, '\0');
  auto relay = [](const std::string& whole) {
    size_t start = 0;
    while (start < whole.size()) {
      size_t nl = whole.find('\n', start);
      if (nl == std::string::npos) nl = whole.size();
      log::relay(std::string_view(whole).substr(start, nl - start));
      start = nl + 1;
    }
  };
  for (;;) {
    auto [ec, n] = co_await pipe.async_read_some(asio::buffer(buf),
                                                 asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) break;
    relay(lines.feed(std::string_view(buf.data(), n)));
  }
  relay(lines.finish());
  --relays->open;
  if (relays->allocator_alive) changed();
}

asio::awaitable<void> LocalAllocator::watch(size_t index) {
  auto status = co_await agents_[index].child->wait();
  agents_[index].exit = status;
  changed();
}

std::optional<std::string> LocalAllocator::failure(size_t index) const {
  const auto& a = agents_[index];
  if (!a.exit) return std::nullopt;
  return "its agent exited (" + a.exit->describe() + ")";
}

void LocalAllocator::kill_all() {
  for (auto& a : agents_)
    if (a.child && !a.child->reaped()) a.child->signal_group(SIGKILL);
}

asio::awaitable<void> LocalAllocator::reap(Millis deadline) {
  Notifier done(io_.get_executor());
  auto previous = changed_;
  on_change([&] {
    done.notify();
    if (previous) previous();
  });
  auto all_gone = [&] {
    for (auto& a : agents_)
      if (a.child && !a.exit) return false;
    return true;
  };
  if (!co_await done.wait_until(all_gone, std::chrono::steady_clock::now() + deadline)) {
    // An agent's keeper ends a stopped or hung agent and its job's processes
    // on SIGTERM; SIGKILL would take the keeper down before it could.
    for (auto& a : agents_)
      if (a.child && !a.exit) {
        a.child->signal_group(SIGTERM);
        a.child->signal_group(SIGCONT);
      }
    if (!co_await done.wait_until(all_gone, std::chrono::steady_clock::now() + Millis(3000))) {
      kill_all();
      co_await done.wait_until(all_gone, std::chrono::steady_clock::now() + Millis(5000));
    }
  }
  // Their last lines, still in the pipes.
  co_await done.wait_until([&] { return relays_->open == 0; },
                           std::chrono::steady_clock::now() + Millis(2000));
  on_change(previous);
}

}  // namespace meshrun
