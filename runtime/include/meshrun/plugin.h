/* The meshrun actor plugin ABI. Pure C (C99 and C++), so a plugin can be
 * written in anything that speaks C and the host never depends on a plugin's
 * C++ runtime. Rules both sides keep:
 *  - One exported symbol, meshrun_plugin_entry; everything else is hidden.
 *  - Every struct starts with struct_size. A reader only touches fields that
 *    lie inside the size the writer reported, so structs may grow (minor bump).
 *  - A different MESHRUN_PLUGIN_ABI_MAJOR is refused by the host.
 *  - Nothing unwinds across the boundary: failures are status codes plus text
 *    handed to host->set_error.
 *  - The host loads with dlopen(RTLD_NOW | RTLD_LOCAL) and never unloads, so
 *    pointers a plugin hands over (names, tables) stay valid for the process.
 *  - Every call, in both directions, happens on the one thread of the process
 *    hosting the actor; nothing blocks it. A call's result comes back later
 *    as a call of its own (on_done), never inside the call that started it.
 *
 * ABI 1.1 adds messaging between actors and the controller: references
 * (opaque byte strings naming a mesh, a slice or one actor) and ports
 * (where answers go) are values a plugin may keep, copy into payloads and
 * send on. An actor type may be a controller: the job's main program, run
 * in the launcher (see run/on_supervision). */
#ifndef MESHRUN_PLUGIN_H
#define MESHRUN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MESHRUN_PLUGIN_ABI_MAJOR 1
#define MESHRUN_PLUGIN_ABI_MINOR 1

#define MESHRUN_PLUGIN_ENTRY_SYMBOL "meshrun_plugin_entry"
#define MESHRUN_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Status codes returned through the boundary (int for a stable ABI). */
enum {
  MESHRUN_OK = 0,
  MESHRUN_ERROR = 1,            /* failed; text via host->set_error */
  MESHRUN_UNKNOWN_MESSAGE = 2,  /* handle(): the type has no such message */
  MESHRUN_PARAM_MISSING = 3,    /* param lookup: no such key */
  MESHRUN_PARAM_WRONG_TYPE = 4, /* param lookup: key holds another type */
  /* 1.1 */
  MESHRUN_BAD_REFERENCE = 5,  /* bytes that are not a reference or port of this job */
  MESHRUN_NOT_CONTROLLER = 6, /* a controller-only call from an actor */
  MESHRUN_CLOSED = 7          /* the job is ending: nothing more is sent */
};

/* Built-in reducers for a call's answers (1.1). Numbers are decimal text. */
enum {
  MESHRUN_REDUCE_NONE = 0,
  MESHRUN_REDUCE_SUM = 1,
  MESHRUN_REDUCE_MIN = 2,
  MESHRUN_REDUCE_MAX = 3,
  MESHRUN_REDUCE_COUNT = 4,    /* how many answered */
  MESHRUN_REDUCE_CONCAT = 5,   /* the answers joined in rank order */
  MESHRUN_REDUCE_ALL_EQUAL = 6 /* the one answer all gave; an error if two differ */
};

/* Supervision event kinds (1.1). */
enum {
  MESHRUN_ACTOR_FAILED = 1, /* a handler threw or failed */
  MESHRUN_PROC_EXITED = 2,  /* a proc ended on its own (crash, exit) */
  MESHRUN_HOST_LOST = 3     /* a host agent stopped answering */
};

/* Levels for host->log, the same numbering as the runtime's. */
enum {
  MESHRUN_LOG_ERROR = 1,
  MESHRUN_LOG_WARN = 2,
  MESHRUN_LOG_INFO = 3,
  MESHRUN_LOG_VERBOSE = 4,
  MESHRUN_LOG_DEBUG = 5
};

/* Host-owned handles, opaque to plugins. */
typedef struct meshrun_actor_ctx meshrun_actor_ctx; /* one per actor, lives until destroy returns */
typedef struct meshrun_reply meshrun_reply;         /* valid only during one handle() call */
typedef struct meshrun_error meshrun_error;         /* valid only during the call it came with */

/* A borrowed string; not NUL-terminated unless said so. */
typedef struct meshrun_str {
  const char* data;
  size_t len;
} meshrun_str;

/* Where the host writes a result of varying length (1.1): put() is called
 * once, with bytes valid only during that call; copy what you keep. */
typedef struct meshrun_sink {
  void* user;
  void (*put)(void* user, const uint8_t* data, size_t len);
} meshrun_sink;

/* One answer of a call: the rank within the called mesh and its bytes. */
typedef struct meshrun_answer {
  uint32_t rank;
  const uint8_t* data;
  size_t len;
} meshrun_answer;

/* A rank that failed to answer, and why. */
typedef struct meshrun_rank_failure {
  uint32_t rank;
  const char* cause;
  size_t cause_len;
} meshrun_rank_failure;

/* A finished call or controller operation, handed to on_done. Everything
 * it points to is valid only during that on_done call. */
typedef struct meshrun_result {
  uint32_t struct_size;
  uint32_t expected;             /* ranks called */
  uint32_t replied;              /* ranks that answered */
  const meshrun_answer* answers; /* ascending by rank; none when reduced */
  size_t answer_count;
  int has_value; /* a reduced value, or what an operation made (a reference) */
  const uint8_t* value;
  size_t value_len;
  const meshrun_rank_failure* failures; /* ascending by rank */
  size_t failure_count;
  const uint32_t* missing; /* ranks with no answer by the deadline */
  size_t missing_count;
  const char* error; /* the call as a whole failed (a reduction, a spawn); NULL if not */
  size_t error_len;
} meshrun_result;

/* A one-way message that could not be delivered, back at its sender. */
typedef struct meshrun_undeliverable {
  uint32_t struct_size;
  meshrun_str target; /* e.g. "a0[3]" */
  meshrun_str message;
  meshrun_str cause;
} meshrun_undeliverable;

/* What the controller hears about failures in the job. */
typedef struct meshrun_supervision_event {
  uint32_t struct_size;
  int kind;         /* MESHRUN_ACTOR_FAILED, MESHRUN_PROC_EXITED, MESHRUN_HOST_LOST */
  meshrun_str mesh; /* the actor mesh (ACTOR_FAILED) or proc mesh (PROC_EXITED); empty for a host */
  uint32_t rank;    /* in that mesh */
  uint32_t host;
  meshrun_str hostname;
  meshrun_str cause;
} meshrun_supervision_event;

/* Callbacks the host hands to the plugin. Strings returned through it are
 * owned by the host and live as long as the actor context they came from. */
typedef struct meshrun_host_api {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;

  /* Sets the failure text for the call `err` came with. */
  void (*set_error)(meshrun_error* err, const char* text, size_t len);
  /* Sends bytes to the reply port of the message being handled. */
  int (*reply)(meshrun_reply* reply, const uint8_t* data, size_t len);

  meshrun_str (*actor_id)(const meshrun_actor_ctx* ctx);  /* e.g. "p0_3.a0[3]" */
  meshrun_str (*mesh_name)(const meshrun_actor_ctx* ctx); /* e.g. "a0" */
  uint32_t (*rank)(const meshrun_actor_ctx* ctx);
  uint32_t (*size)(const meshrun_actor_ctx* ctx);

  /* Typed lookups in the actor's parameters by dotted key ("db.port"); the
   * host parses the TOML. Return MESHRUN_OK, MESHRUN_PARAM_MISSING or
   * MESHRUN_PARAM_WRONG_TYPE. An integer is accepted as a double. */
  int (*param_string)(const meshrun_actor_ctx* ctx, const char* key, size_t key_len,
                      meshrun_str* out);
  int (*param_int)(const meshrun_actor_ctx* ctx, const char* key, size_t key_len, int64_t* out);
  int (*param_double)(const meshrun_actor_ctx* ctx, const char* key, size_t key_len, double* out);
  int (*param_bool)(const meshrun_actor_ctx* ctx, const char* key, size_t key_len, int* out);

  /* One diagnostic line, prefixed with the actor id (ctx may be NULL). */
  void (*log)(const meshrun_actor_ctx* ctx, int level, const char* text, size_t len);

  /* ---- 1.1: references, sends and calls (check with MESHRUN_HOST_HAS) ---- */

  /* This actor's whole mesh, as a reference. */
  int (*self_ref)(const meshrun_actor_ctx* ctx, meshrun_sink* out);
  /* The port of the message being handled, as a value that outlives the
   * handler: keep it to answer later, or send it on for another actor to
   * answer. MESHRUN_ERROR for a one-way message (it has no port). */
  int (*reply_port)(meshrun_reply* reply, meshrun_sink* out);
  /* How many actors a reference names (0: not a reference). */
  uint32_t (*ref_size)(const uint8_t* ref, size_t ref_len);
  /* The i-th of them alone; a narrower view along one dimension, in the
   * mesh's own coordinates; the text form ("a0{hosts=1, procs=0..2}"). */
  int (*ref_at)(const uint8_t* ref, size_t ref_len, uint32_t i, meshrun_sink* out);
  int (*ref_slice)(const uint8_t* ref, size_t ref_len, const char* dim, size_t dim_len,
                   uint32_t begin, uint32_t end, meshrun_sink* out);
  int (*ref_describe)(const uint8_t* ref, size_t ref_len, meshrun_sink* out);
  /* Sends `message` to every actor `ref` names, in order per receiver. With
   * a port (bytes from open_port or reply_port; NULL for none), each
   * receiver answers to it; without, this is a one-way send, and a message
   * that cannot be delivered comes back to on_undeliverable. */
  int (*send)(const meshrun_actor_ctx* ctx, const uint8_t* ref, size_t ref_len, const char* message,
              size_t message_len, const uint8_t* payload, size_t payload_len, const uint8_t* port,
              size_t port_len);
  /* Opens a port of this actor for one call to `ref`: it expects an answer
   * from each actor `ref` names, folds them with `reducer`, and gives up
   * after `timeout_ms` (0: 30 s). The result comes to the type's on_done
   * with `cookie`, once. The port goes to `out`; pass it to send(). */
  int (*open_port)(const meshrun_actor_ctx* ctx, const uint8_t* ref, size_t ref_len, int reducer,
                   uint32_t timeout_ms, uint64_t cookie, meshrun_sink* out);
  /* Answers (or fails) through a port value. */
  int (*port_reply)(const meshrun_actor_ctx* ctx, const uint8_t* port, size_t port_len,
                    const uint8_t* data, size_t len);
  int (*port_fail)(const meshrun_actor_ctx* ctx, const uint8_t* port, size_t port_len,
                   const char* cause, size_t cause_len);
  /* One actor of `ref`: the one with the fewest calls in flight from this
   * actor (any free one), lowest rank first. */
  int (*choose)(const meshrun_actor_ctx* ctx, const uint8_t* ref, size_t ref_len,
                meshrun_sink* out);

  /* ---- 1.1: controller only (MESHRUN_NOT_CONTROLLER from an actor) ---- */

  /* A proc mesh on every host: `ndims` per-host dimensions ("procs" = 4).
   * on_done(cookie) gets its reference as the value. */
  int (*spawn_procs)(const meshrun_actor_ctx* ctx, const char* name, size_t name_len,
                     const char* const* dims, const uint32_t* sizes, size_t ndims,
                     uint32_t timeout_ms, uint64_t cookie);
  /* An actor mesh of `type` (a type of this plugin) on the procs `procs`
   * names (a proc mesh or a slice of it). on_done gets its reference. */
  int (*spawn_actors)(const meshrun_actor_ctx* ctx, const char* name, size_t name_len,
                      const uint8_t* procs, size_t procs_len, const char* type, size_t type_len,
                      const char* params_toml, size_t params_len, uint32_t timeout_ms,
                      uint64_t cookie);
  /* Stops an actor mesh (its actors are destroyed) or a proc mesh (its
   * procs end) by name; on_done when it is done. */
  int (*stop)(const meshrun_actor_ctx* ctx, const char* name, size_t name_len, uint32_t timeout_ms,
              uint64_t cookie);
  /* The reference of a mesh by name (an actor mesh or a proc mesh). */
  int (*lookup)(const meshrun_actor_ctx* ctx, const char* name, size_t name_len, meshrun_sink* out);
  /* Ends the job with `status` (0-255) once everything is torn down; a
   * non-empty `why` is printed as the reason. */
  void (*exit_job)(const meshrun_actor_ctx* ctx, int status, const char* why, size_t why_len);
  /* A line on meshrun's standard output (a JSON object under --json). */
  void (*print)(const meshrun_actor_ctx* ctx, const char* text, size_t len);
} meshrun_host_api;

/* True when the host's table is new enough to hold `member`. */
#define MESHRUN_HOST_HAS(host, member)                                                   \
  ((host)->struct_size >= offsetof(meshrun_host_api, member) + sizeof((host)->member) && \
   (host)->member != NULL)

/* One actor type. The plugin owns these tables for the life of the process. */
typedef struct meshrun_actor_type {
  uint32_t struct_size;
  uint32_t reserved; /* zero */
  const char* name;  /* NUL-terminated, unique within the plugin */

  /* Builds an actor's state. ctx stays valid until destroy(state) returns. */
  int (*create)(const meshrun_actor_ctx* ctx, void** state, meshrun_error* err);
  void (*destroy)(void* state);
  /* Runs one message. Replies go through host->reply(reply, ...) before this
   * returns. MESHRUN_UNKNOWN_MESSAGE when the type has no such message. */
  int (*handle)(void* state, const char* message, size_t message_len, const uint8_t* payload,
                size_t payload_len, meshrun_reply* reply, meshrun_error* err);

  /* The message names handle() accepts, for diagnostics (may be NULL/0). */
  const char* const* messages;
  size_t message_count;

  /* ---- 1.1 (optional: NULL, or left out by an older struct_size) ---- */

  /* A call or controller operation started with `cookie` finished. An
   * error return fails the actor, as a failing handler does. */
  int (*on_done)(void* state, uint64_t cookie, const meshrun_result* result, meshrun_error* err);
  /* A one-way message of this actor could not be delivered. Without this
   * hook (or when it returns an error) the actor fails. */
  int (*on_undeliverable)(void* state, const meshrun_undeliverable* what, meshrun_error* err);
  /* Controllers only. run() is the job's main: it starts the program's
   * work (spawns, calls) and returns; the job goes on until exit_job. */
  int (*run)(void* state, meshrun_error* err);
  /* A failure in the job. MESHRUN_OK: the job goes on; anything else (or
   * no hook) fails the job with the event's cause. */
  int (*on_supervision)(void* state, const meshrun_supervision_event* event);
} meshrun_actor_type;

/* What the entry point returns: static data of the plugin. */
typedef struct meshrun_plugin_registration {
  uint32_t struct_size;
  uint16_t abi_major; /* MESHRUN_PLUGIN_ABI_MAJOR the plugin was built with */
  uint16_t abi_minor;
  const char* plugin_name;
  const meshrun_actor_type* const* types;
  size_t type_count;
} meshrun_plugin_registration;

/* The one exported symbol. `host` stays valid for the process. Returns the
 * registration, or NULL after host->set_error(err, ...) when init failed.
 * A plugin that sees another host major should still return its
 * registration untouched so the host can name both versions. The host may
 * call this more than once; it must return the same registration. */
typedef const meshrun_plugin_registration* (*meshrun_plugin_entry_fn)(const meshrun_host_api* host,
                                                                      meshrun_error* err);
MESHRUN_PLUGIN_EXPORT const meshrun_plugin_registration* meshrun_plugin_entry(
    const meshrun_host_api* host, meshrun_error* err);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* MESHRUN_PLUGIN_H */
