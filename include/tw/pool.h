/* TensorWasm instance pools and instance reset (additive to tw/tw.h).
 *
 * A pool keeps up to `size` ready instances of one module for one tenant:
 * tw_pool_acquire hands out an instance, tw_pool_release resets it and
 * keeps it (memory reservation, tables, compiled code) for the next
 * acquire. A reset instance is indistinguishable from a fresh one: its
 * memory is the module's initial image again (copy-on-write pages of the
 * guest's writes are discarded; pages the guest grew are made
 * inaccessible and discarded), its tables and globals hold their initial
 * values, segments are un-dropped and the start function has run again.
 *
 * Ownership: the pool owns its instances and one store per instance (so
 * instances of one pool may run on different threads at once); the
 * engine, module and linker must outlive the pool. The pool is
 * thread-safe; each acquired instance is used by one thread at a time.
 */
#ifndef TW_POOL_H
#define TW_POOL_H

#include "tw/tw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Brings `instance` back to the state tw_instance_new gave it (see
 * above). Only for instances that import no memory, table or mutable
 * global (TW_EUNSUPPORTED otherwise: those belong to someone else and
 * would keep the guest's writes). Returns 0, TW_ENOMEM, or TW_ETRAP if
 * the start function trapped (the instance must then be discarded). */
TW_API int tw_instance_reset(tw_instance_t *instance, char *err,
                             size_t errlen);

typedef struct tw_pool tw_pool_t;

typedef struct tw_pool_config {
  /* Most instances the pool holds, in use or idle (default 16). */
  uint32_t size;
  /* Instances created by tw_pool_new (default 0: all on demand). */
  uint32_t prewarm;
} tw_pool_config_t;

/* Fills *cfg with the defaults. */
TW_API void tw_pool_config_default(tw_pool_config_t *cfg);

/* Creates a pool of instances of `module`, with imports resolved through
 * `linker` (NULL when the module imports nothing; the linker's host
 * functions and instances must outlive the pool). cfg may be NULL.
 * TW_EUNSUPPORTED when the module imports a memory, table or mutable
 * global; otherwise errors as tw_instance_new for the prewarmed ones. On
 * failure nothing is left to free. */
TW_API int tw_pool_new(tw_engine_t *engine, tw_module_t *module,
                       tw_linker_t *linker, const tw_pool_config_t *cfg,
                       tw_pool_t **out, char *err, size_t errlen);

/* Takes an idle instance, or instantiates a new one while fewer than
 * `size` exist. TW_ELIMIT when all `size` are in use. The instance stays
 * the pool's: give it back with tw_pool_release, never free it. Trap
 * details of calls on it come from tw_pool_instance_store's store. */
TW_API int tw_pool_acquire(tw_pool_t *pool, tw_instance_t **out, char *err,
                           size_t errlen);

/* Resets an acquired instance and makes it idle again; if the reset
 * fails the instance is destroyed instead (the pool makes a new one on a
 * later acquire). Returns the reset's status. */
TW_API int tw_pool_release(tw_pool_t *pool, tw_instance_t *instance);

/* The store that holds a pool instance (for tw_store_last_trap). */
TW_API tw_store_t *tw_pool_instance_store(tw_instance_t *instance);

/* Counts: instances existing, and idle among them. */
TW_API void tw_pool_stats(tw_pool_t *pool, uint32_t *live, uint32_t *idle);

/* Frees the pool and every instance in it; all must have been released. */
TW_API void tw_pool_free(tw_pool_t *pool);

#ifdef __cplusplus
}
#endif

#endif
