// The few references a process is sending to (or receiving for) right now,
// decoded once: an actor that sends a million messages to one peer parses
// its reference once, not a million times. Keyed by the reference's bytes.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "mesh/mesh_ref.hpp"

namespace meshrun {

class RefCache {
 public:
  // The decoded reference for `fields` (a reference's bytes without its
  // tag), or null when they are not a valid reference. Valid until the
  // next get().
  const MeshRef* get(std::string_view fields) {
    for (auto& e : entries_)
      if (e.used && e.fields == fields) {
        e.used = ++clock_;
        return &e.ref;
      }
    auto ref = decode_ref_fields(fields);
    if (!ref) return nullptr;
    Entry* oldest = &entries_[0];
    for (auto& e : entries_)
      if (e.used < oldest->used) oldest = &e;
    oldest->fields.assign(fields);
    oldest->ref = std::move(*ref);
    oldest->used = ++clock_;
    return &oldest->ref;
  }

 private:
  struct Entry {
    std::string fields;
    MeshRef ref;
    uint64_t used = 0;  // 0: empty
  };
  std::array<Entry, 8> entries_{};
  uint64_t clock_ = 0;
};

}  // namespace meshrun
