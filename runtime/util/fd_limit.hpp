// Open-file limits: raised as far as the hard limit allows, and checked
// against what a job needs before anything starts, so a large job fails at
// once with the number it needs instead of at its 160th rank.
#pragma once

#include <cstdint>

#include "util/result.hpp"

namespace meshrun {

// Raises the soft RLIMIT_NOFILE to the hard limit and remembers the soft
// limit it found, which children get back (select() breaks above 1024).
// Returns the soft limit now in force.
uint64_t raise_fd_limit();

// The soft limit raise_fd_limit() found, or the current one when it was not
// called: what spawned programs start with.
uint64_t original_fd_limit();

// Descriptors one process needs to hold `ranks` ranks of one host (a host
// agent) and talk to `hosts` hosts (the launcher, or a first-level host).
uint64_t fds_needed(uint64_t ranks, uint64_t hosts);

// An error naming the number needed and the hard limit when this process,
// even after raise_fd_limit(), cannot hold `ranks` ranks and `hosts` hosts.
Status check_fd_limit(uint64_t ranks, uint64_t hosts);

}  // namespace meshrun
