#include "agent/pmix_server.hpp"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <asio/post.hpp>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

#include "agent/pmix_library.hpp"
#include "util/log.hpp"

namespace meshrun {

struct PmixServer::Core {
  explicit Core(asio::io_context& i) : io(i) {}
  asio::io_context& io;
  const PmixLibrary* lib = nullptr;
  std::string tmpdir;
  std::string node_name;

  // start(): the thread that runs PMIx_server_init, and what it found.
  std::thread init_thread;
  std::mutex mu;
  std::condition_variable cv;
  bool init_done = false;
  std::string init_error;  // empty: initialized
  bool initialized = false;
  std::function<void()> on_started;  // the loop thread's: when_started()

  // The loop thread's: the job served (null before register_job and after
  // the server is gone), its namespace and size.
  PmixJob* job = nullptr;
  std::string nspace;
  uint32_t size = 0;
};

namespace {

using Clock = std::chrono::steady_clock;

// The module's callbacks are plain C functions called on the library's
// progress thread; they find the server here.
std::mutex g_mu;
std::shared_ptr<PmixServer::Core> g_core;

std::shared_ptr<PmixServer::Core> current() {
  std::lock_guard lock(g_mu);
  return g_core;
}

// Runs `fn` on the agent's loop, if the server is still there then.
template <class F>
pmix_status_t on_loop(F fn) {
  auto core = current();
  if (!core) return PMIX_ERR_INIT;
  asio::post(core->io, [core, fn = std::move(fn)]() mutable {
    if (core->job) fn(*core);
  });
  return PMIX_SUCCESS;
}

bool reserved_key(const char* key) {
  return std::strncmp(key, "pmix", 4) == 0;
}

pmix_status_t to_pmix(NameStatus st) {
  switch (st) {
    case NameStatus::ok:
      return PMIX_SUCCESS;
    case NameStatus::not_found:
      return PMIX_ERR_NOT_FOUND;
    case NameStatus::duplicate:
      return PMIX_ERR_DUPLICATE_KEY;
    case NameStatus::bad_request:
      return PMIX_ERR_BAD_PARAM;
    case NameStatus::unavailable:
      return PMIX_ERR_UNREACH;
  }
  return PMIX_ERROR;
}

// Published values travel as strings: a PMIx string as itself (so PMI-1
// ranks can look it up), anything else as a marker byte, its type and its
// bytes.
constexpr char kTyped = '\x01';

template <class T>
void append_raw(std::string& out, const T& v) {
  out.append(reinterpret_cast<const char*>(&v), sizeof v);
}

std::optional<std::string> encode_value(const pmix_value_t& v) {
  std::string out(1, kTyped);
  append_raw(out, v.type);
  switch (v.type) {
    case PMIX_STRING: {
      std::string s = v.data.string ? v.data.string : "";
      if (s.empty() || s[0] != kTyped) return s;
      out += s;
      return out;
    }
    case PMIX_BYTE_OBJECT:
      out.append(v.data.bo.bytes ? v.data.bo.bytes : "", v.data.bo.size);
      return out;
    case PMIX_BOOL:
      append_raw(out, v.data.flag);
      return out;
    case PMIX_BYTE:
    case PMIX_UINT8:
      append_raw(out, v.data.uint8);
      return out;
    case PMIX_INT8:
      append_raw(out, v.data.int8);
      return out;
    case PMIX_INT16:
      append_raw(out, v.data.int16);
      return out;
    case PMIX_UINT16:
      append_raw(out, v.data.uint16);
      return out;
    case PMIX_INT32:
      append_raw(out, v.data.int32);
      return out;
    case PMIX_UINT32:
      append_raw(out, v.data.uint32);
      return out;
    case PMIX_INT64:
      append_raw(out, v.data.int64);
      return out;
    case PMIX_UINT64:
      append_raw(out, v.data.uint64);
      return out;
    case PMIX_INT:
      append_raw(out, v.data.integer);
      return out;
    case PMIX_UINT:
      append_raw(out, v.data.uint);
      return out;
    case PMIX_SIZE:
      append_raw(out, v.data.size);
      return out;
    case PMIX_PID:
      append_raw(out, v.data.pid);
      return out;
    case PMIX_FLOAT:
      append_raw(out, v.data.fval);
      return out;
    case PMIX_DOUBLE:
      append_raw(out, v.data.dval);
      return out;
    case PMIX_STATUS:
      append_raw(out, v.data.status);
      return out;
    case PMIX_PROC_RANK:
      append_raw(out, v.data.rank);
      return out;
    default:
      return std::nullopt;
  }
}

template <class T>
bool take_raw(std::string_view& in, T& v) {
  if (in.size() != sizeof v) return false;
  std::memcpy(&v, in.data(), sizeof v);
  return true;
}

// Fills `v` (its strings and bytes malloc'd: freed by free_value).
void decode_value(const std::string& s, pmix_value_t& v) {
  std::memset(&v, 0, sizeof v);
  pmix_data_type_t type = PMIX_STRING;
  std::string_view in(s);
  if (!in.empty() && in[0] == kTyped && in.size() >= 1 + sizeof type) {
    std::memcpy(&type, in.data() + 1, sizeof type);
    in.remove_prefix(1 + sizeof type);
  }
  v.type = type;
  bool ok = true;
  switch (type) {
    case PMIX_STRING:
      v.data.string = ::strndup(in.data(), in.size());
      break;
    case PMIX_BYTE_OBJECT:
      v.data.bo.bytes = static_cast<char*>(std::malloc(in.size() ? in.size() : 1));
      std::memcpy(v.data.bo.bytes, in.data(), in.size());
      v.data.bo.size = in.size();
      break;
    case PMIX_BOOL:
      ok = take_raw(in, v.data.flag);
      break;
    case PMIX_BYTE:
    case PMIX_UINT8:
      ok = take_raw(in, v.data.uint8);
      break;
    case PMIX_INT8:
      ok = take_raw(in, v.data.int8);
      break;
    case PMIX_INT16:
      ok = take_raw(in, v.data.int16);
      break;
    case PMIX_UINT16:
      ok = take_raw(in, v.data.uint16);
      break;
    case PMIX_INT32:
      ok = take_raw(in, v.data.int32);
      break;
    case PMIX_UINT32:
      ok = take_raw(in, v.data.uint32);
      break;
    case PMIX_INT64:
      ok = take_raw(in, v.data.int64);
      break;
    case PMIX_UINT64:
      ok = take_raw(in, v.data.uint64);
      break;
    case PMIX_INT:
      ok = take_raw(in, v.data.integer);
      break;
    case PMIX_UINT:
      ok = take_raw(in, v.data.uint);
      break;
    case PMIX_SIZE:
      ok = take_raw(in, v.data.size);
      break;
    case PMIX_PID:
      ok = take_raw(in, v.data.pid);
      break;
    case PMIX_FLOAT:
      ok = take_raw(in, v.data.fval);
      break;
    case PMIX_DOUBLE:
      ok = take_raw(in, v.data.dval);
      break;
    case PMIX_STATUS:
      ok = take_raw(in, v.data.status);
      break;
    case PMIX_PROC_RANK:
      ok = take_raw(in, v.data.rank);
      break;
    default:
      ok = false;
  }
  if (!ok) {  // not a value of ours: the bytes as a string
    std::memset(&v, 0, sizeof v);
    v.type = PMIX_STRING;
    v.data.string = ::strndup(s.data(), s.size());
  }
}

void free_value(pmix_value_t& v) {
  if (v.type == PMIX_STRING) std::free(v.data.string);
  if (v.type == PMIX_BYTE_OBJECT) std::free(v.data.bo.bytes);
}

void load_key(char* dst, const std::string& key) {
  std::memset(dst, 0, PMIX_MAX_KEYLEN + 1);
  std::strncpy(dst, key.c_str(), PMIX_MAX_KEYLEN);
}

// An info array and the strings it points into, kept alive until the
// library's callback.
struct InfoList {
  std::vector<pmix_info_t> infos;
  std::deque<std::string> strings;

  pmix_info_t& add(const char* key) {
    infos.emplace_back();
    pmix_info_t& i = infos.back();
    std::memset(&i, 0, sizeof i);
    load_key(i.key, key);
    return i;
  }
  void str(const char* key, std::string value) {
    strings.push_back(std::move(value));
    auto& i = add(key);
    i.value.type = PMIX_STRING;
    i.value.data.string = strings.back().data();
  }
  void u32(const char* key, uint32_t value) {
    auto& i = add(key);
    i.value.type = PMIX_UINT32;
    i.value.data.uint32 = value;
  }
  void rank(const char* key, pmix_rank_t value) {
    auto& i = add(key);
    i.value.type = PMIX_PROC_RANK;
    i.value.data.rank = value;
  }
};

std::string join(const std::vector<uint32_t>& v, char sep) {
  std::string out;
  for (uint32_t x : v)
    out += (out.empty() ? "" : std::string(1, sep)) + std::to_string(x);
  return out;
}

// Waits on the calling thread for library callbacks that signal `left`.
struct Countdown {
  std::mutex mu;
  std::condition_variable cv;
  int left = 0;
  pmix_status_t status = PMIX_SUCCESS;
  static void done(pmix_status_t st, void* self) {
    auto* c = static_cast<Countdown*>(self);
    std::lock_guard lock(c->mu);
    if (st != PMIX_SUCCESS && c->status == PMIX_SUCCESS) c->status = st;
    --c->left;
    c->cv.notify_all();
  }
  bool wait(std::chrono::milliseconds timeout) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, timeout, [this] { return left <= 0; });
  }
};

// ---- the module: what the library asks of us ----

pmix_status_t on_connected(const pmix_proc_t* proc, void*, pmix_op_cbfunc_t, void*) {
  const uint32_t rank = proc->rank;
  const pmix_status_t st = on_loop([rank](PmixServer::Core& c) { c.job->connected(rank); });
  return st == PMIX_SUCCESS ? PMIX_OPERATION_SUCCEEDED : st;
}

pmix_status_t on_finalized(const pmix_proc_t* proc, void*, pmix_op_cbfunc_t, void*) {
  const uint32_t rank = proc->rank;
  const pmix_status_t st = on_loop([rank](PmixServer::Core& c) { c.job->finalized(rank); });
  return st == PMIX_SUCCESS ? PMIX_OPERATION_SUCCEEDED : st;
}

pmix_status_t on_abort(const pmix_proc_t* proc, void*, int status, const char msg[], pmix_proc_t[],
                       size_t, pmix_op_cbfunc_t cbfunc, void* cbdata) {
  const uint32_t rank = proc->rank;
  std::string message = msg ? msg : "";
  return on_loop([=](PmixServer::Core& c) {
    c.job->abort(rank, status, message);
    // Released: it exits, and meshrun ends the others.
    if (cbfunc) cbfunc(PMIX_SUCCESS, cbdata);
  });
}

pmix_status_t on_fence(const pmix_proc_t procs[], size_t nprocs, const pmix_info_t[], size_t,
                       char* data, size_t ndata, pmix_modex_cbfunc_t cbfunc, void* cbdata) {
  auto core = current();
  if (!core) return PMIX_ERR_INIT;
  // Fences of the whole job only: meshrun's barrier spans every host.
  bool whole = nprocs == 1 && procs[0].rank == PMIX_RANK_WILDCARD;
  if (!whole) {
    std::vector<bool> seen;
    size_t distinct = 0;
    for (size_t i = 0; i < nprocs; ++i) {
      const uint32_t r = procs[i].rank;
      if (r == PMIX_RANK_WILDCARD) {
        whole = true;
        break;
      }
      if (r >= seen.size()) seen.resize(r + 1, false);
      if (!seen[r]) ++distinct, seen[r] = true;
    }
    std::lock_guard lock(core->mu);  // size is set before any rank runs
    whole = whole || distinct == core->size;
  }
  if (!whole) return PMIX_ERR_NOT_SUPPORTED;
  std::string mine(data ? data : "", ndata);
  return on_loop([mine = std::move(mine), cbfunc, cbdata](PmixServer::Core& c) mutable {
    c.job->fence(std::move(mine), [cbfunc, cbdata](std::optional<std::string> all) {
      if (!all) {
        cbfunc(PMIX_ERROR, nullptr, 0, cbdata, nullptr, nullptr);
        return;
      }
      // The library reads it until it calls the release function.
      char* buf = static_cast<char*>(std::malloc(all->size() ? all->size() : 1));
      std::memcpy(buf, all->data(), all->size());
      cbfunc(
          PMIX_SUCCESS, buf, all->size(), cbdata, [](void* p) { std::free(p); }, buf);
    });
  });
}

pmix_status_t on_direct_modex(const pmix_proc_t*, const pmix_info_t[], size_t, pmix_modex_cbfunc_t,
                              void*) {
  // Every fence collects all data, so there is nothing to fetch from
  // another host.
  return PMIX_ERR_NOT_SUPPORTED;
}

pmix_status_t on_publish(const pmix_proc_t* proc, const pmix_info_t info[], size_t ninfo,
                         pmix_op_cbfunc_t cbfunc, void* cbdata) {
  std::vector<std::pair<std::string, std::string>> names;
  for (size_t i = 0; i < ninfo; ++i) {
    if (reserved_key(info[i].key)) continue;  // directives: range, persistence, ids
    auto value = encode_value(info[i].value);
    if (!value) return PMIX_ERR_NOT_SUPPORTED;
    names.emplace_back(info[i].key, std::move(*value));
  }
  if (names.empty()) return PMIX_ERR_BAD_PARAM;
  const uint32_t rank = proc->rank;
  return on_loop([=](PmixServer::Core& c) {
    auto left = std::make_shared<size_t>(names.size());
    auto status = std::make_shared<pmix_status_t>(PMIX_SUCCESS);
    for (const auto& name : names)
      c.job->names()->publish(rank, name.first, name.second, [=, key = name.first](NameStatus st) {
        log::debug("PMIx publish " + key + " by rank " + std::to_string(rank) + ": " +
                   std::string(name_status_text(st)));
        if (st != NameStatus::ok && *status == PMIX_SUCCESS) *status = to_pmix(st);
        if (--*left == 0 && cbfunc) cbfunc(*status, cbdata);
      });
  });
}

// PMIX_WAIT: wait for the keys to be published; PMIX_TIMEOUT: for so long.
uint32_t lookup_wait_ms(const pmix_info_t info[], size_t ninfo) {
  bool wait = false;
  uint32_t timeout_s = 0;
  for (size_t i = 0; i < ninfo; ++i) {
    if (std::strncmp(info[i].key, PMIX_WAIT, PMIX_MAX_KEYLEN) == 0)
      wait = info[i].value.type == PMIX_BOOL ? info[i].value.data.flag : true;
    if (std::strncmp(info[i].key, PMIX_TIMEOUT, PMIX_MAX_KEYLEN) == 0 &&
        info[i].value.type == PMIX_INT && info[i].value.data.integer > 0)
      timeout_s = static_cast<uint32_t>(info[i].value.data.integer);
  }
  if (!wait) return 0;
  // No timeout: as long as the job runs (meshrun's --timeout bounds it).
  return timeout_s ? timeout_s * 1000 : UINT32_MAX;
}

pmix_status_t on_lookup(const pmix_proc_t* proc, char** keys, const pmix_info_t info[],
                        size_t ninfo, pmix_lookup_cbfunc_t cbfunc, void* cbdata) {
  std::vector<std::string> wanted;
  for (size_t i = 0; keys && keys[i]; ++i)
    wanted.emplace_back(keys[i]);
  if (wanted.empty()) return PMIX_ERR_BAD_PARAM;
  const uint32_t rank = proc->rank;
  const uint32_t wait_ms = lookup_wait_ms(info, ninfo);
  return on_loop([=](PmixServer::Core& c) {
    struct Gather {
      std::vector<std::optional<PublishedName>> found;
      size_t left = 0;
    };
    auto g = std::make_shared<Gather>();
    g->found.resize(wanted.size());
    g->left = wanted.size();
    const std::string nspace = c.nspace;
    for (size_t k = 0; k < wanted.size(); ++k)
      c.job->names()->lookup(
          rank, wanted[k], wait_ms, [=](NameStatus st, const PublishedName& name) {
            log::debug("PMIx lookup " + name.key + " by rank " + std::to_string(rank) + ": " +
                       std::string(name_status_text(st)));
            if (st == NameStatus::ok) g->found[k] = name;
            if (--g->left > 0 || !cbfunc) return;
            std::vector<pmix_pdata_t> out;
            for (const auto& f : g->found) {
              if (!f) continue;
              out.emplace_back();
              pmix_pdata_t& d = out.back();
              std::memset(&d, 0, sizeof d);
              std::strncpy(d.proc.nspace, nspace.c_str(), PMIX_MAX_NSLEN);
              d.proc.rank = f->publisher;
              load_key(d.key, f->key);
              decode_value(f->value, d.value);
            }
            cbfunc(out.empty() ? PMIX_ERR_NOT_FOUND : PMIX_SUCCESS, out.data(), out.size(), cbdata);
            for (auto& d : out)
              free_value(d.value);
          });
  });
}

pmix_status_t on_unpublish(const pmix_proc_t* proc, char** keys, const pmix_info_t[], size_t,
                           pmix_op_cbfunc_t cbfunc, void* cbdata) {
  std::vector<std::string> gone;
  for (size_t i = 0; keys && keys[i]; ++i)
    gone.emplace_back(keys[i]);
  if (gone.empty()) return PMIX_ERR_BAD_PARAM;
  const uint32_t rank = proc->rank;
  return on_loop([=](PmixServer::Core& c) {
    auto left = std::make_shared<size_t>(gone.size());
    auto status = std::make_shared<pmix_status_t>(PMIX_SUCCESS);
    for (const auto& key : gone)
      c.job->names()->unpublish(rank, key, [=](NameStatus st) {
        log::debug("PMIx unpublish " + key + " by rank " + std::to_string(rank) + ": " +
                   std::string(name_status_text(st)));
        if (st != NameStatus::ok && *status == PMIX_SUCCESS) *status = to_pmix(st);
        if (--*left == 0 && cbfunc) cbfunc(*status, cbdata);
      });
  });
}

pmix_status_t on_spawn(const pmix_proc_t* proc, const pmix_info_t[], size_t, const pmix_app_t[],
                       size_t, pmix_spawn_cbfunc_t, void*) {
  const uint32_t rank = proc->rank;
  on_loop([rank](PmixServer::Core& c) { c.job->spawn_refused(rank); });
  return PMIX_ERR_NOT_SUPPORTED;
}

pmix_server_module_t make_module() {
  pmix_server_module_t m;
  std::memset(&m, 0, sizeof m);
  m.client_connected = on_connected;
  m.client_finalized = on_finalized;
  m.abort = on_abort;
  m.fence_nb = on_fence;
  m.direct_modex = on_direct_modex;
  m.publish = on_publish;
  m.lookup = on_lookup;
  m.unpublish = on_unpublish;
  m.spawn = on_spawn;
  return m;
}

pmix_server_module_t g_module = make_module();

std::string pmix_error(const PmixLibrary* lib, pmix_status_t st) {
  const char* s = lib ? lib->error_string(st) : nullptr;
  return s ? s : "PMIx error " + std::to_string(st);
}

}  // namespace

PmixNodes pmix_nodes(const std::vector<uint32_t>& ranks_per_host,
                     const std::vector<std::string>& host_names) {
  PmixNodes nodes;
  std::map<std::string, uint32_t> index;
  uint32_t first = 0;
  for (uint32_t h = 0; h < ranks_per_host.size(); ++h) {
    const std::string name = h < host_names.size() && !host_names[h].empty()
                                 ? host_names[h]
                                 : "host" + std::to_string(h);
    auto [it, added] = index.emplace(name, static_cast<uint32_t>(nodes.names.size()));
    if (added) {
      nodes.names.push_back(name);
      nodes.ranks.emplace_back();
    }
    nodes.node_of_host.push_back(it->second);
    for (uint32_t r = first; r < first + ranks_per_host[h]; ++r)
      nodes.ranks[it->second].push_back(r);
    first += ranks_per_host[h];
  }
  return nodes;
}

std::unique_ptr<PmixServer> PmixServer::start(asio::io_context& io, std::string tmpdir,
                                              std::string node_name) {
  std::unique_ptr<PmixServer> s(new PmixServer());
  auto core = std::make_shared<Core>(io);
  core->tmpdir = std::move(tmpdir);
  core->node_name = std::move(node_name);
  {
    std::lock_guard lock(g_mu);
    if (g_core) return nullptr;  // one per process
    g_core = core;
  }
  s->core_ = core;
  core->init_thread = std::thread([core] {
    // The library's progress thread is made here and inherits this mask:
    // signals are the agent's loop's business.
    sigset_t all;
    sigfillset(&all);
    ::pthread_sigmask(SIG_BLOCK, &all, nullptr);
    std::string why;
    const PmixLibrary* lib = PmixLibrary::load(&why);
    bool ok = false;
    if (lib) {
      InfoList info;
      info.str(PMIX_SERVER_TMPDIR, core->tmpdir);
      // Not /tmp: nothing of the job's outside its own directory.
      info.str(PMIX_SYSTEM_TMPDIR, core->tmpdir);
      info.str(PMIX_HOSTNAME, core->node_name);
      const pmix_status_t st = lib->server_init(&g_module, info.infos.data(), info.infos.size());
      ok = st == PMIX_SUCCESS;
      if (!ok) why = "PMIx_server_init: " + pmix_error(lib, st);
    }
    {
      std::lock_guard lock(core->mu);
      core->lib = lib;
      core->initialized = ok;
      core->init_error = ok ? "" : why;
      core->init_done = true;
      core->cv.notify_all();
    }
    asio::post(core->io, [core] {
      if (auto fn = std::move(core->on_started)) fn();
    });
  });
  return s;
}

bool PmixServer::started() const {
  std::lock_guard lock(core_->mu);
  return core_->init_done;
}

void PmixServer::when_started(std::function<void()> fn) {
  if (started()) {
    asio::post(core_->io, std::move(fn));
    return;
  }
  core_->on_started = std::move(fn);  // the init thread's post runs it
}

PmixServer::~PmixServer() {
  if (!core_) return;
  if (core_->init_thread.joinable()) core_->init_thread.join();
  core_->job = nullptr;
  core_->on_started = nullptr;
  // No upcalls after this returns; the loop's pending work finds no job.
  if (core_->initialized) core_->lib->server_finalize();
  std::lock_guard lock(g_mu);
  g_core.reset();
}

Status PmixServer::ready(std::chrono::milliseconds timeout) {
  std::unique_lock lock(core_->mu);
  if (!core_->cv.wait_for(lock, timeout, [this] { return core_->init_done; }))
    return make_error(Errc::timeout, "the PMIx server did not start within " +
                                         std::to_string(timeout.count()) + " ms");
  if (!core_->initialized) return make_error(Errc::io, core_->init_error);
  return {};
}

Status PmixServer::register_job(const PmixJobInfo& job_info, PmixJob& job) {
  if (auto st = ready(std::chrono::seconds(10)); !st) return st;
  const PmixLibrary* lib = core_->lib;
  {
    std::lock_guard lock(core_->mu);
    core_->size = job_info.size;
  }
  core_->nspace = job_info.nspace;
  core_->job = &job;

  std::string node_list;
  for (const auto& n : job_info.node_names)
    node_list += (node_list.empty() ? "" : ",") + n;
  std::string ppn;
  for (const auto& ranks : job_info.node_ranks)
    ppn += (ppn.empty() ? "" : ";") + join(ranks, ',');
  char* node_map = nullptr;
  char* proc_map = nullptr;
  if (lib->generate_regex(node_list.c_str(), &node_map) != PMIX_SUCCESS ||
      lib->generate_ppn(ppn.c_str(), &proc_map) != PMIX_SUCCESS) {
    std::free(node_map);
    std::free(proc_map);
    return make_error(Errc::io, "PMIx could not encode the job's node and proc maps");
  }
  const auto& local = job_info.node_ranks.at(job_info.my_node);
  InfoList info;
  info.str(PMIX_JOBID, job_info.nspace);
  info.u32(PMIX_UNIV_SIZE, job_info.size);
  info.u32(PMIX_JOB_SIZE, job_info.size);
  info.u32(PMIX_MAX_PROCS, job_info.size);
  info.u32(PMIX_APP_SIZE, job_info.size);
  info.u32(PMIX_APPNUM, 0);
  info.rank(PMIX_APPLDR, 0);
  info.u32(PMIX_NUM_NODES, static_cast<uint32_t>(job_info.node_names.size()));
  info.str(PMIX_NODE_MAP, node_map);
  info.str(PMIX_PROC_MAP, proc_map);
  info.u32(PMIX_LOCAL_SIZE, static_cast<uint32_t>(local.size()));
  info.str(PMIX_LOCAL_PEERS, join(local, ','));
  if (!local.empty()) info.rank(PMIX_LOCALLDR, local.front());
  info.str(PMIX_TMPDIR, job_info.tmpdir);
  info.str(PMIX_NSDIR, job_info.tmpdir + "/" + job_info.nspace);
  std::free(node_map);
  std::free(proc_map);

  // On the heap, and left there if the library does not answer in time:
  // it may still answer later.
  auto* nspace = new Countdown;
  nspace->left = 1;
  pmix_status_t st =
      lib->register_nspace(job_info.nspace.c_str(), static_cast<int>(job_info.my_ranks.size()),
                           info.infos.data(), info.infos.size(), &Countdown::done, nspace);
  if (st != PMIX_SUCCESS && st != PMIX_OPERATION_SUCCEEDED) {
    delete nspace;
    return make_error(Errc::io, "PMIx_server_register_nspace: " + pmix_error(lib, st));
  }
  if (st == PMIX_OPERATION_SUCCEEDED) nspace->left = 0;
  if (!nspace->wait(std::chrono::seconds(10)))
    return make_error(Errc::timeout, "PMIx did not register the job within 10 s");
  st = nspace->status;
  delete nspace;
  if (st != PMIX_SUCCESS)
    return make_error(Errc::io, "PMIx_server_register_nspace: " + pmix_error(lib, st));

  // Every rank is registered before any starts: an unregistered one would
  // be refused when it connects.
  auto* clients = new Countdown;
  clients->left = static_cast<int>(job_info.my_ranks.size());
  for (uint32_t r : job_info.my_ranks) {
    pmix_proc_t proc;
    std::memset(&proc, 0, sizeof proc);
    std::strncpy(proc.nspace, job_info.nspace.c_str(), PMIX_MAX_NSLEN);
    proc.rank = r;
    st = lib->register_client(&proc, ::geteuid(), ::getegid(), nullptr, &Countdown::done, clients);
    if (st == PMIX_OPERATION_SUCCEEDED) {
      Countdown::done(PMIX_SUCCESS, clients);
    } else if (st != PMIX_SUCCESS) {
      Countdown::done(st, clients);
    }
  }
  if (!clients->wait(std::chrono::seconds(10)))
    return make_error(Errc::timeout, "PMIx did not register the ranks within 10 s");
  st = clients->status;
  delete clients;
  if (st != PMIX_SUCCESS)
    return make_error(Errc::io, "PMIx_server_register_client: " + pmix_error(lib, st));
  return {};
}

Result<std::vector<std::string>> PmixServer::rank_environment(uint32_t rank) {
  pmix_proc_t proc;
  std::memset(&proc, 0, sizeof proc);
  std::strncpy(proc.nspace, core_->nspace.c_str(), PMIX_MAX_NSLEN);
  proc.rank = rank;
  char** env = nullptr;
  const pmix_status_t st = core_->lib->setup_fork(&proc, &env);
  std::vector<std::string> out;
  for (char** e = env; e && *e; ++e) {
    out.emplace_back(*e);
    std::free(*e);
  }
  std::free(env);
  if (st != PMIX_SUCCESS)
    return make_error(Errc::io, "PMIx_server_setup_fork: " + pmix_error(core_->lib, st));
  return out;
}

}  // namespace meshrun
