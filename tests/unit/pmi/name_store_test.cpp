#include "pmi/name_store.hpp"

#include <catch2/catch.hpp>
#include <optional>

using namespace meshrun;

TEST_CASE("NameStore publishes once, looks up, unpublishes", "[pmi][names]") {
  NameStore s;
  CHECK(s.publish(2, "svc", "port-a") == NameStatus::ok);
  CHECK(s.publish(3, "svc", "port-b") == NameStatus::duplicate);
  CHECK(s.publish(3, "", "x") == NameStatus::bad_request);
  std::optional<PublishedName> got;
  NameStatus st = NameStatus::unavailable;
  CHECK(s.lookup("svc", false, [&](NameStatus x, const PublishedName& n) {
    st = x;
    got = n;
  }) == 0);
  CHECK(st == NameStatus::ok);
  CHECK(got->value == "port-a");
  CHECK(got->publisher == 2);
  CHECK(s.unpublish("svc") == NameStatus::ok);
  CHECK(s.unpublish("svc") == NameStatus::not_found);
  s.lookup("svc", false, [&](NameStatus x, const PublishedName&) { st = x; });
  CHECK(st == NameStatus::not_found);
  CHECK(s.publish(3, "svc", "port-b") == NameStatus::ok);  // free again
}

TEST_CASE("NameStore answers waiting lookups when the name comes, or when cancelled",
          "[pmi][names]") {
  NameStore s;
  std::vector<std::string> answers;
  auto record = [&](NameStatus st, const PublishedName& n) {
    answers.push_back(std::string(name_status_text(st)) + ":" + n.value);
  };
  const uint64_t a = s.lookup("late", true, record);
  const uint64_t b = s.lookup("late", true, record);
  const uint64_t c = s.lookup("never", true, record);
  CHECK(a != 0);
  CHECK(b != a);
  CHECK(s.waiting() == 3);
  CHECK(answers.empty());
  CHECK(s.publish(1, "late", "here") == NameStatus::ok);
  CHECK(answers == std::vector<std::string>{"ok:here", "ok:here"});
  s.cancel(c);
  s.cancel(c);  // twice: nothing more
  CHECK(answers.back() == "not_found:");
  CHECK(answers.size() == 3);
  CHECK(s.waiting() == 0);
}
