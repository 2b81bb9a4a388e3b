#include "agent/proc.hpp"

#include <unistd.h>

#include "actor_host/actor_host.hpp"
#include "channel/connection.hpp"
#include "util/log.hpp"

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
  for (;;) {
    auto frame = co_await conn->read();
    if (!frame) co_return 1;  // the host is gone; so are we
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
