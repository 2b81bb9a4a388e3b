// The job's name service as the launcher keeps it: one store for every host
// of the job; a lookup that may wait is answered when its name is published
// or when its time is up.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <functional>
#include <map>
#include <memory>

#include "pmi/name_store.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class NameService {
 public:
  using Reply = std::function<void(const NameReply&)>;

  explicit NameService(asio::io_context& io) : io_(io) {}
  // Answers `req` through `reply`, now or (a waiting lookup) later.
  void handle(const NameRequest& req, Reply reply);
  const NameStore& store() const { return store_; }

 private:
  asio::io_context& io_;
  NameStore store_;
  std::map<uint64_t, std::unique_ptr<asio::steady_timer>> timers_;  // by lookup ticket
};

}  // namespace meshrun
