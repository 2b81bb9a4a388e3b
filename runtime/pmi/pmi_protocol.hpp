// The PMI-1 "simple" wire protocol that MPICH's ranks speak to their launcher
// over PMI_FD: one request per line, `cmd=NAME key=value ...\n`.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "util/result.hpp"

namespace meshrun {

// A rank that sends more than this without a newline is broken or hostile.
inline constexpr size_t kPmiMaxLine = 64 * 1024;

// What get_maxes advertises; Hydra's numbers, which MPICH 4.0 is built around.
struct PmiLimits {
  int kvsname_max = 256;
  int keylen_max = 64;
  int vallen_max = 1024;
  size_t max_line = kPmiMaxLine;
};

struct PmiCommand {
  std::string name;    // the value of cmd= (or mcmd=)
  bool multi = false;  // mcmd=: a multi-line command that ends with a line "endcmd"
  std::vector<std::pair<std::string, std::string>> args;  // in order, without cmd=

  const std::string* find(std::string_view key) const;
};

// Parses one line without its trailing newline. Tokens are separated by
// spaces; a value runs to the next space and may itself contain '='.
Result<PmiCommand> parse_pmi_line(std::string_view line, size_t max_line = kPmiMaxLine);

// True when `s` can travel as a key or value: no spaces, newlines or other
// control bytes.
bool is_pmi_token(std::string_view s);

// "cmd=NAME k1=v1 k2=v2\n". Keys and values must satisfy is_pmi_token.
std::string format_pmi(
    std::string_view cmd,
    std::initializer_list<std::pair<std::string_view, std::string_view>> args = {});

}  // namespace meshrun
