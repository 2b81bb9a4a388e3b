#include "control/controller_host.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "control/control_plane.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// The controller is the launcher's one actor: mesh 0, rank 0.
constexpr ActorServices::Caller kController{0, 0};
}  // namespace

ControllerHost::ControllerHost(asio::io_context& io, ControlPlane& plane)
    : ActorHost(io, Endpoint{kLauncherHost, kNoProc, 0, 0},
                [&plane](const MeshRef* target, const Endpoint& to, std::string frame) {
                  plane.route(target, to, std::move(frame));
                }),
      plane_(plane),
      exited_(io.get_executor()),
      gate_(io.get_executor()) {}

ControllerHost::~ControllerHost() = default;

asio::awaitable<CallResult> ControllerHost::call(const MeshRef& to, std::string message,
                                                 std::string payload, CallSettings options) {
  auto result = std::make_shared<std::optional<CallResult>>();
  auto wake = std::make_shared<asio::steady_timer>(io_, Clock::time_point::max());
  auto port = open_port_with(kController, to, options.reducer, options.timeout,
                             [result, wake](CallResult&& r) {
                               *result = std::move(r);
                               wake->cancel();
                             });
  CallResult failed;
  failed.expected = to.size();
  if (!port) {
    failed.error = port.error().message;
    co_return failed;
  }
  if (auto sent = ActorHost::send(kController, to, message, payload, &*port); !sent) {
    failed.error = sent.error().message;
    co_return failed;
  }
  // The port always completes (at the latest at its deadline), from the loop.
  while (!*result)
    co_await wake->async_wait(kTuple);
  co_return std::move(**result);
}

Status ControllerHost::broadcast(const MeshRef& to, std::string message, std::string payload) {
  return ActorHost::send(kController, to, message, payload, nullptr);
}

Status ControllerHost::load(const std::string& plugin_path, const std::string& type,
                            const std::string& params_toml) {
  auto lib = PluginLibrary::load(plugin_path);
  if (!lib) return lib.error();
  if (!(*lib)->has_type(type)) {
    std::string known;
    for (const auto& t : (*lib)->type_names())
      if ((*lib)->is_controller_type(t)) known += (known.empty() ? "" : ", ") + t;
    return make_error(
        Errc::not_found,
        "plugin " + (*lib)->plugin_name() + " (" + plugin_path + ") has no type '" + type + "'" +
            (known.empty() ? "; it has no controller types" : "; its controller types: " + known));
  }
  if (!(*lib)->is_controller_type(type))
    return make_error(Errc::plugin, "type '" + type + "' of plugin " + (*lib)->plugin_name() +
                                        " is an actor, not a controller (it has no run entry)");
  ActorContext ctx;
  ctx.actor_id = "controller";
  ctx.mesh_name = "controller";
  ctx.params_toml = params_toml;
  ctx.services = this;
  auto instance = (*lib)->create(type, std::move(ctx));
  if (!instance) return instance.error();
  plugin_path_ = plugin_path;
  adopt(0, 0, std::move(*instance));
  return {};
}

Status ControllerHost::start() {
  ActorInstance* c = find(0, 0);
  if (!c) return make_error(Errc::failed, "no controller was loaded");
  if (auto ok = c->run(); !ok) {
    end(1, ok.error().message);
    return ok;
  }
  return {};
}

bool ControllerHost::supervise(const SupervisionEvent& event) {
  ActorInstance* c = find(0, 0);
  if (!c || exit_) return false;
  const bool go_on = c->supervise(event);
  if (auto failed = c->take_failure(); !failed) end(1, failed.error().message);
  return go_on;
}

void ControllerHost::end(int status, std::string why) {
  if (exit_) return;
  exit_ = status;
  why_ = std::move(why);
  exited_.notify();
}

asio::awaitable<bool> ControllerHost::wait_exit(Clock::time_point deadline) {
  co_return co_await exited_.wait_until(
      [this] { return exit_.has_value() || plane_.failure().has_value(); }, deadline);
}

std::vector<std::string> ControllerHost::calls_in_flight() const {
  std::vector<std::string> out;
  for (const auto& [id, info] : calls())
    out.push_back(info.message + " to " + info.target.to_string());
  return out;
}

void ControllerHost::host_lost(uint32_t host, const std::string& why) {
  fail_calls_where([host](const MeshRef& target,
                          uint32_t rank) { return target.host_of(target.proc_rank(rank)) == host; },
                   "host " + std::to_string(host) + " " + why);
}

void ControllerHost::call_finished(const CallInfo& info, const CallResult& result) {
  last_.target = info.target;
  last_.message = info.message;
  last_.reducer = info.reducer;
  last_.result = result;
  last_.ms = std::chrono::duration<double, std::milli>(Clock::now() - info.started).count();
  if (on_call) on_call(last_);
}

void ControllerHost::actor_failed(uint32_t, uint32_t, const std::string&, const std::string& why) {
  end(1, why);
}

void ControllerHost::operation(uint64_t cookie, std::function<asio::awaitable<CallResult>()> op) {
  auto hold = gate_.enter();
  if (!hold) return;
  asio::co_spawn(
      io_,
      [this, cookie, op = std::move(op), h = std::move(*hold)]() -> asio::awaitable<void> {
        CallResult r = co_await op();
        if (ActorInstance* c = find(0, 0)) {
          c->done(cookie, r);
          if (auto failed = c->take_failure(); !failed) end(1, failed.error().message);
        }
      },
      asio::detached);
}

Status ControllerHost::spawn_procs(const Caller&, std::string name, std::vector<Dim> per_host,
                                   Millis timeout, uint64_t cookie) {
  auto extent = Extent::make(std::move(per_host));
  if (!extent) return extent.error();
  if (extent->find("hosts") >= 0)
    return make_error(Errc::invalid_argument, "a per-host extent cannot have a 'hosts' dimension");
  operation(cookie,
            [this, name = std::move(name), e = *extent, timeout]() -> asio::awaitable<CallResult> {
              CallResult r;
              auto mesh = co_await plane_.spawn_procs(name, e, plane_.proc_template(), timeout);
              if (mesh)
                r.value = encode_ref(mesh->ref());
              else
                r.error = mesh.error().message;
              co_return r;
            });
  return {};
}

Status ControllerHost::spawn_actors(const Caller&, std::string name, const MeshRef& procs,
                                    std::string type, std::string params_toml, Millis timeout,
                                    uint64_t cookie) {
  operation(cookie,
            [this, name = std::move(name), procs, type = std::move(type),
             params = std::move(params_toml), timeout]() -> asio::awaitable<CallResult> {
              CallResult r;
              auto mesh =
                  co_await plane_.spawn_actors(name, procs, plugin_path_, type, params, timeout);
              if (mesh)
                r.value = encode_ref(mesh->ref);
              else
                r.error = mesh.error().message;
              co_return r;
            });
  return {};
}

Status ControllerHost::stop(const Caller&, std::string name, Millis timeout, uint64_t cookie) {
  operation(cookie, [this, name = std::move(name), timeout]() -> asio::awaitable<CallResult> {
    CallResult r;
    // Not a ?: of two co_awaits: GCC 12 miscompiles that (frees twice).
    Status ok;
    if (plane_.actors().find(name))
      ok = co_await plane_.stop_actors(name, timeout);
    else
      ok = co_await plane_.stop_procs(name, Millis(2000), timeout);
    if (!ok) r.error = ok.error().message;
    co_return r;
  });
  return {};
}

Result<MeshRef> ControllerHost::lookup(const Caller&, std::string_view name) {
  return plane_.lookup(name);
}

void ControllerHost::exit_job(const Caller&, int status, std::string why) {
  if (status < 0 || status > 255) {
    log::warn("the controller asked to exit with " + std::to_string(status) +
              ", which is not an exit status (0-255); exiting 1");
    status = 1;
  }
  end(status, std::move(why));
}

void ControllerHost::print(const Caller&, std::string_view text) {
  if (on_print) on_print(text);
}

}  // namespace meshrun
