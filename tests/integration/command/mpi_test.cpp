// MPI programs under meshrun, on one and several hosts: MPICH (Debian's mpich)
// through PMI-1, Open MPI and mpi4py through PMIx.
#include <catch2/catch.hpp>
#include <filesystem>

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
  CHECK(r.err.find("singleton") == std::string::npos);
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

TEST_CASE("MPI name service: publish, lookup and unpublish across hosts", "[command][mpi][names]") {
  const int hosts = GENERATE(1, 2);
  CAPTURE(hosts);
  auto r = run({"-n", "4", "-N", std::to_string(hosts), mpi_fixture("mpi_names")});
  CAPTURE(r.out, r.err);
  CHECK(r.status == 0);
  for (int k = 0; k < 4; ++k)
    CHECK(count(r.out, "rank " + std::to_string(k) + " of 4 names ok\n") == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("ranks that load MPI but never speak PMI are named once at the end",
          "[command][mpi][singleton]") {
  SECTION("MPICH with its PMI variables dropped by a wrapper") {
    auto r = run({"-n", "4", "-N", "2", "--", "env", "-u", "PMI_FD", "-u", "PMI_RANK", "-u",
                  "PMI_SIZE", mpi_fixture("mpi_hello")});
    CAPTURE(r.out, r.err);
    CHECK(r.status == 0);
    CHECK(count(r.out, "rank 0 of 1\n") == 4);  // four singletons
    CHECK(count(r.err, "warning:") == 1);
    CHECK(r.err.find("every rank of this 4-rank job loaded libmpich.so.12 but never contacted "
                     "meshrun's PMI-1 or PMIx server") != std::string::npos);
  }
  SECTION("a plain program gets no such warning") {
    auto r = run({"-n", "2", "--", "env", "-u", "PMI_FD", "hostname"});
    CHECK(r.status == 0);
    CHECK(r.err.empty());
  }
}

// Debian's MPICH refuses MPI_Comm_spawn itself before it asks PMI (its
// device has no dynamic processes); a PMI-1 spawn request that does come is
// refused with meshrun's message (pmi_session_test), as Open MPI's are below.
TEST_CASE("MPI_Comm_spawn fails cleanly under MPICH", "[command][mpi]") {
  auto r = run({"-n", "2", mpi_fixture("mpi_spawn")});
  CAPTURE(r.out, r.err);
  CHECK(r.status == 0);
  CHECK(count(r.out, "spawn refused\n") == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}

#ifdef MESHRUN_OPENMPI
// Open MPI (Debian's, built on OpenPMIx) through meshrun's PMIx server.

TEST_CASE("Open MPI: hello and collectives on one and two hosts", "[command][mpi][openmpi]") {
  const auto [n, hosts] = GENERATE(std::pair<int, int>{1, 1}, std::pair<int, int>{4, 1},
                                   std::pair<int, int>{4, 2}, std::pair<int, int>{6, 3});
  CAPTURE(n, hosts);
  Options o;
  o.deadline = Seconds{120};
  for (const char* prog : {"mpi_hello.openmpi", "mpi_collectives.openmpi"}) {
    CAPTURE(prog);
    auto r = run({"-n", std::to_string(n), "-N", std::to_string(hosts), mpi_fixture(prog)}, o);
    CAPTURE(r.out, r.err);
    CHECK(r.status == 0);
    for (int k = 0; k < n; ++k) {
      const auto s = std::to_string(k);
      if (std::string(prog) == "mpi_hello.openmpi") {
        CHECK(count(r.out, "rank " + s + " of " + std::to_string(n) + "\n") == 1);
        CHECK(count(r.out, "rank " + s + " ok\n") == 1);
      } else {
        CHECK(count(r.out, "rank " + s + " collectives ok\n") == 1);
      }
    }
    CHECK(r.leftovers == std::vector<std::string>{});
  }
}

TEST_CASE("Open MPI: mpi4py's allreduce on one and two hosts", "[command][mpi][openmpi]") {
  const int hosts = GENERATE(1, 2);
  CAPTURE(hosts);
  auto r = run({"-n", "4", "-N", std::to_string(hosts), "--", "/usr/bin/python3", "-c",
                "from mpi4py import MPI\n"
                "c = MPI.COMM_WORLD\n"
                "s = c.allreduce(c.Get_rank() + 1, op=MPI.SUM)\n"
                "print(f'rank {c.Get_rank()} of {c.Get_size()} sum {s}')\n"});
  CAPTURE(r.out, r.err);
  CHECK(r.status == 0);
  for (int k = 0; k < 4; ++k)
    CHECK(count(r.out, "rank " + std::to_string(k) + " of 4 sum 10\n") == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("Open MPI: an mpi4py rank that lost its PMIx variables is named as a singleton",
          "[command][mpi][openmpi][singleton]") {
  auto r = run({"-n", "2", "--", "env", "-i", "PATH=/usr/bin:/bin", "/usr/bin/python3", "-c",
                "from mpi4py import MPI\nprint('size', MPI.COMM_WORLD.Get_size(), flush=True)\n"});
  CAPTURE(r.out, r.err);
  CHECK(r.status == 0);
  CHECK(count(r.out, "size 1\n") == 2);
  CHECK(count(r.err, "warning:") == 1);
  CHECK(r.err.find("every rank of this 2-rank job loaded libmpi.so.40") != std::string::npos);
  CHECK(r.leftovers == std::vector<std::string>{});
}

namespace {
// Open MPI's shared-memory segments left directly in /dev/shm.
size_t vader_segments() {
  size_t n = 0;
  for (const auto& e : std::filesystem::directory_iterator("/dev/shm"))
    if (e.path().filename().string().starts_with("vader_segment.")) ++n;
  return n;
}
}  // namespace

TEST_CASE("Open MPI: MPI_Abort(5) ends the job with 5", "[command][status][mpi][openmpi]") {
  const int hosts = GENERATE(1, 2);
  CAPTURE(hosts);
  const size_t segments = vader_segments();
  auto r = run({"-n", "4", "-N", std::to_string(hosts), mpi_fixture("mpi_abort.openmpi"), "5"});
  // The killed ranks' shared memory went with the job.
  CHECK(vader_segments() <= segments);
  CAPTURE(r.out, r.err);
  CHECK(r.status == 5);
  CHECK(r.out.find("rank 1 aborting") != std::string::npos);
  CHECK(r.err.find("rank 1 (host 0, ") != std::string::npos);
  CHECK(r.err.find("MPI_Abort with code 5") != std::string::npos);
  CHECK(r.leftovers == std::vector<std::string>{});
}

TEST_CASE("Open MPI: name service and a refused MPI_Comm_spawn", "[command][mpi][openmpi][names]") {
  auto names = run({"-n", "4", "-N", "2", mpi_fixture("mpi_names.openmpi")});
  CAPTURE(names.out, names.err);
  CHECK(names.status == 0);
  for (int k = 0; k < 4; ++k)
    CHECK(count(names.out, "rank " + std::to_string(k) + " of 4 names ok\n") == 1);
  auto spawn = run({"-n", "2", mpi_fixture("mpi_spawn.openmpi")});
  CAPTURE(spawn.out, spawn.err);
  CHECK(count(spawn.out, "spawn refused\n") == 1);
  CHECK(spawn.err.find("rank 0 asked to spawn processes (MPI_Comm_spawn)") != std::string::npos);
  CHECK(spawn.leftovers == std::vector<std::string>{});
}

TEST_CASE("the PMIx API: fence exchange, typed and waiting lookups across hosts",
          "[command][mpi][pmix]") {
  const int hosts = GENERATE(1, 3);
  CAPTURE(hosts);
  auto r = run({"-n", "3", "-N", std::to_string(hosts), MESHRUN_PMIX_CLIENT});
  CAPTURE(r.out, r.err);
  CHECK(r.status == 0);
  for (int k = 0; k < 3; ++k)
    CHECK(count(r.out, "rank " + std::to_string(k) + " of 3 pmix ok\n") == 1);
  CHECK(r.leftovers == std::vector<std::string>{});
}
#endif
