/* Deployed functions: engines per limit profile, the registry (hash of
 * tenant/name -> reference-counted entries), deploy and delete, instance
 * pools, and invocations in both modes.
 *
 * Pools: a typed-mode function whose module imports nothing keeps a
 * runtime pool (tw/pool.h) of pool_size instances, each in its own store:
 * an invocation acquires one and releases it, and the release resets it
 * (copy-on-write pages of memory dropped, tables, globals and segments
 * back to their initial state, start function run again), so nothing of
 * one call is visible to the next. Modules with imports (typed-mode WASI,
 * whose descriptor table and stdio buffers have no reset) keep up to
 * pool_size fresh instances and replace each after one invocation. When
 * a pool is exhausted, or pool_size is 0, an instance is made on the spot
 * and freed after the call; the tenant's instance quota bounds how many
 * run. Handler mode binds the request to stdin at instantiation and
 * always makes a fresh instance.
 */
#include "svc/svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec/codec.h"

#ifdef TW_HAVE_WASI
#include "tw/wasi.h"
#endif

/* ---- Engines ---- */

static tw_engine_t *engine_for(struct tw__svc *svc, uint64_t memory_bytes,
                               uint32_t deadline_ms) {
  tw_engine_t *e = NULL;
  pthread_mutex_lock(&svc->engines_mu);
  for (uint32_t i = 0; i < svc->nengines; i++)
    if (svc->engines[i].memory_bytes == memory_bytes &&
        svc->engines[i].deadline_ms == deadline_ms)
      e = svc->engines[i].engine;
  if (!e && svc->nengines < SVC_MAX_ENGINES) {
    tw_engine_config_t cfg;
    tw_engine_config_default(&cfg);
    cfg.max_memory_bytes = memory_bytes;
    cfg.deadline_ms = deadline_ms;
    if (tw_engine_new(&cfg, &e) == 0) {
      struct svc_engine *se = &svc->engines[svc->nengines++];
      se->memory_bytes = memory_bytes;
      se->deadline_ms = deadline_ms;
      se->engine = e;
    } else {
      e = NULL;
    }
  }
  pthread_mutex_unlock(&svc->engines_mu);
  return e;
}

void svc_engines_free(struct tw__svc *svc) {
  for (uint32_t i = 0; i < svc->nengines; i++)
    tw_engine_free(svc->engines[i].engine);
  svc->nengines = 0;
}

/* ---- Instances ---- */

static void inst_free(struct svc_inst *in) {
  if (in->store) tw_store_free(in->store);
  if (in->linker) tw_linker_free(in->linker);
#ifdef TW_HAVE_WASI
  if (in->wasi) tw_wasi_free(in->wasi);
#endif
  memset(in, 0, sizeof *in);
}

/* Makes a ready instance of fn (typed mode): store, WASI with null stdio
 * for modules that import anything, instance, _initialize. */
static int inst_new(struct tw__svc *svc, struct svc_fn *fn,
                    struct svc_inst *in, char *err, size_t errlen) {
  memset(in, 0, sizeof *in);
  uint64_t t0 = tw__now_ns();
  int rc = tw_store_new(fn->engine, &in->store);
  if (rc) goto fail;
  if (fn->has_imports) {
#ifdef TW_HAVE_WASI
    const char *argv[] = {fn->rec.name};
    tw_wasi_config_t wc;
    memset(&wc, 0, sizeof wc);
    wc.argv = argv;
    wc.argc = 1;
    wc.stdout_.mode = TW_WASI_STDIO_BUFFER;
    wc.stdout_.cap = 64 * 1024;
    wc.stderr_.mode = TW_WASI_STDIO_BUFFER;
    wc.stderr_.cap = 64 * 1024;
    tw_wasi_t *w = NULL;
    if ((rc = tw_wasi_new(&wc, &w, err, errlen)) != 0) goto fail;
    in->wasi = w;
    if ((rc = tw_linker_new(fn->engine, &in->linker)) != 0 ||
        (rc = tw_linker_define_wasi(in->linker, w)) != 0)
      goto fail;
#endif
  }
  rc = tw_instance_new(in->store, fn->module, in->linker, &in->inst, err,
                       errlen);
  if (rc) goto fail;
  rc = tw_instance_initialize(in->inst, err, errlen);
  if (rc) goto fail;
  tw__hist_observe(&svc->instantiate_hist, tw__now_ns() - t0);
  return 0;
fail:
  inst_free(in);
  return rc;
}

static int pool_take(struct tw__svc *svc, struct svc_fn *fn,
                     struct svc_inst *in, char *err, size_t errlen) {
  if (fn->pool) {
    uint64_t t0 = tw__now_ns();
    tw_instance_t *inst;
    int rc = tw_pool_acquire(fn->pool, &inst, err, errlen);
    if (rc == 0) {
      /* A reset instance runs _initialize again, as a fresh one would. */
      rc = tw_instance_initialize(inst, err, errlen);
      if (rc) {
        tw_pool_release(fn->pool, inst);
        return rc;
      }
      memset(in, 0, sizeof *in);
      in->store = tw_pool_instance_store(inst);
      in->inst = inst;
      in->pooled = true;
      tw__hist_observe(&svc->instantiate_hist, tw__now_ns() - t0);
      return 0;
    }
    if (rc != TW_ELIMIT) return rc;
    /* Every pool instance is busy: a one-off instance below. */
    return inst_new(svc, fn, in, err, errlen);
  }
  pthread_mutex_lock(&fn->mu);
  if (fn->nidle) {
    *in = fn->idle[--fn->nidle];
    pthread_mutex_unlock(&fn->mu);
    return 0;
  }
  pthread_mutex_unlock(&fn->mu);
  return inst_new(svc, fn, in, err, errlen);
}

/* Gives a used instance back: a pool instance is reset and kept (or
 * dropped by the pool when the reset fails); otherwise the instance is
 * retired and, for functions without a pool, replaced by a fresh one. */
static void pool_give_back(struct tw__svc *svc, struct svc_fn *fn,
                           struct svc_inst *used) {
  if (used->pooled) {
    tw_pool_release(fn->pool, used->inst);
    memset(used, 0, sizeof *used);
    return;
  }
  inst_free(used);
  if (fn->pool) return; /* a one-off made while the pool was exhausted */
  pthread_mutex_lock(&fn->mu);
  bool want = fn->nidle < fn->rec.pool_size;
  pthread_mutex_unlock(&fn->mu);
  if (!want) return;
  struct svc_inst fresh;
  char err[256];
  if (inst_new(svc, fn, &fresh, err, sizeof err) != 0) return;
  pthread_mutex_lock(&fn->mu);
  if (fn->nidle < fn->rec.pool_size) {
    fn->idle[fn->nidle++] = fresh;
    fresh.store = NULL;
  }
  pthread_mutex_unlock(&fn->mu);
  if (fresh.store) inst_free(&fresh);
}

/* ---- Registry ---- */

static size_t fn_bucket(const char *tenant, const char *name) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  for (const char *p = tenant; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  h = (h ^ '/') * 1099511628211ull;
  for (const char *p = name; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ull;
  return (size_t)(h % SVC_BUCKETS);
}

static void fn_destroy(struct svc_fn *fn) {
  for (uint32_t i = 0; i < fn->nidle; i++) inst_free(&fn->idle[i]);
  tw__free(fn->idle);
  tw_pool_free(fn->pool); /* no invocation holds fn: all released */
  tw__free(fn->wasm);
  if (fn->module) tw_module_free(fn->module);
  pthread_mutex_destroy(&fn->mu);
  tw__free(fn);
}

void svc_fn_put(struct svc_fn *fn) {
  if (fn && atomic_fetch_sub(&fn->refs, 1) == 1) fn_destroy(fn);
}

struct svc_fn *svc_fn_get(struct tw__svc *svc, const char *tenant,
                          const char *name) {
  size_t b = fn_bucket(tenant, name);
  pthread_rwlock_rdlock(&svc->fns_mu);
  struct svc_fn *fn;
  for (fn = svc->fns[b]; fn; fn = fn->next)
    if (strcmp(fn->rec.name, name) == 0 && strcmp(fn->rec.tenant, tenant) == 0)
      break;
  if (fn) atomic_fetch_add(&fn->refs, 1);
  pthread_rwlock_unlock(&svc->fns_mu);
  return fn;
}

/* Puts fn in the registry (taking the caller's reference), replacing and
 * releasing an entry of the same name. */
static void registry_set(struct tw__svc *svc, struct svc_fn *fn) {
  size_t b = fn_bucket(fn->rec.tenant, fn->rec.name);
  struct svc_fn *old = NULL;
  pthread_rwlock_wrlock(&svc->fns_mu);
  for (struct svc_fn **pp = &svc->fns[b]; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->rec.name, fn->rec.name) == 0 &&
        strcmp((*pp)->rec.tenant, fn->rec.tenant) == 0) {
      old = *pp;
      *pp = old->next;
      svc->nfns--;
      break;
    }
  }
  fn->next = svc->fns[b];
  svc->fns[b] = fn;
  svc->nfns++;
  pthread_rwlock_unlock(&svc->fns_mu);
  svc_fn_put(old);
}

static bool registry_remove(struct tw__svc *svc, const char *tenant,
                            const char *name) {
  size_t b = fn_bucket(tenant, name);
  struct svc_fn *old = NULL;
  pthread_rwlock_wrlock(&svc->fns_mu);
  for (struct svc_fn **pp = &svc->fns[b]; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->rec.name, name) == 0 &&
        strcmp((*pp)->rec.tenant, tenant) == 0) {
      old = *pp;
      *pp = old->next;
      svc->nfns--;
      break;
    }
  }
  pthread_rwlock_unlock(&svc->fns_mu);
  svc_fn_put(old);
  return old != NULL;
}

void svc_functions_free(struct tw__svc *svc) {
  pthread_rwlock_wrlock(&svc->fns_mu);
  for (size_t b = 0; b < SVC_BUCKETS; b++) {
    struct svc_fn *fn = svc->fns[b];
    while (fn) {
      struct svc_fn *next = fn->next;
      svc_fn_put(fn);
      fn = next;
    }
    svc->fns[b] = NULL;
  }
  svc->nfns = 0;
  pthread_rwlock_unlock(&svc->fns_mu);
}

/* Compiles wasm bytes into a registry entry for rec (not registered). */
static struct svc_fn *fn_build(struct tw__svc *svc,
                               const struct tw__function *rec,
                               const uint8_t *wasm, size_t len,
                               struct tw__status *st) {
  tw_engine_t *e = engine_for(svc, rec->memory_bytes, rec->deadline_ms);
  if (!e) {
    svc_status(st, 503, "unavailable",
               "too many distinct (memory_bytes, deadline_ms) combinations "
               "are in use; reuse an existing one");
    return NULL;
  }
  struct svc_fn *fn = tw__calloc(1, sizeof *fn);
  if (fn) fn->idle = tw__calloc(rec->pool_size ? rec->pool_size : 1,
                                sizeof *fn->idle);
  if (!fn || !fn->idle) {
    if (fn) tw__free(fn);
    svc_status(st, 503, "unavailable", "out of memory");
    return NULL;
  }
  atomic_init(&fn->refs, 1);
  fn->rec = *rec;
  fn->mode = strcmp(rec->mode, "handler") == 0 ? FN_HANDLER : FN_TYPED;
  fn->engine = e;
  fn->tenant = svc_tenant_rt(svc, rec->tenant);
  pthread_mutex_init(&fn->mu, NULL);
  char err[1024] = "";
  uint64_t t0 = tw__now_ns();
  int rc = tw_module_new(e, wasm, len, &fn->module, err, sizeof err);
  if (rc) {
    svc_status(st, 422, "invalid_module", "%s", err[0] ? err : tw_strerror(rc));
    fn->module = NULL;
    fn_destroy(fn);
    return NULL;
  }
  tw__hist_observe(&svc->compile_hist, tw__now_ns() - t0);
  fn->has_imports = tw_module_import_count(fn->module) > 0;
  /* wasi:cuda modules run in the tenant's GPU worker (gpu.c). */
  if (tw_module_imports_cuda(fn->module) &&
      svc_gpu_fn_init(fn, wasm, len, st) != 0) {
    fn_destroy(fn);
    return NULL;
  }
  if (fn->mode == FN_HANDLER) {
    tw_functype_t ft;
    if (tw_module_export_functype(fn->module, "_start", &ft) != 0) {
      svc_status(st, 422, "invalid_module",
                 "handler mode needs a WASI command: the module exports no "
                 "'_start' function");
      fn_destroy(fn);
      return NULL;
    }
#ifndef TW_HAVE_WASI
    svc_status(st, 422, "invalid_module",
               "handler mode needs WASI, which this build lacks");
    fn_destroy(fn);
    return NULL;
#endif
  } else if (!fn->gpu) {
    /* Proves the module links and instantiates before it is accepted. */
    struct svc_inst probe;
    rc = inst_new(svc, fn, &probe, err, sizeof err);
    if (rc) {
      svc_status(st, 422, "invalid_module", "cannot instantiate: %s",
                 err[0] ? err : tw_strerror(rc));
      fn_destroy(fn);
      return NULL;
    }
    if (fn->rec.pool_size && !fn->has_imports) {
      inst_free(&probe);
      tw_pool_config_t pc;
      tw_pool_config_default(&pc);
      pc.size = fn->rec.pool_size;
      pc.prewarm = fn->rec.pool_size;
      rc = tw_pool_new(fn->engine, fn->module, NULL, &pc, &fn->pool, err,
                       sizeof err);
      if (rc) {
        svc_status(st, 422, "invalid_module", "cannot instantiate: %s",
                   err[0] ? err : tw_strerror(rc));
        fn_destroy(fn);
        return NULL;
      }
    } else if (fn->rec.pool_size) {
      fn->idle[fn->nidle++] = probe;
    } else {
      inst_free(&probe);
    }
    while (!fn->pool && fn->nidle < fn->rec.pool_size) {
      struct svc_inst in;
      if (inst_new(svc, fn, &in, err, sizeof err) != 0) break;
      fn->idle[fn->nidle++] = in;
    }
  }
  return fn;
}

static int load_one(void *ctx, const struct tw__function *rec) {
  struct tw__svc *svc = ctx;
  uint8_t *wasm;
  size_t len;
  char err[512];
  int rc = tw__art_get(svc->art, rec->digest, svc->cfg.body_limit, &wasm,
                       &len, err, sizeof err);
  if (rc) {
    tw__log(TW_LOG_ERROR, NULL, "function %s/%s not loaded: %s", rec->tenant,
            rec->name, err);
    return 0;
  }
  struct tw__status st;
  struct svc_fn *fn = fn_build(svc, rec, wasm, len, &st);
  tw__free(wasm);
  if (!fn) {
    tw__log(TW_LOG_ERROR, NULL, "function %s/%s not loaded: %s", rec->tenant,
            rec->name, st.message);
    return 0;
  }
  registry_set(svc, fn);
  return 0;
}

struct collected {
  struct tw__function *recs;
  size_t n, cap;
};

/* Runs with the database lock held: only copies. */
static int collect_one(void *ctx, const struct tw__function *f) {
  struct collected *c = ctx;
  if (c->n == c->cap) {
    size_t ncap = c->cap ? c->cap * 2 : 16;
    struct tw__function *r = tw__reallocarray(c->recs, ncap, sizeof *r);
    if (!r) return TW_ENOMEM;
    c->recs = r;
    c->cap = ncap;
  }
  c->recs[c->n++] = *f;
  return 0;
}

int svc_functions_load(struct tw__svc *svc) {
  /* Collect first, then compile outside the database lock. */
  struct collected c = {NULL, 0, 0};
  int rc = tw__db_function_each(svc->db, NULL, collect_one, &c);
  for (size_t i = 0; i < c.n; i++) load_one(svc, &c.recs[i]);
  if (c.n)
    tw__log(TW_LOG_INFO, NULL, "%zu function(s) loaded from the database",
            c.n);
  tw__free(c.recs);
  return rc;
}

/* ---- Deploy and delete ---- */

int tw__svc_deploy(struct tw__svc *svc, const struct tw__deploy *d,
                   struct tw__function *out, bool *created,
                   struct tw__status *st) {
  const struct tw__svc_config *cfg = &svc->cfg;
  struct tw__function rec;
  memset(&rec, 0, sizeof rec);
  if (!tw__svc_valid_name(d->name, strlen(d->name))) {
    svc_status(st, 400, "bad_request",
               "function name must be 1 to 64 of [A-Za-z0-9_.-], starting "
               "with a letter or digit");
    return -1;
  }
  const char *mode = d->mode && d->mode[0] ? d->mode : "typed";
  if (strcmp(mode, "typed") != 0 && strcmp(mode, "handler") != 0) {
    svc_status(st, 400, "bad_request",
               "mode must be 'typed' or 'handler'");
    return -1;
  }
  rec.deadline_ms = d->deadline_ms ? d->deadline_ms : cfg->default_deadline_ms;
  rec.memory_bytes = d->memory_bytes ? d->memory_bytes
                                     : cfg->default_memory_bytes;
  rec.pool_size = d->pool_size >= 0 ? (uint32_t)d->pool_size
                                    : cfg->default_pool_size;
  if (rec.deadline_ms > cfg->max_deadline_ms) {
    svc_status(st, 400, "bad_request", "deadline_ms must be at most %u",
               cfg->max_deadline_ms);
    return -1;
  }
  if (rec.memory_bytes < 65536 || rec.memory_bytes > cfg->max_memory_bytes) {
    svc_status(st, 400, "bad_request",
               "memory_bytes must be from 65536 to %llu",
               (unsigned long long)cfg->max_memory_bytes);
    return -1;
  }
  if (d->pool_size > (int64_t)cfg->max_pool_size) {
    svc_status(st, 400, "bad_request", "pool_size must be at most %u",
               cfg->max_pool_size);
    return -1;
  }
  if (d->len == 0) {
    svc_status(st, 400, "bad_request",
               "the request body must hold the module (.wasm or .wat)");
    return -1;
  }
  if (strcmp(mode, "handler") == 0) rec.pool_size = 0;
  snprintf(rec.tenant, sizeof rec.tenant, "%s", d->tenant);
  snprintf(rec.name, sizeof rec.name, "%s", d->name);
  snprintf(rec.mode, sizeof rec.mode, "%s", mode);

  struct svc_tenant *tr = svc_tenant_rt(svc, d->tenant);
  if (tr && (int64_t)rec.memory_bytes > tr->rec.max_memory_bytes) {
    svc_status(st, 403, "quota_exceeded",
               "memory_bytes %llu is over the tenant's memory quota of %lld",
               (unsigned long long)rec.memory_bytes,
               (long long)tr->rec.max_memory_bytes);
    return -1;
  }

  /* Text or binary: the binary magic decides. */
  const uint8_t *wasm = d->bytes;
  size_t len = d->len;
  uint8_t *converted = NULL;
  if (!(len >= 4 && memcmp(wasm, "\0asm", 4) == 0)) {
    char err[512] = "";
    int rc = tw_wat_to_wasm((const char *)d->bytes, d->len, &converted, &len,
                            err, sizeof err);
    if (rc) {
      svc_status(st, 422, "invalid_module", "text format: %s",
                 err[0] ? err : tw_strerror(rc));
      return -1;
    }
    wasm = converted;
  }
  rec.size = len;

  int result = -1;
  pthread_mutex_lock(&svc->deploy_mu);
  struct tw__function existing;
  bool exists = tw__db_function_get(svc->db, rec.tenant, rec.name,
                                    &existing) == 0;
  int64_t count = 0;
  if (!exists && tr) {
    tw__db_function_count(svc->db, rec.tenant, &count);
    if (count >= tr->rec.max_functions) {
      svc_status(st, 403, "quota_exceeded",
                 "tenant '%s' has %lld functions, its quota", rec.tenant,
                 (long long)count);
      goto done;
    }
  }
  struct svc_fn *fn = fn_build(svc, &rec, wasm, len, st);
  if (!fn) goto done;
  char err[512] = "";
  if (tw__art_put(svc->art, wasm, len, rec.digest, err, sizeof err) != 0) {
    svc_status(st, 503, "unavailable", "artifact store: %s", err);
    svc_fn_put(fn);
    goto done;
  }
  int64_t now = svc_now_ms();
  rec.created_at = exists ? existing.created_at : now;
  rec.updated_at = now;
  fn->rec = rec;
  if (tw__db_function_put(svc->db, &rec, created) != 0) {
    svc_status(st, 503, "unavailable", "database write failed");
    svc_fn_put(fn);
    goto done;
  }
  registry_set(svc, fn);
  if (exists && strcmp(existing.digest, rec.digest) != 0 &&
      !tw__db_digest_in_use(svc->db, existing.digest))
    tw__art_remove(svc->art, existing.digest);
  *out = rec;
  result = 0;
done:
  pthread_mutex_unlock(&svc->deploy_mu);
  tw_free(converted);
  return result;
}

int tw__svc_undeploy(struct tw__svc *svc, const char *tenant,
                     const char *name, struct tw__status *st) {
  pthread_mutex_lock(&svc->deploy_mu);
  struct tw__function rec;
  int rc = tw__db_function_get(svc->db, tenant, name, &rec);
  if (rc == 0) rc = tw__db_function_delete(svc->db, tenant, name);
  if (rc == 0) {
    registry_remove(svc, tenant, name);
    if (!tw__db_digest_in_use(svc->db, rec.digest))
      tw__art_remove(svc->art, rec.digest);
  }
  pthread_mutex_unlock(&svc->deploy_mu);
  if (rc == TW_ENOTFOUND) {
    svc_status(st, 404, "not_found", "no function '%s'", name);
    return -1;
  }
  if (rc) {
    svc_status(st, 503, "unavailable", "database error");
    return -1;
  }
  return 0;
}

int tw__svc_function_each(struct tw__svc *svc, const char *tenant,
                          int (*fn)(void *ctx, const struct tw__function *f),
                          void *ctx) {
  return tw__db_function_each(svc->db, tenant, fn, ctx);
}

int tw__svc_function_get(struct tw__svc *svc, const char *tenant,
                         const char *name, struct tw__function *f) {
  struct svc_fn *fn = svc_fn_get(svc, tenant, name);
  if (!fn) return TW_ENOTFOUND;
  *f = fn->rec;
  svc_fn_put(fn);
  return 0;
}

static json_t *types_json(const uint8_t *t, uint32_t n) {
  json_t *a = json_array();
  for (uint32_t i = 0; a && i < n; i++)
    json_array_append_new(a, json_string(tw_valtype_name(t[i])));
  return a;
}

char *tw__svc_function_exports_json(struct tw__svc *svc, const char *tenant,
                                    const char *name) {
  struct svc_fn *fn = svc_fn_get(svc, tenant, name);
  if (!fn) return NULL;
  json_t *arr = json_array();
  uint32_t n = tw_module_export_count(fn->module);
  for (uint32_t i = 0; arr && i < n; i++) {
    const char *en;
    size_t elen;
    tw_extern_kind_t kind;
    tw_functype_t ft;
    if (tw_module_export_info(fn->module, i, &en, &elen, &kind) != 0 ||
        kind != TW_EXTERN_KIND_FUNC ||
        tw_module_export_functype_n(fn->module, en, elen, &ft) != 0)
      continue;
    json_t *js = json_stringn(en, elen); /* NULL unless valid UTF-8 */
    if (!js) continue;
    json_array_append_new(
        arr, json_pack("{s:o,s:o,s:o}", "name", js, "params",
                       types_json(ft.params, ft.nparams), "results",
                       types_json(ft.results, ft.nresults)));
  }
  char *s = arr ? json_dumps(arr, JSON_COMPACT) : NULL;
  json_decref(arr);
  svc_fn_put(fn);
  return s;
}

/* ---- Invocations ---- */

static void count(struct svc_fn *fn, enum svc_outcome o) {
  atomic_fetch_add_explicit(&fn->outcomes[o], 1, memory_order_relaxed);
}

/* Turns a failed guest call into a reply and an outcome. */
static enum svc_outcome guest_failure(tw_store_t *store, int rc,
                                      const char *what, const char *err,
                                      struct tw__reply *out) {
  tw_trap_info_t trap;
  if (rc == TW_ETRAP || rc == TW_EEXIT) {
    tw_store_last_trap(store, &trap);
    if (rc == TW_EEXIT || trap.kind == TW_TRAP_EXIT) {
      tw__reply_error(out, 422, "exit", "%s: the guest exited with code %d",
                      what, (int)trap.exit_code);
      out->exit_code = trap.exit_code;
      return OUT_EXIT;
    }
    if (trap.kind == TW_TRAP_DEADLINE) {
      tw__reply_error(out, 422, "deadline_exceeded",
                      "%s: deadline exceeded", what);
      return OUT_DEADLINE;
    }
    if (trap.kind == TW_TRAP_INTERRUPTED) { /* a job cancel */
      tw__reply_error(out, 409, "cancelled", "%s: cancelled while running",
                      what);
      return OUT_CANCELLED;
    }
    tw__reply_error(out, 422, "trap", "%s: trap: %s", what,
                    trap.message[0] ? trap.message
                                    : tw_trap_message(trap.kind));
    return OUT_TRAP;
  }
  tw__reply_error(out, 422, "trap", "%s: %s", what,
                  err && err[0] ? err : tw_strerror(rc));
  return OUT_ERROR;
}

/* Parses a typed request body: {"export": "...", "args": [...]}. */
static int parse_typed(const uint8_t *body, size_t len, json_t **root,
                       const char **export_name, size_t *export_len,
                       json_t **args, struct tw__reply *out) {
  json_error_t jerr;
  *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!*root) {
    tw__reply_error(out, 400, "bad_request",
                    "invalid JSON at line %d, column %d: %s", jerr.line,
                    jerr.column, jerr.text);
    return -1;
  }
  if (!json_is_object(*root)) {
    tw__reply_error(out, 400, "bad_request",
                    "expected a JSON object {\"export\": NAME, \"args\": "
                    "[...]}");
    return -1;
  }
  const char *key;
  json_t *v;
  json_object_foreach(*root, key, v) {
    if (strcmp(key, "export") != 0 && strcmp(key, "args") != 0) {
      tw__reply_error(out, 400, "bad_request",
                      "unknown field (only \"export\" and \"args\")");
      return -1;
    }
  }
  json_t *e = json_object_get(*root, "export");
  if (!json_is_string(e)) {
    tw__reply_error(out, 400, "bad_request",
                    "\"export\" must be the name of an exported function");
    return -1;
  }
  *export_name = json_string_value(e);
  *export_len = json_string_length(e);
  *args = json_object_get(*root, "args");
  if (*args && !json_is_array(*args)) {
    tw__reply_error(out, 400, "bad_request", "\"args\" must be an array");
    return -1;
  }
  return 0;
}

/* Takes a slot of the tenant's instance and memory quotas (local and GPU
 * invocations alike); svc_quota_give returns it. */
bool svc_quota_take(struct svc_fn *fn) {
  struct svc_tenant *t = fn->tenant;
  if (!t) return true;
  int64_t n = atomic_fetch_add(&t->running, 1) + 1;
  int64_t m = atomic_fetch_add(&t->memory, (int64_t)fn->rec.memory_bytes) +
              (int64_t)fn->rec.memory_bytes;
  if (n > t->rec.max_instances || m > t->rec.max_memory_bytes) {
    atomic_fetch_sub(&t->running, 1);
    atomic_fetch_sub(&t->memory, (int64_t)fn->rec.memory_bytes);
    return false;
  }
  return true;
}

void svc_quota_give(struct svc_fn *fn) {
  struct svc_tenant *t = fn->tenant;
  if (!t) return;
  atomic_fetch_sub(&t->running, 1);
  atomic_fetch_sub(&t->memory, (int64_t)fn->rec.memory_bytes);
}

enum svc_outcome svc_reply_results(const tw_val_t *results, size_t n,
                                   struct tw__reply *out) {
  size_t cap = tw__codec_results_size(n) + 16;
  char *b = malloc(cap);
  if (!b) {
    tw__reply_error(out, 503, "unavailable", "out of memory");
    return OUT_ERROR;
  }
  memcpy(b, "{\"results\":", 11);
  size_t len = tw__codec_results_format(results, n, b + 11, cap - 11);
  memcpy(b + 11 + len, "}", 2);
  free(out->body);
  out->status = 200;
  out->content_type = "application/json";
  out->body = b;
  out->len = 11 + len + 1;
  return OUT_SUCCESS;
}

#define MAX_PARAMS 1000

/* budget_ms: 0, or a deadline for the call shorter than the function's
 * own (the inline attempt); *overran is then set when the call ran out of
 * it. */
static enum svc_outcome invoke_typed(struct tw__svc *svc, struct svc_fn *fn,
                                     const uint8_t *body, size_t len,
                                     struct tw__run_ctl *ctl,
                                     uint32_t budget_ms, bool *overran,
                                     struct tw__reply *out) {
  json_t *root = NULL, *args = NULL;
  const char *ename;
  size_t elen;
  enum svc_outcome o = OUT_BAD_REQUEST;
  char err[512] = "";
  tw_val_t stack_args[8], stack_res[8];
  tw_val_t *argv = stack_args, *resv = stack_res;
  if (parse_typed(body, len, &root, &ename, &elen, &args, out)) goto done;
  tw_functype_t ft;
  if (tw_module_export_functype_n(fn->module, ename, elen, &ft) != 0) {
    tw__reply_error(out, 404, "unknown_export",
                    "function '%s' exports no function by that name",
                    fn->rec.name);
    goto done;
  }
  if (ft.nparams > MAX_PARAMS || ft.nresults > MAX_PARAMS) {
    tw__reply_error(out, 400, "bad_request", "signature too large");
    goto done;
  }
  if (ft.nparams > 8) argv = tw__calloc(ft.nparams, sizeof *argv);
  if (ft.nresults > 8) resv = tw__calloc(ft.nresults, sizeof *resv);
  if (!argv || !resv) {
    tw__reply_error(out, 503, "unavailable", "out of memory");
    o = OUT_ERROR;
    goto done;
  }
  json_t *empty = NULL;
  if (!args) args = empty = json_array();
  int rc = tw__codec_args_from_value(args, &ft, argv, err, sizeof err);
  json_decref(empty);
  if (rc) {
    tw__reply_error(out, 400, "bad_request", "%s", err);
    goto done;
  }
  if (!svc_quota_take(fn)) {
    tw__reply_error(out, 429, "quota_exceeded",
                    "tenant '%s' is at its concurrent instance or memory "
                    "quota",
                    fn->rec.tenant);
    out->retry_after = 1;
    o = OUT_REJECTED;
    goto done;
  }
  struct svc_inst in;
  atomic_fetch_add(&svc->running, 1);
  atomic_fetch_add(&fn->busy, 1);
  rc = pool_take(svc, fn, &in, err, sizeof err);
  if (rc) {
    /* The start function trapped, or resources ran out. */
    o = OUT_ERROR;
    tw__reply_error(out, 422, "trap", "instantiation failed: %s",
                    err[0] ? err : tw_strerror(rc));
  } else if (svc_job_bind(svc, ctl, in.store)) {
    tw__reply_error(out, 409, "cancelled", "the invocation was cancelled");
    o = OUT_CANCELLED;
    svc_job_bind(svc, ctl, NULL);
    pool_give_back(svc, fn, &in);
  } else {
    err[0] = '\0';
    tw_call_options_t opts = {.deadline_ms = budget_ms ? budget_ms
                                                        : TW_DEADLINE_INHERIT};
    rc = tw_instance_call_ex(in.inst, ename, elen, argv, ft.nparams, resv,
                             ft.nresults, &opts, err, sizeof err);
    svc_job_bind(svc, ctl, NULL); /* before the store is reset or freed */
    if (budget_ms && rc == TW_ETRAP) {
      tw_trap_info_t ti;
      tw_store_last_trap(in.store, &ti);
      *overran = ti.kind == TW_TRAP_DEADLINE;
    }
    if (rc == 0) {
      o = svc_reply_results(resv, ft.nresults, out);
    } else {
      o = guest_failure(in.store, rc, "call", err, out);
    }
    pool_give_back(svc, fn, &in);
  }
  atomic_fetch_sub(&fn->busy, 1);
  atomic_fetch_sub(&svc->running, 1);
  svc_quota_give(fn);
done:
  if (argv != stack_args) tw__free(argv);
  if (resv != stack_res) tw__free(resv);
  json_decref(root);
  return o;
}

static enum svc_outcome invoke_handler(struct tw__svc *svc, struct svc_fn *fn,
                                       const uint8_t *body, size_t len,
                                       struct tw__run_ctl *ctl,
                                       struct tw__reply *out) {
#ifndef TW_HAVE_WASI
  (void)svc;
  (void)ctl;
  (void)body;
  (void)len;
  tw__reply_error(out, 501, "unsupported", "handler mode needs WASI");
  (void)fn;
  return OUT_ERROR;
#else
  if (!svc_quota_take(fn)) {
    tw__reply_error(out, 429, "quota_exceeded",
                    "tenant '%s' is at its concurrent instance or memory "
                    "quota",
                    fn->rec.tenant);
    out->retry_after = 1;
    return OUT_REJECTED;
  }
  atomic_fetch_add(&svc->running, 1);
  atomic_fetch_add(&fn->busy, 1);
  enum svc_outcome o = OUT_ERROR;
  char err[512] = "";
  const char *argv[] = {fn->rec.name};
  tw_wasi_config_t wc;
  memset(&wc, 0, sizeof wc);
  wc.argv = argv;
  wc.argc = 1;
  wc.stdin_.mode = TW_WASI_STDIO_BUFFER;
  wc.stdin_.data = body;
  wc.stdin_.len = len;
  wc.stdout_.mode = TW_WASI_STDIO_BUFFER;
  wc.stdout_.cap = svc->cfg.output_limit;
  wc.stderr_.mode = TW_WASI_STDIO_BUFFER;
  wc.stderr_.cap = 64 * 1024;
  tw_wasi_t *w = NULL;
  tw_linker_t *lk = NULL;
  tw_store_t *store = NULL;
  tw_instance_t *inst = NULL;
  int rc;
  uint64_t t0 = tw__now_ns();
  if ((rc = tw_wasi_new(&wc, &w, err, sizeof err)) != 0 ||
      (rc = tw_linker_new(fn->engine, &lk)) != 0 ||
      (rc = tw_linker_define_wasi(lk, w)) != 0 ||
      (rc = tw_store_new(fn->engine, &store)) != 0) {
    tw__reply_error(out, 503, "unavailable", "cannot set up WASI: %s",
                    err[0] ? err : tw_strerror(rc));
    goto done;
  }
  if (svc_job_bind(svc, ctl, store)) {
    tw__reply_error(out, 409, "cancelled", "the invocation was cancelled");
    o = OUT_CANCELLED;
    goto done;
  }
  rc = tw_instance_new(store, fn->module, lk, &inst, err, sizeof err);
  if (rc) {
    o = guest_failure(store, rc, "instantiation", err, out);
    goto done;
  }
  tw__hist_observe(&svc->instantiate_hist, tw__now_ns() - t0);
  int32_t code = 0;
  rc = tw_wasi_run_start(inst, &code, err, sizeof err);
  if (rc) {
    o = guest_failure(store, rc, "_start", err, out);
    goto done;
  }
  const uint8_t *data = NULL;
  size_t n = 0;
  tw_wasi_output(w, 1, &data, &n);
  if (code == 0 || (code >= 200 && code <= 599)) {
    char *b = malloc(n ? n : 1);
    if (!b) {
      tw__reply_error(out, 503, "unavailable", "out of memory");
      goto done;
    }
    if (n) memcpy(b, data, n);
    free(out->body);
    out->status = code == 0 ? 200 : code;
    out->content_type = "application/octet-stream";
    out->body = b;
    out->len = n;
    out->exit_code = code;
    o = code == 0 ? OUT_SUCCESS : OUT_EXIT;
  } else {
    tw__reply_error(out, 422, "exit", "the handler exited with code %d",
                    (int)code);
    out->exit_code = code;
    o = OUT_EXIT;
  }
done:
  svc_job_bind(svc, ctl, NULL); /* before the store is freed */
  if (store) tw_store_free(store);
  if (lk) tw_linker_free(lk);
  if (w) tw_wasi_free(w);
  atomic_fetch_sub(&fn->busy, 1);
  atomic_fetch_sub(&svc->running, 1);
  svc_quota_give(fn);
  return o;
#endif
}

void tw__svc_invoke(struct tw__svc *svc, const struct tw__reqctx *rc,
                    const char *tenant, const char *name,
                    const uint8_t *body, size_t len, struct tw__run_ctl *ctl,
                    struct tw__reply *out) {
  (void)rc;
  memset(out, 0, sizeof *out);
  out->exit_code = -1;
  struct svc_fn *fn = svc_fn_get(svc, tenant, name);
  if (!fn) {
    tw__reply_error(out, 404, "not_found", "no function '%s'", name);
    return;
  }
  if (ctl && atomic_load(&ctl->cancel)) {
    tw__reply_error(out, 409, "cancelled", "the invocation was cancelled");
    count(fn, OUT_CANCELLED);
    svc_fn_put(fn);
    return;
  }
  enum svc_outcome o = fn->gpu ? svc_gpu_invoke(svc, fn, body, len, out)
                       : fn->mode == FN_HANDLER
                           ? invoke_handler(svc, fn, body, len, ctl, out)
                           : invoke_typed(svc, fn, body, len, ctl, 0, NULL,
                                          out);
  count(fn, o);
  svc_fn_put(fn);
}

/* How long a function that overran the inline budget skips the inline
 * attempt. */
#define INLINE_BACKOFF_NS (30ull * 1000000000u)

bool tw__svc_invoke_inline(struct tw__svc *svc, const struct tw__reqctx *rc,
                           const char *tenant, const char *name,
                           const uint8_t *body, size_t len,
                           uint32_t budget_ms, struct tw__reply *out) {
  memset(out, 0, sizeof *out);
  out->exit_code = -1;
  struct svc_fn *fn = svc_fn_get(svc, tenant, name);
  if (!fn) {
    tw__svc_invoke(svc, rc, tenant, name, body, len, NULL, out); /* 404 */
    return true;
  }
  if (fn->gpu || fn->mode != FN_TYPED || !fn->pool ||
      fn->rec.deadline_ms <= budget_ms ||
      tw__now_ns() < atomic_load_explicit(&fn->inline_off_until,
                                          memory_order_relaxed)) {
    svc_fn_put(fn);
    return false;
  }
  bool overran = false;
  enum svc_outcome o =
      invoke_typed(svc, fn, body, len, NULL, budget_ms, &overran, out);
  if (overran) {
    atomic_store_explicit(&fn->inline_off_until,
                          tw__now_ns() + INLINE_BACKOFF_NS,
                          memory_order_relaxed);
    tw__log(TW_LOG_INFO, rc,
            "invoke %s/%s: over the inline budget of %u ms; runs on a "
            "worker for the next %llu s",
            tenant, name, budget_ms,
            (unsigned long long)(INLINE_BACKOFF_NS / 1000000000u));
    free(out->body);
    memset(out, 0, sizeof *out);
    out->exit_code = -1;
    svc_fn_put(fn);
    return false;
  }
  count(fn, o);
  svc_fn_put(fn);
  return true;
}

/* ---- Metrics ---- */

static const char *const outcome_names[] = {
#define SVC_OUTCOME_NAME_(n, s) s,
    SVC_OUTCOMES(SVC_OUTCOME_NAME_)
#undef SVC_OUTCOME_NAME_
};

void tw__svc_counts(struct tw__svc *svc, struct tw__svc_counts *c) {
  memset(c, 0, sizeof *c);
  pthread_rwlock_rdlock(&svc->fns_mu);
  c->functions = svc->nfns;
  for (size_t b = 0; b < SVC_BUCKETS; b++)
    for (struct svc_fn *fn = svc->fns[b]; fn; fn = fn->next) {
      pthread_mutex_lock(&fn->mu);
      c->pooled_idle += fn->nidle;
      pthread_mutex_unlock(&fn->mu);
      if (fn->pool) {
        uint32_t idle = 0;
        tw_pool_stats(fn->pool, NULL, &idle);
        c->pooled_idle += idle;
      }
    }
  pthread_rwlock_unlock(&svc->fns_mu);
  c->running = atomic_load(&svc->running);
  pthread_mutex_lock(&svc->jobs_mu);
  c->jobs_queued = svc->nqueued;
  c->jobs_running = svc->nrunning;
  pthread_mutex_unlock(&svc->jobs_mu);
}

void tw__svc_metrics(struct tw__svc *svc, struct tw__buf *b) {
  struct tw__svc_counts c;
  tw__svc_counts(svc, &c);
  tw__buf_puts(b,
               "# HELP tensor_wasm_invocations_total Function invocations by "
               "outcome.\n"
               "# TYPE tensor_wasm_invocations_total counter\n");
  pthread_rwlock_rdlock(&svc->fns_mu);
  for (size_t k = 0; k < SVC_BUCKETS; k++)
    for (struct svc_fn *fn = svc->fns[k]; fn; fn = fn->next)
      for (int o = 0; o < OUT_COUNT_; o++) {
        uint64_t n = atomic_load_explicit(&fn->outcomes[o],
                                          memory_order_relaxed);
        /* Names are [A-Za-z0-9_.-]: no label escaping needed. */
        tw__buf_printf(b,
                       "tensor_wasm_invocations_total{function=\"%s/%s\","
                       "outcome=\"%s\"} %llu\n",
                       fn->rec.tenant, fn->rec.name, outcome_names[o],
                       (unsigned long long)n);
      }
  pthread_rwlock_unlock(&svc->fns_mu);
  tw__buf_printf(b,
                 "# HELP tensor_wasm_functions Deployed functions.\n"
                 "# TYPE tensor_wasm_functions gauge\n"
                 "tensor_wasm_functions %llu\n"
                 "# HELP tensor_wasm_instances_active Instances running a "
                 "call.\n"
                 "# TYPE tensor_wasm_instances_active gauge\n"
                 "tensor_wasm_instances_active %llu\n"
                 "# HELP tensor_wasm_pooled_instances Ready instances "
                 "waiting in pools.\n"
                 "# TYPE tensor_wasm_pooled_instances gauge\n"
                 "tensor_wasm_pooled_instances %llu\n"
                 "# HELP tensor_wasm_jobs_active Asynchronous jobs running.\n"
                 "# TYPE tensor_wasm_jobs_active gauge\n"
                 "tensor_wasm_jobs_active %llu\n"
                 "# HELP tensor_wasm_jobs_queued Asynchronous jobs waiting.\n"
                 "# TYPE tensor_wasm_jobs_queued gauge\n"
                 "tensor_wasm_jobs_queued %llu\n",
                 (unsigned long long)c.functions,
                 (unsigned long long)c.running,
                 (unsigned long long)c.pooled_idle,
                 (unsigned long long)c.jobs_running,
                 (unsigned long long)c.jobs_queued);
  tw__buf_puts(b, "# HELP tensor_wasm_compile_duration_seconds Time to "
                  "decode, validate and compile a module.\n"
                  "# TYPE tensor_wasm_compile_duration_seconds histogram\n");
  tw__hist_render(&svc->compile_hist, b,
                  "tensor_wasm_compile_duration_seconds", "");
  tw__buf_puts(b, "# HELP tensor_wasm_instantiate_duration_seconds Time to "
                  "make a ready instance.\n"
                  "# TYPE tensor_wasm_instantiate_duration_seconds "
                  "histogram\n");
  tw__hist_render(&svc->instantiate_hist, b,
                  "tensor_wasm_instantiate_duration_seconds", "");
  svc_gpu_metrics(svc, b);
}
