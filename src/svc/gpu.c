/* Functions whose module imports wasi:cuda. They never run in the
 * server's own process (CUDA does not isolate contexts inside one
 * process: docs/GPU.md) but in the tenant's GPU worker, through the one
 * supervisor this file owns. Here: the config file's "gpu" section, the
 * supervisor's life, invocations in both modes (sync and as jobs: both
 * come through tw__svc_invoke) with their failures turned into replies,
 * and the GPU metrics.
 *
 * Replies beyond those of local functions:
 *   503 gpu_unavailable    no GPU on this host (or GPU support turned off,
 *                          or every worker slot taken: Retry-After);
 *                          deploying such a module is still allowed
 *   502 gpu_worker_failed  the tenant's worker died, was killed, could not
 *                          start, or lost its context to a faulting
 *                          kernel; its next call starts a new worker
 *   403 gpu_quota_exceeded an allocation of the call was refused by the
 *                          tenant's GPU memory quota (or the device was
 *                          out of memory), whatever the guest then did
 *                          with the error code: retrying the same call
 *                          cannot help (one call runs at a time in a
 *                          tenant's worker, so nothing else held it)
 */
#include "svc/svc_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec/codec.h"

/* ---- Configuration ---- */

void svc_gpu_config_default(struct tw__svc_gpu_config *g) {
  memset(g, 0, sizeof *g);
  g->enabled = true;
  g->spares_per_device = 0;
  g->tenant_memory_quota = 4ull << 30;
  g->max_inflight = 64;
  g->max_workers = 256;
}

/* An integer in [lo, hi], or false. */
static bool int_in(json_t *v, json_int_t lo, json_int_t hi, json_int_t *out) {
  if (!json_is_integer(v)) return false;
  json_int_t x = json_integer_value(v);
  if (x < lo || x > hi) return false;
  *out = x;
  return true;
}

int svc_gpu_config_json(struct tw__svc_gpu_config *g, struct json_t *obj,
                        const char *path, char *err, size_t errlen) {
  if (!json_is_object(obj))
    return tw__err(TW_EINVAL, err, errlen,
                   "%s: \"gpu\" must be an object", path);
  const char *key;
  json_t *v;
  json_object_foreach(obj, key, v) {
    json_int_t x = 0;
    if (strcmp(key, "enabled") == 0 && json_is_boolean(v)) {
      g->enabled = json_is_true(v);
    } else if (strcmp(key, "no_seccomp") == 0 && json_is_boolean(v)) {
      g->no_seccomp = json_is_true(v);
    } else if (strcmp(key, "spares_per_device") == 0 &&
               int_in(v, 0, 64, &x)) {
      g->spares_per_device = (uint32_t)x;
    } else if (strcmp(key, "tenant_memory_quota") == 0 &&
               int_in(v, 1, INT64_MAX, &x)) {
      g->tenant_memory_quota = (uint64_t)x;
    } else if (strcmp(key, "max_inflight") == 0 &&
               int_in(v, 1, 1 << 20, &x)) {
      g->max_inflight = (uint32_t)x;
    } else if (strcmp(key, "max_workers") == 0 &&
               int_in(v, 1, 1 << 16, &x)) {
      g->max_workers = (uint32_t)x;
    } else if (strcmp(key, "pins") == 0 && json_is_object(v)) {
      const char *tenant;
      json_t *d;
      g->npins = 0;
      json_object_foreach(v, tenant, d) {
        if (!tw__svc_valid_name(tenant, strlen(tenant)) ||
            !int_in(d, 0, TW_GPU_MAX_DEVICES - 1, &x))
          return tw__err(TW_EINVAL, err, errlen,
                         "%s: gpu.pins: expected {\"TENANT\": DEVICE} with "
                         "devices 0 to %d",
                         path, TW_GPU_MAX_DEVICES - 1);
        if (g->npins == TW_SVC_GPU_MAX_PINS)
          return tw__err(TW_EINVAL, err, errlen,
                         "%s: gpu.pins: at most %d tenants", path,
                         TW_SVC_GPU_MAX_PINS);
        snprintf(g->pins[g->npins].tenant, sizeof g->pins[0].tenant, "%s",
                 tenant);
        g->pins[g->npins].device = (int)x;
        g->npins++;
      }
    } else if (strcmp(key, "enabled") == 0 || strcmp(key, "no_seccomp") == 0 ||
               strcmp(key, "spares_per_device") == 0 ||
               strcmp(key, "tenant_memory_quota") == 0 ||
               strcmp(key, "max_inflight") == 0 ||
               strcmp(key, "max_workers") == 0 || strcmp(key, "pins") == 0) {
      return tw__err(TW_EINVAL, err, errlen, "%s: bad value for 'gpu.%s'",
                     path, key);
    } else {
      return tw__err(TW_EINVAL, err, errlen, "%s: unknown key 'gpu.%s'",
                     path, key);
    }
  }
  return 0;
}

/* ---- The supervisor ---- */

void svc_gpu_open(struct tw__svc *svc) {
  const struct tw__svc_gpu_config *g = &svc->cfg.gpu;
  svc->gpu_sup = NULL;
  if (!g->enabled) {
    snprintf(svc->gpu_why, sizeof svc->gpu_why,
             "GPU support is turned off in this server's configuration");
    return;
  }
  tw_gpu_supervisor_config_t sc;
  tw_gpu_supervisor_config_default(&sc);
  sc.spares_per_device = g->spares_per_device;
  sc.tenant_memory_quota = g->tenant_memory_quota;
  sc.max_inflight = g->max_inflight;
  sc.max_workers = g->max_workers;
  sc.no_seccomp = g->no_seccomp;
  tw_gpu_pin_t pins[TW_SVC_GPU_MAX_PINS];
  for (uint32_t i = 0; i < g->npins && i < TW_SVC_GPU_MAX_PINS; i++) {
    pins[i].tenant = g->pins[i].tenant;
    pins[i].device = g->pins[i].device;
  }
  sc.pins = pins;
  sc.npins = g->npins;
  char err[256] = "";
  int rc = tw_gpu_supervisor_new(&sc, &svc->gpu_sup, err, sizeof err);
  if (rc) {
    svc->gpu_sup = NULL;
    snprintf(svc->gpu_why, sizeof svc->gpu_why, "%s",
             err[0] ? err : tw_strerror(rc));
    tw__log(TW_LOG_INFO, NULL,
            "GPU: off (%s); functions that import wasi:cuda answer 503",
            svc->gpu_why);
    return;
  }
  tw__log(TW_LOG_INFO, NULL,
          "GPU: on; one worker process per tenant and device, %u spare(s) "
          "per device, %llu bytes of GPU memory per tenant",
          g->spares_per_device, (unsigned long long)g->tenant_memory_quota);
}

void svc_gpu_close(struct tw__svc *svc) {
  tw_gpu_supervisor_free(svc->gpu_sup);
  svc->gpu_sup = NULL;
}

int svc_gpu_fn_init(struct svc_fn *fn, const uint8_t *wasm, size_t len,
                    struct tw__status *st) {
  fn->wasm = tw__malloc(len ? len : 1);
  if (!fn->wasm) {
    svc_status(st, 503, "unavailable", "out of memory");
    return -1;
  }
  memcpy(fn->wasm, wasm, len);
  fn->wasm_len = len;
  fn->gpu = true;
  return 0;
}

/* ---- Invocations ---- */


static enum svc_outcome rejected(struct svc_fn *fn, struct tw__reply *out) {
  tw__reply_error(out, 429, "quota_exceeded",
                  "tenant '%s' is at its concurrent instance or memory quota",
                  fn->rec.tenant);
  out->retry_after = 1;
  return OUT_REJECTED;
}

/* Runs the request in the tenant's worker; the reply for a call that did
 * not go well (returning true with *o set), or false when it did. */
static bool run(struct tw__svc *svc, struct svc_fn *fn,
                tw_gpu_request_t *req, tw_gpu_result_t *res,
                struct tw__reply *out, enum svc_outcome *o) {
  const char *t = fn->rec.tenant;
  req->tenant = t;
  req->module = fn->wasm;
  req->module_len = fn->wasm_len;
  req->timeout_ms = fn->rec.deadline_ms;
  req->device = -1;
  atomic_fetch_add(&svc->running, 1);
  atomic_fetch_add(&fn->busy, 1);
  uint64_t t0 = tw__now_ns();
  int rc = tw_gpu_supervisor_invoke(svc->gpu_sup, req, res);
  uint64_t ms = (tw__now_ns() - t0) / 1000000;
  atomic_fetch_sub(&fn->busy, 1);
  atomic_fetch_sub(&svc->running, 1);
  const char *msg = res->message[0] ? res->message : tw_strerror(rc);

  if (rc != 0) {
    if (res->worker_crashed && req->timeout_ms && ms >= req->timeout_ms) {
      tw__reply_error(out, 422, "deadline_exceeded",
                      "call: deadline exceeded (%u ms): %s", req->timeout_ms,
                      msg);
      *o = OUT_DEADLINE;
    } else if (rc == TW_ELIMIT) {
      tw__reply_error(out, 503, "gpu_unavailable",
                      "no GPU worker can be started now: %s", msg);
      out->retry_after = 1;
      *o = OUT_REJECTED;
    } else if (rc == TW_EINVAL || rc == TW_ETYPE) {
      tw__reply_error(out, 400, "bad_request", "%s", msg);
      *o = OUT_BAD_REQUEST;
    } else {
      /* Died or killed during the call, or could not start. */
      tw__reply_error(out, 502, "gpu_worker_failed", "%s", msg);
      *o = OUT_ERROR;
    }
    return true;
  }
  if (res->worker_crashed) {
    /* The call went through, but a kernel faulted: the context is lost
     * and the worker has exited; what the guest returned is moot. */
    tw__reply_error(out, 502, "gpu_worker_failed",
                    "a GPU kernel of tenant '%s' faulted (%s); the tenant's "
                    "GPU worker lost its context and restarts on the next "
                    "call",
                    t, res->message[0] ? res->message : "context lost");
    *o = OUT_TRAP;
    return true;
  }
  if (res->quota_exceeded) {
    tw__reply_error(out, 403, "gpu_quota_exceeded",
                    "tenant '%s' is over its GPU memory quota: %s", t,
                    res->message[0] ? res->message
                                    : "GPU memory quota exceeded");
    *o = OUT_REJECTED;
    return true;
  }
  if (res->status == TW_EEXIT) {
    tw__reply_error(out, 422, "exit", "call: the guest exited with code %d",
                    (int)res->exit_code);
    out->exit_code = res->exit_code;
    *o = OUT_EXIT;
    return true;
  }
  if (res->status == TW_ETYPE) {
    tw__reply_error(out, 400, "bad_request", "%s", res->message);
    *o = OUT_BAD_REQUEST;
    return true;
  }
  if (res->status != 0) {
    tw__reply_error(out, 422, "trap", "call: %s",
                    res->message[0] ? res->message
                                    : tw_strerror(res->status));
    *o = OUT_TRAP;
    return true;
  }
  return false;
}

static bool number_type(uint8_t t) {
  return t == TW_I32 || t == TW_I64 || t == TW_F32 || t == TW_F64;
}

/* {"export": NAME, "args": [...]} -> the export's typed results. */
static enum svc_outcome gpu_typed(struct tw__svc *svc, struct svc_fn *fn,
                                  const uint8_t *body, size_t len,
                                  struct tw__reply *out) {
  json_error_t jerr;
  enum svc_outcome o = OUT_BAD_REQUEST;
  json_t *root = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES,
                            &jerr);
  if (!root) {
    tw__reply_error(out, 400, "bad_request",
                    "invalid JSON at line %d, column %d: %s", jerr.line,
                    jerr.column, jerr.text);
    return o;
  }
  json_t *e = json_object_get(root, "export");
  json_t *args = json_object_get(root, "args");
  if (!json_is_object(root) || !json_is_string(e) ||
      json_object_size(root) != (args ? 2u : 1u) ||
      (args && !json_is_array(args))) {
    tw__reply_error(out, 400, "bad_request",
                    "expected a JSON object {\"export\": NAME, \"args\": "
                    "[...]}");
    goto done;
  }
  const char *ename = json_string_value(e);
  size_t elen = json_string_length(e);
  tw_functype_t ft;
  if (memchr(ename, 0, elen) ||
      tw_module_export_functype_n(fn->module, ename, elen, &ft) != 0) {
    tw__reply_error(out, 404, "unknown_export",
                    "function '%s' exports no function by that name",
                    fn->rec.name);
    goto done;
  }
  bool numbers = ft.nparams <= TW_GPU_MAX_RESULTS &&
                 ft.nresults <= TW_GPU_MAX_RESULTS;
  for (uint32_t i = 0; numbers && i < ft.nparams; i++)
    numbers = number_type(ft.params[i]);
  for (uint32_t i = 0; numbers && i < ft.nresults; i++)
    numbers = number_type(ft.results[i]);
  if (!numbers) {
    tw__reply_error(out, 400, "bad_request",
                    "exports of wasi:cuda functions take and return at most "
                    "%d numbers (i32, i64, f32, f64)",
                    TW_GPU_MAX_RESULTS);
    goto done;
  }
  tw_val_t argv[TW_GPU_MAX_RESULTS];
  char err[512] = "";
  json_t *empty = NULL;
  if (!args) args = empty = json_array();
  int rc = tw__codec_args_from_value(args, &ft, argv, err, sizeof err);
  json_decref(empty);
  if (rc) {
    tw__reply_error(out, 400, "bad_request", "%s", err);
    goto done;
  }
  if (!svc_quota_take(fn)) {
    o = rejected(fn, out);
    goto done;
  }
  tw_gpu_request_t req;
  tw_gpu_result_t res;
  memset(&req, 0, sizeof req);
  req.export_name = ename;
  req.args = argv;
  req.nargs = ft.nparams;
  if (!run(svc, fn, &req, &res, out, &o))
    o = svc_reply_results(res.results, res.nresults, out);
  tw_gpu_result_free(&res);
  svc_quota_give(fn);
done:
  json_decref(root);
  return o;
}

/* The body is the WASI command's stdin; its stdout is the reply. */
static enum svc_outcome gpu_handler(struct tw__svc *svc, struct svc_fn *fn,
                                    const uint8_t *body, size_t len,
                                    struct tw__reply *out) {
  if (!svc_quota_take(fn)) return rejected(fn, out);
  enum svc_outcome o = OUT_ERROR;
  const char *argv[] = {fn->rec.name};
  tw_gpu_request_t req;
  tw_gpu_result_t res;
  memset(&req, 0, sizeof req);
  req.stdin_data = body;
  req.stdin_len = len;
  req.argv = argv;
  req.argc = 1;
  if (!run(svc, fn, &req, &res, out, &o)) {
    int32_t code = res.exit_code;
    if (code == 0 || (code >= 200 && code <= 599)) {
      /* As a local handler's buffer: output past the limit is dropped. */
      size_t n = res.stdout_len;
      if (n > svc->cfg.output_limit) n = (size_t)svc->cfg.output_limit;
      char *b = malloc(n ? n : 1);
      if (b) {
        if (n) memcpy(b, res.stdout_data, n);
        free(out->body);
        out->status = code == 0 ? 200 : code;
        out->content_type = "application/octet-stream";
        out->body = b;
        out->len = n;
        out->exit_code = code;
        o = code == 0 ? OUT_SUCCESS : OUT_EXIT;
      } else {
        tw__reply_error(out, 503, "unavailable", "out of memory");
        o = OUT_ERROR;
      }
    } else {
      tw__reply_error(out, 422, "exit", "the handler exited with code %d",
                      (int)code);
      out->exit_code = code;
      o = OUT_EXIT;
    }
  }
  tw_gpu_result_free(&res);
  svc_quota_give(fn);
  return o;
}

enum svc_outcome svc_gpu_invoke(struct tw__svc *svc, struct svc_fn *fn,
                                const uint8_t *body, size_t len,
                                struct tw__reply *out) {
  if (!svc->gpu_sup) {
    tw__reply_error(out, 503, "gpu_unavailable",
                    "function '%s' imports wasi:cuda and cannot run on this "
                    "server: %s",
                    fn->rec.name, svc->gpu_why);
    return OUT_REJECTED;
  }
  return fn->mode == FN_HANDLER ? gpu_handler(svc, fn, body, len, out)
                                : gpu_typed(svc, fn, body, len, out);
}

/* ---- Metrics ---- */

void svc_gpu_metrics(struct tw__svc *svc, struct tw__buf *b) {
  tw__buf_printf(b,
                 "# HELP tensor_wasm_gpu_available Whether this server runs "
                 "functions that import wasi:cuda (a GPU, or the mock "
                 "backend).\n"
                 "# TYPE tensor_wasm_gpu_available gauge\n"
                 "tensor_wasm_gpu_available %d\n",
                 svc->gpu_sup ? 1 : 0);
  if (!svc->gpu_sup) return;
  size_t cap = 16384;
  for (int tries = 0; tries < 4; tries++) {
    char *m = malloc(cap);
    if (!m) return;
    size_t need = tw_gpu_supervisor_metrics(svc->gpu_sup, m, cap);
    if (need < cap) {
      tw__buf_append(b, m, need);
      free(m);
      return;
    }
    free(m);
    cap = need + 4096; /* workers may come and go between the calls */
  }
}
