// Watches the largest single heap allocation made while a probe is active, so
// a test can prove that a lying length never turns into a huge allocation.
#pragma once

#include <cstddef>

namespace alloc_probe {

class Scope {
 public:
  Scope();
  ~Scope();
  Scope(const Scope&) = delete;
  Scope& operator=(const Scope&) = delete;
  size_t largest() const;
};

}  // namespace alloc_probe
