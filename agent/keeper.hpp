// The keeper: a small process that every host agent runs under, so that the
// agent's ranks and everything they started end with it, even when the agent
// itself is killed (SIGKILL) or stopped (SIGSTOP) and can do nothing.
//
//   meshrun-agent keeper       (comm meshrun-keeper; a child subreaper)
//    `- meshrun-agent bootstrap  (the host agent; dies with SIGTERM if the keeper goes)
//        `- ranks                (PR_SET_PDEATHSIG(SIGKILL): die with the agent)
//            `- their children   (orphans come to the keeper, not to init)
//
// The agent writes to the keeper on a pipe: the silence after which it must
// be killed, the job's cgroup, and a heartbeat. When the agent exits or dies,
// or says nothing for longer than that silence, the keeper SIGKILLs it, kills
// the job's cgroup (cgroup.kill) and removes it, SIGKILLs every process left
// below itself, and exits with the agent's status (its signal re-raised).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>

namespace meshrun::keeper {

// In bootstrap mode, first of all (one thread, no secret read yet): forks.
// The parent becomes the keeper and never returns; the child returns and
// goes on as the host agent. `argv` is main's: the keeper's reads "keeper".
// False (with the reason in `why`) if no keeper could be made.
bool start(char** argv, std::string& why);

// This agent's keeper (0 if there is none).
pid_t pid();

// Agent side. The keeper kills this agent after `silence` without a beat().
void set_silence_limit(std::chrono::milliseconds silence);
// The job's cgroup, for the keeper to kill and remove after the agent.
void set_cgroup(const std::string& path);
void beat();

}  // namespace meshrun::keeper
