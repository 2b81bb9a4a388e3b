#include "pmi/pmi_protocol.hpp"

#include <cctype>

namespace meshrun {

namespace {

bool is_control(char c) {
  auto u = static_cast<unsigned char>(c);
  return u < 0x20 || u == 0x7f;
}

bool looks_like_pmi2(std::string_view line) {
  // PMI-2 frames start with a 6-digit length, then "cmd=...;".
  if (line.size() < 10) return false;
  for (size_t i = 0; i < 6; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(line[i]))) return false;
  }
  return line.substr(6, 4) == "cmd=";
}

}  // namespace

const std::string* PmiCommand::find(std::string_view key) const {
  for (const auto& [k, v] : args) {
    if (k == key) return &v;
  }
  return nullptr;
}

bool is_pmi_token(std::string_view s) {
  for (char c : s) {
    if (c == ' ' || is_control(c)) return false;
  }
  return true;
}

Result<PmiCommand> parse_pmi_line(std::string_view line, size_t max_line) {
  if (line.size() > max_line) {
    return make_error(Errc::protocol, "PMI line of " + std::to_string(line.size()) +
                                          " bytes exceeds the limit of " +
                                          std::to_string(max_line));
  }
  if (looks_like_pmi2(line)) {
    return make_error(Errc::protocol,
                      "the rank speaks the PMI-2 wire protocol; only PMI-1 is served");
  }
  for (char c : line) {
    if (is_control(c)) return make_error(Errc::protocol, "PMI line contains a control byte");
  }

  PmiCommand cmd;
  bool have_name = false;
  size_t pos = 0;
  while (pos < line.size()) {
    if (line[pos] == ' ') {
      ++pos;
      continue;
    }
    size_t end = line.find(' ', pos);
    if (end == std::string_view::npos) end = line.size();
    std::string_view token = line.substr(pos, end - pos);
    pos = end;

    size_t eq = token.find('=');
    if (eq == std::string_view::npos) {
      return make_error(Errc::protocol,
                        "PMI token without '=': '" + std::string(token.substr(0, 64)) + "'");
    }
    std::string_view key = token.substr(0, eq);
    std::string_view value = token.substr(eq + 1);
    if (key.empty()) return make_error(Errc::protocol, "PMI token with an empty key");

    if (!have_name) {
      if (key != "cmd" && key != "mcmd") {
        return make_error(Errc::protocol, "PMI line does not start with cmd= or mcmd=");
      }
      if (value.empty()) return make_error(Errc::protocol, "PMI line with an empty command name");
      cmd.name = std::string(value);
      cmd.multi = key == "mcmd";
      have_name = true;
      continue;
    }
    if (key == "cmd" || key == "mcmd" || cmd.find(key) != nullptr) {
      return make_error(Errc::protocol, "duplicate key '" + std::string(key) + "' in PMI line");
    }
    cmd.args.emplace_back(std::string(key), std::string(value));
  }
  if (!have_name) return make_error(Errc::protocol, "empty PMI line");
  return cmd;
}

std::string format_pmi(std::string_view cmd,
                       std::initializer_list<std::pair<std::string_view, std::string_view>> args) {
  std::string out = "cmd=";
  out += cmd;
  for (const auto& [k, v] : args) {
    out += ' ';
    out += k;
    out += '=';
    out += v;
  }
  out += '\n';
  return out;
}

}  // namespace meshrun
