#include "spec/spec_loader.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <limits>
#include <sstream>

#include "alloc/hostlist.hpp"
#include "process/child.hpp"
#include "spec/toml_depth.hpp"
#include "util/spelling.hpp"

namespace meshrun {

namespace {

std::string format_error(const std::string& file, uint32_t line, uint32_t column,
                         const std::string& key, const std::string& what) {
  std::string out;
  if (!file.empty()) out += file + ":";
  if (line != 0) {
    out += std::to_string(line) + ":";
    if (column != 0) out += std::to_string(column) + ":";
  }
  if (!out.empty()) out += " ";
  if (!key.empty()) out += key + ": ";
  return out + what;
}

}  // namespace

SpecError::SpecError(std::string file, uint32_t line, uint32_t column, std::string key,
                     std::string what)
    : std::runtime_error(format_error(file, line, column, key, what)),
      file_(std::move(file)),
      line_(line),
      column_(column),
      key_(std::move(key)),
      message_(std::move(what)) {}

std::string SpecError::describe() const {
  return std::runtime_error::what();
}

namespace {

constexpr size_t kMaxHosts = 65536;
// What an actor message may carry: the frame limit (wire/frame.hpp) less
// room for the message's head.
constexpr size_t kMaxCastPayload = (64u << 20) - (64u << 10);
constexpr int64_t kMaxProcsPerHost = 65536;

constexpr std::string_view kDefaultJob =
    R"(# The default job: two local hosts with two procs each, one TestActor
# per proc, and one GetActorId cast to all of them.

[job]
name = "local"

[hosts]
launcher = "local"    # every host is an agent on this machine
count = 2

[procs]
name = "p0"
extent = { procs = 2 }    # per host

[actors]
name = "a0"
plugin = "testactors"    # a bare name: looked up among meshrun's plugins
type = "TestActor"

[cast]
message = "GetActorId"    # no slice: the whole mesh
timeout = "10s"
)";

std::string join(const std::string& path, std::string_view key) {
  return path.empty() ? std::string(key) : path + "." + std::string(key);
}

std::string type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

std::string list_words(std::initializer_list<std::string_view> words) {
  std::string out;
  for (auto w : words)
    out += (out.empty() ? "" : ", ") + std::string(w);
  return out;
}

bool valid_dim_name(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
  });
}

bool before(const toml::source_position& a, const toml::source_position& b) {
  return a.line != b.line ? a.line < b.line : a.column < b.column;
}

std::string at_line(const toml::node& n) {
  return "(line " + std::to_string(n.source().begin.line) + ")";
}

// Walks the parsed table; every accessor checks type and range and throws a
// SpecError pointing at the node that is wrong.
class Loader {
 public:
  Loader(std::string source, std::filesystem::path base_dir)
      : source_(std::move(source)), base_dir_(std::move(base_dir)) {}

  JobSpec load(const toml::table& root) {
    JobSpec spec;
    spec.source = source_;
    check_keys(root, "", {"job", "hosts", "procs", "actors", "cast", "controller", "output"});
    if (const auto* t = table(root, "", "job")) load_job(*t, spec);
    if (const auto* t = table(root, "", "hosts")) load_hosts(*t, spec.hosts);
    const auto* procs = table(root, "", "procs");
    if (procs) load_procs(*procs, spec.procs);
    const toml::node* actors = root.get("actors");
    for (const toml::table* t : tables(actors, "actors"))
      spec.actors.push_back(load_actors(*t, spec, spec.actors.size()));
    const toml::node* controller = root.get("controller");
    if (controller) {
      if (!controller->is_table()) wrong_type(*controller, "controller", "a table");
      spec.controller = load_controller(*controller->as_table());
    }
    const toml::node* first_mode = actors ? actors : controller;
    if (first_mode && spec.command_mode()) {
      fail(*first_mode, actors ? "actors" : "controller",
           std::string(actors ? "[actors]" : "[controller]") + " contradicts procs.command " +
               at_line(*procs->get("command")) +
               ": a job either runs a command in every proc or spawns actors; remove one");
    }
    if (!spec.actor_mode() && !spec.command_mode()) {
      fail(root.source(), "actors",
           "the spec runs nothing: add an [actors] table (plugin and type), a [controller], or "
           "procs.command");
    }
    const toml::node* casts = root.get("cast");
    if (casts && controller) {
      fail(*casts, "cast",
           "[cast] contradicts [controller] " + at_line(*controller) +
               ": with a controller, the controller makes the calls; remove [cast]");
    }
    if (casts && spec.actors.empty()) {
      fail(*casts, "cast",
           "[cast] needs [actors]: in command mode there are no actors to cast to; remove "
           "[cast]");
    }
    for (const toml::table* t : tables(casts, "cast"))
      spec.casts.push_back(load_cast(*t, spec));
    if (const auto* t = table(root, "", "output")) load_output(*t, spec.output);
    return spec;
  }

 private:
  [[noreturn]] void fail(const toml::source_region& where, const std::string& key,
                         const std::string& what) const {
    throw SpecError(source_, where.begin.line, where.begin.column, key, what);
  }
  [[noreturn]] void fail(const toml::node& n, const std::string& key,
                         const std::string& what) const {
    fail(n.source(), key, what);
  }
  [[noreturn]] void wrong_type(const toml::node& n, const std::string& key,
                               std::string_view expected) const {
    fail(n, key, "expected " + std::string(expected) + ", got " + type_name(n.type()));
  }

  void check_keys(const toml::table& t, const std::string& path,
                  std::initializer_list<std::string_view> allowed) const {
    for (auto&& [k, v] : t) {
      const std::string_view name = k.str();
      if (std::find(allowed.begin(), allowed.end(), name) != allowed.end()) continue;
      std::string what = "unknown key \"" + std::string(name) + "\"";
      const auto best = nearest_word(name, std::vector<std::string_view>(allowed));
      if (best) what += "; did you mean \"" + *best + "\"?";
      what += std::string(best ? "" : ";") + " allowed " +
              (path.empty() ? "sections" : "keys in [" + path + "]") + ": " + list_words(allowed);
      fail(k.source(), join(path, name), what);
    }
  }

  // A section written once ([cast]) or as an array of tables ([[cast]]).
  std::vector<const toml::table*> tables(const toml::node* n, const std::string& key) const {
    std::vector<const toml::table*> out;
    if (!n) return out;
    if (n->is_table()) {
      out.push_back(n->as_table());
    } else if (n->is_array_of_tables()) {
      for (const toml::node& e : *n->as_array())
        out.push_back(e.as_table());
    } else {
      wrong_type(*n, key, "a table ([" + key + "]) or an array of tables ([[" + key + "]])");
    }
    return out;
  }

  std::string where_of(const toml::node& n) const {
    return source_ + ":" + std::to_string(n.source().begin.line);
  }

  const toml::table* table(const toml::table& t, const std::string& path,
                           std::string_view key) const {
    const toml::node* n = t.get(key);
    if (!n) return nullptr;
    if (!n->is_table()) wrong_type(*n, join(path, key), "a table");
    return n->as_table();
  }

  std::optional<std::string> string(const toml::table& t, const std::string& path,
                                    std::string_view key, bool allow_empty = true) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_string()) wrong_type(*n, join(path, key), "a string");
    std::string s = n->as_string()->get();
    if (!allow_empty && s.empty()) fail(*n, join(path, key), "must not be empty");
    return s;
  }

  std::optional<bool> boolean(const toml::table& t, const std::string& path,
                              std::string_view key) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    if (!n->is_boolean()) wrong_type(*n, join(path, key), "true or false");
    return n->as_boolean()->get();
  }

  int64_t integer_value(const toml::node& n, const std::string& key, int64_t min,
                        int64_t max) const {
    if (!n.is_integer()) wrong_type(n, key, "an integer");
    const int64_t v = n.as_integer()->get();
    if (v < min || v > max) {
      fail(n, key,
           std::to_string(v) + " is out of range; use " + std::to_string(min) + " to " +
               std::to_string(max));
    }
    return v;
  }

  std::optional<int64_t> integer(const toml::table& t, const std::string& path,
                                 std::string_view key, int64_t min, int64_t max) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    return integer_value(*n, join(path, key), min, max);
  }

  // A string like "5s", or a bare number of seconds.
  std::optional<Millis> duration(const toml::table& t, const std::string& path,
                                 std::string_view key, bool allow_zero) const {
    const toml::node* n = t.get(key);
    if (!n) return std::nullopt;
    const std::string k = join(path, key);
    Millis d{0};
    try {
      if (n->is_string()) {
        d = parse_duration(n->as_string()->get());
      } else if (n->is_integer() || n->is_floating_point()) {
        const double secs = n->is_integer() ? static_cast<double>(n->as_integer()->get())
                                            : n->as_floating_point()->get();
        std::ostringstream text;
        text.precision(17);
        text << secs;
        d = parse_duration(text.str());
      } else {
        wrong_type(*n, k, "a duration like \"10s\" or \"250ms\"");
      }
    } catch (const std::invalid_argument& e) {
      fail(*n, k, e.what());
    }
    if (!allow_zero && d.count() == 0) fail(*n, k, "must be longer than 0");
    return d;
  }

  std::vector<std::string> string_array(const toml::node& n, const std::string& key) const {
    if (!n.is_array()) wrong_type(n, key, "an array of strings");
    std::vector<std::string> out;
    for (const toml::node& e : *n.as_array()) {
      if (!e.is_string()) wrong_type(e, key, "an array of strings; this element is not a string");
      out.push_back(e.as_string()->get());
    }
    return out;
  }

  std::string resolve_path(const std::string& p) const {
    const std::filesystem::path path(p);
    if (path.is_absolute()) return p;
    return (base_dir_ / path).lexically_normal().string();
  }

  void load_job(const toml::table& t, JobSpec& spec) const {
    const std::string p = "job";
    check_keys(t, p, {"name", "timeout", "grace", "shutdown_timeout", "signal_forward"});
    if (auto v = string(t, p, "name", false)) spec.name = *v;
    if (auto v = string(t, p, "signal_forward", false)) {
      const auto sig = parse_signal_name(*v);
      if (!sig || !is_stop_signal(*sig))
        fail(*t.get("signal_forward"), "job.signal_forward",
             "unknown value \"" + *v + "\"; use \"int\", \"term\", \"hup\" or \"quit\"");
      spec.signal_forward = *sig;
    }
    if (auto v = duration(t, p, "timeout", true)) spec.timeout = *v;
    if (auto v = duration(t, p, "grace", true)) spec.grace = *v;
    if (auto v = duration(t, p, "shutdown_timeout", true)) spec.shutdown_timeout = *v;
  }

  void add_hosts(const toml::node& n, const std::string& key, std::vector<HostEntry>& list) const {
    if (!n.is_string()) wrong_type(n, key, "a host list string like \"node[1-4]\"");
    auto hosts = parse_host_list(n.as_string()->get(), kMaxHosts);
    if (!hosts) fail(n, key, hosts.error().message);
    if (list.size() + hosts->size() > kMaxHosts) {
      fail(n, key, "names more than " + std::to_string(kMaxHosts) + " hosts in all");
    }
    list.insert(list.end(), hosts->begin(), hosts->end());
  }

  void load_hosts(const toml::table& t, HostsSpec& hosts) const {
    const std::string p = "hosts";
    check_keys(t, p,
               {"launcher", "count", "list", "hostfile", "agent_path", "bind", "start_timeout",
                "heartbeat_timeout", "tree_threshold", "max_parallel", "ssh"});
    const toml::node* launcher = t.get("launcher");
    if (auto v = string(t, p, "launcher")) {
      if (*v == "auto") {
        hosts.launcher = LauncherKind::automatic;
      } else if (*v == "local") {
        hosts.launcher = LauncherKind::local;
      } else if (*v == "ssh") {
        hosts.launcher = LauncherKind::ssh;
      } else if (*v == "slurm") {
        hosts.launcher = LauncherKind::slurm;
      } else {
        fail(*launcher, "hosts.launcher",
             "unknown launcher \"" + *v + "\"; use \"auto\", \"local\", \"ssh\" or \"slurm\"");
      }
    }
    const toml::node* count = t.get("count");
    if (count)
      hosts.count = static_cast<uint32_t>(integer_value(*count, "hosts.count", 1, kMaxHosts));

    const toml::node* list = t.get("list");
    if (list) {
      if (list->is_array()) {
        if (list->as_array()->empty()) {
          fail(*list, "hosts.list", "empty; name at least one host or leave hosts.list out");
        }
        for (const toml::node& e : *list->as_array())
          add_hosts(e, "hosts.list", hosts.list);
      } else {
        add_hosts(*list, "hosts.list", hosts.list);
      }
    }
    const toml::node* hostfile = t.get("hostfile");
    if (hostfile) {
      if (list) {
        fail(*hostfile, "hosts.hostfile",
             "contradicts hosts.list " + at_line(*list) + "; name the hosts in one of them");
      }
      hosts.hostfile = resolve_path(*string(t, p, "hostfile", false));
      auto entries = parse_hostfile(hosts.hostfile);
      if (!entries) fail(*hostfile, "hosts.hostfile", entries.error().message);
      if (entries->empty()) fail(*hostfile, "hosts.hostfile", hosts.hostfile + " names no hosts");
      hosts.list = std::move(*entries);
    }
    if (const toml::node* named = list ? list : hostfile) {
      const std::string named_key = list ? "hosts.list" : "hosts.hostfile";
      // (With slurm, the list picks nodes of the allocation.)
      if (hosts.launcher == LauncherKind::local) {
        fail(*named, named_key,
             "contradicts hosts.launcher = \"local\" " + at_line(*launcher) +
                 ": the local launcher runs every host on this machine; remove " + named_key +
                 ", use count for local hosts, or use launcher \"ssh\"");
      }
      if (hosts.count > hosts.list.size()) {
        fail(*count, "hosts.count",
             std::to_string(hosts.count) + " hosts asked for, but " + named_key + " " +
                 at_line(*named) + " names only " + std::to_string(hosts.list.size()));
      }
    }

    if (auto v = string(t, p, "agent_path", false)) hosts.agent_path = *v;
    if (auto v = string(t, p, "bind", false)) hosts.bind = *v;
    if (auto v = duration(t, p, "start_timeout", false)) hosts.start_timeout = *v;
    if (auto v = duration(t, p, "heartbeat_timeout", false)) hosts.heartbeat_timeout = *v;
    if (auto v = integer(t, p, "tree_threshold", 1, kMaxHosts)) {
      hosts.tree_threshold = static_cast<uint32_t>(*v);
    }
    if (auto v = integer(t, p, "max_parallel", 1, kMaxHosts)) {
      hosts.max_parallel = static_cast<uint32_t>(*v);
    }
    if (const auto* ssh = table(t, p, "ssh")) {
      if (hosts.launcher == LauncherKind::local || hosts.launcher == LauncherKind::slurm) {
        fail(*ssh, "hosts.ssh",
             "[hosts.ssh] contradicts hosts.launcher = \"" +
                 std::string(hosts.launcher == LauncherKind::local ? "local" : "slurm") + "\" " +
                 at_line(*launcher) + "; remove [hosts.ssh] or use launcher \"ssh\"");
      }
      load_ssh(*ssh, hosts.ssh);
    }
  }

  void load_ssh(const toml::table& t, SshSpec& ssh) const {
    const std::string p = "hosts.ssh";
    check_keys(t, p, {"command", "user", "port", "identity_file", "options"});
    if (auto v = string(t, p, "command", false)) ssh.command = *v;
    if (auto v = string(t, p, "user", false)) ssh.user = *v;
    if (auto v = integer(t, p, "port", 1, 65535)) ssh.port = static_cast<uint16_t>(*v);
    if (auto v = string(t, p, "identity_file", false)) ssh.identity_file = *v;
    if (const toml::node* n = t.get("options")) ssh.options = string_array(*n, p + ".options");
  }

  void load_procs(const toml::table& t, ProcsSpec& procs) const {
    const std::string p = "procs";
    check_keys(t, p,
               {"name", "extent", "command", "env", "cwd", "spawn_timeout", "bind_to", "map_by"});
    if (auto v = string(t, p, "name", false)) procs.name = *v;
    if (const auto* extent = table(t, p, "extent")) procs.extent = load_extent(*extent);
    if (const toml::node* n = t.get("command")) {
      procs.command = string_array(*n, "procs.command");
      if (procs.command.empty()) fail(*n, "procs.command", "empty; give the program to run");
      if (procs.command[0].empty()) fail(*n, "procs.command", "the program name is empty");
    }
    if (const auto* env = table(t, p, "env")) {
      for (auto&& [k, v] : *env) {
        const std::string key = "procs.env." + std::string(k.str());
        if (k.str().empty() || k.str().find('=') != std::string_view::npos) {
          fail(k.source(), key, "an environment variable name must be non-empty without '='");
        }
        if (!v.is_string()) wrong_type(v, key, "a string");
        procs.env[std::string(k.str())] = v.as_string()->get();
      }
    }
    if (auto v = string(t, p, "cwd", false)) procs.cwd = *v;
    if (auto v = duration(t, p, "spawn_timeout", false)) procs.spawn_timeout = *v;
    procs.binding.bind = cpu_object(t, "bind_to", {"none", "hwthread", "core", "socket"});
    procs.binding.map = cpu_object(t, "map_by", {"slot", "hwthread", "core", "socket"});
  }

  CpuObject cpu_object(const toml::table& t, std::string_view key,
                       std::initializer_list<std::string_view> allowed) const {
    auto v = string(t, "procs", key);
    if (!v) return CpuObject::none;
    if (std::find(allowed.begin(), allowed.end(), *v) == allowed.end())
      fail(*t.get(key), join("procs", key),
           "unknown value \"" + *v + "\"; use " + list_words(allowed));
    return *parse_cpu_object(*v);
  }

  std::vector<DimSpec> load_extent(const toml::table& t) const {
    if (t.empty())
      fail(t, "procs.extent", "empty; give at least one dimension, e.g. { procs = 2 }");
    // toml++ keeps keys sorted; users expect their own order (it sets the rank layout).
    std::vector<std::pair<const toml::key*, const toml::node*>> dims;
    for (auto&& [k, v] : t)
      dims.emplace_back(&k, &v);
    std::sort(dims.begin(), dims.end(), [](const auto& a, const auto& b) {
      return before(a.first->source().begin, b.first->source().begin);
    });
    std::vector<DimSpec> out;
    int64_t product = 1;
    for (const auto& [k, v] : dims) {
      const std::string name(k->str());
      const std::string key = "procs.extent." + name;
      if (name == "hosts") {
        fail(k->source(), key,
             "\"hosts\" is reserved for the host dimension; name this one differently (e.g. "
             "\"procs\") and set the number of hosts with hosts.count");
      }
      if (!valid_dim_name(name)) {
        fail(k->source(), key,
             "a dimension name must be letters, digits and '_' and not start with a digit");
      }
      const int64_t size = integer_value(*v, key, 1, kMaxProcsPerHost);
      product *= size;
      if (product > kMaxProcsPerHost) {
        fail(*v, key,
             "the extent asks for more than " + std::to_string(kMaxProcsPerHost) +
                 " procs per host");
      }
      out.push_back({name, static_cast<uint32_t>(size)});
    }
    return out;
  }

  // A plugin and a type: what [[actors]] and [controller] both name.
  void load_plugin_type(const toml::table& t, const std::string& p, std::string& plugin,
                        std::string& type, std::string& params_toml) const {
    auto name = string(t, p, "plugin", false);
    if (!name) {
      fail(t, p + ".plugin",
           "missing; name the plugin library (e.g. plugin = \"testactors\" or a path to a .so)");
    }
    plugin = name->find('/') == std::string::npos ? *name : resolve_path(*name);
    auto ty = string(t, p, "type", false);
    if (!ty) {
      fail(t, p + ".type",
           "missing; name the type the plugin registers (e.g. type = \"TestActor\")");
    }
    type = *ty;
    if (const auto* params = table(t, p, "params")) {
      std::ostringstream os;
      os << *params;
      params_toml = os.str();
    }
  }

  ActorsSpec load_actors(const toml::table& t, const JobSpec& spec, size_t index) const {
    const std::string p =
        index == 0 && !t.get("name") ? "actors" : "actors[" + std::to_string(index) + "]";
    check_keys(t, p, {"name", "plugin", "type", "spawn_timeout", "params", "procs"});
    ActorsSpec a;
    a.where = where_of(t);
    if (auto v = string(t, p, "name", false)) {
      a.name = *v;
    } else if (index > 0) {
      fail(t, p + ".name", "missing; with several [[actors]] each needs a name to cast to");
    }
    if (!valid_dim_name(a.name) || a.name == spec.procs.name) {
      fail(*(t.get("name") ? t.get("name") : &t), p + ".name",
           "\"" + a.name + "\" is not a usable mesh name: use letters, digits and _ (and not " +
               "the proc mesh's name, \"" + spec.procs.name + "\")");
    }
    for (const auto& other : spec.actors)
      if (other.name == a.name)
        fail(*t.get("name"), p + ".name",
             "a second actor mesh named \"" + a.name + "\" (the first is at " + other.where + ")");
    load_plugin_type(t, p, a.plugin, a.type, a.params_toml);
    if (auto v = duration(t, p, "spawn_timeout", false)) a.spawn_timeout = *v;
    if (const auto* procs = table(t, p, "procs"))
      a.procs = load_slice(*procs, p + ".procs", proc_dims(spec));
    return a;
  }

  ControllerSpec load_controller(const toml::table& t) const {
    const std::string p = "controller";
    check_keys(t, p, {"plugin", "type", "params"});
    ControllerSpec c;
    c.where = where_of(t);
    load_plugin_type(t, p, c.plugin, c.type, c.params_toml);
    return c;
  }

  // The proc mesh's dimensions with the sizes the spec fixes (hosts may
  // still change with the command line; the launcher checks again).
  std::vector<std::pair<std::string, std::optional<uint32_t>>> proc_dims(
      const JobSpec& spec) const {
    std::vector<std::pair<std::string, std::optional<uint32_t>>> dims;
    std::optional<uint32_t> hosts;
    if (spec.hosts.count != 0)
      hosts = spec.hosts.count;
    else if (!spec.hosts.list.empty())
      hosts = static_cast<uint32_t>(spec.hosts.list.size());
    else if (spec.hosts.launcher == LauncherKind::local)
      hosts = 1;  // local hosts default to one
    dims.emplace_back("hosts", hosts);
    for (const auto& d : spec.procs.extent)
      dims.emplace_back(d.name, d.size);
    return dims;
  }

  // A slice table ({ hosts = 1, procs = "0..2" }) over `dims`, in the order written.
  std::vector<SliceSpec> load_slice(
      const toml::table& t, const std::string& key_prefix,
      const std::vector<std::pair<std::string, std::optional<uint32_t>>>& dims) const {
    std::vector<std::pair<const toml::key*, const toml::node*>> entries;
    for (auto&& [k, v] : t)
      entries.emplace_back(&k, &v);
    std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
      return before(a.first->source().begin, b.first->source().begin);
    });
    std::vector<SliceSpec> out;
    for (const auto& [k, v] : entries) {
      const std::string dim(k->str());
      const std::string key = key_prefix + "." + dim;
      const auto it =
          std::find_if(dims.begin(), dims.end(), [&](const auto& d) { return d.first == dim; });
      if (it == dims.end()) {
        std::string known;
        for (const auto& d : dims)
          known += (known.empty() ? "" : ", ") + d.first;
        fail(k->source(), key,
             "no dimension \"" + dim + "\" in the mesh; its dimensions are " + known);
      }
      out.push_back(slice_range(*v, key, dim, it->second));
    }
    return out;
  }

  // "a..b" (half-open), "a..=b" (inclusive) or an integer v (v..v+1).
  SliceSpec slice_range(const toml::node& v, const std::string& key, const std::string& dim,
                        std::optional<uint32_t> size) const {
    SliceSpec s;
    s.dim = dim;
    const std::string how = "use an index like 0 or a range like \"0..2\" or \"0..=1\"";
    if (v.is_integer()) {
      const int64_t i = integer_value(v, key, 0, std::numeric_limits<uint32_t>::max() - 1);
      s.begin = static_cast<uint32_t>(i);
      s.end = s.begin + 1;
    } else if (v.is_string()) {
      const std::string& text = v.as_string()->get();
      const size_t dots = text.find("..");
      const bool inclusive = dots != std::string::npos && text.compare(dots, 3, "..=") == 0;
      const auto number = [&](std::string_view digits, uint32_t& out) {
        if (digits.empty() || digits.size() > 9) return false;
        for (char c : digits) {
          if (c < '0' || c > '9') return false;
        }
        out = static_cast<uint32_t>(std::stoul(std::string(digits)));
        return true;
      };
      uint32_t b = 0;
      uint32_t e = 0;
      if (dots == std::string::npos || !number(std::string_view(text).substr(0, dots), b) ||
          !number(std::string_view(text).substr(dots + (inclusive ? 3 : 2)), e)) {
        fail(v, key, "\"" + text + "\" is not a range; " + how);
      }
      s.begin = b;
      s.end = inclusive ? e + 1 : e;
      if (s.begin >= s.end) {
        fail(v, key, "\"" + text + "\" is an empty range; the end must come after the start");
      }
    } else {
      wrong_type(v, key, "an index or a range string; " + how);
    }
    if (size && s.end > *size) {
      fail(v, key,
           "slice " + std::to_string(s.begin) + ".." + std::to_string(s.end) + " is outside " +
               dim + " (size " + std::to_string(*size) + ", indices 0.." + std::to_string(*size) +
               ")");
    }
    return s;
  }

  CastSpec load_cast(const toml::table& t, const JobSpec& spec) const {
    const std::string p = "cast";
    check_keys(t, p,
               {"mesh", "message", "payload", "slice", "timeout", "repeat", "reduce", "expect"});
    CastSpec c;
    c.where = where_of(t);
    const ActorsSpec* mesh = &spec.actors.front();
    if (auto v = string(t, p, "mesh", false)) {
      c.mesh = *v;
      auto it = std::find_if(spec.actors.begin(), spec.actors.end(),
                             [&](const ActorsSpec& a) { return a.name == *v; });
      if (it == spec.actors.end()) {
        std::string known;
        for (const auto& a : spec.actors)
          known += (known.empty() ? "" : ", ") + a.name;
        fail(*t.get("mesh"), p + ".mesh", "no actor mesh \"" + *v + "\"; the spec has " + known);
      }
      mesh = &*it;
    } else if (spec.actors.size() > 1) {
      fail(t, p + ".mesh", "missing; the spec has several actor meshes, so say which");
    }
    if (auto v = string(t, p, "message", false)) c.message = *v;
    if (auto v = string(t, p, "payload")) c.payload = *v;
    if (c.payload.size() > kMaxCastPayload) {
      fail(*t.get("payload"), p + ".payload",
           "is " + std::to_string(c.payload.size()) + " bytes; a message carries at most " +
               std::to_string(kMaxCastPayload) + " bytes (64 MiB less room for its head)");
    }
    if (const auto* slice = table(t, p, "slice")) {
      // In the actor mesh's coordinates: its dimensions are the proc
      // mesh's, as wide as the part it lives on.
      auto dims = proc_dims(spec);
      for (const auto& r : mesh->procs)
        for (auto& d : dims)
          if (d.first == r.dim) d.second = r.end - r.begin;
      c.slice = load_slice(*slice, p + ".slice", dims);
    }
    if (auto v = duration(t, p, "timeout", false)) c.timeout = *v;
    if (auto v = integer(t, p, "repeat", 1, 1'000'000)) c.repeat = static_cast<uint32_t>(*v);
    if (auto v = string(t, p, "reduce", false)) {
      static constexpr std::string_view kReducers[] = {"sum",   "min",    "max",
                                                       "count", "concat", "all_equal"};
      if (std::find(std::begin(kReducers), std::end(kReducers), *v) == std::end(kReducers))
        fail(*t.get("reduce"), p + ".reduce",
             "unknown reducer \"" + *v + "\"; use sum, min, max, count, concat or all_equal");
      c.reduce = *v;
    }
    if (auto v = string(t, p, "expect")) c.expect = *v;
    return c;
  }

  void load_output(const toml::table& t, OutputSpec& out) const {
    const std::string p = "output";
    check_keys(t, p, {"tag", "filename", "raw", "stdin"});
    if (auto v = boolean(t, p, "tag")) out.tag = *v;
    if (auto v = string(t, p, "filename", false)) out.filename_pattern = *v;
    if (auto v = boolean(t, p, "raw")) out.raw = *v;
    if (out.raw && out.tag) {
      fail(*t.get("raw"), "output.raw",
           "raw = true contradicts tag = true " + at_line(*t.get("tag")) +
               ": raw output is not split into lines, so it cannot be tagged; drop one");
    }
    if (auto v = string(t, p, "stdin")) {
      if (*v == "rank0") {
        out.stdin_mode = StdinMode::rank0;
      } else if (*v == "all") {
        out.stdin_mode = StdinMode::all;
      } else if (*v == "none") {
        out.stdin_mode = StdinMode::none;
      } else {
        fail(*t.get("stdin"), "output.stdin",
             "unknown mode \"" + *v + "\"; use \"rank0\", \"all\" or \"none\"");
      }
    }
  }

  std::string source_;
  std::filesystem::path base_dir_;
};

std::filesystem::path base_dir_of(const std::string& source) {
  std::error_code ec;
  std::filesystem::path dir = std::filesystem::path(source).parent_path();
  if (dir.empty()) dir = std::filesystem::current_path(ec);
  auto abs = std::filesystem::absolute(dir, ec);
  return ec ? dir : abs.lexically_normal();
}

}  // namespace

JobSpec load_job_spec_text(std::string_view toml_text, const std::string& source) {
  if (auto deep = find_toml_too_deep(toml_text))
    throw SpecError(source, deep->line, 0, "",
                    "tables nested " + std::to_string(deep->depth) + " deep here; a job spec " +
                        "may nest at most " + std::to_string(kMaxTomlDepth));
  toml::table root;
#if TOML_EXCEPTIONS
  try {
    root = toml::parse(toml_text, std::string_view(source));
  } catch (const toml::parse_error& e) {
    throw SpecError(source, e.source().begin.line, e.source().begin.column, "",
                    std::string(e.description()));
  }
#else
  toml::parse_result result = toml::parse(toml_text, std::string_view(source));
  if (!result) {
    const auto& e = result.error();
    throw SpecError(source, e.source().begin.line, e.source().begin.column, "",
                    std::string(e.description()));
  }
  root = std::move(result).table();
#endif
  return Loader(source, base_dir_of(source)).load(root);
}

JobSpec load_job_spec_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw SpecError(path, 0, 0, "", std::string("cannot open: ") + std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw SpecError(path, 0, 0, "", "cannot read the file");
  return load_job_spec_text(ss.str(), path);
}

bool parses_as_toml(const std::string& path) {
  // A job spec is small; a large data file given by mistake is not read whole.
  constexpr std::uintmax_t kLargest = 16u << 20;
  std::error_code ec;
  if (std::filesystem::file_size(path, ec) > kLargest || ec) return false;
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return false;
  // Too deep for toml++ to parse safely: the loader says so.
  if (find_toml_too_deep(ss.str())) return true;
#if TOML_EXCEPTIONS
  try {
    (void)toml::parse(ss.str(), std::string_view(path));
    return true;
  } catch (const toml::parse_error&) {
    return false;
  }
#else
  return static_cast<bool>(toml::parse(ss.str(), std::string_view(path)));
#endif
}

std::string_view default_job_toml() {
  return kDefaultJob;
}

}  // namespace meshrun
