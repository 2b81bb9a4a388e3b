#include <sys/socket.h>
#include <unistd.h>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/read_until.hpp>
#include <asio/redirect_error.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "pmi/local_pmi_job.hpp"
#include "pmi/pmi_server.hpp"

// GCC 12 misreads asio's coroutine frame allocator as a new/delete mismatch.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

using namespace meshrun;
using asio::local::stream_protocol;

namespace {

// The rank's side, speaking PMI over the child end of the pair.
struct Client {
  stream_protocol::socket socket;
  std::string buf;

  Client(asio::io_context& io, int fd) : socket(io) { socket.assign(stream_protocol(), fd); }

  asio::awaitable<void> send(std::string bytes) {
    co_await asio::async_write(socket, asio::buffer(bytes), asio::use_awaitable);
  }
  // One response line without its newline; empty at end of stream.
  asio::awaitable<std::string> line() {
    asio::error_code ec;
    size_t n = co_await asio::async_read_until(socket, asio::dynamic_buffer(buf), '\n',
                                               asio::redirect_error(asio::use_awaitable, ec));
    if (ec) co_return std::string();
    std::string l = buf.substr(0, n - 1);
    buf.erase(0, n);
    co_return l;
  }
  asio::awaitable<std::string> ask(std::string request) {
    co_await send(std::move(request));
    co_return co_await line();
  }
};

struct Served {
  std::unique_ptr<PmiConnection> conn;
  std::unique_ptr<Client> client;
  std::optional<Result<PmiEnd>> end;
};

asio::awaitable<void> serve_into(PmiConnection* conn, std::optional<Result<PmiEnd>>* out) {
  *out = co_await conn->run();
}

Served serve(asio::io_context& io, PmiJob& job, int rank) {
  auto pair = make_pmi_socketpair(io);
  REQUIRE(pair.ok());
  Served s;
  s.conn = std::make_unique<PmiConnection>(std::move(pair->server), job, rank);
  s.client = std::make_unique<Client>(io, pair->child_fd);
  asio::co_spawn(io, serve_into(s.conn.get(), &s.end), asio::detached);
  return s;
}

// Two ranks exchange cards through the server and a barrier, as MPI_Init does.
asio::awaitable<void> mpi_like_rank(Client* c, int rank, std::vector<std::string>* log) {
  log->push_back(co_await c->ask("cmd=init pmi_version=1 pmi_subversion=1\n"));
  log->push_back(co_await c->ask("cmd=get_my_kvsname\n"));
  log->push_back(co_await c->ask("cmd=put kvsname=meshrun_kvs_0 key=card" + std::to_string(rank) +
                                 " value=hello" + std::to_string(rank) + "\n"));
  log->push_back(co_await c->ask("cmd=barrier_in\n"));
  log->push_back(
      co_await c->ask("cmd=get kvsname=meshrun_kvs_0 key=card" + std::to_string(1 - rank) + "\n"));
  log->push_back(co_await c->ask("cmd=finalize\n"));
  c->socket.close();
}

void run_until(asio::io_context& io, const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!done() && std::chrono::steady_clock::now() < deadline) {
    io.run_one_for(std::chrono::milliseconds(100));
  }
  REQUIRE(done());
}

}  // namespace

TEST_CASE("the server carries two ranks through init, barrier and finalize", "[pmi][server]") {
  asio::io_context io;
  LocalPmiJob job(2);
  Served s0 = serve(io, job, 0), s1 = serve(io, job, 1);
  std::vector<std::string> log0, log1;
  asio::co_spawn(io, mpi_like_rank(s0.client.get(), 0, &log0), asio::detached);
  run_until(io, [&] { return log0.size() == 3; });
  // Rank 0 is stuck in the barrier until rank 1 arrives.
  io.poll();
  CHECK(log0.size() == 3);
  CHECK(job.ranks_in_barrier() == 1);

  asio::co_spawn(io, mpi_like_rank(s1.client.get(), 1, &log1), asio::detached);
  run_until(io, [&] { return s0.end.has_value() && s1.end.has_value(); });
  REQUIRE(log0.size() == 6);
  CHECK(log0[0] == "cmd=response_to_init pmi_version=1 pmi_subversion=1 rc=0");
  CHECK(log0[1] == "cmd=my_kvsname rc=0 kvsname=meshrun_kvs_0");
  CHECK(log0[3] == "cmd=barrier_out");
  CHECK(log0[4] == "cmd=get_result rc=0 msg=success value=hello1");
  CHECK(log1[4] == "cmd=get_result rc=0 msg=success value=hello0");
  CHECK(log0[5] == "cmd=finalize_ack");
  REQUIRE(s0.end->ok());
  CHECK(**s0.end == PmiEnd::finalized);
  REQUIRE(s1.end->ok());
  CHECK(**s1.end == PmiEnd::finalized);
}

TEST_CASE("the server hangs up on a protocol violation", "[pmi][server]") {
  asio::io_context io;
  LocalPmiJob job(1);
  Served s = serve(io, job, 0);
  std::optional<std::string> reply;
  asio::co_spawn(
      io,
      [](Client* c, std::optional<std::string>* r) -> asio::awaitable<void> {
        *r = co_await c->ask("cmd=get_maxes\n");
      }(s.client.get(), &reply),
      asio::detached);
  run_until(io, [&] { return s.end.has_value() && reply.has_value(); });
  REQUIRE_FALSE(s.end->ok());
  CHECK(s.end->error().code == Errc::protocol);
  CHECK(s.end->error().message.find("before init") != std::string::npos);
  CHECK(reply->empty());  // the rank sees its connection closed, not an answer
}

TEST_CASE("the server reports a rank that vanishes mid-job", "[pmi][server]") {
  asio::io_context io;
  LocalPmiJob job(2);
  Served s = serve(io, job, 1);
  std::vector<std::string> log;
  asio::co_spawn(
      io,
      [](Client* c, std::vector<std::string>* l) -> asio::awaitable<void> {
        l->push_back(co_await c->ask("cmd=init pmi_version=1 pmi_subversion=1\n"));
        co_await c->send("cmd=barrier_in\n");
        c->socket.close();
      }(s.client.get(), &log),
      asio::detached);
  run_until(io, [&] { return s.end.has_value(); });
  REQUIRE_FALSE(s.end->ok());
  CHECK(s.end->error().code == Errc::closed);
  CHECK(s.end->error().message.find("rank 1") != std::string::npos);
}

TEST_CASE("close() ends a connection whose rank is silent", "[pmi][server]") {
  asio::io_context io;
  LocalPmiJob job(1);
  Served s = serve(io, job, 0);
  io.poll();
  CHECK_FALSE(s.end.has_value());
  s.conn->close();
  run_until(io, [&] { return s.end.has_value(); });
  REQUIRE_FALSE(s.end->ok());
  CHECK(s.end->error().code == Errc::closed);
}

TEST_CASE("pmi_environment names the rank's descriptor, rank and size", "[pmi][server]") {
  CHECK(pmi_environment(2, 4, 3) ==
        std::vector<std::string>{"PMI_FD=3", "PMI_RANK=2", "PMI_SIZE=4"});
}
