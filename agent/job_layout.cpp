#include "agent/job_layout.hpp"

#include <algorithm>

namespace meshrun {

JobLayout JobLayout::blocks(uint32_t size, uint32_t per_host) {
  JobLayout l;
  per_host = std::max<uint32_t>(1, per_host);
  for (uint32_t first = 0; first < size; first += per_host)
    l.ranks_per_host.push_back(std::min(per_host, size - first));
  return l;
}

uint32_t JobLayout::size() const {
  uint32_t n = 0;
  for (uint32_t c : ranks_per_host)
    n += c;
  return n;
}

uint32_t JobLayout::first_rank(uint32_t host) const {
  uint32_t first = 0;
  for (uint32_t h = 0; h < host && h < ranks_per_host.size(); ++h)
    first += ranks_per_host[h];
  return first;
}

uint32_t JobLayout::host_of(uint32_t rank) const {
  uint32_t first = 0;
  for (uint32_t h = 0; h < ranks_per_host.size(); ++h) {
    first += ranks_per_host[h];
    if (rank < first) return h;
  }
  return num_hosts();
}

}  // namespace meshrun
