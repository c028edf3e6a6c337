/* `tensor-wasm worker`: one tenant's GPU worker process. It initialises
 * CUDA (one primary context on its device), drops privileges it does not
 * need (rlimits, seccomp), says HELLO, and then serves requests from its
 * supervisor one at a time over the inherited SOCK_SEQPACKET socket:
 * compile (cached), instantiate with wasi:cuda (and WASI), call, reply.
 * Every instance gets its own stream and is released after its call. A
 * sticky device error poisons the context: the worker replies, then exits
 * so that the supervisor starts a fresh one. The worker serves the first
 * tenant it is assigned to and refuses any other for its whole life.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/hash.h"
#include "gpu/gpu_int.h"
#include "tw/wasi.h"

#define MODULE_CACHE 8

struct cached_module {
  uint8_t digest[TW_HASH_LEN];
  tw_module_t *module;
  uint64_t last_use;
};

struct worker {
  int sock;
  tw_engine_t *engine;
  tw_gpu_t *gpu;
  char tenant[72]; /* "" until ASSIGN */
  struct cached_module cache[MODULE_CACHE];
  uint64_t clock;
};

static void reply_init(struct tw__gpu_msg *r, const struct tw__gpu_msg *req) {
  memset(r, 0, sizeof *r);
  r->magic = TW__GPU_PROTO_MAGIC;
  r->version = TW__GPU_PROTO_VERSION;
  r->op = TW__GPU_OP_REPLY | (req ? req->op : 0);
  r->seq = req ? req->seq : 0;
  r->pid = (int32_t)getpid();
}

static int get_module(struct worker *w, const uint8_t *bytes, size_t len,
                      tw_module_t **out, char *err, size_t errlen) {
  uint8_t d[TW_HASH_LEN];
  tw__blake3(bytes, len, d);
  struct cached_module *slot = &w->cache[0];
  for (int i = 0; i < MODULE_CACHE; i++) {
    struct cached_module *c = &w->cache[i];
    if (c->module && memcmp(c->digest, d, sizeof d) == 0) {
      c->last_use = ++w->clock;
      *out = c->module;
      return 0;
    }
    if (!c->module || (slot->module && c->last_use < slot->last_use))
      slot = c;
  }
  tw_module_t *m;
  int rc = tw_module_new(w->engine, bytes, len, &m, err, errlen);
  if (rc) return rc;
  if (slot->module) tw_module_free(slot->module);
  slot->module = m;
  memcpy(slot->digest, d, sizeof d);
  slot->last_use = ++w->clock;
  *out = m;
  return 0;
}

/* Runs one INVOKE or RUN request; fills the reply and, for RUN, the
 * output body fd. */
static void serve_call(struct worker *w, const struct tw__gpu_msg *q,
                       const uint8_t *body, size_t body_len,
                       struct tw__gpu_msg *r, int *out_fd) {
  char err[512] = "";
  tw_module_t *module = NULL;
  tw_store_t *store = NULL;
  tw_linker_t *linker = NULL;
  tw_instance_t *inst = NULL;
  tw_wasi_t *wasi = NULL;
  int rc;
  uint64_t need = q->module_len + q->name_len + q->stdin_len + q->argv_len;
  if (need < q->module_len || need > body_len || q->nvals > TW_GPU_MAX_RESULTS ||
      q->argc > 4096) {
    r->status = TW_EINVAL;
    snprintf(r->message, sizeof r->message, "malformed request");
    return;
  }
  const uint8_t *mod_bytes = body;
  const char *name = (const char *)body + q->module_len;
  const uint8_t *stdin_data = (const uint8_t *)name + q->name_len;
  const char *argv_blob = (const char *)stdin_data + q->stdin_len;

  rc = get_module(w, mod_bytes, q->module_len, &module, err, sizeof err);
  if (rc) goto done;
  if ((rc = tw_store_new(w->engine, &store)) != 0 ||
      (rc = tw_linker_new(w->engine, &linker)) != 0 ||
      (rc = tw_linker_define_cuda(linker, w->gpu)) != 0)
    goto done;

  if (q->op == TW__GPU_OP_RUN) {
    /* argv strings: NUL-separated, argc of them. */
    const char *args[64];
    size_t argc = 0;
    for (size_t at = 0; at < q->argv_len && argc < 64;) {
      const char *s = argv_blob + at;
      size_t n = strnlen(s, q->argv_len - at);
      if (n == q->argv_len - at) break; /* unterminated */
      args[argc++] = s;
      at += n + 1;
    }
    tw_wasi_config_t wc;
    memset(&wc, 0, sizeof wc);
    wc.argv = args;
    wc.argc = argc;
    wc.stdin_.mode = TW_WASI_STDIO_BUFFER;
    wc.stdin_.data = stdin_data;
    wc.stdin_.len = q->stdin_len;
    wc.stdout_.mode = TW_WASI_STDIO_BUFFER;
    wc.stderr_.mode = TW_WASI_STDIO_BUFFER;
    if ((rc = tw_wasi_new(&wc, &wasi, err, sizeof err)) != 0 ||
        (rc = tw_linker_define_wasi(linker, wasi)) != 0)
      goto done;
  }
  rc = tw_instance_new(store, module, linker, &inst, err, sizeof err);
  if (rc) goto done;
  if (q->op == TW__GPU_OP_RUN) {
    int32_t code = 0;
    rc = tw_wasi_run_start(inst, &code, err, sizeof err);
    r->exit_code = code;
    const uint8_t *o = NULL, *e = NULL;
    size_t ol = 0, el = 0;
    tw_wasi_output(wasi, 1, &o, &ol);
    tw_wasi_output(wasi, 2, &e, &el);
    const void *parts[2] = {o, e};
    size_t lens[2] = {ol, el};
    int fd = tw__gpu_memfd_from(parts, lens, 2);
    if (fd >= 0) {
      *out_fd = fd;
      r->out_len = ol;
      r->err_len = el;
    }
  } else {
    rc = tw_instance_initialize(inst, err, sizeof err);
    if (rc) goto done;
    tw_functype_t ft;
    rc = tw_module_export_functype_n(module, name, q->name_len, &ft);
    if (rc) {
      snprintf(err, sizeof err, "no exported function '%.*s'",
               (int)(q->name_len > 100 ? 100 : q->name_len), name);
      goto done;
    }
    if (ft.nparams != q->nvals || ft.nresults > TW_GPU_MAX_RESULTS) {
      rc = TW_ETYPE;
      snprintf(err, sizeof err, "export takes %u arguments, %u given",
               ft.nparams, q->nvals);
      goto done;
    }
    tw_val_t args[TW_GPU_MAX_RESULTS], res[TW_GPU_MAX_RESULTS];
    for (uint32_t i = 0; i < q->nvals; i++) {
      memset(&args[i], 0, sizeof args[i]);
      args[i].type = ft.params[i];
      if (q->val_types[i] != ft.params[i]) {
        rc = TW_ETYPE;
        snprintf(err, sizeof err, "argument %u: expected %s, got %s", i,
                 tw_valtype_name(ft.params[i]),
                 tw_valtype_name(q->val_types[i]));
        goto done;
      }
      if (ft.params[i] == TW_I32 || ft.params[i] == TW_F32)
        args[i].of.i32 = (uint32_t)q->vals[i];
      else
        args[i].of.i64 = q->vals[i];
    }
    rc = tw_instance_call_n(inst, name, q->name_len, args, q->nvals, res,
                            ft.nresults, err, sizeof err);
    if (!rc) {
      r->nvals = ft.nresults;
      for (uint32_t i = 0; i < ft.nresults; i++) {
        r->val_types[i] = res[i].type;
        r->vals[i] = res[i].type == TW_I32 || res[i].type == TW_F32
                         ? res[i].of.i32
                         : res[i].of.i64;
      }
    }
  }
  if (rc == TW_ETRAP || rc == TW_EEXIT) {
    tw_trap_info_t t;
    tw_store_last_trap(store, &t);
    if (rc == TW_EEXIT || t.kind == TW_TRAP_EXIT) r->exit_code = t.exit_code;
    if (rc == TW_ETRAP)
      snprintf(err, sizeof err, "trap: %s",
               t.message[0] ? t.message : tw_trap_message(t.kind));
  }

done:
  r->status = rc;
  if (rc)
    snprintf(r->message, sizeof r->message, "%s",
             err[0] ? err : tw_strerror(rc));
  /* Unpin and free the instance's GPU state while its memory is mapped. */
  if (inst) tw_gpu_instance_release(w->gpu, inst);
  if (linker) tw_linker_free(linker);
  if (store) tw_store_free(store);
  if (wasi) tw_wasi_free(wasi);
}

/* Reports what the sandbox lets through, for tests: exit_code = errno of
 * socket(AF_INET) (0 if it was allowed). */
static void serve_probe(struct tw__gpu_msg *r) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  r->exit_code = s < 0 ? errno : 0;
  if (s >= 0) close(s);
}

int tw_gpu_worker_main(int sock, int device, tw_gpu_backend_t backend) {
  struct worker w;
  memset(&w, 0, sizeof w);
  w.sock = sock;
  prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the supervisor */
  if (getppid() == 1) return 3;
  tw__gpu_worker_rlimits();
  signal(SIGPIPE, SIG_IGN);

  struct tw__gpu_msg hello;
  reply_init(&hello, NULL);
  hello.op = TW__GPU_OP_HELLO;
  hello.device = device;
  tw_gpu_config_t gc;
  tw_gpu_config_default(&gc);
  gc.backend = backend;
  gc.device = device;
  tw_engine_config_t ec;
  tw_engine_config_default(&ec);
  /* No tier 1 in a worker: it would run the system compiler (execve is
   * not allowed here) and the kernels are the hot code anyway. */
  ec.tier = TW_TIER_0;
  ec.cache_dir = NULL;
  int rc = tw_gpu_open(&gc, &w.gpu, hello.message, sizeof hello.message);
  if (!rc) rc = tw_engine_new(&ec, &w.engine);
  const char *nosec = getenv("TW_WORKER_NO_SECCOMP");
  if (!rc && !(nosec && nosec[0] == '1')) {
    int src = tw__gpu_seccomp_install();
    if (src) {
      rc = TW_EUNSUPPORTED;
      snprintf(hello.message, sizeof hello.message,
               "cannot install the seccomp filter: %s", strerror(-src));
    }
  }
  hello.status = rc;
  if (!rc) tw_gpu_get_stats(w.gpu, &hello.stats);
  if (tw__gpu_msg_send(sock, &hello, -1) != 0 || rc) goto out;

  for (;;) {
    struct tw__gpu_msg q, r;
    int fd = -1;
    int e = tw__gpu_msg_recv(sock, &q, &fd, 0);
    if (e == -EPIPE) break;
    if (e) {
      if (e == -EPROTO) continue;
      break;
    }
    reply_init(&r, &q);
    int out_fd = -1;
    bool call = false;
    uint64_t refusals = 0;
    switch (q.op) {
    case TW__GPU_OP_ASSIGN:
      q.tenant[sizeof q.tenant - 1] = '\0';
      if (w.tenant[0] && strcmp(w.tenant, q.tenant) != 0) {
        r.status = TW_EEXISTS;
        snprintf(r.message, sizeof r.message,
                 "this worker serves tenant '%s' for life", w.tenant);
      } else if (!q.tenant[0]) {
        r.status = TW_EINVAL;
        snprintf(r.message, sizeof r.message, "empty tenant");
      } else {
        snprintf(w.tenant, sizeof w.tenant, "%s", q.tenant);
        pthread_mutex_lock(&w.gpu->mu);
        if (q.quota) w.gpu->cfg.memory_quota = w.gpu->st.memory_quota = q.quota;
        if (q.max_inflight)
          w.gpu->cfg.max_inflight = w.gpu->st.permits_max = q.max_inflight;
        pthread_mutex_unlock(&w.gpu->mu);
      }
      break;
    case TW__GPU_OP_INVOKE:
    case TW__GPU_OP_RUN: {
      if (!w.tenant[0]) {
        r.status = TW_EINVAL;
        snprintf(r.message, sizeof r.message, "worker not assigned");
        break;
      }
      const uint8_t *body = NULL;
      size_t blen = 0;
      if (fd < 0 || tw__gpu_memfd_map(fd, 0, &body, &blen) != 0) {
        r.status = TW_EINVAL;
        snprintf(r.message, sizeof r.message, "request without a body");
        break;
      }
      tw_gpu_stats_t before;
      tw_gpu_get_stats(w.gpu, &before);
      refusals = before.quota_refusals;
      call = true;
      serve_call(&w, &q, body, blen, &r, &out_fd);
      if (body) munmap((void *)body, blen);
      break;
    }
    case TW__GPU_OP_STATS:
      break;
    case TW__GPU_OP_PROBE:
      serve_probe(&r);
      break;
    default:
      r.status = TW_EINVAL;
      snprintf(r.message, sizeof r.message, "unknown op %u", q.op);
    }
    if (fd >= 0) close(fd);
    tw_gpu_get_stats(w.gpu, &r.stats);
    /* Say why, also when the guest carried on after the error code. */
    pthread_mutex_lock(&w.gpu->mu);
    if (r.stats.poisoned) {
      r.flags |= 1;
      if (!r.status && !r.message[0])
        snprintf(r.message, sizeof r.message, "%s", w.gpu->poison_msg);
    }
    if (call && r.stats.quota_refusals > refusals) {
      r.flags |= 2;
      if (!r.status && !r.message[0])
        snprintf(r.message, sizeof r.message, "%s", w.gpu->refusal_msg);
    }
    pthread_mutex_unlock(&w.gpu->mu);
    snprintf(r.tenant, sizeof r.tenant, "%s", w.tenant);
    int se = tw__gpu_msg_send(sock, &r, out_fd);
    if (out_fd >= 0) close(out_fd);
    if (se || (r.flags & 1)) break;
  }
out:
  for (int i = 0; i < MODULE_CACHE; i++)
    if (w.cache[i].module) tw_module_free(w.cache[i].module);
  /* A poisoned context may hang on teardown: leave it to process exit. */
  bool poisoned = w.gpu && tw_gpu_poisoned(w.gpu);
  if (w.gpu && !poisoned) tw_gpu_close(w.gpu);
  if (w.engine) tw_engine_free(w.engine);
  return rc ? 3 : poisoned ? 4 : 0;
}
