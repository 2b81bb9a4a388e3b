// Writes the seed corpora that need the codec to make (wire, handshake):
//   make_seeds OUT_DIR   -> OUT_DIR/wire/*, OUT_DIR/handshake/*
// Built with the fuzz targets; its output is checked in under corpus/.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "auth/handshake.hpp"
#include "wire/frame.hpp"
#include "wire/messages.hpp"

using namespace meshrun;

namespace {

void write(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary) << bytes;
}

// Byte 0 picks the chunk size in fuzz_wire, byte 1 the frame limit.
std::string framed(const std::string& payload) {
  std::string out("\x03\x00", 2);
  append_frame(out, payload);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds OUT_DIR\n");
    return 2;
  }
  std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out / "wire");
  std::filesystem::create_directories(out / "handshake");

  CreateProcs cp;
  cp.mesh = "p0";
  cp.mesh_size = 2;
  cp.local_size = 2;
  cp.ranks_per_host = {2};
  cp.procs = {{0, 0, 0, "p0_0"}, {1, 1, 1, "p0_1"}};
  cp.command = {"sh", "-c", "echo hi"};
  cp.env = {"A=B"};
  cp.cwd = "/tmp";
  MeshRef mesh;
  mesh.mesh = 1;
  mesh.name = "a0";
  mesh.per_host = 2;
  mesh.dims = {"hosts", "procs"};
  mesh.sizes = {2, 2};
  mesh.region = {{0, 2}, {0, 2}};
  mesh.view = {{0, 1}, {0, 2}};
  ActorCast cast;
  cast.from = {0, 1, 1, 1};
  cast.port = {{kLauncherHost, kNoProc, 0, 0}, 7, kAnySlot, ReducerKind::sum};
  cast.timeout_ms = 1000;
  cast.target = mesh;
  cast.message = "Echo";
  cast.payload = "hi";
  PortReply reply;
  reply.from = {1, 3, 1, 3};
  reply.port = {{kLauncherHost, kNoProc, 0, 0}, 7, 3, ReducerKind::none};
  reply.value = "pong";
  ProcStatus ps;
  ps.proc = 1;
  ps.state = ProcState::exited;
  ps.exited_normally = true;
  ps.detail = "done";

  write(out / "wire" / "heartbeat", framed(encode(Heartbeat{})));
  write(out / "wire" / "agent_hello", framed(encode(AgentHello{1, "unix:/tmp/a.sock", 42, "h"})));
  write(out / "wire" / "become_host", framed(encode(BecomeHost{"job", 10000, 0, 2, 0, {}})));
  write(out / "wire" / "create_procs", framed(encode(cp)));
  write(out / "wire" / "proc_status", framed(encode(ps)));
  write(out / "wire" / "spawn_actors",
        framed(encode(SpawnActors{mesh, "p0", "testactors", "TestActor", "x = 1\n"})));
  write(out / "wire" / "actor_status",
        framed(encode(ActorStatus{3, 1, 3, ActorState::spawned, "p0[3].a0[0]", ""})));
  write(out / "wire" / "cast", framed(encode(cast)));
  write(out / "wire" / "reply", framed(encode(reply)));
  write(out / "wire" / "host_directory",
        framed(encode(HostDirectory{{"unix:/tmp/a.sock", "tcp:10.0.0.2:4000"}})));
  write(out / "wire" / "output", framed(encode(Output{0, 1, "line\n"})));
  write(out / "wire" / "stop_procs", framed(encode(StopProcs{5000, true, ""})));
  write(out / "wire" / "signal_procs", framed(encode(SignalProcs{15})));
  write(out / "wire" / "input", framed(encode(Input{0, "stdin"})));
  write(out / "wire" / "two_frames",
        framed(encode(HostReady{1})) + framed(encode(HostStopped{1})).substr(2));

  Nonce n{};
  for (size_t i = 0; i < n.size(); ++i)
    n[i] = static_cast<uint8_t>(i);
  write(out / "handshake" / "greeting", encode_greeting(n));
  Mac m{};
  write(out / "handshake" / "proof", encode_proof(m));
  return 0;
}
