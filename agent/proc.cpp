#include "agent/proc.hpp"

#include <unistd.h>

#include "actor_host/actor_host.hpp"
#include "channel/connection.hpp"
#include "mesh/ref_cache.hpp"
#include "util/log.hpp"
#include "wire/actor_frames.hpp"

namespace meshrun {

asio::awaitable<int> run_proc(asio::io_context& io, ProcConfig config) {
  auto conn = Connection::adopt_fd(io, config.control_fd, "host agent");
  ActorHost actors(io, Endpoint{config.host_rank, config.proc, 0, 0},
                   [conn](const MeshRef*, const Endpoint&, std::string frame) {
                     conn->send_payload(std::move(frame));
                   });
  ProcStatus ready;
  ready.proc = config.proc;
  ready.state = ProcState::running;
  ready.pid = static_cast<uint32_t>(::getpid());
  conn->send(ready);
  RefCache targets;
  for (;;) {
    auto frame = co_await conn->read();
    if (!frame) co_return 1;  // the host is gone; so are we
    // The common case, an actor message, is handed over from the frame
    // itself: its target decoded once per mesh, its payload not copied.
    if (auto type = peek_type(*frame); type && *type == MsgType::actor_cast) {
      auto parts = peek_cast_parts(*frame);
      const MeshRef* target = parts ? targets.get(parts->target) : nullptr;
      if (!target) {
        log::error("a malformed actor message from the host agent");
        co_return 1;
      }
      actors.deliver_cast(parts->head, *target, parts->message, parts->payload);
      continue;
    }
    auto msg = decode(*frame);
    if (!msg) {
      log::error("bad message from the host agent: " + msg.error().message);
      co_return 1;
    }
    if (std::holds_alternative<StopProcs>(*msg)) {
      actors.close("the proc is stopping");
      actors.stop_all();
      co_await conn->flush();
      co_return 0;
    }
    if (!actors.deliver(*msg))
      log::debug("ignored " + std::string(type_name(peek_type(*frame).value())) +
                 " from the host agent");
  }
}

}  // namespace meshrun
