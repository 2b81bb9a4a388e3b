#include "route/port_table.hpp"

#include <algorithm>
#include <asio/post.hpp>

namespace meshrun {

PortTable::PortTable(asio::io_context& io)
    : io_(io), deadlines_(io, [this](const uint64_t& id) { complete(id); }) {}

PortTable::~PortTable() {
  *alive_ = false;
}

uint64_t PortTable::open(std::vector<uint32_t> ranks, ReducerKind reducer,
                         Clock::time_point deadline, Done done) {
  const uint64_t id = next_id_++;
  Port p;
  p.state.assign(ranks.size(), 0);
  p.result.expected = static_cast<uint32_t>(ranks.size());
  p.ranks = std::move(ranks);
  p.reducer = reducer;
  if (reducer != ReducerKind::none) p.fold.emplace(reducer);
  p.deadline = deadline;
  p.done = std::move(done);
  ports_.emplace(id, std::move(p));
  deadlines_.add(deadline, id);
  maybe_complete(id);  // a call to nobody completes at once
  return id;
}

std::optional<size_t> PortTable::slot_of(const Port& port, uint32_t rank) {
  auto it = std::lower_bound(port.ranks.begin(), port.ranks.end(), rank);
  if (it == port.ranks.end() || *it != rank) return std::nullopt;
  return static_cast<size_t>(it - port.ranks.begin());
}

void PortTable::mark(Port& port, uint32_t rank, uint8_t how) {
  auto i = slot_of(port, rank);
  if (!i || port.state[*i] != 0) return;
  port.state[*i] = how;
  ++port.answered;
}

bool PortTable::deliver(uint64_t id, const PortReply& reply) {
  auto it = ports_.find(id);
  if (it == ports_.end()) {
    ++late_;
    return false;
  }
  Port& p = it->second;
  auto fail_rank = [&](uint32_t rank, std::string cause) {
    auto i = slot_of(p, rank);
    if (!i || p.state[*i] != 0) return;
    mark(p, rank, 2);
    p.result.failures.push_back({rank, std::move(cause)});
  };
  switch (reply.kind) {
    case ReplyKind::value: {
      const uint32_t rank = reply.port.slot;
      auto i = slot_of(p, rank);
      if (!i || p.state[*i] != 0) break;  // not expected, or a second answer: first wins
      if (p.fold) {
        if (auto ok = p.fold->add(rank, reply.value); !ok) {
          fail_rank(rank, ok.error().message);
          break;
        }
      } else {
        p.result.replies.emplace(rank, reply.value);
      }
      mark(p, rank, 1);
      ++p.result.replied;
      break;
    }
    case ReplyKind::failure:
      fail_rank(reply.port.slot, reply.value);
      break;
    case ReplyKind::partial: {
      // Only ranks still waiting count; a partial never overrides an answer.
      std::vector<uint32_t> fresh;
      bool overlap = false;
      for (const auto& r : reply.ranks)
        for (uint32_t rank = r.begin; rank < r.end; ++rank) {
          auto i = slot_of(p, rank);
          if (i && p.state[*i] == 0)
            fresh.push_back(rank);
          else
            overlap = true;
        }
      if (p.fold && !fresh.empty() && !overlap) {
        if (auto ok = p.fold->merge(reply.value); !ok) {
          for (uint32_t rank : fresh)
            fail_rank(rank, "a host's partial reduction was unreadable: " + ok.error().message);
          fresh.clear();
        }
      } else if (!fresh.empty()) {
        // A partial that overlaps answers already counted cannot be split
        // apart again: its ranks are failed rather than counted twice.
        for (uint32_t rank : fresh)
          fail_rank(rank, "answered twice through different hosts");
        fresh.clear();
      }
      for (uint32_t rank : fresh) {
        mark(p, rank, 1);
        ++p.result.replied;
      }
      for (const auto& f : reply.failures)
        fail_rank(f.rank, f.cause);
      break;
    }
  }
  maybe_complete(id);
  return true;
}

void PortTable::fail_ranks(uint64_t id, const std::vector<uint32_t>& ranks,
                           const std::string& cause) {
  auto it = ports_.find(id);
  if (it == ports_.end()) return;
  for (uint32_t rank : ranks) {
    auto i = slot_of(it->second, rank);
    if (!i || it->second.state[*i] != 0) continue;
    mark(it->second, rank, 2);
    it->second.result.failures.push_back({rank, cause});
  }
  maybe_complete(id);
}

void PortTable::fail_all(const std::string& cause) {
  std::vector<uint64_t> ids;
  for (const auto& [id, p] : ports_)
    ids.push_back(id);
  for (uint64_t id : ids) {
    Port& p = ports_.at(id);
    for (size_t i = 0; i < p.ranks.size(); ++i)
      if (p.state[i] == 0) {
        p.state[i] = 2;
        ++p.answered;
        p.result.failures.push_back({p.ranks[i], cause});
      }
    complete(id);
  }
}

std::chrono::milliseconds PortTable::remaining(uint64_t id) const {
  auto it = ports_.find(id);
  if (it == ports_.end()) return std::chrono::milliseconds(0);
  const auto left = it->second.deadline - Clock::now();
  return std::max(std::chrono::milliseconds(1),
                  std::chrono::duration_cast<std::chrono::milliseconds>(left));
}

void PortTable::close(uint64_t id) {
  auto it = ports_.find(id);
  if (it == ports_.end()) return;
  deadlines_.remove(it->second.deadline, id);
  ports_.erase(it);
}

void PortTable::maybe_complete(uint64_t id) {
  auto it = ports_.find(id);
  if (it != ports_.end() && it->second.answered == it->second.ranks.size()) complete(id);
}

void PortTable::complete(uint64_t id) {
  auto it = ports_.find(id);
  if (it == ports_.end()) return;
  Port p = std::move(it->second);
  deadlines_.remove(p.deadline, id);
  ports_.erase(it);
  CallResult r = std::move(p.result);
  for (size_t i = 0; i < p.ranks.size(); ++i)
    if (p.state[i] == 0) r.missing.push_back(p.ranks[i]);
  std::sort(r.failures.begin(), r.failures.end(),
            [](const RankFailure& a, const RankFailure& b) { return a.rank < b.rank; });
  if (p.fold) {
    if (p.fold->empty() && r.replied == 0) {
      // Nothing to fold: leave `reduced` empty; failures say why.
    } else if (auto v = p.fold->result()) {
      r.value = std::move(*v);
    } else {
      r.error = v.error().message;
    }
  }
  // Run `done` from the loop, so a caller's handler never runs inside ours.
  asio::post(io_, [alive = alive_, done = std::move(p.done), r = std::move(r)]() mutable {
    if (*alive && done) done(std::move(r));
  });
}

}  // namespace meshrun
