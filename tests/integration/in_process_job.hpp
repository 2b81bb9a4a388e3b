// A job whose launcher side is the runtime's ControlPlane in the test's own
// process, against one real local host agent with two TestActor procs (the
// built meshrun-agent and testactors plugin). The test then holds what a
// launcher holds, the secret included, and drives the mesh directly.
#pragma once

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <chrono>
#include <functional>
#include <string>

#include "auth/secret.hpp"
#include "control/control_plane.hpp"

namespace meshrun::test {

struct InProcessJob {
  asio::io_context& io;
  ControlPlane& plane;
  const Secret& secret;
  ProcMesh procs;    // hosts=1 x procs=2
  ActorMesh actors;  // a TestActor in each proc
};

// Returns what went wrong, or "".
using JobScenario = std::function<asio::awaitable<std::string>(InProcessJob&)>;

// Starts the job (its processes carry MESHRUN_TEST_MARKER=marker), runs
// `scenario`, shuts the job down. Returns the first error, or "" when all
// went well within `limit`.
std::string run_in_process_job(const std::string& marker, const JobScenario& scenario,
                               std::chrono::seconds limit = std::chrono::seconds(90));

}  // namespace meshrun::test
