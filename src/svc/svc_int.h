/* Internals shared by the files of src/svc: the service object, the
 * function registry entries with their pools, the token cache, tenant
 * counters and the job queue. Nothing outside src/svc includes this.
 */
#ifndef TW_SVC_INT_H
#define TW_SVC_INT_H

#include <pthread.h>

#include "svc/svc.h"
#include "tw/gpu.h"
#include "tw/pool.h"
#include "tw/tw.h"

/* One engine per distinct (memory cap, deadline): both are engine
 * settings in tw.h. Few distinct profiles exist in practice. */
#define SVC_MAX_ENGINES 64
struct svc_engine {
  uint64_t memory_bytes;
  uint32_t deadline_ms;
  tw_engine_t *engine;
};

enum { FN_TYPED = 0, FN_HANDLER = 1 };

/* Invocation outcomes, the label values of tensor_wasm_invocations_total. */
#define SVC_OUTCOMES(X)                                                     \
  X(SUCCESS, "success")                                                     \
  X(TRAP, "trap")                                                           \
  X(DEADLINE, "deadline")                                                   \
  X(EXIT, "exit")                                                           \
  X(BAD_REQUEST, "bad_request")                                             \
  X(REJECTED, "rejected")                                                   \
  X(CANCELLED, "cancelled")                                                 \
  X(ERROR, "error")
enum svc_outcome {
#define SVC_OUTCOME_ENUM_(n, s) OUT_##n,
  SVC_OUTCOMES(SVC_OUTCOME_ENUM_)
#undef SVC_OUTCOME_ENUM_
  OUT_COUNT_
};

/* A ready instance: one store each, so pooled instances of one function
 * run on different threads at once. */
struct svc_inst {
  tw_store_t *store;
  tw_instance_t *inst;
  void *wasi;   /* tw_wasi_t for modules that import WASI, else NULL */
  tw_linker_t *linker;
  bool pooled;  /* from svc_fn.pool: the pool owns store and instance */
};

/* A deployed function: immutable after registration except the pool and
 * counters. Reference-counted: a redeploy or delete unlinks it from the
 * registry; the last user frees it. */
struct svc_fn {
  _Atomic int refs;
  struct svc_fn *next; /* registry chain */
  struct tw__function rec;
  int mode;
  bool has_imports;
  /* The module imports wasi:cuda: it runs in the tenant's GPU worker
   * (gpu.c), which gets the module's bytes; no local pool. */
  bool gpu;
  uint8_t *wasm;
  size_t wasm_len;
  tw_engine_t *engine; /* shared, owned by the svc */
  tw_module_t *module;
  struct svc_tenant *tenant; /* run-time counters (owned by the svc) */
  /* Typed mode without imports: a reset-based runtime pool (tw/pool.h)
   * of rec.pool_size instances; NULL otherwise (pool_size 0, handler
   * mode, or imports: WASI state is per instance and has no reset). */
  tw_pool_t *pool;
  pthread_mutex_t mu; /* guards idle[] (functions without a pool) */
  struct svc_inst *idle;
  uint32_t nidle;
  _Atomic uint32_t busy;
  /* Until when (ns) invocations skip the inline attempt: set when one
   * overran its inline budget (tw__svc_invoke_inline). */
  _Atomic uint64_t inline_off_until;
  _Atomic uint64_t outcomes[OUT_COUNT_];
};

#define SVC_BUCKETS 1024

/* A known token. Entries are never freed while the service runs (revoked
 * ones stay, flagged), so a principal may point to one. */
struct tw__tok {
  struct tw__tok *next;
  struct tw__token rec;
  _Atomic bool revoked;
  pthread_mutex_t mu; /* the bucket */
  double tokens;
  uint64_t last_ns;
};

/* Run-time counters of a tenant, against its quotas. */
struct svc_tenant {
  struct svc_tenant *next;
  struct tw__tenant rec;
  _Atomic int64_t running;
  _Atomic int64_t memory;
};

struct svc_job; /* jobs.c */
struct tok_mac; /* auth.c */

struct tw__svc {
  struct tw__svc_config cfg;
  struct tw__db *db;
  struct tw__artifacts *art;
  uint8_t pepper[32];
  /* The token HMAC's keyed SHA-256 states (auth.c, struct tok_mac),
   * made once; only read (copied) after the start, from any thread. */
  struct tok_mac *tok_mac;
  _Atomic bool ready, draining;

  pthread_mutex_t engines_mu;
  struct svc_engine engines[SVC_MAX_ENGINES];
  uint32_t nengines;

  pthread_rwlock_t fns_mu;
  struct svc_fn *fns[SVC_BUCKETS];
  uint64_t nfns;
  pthread_mutex_t deploy_mu; /* one deploy or delete at a time */

  pthread_rwlock_t toks_mu;
  struct tw__tok *toks[SVC_BUCKETS];

  pthread_mutex_t tenants_mu;
  struct svc_tenant *tenants;

  /* audit */
  pthread_mutex_t audit_mu;
  int audit_fd;

  /* metrics */
  struct tw__hist compile_hist, instantiate_hist;
  _Atomic uint64_t running;

  /* jobs (jobs.c) */
  pthread_mutex_t jobs_mu;
  pthread_cond_t jobs_cv, jobs_idle_cv;
  struct svc_job *queue_head, *queue_tail;
  struct svc_job *active; /* queued or running, for cancel */
  uint32_t nqueued, nrunning;
  bool jobs_stop;
  pthread_t *workers;
  uint32_t nworkers;

  /* GPU worker processes (gpu.c): NULL when this host has no GPU, or
   * the configuration turns it off (gpu_why says which). */
  tw_gpu_supervisor_t *gpu_sup;
  char gpu_why[256];
};

/* functions.c */
int svc_functions_load(struct tw__svc *svc);
void svc_functions_free(struct tw__svc *svc);
struct svc_fn *svc_fn_get(struct tw__svc *svc, const char *tenant,
                          const char *name);
void svc_fn_put(struct svc_fn *fn);
/* The tenant's concurrent-instance and memory quotas for one invocation:
 * take returns false (and takes nothing) when either would be exceeded. */
bool svc_quota_take(struct svc_fn *fn);
void svc_quota_give(struct svc_fn *fn);
/* A 200 reply {"results":[...]} for n results (OUT_SUCCESS), or a 503
 * when out of memory (OUT_ERROR). */
enum svc_outcome svc_reply_results(const tw_val_t *results, size_t n,
                                   struct tw__reply *out);
void svc_engines_free(struct tw__svc *svc);
/* auth.c */
int svc_tokens_bootstrap(struct tw__svc *svc);
void svc_tokens_free(struct tw__svc *svc);
struct svc_tenant *svc_tenant_rt(struct tw__svc *svc, const char *id);
void svc_tenants_free(struct tw__svc *svc);
/* jobs.c */
int svc_jobs_start(struct tw__svc *svc);
/* Returns false when some worker was still running a job at the bound. */
bool svc_jobs_stop(struct tw__svc *svc);
/* Tells a job's cancel which store its guest call runs in (store), or
 * that the call is over (NULL), under jobs_mu. Binding returns true when
 * the job is already cancelled: the caller then skips the call. ctl NULL
 * (synchronous invocations): nothing to do, false. Unbind before the
 * store is reset or freed. */
bool svc_job_bind(struct tw__svc *svc, struct tw__run_ctl *ctl,
                  tw_store_t *store);
/* gpu.c: functions whose module imports wasi:cuda. */
struct json_t;
void svc_gpu_config_default(struct tw__svc_gpu_config *g);
/* Applies the config file's "gpu" object. */
int svc_gpu_config_json(struct tw__svc_gpu_config *g, struct json_t *v,
                        const char *path, char *err, size_t errlen);
/* Starts the supervisor (and its spares) when enabled and a GPU, or the
 * mock backend, is there; otherwise records why not. Never fails. */
void svc_gpu_open(struct tw__svc *svc);
void svc_gpu_close(struct tw__svc *svc);
/* Marks fn as a GPU function, keeping a copy of its module's bytes. */
int svc_gpu_fn_init(struct svc_fn *fn, const uint8_t *wasm, size_t len,
                    struct tw__status *st);
/* Invokes a GPU function (typed or handler mode) in the tenant's worker. */
enum svc_outcome svc_gpu_invoke(struct tw__svc *svc, struct svc_fn *fn,
                                const uint8_t *body, size_t len,
                                struct tw__reply *out);
void svc_gpu_metrics(struct tw__svc *svc, struct tw__buf *b);
/* svc.c */
int64_t svc_now_ms(void);
void svc_status(struct tw__status *st, int http, const char *code,
                const char *fmt, ...) TW_PRINTF(4, 5);

#endif
