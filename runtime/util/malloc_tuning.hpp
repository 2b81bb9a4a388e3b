// Large messages (a 1 MiB cast payload) are allocated and freed once per hop.
// By default glibc serves each from a fresh mmap, or trims the heap after
// it, so every message pays page faults and zeroing for its pages: this is
// most of what moving 1 MiB messages cost. Keep such buffers in the heap and
// keep a bounded amount of freed heap for the next message instead.
#pragma once

#include <malloc.h>

namespace meshrun {

inline void keep_message_buffers() {
  mallopt(M_MMAP_THRESHOLD, 16 << 20);  // blocks up to 16 MiB come from the heap
  mallopt(M_TRIM_THRESHOLD, 32 << 20);  // and up to 32 MiB of freed heap is kept
}

}  // namespace meshrun
