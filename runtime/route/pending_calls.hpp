// A host agent's record of the calls it delivered: which ranks on this host
// (and, for a first-level host of a tree, on its children) owe an answer.
// With a reducer it folds their replies into one partial for the caller, so
// a call to 256 actors on 16 hosts sends 16 replies up, not 256. Without
// one it lets replies pass and steps in only when a proc dies owing answers,
// so the caller hears "proc exited" for those ranks instead of a timeout.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "mesh/reducer.hpp"
#include "util/deadlines.hpp"
#include "wire/actor_frames.hpp"

namespace meshrun {

class PendingCalls {
 public:
  using Clock = std::chrono::steady_clock;
  // A PortReply this host makes (a partial, or a failure), to route to its owner.
  using Emit = std::function<void(const PortRef& port, std::string frame)>;

  PendingCalls(asio::io_context& io, uint32_t host_rank, Emit emit);
  ~PendingCalls();
  PendingCalls(const PendingCalls&) = delete;
  PendingCalls& operator=(const PendingCalls&) = delete;

  struct Owed {
    uint32_t rank = 0;        // in the actor mesh
    uint32_t proc = kNoProc;  // the local proc that owes it; kNoProc: a child host's
  };
  // A call this host delivered (a cast with a port). `depth` 0 for a host
  // whose replies go straight to the caller, 1 for a tree child: a child
  // flushes a little earlier than its parent, and both before the caller's
  // deadline.
  void expect(const CastHead& head, std::vector<Owed> owed, uint32_t depth);
  // A reply passing through on its way to its owner. True when it was
  // folded here (then the caller drops it); false: pass it on unchanged.
  bool on_reply(const ReplyHead& head, std::string_view frame);
  // A local proc is gone: what it owed fails with `cause`.
  void proc_gone(uint32_t proc, const std::string& cause);
  size_t size() const { return calls_.size(); }

 private:
  using Key = std::tuple<uint32_t, uint32_t, uint64_t>;  // owner host, owner proc, port id
  struct Call {
    PortRef port;
    std::vector<Owed> owed;      // ascending by rank
    std::vector<uint8_t> state;  // 0 waiting, 1 answered, 2 failed
    size_t settled = 0;
    std::optional<Fold> fold;
    std::vector<uint32_t> answered;  // folded ranks (reduced calls)
    std::vector<RankFailure> failures;
    Clock::time_point flush_at;
  };
  static Key key_of(const PortRef& port) { return {port.owner.host, port.owner.proc, port.id}; }
  std::optional<size_t> slot_of(const Call& call, uint32_t rank) const;
  void settle(Call& call, size_t slot, uint8_t how);
  void finish_if_done(const Key& key);
  void flush(const Key& key);  // emits the partial (reduced), then forgets the call
  std::string failure_frame(const PortRef& port, uint32_t rank, const std::string& cause) const;

  asio::io_context& io_;
  uint32_t host_rank_;
  Emit emit_;
  std::map<Key, Call> calls_;
  Deadlines<Key> deadlines_;  // flush_at of every call
};

// "0-3, 7" style ranges of sorted ranks, for partials.
std::vector<Range> to_ranges(std::vector<uint32_t> ranks);

}  // namespace meshrun
