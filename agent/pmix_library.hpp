// OpenPMIx's server library, loaded when a job needs it. The agent does not
// link libpmix: loading it (with libevent, hwloc, libudev, munge) would cost
// every agent of every job about a millisecond, and a host without it could
// not run meshrun-agent at all. The headers give the types; dlopen gives the
// functions.
#pragma once

#include <pmix.h>
#include <pmix_server.h>

#include <string>

namespace meshrun {

struct PmixLibrary {
  decltype(&PMIx_server_init) server_init = nullptr;
  decltype(&PMIx_server_finalize) server_finalize = nullptr;
  decltype(&PMIx_server_register_nspace) register_nspace = nullptr;
  decltype(&PMIx_server_deregister_nspace) deregister_nspace = nullptr;
  decltype(&PMIx_server_register_client) register_client = nullptr;
  decltype(&PMIx_server_setup_fork) setup_fork = nullptr;
  decltype(&PMIx_generate_regex) generate_regex = nullptr;
  decltype(&PMIx_generate_ppn) generate_ppn = nullptr;
  decltype(&PMIx_Error_string) error_string = nullptr;

  // The library, loaded once per process (thread-safe); null when it cannot
  // be, with the reason in `why`.
  static const PmixLibrary* load(std::string* why);
};

// The soname the headers were built for (Debian 12: libpmix.so.2).
inline constexpr const char* kPmixSoname = "libpmix.so.2";

}  // namespace meshrun
