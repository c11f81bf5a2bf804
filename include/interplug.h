/*
 * interplug.h: the Extism C API, implemented by libinterplug.
 *
 * libinterplug runs Extism plug-ins on the wasmi interpreter (no JIT). It exports
 * the same symbols, types and behaviour as libextism 1.x, so code written for
 * libextism compiles against this header (or <extism.h>, which includes it) and
 * links with -linterplug unchanged.
 *
 * Rules that hold for every function:
 *   - Any pointer argument may be NULL: the answer is an error value (NULL, false,
 *     -1 or 0), never a crash. Bad input (invalid UTF-8, bad JSON, unknown value
 *     types) is reported the same way.
 *   - Errors are explained by extism_plugin_error() (calls, config), by the
 *     errmsg out-parameter (creation) or in the log (extism_log_file /
 *     extism_log_custom).
 *   - A plug-in may be used from any thread; calls on one plug-in are serialised.
 *     A host function must not call functions of its own plug-in (they return an
 *     error value).
 *
 * Deliberate differences from libextism 1.41:
 *   - a trap, timeout or cancel makes extism_plugin_call return -1 (libextism: 134);
 *   - extism_version() returns "1.41.0+interplug.<version>".
 */
#ifndef INTERPLUG_H
#define INTERPLUG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- types -- */

/** Sizes and lengths. */
typedef uint64_t ExtismSize;

/** The offset of a block of the Extism memory (0: no block). */
typedef uint64_t ExtismMemoryHandle;

/** A wasm value type. */
typedef enum {
  /** int32_t */
  ExtismValType_I32 = 0,
  /** int64_t, also used for memory handles (EXTISM_PTR) */
  ExtismValType_I64 = 1,
  /** float */
  ExtismValType_F32 = 2,
  /** double */
  ExtismValType_F64 = 3,
  /** 128-bit vector (not accepted in host function signatures) */
  ExtismValType_V128 = 4,
  /** function reference (passed to host functions as null) */
  ExtismValType_FuncRef = 5,
  /** external reference (passed to host functions as null) */
  ExtismValType_ExternRef = 6
} ExtismValType;

/** The value of an ExtismVal. */
typedef union {
  int32_t i32;
  int64_t i64;
  float f32;
  double f64;
} ExtismValUnion;

/** A tagged wasm value, as host functions receive and return them. */
typedef struct {
  ExtismValType t;
  ExtismValUnion v;
} ExtismVal;

/** A plug-in instance. */
typedef struct ExtismPlugin ExtismPlugin;

/** Plug-in modules compiled once, to instantiate many plug-ins. */
typedef struct ExtismCompiledPlugin ExtismCompiledPlugin;

/** The running plug-in, as host functions see it. */
typedef struct ExtismCurrentPlugin ExtismCurrentPlugin;

/** A host function definition, before it is given to plug-ins. */
typedef struct ExtismFunction ExtismFunction;

/** Stops a plug-in's running call from another thread. */
typedef struct ExtismCancelHandle ExtismCancelHandle;

/**
 * A host function. `inputs` holds `n_inputs` values; `outputs` holds `n_outputs`
 * slots, tagged with the declared result types and zeroed, to fill in.
 * `user_data` is the pointer given to extism_function_new.
 */
typedef void (*ExtismFunctionType)(ExtismCurrentPlugin *plugin,
                                   const ExtismVal *inputs, ExtismSize n_inputs,
                                   ExtismVal *outputs, ExtismSize n_outputs,
                                   void *user_data);

/** Receives one buffered log line (NUL-terminated, `size` bytes, ends with '\n'). */
typedef void (*ExtismLogDrainFunctionType)(const char *data, ExtismSize size);

/** The value type of memory handles. */
#define EXTISM_PTR ExtismValType_I64
/** extism_plugin_call's return value on success. */
#define EXTISM_SUCCESS 0
/** Declares a host function named N. */
#define EXTISM_FUNCTION(N)                                                     \
  extern void N(ExtismCurrentPlugin *, const ExtismVal *, ExtismSize,          \
                ExtismVal *, ExtismSize, void *)

/* -------------------------------------------------------------- version -- */

/** The library version, "1.41.0+interplug.<version>" (static string). */
const char *extism_version(void);

/* ------------------------------------------------------------- plug-ins -- */

/**
 * Creates a plug-in from `wasm_size` bytes of wasm, WAT (starting with "(module"
 * or ";;") or a JSON/TOML manifest, with `n_functions` host functions and WASI
 * when `with_wasi`. The function objects stay the caller's: free them whenever
 * convenient (the plug-in keeps what it needs).
 * Returns NULL on failure; then, if `errmsg` is not NULL, `*errmsg` is a message
 * starting with "Unable to compile Extism plugin: ", to release with
 * extism_plugin_new_error_free().
 */
ExtismPlugin *extism_plugin_new(const uint8_t *wasm, ExtismSize wasm_size,
                                const ExtismFunction **functions,
                                ExtismSize n_functions, bool with_wasi,
                                char **errmsg);

/** Like extism_plugin_new; each call may use at most `fuel_limit` units of fuel. */
ExtismPlugin *extism_plugin_new_with_fuel_limit(
    const uint8_t *wasm, ExtismSize wasm_size, const ExtismFunction **functions,
    ExtismSize n_functions, bool with_wasi, uint64_t fuel_limit, char **errmsg);

/** Releases a creation error message. NULL is a no-op. */
void extism_plugin_new_error_free(char *err);

/** Compiles once (same arguments and errors as extism_plugin_new). */
ExtismCompiledPlugin *extism_compiled_plugin_new(
    const uint8_t *wasm, ExtismSize wasm_size, const ExtismFunction **functions,
    ExtismSize n_functions, bool with_wasi, char **errmsg);

/** Compiles once; every plug-in made from it has a per-call fuel limit. */
ExtismCompiledPlugin *extism_compiled_plugin_new_with_fuel_limit(
    const uint8_t *wasm, ExtismSize wasm_size, const ExtismFunction **functions,
    ExtismSize n_functions, bool with_wasi, uint64_t fuel_limit, char **errmsg);

/** Frees a compiled plug-in; plug-ins made from it keep working. NULL: no-op. */
void extism_compiled_plugin_free(ExtismCompiledPlugin *compiled);

/** Instantiates a compiled plug-in (NULL on failure, message in `errmsg`). */
ExtismPlugin *extism_plugin_new_from_compiled(const ExtismCompiledPlugin *compiled,
                                              char **errmsg);

/** Frees a plug-in (waits for a call running on another thread). NULL: no-op. */
void extism_plugin_free(ExtismPlugin *plugin);

/**
 * Calls the plug-in function `func_name` with `data_len` bytes of input.
 * Returns 0 (EXTISM_SUCCESS) on success. On failure: the plug-in's own return
 * code when it returned a non-zero one, else -1; extism_plugin_error() then gives
 * the message (NULL when the plug-in returned a code without setting one).
 */
int32_t extism_plugin_call(ExtismPlugin *plugin, const char *func_name,
                           const uint8_t *data, ExtismSize data_len);

/** Like extism_plugin_call; host functions read `host_context` with
 * extism_current_plugin_host_context() during this call. */
int32_t extism_plugin_call_with_host_context(ExtismPlugin *plugin,
                                             const char *func_name,
                                             const uint8_t *data,
                                             ExtismSize data_len,
                                             void *host_context);

/** The last call's error, or NULL when it succeeded. Valid until the next call. */
const char *extism_plugin_error(ExtismPlugin *plugin);

/** Deprecated name of extism_plugin_error. */
const char *extism_error(ExtismPlugin *plugin);

/** The length of the last call's output. */
ExtismSize extism_plugin_output_length(ExtismPlugin *plugin);

/** The last call's output; valid until the plug-in's next call, reset or free. */
const uint8_t *extism_plugin_output_data(ExtismPlugin *plugin);

/**
 * Merges a JSON object into the plug-in's config: string values set keys, null
 * values remove them. Returns false on invalid JSON or other value types (see
 * extism_plugin_error).
 */
bool extism_plugin_config(ExtismPlugin *plugin, const uint8_t *json,
                          ExtismSize json_size);

/** True when the plug-in exports a plug-in function named `func_name`. */
bool extism_plugin_function_exists(ExtismPlugin *plugin, const char *func_name);

/** Frees the plug-in's Extism memory (the last output included). */
bool extism_plugin_reset(ExtismPlugin *plugin);

/** The plug-in's 16-byte id (a UUID), valid as long as the plug-in. */
const uint8_t *extism_plugin_id(ExtismPlugin *plugin);

/** Lets the plug-in read HTTP response headers. */
void extism_plugin_allow_http_response_headers(ExtismPlugin *plugin);

/** The plug-in's cancel handle, valid as long as the plug-in. */
const ExtismCancelHandle *extism_plugin_cancel_handle(const ExtismPlugin *plugin);

/**
 * Stops the plug-in's running call from any thread: the call fails. A cancel while
 * no call runs does not affect the next call. False only for NULL.
 */
bool extism_plugin_cancel(const ExtismCancelHandle *handle);

/* ------------------------------------------------------- host functions -- */

/**
 * Defines a host function `name` (imported from "extism:host/user" unless
 * extism_function_set_namespace says otherwise) with the given parameter and
 * result types. `free_user_data` (may be NULL) is called once with `user_data`
 * when neither the function object nor any plug-in made with it needs it.
 * Returns NULL for a NULL/non-UTF-8 name, a NULL `func` or an unknown type
 * (`user_data` is then not freed).
 */
ExtismFunction *extism_function_new(const char *name, const ExtismValType *inputs,
                                    ExtismSize n_inputs,
                                    const ExtismValType *outputs,
                                    ExtismSize n_outputs, ExtismFunctionType func,
                                    void *user_data,
                                    void (*free_user_data)(void *));

/** Sets the import module of plug-ins created afterwards with this function. */
void extism_function_set_namespace(ExtismFunction *function, const char *namespace_);

/** Frees a function object; plug-ins made with it keep working. NULL: no-op. */
void extism_function_free(ExtismFunction *function);

/* ------------------------------------ inside host functions: the plug-in -- */

/**
 * The base of the Extism memory: `base + handle` is the first byte of block
 * `handle`. The memory may move when it grows: call again after
 * extism_current_plugin_memory_alloc.
 */
uint8_t *extism_current_plugin_memory(ExtismCurrentPlugin *plugin);

/** Allocates a block of `n` bytes; 0 when `n` is 0 or memory is exhausted. */
ExtismMemoryHandle extism_current_plugin_memory_alloc(ExtismCurrentPlugin *plugin,
                                                      ExtismSize n);

/** The length of block `handle`; 0 when it is not a live block. */
ExtismSize extism_current_plugin_memory_length(ExtismCurrentPlugin *plugin,
                                               ExtismMemoryHandle handle);

/** Frees block `handle`. */
void extism_current_plugin_memory_free(ExtismCurrentPlugin *plugin,
                                       ExtismMemoryHandle handle);

/** The host context of the running call, or NULL. */
void *extism_current_plugin_host_context(ExtismCurrentPlugin *plugin);

/* -------------------------------------------------------------- logging -- */

/**
 * Sends log lines at `log_level` ("trace", "debug", "info", "warn", "error",
 * "off"; NULL: "error") and above to `filename`: "stdout", "stderr" or a file
 * path (appended to). The level is also what plug-ins see (get_log_level).
 */
bool extism_log_file(const char *filename, const char *log_level);

/** Buffers log lines at `log_level` and above until extism_log_drain. */
bool extism_log_custom(const char *log_level);

/** Hands every buffered line to `handler`, in order, and empties the buffer. */
void extism_log_drain(ExtismLogDrainFunctionType handler);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* INTERPLUG_H */
