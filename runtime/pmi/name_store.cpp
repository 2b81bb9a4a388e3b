#include "pmi/name_store.hpp"

#include <utility>

namespace meshrun {

NameStatus NameStore::publish(uint32_t rank, const std::string& key, const std::string& value) {
  if (key.empty()) return NameStatus::bad_request;
  if (names_.count(key)) return NameStatus::duplicate;
  const PublishedName& name = names_[key] = PublishedName{key, value, rank};
  // Detach first: an answer may publish or look up again.
  std::vector<Found> answer;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (it->second.key == key) {
      answer.push_back(std::move(it->second.done));
      it = waiting_.erase(it);
    } else {
      ++it;
    }
  }
  const PublishedName copy = name;
  for (auto& done : answer)
    done(NameStatus::ok, copy);
  return NameStatus::ok;
}

NameStatus NameStore::unpublish(const std::string& key) {
  return names_.erase(key) ? NameStatus::ok : NameStatus::not_found;
}

uint64_t NameStore::lookup(const std::string& key, bool wait, Found done) {
  auto it = names_.find(key);
  if (it != names_.end()) {
    done(NameStatus::ok, it->second);
    return 0;
  }
  if (!wait) {
    done(NameStatus::not_found, PublishedName{key, {}, 0});
    return 0;
  }
  const uint64_t ticket = next_ticket_++;
  waiting_[ticket] = Wait{key, std::move(done)};
  return ticket;
}

void NameStore::cancel(uint64_t ticket) {
  auto it = waiting_.find(ticket);
  if (it == waiting_.end()) return;
  Wait w = std::move(it->second);
  waiting_.erase(it);
  w.done(NameStatus::not_found, PublishedName{w.key, {}, 0});
}

std::string_view name_status_text(NameStatus status) {
  switch (status) {
    case NameStatus::ok:
      return "ok";
    case NameStatus::not_found:
      return "not_found";
    case NameStatus::duplicate:
      return "duplicate";
    case NameStatus::bad_request:
      return "bad_request";
    case NameStatus::unavailable:
      return "unavailable";
  }
  return "unknown";
}

}  // namespace meshrun
