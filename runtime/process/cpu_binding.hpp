// Binding ranks to CPUs, as mpirun's --map-by and --bind-to do: which core
// or socket of its host each local rank gets, and the CPUs it may run on.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace meshrun {

// The object a local rank is placed on (map) and the one whose CPUs it is
// bound to (bind). "slot" maps like "core": meshrun's slots are cores.
enum class CpuObject { none, hwthread, core, socket, slot };

struct CpuBinding {
  CpuObject map = CpuObject::none;   // none: like `bind`
  CpuObject bind = CpuObject::none;  // none: not bound
  bool bound() const { return bind != CpuObject::none; }
};

std::optional<CpuObject> parse_cpu_object(const std::string& word);
std::string cpu_object_name(CpuObject o);

// The CPUs of one machine that a process may use, with their cores and sockets.
struct CpuTopology {
  struct Cpu {
    int id = 0;      // as the kernel numbers it
    int core = 0;    // core_id, unique within its socket
    int socket = 0;  // physical_package_id
  };
  std::vector<Cpu> cpus;  // by socket, core, id

  // This machine's, from /sys, limited to the CPUs this process may run on.
  static CpuTopology current();
  static CpuTopology of(std::vector<Cpu> cpus);
  size_t sockets() const;
  size_t cores() const;
};

// Where local rank `local` goes: the object it is mapped to and the CPUs it
// is bound to (empty when not bound). Ranks beyond the objects there wrap
// around: meshrun never refuses to oversubscribe.
struct RankCpus {
  CpuObject object = CpuObject::none;
  int index = 0;  // of the socket, core or hardware thread, from 0 on this host
  std::vector<int> cpus;
};
RankCpus cpus_for(const CpuTopology& topology, CpuBinding binding, uint32_t local);

// "core 1 (cpus 1,5)" for --dry-run; "-" when not bound.
std::string describe(const RankCpus& r);
// "0-3,8" for lists of CPU ids.
std::string cpu_list(const std::vector<int>& cpus);

// How the binding reaches the host agents: in the environment of the ranks
// (MESHRUN_BIND_TO, MESHRUN_MAP_BY), like srun's SLURM_CPU_BIND.
std::vector<std::string> binding_env(CpuBinding binding);
CpuBinding binding_from_env(const std::vector<std::string>& env);
// For the host agent: the CPUs local rank `local` runs on under the binding
// `env` names, on this machine (empty: not bound).
std::vector<int> bound_cpus(const std::vector<std::string>& env, uint32_t local);

}  // namespace meshrun
