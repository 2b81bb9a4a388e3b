#include "agent/proc.hpp"

#include <unistd.h>

#include <map>

#include "channel/connection.hpp"
#include "plugin/plugin_library.hpp"
#include "util/log.hpp"

namespace meshrun {
namespace {

// Monarch's naming: proc mesh name and rank, actor name and index in the proc.
std::string actor_id(const std::string& proc_name, uint32_t rank, const std::string& mesh) {
  auto base = proc_name.substr(0, proc_name.rfind('_'));
  return base + "[" + std::to_string(rank) + "]." + mesh + "[0]";
}

class ProcRuntime {
 public:
  ProcRuntime(ConnectionPtr conn, ProcConfig config) : conn_(std::move(conn)), config_(config) {}

  asio::awaitable<int> run() {
    ProcStatus ready;
    ready.rank = config_.rank;
    ready.state = ProcState::running;
    ready.pid = static_cast<uint32_t>(::getpid());
    conn_->send(ready);
    for (;;) {
      auto frame = co_await conn_->read();
      if (!frame) co_return 1;  // the host is gone; so are we
      auto msg = decode(*frame);
      if (!msg) {
        log::error("bad message from the host agent: " + msg.error().message);
        co_return 1;
      }
      if (auto* spawn = std::get_if<SpawnActors>(&*msg)) {
        spawn_actor(*spawn);
      } else if (auto* cast = std::get_if<Cast>(&*msg)) {
        deliver(*cast);
      } else if (std::holds_alternative<StopProcs>(*msg)) {
        actors_.clear();
        co_await conn_->flush();
        co_return 0;
      }
    }
  }

 private:
  void spawn_actor(const SpawnActors& spawn) {
    ActorStatus st;
    st.mesh = spawn.mesh;
    st.rank = config_.rank;
    st.actor_id = actor_id(config_.name, config_.rank, spawn.mesh);
    auto lib = library(spawn.plugin);
    if (!lib) {
      st.error = lib.error().message;
      conn_->send(st);
      return;
    }
    ActorContext ctx;
    ctx.actor_id = st.actor_id;
    ctx.mesh_name = spawn.mesh;
    ctx.rank = config_.rank;
    ctx.size = spawn.mesh_size;
    ctx.params_toml = spawn.params_toml;
    auto actor = (*lib)->create(spawn.type, std::move(ctx));
    if (!actor) {
      st.error = actor.error().message;
    } else {
      actors_[spawn.mesh] = std::move(*actor);
      st.ok = true;
    }
    conn_->send(st);
  }

  Result<std::shared_ptr<PluginLibrary>> library(const std::string& path) {
    auto it = libraries_.find(path);
    if (it != libraries_.end()) return it->second;
    auto lib = PluginLibrary::load(path);
    if (lib) libraries_[path] = *lib;
    return lib;
  }

  void deliver(const Cast& cast) {
    auto it = actors_.find(cast.mesh);
    if (it == actors_.end()) {
      fail(cast.mesh, "", "no actor mesh '" + cast.mesh + "' in this proc");
      return;
    }
    Reply reply;
    reply.port = cast.port;
    reply.rank = config_.rank;
    auto status = it->second->handle(
        cast.message,
        std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(cast.payload.data()),
                                 cast.payload.size()),
        [&](std::span<const uint8_t> bytes) {
          if (cast.port == 0) return;  // a send(): nobody listens for a reply
          reply.payload.assign(reinterpret_cast<const char*>(bytes.data()), bytes.size());
          conn_->send(reply);
        });
    if (!status) fail(cast.mesh, it->second->context().actor_id, status.error().message);
  }

  // Supervision: a failing actor is reported up; the proc itself lives on.
  void fail(const std::string& mesh, const std::string& id, const std::string& why) {
    ActorStatus st;
    st.mesh = mesh;
    st.rank = config_.rank;
    st.failed_later = true;
    st.actor_id = id;
    st.error = why;
    conn_->send(st);
  }

  ConnectionPtr conn_;
  ProcConfig config_;
  std::map<std::string, std::shared_ptr<PluginLibrary>> libraries_;
  std::map<std::string, std::unique_ptr<ActorInstance>> actors_;
};

}  // namespace

asio::awaitable<int> run_proc(asio::io_context& io, ProcConfig config) {
  auto conn = Connection::adopt_fd(io, config.control_fd, "host agent");
  ProcRuntime runtime(conn, config);
  co_return co_await runtime.run();
}

}  // namespace meshrun
