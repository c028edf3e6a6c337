/* The service layer behind the HTTP API: configuration, tenants and
 * tokens (authentication, scopes, rate limits, quotas), the registry of
 * deployed functions with their compiled modules and instance pools,
 * invocations (typed export calls and WASI handlers), asynchronous jobs,
 * metrics, structured logs and the audit log. src/http turns requests
 * into calls of this interface; the CLI's `serve` and `token` use it too.
 *
 * Threads: every function here is safe to call from any thread; one
 * struct tw__svc serves the whole process.
 */
#ifndef TW_SVC_H
#define TW_SVC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "store/store.h"

/* ---- Configuration ---- */

/* The "gpu" section: the supervisor of per-tenant GPU worker processes
 * that runs functions whose module imports wasi:cuda (docs/GPU.md). */
#define TW_SVC_GPU_MAX_PINS 64
struct tw__svc_gpu_config {
  bool enabled;               /* start a supervisor when a GPU is there */
  uint32_t spares_per_device; /* pre-warmed workers kept ready (0) */
  uint64_t tenant_memory_quota; /* bytes of GPU memory per tenant (4 GiB) */
  uint32_t max_inflight;      /* launches in flight per tenant (64) */
  uint32_t max_workers;       /* worker processes in all (256) */
  bool no_seccomp;            /* debugging only */
  uint32_t npins;             /* "pins": {"tenant": device, ...} */
  struct {
    char tenant[TW_ID_MAX + 1];
    int device;
  } pins[TW_SVC_GPU_MAX_PINS];
};

struct tw__svc_config {
  char addr[128];       /* "127.0.0.1:8080" (port 0: ephemeral) */
  char data_dir[1024];  /* SQLite database, artifacts, secret */
  uint32_t threads;     /* HTTP event threads (epoll, default: online
                           CPUs); 0 = a thread per connection */
  uint32_t invoke_workers; /* threads that run requests which can block
                              (invocations, deploys, writes): 4 x online
                              CPUs, at least 8; unused with threads 0 */
  uint32_t invoke_queue_limit; /* such requests waiting for a worker;
                                  past it 503 with Retry-After (256) */
  uint32_t connection_limit;
  uint32_t connection_timeout_s; /* idle/slow clients are cut after this */
  uint64_t body_limit;  /* bytes (64 MiB) */
  uint32_t url_limit;   /* bytes of request target (4 KiB) */
  uint32_t header_limit; /* bytes of request head, MHD memory limit
                            (8 KiB) */
  uint32_t job_workers;
  uint32_t job_queue_limit;
  uint32_t drain_ms;    /* graceful shutdown bound */
  uint32_t default_deadline_ms, max_deadline_ms;
  uint64_t default_memory_bytes, max_memory_bytes;
  uint32_t default_pool_size, max_pool_size;
  uint64_t output_limit; /* handler stdout cap */
  double token_rate_qps, token_rate_burst; /* defaults for new tokens */
  int64_t tenant_max_functions, tenant_max_instances,
      tenant_max_memory_bytes; /* defaults for new tenants */
  bool metrics_public;  /* /metrics without a token */
  char audit_log[1024]; /* "" or "-": stdout; else a file (appended) */
  char tokens_file[1024]; /* bootstrap admin tokens, one per line */
  struct tw__svc_gpu_config gpu;
};

/* Defaults, then environment (TENSOR_WASM_API_AUDIT_LOG,
 * TENSOR_WASM_API_TOKENS_FILE). */
void tw__svc_config_default(struct tw__svc_config *cfg);
/* Applies a JSON config file ({"addr": ..., "threads": 4, ...}; keys as
 * the struct's fields; "gpu": {...} as struct tw__svc_gpu_config's).
 * Unknown keys and wrong types are errors. */
int tw__svc_config_load(struct tw__svc_config *cfg, const char *path,
                        char *err, size_t errlen);

/* ---- Logs ---- */

enum tw__log_level { TW_LOG_ERROR, TW_LOG_WARN, TW_LOG_INFO, TW_LOG_DEBUG };

/* Per-request context carried into logs, audit records and jobs. */
struct tw__reqctx {
  char request_id[40];
  char trace_id[33];     /* 32 hex digits */
  char span_id[17];      /* our span, 16 hex digits */
  char traceparent[56];  /* "00-<trace>-<span>-<flags>" for responses */
  char who[TW_ID_MAX + 1]; /* token id, or "" before authentication */
  char tenant[TW_ID_MAX + 1];
};

/* Level from TENSOR_WASM_LOG (error, warn, info, debug; default info). */
void tw__log_init(void);
bool tw__log_enabled(enum tw__log_level level);
/* One JSON line on stderr: ts, level, msg, and the request's ids. */
void tw__log(enum tw__log_level level, const struct tw__reqctx *rc,
             const char *fmt, ...) TW_PRINTF(3, 4);
/* Fresh random ids (not secrets): hex of n bytes into out (2n+1). */
void tw__random_hex(char *out, size_t nbytes);

/* ---- Histograms (latency in seconds, Prometheus buckets) ---- */

#define TW_HIST_BUCKETS 16
extern const double tw__hist_bounds[TW_HIST_BUCKETS];
struct tw__hist {
  _Atomic uint64_t bucket[TW_HIST_BUCKETS + 1]; /* last: +Inf */
  _Atomic uint64_t count;
  _Atomic uint64_t sum_ns;
};
void tw__hist_observe(struct tw__hist *h, uint64_t ns);
/* Appends "name_bucket{labels,le=..} n" ... lines (labels may be ""). */
void tw__hist_render(const struct tw__hist *h, struct tw__buf *b,
                     const char *name, const char *labels);

/* ---- The service ---- */

struct tw__svc;
struct tw__tok; /* a known token (cache entry; lives as long as the svc) */

/* Opens the data directory, database, artifact store; loads and compiles
 * the deployed functions; re-queues persisted jobs (marking those left
 * running as failed); starts the job workers. */
int tw__svc_open(const struct tw__svc_config *cfg, struct tw__svc **out,
                 char *err, size_t errlen);
/* Stops the job workers (waiting at most drain_ms for running jobs; jobs
 * not finished by then stay "running" in the database and are failed at
 * the next start) and frees everything. Returns false when a job was still
 * running at the bound: then nothing is freed (that worker still uses it)
 * and the caller should end the process. */
bool tw__svc_close(struct tw__svc *svc);
const struct tw__svc_config *tw__svc_config(const struct tw__svc *svc);
/* Whether start-up finished and no shutdown began (for /readyz). */
bool tw__svc_ready(const struct tw__svc *svc);
void tw__svc_set_draining(struct tw__svc *svc);

/* ---- Audit ---- */

/* One JSON line: ts, who, tenant, action, target, outcome, request id,
 * trace id. Never contains a token secret. */
void tw__audit(struct tw__svc *svc, const struct tw__reqctx *rc,
               const char *action, const char *target, const char *outcome);

/* ---- Authentication and authorisation ---- */

/* The authenticated caller of one request. */
struct tw__principal {
  struct tw__tok *tok;
  const char *id;     /* token id */
  const char *tenant; /* "" for admin */
  uint32_t scopes;
};

/* Looks up a bearer token (the secret, len bytes). TW_ENOTFOUND when it is
 * unknown or revoked. */
int tw__svc_authenticate(struct tw__svc *svc, const char *secret,
                         size_t len, struct tw__principal *p);
/* Takes one request from the token's bucket: 0, or TW_ELIMIT with the
 * seconds to wait in *retry_after. */
int tw__svc_rate_take(struct tw__svc *svc, const struct tw__principal *p,
                      uint32_t *retry_after);
/* Whether p may do `scope` on tenant (admin may do anything). */
bool tw__svc_allowed(const struct tw__principal *p, uint32_t scope,
                     const char *tenant);

/* Creates a token; the secret ("twk_...") goes to secret (room for 64)
 * and is shown once. tenant "" with TW_SCOPE_ADMIN makes an admin token.
 * Creates the tenant with default quotas when it does not exist. qps or
 * burst < 0 take the configured defaults. */
int tw__svc_token_create(struct tw__svc *svc, const char *tenant,
                         uint32_t scopes, double qps, double burst,
                         struct tw__token *rec, char secret[64], char *err,
                         size_t errlen);
int tw__svc_token_revoke(struct tw__svc *svc, const char *id);
/* The same as tw__svc_token_create against a data directory without a
 * running service (the CLI's offline `token create`). */
int tw__token_create_offline(const char *data_dir, const char *tenant,
                             uint32_t scopes, double qps, double burst,
                             struct tw__token *rec, char secret[64],
                             char *err, size_t errlen);

/* Tenants: get (TW_ENOTFOUND), create-or-update. */
int tw__svc_tenant_get(struct tw__svc *svc, const char *id,
                       struct tw__tenant *t);
int tw__svc_tenant_put(struct tw__svc *svc, const struct tw__tenant *t,
                       bool *created);
int tw__svc_tenant_each(struct tw__svc *svc,
                        int (*fn)(void *ctx, const struct tw__tenant *t),
                        void *ctx);

/* Whether s is a valid tenant, function or token name:
 * [A-Za-z0-9][A-Za-z0-9_.-]{0,63}. */
bool tw__svc_valid_name(const char *s, size_t len);

/* ---- Functions ---- */

struct tw__deploy {
  const char *tenant, *name;
  const uint8_t *bytes; /* .wasm, or .wat text */
  size_t len;
  const char *mode; /* "typed" (default) or "handler" */
  uint32_t deadline_ms; /* 0: default */
  uint64_t memory_bytes; /* 0: default */
  int64_t pool_size; /* < 0: default */
};

/* Service errors: an HTTP status, a stable code and a message. */
struct tw__status {
  int http;
  const char *code; /* "bad_request", "not_found", ... */
  char message[512];
};

/* Compiles, stores and registers a function (replacing one of the same
 * name). 0 with *out filled and *created, or -1 with st filled. */
int tw__svc_deploy(struct tw__svc *svc, const struct tw__deploy *d,
                   struct tw__function *out, bool *created,
                   struct tw__status *st);
int tw__svc_undeploy(struct tw__svc *svc, const char *tenant,
                     const char *name, struct tw__status *st);
/* Functions of a tenant (NULL: all), from the database. */
int tw__svc_function_each(struct tw__svc *svc, const char *tenant,
                          int (*fn)(void *ctx, const struct tw__function *f),
                          void *ctx);
/* The record of a registered function (TW_ENOTFOUND). */
int tw__svc_function_get(struct tw__svc *svc, const char *tenant,
                         const char *name, struct tw__function *f);
/* JSON array text of the function's exported functions with their
 * signatures ([{"name":"add","params":["i32","i32"],"results":["i32"]}]);
 * malloc'd, NULL when the function is not registered. */
char *tw__svc_function_exports_json(struct tw__svc *svc, const char *tenant,
                                    const char *name);

/* ---- Invocations ---- */

/* What an invocation produced: an HTTP status, a content type and a body
 * (owned, free with free()). Errors carry {"error":{code,message}}. */
struct tw__reply {
  int status;
  const char *content_type;
  char *body;
  size_t len;
  uint32_t retry_after; /* for 429, seconds */
  int exit_code;        /* handler mode; -1 when none */
};

/* Cancellation handle of one running invocation (a job). cancel is set
 * once the job is cancelled; store is the store its guest call runs in
 * while it runs (NULL otherwise), set and read under the service's job
 * lock, so that a cancel can interrupt the guest (tw_store_interrupt). */
struct tw__run_ctl {
  atomic_bool cancel;
  struct tw_store *store;
};

/* Invokes (tenant, name) with a request body: typed mode reads
 * {"export": NAME, "args": [...]}; handler mode passes the body as stdin.
 * Never fails: every outcome is a reply. */
void tw__svc_invoke(struct tw__svc *svc, const struct tw__reqctx *rc,
                    const char *tenant, const char *name,
                    const uint8_t *body, size_t len, struct tw__run_ctl *ctl,
                    struct tw__reply *out);
/* The fast path of a synchronous invocation, for a thread that must not
 * wait long (an HTTP event thread): runs it here with a deadline of
 * budget_ms when the function is a pooled typed function (its module
 * imports nothing and each call starts from a reset instance) whose own
 * deadline is longer. Returns true with *out the reply, or false with
 * nothing done and *out empty: the caller runs tw__svc_invoke elsewhere.
 * That is also what happens when the call overruns the budget: a pure
 * function run again from a reset instance gives the same result, and
 * the function then skips this path for a while (its calls are slow). */
bool tw__svc_invoke_inline(struct tw__svc *svc, const struct tw__reqctx *rc,
                           const char *tenant, const char *name,
                           const uint8_t *body, size_t len,
                           uint32_t budget_ms, struct tw__reply *out);
/* Fills *out as an error reply with a JSON body. */
void tw__reply_error(struct tw__reply *out, int status, const char *code,
                     const char *fmt, ...) TW_PRINTF(4, 5);
/* malloc'd {"error":{"code":...,"message":...}} text. */
char *tw__error_json(const char *code, const char *message, size_t *len);

/* ---- Jobs ---- */

/* Queues an asynchronous invocation; 0 with the job id in id (room for
 * TW_ID_MAX+1), or -1 with st filled (404 no function, 429 queue full,
 * 503 shutting down). */
int tw__svc_job_submit(struct tw__svc *svc, const struct tw__reqctx *rc,
                       const char *tenant, const char *name,
                       const uint8_t *body, size_t len, char *id,
                       struct tw__status *st);
/* Loads a job (with request and result): TW_ENOTFOUND. */
int tw__svc_job_get(struct tw__svc *svc, const char *id, struct tw__job *j);
/* Cancels a queued or running job on behalf of `by` (a token id, kept in
 * the job's error text): 0, TW_ENOTFOUND, or TW_EEXISTS when it has
 * already finished. *was_running tells whether the job was running: its
 * guest is then interrupted and this waits (at most a second) for the
 * job to finish, so it usually reads cancelled on return; if the guest
 * does not stop in time, the worker records the cancel when the call
 * ends. A job whose call completed anyway keeps its real outcome. */
int tw__svc_job_cancel(struct tw__svc *svc, const char *id, const char *by,
                       bool *was_running);
int tw__svc_job_each(struct tw__svc *svc, const char *tenant, int limit,
                     int (*fn)(void *ctx, const struct tw__job *j),
                     void *ctx);

/* ---- Metrics ---- */

/* Appends the service's metrics (functions, invocations, pools, jobs,
 * compile/instantiate durations, build info) in Prometheus text format. */
void tw__svc_metrics(struct tw__svc *svc, struct tw__buf *b);
/* Counts for /healthz and observe: functions, running invocations, jobs
 * queued and running, pooled idle instances. */
struct tw__svc_counts {
  uint64_t functions, running, jobs_queued, jobs_running, pooled_idle;
};
void tw__svc_counts(struct tw__svc *svc, struct tw__svc_counts *c);

#endif
