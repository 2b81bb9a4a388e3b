// Which ranks live on which host: blocks of consecutive ranks, host by host,
// as mpirun and srun place them. PMI-1's process mapping, PMIx's node and
// proc maps and GROUP_WORLD_SIZE all read it from here.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace meshrun {

struct JobLayout {
  std::vector<uint32_t> ranks_per_host;

  // `size` ranks, `per_host` on each host but the last, which holds the rest.
  static JobLayout blocks(uint32_t size, uint32_t per_host);

  uint32_t num_hosts() const { return static_cast<uint32_t>(ranks_per_host.size()); }
  uint32_t size() const;
  uint32_t first_rank(uint32_t host) const;
  // The host of `rank`; num_hosts() when the rank is past the end.
  uint32_t host_of(uint32_t rank) const;
};

}  // namespace meshrun
