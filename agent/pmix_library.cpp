#include "agent/pmix_library.hpp"

#include <dlfcn.h>

#include <mutex>

namespace meshrun {

namespace {

template <class F>
bool bind(void* handle, const char* name, F& fn, std::string& missing) {
  fn = reinterpret_cast<F>(::dlsym(handle, name));
  if (!fn) missing += (missing.empty() ? "" : ", ") + std::string(name);
  return fn != nullptr;
}

}  // namespace

const PmixLibrary* PmixLibrary::load(std::string* why) {
  static std::once_flag once;
  static PmixLibrary lib;
  static const PmixLibrary* loaded = nullptr;
  static std::string error;
  std::call_once(once, [] {
    // Never unloaded: its threads live until PMIx_server_finalize, and its
    // atexit handlers until the end.
    void* h = ::dlopen(kPmixSoname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
      const char* e = ::dlerror();
      error = std::string("cannot load ") + kPmixSoname + " (Debian: libpmix2): " + (e ? e : "");
      return;
    }
    std::string missing;
    bind(h, "PMIx_server_init", lib.server_init, missing);
    bind(h, "PMIx_server_finalize", lib.server_finalize, missing);
    bind(h, "PMIx_server_register_nspace", lib.register_nspace, missing);
    bind(h, "PMIx_server_deregister_nspace", lib.deregister_nspace, missing);
    bind(h, "PMIx_server_register_client", lib.register_client, missing);
    bind(h, "PMIx_server_setup_fork", lib.setup_fork, missing);
    bind(h, "PMIx_generate_regex", lib.generate_regex, missing);
    bind(h, "PMIx_generate_ppn", lib.generate_ppn, missing);
    bind(h, "PMIx_Error_string", lib.error_string, missing);
    if (!missing.empty()) {
      error = std::string(kPmixSoname) + " lacks " + missing;
      return;
    }
    loaded = &lib;
  });
  if (!loaded && why) *why = error;
  return loaded;
}

}  // namespace meshrun
