// Whether a program is an MPI program, judged from its files: the MPI
// library an ELF executable links (its DT_NEEDED entries), the MPI library a
// running process has mapped (/proc/PID/maps), and whether a command may
// load one at run time (a script, an interpreter).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace meshrun {

// The DT_NEEDED sonames of the ELF file at `path`; nullopt when it is not a
// readable, dynamically linked ELF file of this machine's byte order.
std::optional<std::vector<std::string>> elf_needed(const std::string& path);

// libmpi.so.40 (Open MPI), libmpich.so.12 and libmpi.so.12 (MPICH, Intel
// MPI, MVAPICH), their language bindings, and libpmix.
bool is_mpi_library(std::string_view soname);

// The first MPI library (its file name) a running process has mapped;
// empty when none, or when the process is gone.
std::string mpi_library_mapped(pid_t pid);

// The MPI library the ELF file at `path` links; empty when none.
std::string mpi_library_linked(const std::string& path);

// What a command line tells about MPI before it runs.
struct CommandMpi {
  // The MPI library that the program, or a program its arguments name (env,
  // numactl, time ... ./prog), links; empty when none does.
  std::string linked;
  // It is a script or an interpreter (python3, bash, ...) that may load an
  // MPI library at run time, or it cannot be judged here (not found).
  bool may_load = false;
};
CommandMpi command_mpi(const std::vector<std::string>& argv, const std::string& path_env,
                       const std::string& cwd);

// Whether the command may talk PMIx to meshrun: it, or a program its
// arguments name (env, numactl, time ... ./prog), links an MPI library, or
// it is a script or an interpreter (python3, bash, ...) that may load one at
// run time, or it cannot be judged here. False for plain programs
// (true, hostname, sleep) that cannot, so they need no PMIx server.
bool may_use_pmix(const std::vector<std::string>& argv, const std::string& path_env,
                  const std::string& cwd);

}  // namespace meshrun
