// One rank's PMI-1 conversation, independent of any transport: bytes in,
// response lines out, and everything job-wide (KVS, barrier, abort) handed to
// a PmiJob that the owner implements.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "pmi/name_store.hpp"
#include "pmi/pmi_protocol.hpp"
#include "util/result.hpp"

namespace meshrun {

// The job side of PMI. A single-host run uses LocalPmiJob; meshrun's host
// agent implements it across hosts (puts batched to the launcher, barrier
// released by the launcher once every host's ranks entered it).
//
// Not thread-safe: every call, and every `done` callback, happens on the
// thread that drives the sessions. `done` may run before the call returns.
class PmiJob {
 public:
  virtual ~PmiJob() = default;

  virtual std::string kvsname() const = 0;
  virtual int universe_size() const = 0;
  virtual int appnum(int rank) const {
    (void)rank;
    return 0;
  }

  // PMI-1 semantics: a put must be visible to every rank's get once all ranks
  // have left the next barrier; before that, visibility is not promised.
  virtual Status put(int rank, const std::string& key, const std::string& value) = 0;
  virtual void get(int rank, const std::string& key,
                   std::function<void(std::optional<std::string>)> done) = 0;
  // `done` runs once every rank of the job (on all hosts) has entered.
  virtual void barrier_enter(int rank, std::function<void()> done) = 0;
  // The rank called PMI_Abort: the job should end with `code`. The rank gets
  // no reply and waits to be killed, as under Hydra.
  virtual void abort(int rank, int code, const std::string& message) = 0;
  virtual void finalized(int rank) { (void)rank; }
  // The job's name service; null: not offered (publish and lookup fail).
  virtual JobNames* names() { return nullptr; }
  // The rank asked to spawn processes (MPI_Comm_spawn), which is refused.
  virtual void spawn_refused(int rank) { (void)rank; }
};

enum class PmiSessionState { fresh, initialized, finalized, aborted, failed };

// How a rank's PMI connection ended in good order.
enum class PmiEnd {
  unused,     // closed without a word: not an MPI program, or it never called MPI_Init
  finalized,  // finalize acknowledged
  aborted,    // the rank called PMI_Abort
};

class PmiSession {
 public:
  using Send = std::function<void(std::string_view bytes)>;
  // Called when the session fails outside feed() (while handling lines that
  // were queued behind a barrier or get), so the transport can hang up.
  using OnFailure = std::function<void(const Error&)>;

  PmiSession(PmiJob& job, int rank, Send send, PmiLimits limits = {}, OnFailure on_failure = {});
  ~PmiSession();
  PmiSession(const PmiSession&) = delete;
  PmiSession& operator=(const PmiSession&) = delete;

  // Bytes from the rank. Responses go out through `send`, now or when the job
  // completes a barrier or get. An error is a protocol violation; the session
  // is failed from then on and the connection should be dropped.
  Status feed(std::string_view bytes);
  // The rank closed its end.
  Result<PmiEnd> end_of_stream();

  int rank() const { return rank_; }
  PmiSessionState state() const { return state_; }
  bool waiting() const { return waiting_; }  // in a barrier or get
  const Error* error() const { return state_ == PmiSessionState::failed ? &error_ : nullptr; }

 private:
  void pump();
  Status handle_line(std::string_view line);
  Status handle(const PmiCommand& cmd);
  Status handle_multi_line(std::string_view line);
  void name_service(const PmiCommand& cmd);
  void fail(Error error);
  void reply(std::string line);

  PmiJob& job_;
  int rank_;
  Send send_;
  PmiLimits limits_;
  OnFailure on_failure_;
  PmiSessionState state_ = PmiSessionState::fresh;
  Error error_;
  std::string in_;  // unparsed input
  bool waiting_ = false;
  bool pumping_ = false;
  bool in_feed_ = false;   // failures inside feed() are returned, not reported
  bool in_multi_ = false;  // inside an mcmd= ... endcmd block
  size_t multi_bytes_ = 0;
  std::shared_ptr<bool> alive_;
};

}  // namespace meshrun
