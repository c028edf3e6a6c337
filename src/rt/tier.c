/* Tiers and deadlines on the runtime side: the engine's tier-1 service and
 * cache folder, publishing a module's tier-1 code, switching instances to
 * it, and which deadline a call gets.
 * Invariants: instance state has the same shape in both tiers, only the
 * fn/invoke pointers of an instance's struct twr_func entries change, and
 * only on the store's own thread between outermost calls (stores are
 * single-threaded), so switching is race-free; tier-0 code stays loaded
 * until the module is freed, so frames or pointers into it stay valid.
 */
#include "rt/rt.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- engine ---- */

/* The default cache folder: $TW_CACHE_DIR, $XDG_CACHE_HOME/tensor-wasm,
 * ~/.cache/tensor-wasm; NULL if none can be named. */
static char *default_cache_dir(void) {
  char buf[PATH_MAX];
  const char *v = getenv("TW_CACHE_DIR");
  if (v && *v) return tw__strndup(v, strlen(v));
  v = getenv("XDG_CACHE_HOME");
  if (v && *v && snprintf(buf, sizeof buf, "%s/tensor-wasm", v) <
                     (int)sizeof buf)
    return tw__strndup(buf, strlen(buf));
  v = getenv("HOME");
  if (v && *v &&
      snprintf(buf, sizeof buf, "%s/.cache/tensor-wasm", v) < (int)sizeof buf)
    return tw__strndup(buf, strlen(buf));
  return NULL;
}

int tw__rt_tier_engine_init(tw_engine_t *e) {
  const char *cd = e->cfg.cache_dir;
  e->cfg.cache_dir = NULL; /* the caller's string need not outlive us */
  if (e->cfg.tier == TW_TIER_0) return 0;
  if (cd && strcmp(cd, TW_CACHE_DIR_DEFAULT) == 0)
    e->cache_dir = default_cache_dir();
  else if (cd && *cd && !(e->cache_dir = tw__strndup(cd, strlen(cd))))
    return TW_ENOMEM;
  e->cfg.cache_dir = e->cache_dir;
  struct tw__tier1_config tc = {e->cache_dir, e->cfg.interruptible};
  return tw__tier1_new(&tc, &e->tier1);
}

void tw__rt_tier_engine_free(tw_engine_t *e) {
  tw__tier1_free(e->tier1);
  e->tier1 = NULL;
  tw__free(e->cache_dir);
  e->cache_dir = NULL;
}

/* ---- modules ---- */

/* Runs the tier-1 twm_entry and checks that it filled everything. */
static int fill_rc1(tw_module_t *mod, struct tw__tier1_code *code) {
  const struct tw__module *m = mod->m;
  struct twr_code *rc = &mod->rc1;
  rc->funcs = tw__calloc(m->nfuncs ? m->nfuncs : 1, sizeof *rc->funcs);
  rc->invokers = tw__calloc(m->ntypes ? m->ntypes : 1, sizeof *rc->invokers);
  rc->import_thunks = tw__calloc(m->nfunc_imports ? m->nfunc_imports : 1,
                                 sizeof *rc->import_thunks);
  if (!rc->funcs || !rc->invokers || !rc->import_thunks) return TW_ENOMEM;
  void (*entry)(struct twr_code *) =
      (void (*)(struct twr_code *))tw__tier1_code_entry(code);
  entry(rc);
  if (rc->abi_version != TWR_ABI_VERSION) return TW_ECOMPILE;
  for (uint32_t i = 0; i < m->nfuncs; i++)
    if (!rc->funcs[i]) return TW_ECOMPILE;
  for (uint32_t i = 0; i < m->ntypes; i++)
    if (!rc->invokers[i]) return TW_ECOMPILE;
  for (uint32_t i = 0; i < m->nfunc_imports; i++)
    if (!rc->import_thunks[i]) return TW_ECOMPILE;
  return 0;
}

static void rc1_free(tw_module_t *mod) {
  tw__free(mod->rc1.funcs);
  tw__free(mod->rc1.invokers);
  tw__free(mod->rc1.import_thunks);
  memset(&mod->rc1, 0, sizeof mod->rc1);
}

/* Pool thread: the module's tier-1 job ended. */
static void on_tier1_done(void *arg, struct tw__tier1_code *code,
                          const char *msg) {
  tw_module_t *mod = arg;
  (void)msg; /* already logged */
  if (code && fill_rc1(mod, code) == 0) {
    mod->t1_code = code;
    atomic_store_explicit(&mod->tier, 1, memory_order_release);
    return;
  }
  if (code) {
    fprintf(stderr, "tensor-wasm: tier-1 code of a module is incomplete; "
                    "tier 0 keeps serving\n");
    tw__tier1_code_free(code);
  }
  rc1_free(mod);
  atomic_store_explicit(&mod->t1_failed, true, memory_order_release);
}

int tw__rt_tier_module_start(tw_module_t *mod, char *err, size_t errlen) {
  tw_engine_t *e = mod->engine;
  atomic_init(&mod->tier, 0);
  atomic_init(&mod->t1_failed, false);
  if (!e->tier1) return 0;
  int rc = tw__tier1_submit(e->tier1, mod->m, on_tier1_done, mod,
                            &mod->t1_job);
  if (rc) return tw__err(rc, err, errlen, "tier 1: %s", tw_strerror(rc));
  if (e->cfg.tier == TW_TIER_1) tw__tier1_job_wait(mod->t1_job, UINT64_MAX);
  return 0;
}

void tw__rt_tier_module_free(tw_module_t *mod) {
  tw__tier1_job_free(mod->t1_job); /* cancels and waits */
  mod->t1_job = NULL;
  tw__tier1_code_free(mod->t1_code);
  mod->t1_code = NULL;
  rc1_free(mod);
}

int tw_module_tier(const tw_module_t *mod) {
  if (!mod) return 0;
  return atomic_load_explicit(&((tw_module_t *)mod)->tier,
                              memory_order_acquire);
}

int tw_module_wait_tier1(tw_module_t *mod, uint32_t timeout_ms) {
  if (!mod) return TW_EINVAL;
  if (!mod->t1_job) return TW_EUNSUPPORTED;
  if (!tw__tier1_job_wait(mod->t1_job, timeout_ms == UINT32_MAX
                                           ? UINT64_MAX
                                           : (uint64_t)timeout_ms))
    return TW_ELIMIT;
  return tw_module_tier(mod) == 1 ? 0 : TW_ECOMPILE;
}

void tw_module_set_deadline_ms(tw_module_t *mod, uint32_t ms) {
  if (mod) atomic_store(&mod->deadline_ms, ms);
}

/* ---- instances ---- */

/* Points inst's defined functions and host-import thunks at tier-1 code. */
static void rebind(tw_instance_t *inst) {
  const tw_module_t *mod = inst->module;
  const struct tw__module *m = mod->m;
  const struct twr_code *rc = &mod->rc1;
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    inst->own_funcs[i].fn = rc->funcs[i];
    inst->own_funcs[i].invoke = rc->invokers[m->funcs[i].type];
  }
  /* Imports bound to host functions use this module's thunks (imports of
   * other instances' functions point at those instances' entries). */
  for (uint32_t k = 0; k < m->nfunc_imports; k++) {
    if (inst->import_funcs[k].fn == NULL) continue;
    uint32_t t = tw__module_func_type(m, k);
    inst->import_funcs[k].fn = rc->import_thunks[k];
    inst->import_funcs[k].invoke = rc->invokers[t];
  }
  inst->tier = 1;
}

void tw__rt_tier_instance_init(tw_instance_t *inst) {
  tw_module_t *mod = inst->module;
  if (tw_module_tier(mod) == 1) {
    rebind(inst);
  } else if (mod->t1_job && !atomic_load(&mod->t1_failed)) {
    inst->tier = 0;
    inst->store->tier0_instances++;
  } else {
    inst->tier = -1;
  }
}

void tw__rt_tier_store_update(tw_store_t *s) {
  size_t waiting = 0;
  for (size_t i = 0; i < s->nowned; i++) {
    if (s->owned[i].kind != TW__RT_OWN_INSTANCE) continue;
    tw_instance_t *inst = s->owned[i].p;
    if (inst->tier != 0) continue;
    if (tw_module_tier(inst->module) == 1)
      rebind(inst);
    else if (atomic_load(&inst->module->t1_failed))
      inst->tier = -1;
    else
      waiting++;
  }
  s->tier0_instances = waiting;
}

void tw_instance_set_deadline_ms(tw_instance_t *inst, uint32_t ms) {
  if (inst) inst->deadline_ms = ms;
}

uint32_t tw__rt_deadline_ms(const tw_instance_t *inst, uint32_t call_ms) {
  uint32_t ms = call_ms;
  if (ms == TW_DEADLINE_INHERIT && inst) ms = inst->deadline_ms;
  if (ms == TW_DEADLINE_INHERIT && inst)
    ms = atomic_load(&((tw_module_t *)inst->module)->deadline_ms);
  if (ms == TW_DEADLINE_INHERIT && inst)
    return inst->store->engine->cfg.deadline_ms;
  return ms == TW_DEADLINE_NONE ? 0 : ms;
}
