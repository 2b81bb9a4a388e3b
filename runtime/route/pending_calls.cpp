#include "route/pending_calls.hpp"

#include <algorithm>

#include "wire/messages.hpp"

namespace meshrun {

std::vector<Range> to_ranges(std::vector<uint32_t> ranks) {
  std::sort(ranks.begin(), ranks.end());
  std::vector<Range> out;
  for (uint32_t r : ranks) {
    if (!out.empty() && out.back().end == r)
      ++out.back().end;
    else if (out.empty() || out.back().end < r)
      out.push_back({r, r + 1});
  }
  return out;
}

PendingCalls::PendingCalls(asio::io_context& io, uint32_t host_rank, Emit emit)
    : io_(io),
      host_rank_(host_rank),
      emit_(std::move(emit)),
      deadlines_(io, [this](const Key& key) { flush(key); }) {}

PendingCalls::~PendingCalls() = default;

void PendingCalls::expect(const CastHead& head, std::vector<Owed> owed, uint32_t depth) {
  if (!head.port.valid() || owed.empty()) return;
  const bool reduced = head.port.reducer != ReducerKind::none;
  // Without a reducer only local procs matter: children report their own.
  if (!reduced)
    owed.erase(
        std::remove_if(owed.begin(), owed.end(), [](const Owed& o) { return o.proc == kNoProc; }),
        owed.end());
  if (owed.empty()) return;
  std::sort(owed.begin(), owed.end(), [](const Owed& a, const Owed& b) { return a.rank < b.rank; });
  Call call;
  call.port = head.port;
  call.state.assign(owed.size(), 0);
  call.owed = std::move(owed);
  if (reduced) call.fold.emplace(head.port.reducer);
  // Flush before the caller gives up: a tenth of the time is left for the
  // way back (a twentieth more for a tree child), at least a few ms.
  const auto timeout = std::chrono::milliseconds(head.timeout_ms == 0 ? 30000 : head.timeout_ms);
  auto margin = std::max<std::chrono::milliseconds>(timeout / 10, std::chrono::milliseconds(3));
  if (depth > 0)
    margin += std::max<std::chrono::milliseconds>(timeout / 20, std::chrono::milliseconds(2));
  call.flush_at = Clock::now() + (timeout > margin ? timeout - margin : timeout / 2);
  const Key key = key_of(head.port);
  auto old = calls_.find(key);
  if (old != calls_.end()) {  // the same port again (a retried id): the new call wins
    deadlines_.remove(old->second.flush_at, key);
    calls_.erase(old);
  }
  deadlines_.add(call.flush_at, key);
  calls_.emplace(key, std::move(call));
}

std::optional<size_t> PendingCalls::slot_of(const Call& call, uint32_t rank) const {
  auto it = std::lower_bound(call.owed.begin(), call.owed.end(), rank,
                             [](const Owed& o, uint32_t r) { return o.rank < r; });
  if (it == call.owed.end() || it->rank != rank) return std::nullopt;
  return static_cast<size_t>(it - call.owed.begin());
}

void PendingCalls::settle(Call& call, size_t slot, uint8_t how) {
  if (call.state[slot] != 0) return;
  call.state[slot] = how;
  ++call.settled;
}

bool PendingCalls::on_reply(const ReplyHead& head, std::string_view frame) {
  const Key key = key_of(head.port);
  auto it = calls_.find(key);
  if (it == calls_.end()) return false;
  Call& call = it->second;
  if (!call.fold) {
    // Pass through; only note that this rank no longer owes anything.
    if (head.kind != ReplyKind::partial)
      if (auto slot = slot_of(call, head.port.slot)) settle(call, *slot, 1);
    finish_if_done(key);
    return false;
  }
  if (head.kind == ReplyKind::partial) {
    auto msg = decode(frame);
    if (!msg || !std::holds_alternative<PortReply>(*msg)) return false;
    const auto& reply = std::get<PortReply>(*msg);
    std::vector<size_t> slots;
    for (const auto& r : reply.ranks)
      for (uint32_t rank = r.begin; rank < r.end; ++rank) {
        auto slot = slot_of(call, rank);
        if (!slot || call.state[*slot] != 0) return false;  // not all ours: let the caller sort it
        slots.push_back(*slot);
      }
    if (!slots.empty()) {
      if (auto ok = call.fold->merge(reply.value); !ok) return false;
      for (size_t s : slots) {
        settle(call, s, 1);
        call.answered.push_back(call.owed[s].rank);
      }
    }
    for (const auto& f : reply.failures)
      if (auto slot = slot_of(call, f.rank); slot && call.state[*slot] == 0) {
        settle(call, *slot, 2);
        call.failures.push_back(f);
      }
    finish_if_done(key);
    return true;
  }
  auto slot = slot_of(call, head.port.slot);
  if (!slot || call.state[*slot] != 0) return false;
  if (head.kind == ReplyKind::failure) {
    auto msg = decode(frame);
    std::string cause = msg && std::holds_alternative<PortReply>(*msg)
                            ? std::get<PortReply>(*msg).value
                            : std::string("failed");
    settle(call, *slot, 2);
    call.failures.push_back({head.port.slot, std::move(cause)});
  } else {
    auto msg = decode(frame);
    if (!msg || !std::holds_alternative<PortReply>(*msg)) return false;
    const auto& value = std::get<PortReply>(*msg).value;
    if (auto ok = call.fold->add(head.port.slot, value); !ok) {
      settle(call, *slot, 2);
      call.failures.push_back({head.port.slot, ok.error().message});
    } else {
      settle(call, *slot, 1);
      call.answered.push_back(head.port.slot);
    }
  }
  finish_if_done(key);
  return true;
}

std::string PendingCalls::failure_frame(const PortRef& port, uint32_t rank,
                                        const std::string& cause) const {
  PortReply r;
  r.from = {host_rank_, kNoProc, 0, 0};
  r.port = port;
  r.port.slot = rank;
  r.kind = ReplyKind::failure;
  r.value = cause;
  return encode(r);
}

void PendingCalls::proc_gone(uint32_t proc, const std::string& cause) {
  std::vector<Key> touched;
  for (auto& [key, call] : calls_) {
    bool hit = false;
    for (size_t i = 0; i < call.owed.size(); ++i) {
      if (call.owed[i].proc != proc || call.state[i] != 0) continue;
      settle(call, i, 2);
      hit = true;
      if (call.fold)
        call.failures.push_back({call.owed[i].rank, cause});
      else if (emit_)
        emit_(call.port, failure_frame(call.port, call.owed[i].rank, cause));
    }
    if (hit) touched.push_back(key);
  }
  for (const auto& key : touched)
    finish_if_done(key);
}

void PendingCalls::finish_if_done(const Key& key) {
  auto it = calls_.find(key);
  if (it != calls_.end() && it->second.settled == it->second.owed.size()) flush(key);
}

void PendingCalls::flush(const Key& key) {
  auto it = calls_.find(key);
  if (it == calls_.end()) return;
  Call call = std::move(it->second);
  deadlines_.remove(call.flush_at, key);
  calls_.erase(it);
  if (!call.fold || !emit_) return;
  if (call.answered.empty() && call.failures.empty()) return;  // nothing to say yet
  PortReply r;
  r.from = {host_rank_, kNoProc, 0, 0};
  r.port = call.port;
  r.kind = ReplyKind::partial;
  r.ranks = to_ranges(std::move(call.answered));
  std::sort(call.failures.begin(), call.failures.end(),
            [](const RankFailure& a, const RankFailure& b) { return a.rank < b.rank; });
  r.failures = std::move(call.failures);
  r.value = call.fold->encode();
  emit_(call.port, encode(r));
}

}  // namespace meshrun
