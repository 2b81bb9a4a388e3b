#include "mesh/name_service.hpp"

#include <catch2/catch.hpp>
#include <chrono>

using namespace meshrun;
using namespace std::chrono_literals;

namespace {
NameRequest req(uint32_t id, NameOp op, std::string key, std::string value = {},
                uint32_t wait_ms = 0) {
  NameRequest r;
  r.id = id;
  r.op = op;
  r.rank = id;
  r.key = std::move(key);
  r.value = std::move(value);
  r.wait_ms = wait_ms;
  return r;
}
}  // namespace

TEST_CASE("NameService answers each request by its id, a waiting lookup when it can",
          "[mesh][names]") {
  asio::io_context io;
  NameService names(io);
  std::vector<NameReply> replies;
  auto reply = [&](const NameReply& r) { replies.push_back(r); };

  names.handle(req(1, NameOp::lookup, "svc", {}, 60000), reply);  // waits
  names.handle(req(2, NameOp::lookup, "other", {}, 30), reply);   // gives up after 30 ms
  CHECK(replies.empty());
  names.handle(req(3, NameOp::publish, "svc", "port-x"), reply);
  REQUIRE(replies.size() == 2);
  CHECK(replies[0].id == 1);  // the waiter, answered by the publish
  CHECK(replies[0].status == NameStatus::ok);
  CHECK(replies[0].value == "port-x");
  CHECK(replies[0].publisher == 3);
  CHECK(replies[1].id == 3);
  CHECK(replies[1].status == NameStatus::ok);

  const auto until = std::chrono::steady_clock::now() + 10s;
  while (replies.size() < 3 && std::chrono::steady_clock::now() < until)
    io.run_for(10ms);
  REQUIRE(replies.size() == 3);
  CHECK(replies[2].id == 2);
  CHECK(replies[2].status == NameStatus::not_found);

  names.handle(req(4, NameOp::unpublish, "svc"), reply);
  names.handle(req(5, NameOp::lookup, "svc"), reply);
  CHECK(replies[3].status == NameStatus::ok);
  CHECK(replies[4].status == NameStatus::not_found);
  CHECK(names.store().waiting() == 0);
}
