// --map-by and --bind-to on a made-up machine: 2 sockets x 2 cores x 2
// hardware threads, numbered as Linux numbers them (threads of a core apart).
#include <catch2/catch.hpp>

#include "process/cpu_binding.hpp"

using namespace meshrun;

namespace {

// cpu id = thread * 4 + socket * 2 + core
CpuTopology two_sockets() {
  std::vector<CpuTopology::Cpu> cpus;
  for (int thread = 0; thread < 2; ++thread)
    for (int socket = 0; socket < 2; ++socket)
      for (int core = 0; core < 2; ++core)
        cpus.push_back({thread * 4 + socket * 2 + core, core, socket});
  return CpuTopology::of(cpus);
}

std::string at(CpuObject bind, CpuObject map, uint32_t local) {
  return describe(cpus_for(two_sockets(), {map, bind}, local));
}

}  // namespace

TEST_CASE("the made-up machine has 2 sockets, 4 cores, 8 CPUs", "[binding]") {
  const auto t = two_sockets();
  CHECK(t.sockets() == 2);
  CHECK(t.cores() == 4);
  CHECK(t.cpus.size() == 8);
}

TEST_CASE("bind to core: one core per local rank, in order, wrapping around", "[binding]") {
  CHECK(at(CpuObject::core, CpuObject::none, 0) == "core 0 (cpus 0,4)");
  CHECK(at(CpuObject::core, CpuObject::none, 1) == "core 1 (cpus 1,5)");
  CHECK(at(CpuObject::core, CpuObject::none, 2) == "core 2 (cpus 2,6)");
  CHECK(at(CpuObject::core, CpuObject::none, 3) == "core 3 (cpus 3,7)");
  CHECK(at(CpuObject::core, CpuObject::none, 4) == "core 0 (cpus 0,4)");  // oversubscribed
}

TEST_CASE("bind to socket, map by socket: sockets round robin", "[binding]") {
  CHECK(at(CpuObject::socket, CpuObject::none, 0) == "socket 0 (cpus 0-1,4-5)");
  CHECK(at(CpuObject::socket, CpuObject::none, 1) == "socket 1 (cpus 2-3,6-7)");
  CHECK(at(CpuObject::socket, CpuObject::none, 2) == "socket 0 (cpus 0-1,4-5)");
  // Mapped by socket, bound to a core: rank 2 gets socket 0's second core.
  CHECK(at(CpuObject::core, CpuObject::socket, 0) == "core 0 (cpus 0,4)");
  CHECK(at(CpuObject::core, CpuObject::socket, 1) == "core 2 (cpus 2,6)");
  CHECK(at(CpuObject::core, CpuObject::socket, 2) == "core 1 (cpus 1,5)");
}

TEST_CASE("bind to hwthread: one CPU each, first threads of every core first", "[binding]") {
  CHECK(at(CpuObject::hwthread, CpuObject::core, 0) == "hwthread 0 (cpus 0)");
  CHECK(at(CpuObject::hwthread, CpuObject::core, 1) == "hwthread 2 (cpus 1)");
  CHECK(at(CpuObject::hwthread, CpuObject::core, 4) == "hwthread 1 (cpus 4)");
  CHECK(at(CpuObject::hwthread, CpuObject::hwthread, 1) == "hwthread 1 (cpus 4)");
}

TEST_CASE("bind to none binds nothing; slot maps like core", "[binding]") {
  CHECK(at(CpuObject::none, CpuObject::core, 0) == "-");
  CHECK(cpus_for(two_sockets(), {CpuObject::slot, CpuObject::core}, 1).cpus ==
        std::vector<int>{1, 5});
}

TEST_CASE("the binding reaches the agent in the ranks' environment", "[binding]") {
  const CpuBinding b{CpuObject::socket, CpuObject::core};
  const auto env = binding_env(b);
  CHECK(env == std::vector<std::string>{"MESHRUN_BIND_TO=core", "MESHRUN_MAP_BY=socket"});
  const CpuBinding back = binding_from_env(env);
  CHECK(back.bind == CpuObject::core);
  CHECK(back.map == CpuObject::socket);
  CHECK(binding_env({}).empty());
  CHECK(bound_cpus({"PATH=/bin"}, 0).empty());
  CHECK(cpu_list({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8");
}
