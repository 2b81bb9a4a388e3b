#include "alloc_probe.hpp"

#include <cstdlib>
#include <new>

namespace {
// Test threads only; the probe is never used from two threads at once.
thread_local bool g_active = false;
thread_local size_t g_largest = 0;

void* allocate(size_t n) {
  if (g_active && n > g_largest) g_largest = n;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(size_t n) {
  return allocate(n);
}
void* operator new[](size_t n) {
  return allocate(n);
}
// The nothrow forms too: otherwise they come from the runtime (or ASan) and
// their memory would reach our delete, a mismatched pair.
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void* operator new[](size_t n, const std::nothrow_t&) noexcept {
  try {
    return allocate(n);
  } catch (...) {
    return nullptr;
  }
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, size_t) noexcept {
  std::free(p);
}

namespace alloc_probe {

Scope::Scope() {
  g_largest = 0;
  g_active = true;
}
Scope::~Scope() {
  g_active = false;
}
size_t Scope::largest() const {
  return g_largest;
}

}  // namespace alloc_probe
