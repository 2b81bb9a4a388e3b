#include "process/mpi_probe.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>

using namespace meshrun;

namespace {
const std::string kPath = "/usr/bin:/bin";
// Debian's mpi4py module: a shared object that links Open MPI.
const char* kMpi4py = "/usr/lib/python3/dist-packages/mpi4py/MPI.cpython-311-x86_64-linux-gnu.so";
}  // namespace

TEST_CASE("elf_needed reads the sonames an ELF file links", "[process][mpi]") {
  auto needed = elf_needed("/bin/true");
  REQUIRE(needed.has_value());
  CHECK(std::find(needed->begin(), needed->end(), "libc.so.6") != needed->end());
  CHECK_FALSE(elf_needed("/etc/passwd").has_value());
  CHECK_FALSE(elf_needed("/nonexistent").has_value());
  CHECK(mpi_library_linked("/bin/true").empty());
  if (std::filesystem::exists(kMpi4py)) CHECK(mpi_library_linked(kMpi4py) == "libmpi.so.40");
}

TEST_CASE("is_mpi_library knows the MPI libraries by their names", "[process][mpi]") {
  for (const char* yes : {"libmpi.so.40", "libmpi.so.12", "libmpich.so.12", "libmpi_cxx.so.40",
                          "libmpifort.so.12", "libpmix.so.2", "/usr/lib/libmpi.so.40.30.4"})
    CHECK(is_mpi_library(yes));
  for (const char* no : {"libc.so.6", "libm.so.6", "libmpfr.so.6", "libmpc.so.3"})
    CHECK_FALSE(is_mpi_library(no));
  CHECK(mpi_library_mapped(::getpid()).empty());
  CHECK(mpi_library_mapped(999999999).empty());
}

TEST_CASE("command_mpi tells plain programs from MPI ones, wrappers and interpreters",
          "[process][mpi]") {
  CHECK_FALSE(may_use_pmix({"true"}, kPath, ""));
  CHECK_FALSE(may_use_pmix({"hostname", "-f"}, kPath, ""));
  CHECK_FALSE(may_use_pmix({"env", "A=1", "/bin/true"}, kPath, ""));
  CHECK_FALSE(may_use_pmix({}, kPath, ""));
  CHECK(may_use_pmix({"python3", "-c", "import sys"}, kPath, ""));
  CHECK(may_use_pmix({"sh", "-c", "./prog"}, kPath, ""));
  CHECK(may_use_pmix({"env", "A=1", "python3", "x.py"}, kPath, ""));
  CHECK(may_use_pmix({"./not-here"}, kPath, "/nonexistent"));  // may exist on the hosts
  auto c = command_mpi({"true"}, kPath, "");
  CHECK(c.linked.empty());
  CHECK_FALSE(c.may_load);

  char dir[] = "/tmp/meshrun-probe-XXXXXX";
  REQUIRE(::mkdtemp(dir));
  const std::string script = std::string(dir) + "/run.sh";
  std::ofstream(script) << "#!/bin/sh\nexec ./prog\n";
  std::filesystem::permissions(script, std::filesystem::perms::owner_all);
  CHECK(command_mpi({"./run.sh"}, kPath, dir).may_load);
  CHECK(command_mpi({"nice", "./run.sh"}, kPath, dir).may_load);
  std::filesystem::remove_all(dir);
}
