// The ports a process has open: for each call in flight, which ranks owe an
// answer, what came back (values, failures, or partial folds), and the
// deadline. Used alike by the launcher (its controller's calls) and by procs
// (their actors' calls). A port completes once, when every rank answered or
// failed, or at its deadline, naming the ranks that never answered.
#pragma once

#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "mesh/reducer.hpp"
#include "util/deadlines.hpp"
#include "wire/messages.hpp"

namespace meshrun {

class PortTable {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = std::function<void(CallResult&&)>;

  explicit PortTable(asio::io_context& io);
  ~PortTable();
  PortTable(const PortTable&) = delete;
  PortTable& operator=(const PortTable&) = delete;

  // A port expecting one answer from each of `ranks` (ascending, distinct).
  // `done` runs once, from the event loop (never inside open() or deliver()).
  uint64_t open(std::vector<uint32_t> ranks, ReducerKind reducer, Clock::time_point deadline,
                Done done);
  // An answer for port `id`. False when no such port is open (it completed,
  // or never was): the caller counts it as a late reply.
  bool deliver(uint64_t id, const PortReply& reply);
  // Ranks the caller knows cannot answer (undeliverable, a lost host).
  void fail_ranks(uint64_t id, const std::vector<uint32_t>& ranks, const std::string& cause);
  // Completes every open port now; their outstanding ranks fail with `cause`.
  void fail_all(const std::string& cause);
  // Drops a port without running its `done`.
  void close(uint64_t id);
  bool is_open(uint64_t id) const { return ports_.count(id) != 0; }
  // Time left until port `id`'s deadline (zero when closed).
  std::chrono::milliseconds remaining(uint64_t id) const;
  size_t open_count() const { return ports_.size(); }
  uint64_t late_replies() const { return late_; }

 private:
  struct Port {
    std::vector<uint32_t> ranks;  // expected, ascending
    std::vector<uint8_t> state;   // per expected rank: 0 waiting, 1 replied, 2 failed
    size_t answered = 0;
    ReducerKind reducer = ReducerKind::none;
    std::optional<Fold> fold;
    CallResult result;
    Clock::time_point deadline;
    Done done;
  };
  // Index of `rank` in port.ranks, or nullopt.
  static std::optional<size_t> slot_of(const Port& port, uint32_t rank);
  void mark(Port& port, uint32_t rank, uint8_t how);
  void maybe_complete(uint64_t id);
  void complete(uint64_t id);

  asio::io_context& io_;
  uint64_t next_id_ = 1;
  std::map<uint64_t, Port> ports_;
  Deadlines<uint64_t> deadlines_;  // every open port's
  uint64_t late_ = 0;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace meshrun
