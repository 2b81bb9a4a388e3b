// The host agent's PMIx server, for MPI libraries that speak PMIx (Open MPI
// 4 and later): OpenPMIx's server library runs it, with a progress thread of
// its own; what it asks of its host (fences across hosts, aborts, the name
// service) crosses into the agent's io_context with asio::post and is
// answered from there.
//
// One per process: the library is process-wide.
#pragma once

#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "pmi/name_store.hpp"
#include "util/result.hpp"

namespace meshrun {

// What the server hands on to the job. Called on the io_context's thread.
class PmixJob {
 public:
  virtual ~PmixJob() = default;
  // Every rank of this host entered a fence with `data`; `done` gets the
  // data of every host's ranks (concatenated), or nullopt when the fence
  // cannot complete.
  virtual void fence(std::string data, std::function<void(std::optional<std::string>)> done) = 0;
  virtual void abort(uint32_t rank, int status, const std::string& message) = 0;
  virtual JobNames* names() = 0;
  // A rank connected to the server (it speaks PMIx), or called PMIx_Finalize.
  virtual void connected(uint32_t rank) { (void)rank; }
  virtual void finalized(uint32_t rank) { (void)rank; }
  // The rank asked to spawn processes (MPI_Comm_spawn), which is refused.
  virtual void spawn_refused(uint32_t rank) { (void)rank; }
};

// The job as this host's server registers it: every host agent is a PMIx node
// of its own (see ProcManager::pmix_node_name).
struct PmixJobInfo {
  std::string nspace;
  uint32_t size = 0;
  std::vector<std::string> node_names;
  std::vector<std::vector<uint32_t>> node_ranks;  // ranks on each node, ascending
  uint32_t my_node = 0;
  std::vector<uint32_t> my_ranks;  // the ranks this server starts
  std::string tmpdir;              // for the ranks' session files (PMIX_TMPDIR)
};

// Hosts grouped into PMIx nodes by name: `host_names[h]` is host h's node
// name, `ranks_per_host[h]` its number of ranks (in blocks, host by host);
// hosts of one name share a node. Without names, every host is a node of
// its own ("host<h>").
struct PmixNodes {
  std::vector<std::string> names;
  std::vector<std::vector<uint32_t>> ranks;
  std::vector<uint32_t> node_of_host;
};
PmixNodes pmix_nodes(const std::vector<uint32_t>& ranks_per_host,
                     const std::vector<std::string>& host_names);

class PmixServer {
 public:
  // Starts the server library on a thread of its own: it loads libpmix,
  // reads the machine's topology and opens its listener, which takes
  // milliseconds the agent need not wait for. `tmpdir` holds its rendezvous
  // and shared-memory files; `node_name` is this machine's name in the job.
  static std::unique_ptr<PmixServer> start(asio::io_context& io, std::string tmpdir,
                                           std::string node_name);
  ~PmixServer();  // finalizes the library
  PmixServer(const PmixServer&) = delete;
  PmixServer& operator=(const PmixServer&) = delete;

  // Blocks until started (at most `timeout`); an error says why PMIx cannot
  // be served (no libpmix, the library failed).
  Status ready(std::chrono::milliseconds timeout);
  // Whether start-up is over (well or not), without waiting.
  bool started() const;
  // Runs `fn` on the io_context once start-up is over (now, if it is).
  void when_started(std::function<void()> fn);
  // Registers the job and this host's ranks, so they can connect; blocks for
  // the library (bounded). `job` must outlive the server.
  Status register_job(const PmixJobInfo& info, PmixJob& job);
  // What rank `rank` needs in its environment to find this server:
  // PMIX_NAMESPACE, PMIX_RANK, PMIX_SERVER_URI*, ...
  Result<std::vector<std::string>> rank_environment(uint32_t rank);

  struct Core;

 private:
  PmixServer() = default;
  std::shared_ptr<Core> core_;
};

}  // namespace meshrun
