/* TensorWasm embedding API.
 *
 * Objects and who owns them:
 *   tw_engine_t   configuration, the type registry, compiler state. Lives
 *                 longest; everything else must be freed before it.
 *   tw_module_t   a decoded, validated and compiled module. Immutable and
 *                 shareable across threads and stores.
 *   tw_store_t    owns instances and the memories, tables and globals they
 *                 create. Instances in one store may link to each other;
 *                 everything in a store is freed with it. A store is used
 *                 by one thread at a time (tw_store_interrupt excepted).
 *   tw_linker_t   names -> externals (host functions, exports of other
 *                 instances) used to satisfy imports.
 *   tw_instance_t an instantiated module inside a store.
 *
 * Errors: functions return 0 or a negative TW_E* code; tw_strerror() names
 * the code, and functions that take (err, errlen) also write a message
 * that says what and where. No function of this API aborts on bad input.
 */
#ifndef TW_TW_H
#define TW_TW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TW_BUILDING) && (defined(__GNUC__) || defined(__clang__))
#define TW_API __attribute__((visibility("default")))
#else
#define TW_API
#endif

/* ---- Errors ---- */

/* The error table: X(NAME, value, message). Each code is declared here
 * once; tw_strerror() reads the same table. */
#define TW_ERRORS(X)                                                        \
  X(OK, 0, "success")                                                       \
  X(ENOMEM, -1, "out of memory")                                            \
  X(EINVAL, -2, "invalid argument")                                         \
  X(EMALFORMED, -3, "malformed module")                                     \
  X(EINVALID, -4, "invalid module")                                         \
  X(ELIMIT, -5, "implementation limit exceeded")                            \
  X(EUNLINKABLE, -6, "unknown or incompatible import")                      \
  X(ETRAP, -7, "trap")                                                      \
  X(ECOMPILE, -8, "code generation or compilation failed")                  \
  X(EIO, -9, "input/output error")                                          \
  X(ENOTFOUND, -10, "not found")                                            \
  X(EUNSUPPORTED, -11, "not supported")                                     \
  X(EEXISTS, -12, "already exists")                                         \
  X(ETYPE, -13, "type mismatch")                                            \
  X(EEXIT, -14, "guest exited")                                             \
  X(EAUTH, -15, "authentication failed")

enum tw_error {
#define TW_ERROR_ENUM_(name, value, msg) TW_##name = value,
  TW_ERRORS(TW_ERROR_ENUM_)
#undef TW_ERROR_ENUM_
};

/* A static message for an error code ("unknown error" for others). */
TW_API const char *tw_strerror(int code);

/* ---- Values ---- */

typedef enum tw_valtype {
  TW_I32 = 0x7f,
  TW_I64 = 0x7e,
  TW_F32 = 0x7d,
  TW_F64 = 0x7c,
  TW_V128 = 0x7b,
  TW_FUNCREF = 0x70,
  TW_EXTERNREF = 0x6f,
} tw_valtype_t;

/* A value. Floats travel as their IEEE bit patterns so NaN payloads are
 * kept exactly. References are opaque pointers: NULL is the null
 * reference; an externref is whatever pointer the host put in; a funcref
 * points to a function object owned by its store. */
typedef struct tw_val {
  uint8_t type; /* tw_valtype_t */
  union {
    uint32_t i32;
    uint64_t i64;
    uint32_t f32; /* bits */
    uint64_t f64; /* bits */
    uint8_t v128[16];
    void *ref;
  } of;
} tw_val_t;

/* Name of a value type ("i32", "funcref"...); "?" for unknown bytes. */
TW_API const char *tw_valtype_name(uint8_t type);

/* ---- Engine ---- */

typedef struct tw_engine tw_engine_t;

/* Compilation tiers. Tier 0 compiles generated C in memory with libtcc
 * (milliseconds; slower code); tier 1 compiles the same C with the system
 * C compiler (`cc -O2`, or $TW_CC) into a shared object, in background
 * threads, cached on disk. Calls switch to tier-1 code once it is ready:
 * at the start of each call from the host, instances whose module has it
 * rebind to it. A failed tier-1 compile (no compiler, compiler error,
 * time limit) is logged once to stderr and tier 0 keeps serving. */
typedef enum tw_tier {
  TW_TIER_AUTO = 0, /* tier 0 at once, tier 1 in the background */
  TW_TIER_0 = 1,    /* tier 0 only */
  TW_TIER_1 = 2,    /* tw_module_new waits for tier 1 */
} tw_tier_t;

typedef struct tw_engine_config {
  /* Per-instance cap on linear memory, in bytes (default 256 MiB).
   * memory.grow past it returns -1 as the spec allows. */
  uint64_t max_memory_bytes;
  /* Native stack reserved for guest calls, in bytes: a call that would
   * leave less than this margin on the calling thread's stack traps with
   * "call stack exhausted" (default 256 KiB). */
  uint32_t stack_margin_bytes;
  /* Cap on one table's size, in elements (default 10M). */
  uint32_t max_table_elems;
  /* Wall-clock limit of one call into a guest, in milliseconds; past it
   * the guest traps with "deadline exceeded" (default 30000; 0 = none). */
  uint32_t deadline_ms;
  /* Which compiled code serves calls (default TW_TIER_AUTO, or what the
   * environment variable TW_TIER says: "0", "1" or "auto"). */
  tw_tier_t tier;
  /* Folder of the on-disk code cache (tier-1 shared objects), shared by
   * processes and kept across restarts. tw_engine_config_default() sets
   * TW_CACHE_DIR_DEFAULT: $TW_CACHE_DIR, else $XDG_CACHE_HOME/tensor-wasm,
   * else ~/.cache/tensor-wasm. NULL or "" disables the cache. The string
   * is copied by tw_engine_new. */
  const char *cache_dir;
  /* Generated code polls the deadline at every function entry and loop
   * header (default true). false drops the polls: slightly faster loops,
   * but deadlines then cannot stop a guest. */
  bool interruptible;
} tw_engine_config_t;

/* The cache_dir value that stands for the default location. */
#define TW_CACHE_DIR_DEFAULT ":default:"

/* Fills *cfg with the defaults. */
TW_API void tw_engine_config_default(tw_engine_config_t *cfg);

/* Creates an engine (cfg may be NULL for defaults). Installs the guest
 * fault handlers the first time it is called in a process. */
TW_API int tw_engine_new(const tw_engine_config_t *cfg, tw_engine_t **out);
TW_API void tw_engine_free(tw_engine_t *engine);

/* ---- Modules ---- */

typedef struct tw_module tw_module_t;

/* Decodes, validates and compiles (tier 0) `size` bytes of a .wasm
 * binary. The bytes are copied. On failure returns TW_EMALFORMED,
 * TW_EINVALID, TW_ELIMIT, TW_ECOMPILE or TW_ENOMEM and writes a message
 * naming the section, function and byte offset into err. */
TW_API int tw_module_new(tw_engine_t *engine, const uint8_t *bytes,
                         size_t size, tw_module_t **out, char *err,
                         size_t errlen);

/* Decodes and validates only: the result of tw_module_new without code
 * generation. Useful to check a module cheaply. */
TW_API int tw_module_validate(tw_engine_t *engine, const uint8_t *bytes,
                              size_t size, char *err, size_t errlen);

TW_API void tw_module_free(tw_module_t *module);

/* Which tier new calls into instances of this module use: 0 or 1. */
TW_API int tw_module_tier(const tw_module_t *module);

/* Waits up to timeout_ms (UINT32_MAX: no limit) for tier-1 code. Returns
 * 0 once it is ready; TW_ECOMPILE if the tier-1 compile failed (tier 0
 * keeps serving); TW_EUNSUPPORTED if the engine does not build tier 1
 * (TW_TIER_0); TW_ELIMIT if the time ran out first. */
TW_API int tw_module_wait_tier1(tw_module_t *module, uint32_t timeout_ms);

/* Deadline overrides. A call's deadline is the most specific one set:
 * the call's (tw_call_options_t), else the instance's, else the module's,
 * else the engine's deadline_ms. Overrides take milliseconds;
 * TW_DEADLINE_INHERIT (0) removes the override, TW_DEADLINE_NONE sets "no
 * deadline". A call made by a host function from inside a guest call
 * never gets a later deadline than the call around it. */
#define TW_DEADLINE_INHERIT 0u
#define TW_DEADLINE_NONE UINT32_MAX

/* Sets the module's deadline (applies to instances made from it, also to
 * their start functions). Thread-safe. */
TW_API void tw_module_set_deadline_ms(tw_module_t *module, uint32_t ms);

/* Milliseconds spent generating C and compiling it for this module. */
TW_API double tw_module_codegen_ms(const tw_module_t *module);
TW_API double tw_module_compile_ms(const tw_module_t *module);

/* Describing a module's imports and exports. Indices run from 0 to the
 * count minus one; the strings are owned by the module. Names may contain
 * any bytes: *len gives their length. */
typedef enum tw_extern_kind {
  TW_EXTERN_KIND_FUNC = 0,
  TW_EXTERN_KIND_TABLE = 1,
  TW_EXTERN_KIND_MEMORY = 2,
  TW_EXTERN_KIND_GLOBAL = 3,
} tw_extern_kind_t;

TW_API uint32_t tw_module_export_count(const tw_module_t *module);
TW_API int tw_module_export_info(const tw_module_t *module, uint32_t i,
                                 const char **name, size_t *name_len,
                                 tw_extern_kind_t *kind);
TW_API uint32_t tw_module_import_count(const tw_module_t *module);
TW_API int tw_module_import_info(const tw_module_t *module, uint32_t i,
                                 const char **module_name,
                                 size_t *module_len, const char **name,
                                 size_t *name_len, tw_extern_kind_t *kind);

/* A function type: parameter and result types. The arrays are owned by
 * whatever returned the type. */
typedef struct tw_functype {
  uint32_t nparams;
  uint32_t nresults;
  const uint8_t *params;  /* tw_valtype_t each */
  const uint8_t *results; /* tw_valtype_t each */
} tw_functype_t;

/* The type of exported function `name`; TW_ENOTFOUND if there is no such
 * function export. */
TW_API int tw_module_export_functype(const tw_module_t *module,
                                     const char *name, tw_functype_t *out);
/* The same for a name of name_len bytes (which may contain NUL). */
TW_API int tw_module_export_functype_n(const tw_module_t *module,
                                       const char *name, size_t name_len,
                                       tw_functype_t *out);

/* Converts WebAssembly text (.wat) to a binary module. On success *out is
 * a buffer of *out_len bytes to release with tw_free(); on failure returns
 * TW_EMALFORMED with the parser's first message (line:column) in err. */
TW_API int tw_wat_to_wasm(const char *text, size_t len, uint8_t **out,
                          size_t *out_len, char *err, size_t errlen);

/* Releases memory returned by this API where a function says so. */
TW_API void tw_free(void *p);

/* ---- Stores and instances ---- */

typedef struct tw_store tw_store_t;
typedef struct tw_instance tw_instance_t;

TW_API int tw_store_new(tw_engine_t *engine, tw_store_t **out);
/* Frees the store and everything instantiated in it. */
TW_API void tw_store_free(tw_store_t *store);

/* ---- Traps ---- */

/* Trap kinds, with the specification's wording. */
#define TW_TRAPS(X)                                                         \
  X(NONE, "no trap")                                                        \
  X(UNREACHABLE, "unreachable")                                             \
  X(MEMORY_OOB, "out of bounds memory access")                              \
  X(DIV_BY_ZERO, "integer divide by zero")                                  \
  X(INT_OVERFLOW, "integer overflow")                                       \
  X(BAD_CONVERSION, "invalid conversion to integer")                        \
  X(UNDEFINED_ELEMENT, "undefined element")                                 \
  X(UNINITIALIZED_ELEMENT, "uninitialized element")                         \
  X(INDIRECT_CALL_TYPE, "indirect call type mismatch")                      \
  X(STACK_EXHAUSTED, "call stack exhausted")                                \
  X(TABLE_OOB, "out of bounds table access")                                \
  X(DEADLINE, "deadline exceeded")                                          \
  X(HOST, "host function error")                                            \
  X(EXIT, "exit")                                                           \
  X(INTERRUPTED, "interrupted")

typedef enum tw_trap_kind {
#define TW_TRAP_ENUM_(name, msg) TW_TRAP_##name,
  TW_TRAPS(TW_TRAP_ENUM_)
#undef TW_TRAP_ENUM_
  TW_TRAP_COUNT_
} tw_trap_kind_t;

/* The specification's message for a trap kind. */
TW_API const char *tw_trap_message(tw_trap_kind_t kind);

/* What stopped the last failed call on a store: kind, message (for HOST
 * traps, the host's text), and for EXIT the guest's exit code. */
typedef struct tw_trap_info {
  tw_trap_kind_t kind;
  int32_t exit_code;
  char message[256];
} tw_trap_info_t;

TW_API void tw_store_last_trap(const tw_store_t *store, tw_trap_info_t *out);

/* Interrupts the call running in `store`, if any: the call, and every
 * call nested in it (host function -> guest), traps with
 * TW_TRAP_INTERRUPTED at its next deadline poll (function entry or loop
 * header; within about a millisecond), and host functions that wait
 * (WASI poll_oneoff, blocking reads) stop waiting and end the call the
 * same way. Callable from any thread, also while the store is in a call on
 * another thread; the store must stay alive until this returns. It only
 * concerns the call in flight: the flag is cleared when the next
 * outermost call on the store starts, so an interrupt that arrives when
 * no call runs (or just before one starts) has no effect; callers that
 * cannot tell should retry while they still see the call running. Needs
 * the engine's `interruptible` (default): without polls only waiting host
 * functions notice. Returns 0, or TW_EINVAL for a NULL store. */
TW_API int tw_store_interrupt(tw_store_t *store);

/* ---- Host functions and the linker ---- */

typedef struct tw_caller tw_caller_t;

/* A host function. args holds nparams values, results has room for
 * nresults; the callee fills results with the declared types. Return 0,
 * or call tw_caller_trap() / tw_caller_exit() and return its value to
 * stop the guest. */
typedef int (*tw_host_fn)(tw_caller_t *caller, void *user,
                          const tw_val_t *args, tw_val_t *results);

/* The instance whose code called the host function, and its memory 0
 * (NULL and size 0 if it has none). The base never moves (memories live in
 * fixed reservations); the size may grow with the guest's next call. */
TW_API tw_instance_t *tw_caller_instance(tw_caller_t *caller);
TW_API uint8_t *tw_caller_memory(tw_caller_t *caller, uint64_t *size);
/* Copies between guest memory 0 and host buffers with bounds checks;
 * TW_EINVAL if [ptr, ptr+len) is not inside the memory. */
TW_API int tw_caller_read(tw_caller_t *caller, uint64_t ptr, void *dst,
                          size_t len);
TW_API int tw_caller_write(tw_caller_t *caller, uint64_t ptr,
                           const void *src, size_t len);
/* The current call's deadline on the CLOCK_MONOTONIC clock, in
 * nanoseconds (UINT64_MAX when there is none); the current time once the
 * store was interrupted (tw_store_interrupt). Host functions that wait
 * (sleeps, polls, reads from slow sources) must not wait past it, and
 * should wait in slices of a few milliseconds, asking again after each,
 * so that an interrupt is noticed; once it has passed they return
 * tw_caller_deadline_trap(caller). */
TW_API uint64_t tw_caller_deadline_ns(tw_caller_t *caller);
/* Ends the guest call with "deadline exceeded", or with "interrupted"
 * (TW_TRAP_INTERRUPTED) when the store was interrupted. Returns
 * TW_ETRAP. */
TW_API int tw_caller_deadline_trap(tw_caller_t *caller);
/* Ends the guest call with a host trap and message. Returns TW_ETRAP. */
TW_API int tw_caller_trap(tw_caller_t *caller, const char *fmt, ...);
/* Ends the guest call as an exit (WASI proc_exit). Returns TW_EEXIT. */
TW_API int tw_caller_exit(tw_caller_t *caller, int32_t code);

typedef struct tw_linker tw_linker_t;

TW_API int tw_linker_new(tw_engine_t *engine, tw_linker_t **out);
TW_API void tw_linker_free(tw_linker_t *linker);

/* Defines host function module.name with the given type. The type's
 * arrays are copied. TW_EEXISTS if the name is taken. */
TW_API int tw_linker_define_func(tw_linker_t *linker, const char *module,
                                 const char *name, const tw_functype_t *type,
                                 tw_host_fn fn, void *user);

/* Makes every export of `instance` importable as module_name.export. The
 * instance must outlive the linker's use of it (same store). */
TW_API int tw_linker_define_instance(tw_linker_t *linker,
                                     const char *module_name,
                                     tw_instance_t *instance);

/* Defines host-created externals (used by test harnesses: the spectest
 * module). The objects are created in `store`. */
TW_API int tw_linker_define_memory(tw_linker_t *linker, tw_store_t *store,
                                   const char *module, const char *name,
                                   uint32_t min_pages, uint32_t max_pages,
                                   bool has_max);
TW_API int tw_linker_define_table(tw_linker_t *linker, tw_store_t *store,
                                  const char *module, const char *name,
                                  tw_valtype_t reftype, uint32_t min,
                                  uint32_t max, bool has_max);
TW_API int tw_linker_define_global(tw_linker_t *linker, tw_store_t *store,
                                   const char *module, const char *name,
                                   const tw_val_t *value, bool mutable_);

/* Instantiates `module` in `store`, resolving imports through `linker`
 * (which may be NULL when the module imports nothing): allocates memories,
 * tables and globals, applies element and data segments, runs the start
 * function. Errors: TW_EUNLINKABLE (missing or incompatible import,
 * message names it), TW_ETRAP (a segment out of bounds or the start
 * function trapped: see tw_store_last_trap; the instance is not created),
 * TW_ELIMIT, TW_ENOMEM. */
TW_API int tw_instance_new(tw_store_t *store, tw_module_t *module,
                           tw_linker_t *linker, tw_instance_t **out,
                           char *err, size_t errlen);

TW_API const tw_module_t *tw_instance_module(const tw_instance_t *instance);

/* Calls exported function `name` with nargs arguments, writing its
 * results to results (room for nresults). Arguments must match the
 * function's type exactly (TW_ETYPE otherwise, with a message). Returns 0,
 * TW_ENOTFOUND, TW_ETYPE, TW_ETRAP or TW_EEXIT (details from
 * tw_store_last_trap). Runs on the calling thread. */
TW_API int tw_instance_call(tw_instance_t *instance, const char *name,
                            const tw_val_t *args, size_t nargs,
                            tw_val_t *results, size_t nresults, char *err,
                            size_t errlen);

/* The same, for an export name of name_len bytes that may contain any
 * byte, NUL included (export names are arbitrary UTF-8). */
TW_API int tw_instance_call_n(tw_instance_t *instance, const char *name,
                              size_t name_len, const tw_val_t *args,
                              size_t nargs, tw_val_t *results,
                              size_t nresults, char *err, size_t errlen);

/* Per-call options; zero-initialise (fields may be added at the end). */
typedef struct tw_call_options {
  /* Deadline of this call in milliseconds; TW_DEADLINE_INHERIT (0) for
   * the instance's, module's or engine's; TW_DEADLINE_NONE for none. */
  uint32_t deadline_ms;
} tw_call_options_t;

/* tw_instance_call_n with options (opts may be NULL). */
TW_API int tw_instance_call_ex(tw_instance_t *instance, const char *name,
                               size_t name_len, const tw_val_t *args,
                               size_t nargs, tw_val_t *results,
                               size_t nresults,
                               const tw_call_options_t *opts, char *err,
                               size_t errlen);

/* Sets the deadline of later calls into this instance (see
 * TW_DEADLINE_INHERIT). The instance's store must not be in a call on
 * another thread. */
TW_API void tw_instance_set_deadline_ms(tw_instance_t *instance,
                                        uint32_t ms);

/* Reads exported global `name` into *out. */
TW_API int tw_instance_global_get(tw_instance_t *instance, const char *name,
                                  tw_val_t *out);
TW_API int tw_instance_global_get_n(tw_instance_t *instance,
                                    const char *name, size_t name_len,
                                    tw_val_t *out);

/* Exported memory `name` (NULL for memory 0 whichever its name): base and
 * current size in bytes. The base never moves; the size may grow. */
TW_API int tw_instance_memory(tw_instance_t *instance, const char *name,
                              uint8_t **base, uint64_t *size);

/* Runs `_initialize` if the module exports it and it has not run yet
 * (the WASI reactor convention); 0 when there is none. */
TW_API int tw_instance_initialize(tw_instance_t *instance, char *err,
                                  size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
