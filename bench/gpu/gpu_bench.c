/* The device-side checks and benchmarks of issue 6, driven by
 * bench/gpu/device-run.sh. Each subcommand prints key=value lines (and
 * "CHECK name PASS|FAIL detail" lines); TW_GPU_MOCK=1 runs everything on
 * the mock backend.
 *
 *   gpu_bench examples  DIR   vector_add, SGEMM, zero-copy guests:
 *                             in-process and through a worker
 *   gpu_bench bench     DIR   dispatch p50/p99, issue rate, zero-copy vs
 *                             buffer bandwidth, SGEMM (in-process guest)
 *   gpu_bench isolation DIR   two tenants' workers: quota, faults, reads
 *   gpu_bench coldstart DIR   first request -> first kernel result,
 *                             with and without a pre-warmed spare
 * DIR holds the guests (*.wasm). The worker binary is $TW_WORKER_BIN.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "gpu/gpu_int.h"
#include "tw/gpu.h"

static const char *dir;
static int failures;

static void check(const char *name, int ok, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void check(const char *name, int ok, const char *fmt, ...) {
  char d[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d, sizeof d, fmt, ap);
  va_end(ap);
  printf("CHECK %s %s %s\n", name, ok ? "PASS" : "FAIL", d);
  fflush(stdout);
  if (!ok) failures++;
}

static uint8_t *load_guest(const char *name, size_t *len) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s.wasm", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "gpu_bench: cannot open %s\n", path);
    exit(2);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc((size_t)n);
  if (!p || fread(p, 1, (size_t)n, f) != (size_t)n) exit(2);
  fclose(f);
  *len = (size_t)n;
  return p;
}

static tw_val_t I32(uint32_t v) {
  tw_val_t x = {.type = TW_I32};
  x.of.i32 = v;
  return x;
}
static tw_val_t I64(uint64_t v) {
  tw_val_t x = {.type = TW_I64};
  x.of.i64 = v;
  return x;
}

/* ---- in-process guests ---- */

struct local {
  tw_engine_t *engine;
  tw_gpu_t *gpu;
  tw_module_t *module;
  tw_store_t *store;
  tw_linker_t *linker;
  tw_instance_t *inst;
};

static int h_now(tw_caller_t *c, void *u, const tw_val_t *a, tw_val_t *r) {
  r[0] = I64(tw__now_ns());
  return 0;
}

static void local_open(struct local *l, const char *guest) {
  memset(l, 0, sizeof *l);
  char err[1024];
  size_t len;
  uint8_t *bytes = load_guest(guest, &len);
  tw_engine_config_t ec;
  tw_engine_config_default(&ec);
  ec.tier = TW_TIER_0;
  ec.cache_dir = NULL;
  ec.max_memory_bytes = 1ull << 30;
  if (tw_engine_new(&ec, &l->engine) ||
      tw_module_new(l->engine, bytes, len, &l->module, err, sizeof err)) {
    fprintf(stderr, "gpu_bench: %s: %s\n", guest, err);
    exit(2);
  }
  free(bytes);
  tw_gpu_config_t gc;
  tw_gpu_config_default(&gc);
  gc.memory_quota = 16ull << 30;
  if (tw_gpu_open(&gc, &l->gpu, err, sizeof err)) {
    fprintf(stderr, "gpu_bench: %s\n", err);
    exit(2);
  }
  static const uint8_t res64[] = {TW_I64};
  tw_functype_t now_t = {0, 1, NULL, res64};
  tw_store_new(l->engine, &l->store);
  tw_linker_new(l->engine, &l->linker);
  tw_linker_define_cuda(l->linker, l->gpu);
  tw_linker_define_func(l->linker, "tw:bench", "now_ns", &now_t, h_now, NULL);
  if (tw_instance_new(l->store, l->module, l->linker, &l->inst, err,
                      sizeof err) ||
      tw_instance_initialize(l->inst, err, sizeof err)) {
    fprintf(stderr, "gpu_bench: %s: %s\n", guest, err);
    exit(2);
  }
}

static void local_close(struct local *l) {
  tw_gpu_close(l->gpu); /* unpins before the store unmaps the memory */
  tw_linker_free(l->linker);
  tw_store_free(l->store);
  tw_module_free(l->module);
  tw_engine_free(l->engine);
}

static int64_t lcall(struct local *l, const char *name, tw_val_t *args,
                     size_t n) {
  tw_val_t r[1];
  char err[512];
  tw_functype_t ft;
  if (tw_module_export_functype(l->module, name, &ft)) return -1000;
  if (tw_instance_call(l->inst, name, args, n, r, 1, err, sizeof err)) {
    fprintf(stderr, "gpu_bench: %s: %s\n", name, err);
    return -1001;
  }
  return ft.results[0] == TW_I64 ? (int64_t)r[0].of.i64
                                 : (int64_t)(int32_t)r[0].of.i32;
}

static const char *lerr(struct local *l) {
  static char buf[1100];
  uint8_t *mem;
  uint64_t size;
  int64_t p = lcall(l, "last_error", NULL, 0);
  if (p <= 0 || tw_instance_memory(l->inst, NULL, &mem, &size) ||
      (uint64_t)p >= size)
    return "";
  snprintf(buf, sizeof buf, "%s", (const char *)mem + p);
  return buf;
}

/* ---- workers ---- */

static tw_gpu_supervisor_t *sup_new(uint32_t spares, uint64_t quota) {
  tw_gpu_supervisor_config_t c;
  tw_gpu_supervisor_config_default(&c);
  c.spares_per_device = spares;
  if (quota) c.tenant_memory_quota = quota;
  c.call_timeout_ms = 60000;
  tw_gpu_supervisor_t *s;
  char err[512];
  if (tw_gpu_supervisor_new(&c, &s, err, sizeof err)) {
    fprintf(stderr, "gpu_bench: supervisor: %s\n", err);
    exit(2);
  }
  return s;
}

struct wcall {
  tw_gpu_supervisor_t *sup;
  const char *tenant;
  const uint8_t *module;
  size_t len;
  const char *fn;
  tw_val_t args[4];
  size_t nargs;
  int rc;
  tw_gpu_result_t res;
  double ms;
};

static int64_t wresult(const struct wcall *c) {
  if (c->rc || c->res.status || c->res.nresults < 1) return INT64_MIN;
  return c->res.results[0].type == TW_I64
             ? (int64_t)c->res.results[0].of.i64
             : (int64_t)(int32_t)c->res.results[0].of.i32;
}

static void *wcall_run(void *p) {
  struct wcall *c = p;
  tw_gpu_request_t q;
  memset(&q, 0, sizeof q);
  q.tenant = c->tenant;
  q.module = c->module;
  q.module_len = c->len;
  q.export_name = c->fn;
  q.args = c->args;
  q.nargs = c->nargs;
  q.device = -1;
  uint64_t t0 = tw__now_ns();
  c->rc = tw_gpu_supervisor_invoke(c->sup, &q, &c->res);
  c->ms = (double)(tw__now_ns() - t0) / 1e6;
  return NULL;
}

static int64_t wcall(tw_gpu_supervisor_t *s, const char *tenant,
                     const uint8_t *m, size_t len, const char *fn, size_t n,
                     tw_val_t a0, tw_val_t a1, struct wcall *out) {
  struct wcall c = {.sup = s, .tenant = tenant, .module = m, .len = len,
                    .fn = fn, .nargs = n};
  c.args[0] = a0;
  c.args[1] = a1;
  wcall_run(&c);
  int64_t v = wresult(&c);
  if (out) *out = c;
  else tw_gpu_result_free(&c.res);
  return v;
}

/* ---- subcommands ---- */

static void cmd_examples(void) {
  struct local l;
  local_open(&l, "vector_add");
  tw_val_t a = I32(1u << 20);
  int64_t r = lcall(&l, "run", &a, 1);
  check("vector_add.inprocess", r == 0, "n=1048576 mismatches=%lld %s",
        (long long)r, r ? lerr(&l) : "");
  local_close(&l);

  local_open(&l, "sgemm");
  tw_val_t s[2] = {I32(512), I32(1)};
  r = lcall(&l, "run", s, 2);
  check("sgemm.inprocess", r >= 0 && r < 100,
        "n=512 max_rel_err=%.2e (limit 1e-4) %s", (double)r / 1e6,
        r < 0 ? lerr(&l) : "");
  local_close(&l);

  local_open(&l, "zero_copy");
  a = I32(1u << 20);
  r = lcall(&l, "run", &a, 1);
  tw_gpu_stats_t st;
  tw_gpu_get_stats(l.gpu, &st);
  check("zero_copy.inprocess", r == 0,
        "mismatches=%lld registrations=%llu (grown memory: 2 ranges) %s",
        (long long)r, (unsigned long long)st.registrations,
        r ? lerr(&l) : "");
  local_close(&l);

  tw_gpu_supervisor_t *sup = sup_new(0, 0);
  const char *g[3] = {"vector_add", "sgemm", "zero_copy"};
  for (int i = 0; i < 3; i++) {
    size_t len;
    uint8_t *m = load_guest(g[i], &len);
    struct wcall c;
    int64_t v = i == 1 ? wcall(sup, "examples", m, len, "run", 2, I32(256),
                               I32(1), &c)
                       : wcall(sup, "examples", m, len, "run", 1,
                               I32(1u << 18), I32(0), &c);
    char name[64];
    snprintf(name, sizeof name, "%s.worker", g[i]);
    check(name, i == 1 ? (v >= 0 && v < 100) : v == 0, "result=%lld %s",
          (long long)v, c.rc || c.res.status ? c.res.message : "");
    tw_gpu_result_free(&c.res);
    free(m);
  }
  tw_gpu_supervisor_free(sup);
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void cmd_bench(unsigned iters, unsigned sgemm_n, unsigned reps) {
  struct local l;
  local_open(&l, "bench_guest");
  tw_val_t a = I32(200);
  lcall(&l, "dispatch", &a, 1); /* warm-up */
  a = I32(iters);
  int64_t p = lcall(&l, "dispatch", &a, 1);
  uint8_t *mem;
  uint64_t size;
  tw_instance_memory(l.inst, NULL, &mem, &size);
  if (p > 0 && (uint64_t)p + iters * 4ull <= size) {
    uint32_t *t = malloc(iters * 4ull);
    memcpy(t, mem + p, iters * 4ull);
    qsort(t, iters, 4, cmp_u32);
    printf("guest.dispatch_p50_us=%.2f\n", t[iters / 2] / 1000.0);
    printf("guest.dispatch_p99_us=%.2f\n",
           t[(size_t)(0.99 * (iters - 1) + 0.5)] / 1000.0);
    free(t);
  } else {
    check("bench.dispatch", 0, "guest failed: %s", lerr(&l));
  }
  a = I32(iters);
  int64_t ns = lcall(&l, "issue", &a, 1);
  if (ns > 0)
    printf("guest.issue_rate_per_s=%.0f\n", iters / ((double)ns / 1e9));
  unsigned n = 4u << 20; /* 16 MiB of floats */
  for (int mode = 0; mode < 2; mode++) {
    tw_val_t b[3] = {I32(n), I32((uint32_t)mode), I32(20)};
    ns = lcall(&l, "bandwidth", b, 3);
    if (ns > 0)
      printf("guest.%s_gbps=%.1f\n", mode ? "buffer" : "zerocopy",
             2.0 * n * 4 * 20 / (double)ns);
    else
      check("bench.bandwidth", 0, "mode %d: %lld %s", mode, (long long)ns,
            lerr(&l));
  }
  tw_val_t s[2] = {I32(sgemm_n), I32(reps)};
  ns = lcall(&l, "sgemm", s, 2);
  if (ns > 0)
    printf("guest.sgemm_n=%u\nguest.sgemm_gflops=%.1f\n", sgemm_n,
           2.0 * sgemm_n * sgemm_n * (double)sgemm_n * reps / (double)ns);
  tw_gpu_stats_t st;
  tw_gpu_get_stats(l.gpu, &st);
  printf("guest.launches=%llu\nguest.pinned_bytes=%llu\n",
         (unsigned long long)st.launches, (unsigned long long)st.pinned_bytes);
  local_close(&l);
}

static void cmd_isolation(void) {
  size_t len, vlen;
  uint8_t *m = load_guest("isolation", &len);
  uint8_t *va = load_guest("vector_add", &vlen);
  tw_gpu_supervisor_t *sup = sup_new(0, 256ull << 20); /* 256 MiB each */
  const uint32_t secret = 0x5EC2E7u;
  int64_t addr = wcall(sup, "tenant-b", m, len, "leak", 1, I32(secret),
                       I32(0), NULL);
  check("isolation.b_leak", addr > 0, "B's buffer at 0x%llx",
        (unsigned long long)addr);
  int pid_b = tw_gpu_supervisor_worker_pid(sup, "tenant-b", 0);

  /* B holds its secret while A misbehaves. */
  struct wcall hold = {.sup = sup, .tenant = "tenant-b", .module = m,
                       .len = len, .fn = "hold", .nargs = 2};
  hold.args[0] = I32(secret);
  hold.args[1] = I32(100000);
  pthread_t th;
  pthread_create(&th, NULL, wcall_run, &hold);

  int64_t q = wcall(sup, "tenant-a", m, len, "hog", 1, I32(512), I32(0), NULL);
  check("isolation.a_over_quota", q == TW_CUDA_EQUOTA,
        "A allocating 512 MiB with a 256 MiB quota -> %lld", (long long)q);
  struct wcall c;
  int64_t rd = wcall(sup, "tenant-a", m, len, "wild_read", 1, I64((uint64_t)addr),
                     I32(0), &c);
  check("isolation.a_wild_read", rd != (int64_t)secret,
        "A read B's address: %s%llx (B's secret is %x)%s",
        rd < 0 ? "error " : "0x", (long long)rd, secret,
        c.res.worker_crashed ? "; A's worker faulted and restarts" : "");
  tw_gpu_result_free(&c.res);
  int64_t wr = wcall(sup, "tenant-a", m, len, "wild_write", 1,
                     I64((uint64_t)addr), I32(0), &c);
  printf("isolation.a_wild_write_b_addr=%lld (worker_crashed=%d; it hits "
         "A's own memory or faults A's worker)\n",
         (long long)wr, c.res.worker_crashed);
  tw_gpu_result_free(&c.res);
  int64_t wf = wcall(sup, "tenant-a", m, len, "wild_write", 1, I64(0x10),
                     I32(0), &c);
  check("isolation.a_fault", wf == TW_CUDA_ELOST && c.res.worker_crashed,
        "A's wild write to 0x10 -> %lld (-11 = context lost), worker "
        "restarted next call: %d",
        (long long)wf, c.res.worker_crashed);
  tw_gpu_result_free(&c.res);
  pthread_join(th, NULL);
  int64_t hb = wresult(&hold);
  check("isolation.b_intact", hb == 0 && !hold.res.worker_crashed,
        "B's secret after 100000 launches next to A's faults: %lld words "
        "changed (%.0f ms) %s",
        (long long)hb, hold.ms, hold.rc || hold.res.status ? hold.res.message : "");
  tw_gpu_result_free(&hold.res);
  check("isolation.b_same_worker",
        tw_gpu_supervisor_worker_pid(sup, "tenant-b", 0) == pid_b,
        "B's worker pid unchanged");
  int64_t v = wcall(sup, "tenant-b", va, vlen, "run", 1, I32(1u << 16),
                    I32(0), NULL);
  check("isolation.b_results", v == 0, "B vector_add mismatches=%lld",
        (long long)v);
  v = wcall(sup, "tenant-a", va, vlen, "run", 1, I32(1u << 16), I32(0), &c);
  check("isolation.a_recovers", v == 0,
        "A's next call (new worker=%d): mismatches=%lld", c.res.new_worker,
        (long long)v);
  tw_gpu_result_free(&c.res);
  char metrics[8192];
  tw_gpu_supervisor_metrics(sup, metrics, sizeof metrics);
  printf("--- metrics\n%s---\n", metrics);
  tw_gpu_supervisor_free(sup);
  free(m);
  free(va);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static void cmd_coldstart(void) {
  size_t len;
  uint8_t *m = load_guest("vector_add", &len);
  double cold[3], warm[3];
  for (int i = 0; i < 3; i++) {
    tw_gpu_supervisor_t *sup = sup_new(0, 0);
    struct wcall c;
    int64_t v = wcall(sup, "cold", m, len, "run", 1, I32(1024), I32(0), &c);
    cold[i] = c.ms;
    if (v != 0) check("coldstart.cold", 0, "%s", c.res.message);
    tw_gpu_result_free(&c.res);
    tw_gpu_supervisor_free(sup);

    sup = sup_new(1, 0);
    tw_gpu_supervisor_wait_spares(sup, 60000);
    v = wcall(sup, "warm", m, len, "run", 1, I32(1024), I32(0), &c);
    warm[i] = c.ms;
    if (v != 0 || !c.res.from_spare)
      check("coldstart.spare", 0, "v=%lld from_spare=%d %s", (long long)v,
            c.res.from_spare, c.res.message);
    tw_gpu_result_free(&c.res);
    tw_gpu_supervisor_free(sup);
  }
  qsort(cold, 3, sizeof cold[0], cmp_d);
  qsort(warm, 3, sizeof warm[0], cmp_d);
  printf("coldstart.no_spare_ms=%.1f\ncoldstart.spare_ms=%.1f\n", cold[1],
         warm[1]);
  free(m);
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: gpu_bench examples|bench|isolation|coldstart DIR "
                    "[iters sgemm_n reps]\n");
    return 2;
  }
  dir = argv[2];
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (strcmp(argv[1], "examples") == 0)
    cmd_examples();
  else if (strcmp(argv[1], "bench") == 0)
    cmd_bench(argc > 3 ? (unsigned)atoi(argv[3]) : 10000,
              argc > 4 ? (unsigned)atoi(argv[4]) : 1024,
              argc > 5 ? (unsigned)atoi(argv[5]) : 20);
  else if (strcmp(argv[1], "isolation") == 0)
    cmd_isolation();
  else if (strcmp(argv[1], "coldstart") == 0)
    cmd_coldstart();
  else
    return 2;
  return failures ? 1 : 0;
}
