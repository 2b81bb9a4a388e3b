#include "process/cpu_binding.hpp"

#include <sched.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <tuple>
#include <utility>

#include "util/number_ranges.hpp"

namespace meshrun {
namespace {

constexpr const char* kBindTo = "MESHRUN_BIND_TO";
constexpr const char* kMapBy = "MESHRUN_MAP_BY";

int read_int(const std::string& path, int fallback) {
  std::ifstream in(path);
  int v = fallback;
  if (!(in >> v)) return fallback;
  return v;
}

// The CPUs a group of cpus (sorted by socket, core, id) shares `key` with.
template <class Key>
std::vector<int> cpus_where(const CpuTopology& t, Key key) {
  std::vector<int> out;
  for (const auto& c : t.cpus)
    if (key(c)) out.push_back(c.id);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::optional<CpuObject> parse_cpu_object(const std::string& word) {
  for (CpuObject o :
       {CpuObject::none, CpuObject::hwthread, CpuObject::core, CpuObject::socket, CpuObject::slot})
    if (word == cpu_object_name(o)) return o;
  return std::nullopt;
}

std::string cpu_object_name(CpuObject o) {
  switch (o) {
    case CpuObject::none:
      return "none";
    case CpuObject::hwthread:
      return "hwthread";
    case CpuObject::core:
      return "core";
    case CpuObject::socket:
      return "socket";
    case CpuObject::slot:
      return "slot";
  }
  return "none";
}

CpuTopology CpuTopology::of(std::vector<Cpu> cpus) {
  std::sort(cpus.begin(), cpus.end(), [](const Cpu& a, const Cpu& b) {
    return std::tie(a.socket, a.core, a.id) < std::tie(b.socket, b.core, b.id);
  });
  CpuTopology t;
  t.cpus = std::move(cpus);
  return t;
}

CpuTopology CpuTopology::current() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  const bool have_mask = ::sched_getaffinity(0, sizeof allowed, &allowed) == 0;
  std::vector<Cpu> cpus;
  for (int id = 0; id < CPU_SETSIZE; ++id) {
    if (have_mask ? !CPU_ISSET(id, &allowed) : id > 0) continue;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(id) + "/topology/";
    // Without /sys every CPU is a core of its own on one socket.
    cpus.push_back({id, read_int(dir + "core_id", id), read_int(dir + "physical_package_id", 0)});
  }
  return of(std::move(cpus));
}

size_t CpuTopology::sockets() const {
  std::set<int> s;
  for (const auto& c : cpus)
    s.insert(c.socket);
  return s.size();
}

size_t CpuTopology::cores() const {
  std::set<std::pair<int, int>> s;
  for (const auto& c : cpus)
    s.insert({c.socket, c.core});
  return s.size();
}

RankCpus cpus_for(const CpuTopology& t, CpuBinding b, uint32_t local) {
  RankCpus r;
  if (!b.bound() || t.cpus.empty()) return r;
  CpuObject map = b.map == CpuObject::none ? b.bind : b.map;
  if (map == CpuObject::slot) map = CpuObject::core;
  // The objects in order: sockets, each socket's cores, each core's threads.
  std::vector<int> sockets;
  std::vector<std::vector<std::pair<int, int>>> cores;  // per socket: (core, first cpu index)
  for (size_t i = 0; i < t.cpus.size(); ++i) {
    const auto& c = t.cpus[i];
    if (sockets.empty() || sockets.back() != c.socket) {
      sockets.push_back(c.socket);
      cores.emplace_back();
    }
    if (cores.back().empty() || cores.back().back().first != c.core)
      cores.back().push_back({c.core, static_cast<int>(i)});
  }
  std::vector<std::pair<int, int>> all_cores;  // (socket index, core index within it)
  for (size_t s = 0; s < cores.size(); ++s)
    for (size_t k = 0; k < cores[s].size(); ++k)
      all_cores.push_back({static_cast<int>(s), static_cast<int>(k)});
  auto threads_of = [&](int s, int k) {
    std::vector<int> idx;
    const auto [core, first] = cores[s][k];
    for (size_t i = first;
         i < t.cpus.size() && t.cpus[i].socket == sockets[s] && t.cpus[i].core == core; ++i)
      idx.push_back(static_cast<int>(i));
    return idx;
  };

  // The hardware thread the rank is placed on, and the index of its object.
  size_t leaf = 0;
  if (map == CpuObject::hwthread) {
    leaf = local % t.cpus.size();
    r.index = static_cast<int>(leaf);
  } else if (map == CpuObject::core) {
    const auto n = all_cores.size();
    const auto [s, k] = all_cores[local % n];
    const auto threads = threads_of(s, k);
    leaf = static_cast<size_t>(threads[(local / n) % threads.size()]);
    r.index = static_cast<int>(local % n);
  } else {  // socket: round robin over sockets, then over each socket's cores
    const auto ns = sockets.size();
    const int s = static_cast<int>(local % ns);
    const auto nk = cores[s].size();
    const int k = static_cast<int>((local / ns) % nk);
    const auto threads = threads_of(s, k);
    leaf = static_cast<size_t>(threads[(local / ns / nk) % threads.size()]);
    r.index = s;
  }
  r.object = map;
  const auto& cpu = t.cpus[leaf];
  switch (b.bind) {
    case CpuObject::hwthread:
      r.cpus = {cpu.id};
      break;
    case CpuObject::core:
    case CpuObject::slot:
      r.cpus = cpus_where(t, [&](const CpuTopology::Cpu& c) {
        return c.socket == cpu.socket && c.core == cpu.core;
      });
      break;
    case CpuObject::socket:
      r.cpus = cpus_where(t, [&](const CpuTopology::Cpu& c) { return c.socket == cpu.socket; });
      break;
    case CpuObject::none:
      break;
  }
  // Described by what it is bound to.
  if (b.bind != map) {
    r.object = b.bind == CpuObject::slot ? CpuObject::core : b.bind;
    if (r.object == CpuObject::socket) {
      r.index =
          static_cast<int>(std::find(sockets.begin(), sockets.end(), cpu.socket) - sockets.begin());
    } else if (r.object == CpuObject::core) {
      for (size_t i = 0; i < all_cores.size(); ++i) {
        const auto [s, k] = all_cores[i];
        if (sockets[s] == cpu.socket && cores[s][k].first == cpu.core)
          r.index = static_cast<int>(i);
      }
    } else {
      r.index = static_cast<int>(leaf);
    }
  }
  return r;
}

std::string cpu_list(const std::vector<int>& cpus) {
  return number_ranges(cpus, ",");
}

std::string describe(const RankCpus& r) {
  if (r.cpus.empty()) return "-";
  return cpu_object_name(r.object) + " " + std::to_string(r.index) + " (cpus " + cpu_list(r.cpus) +
         ")";
}

std::vector<std::string> binding_env(CpuBinding b) {
  if (!b.bound()) return {};
  const CpuObject map = b.map == CpuObject::none ? b.bind : b.map;
  return {std::string(kBindTo) + "=" + cpu_object_name(b.bind),
          std::string(kMapBy) + "=" + cpu_object_name(map)};
}

CpuBinding binding_from_env(const std::vector<std::string>& env) {
  CpuBinding b;
  for (const auto& kv : env) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = kv.substr(0, eq);
    const auto value = parse_cpu_object(kv.substr(eq + 1));
    if (!value) continue;
    if (key == kBindTo) b.bind = *value;
    if (key == kMapBy) b.map = *value;
  }
  return b;
}

std::vector<int> bound_cpus(const std::vector<std::string>& env, uint32_t local) {
  const CpuBinding b = binding_from_env(env);
  if (!b.bound()) return {};
  static const CpuTopology here = CpuTopology::current();
  return cpus_for(here, b, local).cpus;
}

}  // namespace meshrun
