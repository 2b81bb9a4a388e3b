#include "agent/job_layout.hpp"

#include <catch2/catch.hpp>

using namespace meshrun;

TEST_CASE("JobLayout places blocks of consecutive ranks host by host", "[agent][layout]") {
  auto even = JobLayout::blocks(8, 4);
  CHECK(even.ranks_per_host == std::vector<uint32_t>{4, 4});
  CHECK(even.num_hosts() == 2);
  CHECK(even.size() == 8);
  CHECK(even.first_rank(1) == 4);
  CHECK(even.host_of(3) == 0);
  CHECK(even.host_of(4) == 1);
  CHECK(even.host_of(8) == 2);

  auto rest = JobLayout::blocks(5, 2);
  CHECK(rest.ranks_per_host == std::vector<uint32_t>{2, 2, 1});
  CHECK(rest.host_of(4) == 2);
  CHECK(rest.first_rank(2) == 4);

  CHECK(JobLayout::blocks(3, 0).ranks_per_host == std::vector<uint32_t>{1, 1, 1});
  CHECK(JobLayout::blocks(0, 4).num_hosts() == 0);
}
