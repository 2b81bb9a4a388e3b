// A bound on connections accepted but not yet authenticated. Each costs a
// descriptor and a timer until its handshake deadline, so a local intruder
// opening sockets in a loop could otherwise run a server out of descriptors.
// Past the bound the oldest pending connection is closed, not the newest:
// refusing newcomers would let a crowd that merely waits shut real peers
// out, while evicting the oldest makes it outrun handshakes that take a
// round trip.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>

#include "channel/connection.hpp"

namespace meshrun {

// Room for a crowd beyond a server's own peers; a server expecting N peers at
// once adds N (set_limit).
inline constexpr size_t kSparePendingHandshakes = 128;

class PendingHandshakes {
  struct State {
    size_t limit = 0;
    uint64_t next = 0;
    std::map<uint64_t, std::weak_ptr<Connection>> pending;  // oldest first
  };

 public:
  // While a Slot lives its connection counts as pending; release() (or the
  // destructor) once the handshake is over, whichever way it went.
  class Slot {
   public:
    Slot() = default;
    Slot(std::shared_ptr<State> state, uint64_t id) : state_(std::move(state)), id_(id) {}
    Slot(Slot&& o) noexcept : state_(std::move(o.state_)), id_(o.id_) {}
    Slot& operator=(Slot&& o) noexcept {
      release();
      state_ = std::move(o.state_);
      id_ = o.id_;
      return *this;
    }
    ~Slot() { release(); }
    void release() {
      if (state_) state_->pending.erase(id_);
      state_.reset();
    }

   private:
    std::shared_ptr<State> state_;
    uint64_t id_ = 0;
  };

  explicit PendingHandshakes(size_t limit = kSparePendingHandshakes)
      : state_(std::make_shared<State>()) {
    state_->limit = limit;
  }

  // Counts `conn` as pending; when that makes one too many, the oldest
  // pending connection is closed (its handshake then fails as usual).
  Slot admit(const ConnectionPtr& conn) {
    auto& s = *state_;
    const uint64_t id = s.next++;
    s.pending.emplace(id, conn);
    while (s.pending.size() > s.limit) {
      auto oldest = s.pending.begin();
      if (auto c = oldest->second.lock()) c->close();
      s.pending.erase(oldest);
    }
    return Slot(state_, id);
  }
  // A server expecting `n` peers at once raises its bound to fit them.
  void set_limit(size_t n) { state_->limit = n; }
  size_t size() const { return state_->pending.size(); }

 private:
  std::shared_ptr<State> state_;
};

}  // namespace meshrun
