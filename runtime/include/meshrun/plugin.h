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
 *    pointers a plugin hands over (names, tables) stay valid for the process. */
#ifndef MESHRUN_PLUGIN_H
#define MESHRUN_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MESHRUN_PLUGIN_ABI_MAJOR 1
#define MESHRUN_PLUGIN_ABI_MINOR 0

#define MESHRUN_PLUGIN_ENTRY_SYMBOL "meshrun_plugin_entry"
#define MESHRUN_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Status codes returned through the boundary (int for a stable ABI). */
enum {
  MESHRUN_OK = 0,
  MESHRUN_ERROR = 1,           /* failed; text via host->set_error */
  MESHRUN_UNKNOWN_MESSAGE = 2, /* handle(): the type has no such message */
  MESHRUN_PARAM_MISSING = 3,   /* param lookup: no such key */
  MESHRUN_PARAM_WRONG_TYPE = 4 /* param lookup: key holds another type */
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
