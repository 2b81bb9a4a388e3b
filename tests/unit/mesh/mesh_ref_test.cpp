// References: rank arithmetic between an actor mesh, its proc mesh and its
// hosts; slicing; and the value form plugins carry.
#include <catch2/catch.hpp>

#include "mesh/mesh_ref.hpp"

using namespace meshrun;

namespace {

// {hosts=2, procs=4}: an actor mesh on procs 1..3 of each host.
MeshRef on_procs_1_to_3() {
  MeshRef r;
  r.mesh = 1;
  r.name = "a";
  r.proc_base = 100;
  r.per_host = 4;
  r.dims = {"hosts", "procs"};
  r.sizes = {2, 4};
  r.region = {{0, 2}, {1, 3}};
  r.view = r.region;
  return r;
}

}  // namespace

TEST_CASE("actor ranks count within the mesh's own region", "[mesh_ref]") {
  const MeshRef r = on_procs_1_to_3();
  REQUIRE(r.valid());
  CHECK(r.mesh_size() == 4);
  CHECK(r.size() == 4);
  // Proc ranks 1, 2 (host 0) and 5, 6 (host 1) are actors 0..3.
  CHECK(r.actor_rank(1) == 0);
  CHECK(r.actor_rank(2) == 1);
  CHECK(r.actor_rank(5) == 2);
  CHECK(r.actor_rank(6) == 3);
  for (uint32_t a = 0; a < 4; ++a)
    CHECK(r.actor_rank(r.proc_rank(a)) == a);
  CHECK(r.actor_ranks() == std::vector<uint32_t>{0, 1, 2, 3});
  CHECK(r.hosts() == std::vector<uint32_t>{0, 1});
  CHECK(r.proc_ranks_on(1) == std::vector<uint64_t>{5, 6});
  CHECK_FALSE(r.contains_proc_rank(0));
  CHECK_FALSE(r.contains_proc_rank(7));
}

TEST_CASE("slices narrow the view in the mesh's coordinates", "[mesh_ref]") {
  const MeshRef r = on_procs_1_to_3();
  auto second = r.slice("procs", 1, 2);  // proc coordinate 2
  REQUIRE(second.ok());
  CHECK(second->actor_ranks() == std::vector<uint32_t>{1, 3});
  CHECK(second->to_string() == "a{hosts=0..2, procs=1}");
  auto one = second->slice("hosts", 1, 2);
  REQUIRE(one.ok());
  CHECK(one->size() == 1);
  CHECK(one->actor_ranks() == std::vector<uint32_t>{3});
  CHECK(one->hosts() == std::vector<uint32_t>{1});
  auto at = r.at(2);
  REQUIRE(at.ok());
  CHECK(at->actor_ranks() == std::vector<uint32_t>{2});
  CHECK_FALSE(r.at(4).ok());
  CHECK_FALSE(r.slice("procs", 0, 3).ok());  // wider than the mesh (2)
  CHECK_FALSE(r.slice("gpus", 0, 1).ok());
  CHECK_FALSE(second->slice("procs", 0, 1).ok());  // outside the view: nothing
}

TEST_CASE("references and ports survive as bytes; garbage does not pass", "[mesh_ref]") {
  const MeshRef r = on_procs_1_to_3();
  auto back = decode_ref(encode_ref(r));
  REQUIRE(back.ok());
  CHECK(*back == r);
  PortRef p{{3, 17, 1, 0}, 99, 4, ReducerKind::all_equal};
  auto port = decode_port(encode_port(p));
  REQUIRE(port.ok());
  CHECK(*port == p);
  CHECK_FALSE(decode_ref("not a reference").ok());
  CHECK_FALSE(decode_ref(encode_port(p)).ok());
  CHECK_FALSE(decode_port(encode_ref(r)).ok());
  std::string cut = encode_ref(r);
  cut.pop_back();
  CHECK_FALSE(decode_ref(cut).ok());
  MeshRef inconsistent = r;
  inconsistent.per_host = 3;  // not the product of the inner dims
  CHECK_FALSE(decode_ref(encode_ref(inconsistent)).ok());
}

TEST_CASE("the one membership test", "[mesh_ref]") {
  const std::vector<uint32_t> sizes{2, 3};
  CHECK(in_ranges(sizes, {{1, 2}, {0, 2}}, 3));
  CHECK(in_ranges(sizes, {{1, 2}, {0, 2}}, 4));
  CHECK_FALSE(in_ranges(sizes, {{1, 2}, {0, 2}}, 5));
  CHECK_FALSE(in_ranges(sizes, {{0, 2}, {0, 3}}, 6));  // past the extent
  CHECK(volume({{1, 2}, {0, 2}}) == 2);
  CHECK(nth_in_ranges(sizes, {{0, 2}, {1, 3}}, 3) == 5);
}
