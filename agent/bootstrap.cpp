#include "agent/bootstrap.hpp"

#include <unistd.h>

#include <openssl/crypto.h>

#include <asio/ip/tcp.hpp>
#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "agent/host_agent.hpp"
#include "agent/proc_tracker.hpp"
#include "alloc/ssh_allocator.hpp"
#include "auth/tls.hpp"
#include "channel/address.hpp"
#include "channel/listener.hpp"
#include "util/job_dir.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {
constexpr Millis kConnectTimeout{5000};
constexpr Millis kHandshakeTimeout{5000};
constexpr Millis kTrampolineTimeout{60000};

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    auto end = s.find(sep, start);
    if (end == std::string::npos) end = s.size();
    if (end > start) out.push_back(s.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

// "ssh:PORT" -> "tcp:CLIENT:PORT", CLIENT being where this host's ssh
// session came from: the launcher, as seen from here.
Result<std::string> resolve_candidate(const std::string& text) {
  if (!text.starts_with(kSshClientAddressPrefix)) return text;
  const std::string port = text.substr(kSshClientAddressPrefix.size());
  const char* conn = std::getenv("SSH_CONNECTION");
  if (!conn || !*conn)
    return make_error(Errc::invalid_argument, "SSH_CONNECTION is not set (not started by sshd?)");
  const std::string s = conn;
  const std::string client = s.substr(0, s.find(' '));
  Address a;
  a.kind = Address::Kind::tcp;
  a.host = client;
  return a.to_string().substr(0, a.to_string().rfind(':') + 1) + port;
}

// Where this agent listens: beside the launcher's socket for a local job, or
// on the interface that reached the launcher for a remote one.
Address own_address(const Address& launcher, Connection& conn, uint32_t index) {
  Address a;
  if (launcher.kind == Address::Kind::unix_socket) {
    auto slash = launcher.path.rfind('/');
    a.kind = Address::Kind::unix_socket;
    a.path = launcher.path.substr(0, slash == std::string::npos ? 0 : slash + 1) + "agent-" +
             std::to_string(index) + ".sock";
  } else {
    a.kind = Address::Kind::tcp;
    a.host = address_of(conn.socket().local_endpoint()).host;
    a.port = 0;
  }
  return a;
}
}  // namespace

asio::awaitable<int> run_bootstrap(asio::io_context& io, BootstrapConfig config) {
  auto secret = Secret::from_hex(config.secret_hex);
  std::fill(config.secret_hex.begin(), config.secret_hex.end(), '\0');
  if (!secret) {
    log::error("cannot read the job secret from stdin: " + secret.error().message);
    co_return 2;
  }
  std::shared_ptr<TlsContext> tls;
  if (!config.tls_bundle.empty()) {
    auto material = TlsMaterial::from_bundle(config.tls_bundle);
    auto ctx = material ? TlsContext::make(*material)
                        : Result<std::shared_ptr<TlsContext>>(material.error());
    if (!ctx) {
      log::error("cannot use the job's TLS material from stdin: " + ctx.error().message);
      co_return 2;
    }
    tls = *ctx;
  }
  // Ranks of a remote job start where meshrun was started, when that
  // directory exists on this host too.
  if (const char* cwd = std::getenv("MESHRUN_CWD"); cwd && *cwd && ::chdir(cwd) != 0)
    log::verbose(std::string("staying in the login directory: cannot enter ") + cwd + ": " +
                 std::strerror(errno));
  ConnectionPtr conn;
  Address launcher;
  std::string tried;
  for (const auto& given : split(config.launcher_addresses, ',')) {
    auto resolved = resolve_candidate(given);
    if (!resolved) {
      tried += "\n  " + given + ": " + resolved.error().message;
      continue;
    }
    const std::string& text = *resolved;
    auto addr = Address::parse(text);
    if (!addr) {
      tried += "\n  " + text + ": " + addr.error().message;
      continue;
    }
    auto socket = co_await connect_to(io, *addr, kConnectTimeout);
    if (!socket) {
      tried += "\n  " + text + ": " + socket.error().message;
      continue;
    }
    auto c = Connection::make(std::move(*socket), "launcher " + text);
    auto ok = co_await c->authenticate_client(*secret, kHandshakeTimeout, tls);
    if (!ok) {
      tried += "\n  " + text + ": " + ok.error().message;
      continue;
    }
    conn = c;
    launcher = *addr;
    break;
  }
  if (!conn) {
    log::error("cannot reach the launcher at any of its addresses:" + tried);
    co_return 1;
  }
  log::verbose(conn->tls() ? "connected to the launcher over " + conn->tls_version()
                           : "connected to the launcher without TLS");
  if (!tried.empty())
    log::warn("reached the launcher at " + launcher.to_string() + " after:" + tried);
  if (const char* ack = std::getenv("MESHRUN_BOOTSTRAP_ACK"); ack && std::strcmp(ack, "1") == 0) {
    // Tells the ssh allocator this host's start is done (see ssh_allocator.hpp).
    const std::string line = std::string(kAgentConnectedLine) + "\n";
    [[maybe_unused]] auto n = ::write(STDOUT_FILENO, line.data(), line.size());
  }

  auto listener = Listener::listen(io, own_address(launcher, *conn, config.host_index));
  if (!listener) log::warn(listener.error().message + "; serving the launcher connection only");
  AgentHello hello;
  hello.host_index = config.host_index;
  hello.address = listener ? (*listener)->local_address().to_string() : "";
  hello.pid = static_cast<uint32_t>(::getpid());
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  hello.hostname = host;
  conn->send(hello);

  // The trampoline: the next message makes this process a host agent.
  asio::steady_timer timer(io, kTrampolineTimeout);
  timer.async_wait([conn](asio::error_code ec) {
    if (!ec) conn->close();
  });
  Result<std::string> frame = make_error(Errc::closed, "");
  for (;;) {
    frame = co_await conn->read();
    if (!frame) break;
    auto type = peek_type(*frame);
    if (type && *type == MsgType::heartbeat) continue;
    break;
  }
  timer.cancel();
  if (!frame) {
    log::error("the launcher went away before making this process a host");
    co_return 1;
  }
  auto msg = decode(*frame);
  if (!msg || !std::holds_alternative<BecomeHost>(*msg)) {
    log::error("expected BecomeHost from the launcher");
    co_return 1;
  }
  const auto& become = std::get<BecomeHost>(*msg);
  log::set_program("meshrun-agent[host " + std::to_string(become.host_rank) + "]");
  if (auto tracking = proc_tracker::begin(io, become.job_id, become.host_rank,
                                          Millis(become.heartbeat_timeout_ms));
      !tracking) {
    log::error(tracking.error().message);
    co_return 1;
  }
  log::verbose("processes of the job tracked by " + proc_tracker::description());
  // A first-level host of a tree hands the same TLS material to its children.
  std::string bundle;
  if (!become.subtree.hosts.empty()) bundle = config.tls_bundle;
  OPENSSL_cleanse(config.tls_bundle.data(), config.tls_bundle.size());
  HostAgent agent(io, conn, listener ? std::move(*listener) : nullptr, *secret, tls,
                  std::move(bundle), become, config.agent_path);
  const int status = co_await agent.run();
  // A launcher on this machine that was killed left its job directory (and
  // our socket in it) behind.
  if (status != 0 && launcher.kind == Address::Kind::unix_socket) remove_stale_job_dirs();
  co_return status;
}

}  // namespace meshrun
