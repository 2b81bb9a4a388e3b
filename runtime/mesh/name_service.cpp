#include "mesh/name_service.hpp"

#include <chrono>

namespace meshrun {

void NameService::handle(const NameRequest& req, Reply reply) {
  NameReply r;
  r.id = req.id;
  switch (req.op) {
    case NameOp::publish:
      r.status = store_.publish(req.rank, req.key, req.value);
      reply(r);
      return;
    case NameOp::unpublish:
      r.status = store_.unpublish(req.key);
      reply(r);
      return;
    case NameOp::lookup:
      break;
  }
  // The ticket is known only once lookup() returns; the answer may come first.
  auto ticket = std::make_shared<uint64_t>(0);
  *ticket =
      store_.lookup(req.key, req.wait_ms > 0,
                    [this, r, reply, ticket](NameStatus st, const PublishedName& name) mutable {
                      if (*ticket) timers_.erase(*ticket);
                      r.status = st;
                      r.value = name.value;
                      r.publisher = name.publisher;
                      reply(r);
                    });
  if (*ticket == 0) return;
  auto timer = std::make_unique<asio::steady_timer>(io_, std::chrono::milliseconds(req.wait_ms));
  timer->async_wait([this, t = *ticket](asio::error_code ec) {
    if (!ec) store_.cancel(t);
  });
  timers_[*ticket] = std::move(timer);
}

}  // namespace meshrun
