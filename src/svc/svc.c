/* The service object's life (open, close, readiness), its configuration,
 * structured logs, the audit log, error bodies and the latency histogram.
 * Log and audit lines are built whole in a buffer and written with one
 * write(2), so lines from different threads never interleave.
 */
#include "svc/svc_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

/* ---- Small helpers ---- */

int64_t svc_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void svc_status(struct tw__status *st, int http, const char *code,
                const char *fmt, ...) {
  va_list ap;
  st->http = http;
  st->code = code;
  va_start(ap, fmt);
  vsnprintf(st->message, sizeof st->message, fmt, ap);
  va_end(ap);
}

bool tw__svc_valid_name(const char *s, size_t len) {
  if (len == 0 || len > TW_ID_MAX) return false;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
      return false;
  }
  return true;
}

/* xorshift128+ per thread, seeded from the system's randomness: request
 * and trace ids need uniqueness, not secrecy, and this is far cheaper. */
static _Thread_local uint64_t rng_s[2];

static uint64_t rng_next(void) {
  if (!rng_s[0] && !rng_s[1]) {
    if (tw__rand_bytes(rng_s, sizeof rng_s) || (!rng_s[0] && !rng_s[1])) {
      rng_s[0] = tw__now_ns() | 1;
      rng_s[1] = (uint64_t)(uintptr_t)&rng_s;
    }
  }
  uint64_t a = rng_s[0], b = rng_s[1];
  rng_s[0] = b;
  a ^= a << 23;
  rng_s[1] = a ^ b ^ (a >> 17) ^ (b >> 26);
  return rng_s[1] + b;
}

void tw__random_hex(char *out, size_t nbytes) {
  uint8_t buf[64];
  if (nbytes > sizeof buf) nbytes = sizeof buf;
  for (size_t i = 0; i < nbytes; i += 8) {
    uint64_t r = rng_next();
    for (size_t k = 0; k < 8 && i + k < nbytes; k++)
      buf[i + k] = (uint8_t)(r >> (8 * k));
  }
  tw__hex(buf, nbytes, out);
}

/* ---- Configuration ---- */

void tw__svc_config_default(struct tw__svc_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->addr, sizeof c->addr, "127.0.0.1:8080");
  snprintf(c->data_dir, sizeof c->data_dir, "var");
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  if (ncpu < 1) ncpu = 1;
  if (ncpu > 1024) ncpu = 1024;
  /* Event threads only parse, route and answer cheap requests: one per
   * CPU. Workers mostly wait on guests that may loop until their
   * deadline, so there are more of them than CPUs. */
  c->threads = (uint32_t)ncpu;
  c->invoke_workers = (uint32_t)(4 * ncpu < 8 ? 8 : 4 * ncpu);
  c->invoke_queue_limit = 256;
  c->connection_limit = 1024;
  c->connection_timeout_s = 30;
  c->body_limit = (uint64_t)64 << 20;
  /* Below header_limit, so that a long target gets this server's JSON
   * 414; one that does not fit the head at all gets libmicrohttpd's plain
   * 414 or 431. The API's own targets are a few hundred bytes. */
  c->url_limit = 4096;
  /* The request head's cap, also libmicrohttpd's per-connection memory
   * area, which the library clears on every request of a keep-alive
   * connection: at 64 KiB that memset was 15% of the CPU of a trivial
   * request, and smaller is faster still. 8 KiB is nginx's default for a
   * header line and Apache's for a field; larger heads get 431. */
  c->header_limit = 8 * 1024;
  c->job_workers = 2;
  c->job_queue_limit = 10000;
  c->drain_ms = 10000;
  c->default_deadline_ms = 30000;
  c->max_deadline_ms = 300000;
  c->default_memory_bytes = (uint64_t)64 << 20;
  c->max_memory_bytes = (uint64_t)4 << 30;
  c->default_pool_size = 4;
  c->max_pool_size = 64;
  c->output_limit = (uint64_t)16 << 20;
  c->token_rate_qps = 0; /* unlimited unless set */
  c->token_rate_burst = 0;
  c->tenant_max_functions = 100;
  c->tenant_max_instances = 64;
  c->tenant_max_memory_bytes = (int64_t)4 << 30;
  c->metrics_public = false;
  svc_gpu_config_default(&c->gpu);
  const char *a = getenv("TENSOR_WASM_API_AUDIT_LOG");
  if (a) snprintf(c->audit_log, sizeof c->audit_log, "%s", a);
  const char *t = getenv("TENSOR_WASM_API_TOKENS_FILE");
  if (t) snprintf(c->tokens_file, sizeof c->tokens_file, "%s", t);
}

enum cfg_kind { K_STR, K_U32, K_U64, K_I64, K_DBL, K_BOOL };
static const struct {
  const char *key;
  enum cfg_kind kind;
  size_t off, size;
} cfg_keys[] = {
#define S_(f) #f, K_STR, offsetof(struct tw__svc_config, f), \
              sizeof(((struct tw__svc_config *)0)->f)
#define N_(f, k) #f, k, offsetof(struct tw__svc_config, f), 0
    {S_(addr)},
    {S_(data_dir)},
    {N_(threads, K_U32)},
    {N_(invoke_workers, K_U32)},
    {N_(invoke_queue_limit, K_U32)},
    {N_(connection_limit, K_U32)},
    {N_(connection_timeout_s, K_U32)},
    {N_(body_limit, K_U64)},
    {N_(url_limit, K_U32)},
    {N_(header_limit, K_U32)},
    {N_(job_workers, K_U32)},
    {N_(job_queue_limit, K_U32)},
    {N_(drain_ms, K_U32)},
    {N_(default_deadline_ms, K_U32)},
    {N_(max_deadline_ms, K_U32)},
    {N_(default_memory_bytes, K_U64)},
    {N_(max_memory_bytes, K_U64)},
    {N_(default_pool_size, K_U32)},
    {N_(max_pool_size, K_U32)},
    {N_(output_limit, K_U64)},
    {N_(token_rate_qps, K_DBL)},
    {N_(token_rate_burst, K_DBL)},
    {N_(tenant_max_functions, K_I64)},
    {N_(tenant_max_instances, K_I64)},
    {N_(tenant_max_memory_bytes, K_I64)},
    {N_(metrics_public, K_BOOL)},
    {S_(audit_log)},
    {S_(tokens_file)},
#undef S_
#undef N_
};

int tw__svc_config_load(struct tw__svc_config *cfg, const char *path,
                        char *err, size_t errlen) {
  json_error_t jerr;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (!root)
    return tw__err(TW_EINVAL, err, errlen, "%s:%d:%d: %s", path, jerr.line,
                   jerr.column, jerr.text);
  int rc = 0;
  if (!json_is_object(root)) {
    rc = tw__err(TW_EINVAL, err, errlen, "%s: expected a JSON object", path);
    goto done;
  }
  const char *key;
  json_t *v;
  json_object_foreach(root, key, v) {
    if (strcmp(key, "gpu") == 0) {
      if ((rc = svc_gpu_config_json(&cfg->gpu, v, path, err, errlen)) != 0)
        goto done;
      continue;
    }
    size_t i, n = sizeof cfg_keys / sizeof cfg_keys[0];
    for (i = 0; i < n; i++)
      if (strcmp(cfg_keys[i].key, key) == 0) break;
    if (i == n) {
      rc = tw__err(TW_EINVAL, err, errlen, "%s: unknown key '%s'", path, key);
      goto done;
    }
    char *field = (char *)cfg + cfg_keys[i].off;
    json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
    switch (cfg_keys[i].kind) {
    case K_STR:
      if (!json_is_string(v) || json_string_length(v) >= cfg_keys[i].size)
        goto bad;
      memcpy(field, json_string_value(v), json_string_length(v) + 1);
      break;
    case K_U32:
      if (x < 0 || x > (json_int_t)UINT32_MAX) goto bad;
      *(uint32_t *)(void *)field = (uint32_t)x;
      break;
    case K_U64:
      if (x < 0) goto bad;
      *(uint64_t *)(void *)field = (uint64_t)x;
      break;
    case K_I64:
      if (x < 0) goto bad;
      *(int64_t *)(void *)field = (int64_t)x;
      break;
    case K_DBL:
      if (!json_is_number(v) || json_number_value(v) < 0) goto bad;
      *(double *)(void *)field = json_number_value(v);
      break;
    case K_BOOL:
      if (!json_is_boolean(v)) goto bad;
      *(bool *)(void *)field = json_is_true(v);
      break;
    }
    continue;
  bad:
    rc = tw__err(TW_EINVAL, err, errlen, "%s: bad value for '%s'", path, key);
    goto done;
  }
done:
  json_decref(root);
  return rc;
}

/* ---- Logs ---- */

static enum tw__log_level log_level = TW_LOG_INFO;
static const char *const level_names[] = {"error", "warn", "info", "debug"};

void tw__log_init(void) {
  const char *s = getenv("TENSOR_WASM_LOG");
  if (!s) return;
  for (int i = 0; i < 4; i++)
    if (strcasecmp(s, level_names[i]) == 0) log_level = (enum tw__log_level)i;
  if (strcasecmp(s, "off") == 0 || strcasecmp(s, "none") == 0)
    log_level = (enum tw__log_level)-1;
}

bool tw__log_enabled(enum tw__log_level level) {
  return (int)level <= (int)log_level;
}

static void iso_time(char *buf, size_t len) {
  struct timespec ts;
  struct tm tm;
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Writes a JSON object built by the caller as one line to fd. */
static void write_line(int fd, json_t *obj) {
  char *s = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
  if (!s) return;
  size_t n = strlen(s);
  s[n] = '\n'; /* replaces the NUL; we write n+1 bytes */
  for (size_t off = 0; off <= n;) {
    ssize_t w = write(fd, s + off, n + 1 - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) break;
    off += (size_t)w;
  }
  free(s);
}

void tw__log(enum tw__log_level level, const struct tw__reqctx *rc,
             const char *fmt, ...) {
  if (!tw__log_enabled(level)) return;
  char ts[40], msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  iso_time(ts, sizeof ts);
  json_t *o = json_object();
  if (!o) return;
  json_object_set_new(o, "ts", json_string(ts));
  json_object_set_new(o, "level", json_string(level_names[level]));
  /* Messages can quote client input: keep only valid UTF-8. */
  json_t *m = json_string(msg);
  json_object_set_new(o, "msg", m ? m : json_string("(unprintable)"));
  if (rc) {
    json_object_set_new(o, "request_id", json_string(rc->request_id));
    json_object_set_new(o, "trace_id", json_string(rc->trace_id));
    json_object_set_new(o, "span_id", json_string(rc->span_id));
    if (rc->who[0]) json_object_set_new(o, "who", json_string(rc->who));
  }
  write_line(2, o);
  json_decref(o);
}

/* ---- Audit ---- */

void tw__audit(struct tw__svc *svc, const struct tw__reqctx *rc,
               const char *action, const char *target, const char *outcome) {
  char ts[40];
  iso_time(ts, sizeof ts);
  json_t *o = json_object();
  if (!o) return;
  json_object_set_new(o, "ts", json_string(ts));
  json_object_set_new(o, "who", json_string(rc && rc->who[0] ? rc->who
                                                             : "anonymous"));
  json_object_set_new(o, "tenant", json_string(rc ? rc->tenant : ""));
  json_object_set_new(o, "action", json_string(action));
  json_t *t = json_string(target ? target : "");
  json_object_set_new(o, "target", t ? t : json_string("?"));
  json_object_set_new(o, "outcome", json_string(outcome));
  json_object_set_new(o, "request_id", json_string(rc ? rc->request_id : ""));
  json_object_set_new(o, "trace_id", json_string(rc ? rc->trace_id : ""));
  pthread_mutex_lock(&svc->audit_mu);
  write_line(svc->audit_fd, o);
  pthread_mutex_unlock(&svc->audit_mu);
  json_decref(o);
}

/* ---- Error bodies ---- */

char *tw__error_json(const char *code, const char *message, size_t *len) {
  json_t *m = json_string(message);
  if (!m) m = json_string("(message is not valid UTF-8)");
  json_t *o = json_pack("{s:{s:s,s:o}}", "error", "code", code, "message", m);
  char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(o);
  if (!s) {
    static const char oom[] =
        "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
    s = strdup(oom);
  }
  if (len) *len = s ? strlen(s) : 0;
  return s;
}

void tw__reply_error(struct tw__reply *out, int status, const char *code,
                     const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  free(out->body);
  out->status = status;
  out->content_type = "application/json";
  out->body = tw__error_json(code, msg, &out->len);
}

/* ---- Histograms ---- */

const double tw__hist_bounds[TW_HIST_BUCKETS] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};

void tw__hist_observe(struct tw__hist *h, uint64_t ns) {
  double s = (double)ns * 1e-9;
  int i = 0;
  while (i < TW_HIST_BUCKETS && s > tw__hist_bounds[i]) i++;
  atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
  atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

void tw__hist_render(const struct tw__hist *h, struct tw__buf *b,
                     const char *name, const char *labels) {
  uint64_t cum = 0;
  const char *sep = labels && labels[0] ? "," : "";
  if (!labels) labels = "";
  for (int i = 0; i <= TW_HIST_BUCKETS; i++) {
    cum += atomic_load_explicit(&h->bucket[i], memory_order_relaxed);
    if (i < TW_HIST_BUCKETS)
      tw__buf_printf(b, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep,
                     tw__hist_bounds[i], (unsigned long long)cum);
    else
      tw__buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels,
                     sep, (unsigned long long)cum);
  }
  /* count is read after the buckets; under load it can run ahead of
   * them by a few, so report the bucket total to keep +Inf == count. */
  double sum = (double)atomic_load_explicit(&h->sum_ns, memory_order_relaxed) *
               1e-9;
  if (labels[0]) {
    tw__buf_printf(b, "%s_sum{%s} %.9f\n", name, labels, sum);
    tw__buf_printf(b, "%s_count{%s} %llu\n", name, labels,
                   (unsigned long long)cum);
  } else {
    tw__buf_printf(b, "%s_sum %.9f\n", name, sum);
    tw__buf_printf(b, "%s_count %llu\n", name, (unsigned long long)cum);
  }
}

/* ---- Open and close ---- */

const struct tw__svc_config *tw__svc_config(const struct tw__svc *svc) {
  return &svc->cfg;
}

bool tw__svc_ready(const struct tw__svc *svc) {
  return atomic_load(&svc->ready) && !atomic_load(&svc->draining);
}

void tw__svc_set_draining(struct tw__svc *svc) {
  atomic_store(&svc->draining, true);
}

static int open_audit(struct tw__svc *svc, char *err, size_t errlen) {
  const char *p = svc->cfg.audit_log;
  if (!p[0] || strcmp(p, "-") == 0 || strcmp(p, "stdout") == 0) {
    svc->audit_fd = 1;
    return 0;
  }
  svc->audit_fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (svc->audit_fd < 0)
    return tw__err(TW_EIO, err, errlen, "audit log %s: %s", p,
                   strerror(errno));
  return 0;
}

int tw__svc_open(const struct tw__svc_config *cfg, struct tw__svc **out,
                 char *err, size_t errlen) {
  *out = NULL;
  tw__log_init();
  struct tw__svc *svc = tw__calloc(1, sizeof *svc);
  if (!svc) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  svc->cfg = *cfg;
  svc->audit_fd = -1;
  pthread_mutex_init(&svc->engines_mu, NULL);
  pthread_rwlock_init(&svc->fns_mu, NULL);
  pthread_mutex_init(&svc->deploy_mu, NULL);
  pthread_rwlock_init(&svc->toks_mu, NULL);
  pthread_mutex_init(&svc->tenants_mu, NULL);
  pthread_mutex_init(&svc->audit_mu, NULL);
  pthread_mutex_init(&svc->jobs_mu, NULL);
  pthread_cond_init(&svc->jobs_cv, NULL);
  pthread_cond_init(&svc->jobs_idle_cv, NULL);

  uint8_t secret[32], akey[32];
  char path[1200];
  int rc = tw__secret_load(cfg->data_dir, secret, err, errlen);
  if (rc) goto fail;
  tw__secret_derive(secret, "tensor-wasm token pepper v1", svc->pepper);
  tw__secret_derive(secret, "tensor-wasm artifact hmac v1", akey);
  memset(secret, 0, sizeof secret);
  snprintf(path, sizeof path, "%s/artifacts", cfg->data_dir);
  rc = tw__art_open(path, akey, &svc->art, err, errlen);
  memset(akey, 0, sizeof akey);
  if (rc) goto fail;
  snprintf(path, sizeof path, "%s/tensor-wasm.db", cfg->data_dir);
  rc = tw__db_open(path, &svc->db, err, errlen);
  if (rc) goto fail;
  rc = open_audit(svc, err, errlen);
  if (rc) goto fail;
  rc = svc_tokens_bootstrap(svc);
  if (rc) {
    tw__err(rc, err, errlen, "cannot read the bootstrap tokens (%s)",
            cfg->tokens_file[0] ? cfg->tokens_file : "environment");
    goto fail;
  }
  svc_gpu_open(svc); /* never fails: without a GPU, GPU calls get 503 */
  svc_functions_load(svc); /* failures are logged per function */
  rc = svc_jobs_start(svc);
  if (rc) {
    tw__err(rc, err, errlen, "cannot start the job workers");
    goto fail;
  }
  atomic_store(&svc->ready, true);
  *out = svc;
  return 0;

fail:
  tw__svc_close(svc);
  return rc;
}

bool tw__svc_close(struct tw__svc *svc) {
  if (!svc) return true;
  atomic_store(&svc->draining, true);
  if (!svc_jobs_stop(svc)) {
    /* A worker is still inside a guest past the drain bound: its job stays
     * "running" in the database (failed at the next start). Freeing what
     * it uses would be a use-after-free; the process is exiting, so leave
     * it all to the kernel and only make the database durable. */
    tw__log(TW_LOG_WARN, NULL, "shutdown: a job was still running at the "
                               "drain bound; it will be marked failed at "
                               "the next start");
    return false;
  }
  svc_functions_free(svc);
  svc_gpu_close(svc);
  svc_engines_free(svc);
  svc_tokens_free(svc);
  svc_tenants_free(svc);
  tw__db_close(svc->db);
  tw__art_close(svc->art);
  if (svc->audit_fd > 2) close(svc->audit_fd);
  memset(svc->pepper, 0, sizeof svc->pepper);
  tw__free(svc->workers);
  tw__free(svc);
  return true;
}
