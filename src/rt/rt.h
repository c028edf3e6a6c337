/* The runtime's internal header: the structs behind the public handles of
 * include/tw/tw.h, and the shared internals (tw__rt_*) that the runtime's
 * files call on each other. Nothing outside src/rt/ includes this.
 *
 * Ownership: the engine outlives modules, stores and linkers; a module is
 * reference-counted (instances hold a reference, so a freed module's code
 * stays alive while an instance of it lives); a store owns its instances
 * (also ones whose instantiation failed half-way: their functions may sit
 * in imported tables) and every memory, table and global created in it.
 */
#ifndef TW_RT_RT_H
#define TW_RT_RT_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "codegen/codegen.h"
#include "rt/abi.h"
#include "tw/tw.h"
#include "wasm/wasm.h"

/* ---- engine.c ---- */

/* One interned function type (canonical id = index in the registry). */
struct tw__rt_type {
  uint32_t nparams, nresults;
  uint8_t *types; /* params then results */
  uint64_t hash;
};

struct tw_engine {
  tw_engine_config_t cfg;

  pthread_mutex_t types_mu;
  struct tw__rt_type *types; /* [ntypes], grows; entries never move data */
  uint32_t ntypes, types_cap;
  uint32_t *slots; /* open addressing: id + 1, 0 = empty; [nslots] */
  uint32_t nslots;

  /* Deadline epoch: milliseconds since the engine started, advanced by
   * the timer thread while any call runs. At each advance the timer stops
   * (struct twr_exec) every running call whose deadline has passed. */
  uint64_t epoch; /* __atomic accesses only */
  uint64_t start_ns;
  /* timer_mu guards `running` (every protected call in progress, linked
   * through run_prev/run_next) and the timer thread's state. */
  struct tw__exec *running;
  pthread_mutex_t timer_mu;
  pthread_cond_t timer_cv;
  pthread_t timer;
  bool timer_started, timer_stop;
  bool timer_waiting; /* the timer sleeps until the next call */

  /* Tier 1 (tier.c): created with the engine unless cfg.tier is
   * TW_TIER_0; its threads start with the first module. */
  struct tw__tier1 *tier1;
  char *cache_dir; /* resolved cfg.cache_dir, NULL when disabled */
};

/* Interns a function type; *id receives its canonical id. */
int tw__rt_type_intern(tw_engine_t *e, uint32_t nparams, uint32_t nresults,
                       const uint8_t *types, uint32_t *id);
/* The interned type with canonical id `id` (which must exist). The
 * returned view stays valid for the engine's life. */
void tw__rt_type_get(tw_engine_t *e, uint32_t id, tw_functype_t *out);
/* Registers x as running (starting the timer thread on first use) and
 * sets its deadline: deadline_ms from now (0: none), never later than the
 * enclosing call's x->prev. calls_leave unregisters it; after that the
 * timer no longer touches x. */
void tw__rt_calls_enter(tw_engine_t *e, struct tw__exec *x,
                        uint32_t deadline_ms);
void tw__rt_calls_leave(tw_engine_t *e, struct tw__exec *x);

/* ---- module.c ---- */

struct tw_module {
  tw_engine_t *engine;
  atomic_int refs;
  struct tw__module *m;
  struct tw__code *code;
  struct twr_code rc; /* filled by the module's twm_entry */
  uint32_t *type_ids; /* [m->ntypes] module type index -> canonical id */
  double codegen_ms, compile_ms;
  /* Caches filled on first use, published with a compare-and-swap (the
   * loser frees its copy) and freed with the module by
   * tw__rt_module_caches_free: the copy-on-write image of memory 0
   * (instance.c) and the BLAKE3 digest of the module's bytes (snap). */
  _Atomic(struct tw__rt_image *) image;
  _Atomic(uint8_t *) digest; /* 32 bytes */

  /* Tier 1 (tier.c). tier becomes 1 (release) once rc1 and t1_code are
   * complete and never changes after; t1_failed is set when the tier-1
   * compile failed. Both are written by a pool thread, read anywhere. */
  struct tw__tier1_job *t1_job;
  struct tw__tier1_code *t1_code;
  struct twr_code rc1;
  atomic_int tier;
  atomic_bool t1_failed;
  atomic_uint deadline_ms; /* per-module override, TW_DEADLINE_INHERIT */
};

void tw__rt_module_ref(tw_module_t *mod);
/* Finds export `name` (name_len bytes) of kind `kind`; -1 if none. */
int64_t tw__rt_module_find_export(const tw_module_t *mod, const char *name,
                                  size_t name_len, uint8_t kind);
/* Frees what the module's caches hold (called by module_release). */
void tw__rt_module_caches_free(tw_module_t *mod);
/* The BLAKE3 digest of the module's bytes (computed once, cached). NULL
 * only when out of memory. Owned by the module. */
const uint8_t *tw__rt_module_digest(tw_module_t *mod);

/* ---- memory.c ---- */

/* A linear memory: the ABI struct first, then what only the runtime
 * needs. The reservation is 8 GiB + 64 KiB, PROT_NONE except the first
 * `size` bytes, with the memory's poll page below it (abi.h). */
struct tw__rt_memory {
  struct twr_memory m;
  size_t reserve_len;
  int slot; /* index in the reservation registry */
  uint64_t decl_max; /* declared maximum (pages), for import matching */
  bool has_max;
  /* What backs the start of the accessible part: anonymous memory
   * (backing NULL, backing_len 0), or a private (copy-on-write) mapping
   * of a file over [0, backing_len): a module's image (backing points to
   * it) or a snapshot's memory (TW__RT_BACKING_OTHER). */
  const void *backing;
  uint64_t backing_len;
};

#define TW__RT_BACKING_OTHER ((const void *)1)

/* A module's memory 0 after its active data segments, in a sealed memfd
 * (instance.c). Valid only for instances whose imported globals used by
 * segment offsets have the values in key[] (checked at each use). */
struct tw__rt_image {
  int fd;
  uint64_t len; /* bytes: memory 0's initial pages * 64 KiB */
  uint32_t nkey;
  uint32_t *key_global; /* [nkey] imported global indexes */
  uint32_t *key_value;  /* [nkey] their i32 values when built */
};

/* Reserves a memory of `min` pages, maximum `max` (if has_max), capped by
 * cap_bytes, whose poll page the stopped calls of `owner` (a store) arm.
 * TW_ELIMIT if min exceeds the cap; TW_ENOMEM if the reservation fails. */
int tw__rt_memory_new(const void *owner, uint64_t min, uint64_t max,
                      bool has_max, uint64_t cap_bytes,
                      struct tw__rt_memory **out, char *err, size_t errlen);
void tw__rt_memory_free(struct tw__rt_memory *mem);
/* memory.grow: the old size in pages, or (u32)-1 past the maximum or
 * when the pages cannot be made accessible. */
uint32_t tw__rt_memory_grow(struct twr_memory *m, uint32_t delta);
/* Maps len bytes of fd (from offset 0) copy-on-write over the start of
 * the memory, making [0, max(len, size)) accessible; len is a multiple of
 * 64 KiB within the memory's maximum. backing tags the mapping (see
 * struct tw__rt_memory). On failure the memory is unchanged or, if the
 * kernel failed half-way, left inaccessible (size 0): TW_ENOMEM. */
int tw__rt_memory_map_file(struct tw__rt_memory *mem, int fd, uint64_t len,
                           const void *backing);
/* Brings the memory back to `pages` pages of zeros, or of `image` when
 * given (image->len == pages * 64 KiB): pages past the initial size become
 * inaccessible and are discarded; no byte written before stays visible.
 * Returns 0 or TW_ENOMEM (the memory is then left inaccessible). */
int tw__rt_memory_reset(struct tw__rt_memory *mem, uint64_t pages,
                        const struct tw__rt_image *image);
/* Whether [addr, addr+1) lies inside a registered reservation. Lock-free
 * and async-signal-safe. */
bool tw__rt_reservation_contains(uintptr_t addr);
/* The poll page (abi.h) that addr lies in, or 0. Lock-free and
 * async-signal-safe. */
uintptr_t tw__rt_poll_page_at(uintptr_t addr);
/* Makes the poll pages of owner's memories (of every memory when owner
 * is NULL) inaccessible, so that loop headers running on them fault. */
void tw__rt_polls_arm(const void *owner);
/* Makes one poll page readable again. Async-signal-safe. */
void tw__rt_poll_page_disarm(uintptr_t page);
/* Raw reservation registry, exposed for tests. */
int tw__rt_reservation_register(void *base, size_t len);
void tw__rt_reservation_unregister(int slot);

/* ---- trap.c ---- */

/* Execution state of one protected call. Embeds the ABI struct first. */
struct tw__exec {
  struct twr_exec x;
  sigjmp_buf jb;
  struct tw__exec *prev; /* enclosing protected call on this thread */
  /* Enclosing protected call of the same store (see tw_store.exec). */
  struct tw__exec *store_prev;
  tw_store_t *store;
  /* The engine epoch past which the call stops (UINT64_MAX: never; 0 once
   * interrupted). Written under the engine's timer_mu or by an
   * interrupter, read atomically. */
  uint64_t deadline;
  struct tw__exec *run_prev, *run_next; /* engine->running */
  int trap_kind;    /* tw_trap_kind_t once trapped */
  int32_t exit_code;
  int in_host; /* > 0 while a host function runs (faults not ours) */
  uint32_t late_ticks; /* timer ticks run stopped (engine.c, timer_mu) */
};

/* The body of a protected call: runs guest code through x. */
typedef void (*tw__rt_body_fn)(struct tw__exec *x, void *arg);

/* Installs the SIGSEGV/SIGBUS handlers once per process. */
int tw__rt_trap_init(void);
/* Runs fn(x, arg) with traps turned into a status: 0, TW_ETRAP or
 * TW_EEXIT; the trap is recorded in the store (tw_store_last_trap). May
 * be nested (a host function calling back into a guest). The only user
 * of sigsetjmp in the project. */
int tw__rt_protected_call(tw_store_t *store, tw__rt_body_fn fn, void *arg);
/* Unwinds the innermost protected call of this thread with trap `kind`.
 * The message for HOST/EXIT traps must already be in the store. */
TW_NORETURN void tw__rt_trap(struct tw__exec *x, int kind);
/* Makes x trap with a deadline at its next check (any thread). */
void tw__rt_exec_stop(struct tw__exec *x);
/* The services table handed to generated code (services.c). */
extern const struct twr_rt tw__rt_services;
/* The current protected call of this thread, or NULL. */
struct tw__exec *tw__rt_current_exec(void);

/* ---- store / instance.c ---- */

struct tw__rt_table {
  struct twr_table t;
  uint32_t decl_max; /* declared maximum */
  bool has_max;
};

struct tw__rt_global {
  twr_val val;
  uint8_t type;
  bool mutable_;
};

/* A host function bound to one imported function of one instance: the
 * env that the module's import thunk passes to call_host. */
struct tw__rt_binding {
  tw_host_fn fn;
  void *user;
  uint32_t type_id;
  tw_instance_t *caller;
};

/* Something the store frees at the end: what kind and the pointer. */
enum tw__rt_own_kind {
  TW__RT_OWN_MEMORY, /* struct tw__rt_memory */
  TW__RT_OWN_TABLE,  /* struct tw__rt_table */
  TW__RT_OWN_GLOBAL, /* struct tw__rt_global */
  TW__RT_OWN_INSTANCE,
};
struct tw__rt_owned {
  uint8_t kind; /* enum tw__rt_own_kind */
  void *p;
};

struct tw_store {
  tw_engine_t *engine;
  tw_trap_info_t last_trap;
  struct tw__rt_owned *owned;
  size_t nowned, owned_cap;
  /* Instances on tier-0 code whose module may still get tier 1: while
   * nonzero, each outermost protected call looks for some to rebind. */
  size_t tier0_instances;
  /* Interrupts (trap.c). exec is the innermost protected call running in
   * this store (its execs chain through store_prev), written only by the
   * thread running them; interrupted is set by tw_store_interrupt from any
   * thread and cleared when an outermost call of the store starts.
   * interrupters counts tw_store_interrupt calls walking the chain: a call
   * that unlinks its exec waits for it to drop to 0 before its frame goes
   * away (all seq_cst, see trap.c). */
  _Atomic(struct tw__exec *) exec;
  atomic_bool interrupted;
  atomic_uint interrupters;
};

/* Hands p to the store, which frees it in tw_store_free (objects are
 * freed in reverse order of hand-over). On failure p stays the caller's. */
int tw__rt_store_own(tw_store_t *s, uint8_t kind, void *p);
/* Frees every object handed over after the store held `mark` of them. */
void tw__rt_store_truncate(tw_store_t *s, size_t mark);
/* Creates a table owned by the store (min/max in elements, capped by the
 * engine's max_table_elems: TW_ELIMIT if min exceeds it). */
int tw__rt_table_new(tw_store_t *s, uint8_t reftype, uint64_t min,
                     uint64_t max, bool has_max, struct tw__rt_table **out,
                     char *err, size_t errlen);
/* Sets the store's last trap (message formatted; kind's own if NULL). */
void tw__rt_set_trap(tw_store_t *s, int kind, int32_t exit_code,
                     const char *fmt, ...) TW_PRINTF(4, 5);

struct tw_instance {
  struct twr_inst in; /* first: generated code's view */
  tw_store_t *store;
  tw_module_t *module;
  struct twr_memory **memories;
  struct twr_table **tables;
  twr_val **globals;
  const struct twr_func **funcs;
  struct twr_func *own_funcs; /* [nfuncs] defined functions */
  struct twr_func *import_funcs; /* [nfunc_imports] for host bindings */
  struct tw__rt_binding *bindings; /* [nfunc_imports] */
  struct twr_dataseg *datas;
  struct twr_elemseg *elems;
  bool initialized;
  int8_t tier;          /* code its twr_func entries point to; -1: stays 0 */
  uint32_t deadline_ms; /* per-instance override, TW_DEADLINE_INHERIT */
};

void tw__rt_instance_free(tw_instance_t *inst);
/* tw_instance_new with flags. TW__RT_INST_BARE: resolve imports and
 * allocate only (memories zero, tables null, globals initialised, no
 * segment applied, no start function): for callers that set the whole
 * state themselves (snapshot restore). */
#define TW__RT_INST_BARE 1u
int tw__rt_instance_new(tw_store_t *store, tw_module_t *module,
                        tw_linker_t *linker, unsigned flags,
                        tw_instance_t **out, char *err, size_t errlen);
/* The runtime struct of a memory / table / global from the generated
 * code's view (each embeds the ABI struct first). */
#define TW__RT_MEMORY(p) ((struct tw__rt_memory *)(void *)(p))
#define TW__RT_TABLE(p) ((struct tw__rt_table *)(void *)(p))
#define TW__RT_GLOBAL(p) ((struct tw__rt_global *)(void *)(p))
/* Whether the instance owns every memory, table and mutable global it
 * uses (imports none of them): only such instances can be reset or
 * restored from a snapshot without touching another instance's state. */
bool tw__rt_instance_self_contained(const tw_instance_t *inst);
/* table.grow semantics: old size, or (u32)-1 past max or out of memory. */
uint32_t tw__rt_table_grow(struct twr_table *t, void *init, uint32_t delta);

/* ---- tier.c: tier 1 and deadlines ---- */

/* Creates the engine's tier-1 service and resolves its cache folder (from
 * e->cfg); frees them. */
int tw__rt_tier_engine_init(tw_engine_t *e);
void tw__rt_tier_engine_free(tw_engine_t *e);
/* Starts the module's tier-1 compile (after tier 0 succeeded) and, in
 * TW_TIER_1 mode, waits for it. Tier-1 failures are not errors. */
int tw__rt_tier_module_start(tw_module_t *mod, char *err, size_t errlen);
/* Cancels a running tier-1 compile and frees tier-1 code. */
void tw__rt_tier_module_free(tw_module_t *mod);
/* Points a new instance at tier-1 code if its module has it, or counts it
 * as waiting for it. Call once the store owns the instance. */
void tw__rt_tier_instance_init(tw_instance_t *inst);
/* Rebinds the store's instances whose module's tier 1 became ready. */
void tw__rt_tier_store_update(tw_store_t *s);
/* The deadline in ms (0: none) of a call into inst with per-call value
 * call_ms: the most specific override wins. */
uint32_t tw__rt_deadline_ms(const tw_instance_t *inst, uint32_t call_ms);
/* tw__rt_protected_call with an explicit deadline (ms, 0: none). */
int tw__rt_protected_call_dl(tw_store_t *store, tw__rt_body_fn fn, void *arg,
                             uint32_t deadline_ms);

/* ---- linker.c ---- */

struct tw__rt_extern {
  uint8_t kind; /* enum tw_extern_kind */
  union {
    const struct twr_func *func; /* instance export, or NULL for host */
    struct tw__rt_memory *memory;
    struct tw__rt_table *table;
    struct tw__rt_global *global;
  } u;
  /* host functions */
  tw_host_fn host_fn;
  void *user;
  uint32_t type_id;
};

/* Looks module.name up; NULL if undefined. */
const struct tw__rt_extern *tw__rt_linker_lookup(const tw_linker_t *l,
                                                 const char *module,
                                                 size_t module_len,
                                                 const char *name,
                                                 size_t name_len);

/* ---- host.c ---- */

struct tw_caller {
  struct tw__exec *exec;
  tw_instance_t *instance;
  bool trapped; /* tw_caller_trap/exit recorded a trap in the store */
};

/* ---- conversions (call.c) ---- */

/* tw_val_t <-> twr_val for a value of type t. */
void tw__rt_val_to_raw(const tw_val_t *v, twr_val *out);
void tw__rt_val_from_raw(uint8_t t, const twr_val *raw, tw_val_t *out);

#endif
