#include "pmi/pmi_session.hpp"

#include <charconv>
#include <utility>

namespace meshrun {

namespace {

// Job-supplied text goes back to the rank as one token.
std::string as_token(std::string_view s) {
  std::string out(s.substr(0, 200));
  for (char& c : out) {
    auto u = static_cast<unsigned char>(c);
    if (c == ' ' || u < 0x20 || u == 0x7f) c = '_';
  }
  return out.empty() ? "error" : out;
}

std::optional<int> parse_int(const std::string* s) {
  if (s == nullptr) return std::nullopt;
  int v = 0;
  auto [ptr, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || ptr != s->data() + s->size()) return std::nullopt;
  return v;
}

}  // namespace

PmiSession::PmiSession(PmiJob& job, int rank, Send send, PmiLimits limits, OnFailure on_failure)
    : job_(job),
      rank_(rank),
      send_(std::move(send)),
      limits_(limits),
      on_failure_(std::move(on_failure)),
      alive_(std::make_shared<bool>(true)) {}

PmiSession::~PmiSession() = default;

Status PmiSession::feed(std::string_view bytes) {
  if (state_ == PmiSessionState::failed) return error_;
  if (state_ == PmiSessionState::aborted) return {};
  in_feed_ = true;
  in_.append(bytes);
  pump();
  if (state_ != PmiSessionState::failed && state_ != PmiSessionState::aborted) {
    // Bound what a rank can make us hold: one unfinished line, or a few lines
    // queued behind a barrier it is waiting in.
    size_t nl = in_.find('\n');
    if (nl == std::string::npos && in_.size() > limits_.max_line) {
      fail(make_error(Errc::protocol, "PMI line longer than " + std::to_string(limits_.max_line) +
                                          " bytes from rank " + std::to_string(rank_)));
    } else if (in_.size() > 4 * limits_.max_line) {
      fail(make_error(Errc::protocol, "rank " + std::to_string(rank_) +
                                          " sent too much while waiting for a reply"));
    }
  }
  in_feed_ = false;
  if (state_ == PmiSessionState::failed) return error_;
  return {};
}

Result<PmiEnd> PmiSession::end_of_stream() {
  switch (state_) {
    case PmiSessionState::failed:
      return error_;
    case PmiSessionState::aborted:
      return PmiEnd::aborted;
    case PmiSessionState::finalized:
      return PmiEnd::finalized;
    case PmiSessionState::fresh:
      if (in_.empty()) return PmiEnd::unused;
      break;
    case PmiSessionState::initialized:
      break;
  }
  return make_error(Errc::closed,
                    "rank " + std::to_string(rank_) + " closed its PMI connection before finalize");
}

void PmiSession::pump() {
  if (pumping_) return;  // a done callback ran inside a job call; the outer loop goes on
  pumping_ = true;
  while (!waiting_ && state_ != PmiSessionState::failed && state_ != PmiSessionState::aborted) {
    size_t nl = in_.find('\n');
    if (nl == std::string::npos) break;
    std::string line = in_.substr(0, nl);
    in_.erase(0, nl + 1);
    if (auto st = handle_line(line); !st) {
      fail(st.error());
      break;
    }
  }
  if (state_ == PmiSessionState::aborted) in_.clear();
  pumping_ = false;
}

// MPI_Publish_name and friends: the reply waits for the job's name service,
// as a get waits for the KVS.
void PmiSession::name_service(const PmiCommand& cmd) {
  const std::string& name = cmd.name;
  const std::string result = name == "publish_name"     ? "publish_result"
                             : name == "unpublish_name" ? "unpublish_result"
                                                        : "lookup_result";
  const std::string* service = cmd.find("service");
  const std::string* port = cmd.find("port");
  JobNames* names = job_.names();
  auto fail_now = [&](std::string_view why) {
    reply(format_pmi(result, {{"rc", "-1"}, {"msg", why}}));
  };
  if (!names) return fail_now("no_name_service");
  if (!service || service->empty()) return fail_now("service_missing");
  if (name == "publish_name" && (!port || port->empty())) return fail_now("port_missing");
  waiting_ = true;
  std::weak_ptr<bool> alive = alive_;
  auto answer = [this, alive, result](NameStatus st, const std::string* value) {
    if (alive.expired() || !waiting_) return;
    waiting_ = false;
    if (st != NameStatus::ok) {
      reply(format_pmi(result, {{"rc", "-1"}, {"msg", name_status_text(st)}}));
    } else if (!value) {
      reply(format_pmi(result, {{"rc", "0"}, {"msg", "success"}}));
    } else if (is_pmi_token(*value) && !value->empty()) {
      reply(format_pmi(result, {{"rc", "0"}, {"msg", "success"}, {"port", *value}}));
    } else {
      // Published through PMIx as something other than a string.
      reply(format_pmi(result, {{"rc", "-1"}, {"msg", "not_a_pmi_1_value"}}));
    }
    pump();
  };
  const auto rank = static_cast<uint32_t>(rank_);
  if (name == "publish_name") {
    names->publish(rank, *service, *port, [answer](NameStatus st) { answer(st, nullptr); });
  } else if (name == "unpublish_name") {
    names->unpublish(rank, *service, [answer](NameStatus st) { answer(st, nullptr); });
  } else {
    names->lookup(rank, *service, 0,
                  [answer](NameStatus st, const PublishedName& n) { answer(st, &n.value); });
  }
}

void PmiSession::fail(Error error) {
  if (state_ == PmiSessionState::failed) return;
  state_ = PmiSessionState::failed;
  error_ = std::move(error);
  in_.clear();
  if (!in_feed_ && on_failure_) on_failure_(error_);
}

void PmiSession::reply(std::string line) {
  if (state_ == PmiSessionState::failed) return;
  send_(line);
}

Status PmiSession::handle_line(std::string_view line) {
  if (in_multi_) return handle_multi_line(line);
  auto cmd = parse_pmi_line(line, limits_.max_line);
  if (!cmd) {
    return make_error(cmd.error().code,
                      "rank " + std::to_string(rank_) + ": " + cmd.error().message);
  }
  return handle(*cmd);
}

Status PmiSession::handle_multi_line(std::string_view line) {
  multi_bytes_ += line.size() + 1;
  if (multi_bytes_ > 16 * limits_.max_line) {
    return make_error(Errc::protocol, "PMI multi-line command too long");
  }
  while (!line.empty() && line.back() == ' ')
    line.remove_suffix(1);
  if (line != "endcmd") return {};
  in_multi_ = false;
  // Spawning from inside a job (MPI_Comm_spawn) is not offered.
  job_.spawn_refused(rank_);
  reply(format_pmi("spawn_result", {{"rc", "-1"}, {"errmsg", "meshrun_does_not_spawn_processes"}}));
  return {};
}

Status PmiSession::handle(const PmiCommand& cmd) {
  const std::string& name = cmd.name;
  auto err = [&](std::string what) {
    return make_error(Errc::protocol, "rank " + std::to_string(rank_) + ": " + what);
  };

  if (name == "init" && !cmd.multi) {
    if (state_ != PmiSessionState::fresh) return err("PMI init sent twice");
    const std::string* version = cmd.find("pmi_version");
    const std::string* sub = cmd.find("pmi_subversion");
    bool ok =
        version != nullptr && *version == "1" && sub != nullptr && (*sub == "0" || *sub == "1");
    reply(format_pmi("response_to_init",
                     {{"pmi_version", "1"}, {"pmi_subversion", "1"}, {"rc", ok ? "0" : "-1"}}));
    if (ok) state_ = PmiSessionState::initialized;
    return {};
  }
  if (name == "initack") {
    return err("the PMI_PORT/PMI_ID handshake is not supported; ranks must be given PMI_FD");
  }
  if (state_ == PmiSessionState::fresh) return err("PMI command '" + name + "' before init");
  if (state_ == PmiSessionState::finalized) {
    return err("PMI command '" + name + "' after finalize");
  }

  if (cmd.multi) {
    if (name != "spawn") return err("unsupported PMI multi-line command '" + name + "'");
    in_multi_ = true;
    multi_bytes_ = 0;
    return {};
  }

  if (name == "get_maxes") {
    reply(format_pmi("maxes", {{"rc", "0"},
                               {"kvsname_max", std::to_string(limits_.kvsname_max)},
                               {"keylen_max", std::to_string(limits_.keylen_max)},
                               {"vallen_max", std::to_string(limits_.vallen_max)}}));
    return {};
  }
  if (name == "get_appnum") {
    reply(format_pmi("appnum", {{"rc", "0"}, {"appnum", std::to_string(job_.appnum(rank_))}}));
    return {};
  }
  if (name == "get_universe_size") {
    reply(
        format_pmi("universe_size", {{"rc", "0"}, {"size", std::to_string(job_.universe_size())}}));
    return {};
  }
  if (name == "get_my_kvsname") {
    reply(format_pmi("my_kvsname", {{"rc", "0"}, {"kvsname", as_token(job_.kvsname())}}));
    return {};
  }

  if (name == "put") {
    const std::string* kvs = cmd.find("kvsname");
    const std::string* key = cmd.find("key");
    const std::string* value = cmd.find("value");
    std::string problem;
    if (kvs != nullptr && *kvs != job_.kvsname()) {
      problem = "kvs_" + *kvs + "_not_found";
    } else if (key == nullptr || key->empty() || value == nullptr) {
      problem = "put_needs_key_and_value";
    } else if (key->size() > static_cast<size_t>(limits_.keylen_max)) {
      problem = "key_too_long";
    } else if (value->size() > static_cast<size_t>(limits_.vallen_max)) {
      problem = "value_too_long";
    } else if (auto st = job_.put(rank_, *key, *value); !st) {
      problem = as_token(st.error().message);
    }
    if (problem.empty()) {
      reply(format_pmi("put_result", {{"rc", "0"}, {"msg", "success"}}));
    } else {
      reply(format_pmi("put_result", {{"rc", "-1"}, {"msg", as_token(problem)}}));
    }
    return {};
  }

  if (name == "get") {
    const std::string* kvs = cmd.find("kvsname");
    const std::string* key = cmd.find("key");
    if (key == nullptr || key->empty() || (kvs != nullptr && *kvs != job_.kvsname())) {
      std::string msg =
          key == nullptr || key->empty() ? "get_needs_key" : "kvs_" + *kvs + "_not_found";
      reply(format_pmi("get_result", {{"rc", "-1"}, {"msg", as_token(msg)}, {"value", "unknown"}}));
      return {};
    }
    waiting_ = true;
    std::weak_ptr<bool> alive = alive_;
    std::string k = *key;
    job_.get(rank_, k, [this, alive, k](std::optional<std::string> value) {
      if (alive.expired() || !waiting_) return;
      waiting_ = false;
      if (value && is_pmi_token(*value)) {
        reply(format_pmi("get_result", {{"rc", "0"}, {"msg", "success"}, {"value", *value}}));
      } else {
        reply(format_pmi(
            "get_result",
            {{"rc", "-1"}, {"msg", as_token("key_" + k + "_not_found")}, {"value", "unknown"}}));
      }
      pump();
    });
    return {};
  }

  if (name == "barrier_in") {
    waiting_ = true;
    std::weak_ptr<bool> alive = alive_;
    job_.barrier_enter(rank_, [this, alive] {
      if (alive.expired() || !waiting_) return;
      waiting_ = false;
      reply(format_pmi("barrier_out"));
      pump();
    });
    return {};
  }

  if (name == "finalize") {
    state_ = PmiSessionState::finalized;
    job_.finalized(rank_);
    reply(format_pmi("finalize_ack"));
    return {};
  }

  if (name == "abort") {
    int code = parse_int(cmd.find("exitcode")).value_or(1);
    std::string message;
    if (const std::string* m = cmd.find("error_msg")) {
      message = *m;
    } else if (const std::string* m2 = cmd.find("msg")) {
      message = *m2;
    }
    state_ = PmiSessionState::aborted;
    in_.clear();
    job_.abort(rank_, code, message);
    return {};
  }

  if (name == "publish_name" || name == "unpublish_name" || name == "lookup_name") {
    name_service(cmd);
    return {};
  }

  return err("unsupported PMI command '" + name + "'");
}

}  // namespace meshrun
