// MPICH programs (Debian's mpich) under meshrun, on one and several hosts.
#include <catch2/catch.hpp>

#include "harness.hpp"

using namespace meshrun_test;

TEST_CASE("MPI collectives give the right results", "[command][mpi]") {
  const auto [n, hosts] =
      GENERATE(std::pair<int, int>{1, 1}, std::pair<int, int>{2, 1}, std::pair<int, int>{4, 1},
               std::pair<int, int>{8, 1}, std::pair<int, int>{2, 2}, std::pair<int, int>{4, 2},
               std::pair<int, int>{8, 2},
               // Uneven layouts: 3 and 2, and 3, 3 and 2 ranks per host.
               std::pair<int, int>{5, 2}, std::pair<int, int>{8, 3});
  CAPTURE(n, hosts);
  Options o;
  o.deadline = Seconds{120};
  auto r = run(
      {"-n", std::to_string(n), "-N", std::to_string(hosts), mpi_fixture("mpi_collectives")}, o);
  CAPTURE(r.out, r.err);
  CHECK(r.status == 0);
  for (int k = 0; k < n; ++k)
    CHECK(count(r.out, "rank " + std::to_string(k) + " collectives ok\n") == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("MPI hello: allreduce and bcast and ring and barrier", "[command][mpi]") {
  const int hosts = GENERATE(1, 2);
  CAPTURE(hosts);
  auto r = run({"-n", "4", "-N", std::to_string(hosts), mpi_fixture("mpi_hello")});
  CAPTURE(r.err);
  CHECK(r.status == 0);
  for (int k = 0; k < 4; ++k)
    CHECK(count(r.out, "rank " + std::to_string(k) + " ok\n") == 1);
  CHECK(count(r.out, "allreduce sum=6 expected=6") == 4);
}

TEST_CASE("MPI_Abort ends the job with its code", "[command][status][mpi]") {
  const int hosts = GENERATE(1, 3);
  CAPTURE(hosts);
  auto r = run({"-n", "3", "-N", std::to_string(hosts), mpi_fixture("mpi_abort")});
  CHECK(r.status == 7);
  CHECK(r.out.find("rank 1 aborting") != std::string::npos);
  CHECK(r.err.find("rank 1 (host " + std::to_string(hosts == 3 ? 1 : 0) + ", ") !=
        std::string::npos);
  CHECK(r.err.find("MPI_Abort") != std::string::npos);
  CHECK(r.leftovers == std::vector<std::string>{});
}
