#include "agent/pmi_cluster_job.hpp"

#include <catch2/catch.hpp>

#include "agent/pmix_server.hpp"

using namespace meshrun;

namespace {

struct Sent {
  std::vector<PmiBarrierIn> barriers;
  std::vector<NameRequest> names;
  std::vector<std::pair<uint32_t, std::string>> told;
};

std::unique_ptr<ClusterPmiJob> make_job(Sent& sent, int local_size = 2) {
  ClusterPmiJob::Config cfg;
  cfg.kvsname = "kvs";
  cfg.size = 4;
  cfg.local_size = local_size;
  cfg.host_rank = 1;
  cfg.ranks_per_host = {2, 2};
  return std::make_unique<ClusterPmiJob>(
      cfg, [&](const PmiBarrierIn& in) { sent.barriers.push_back(in); }, [](const PmiAbortRank&) {},
      [&](const NameRequest& r) { sent.names.push_back(r); },
      [&](uint32_t rank, std::string line) { sent.told.emplace_back(rank, std::move(line)); });
}

}  // namespace

TEST_CASE("a PMIx fence enters the launcher's barrier for the whole host, with its data",
          "[agent][pmix]") {
  Sent sent;
  auto job = make_job(sent);
  std::optional<std::string> all;
  job->fence("host1-data", [&](std::optional<std::string> d) { all = std::move(d); });
  REQUIRE(sent.barriers.size() == 1);  // no waiting for ranks one by one
  CHECK(sent.barriers[0].host_rank == 1);
  CHECK(sent.barriers[0].epoch == 0);
  REQUIRE(sent.barriers[0].kvs.size() == 1);
  CHECK(sent.barriers[0].kvs[0].value == "host1-data");
  const std::string key = sent.barriers[0].kvs[0].key;
  CHECK(key.find(' ') != std::string::npos);  // no PMI-1 put can have it

  // A second fence while the first is out is refused.
  std::optional<std::string> refused = "untouched";
  job->fence("again", [&](std::optional<std::string> d) { refused = std::move(d); });
  CHECK_FALSE(refused.has_value());

  PmiBarrierOut out;
  out.epoch = 0;
  out.kvs = {{key, "host0-data|"}, {"a-put", "v"}, {key, "host1-data"}};
  job->barrier_out(out);
  REQUIRE(all.has_value());
  CHECK(*all == "host0-data|host1-data");
  CHECK(job->epoch() == 1);
  // Fence data is not a KVS entry; other puts are.
  std::optional<std::string> got = "x";
  job->get(0, key, [&](std::optional<std::string> v) { got = std::move(v); });
  CHECK_FALSE(got.has_value());
  job->get(0, "a-put", [&](std::optional<std::string> v) { got = std::move(v); });
  CHECK(got == "v");
}

TEST_CASE("names go to the launcher and its replies find their askers", "[agent][names]") {
  Sent sent;
  auto job = make_job(sent);
  std::vector<std::string> got;
  job->publish(2, "svc", "port",
               [&](NameStatus st) { got.push_back("pub:" + std::string(name_status_text(st))); });
  job->lookup(3, "svc", 500, [&](NameStatus st, const PublishedName& n) {
    got.push_back("look:" + std::string(name_status_text(st)) + ":" + n.value + ":" +
                  std::to_string(n.publisher));
  });
  REQUIRE(sent.names.size() == 2);
  CHECK(sent.names[0].op == NameOp::publish);
  CHECK(sent.names[0].rank == 2);
  CHECK(sent.names[1].op == NameOp::lookup);
  CHECK(sent.names[1].wait_ms == 500);
  CHECK(sent.names[0].id != sent.names[1].id);
  job->name_reply({sent.names[1].id, NameStatus::ok, "port", 2});
  job->name_reply({sent.names[0].id, NameStatus::duplicate, "", 0});
  job->name_reply({sent.names[0].id, NameStatus::ok, "", 0});  // unknown by now: ignored
  CHECK(got == std::vector<std::string>{"look:ok:port:2", "pub:duplicate"});
}

TEST_CASE("a refused spawn is told to the user among the rank's stderr", "[agent][pmix]") {
  Sent sent;
  auto job = make_job(sent);
  job->spawn_refused(uint32_t{3});
  REQUIRE(sent.told.size() == 1);
  CHECK(sent.told[0].first == 3);
  CHECK(sent.told[0].second.find("meshrun: rank 3 asked to spawn processes (MPI_Comm_spawn)") == 0);
}

TEST_CASE("PMIx nodes are machines: hosts with one name share a node", "[agent][pmix]") {
  auto n = pmix_nodes({2, 2, 3}, {"vm", "vm", "other"});
  CHECK(n.names == std::vector<std::string>{"vm", "other"});
  CHECK(n.ranks == std::vector<std::vector<uint32_t>>{{0, 1, 2, 3}, {4, 5, 6}});
  CHECK(n.node_of_host == std::vector<uint32_t>{0, 0, 1});
  auto unnamed = pmix_nodes({1, 1}, {});
  CHECK(unnamed.names == std::vector<std::string>{"host0", "host1"});
  CHECK(unnamed.node_of_host == std::vector<uint32_t>{0, 1});
}
