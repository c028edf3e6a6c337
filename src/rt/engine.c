/* The engine: configuration, the engine-wide function type registry, and
 * the deadline epoch.
 * Invariants: a canonical type id, once handed out, names the same type for
 * the engine's life (so id equality is type equality across modules); the
 * epoch only grows and is advanced only while some call is running.
 */

#include "rt/rt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void tw_engine_config_default(tw_engine_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->max_memory_bytes = 256ull << 20;
  cfg->stack_margin_bytes = 256u << 10;
  cfg->max_table_elems = 10000000u;
  cfg->deadline_ms = 30000u;
  /* TW_TIER=0|1|auto sets the default tier for every engine of the
   * process (tests and short-lived tools use it to keep the system
   * compiler out of runs that end before tier 1 would help). */
  cfg->tier = TW_TIER_AUTO;
  const char *tier = getenv("TW_TIER");
  if (tier && strcmp(tier, "0") == 0) cfg->tier = TW_TIER_0;
  if (tier && strcmp(tier, "1") == 0) cfg->tier = TW_TIER_1;
  cfg->cache_dir = TW_CACHE_DIR_DEFAULT;
  cfg->interruptible = true;
}

int tw_engine_new(const tw_engine_config_t *cfg, tw_engine_t **out) {
  if (!out) return TW_EINVAL;
  *out = NULL;
  int rc = tw__rt_trap_init();
  if (rc) return rc;
  tw_engine_t *e = tw__calloc(1, sizeof *e);
  if (!e) return TW_ENOMEM;
  if (cfg)
    e->cfg = *cfg;
  else
    tw_engine_config_default(&e->cfg);
  if (e->cfg.max_table_elems > TW_LIMIT_TABLE_ELEMS)
    e->cfg.max_table_elems = TW_LIMIT_TABLE_ELEMS;
  if (e->cfg.max_memory_bytes > (uint64_t)TW_LIMIT_MEMORY_PAGES * 65536u)
    e->cfg.max_memory_bytes = (uint64_t)TW_LIMIT_MEMORY_PAGES * 65536u;
  if (pthread_mutex_init(&e->types_mu, NULL)) goto fail_types_mu;
  if (pthread_mutex_init(&e->timer_mu, NULL)) goto fail_timer_mu;
  pthread_condattr_t ca;
  if (pthread_condattr_init(&ca)) goto fail_condattr;
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  if (pthread_cond_init(&e->timer_cv, &ca)) goto fail_cond;
  pthread_condattr_destroy(&ca);
  e->start_ns = tw__now_ns();
  e->epoch = 0;
  if (tw__rt_tier_engine_init(e)) {
    tw__rt_tier_engine_free(e);
    pthread_cond_destroy(&e->timer_cv);
    pthread_mutex_destroy(&e->timer_mu);
    pthread_mutex_destroy(&e->types_mu);
    tw__free(e);
    return TW_ENOMEM;
  }
  *out = e;
  return 0;

fail_cond:
  pthread_condattr_destroy(&ca);
fail_condattr:
  pthread_mutex_destroy(&e->timer_mu);
fail_timer_mu:
  pthread_mutex_destroy(&e->types_mu);
fail_types_mu:
  tw__free(e);
  return TW_ENOMEM;
}

void tw_engine_free(tw_engine_t *e) {
  if (!e) return;
  tw__rt_tier_engine_free(e);
  pthread_mutex_lock(&e->timer_mu);
  bool started = e->timer_started;
  e->timer_stop = true;
  pthread_cond_broadcast(&e->timer_cv);
  pthread_mutex_unlock(&e->timer_mu);
  if (started) pthread_join(e->timer, NULL);
  for (uint32_t i = 0; i < e->ntypes; i++) tw__free(e->types[i].types);
  tw__free(e->types);
  tw__free(e->slots);
  pthread_cond_destroy(&e->timer_cv);
  pthread_mutex_destroy(&e->timer_mu);
  pthread_mutex_destroy(&e->types_mu);
  tw__free(e);
}

/* ---- Type registry ---- */

static uint64_t type_hash(uint32_t np, uint32_t nr, const uint8_t *t) {
  uint64_t h = 1469598103934665603ull; /* FNV-1a */
  h = (h ^ np) * 1099511628211ull;
  h = (h ^ nr) * 1099511628211ull;
  for (uint32_t i = 0; i < np + nr; i++) h = (h ^ t[i]) * 1099511628211ull;
  return h;
}

/* Doubles the slot table; caller holds types_mu. */
static int slots_grow(tw_engine_t *e) {
  uint32_t n = e->nslots ? e->nslots * 2 : 64;
  uint32_t *s = tw__calloc(n, sizeof *s);
  if (!s) return TW_ENOMEM;
  for (uint32_t id = 0; id < e->ntypes; id++) {
    uint32_t j = (uint32_t)e->types[id].hash & (n - 1);
    while (s[j]) j = (j + 1) & (n - 1);
    s[j] = id + 1;
  }
  tw__free(e->slots);
  e->slots = s;
  e->nslots = n;
  return 0;
}

int tw__rt_type_intern(tw_engine_t *e, uint32_t np, uint32_t nr,
                       const uint8_t *types, uint32_t *id) {
  uint64_t h = type_hash(np, nr, types);
  int rc = 0;
  pthread_mutex_lock(&e->types_mu);
  if (e->nslots) {
    for (uint32_t j = (uint32_t)h & (e->nslots - 1); e->slots[j];
         j = (j + 1) & (e->nslots - 1)) {
      const struct tw__rt_type *t = &e->types[e->slots[j] - 1];
      if (t->hash == h && t->nparams == np && t->nresults == nr &&
          (np + nr == 0 || memcmp(t->types, types, np + nr) == 0)) {
        *id = e->slots[j] - 1;
        goto out;
      }
    }
  }
  if (e->ntypes >= UINT32_MAX - 1) {
    rc = TW_ELIMIT;
    goto out;
  }
  /* Keep the load factor at most 1/2. */
  if ((uint64_t)(e->ntypes + 1) * 2 > e->nslots && (rc = slots_grow(e)))
    goto out;
  if (e->ntypes == e->types_cap) {
    uint32_t cap = e->types_cap ? e->types_cap * 2 : 32;
    struct tw__rt_type *nt = tw__reallocarray(e->types, cap, sizeof *nt);
    if (!nt) {
      rc = TW_ENOMEM;
      goto out;
    }
    e->types = nt;
    e->types_cap = cap;
  }
  uint8_t *copy = tw__malloc((size_t)np + nr);
  if (!copy) {
    rc = TW_ENOMEM;
    goto out;
  }
  if (np + nr) memcpy(copy, types, (size_t)np + nr);
  uint32_t nid = e->ntypes++;
  e->types[nid] = (struct tw__rt_type){np, nr, copy, h};
  uint32_t j = (uint32_t)h & (e->nslots - 1);
  while (e->slots[j]) j = (j + 1) & (e->nslots - 1);
  e->slots[j] = nid + 1;
  *id = nid;
out:
  pthread_mutex_unlock(&e->types_mu);
  return rc;
}

void tw__rt_type_get(tw_engine_t *e, uint32_t id, tw_functype_t *out) {
  /* The entries array may be reallocated by a concurrent intern, so read
   * it under the lock; the types bytes themselves never move. */
  pthread_mutex_lock(&e->types_mu);
  const struct tw__rt_type *t = &e->types[id];
  out->nparams = t->nparams;
  out->nresults = t->nresults;
  out->params = t->types;
  out->results = t->types + t->nparams;
  pthread_mutex_unlock(&e->types_mu);
}

/* ---- Deadline epoch ---- */

/* Moves the epoch up to the milliseconds elapsed since the engine started;
 * never backwards, whoever else is advancing it. */
static void epoch_advance(tw_engine_t *e) {
  uint64_t ms = (tw__now_ns() - e->start_ns) / 1000000u;
  uint64_t cur = __atomic_load_n(&e->epoch, __ATOMIC_RELAXED);
  while (ms > cur &&
         !__atomic_compare_exchange_n(&e->epoch, &cur, ms, true,
                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

/* Ticks a stopped call may go on running guest code before the timer
 * arms the poll page of every memory (and again every
 * STOP_REESCALATE_TICKS after): its loops then run on a memory of another
 * store (linked across stores), whose page its own stop does not arm.
 * Other calls fault once on such a page and go on. */
#define STOP_ESCALATE_TICKS 10
#define STOP_REESCALATE_TICKS 100

/* Stops every running call whose deadline the epoch has passed, again on
 * every tick while it runs (re-arming its store's poll pages); the caller
 * holds timer_mu. */
static void stop_late_calls(tw_engine_t *e) {
  uint64_t now = __atomic_load_n(&e->epoch, __ATOMIC_RELAXED);
  bool escalate = false;
  for (struct tw__exec *x = e->running; x; x = x->run_next) {
    if (now <= __atomic_load_n(&x->deadline, __ATOMIC_RELAXED)) continue;
    tw__rt_exec_stop(x);
    if (__atomic_load_n(&x->in_host, __ATOMIC_RELAXED) == 0 &&
        ++x->late_ticks % STOP_REESCALATE_TICKS == STOP_ESCALATE_TICKS)
      escalate = true;
  }
  if (escalate) tw__rt_polls_arm(NULL);
}

/* After the last call ends the timer keeps ticking this long before it
 * sleeps until the next call: under a stream of short calls (an HTTP
 * server's invocations) it then needs no wake-up per call. */
#define TIMER_LINGER_MS 100

static void *timer_main(void *arg) {
  tw_engine_t *e = arg;
  uint64_t idle_since = 0;
  pthread_mutex_lock(&e->timer_mu);
  while (!e->timer_stop) {
    if (!e->running) {
      uint64_t now = tw__now_ns();
      if (!idle_since) idle_since = now;
      if (now - idle_since >= (uint64_t)TIMER_LINGER_MS * 1000000u) {
        e->timer_waiting = true;
        pthread_cond_wait(&e->timer_cv, &e->timer_mu);
        e->timer_waiting = false;
        idle_since = 0;
        continue;
      }
    } else {
      idle_since = 0;
    }
    pthread_mutex_unlock(&e->timer_mu);
    struct timespec ts = {0, 1000000};
    nanosleep(&ts, NULL);
    /* Wall-time milliseconds, so sleeps that overshoot do not stretch
     * deadlines. */
    epoch_advance(e);
    pthread_mutex_lock(&e->timer_mu);
    stop_late_calls(e);
  }
  pthread_mutex_unlock(&e->timer_mu);
  return NULL;
}

void tw__rt_calls_enter(tw_engine_t *e, struct tw__exec *x,
                        uint32_t deadline_ms) {
  pthread_mutex_lock(&e->timer_mu);
  if (!e->running) {
    /* Catch the epoch up with the time spent idle: the deadline is set
     * from it right below. */
    epoch_advance(e);
    if (!e->timer_started && !e->timer_stop) {
      if (pthread_create(&e->timer, NULL, timer_main, e) == 0)
        e->timer_started = true;
      /* Without a timer thread deadlines cannot fire; calls still run. */
    }
    if (e->timer_waiting) pthread_cond_signal(&e->timer_cv);
  }
  uint64_t now = __atomic_load_n(&e->epoch, __ATOMIC_RELAXED);
  uint64_t deadline = deadline_ms ? now + deadline_ms : UINT64_MAX;
  /* A nested call never extends the deadline of the call around it
   * (which an interrupt may be zeroing right now: hence the atomic load);
   * if that one has passed, this call starts stopped. */
  if (x->prev) {
    uint64_t outer = __atomic_load_n(&x->prev->deadline, __ATOMIC_RELAXED);
    if (outer < deadline) deadline = outer;
  }
  __atomic_store_n(&x->deadline, deadline, __ATOMIC_RELAXED);
  if (now > deadline) tw__rt_exec_stop(x);
  x->run_prev = NULL;
  x->run_next = e->running;
  if (e->running) e->running->run_prev = x;
  e->running = x;
  pthread_mutex_unlock(&e->timer_mu);
}

void tw__rt_calls_leave(tw_engine_t *e, struct tw__exec *x) {
  pthread_mutex_lock(&e->timer_mu);
  if (x->run_prev)
    x->run_prev->run_next = x->run_next;
  else
    e->running = x->run_next;
  if (x->run_next) x->run_next->run_prev = x->run_prev;
  pthread_mutex_unlock(&e->timer_mu);
}
