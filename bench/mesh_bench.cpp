// Messaging figures measured through the runtime's ControlPlane itself, so the
// launcher's CLI and process start-up stay out of them: cast latency to a
// whole actor mesh, unicast round trip, pipelined round-trip throughput,
// one-way send() throughput at --payload bytes and at 1 MiB, and the peak RSS of the host agents
// and procs while the job is up. With --crowd N, N bogus connections to every socket of the job
// (half silent, half a hello they never follow up) are held open while the job starts and while it
// is measured: what an intruder's crowd costs the real job.
//
// Prints "key value" lines for bench/run.sh to collect.
#include <unistd.h>

#include <algorithm>
#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/write.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "alloc/local_allocator.hpp"
#include "auth/handshake.hpp"
#include "auth/secret.hpp"
#include "auth/tls.hpp"
#include "channel/listener.hpp"
#include "control/control_plane.hpp"
#include "util/job_dir.hpp"
#include "util/malloc_tuning.hpp"
#include "wire/frame.hpp"

namespace {

using namespace meshrun;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string agent;
  std::string plugin;
  uint32_t hosts = 4;
  uint32_t procs = 16;
  bool tcp = false;
  bool tls = false;       // TLS 1.3 on the TCP connections (implies tcp)
  size_t payload = 64;    // bytes per unicast and throughput message
  int casts = 300;        // samples for the whole-mesh cast
  int unicasts = 3000;    // samples for the one-actor round trip
  int pipelined = 20000;  // Echo casts for the pipelined round-trip figure
  int window = 64;        // casts in flight at once for it
  int oneway = 1000000;   // one-way sends of --payload bytes
  int oneway_mib = 2000;  // one-way sends of 1 MiB
  int crowd = 0;          // bogus connections held open to each socket of the job
};

double us_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::micro>(Clock::now() - t0).count();
}

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t i = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  return v[i];
}

// Peak resident set in KiB, or 0 when the process is gone.
long vm_hwm_kib(uint32_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

void emit(const char* key, double value) {
  std::printf("%s %.3f\n", key, value);
}

class Bench {
 public:
  Bench(asio::io_context& io, const Options& opt, const Secret& secret)
      : io_(io), opt_(opt), secret_(secret), plane_(io, secret, Millis(30000)) {}

  asio::awaitable<int> run(const Address& bootstrap) {
    if (auto ok = plane_.listen(bootstrap); !ok) co_return fail(ok.error().message);
    // The crowd is at the door before the job starts, and not timed.
    if (auto ok = co_await open_crowd(plane_.address()); !ok) co_return fail(ok.error().message);
    const auto t0 = Clock::now();
    LocalAllocator allocator(io_, opt_.hosts);
    AgentLaunch launch;
    launch.bootstrap_addresses = plane_.address().to_string();
    launch.secret_hex = secret_.to_hex();
    launch.agent_path = opt_.agent;
    if (opt_.tls) {
      const auto k0 = Clock::now();
      auto material = make_job_tls("bench");
      if (!material) co_return fail(material.error().message);
      auto tls = TlsContext::make(*material);
      if (!tls) co_return fail(tls.error().message);
      plane_.use_tls(*tls);
      launch.tls_bundle = material->bundle();
      emit("tls_material_ms", us_since(k0) / 1000.0);
    }
    int status = co_await body(allocator, launch, t0);
    crowd_.clear();
    co_await plane_.shutdown(Millis(2000), Millis(10000));
    co_return status;
  }

 private:
  asio::awaitable<int> body(Allocator& allocator, const AgentLaunch& launch, Clock::time_point t0) {
    auto hosts = co_await plane_.allocate(allocator, launch, Millis(60000));
    if (!hosts) co_return fail(hosts.error().message);
    auto per_host = Extent::make({{"procs", opt_.procs}});
    if (!per_host) co_return fail(per_host.error().message);
    CreateProcs create;
    create.env.push_back("MESHRUN_JOB_ID=bench");
    const std::string p0 = "p0", a0 = "a0", type = "TestActor", params;
    auto procs = co_await plane_.spawn_procs(p0, *per_host, create, Millis(60000));
    if (!procs) co_return fail(procs.error().message);
    auto actors =
        co_await plane_.spawn_actors(a0, procs->ref(), opt_.plugin, type, params, Millis(60000));
    if (!actors) co_return fail(actors.error().message);
    emit("setup_ms", us_since(t0) / 1000.0);
    // A fresh crowd at every socket for the measurements: the first one's
    // silent half is dropped at the 5 s handshake deadline.
    if (opt_.crowd > 0) {
      crowd_.clear();
      for (const auto& h : plane_.hosts()) {
        auto where = Address::parse(h.address);
        if (!where) co_return fail("host address " + h.address + ": " + where.error().message);
        if (auto ok = co_await open_crowd(*where); !ok) co_return fail(ok.error().message);
      }
      if (auto ok = co_await open_crowd(plane_.address()); !ok) co_return fail(ok.error().message);
    }

    CallSettings options;
    options.timeout = Millis(10000);
    const MeshRef all = actors->ref;
    std::vector<double> samples;
    for (int i = 0; i < opt_.casts + 10; ++i) {
      const auto c0 = Clock::now();
      auto r = co_await plane_.call(all, "GetActorId", "", options);
      if (!r.ok() || r.replies.size() != all.size()) co_return fail("short cast");
      if (i >= 10) samples.push_back(us_since(c0));  // the first few warm caches up
    }
    emit("cast_p50_us", percentile(samples, 0.5));
    emit("cast_p99_us", percentile(samples, 0.99));
    // The same size of call folded on the way back: each host agent sums
    // its actors' replies and sends one.
    CallSettings summed = options;
    summed.reducer = ReducerKind::sum;
    samples.clear();
    for (int i = 0; i < opt_.casts + 10; ++i) {
      const auto c0 = Clock::now();
      auto r = co_await plane_.call(all, "Echo", "1", summed);
      if (!r.ok() || r.value != std::to_string(all.size())) co_return fail("short reduced cast");
      if (i >= 10) samples.push_back(us_since(c0));
    }
    emit("reduced_cast_p50_us", percentile(samples, 0.5));
    emit("reduced_cast_p99_us", percentile(samples, 0.99));

    auto first = all.at(0);
    if (!first) co_return fail(first.error().message);
    const MeshRef one = *first;
    const std::string payload(opt_.payload, 'x');
    samples.clear();
    for (int i = 0; i < opt_.unicasts + 100; ++i) {
      const auto c0 = Clock::now();
      auto r = co_await plane_.call(one, "Echo", payload, options);
      if (!r.ok() || r.replies.size() != 1 || r.replies.begin()->second != payload)
        co_return fail("bad echo");
      if (i >= 100) samples.push_back(us_since(c0));
    }
    emit("unicast_p50_us", percentile(samples, 0.5));
    emit("unicast_p99_us", percentile(samples, 0.99));

    // Casts await their replies: this is a window of round trips in flight.
    const auto w0 = Clock::now();
    int sent = 0, errors = 0;
    int running = opt_.window;
    Notifier done(io_.get_executor());
    for (int w = 0; w < opt_.window; ++w)
      asio::co_spawn(
          io_,
          [&]() -> asio::awaitable<void> {
            while (sent < opt_.pipelined) {
              ++sent;
              auto r = co_await plane_.call(one, "Echo", payload, options);
              if (!r.ok()) ++errors;
            }
            --running;
            done.notify();
          },
          asio::detached);
    co_await done.wait_until([&] { return running == 0; }, Clock::now() + Millis(120000));
    if (errors > 0 || running > 0) co_return fail("throughput run lost replies");
    emit("pipelined_msgs_per_s", opt_.pipelined / (us_since(w0) / 1e6));

    emit_hwm("");

    // One-way: send() with no reply, until the actor has counted them all.
    if (opt_.oneway > 0) {
      auto secs = co_await oneway(one, opt_.payload, opt_.oneway);
      if (!secs) co_return fail(secs.error().message);
      emit("oneway64_msgs_per_s", opt_.oneway / *secs);
    }
    if (opt_.oneway_mib > 0) {
      auto secs = co_await oneway(one, size_t{1} << 20, opt_.oneway_mib);
      if (!secs) co_return fail(secs.error().message);
      emit("oneway1m_bytes_per_s", static_cast<double>(opt_.oneway_mib) * (1 << 20) / *secs);
    }

    // Peak memory with large one-way messages streaming through.
    emit_hwm("oneway_");
    co_return 0;
  }

  void emit_hwm(const std::string& prefix) {
    long agent_kib = 0, proc_kib = 0;
    for (const auto& h : plane_.hosts())
      agent_kib = std::max(agent_kib, vm_hwm_kib(h.pid));
    for (uint32_t pid : plane_.procs().pids())
      proc_kib = std::max(proc_kib, vm_hwm_kib(pid));
    emit((prefix + "agent_hwm_kib").c_str(), static_cast<double>(agent_kib));
    emit((prefix + "proc_hwm_kib").c_str(), static_cast<double>(proc_kib));
  }

  // Seconds from the first of `count` sends of `size` bytes until a cast
  // that follows them (in order, to the same actor) shows them all counted.
  // drain() keeps at most kInFlight bytes queued in this process; each agent
  // holds back in turn, so nothing grows without bound.
  asio::awaitable<Result<double>> oneway(const MeshRef& one, size_t size, int count) {
    constexpr size_t kInFlight = 4u << 20;
    const Millis timeout(60000);
    auto before = co_await counted(one);
    if (!before) co_return before.error();
    const std::string payload(size, 'x');
    const size_t frame = size + 64;  // about: the cast around the payload
    const size_t every = std::max<size_t>(1, (kInFlight / 4) / frame);
    const auto t0 = Clock::now();
    for (int i = 0; i < count; ++i) {
      if (auto ok = plane_.send(one, "Count", payload); !ok) co_return ok.error();
      if ((static_cast<size_t>(i) + 1) % every == 0)
        if (auto ok = co_await plane_.drain(kInFlight, timeout); !ok) co_return ok.error();
    }
    auto after = co_await counted(one);
    if (!after) co_return after.error();
    const double secs = us_since(t0) / 1e6;
    if (after->first - before->first != static_cast<uint64_t>(count) ||
        after->second - before->second != static_cast<uint64_t>(count) * size)
      co_return make_error(Errc::failed, "one-way sends were lost: the actor counted " +
                                             std::to_string(after->first - before->first) + " of " +
                                             std::to_string(count));
    co_return secs;
  }

  // The actor's (messages, bytes) counted so far.
  asio::awaitable<Result<std::pair<uint64_t, uint64_t>>> counted(const MeshRef& one) {
    CallSettings options;
    options.timeout = Millis(60000);
    auto r = co_await plane_.call(one, "GetCount", "", options);
    if (!r.ok() || r.replies.size() != 1)
      co_return make_error(Errc::failed, "GetCount: no single reply");
    const std::string& reply = r.replies.begin()->second;
    unsigned long long n = 0, b = 0;
    if (std::sscanf(reply.c_str(), "%llu %llu", &n, &b) != 2)
      co_return make_error(Errc::failed, "GetCount: bad reply " + reply);
    co_return std::pair<uint64_t, uint64_t>{n, b};
  }

  asio::awaitable<Status> open_crowd(Address to) {
    auto nonce = make_nonce();
    if (!nonce) co_return nonce.error();
    std::string hello;
    append_frame(hello, encode_greeting(*nonce));
    for (int i = 0; i < opt_.crowd; ++i) {
      auto s = co_await connect_to(io_, to, Millis(5000));
      if (!s) co_return s.error();
      if (i % 2) {
        asio::error_code ec;
        asio::write(*s, asio::buffer(hello), ec);
      }
      crowd_.push_back(std::move(*s));
    }
    co_return Status{};
  }

  int fail(const std::string& why) {
    std::fprintf(stderr, "mesh_bench: %s\n", why.c_str());
    return 1;
  }

  asio::io_context& io_;
  const Options& opt_;
  const Secret& secret_;
  ControlPlane plane_;
  std::vector<Socket> crowd_;
};

int usage() {
  std::fprintf(stderr,
               "usage: mesh_bench --agent PATH --plugin PATH [--hosts H] [--procs P] [--tcp]\n"
               "                  [--tls] [--casts N] [--unicasts N] [--pipelined N]\n"
               "                  [--oneway N] [--oneway-mib N] [--payload B] [--crowd N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  keep_message_buffers();  // as meshrun-agent does
  Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--tcp" || a == "--tls") {
      opt.tcp = true;
      opt.tls = opt.tls || a == "--tls";
      continue;
    }
    if (!(v = next())) return usage();
    if (a == "--agent")
      opt.agent = v;
    else if (a == "--plugin")
      opt.plugin = v;
    else if (a == "--hosts")
      opt.hosts = static_cast<uint32_t>(std::atoi(v));
    else if (a == "--procs")
      opt.procs = static_cast<uint32_t>(std::atoi(v));
    else if (a == "--casts")
      opt.casts = std::atoi(v);
    else if (a == "--unicasts")
      opt.unicasts = std::atoi(v);
    else if (a == "--pipelined")
      opt.pipelined = std::atoi(v);
    else if (a == "--oneway")
      opt.oneway = std::atoi(v);
    else if (a == "--oneway-mib")
      opt.oneway_mib = std::atoi(v);
    else if (a == "--crowd")
      opt.crowd = std::atoi(v);
    else if (a == "--payload")
      opt.payload = static_cast<size_t>(std::atol(v));
    else
      return usage();
  }
  if (opt.agent.empty() || opt.plugin.empty() || opt.hosts == 0 || opt.procs == 0) return usage();

  auto secret = Secret::generate();
  if (!secret) return std::fprintf(stderr, "%s\n", secret.error().message.c_str()), 1;
  auto dir = JobDir::create(make_job_id());
  if (!dir) return std::fprintf(stderr, "%s\n", dir.error().message.c_str()), 1;
  Address bootstrap;
  if (opt.tcp) {
    bootstrap.kind = Address::Kind::tcp;
    bootstrap.host = "127.0.0.1";
    bootstrap.port = 0;
  } else {
    bootstrap.path = dir->path() + "/bootstrap.sock";
  }

  asio::io_context io(1);
  Bench bench(io, opt, *secret);
  int status = 1;
  asio::co_spawn(
      io, [&]() -> asio::awaitable<int> { co_return co_await bench.run(bootstrap); },
      [&](std::exception_ptr e, int rc) {
        status = e ? 1 : rc;
        io.stop();
      });
  io.run();
  std::fflush(stdout);
  return status;
}
