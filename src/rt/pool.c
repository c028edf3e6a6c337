/* Instance pools: per (tenant, module) sets of ready instances. Each
 * instance lives in its own store so pool instances can run on different
 * threads; release resets (instance.c) and keeps the instance, so memory
 * reservations, tables and bindings are reused rather than rebuilt.
 * Invariant: idle[0..nidle) are reset instances; live counts idle and
 * acquired ones and never exceeds cfg.size. One mutex guards the lists;
 * instantiation and reset run outside it.
 */
#include "rt/rt.h"
#include "tw/pool.h"

#include <pthread.h>

struct slot {
  tw_store_t *store;
  tw_instance_t *inst;
};

struct tw_pool {
  tw_engine_t *engine;
  tw_module_t *module;
  tw_linker_t *linker;
  tw_pool_config_t cfg;
  pthread_mutex_t mu;
  struct slot *idle; /* [cfg.size] */
  uint32_t nidle, live;
};

void tw_pool_config_default(tw_pool_config_t *cfg) {
  cfg->size = 16;
  cfg->prewarm = 0;
}

static int slot_new(tw_pool_t *p, struct slot *s, char *err, size_t errlen) {
  int rc = tw_store_new(p->engine, &s->store);
  if (rc) return tw__err(rc, err, errlen, "out of memory");
  rc = tw_instance_new(s->store, p->module, p->linker, &s->inst, err,
                       errlen);
  if (rc) {
    tw_store_free(s->store);
    s->store = NULL;
  }
  return rc;
}

int tw_pool_new(tw_engine_t *engine, tw_module_t *module,
                tw_linker_t *linker, const tw_pool_config_t *cfg,
                tw_pool_t **out, char *err, size_t errlen) {
  if (!engine || !module || !out)
    return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  *out = NULL;
  const struct tw__module *m = module->m;
  if (m->nmemory_imports || m->ntable_imports)
    return tw__err(TW_EUNSUPPORTED, err, errlen,
                   "pooled modules may not import memories or tables "
                   "(a reset could not restore them)");
  for (uint32_t i = 0; i < m->nimports; i++)
    if (m->imports[i].kind == TW_EXTERN_GLOBAL &&
        m->imports[i].desc.global.mutable_)
      return tw__err(TW_EUNSUPPORTED, err, errlen,
                     "pooled modules may not import mutable globals "
                     "(a reset could not restore them)");
  tw_pool_t *p = tw__calloc(1, sizeof *p);
  if (!p) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  tw_pool_config_default(&p->cfg);
  if (cfg) p->cfg = *cfg;
  if (p->cfg.size == 0) p->cfg.size = 1;
  if (p->cfg.prewarm > p->cfg.size) p->cfg.prewarm = p->cfg.size;
  p->engine = engine;
  p->module = module;
  p->linker = linker;
  p->idle = tw__calloc(p->cfg.size, sizeof *p->idle);
  if (!p->idle || pthread_mutex_init(&p->mu, NULL)) {
    tw__free(p->idle);
    tw__free(p);
    return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  }
  tw__rt_module_ref(module);
  for (uint32_t i = 0; i < p->cfg.prewarm; i++) {
    int rc = slot_new(p, &p->idle[i], err, errlen);
    if (rc) {
      tw_pool_free(p);
      return rc;
    }
    p->nidle++;
    p->live++;
  }
  *out = p;
  return 0;
}

int tw_pool_acquire(tw_pool_t *p, tw_instance_t **out, char *err,
                    size_t errlen) {
  if (!p || !out) return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  *out = NULL;
  pthread_mutex_lock(&p->mu);
  if (p->nidle) {
    *out = p->idle[--p->nidle].inst;
    pthread_mutex_unlock(&p->mu);
    return 0;
  }
  if (p->live >= p->cfg.size) {
    pthread_mutex_unlock(&p->mu);
    return tw__err(TW_ELIMIT, err, errlen,
                   "all %u instances of the pool are in use", p->cfg.size);
  }
  p->live++; /* reserve the place, instantiate outside the lock */
  pthread_mutex_unlock(&p->mu);
  struct slot s;
  int rc = slot_new(p, &s, err, errlen);
  if (rc) {
    pthread_mutex_lock(&p->mu);
    p->live--;
    pthread_mutex_unlock(&p->mu);
    return rc;
  }
  *out = s.inst;
  return 0;
}

int tw_pool_release(tw_pool_t *p, tw_instance_t *inst) {
  if (!p || !inst || inst->module != p->module) return TW_EINVAL;
  int rc = tw_instance_reset(inst, NULL, 0);
  pthread_mutex_lock(&p->mu);
  if (rc == 0 && p->nidle < p->cfg.size) {
    p->idle[p->nidle++] = (struct slot){inst->store, inst};
    pthread_mutex_unlock(&p->mu);
    return 0;
  }
  p->live--;
  pthread_mutex_unlock(&p->mu);
  tw_store_free(inst->store);
  return rc;
}

tw_store_t *tw_pool_instance_store(tw_instance_t *inst) {
  return inst ? inst->store : NULL;
}

void tw_pool_stats(tw_pool_t *p, uint32_t *live, uint32_t *idle) {
  pthread_mutex_lock(&p->mu);
  if (live) *live = p->live;
  if (idle) *idle = p->nidle;
  pthread_mutex_unlock(&p->mu);
}

void tw_pool_free(tw_pool_t *p) {
  if (!p) return;
  for (uint32_t i = 0; i < p->nidle; i++) tw_store_free(p->idle[i].store);
  pthread_mutex_destroy(&p->mu);
  tw__free(p->idle);
  tw_module_free(p->module);
  tw__free(p);
}
