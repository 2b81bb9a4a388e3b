// Which processes belong to this host's share of the job, and ending them.
// Where the agent may make a cgroup v2 (root, or a delegated subtree), the
// ranks join the job's cgroup before they exec, and everything they start
// stays in it whatever it does with sessions and process groups; the job's
// end kills it with cgroup.kill. Elsewhere the process tree is the record:
// the agent's keeper is a child subreaper, so orphans stay below it, and the
// job's end SIGKILLs whatever the ranks left there. Either way the keeper
// (agent/keeper.hpp) repeats that sweep when the agent dies or is stopped.
//
// MESHRUN_PROC_TRACKING=auto (default) | cgroup | subreaper chooses.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <cstdint>
#include <string>

#include "util/result.hpp"

namespace meshrun::proc_tracker {

// Once the agent is a host: picks the tracking, makes the job's cgroup,
// tells the keeper, and beats to it so it knows this agent still runs.
// An error only when MESHRUN_PROC_TRACKING asks for what cannot be had.
Status begin(asio::io_context& io, const std::string& job_id, uint32_t host_rank,
             std::chrono::milliseconds heartbeat_timeout);

// "cgroup /sys/fs/cgroup/meshrun-..." or "subreaper (why no cgroup)".
const std::string& description();

// The cgroup.procs a rank joins before it execs; -1 without a cgroup.
int spawn_cgroup_fd();

// After the ranks are gone: SIGKILLs whatever they left behind, and returns
// once it is gone (or `limit` passed).
asio::awaitable<void> sweep(asio::io_context& io, std::chrono::milliseconds limit);

}  // namespace meshrun::proc_tracker
