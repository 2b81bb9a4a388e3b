// Serves one rank's PMI session on a connected stream socket, the rank
// holding the other end as PMI_FD. Runs as a coroutine on the caller's
// io_context; all sessions of a PmiJob must share that one thread.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/local/stream_protocol.hpp>
#include <asio/steady_timer.hpp>
#include <string>
#include <vector>

#include "pmi/pmi_session.hpp"
#include "util/result.hpp"

namespace meshrun {

class PmiConnection {
 public:
  PmiConnection(asio::local::stream_protocol::socket socket, PmiJob& job, int rank,
                PmiLimits limits = {});
  PmiConnection(const PmiConnection&) = delete;
  PmiConnection& operator=(const PmiConnection&) = delete;

  // Completes when the rank closes its end (how it ended: finalized, aborted,
  // or unused), breaks the protocol (Errc::protocol), closes before finalize
  // (Errc::closed), or close() is called (Errc::closed). The socket is closed
  // on return. Keep the connection alive until run() completes.
  asio::awaitable<Result<PmiEnd>> run();
  // Hangs up, e.g. once the rank's process is gone or the job is torn down.
  void close();

  const PmiSession& session() const { return session_; }

 private:
  asio::awaitable<Result<PmiEnd>> read_loop();
  asio::awaitable<void> write_loop();
  void send(std::string_view bytes);

  asio::local::stream_protocol::socket socket_;
  asio::steady_timer wake_;
  PmiSession session_;
  std::string outbox_;
  bool closed_by_owner_ = false;
  bool write_failed_ = false;
};

struct PmiSocketPair {
  asio::local::stream_protocol::socket server;  // for PmiConnection
  // The rank's end, close-on-exec: dup2 it into the child (which clears the
  // flag there) and close it in the parent once the child is spawned.
  int child_fd = -1;
};

Result<PmiSocketPair> make_pmi_socketpair(asio::io_context& io);

// {"PMI_FD=<fd>", "PMI_RANK=<rank>", "PMI_SIZE=<size>"} for a rank whose end
// of the socket pair is `fd_in_child`.
std::vector<std::string> pmi_environment(int rank, int size, int fd_in_child);

}  // namespace meshrun
