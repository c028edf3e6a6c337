/* GPU worker processes on the mock backend, through the supervisor API:
 * invoke, a worker killed mid-call (clean error, restarted), spares never
 * reused across tenants, seccomp blocking socket() in the worker, a
 * poisoned context ending the worker, metrics.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "gpu/gpu_int.h"
#include "tw/gpu.h"

static const char wat[] =
    "(module\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_sync\" (func $sync (result "
    "i32)))\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_alloc\" (func $alloc "
    "(param i64) (result i64)))\n"
    " (memory 1)\n"
    " (func (export \"add\") (param i32 i32) (result i32)\n"
    "  (drop (call $sync)) (i32.add (local.get 0) (local.get 1)))\n"
    " (func (export \"alloc\") (param i64) (result i64) (call $alloc "
    "(local.get 0)))\n"
    " (func (export \"spin\") (loop $l (br $l))))\n";

static uint8_t *bin;
static size_t bin_len;

static tw_gpu_supervisor_t *new_sup(uint32_t spares, uint64_t quota) {
  tw_gpu_supervisor_config_t c;
  tw_gpu_supervisor_config_default(&c);
  c.worker_path = TW_BINARY_DIR "/tensor-wasm";
  c.backend = TW_GPU_BACKEND_MOCK;
  c.spares_per_device = spares;
  if (quota) c.tenant_memory_quota = quota;
  tw_gpu_supervisor_t *s;
  char err[256];
  int rc = tw_gpu_supervisor_new(&c, &s, err, sizeof err);
  if (rc) fail_msg("supervisor: %s", err);
  return s;
}

static int invoke(tw_gpu_supervisor_t *s, const char *tenant,
                  const char *name, tw_val_t *args, size_t n,
                  tw_gpu_result_t *res) {
  tw_gpu_request_t q;
  memset(&q, 0, sizeof q);
  q.tenant = tenant;
  q.module = bin;
  q.module_len = bin_len;
  q.export_name = name;
  q.args = args;
  q.nargs = n;
  q.device = -1;
  return tw_gpu_supervisor_invoke(s, &q, res);
}

static int add(tw_gpu_supervisor_t *s, const char *tenant,
               tw_gpu_result_t *res) {
  tw_val_t a[2] = {{.type = TW_I32}, {.type = TW_I32}};
  a[0].of.i32 = 40;
  a[1].of.i32 = 2;
  return invoke(s, tenant, "add", a, 2, res);
}

static void test_invoke(void **state) {
  tw_gpu_supervisor_t *s = new_sup(0, 0);
  tw_gpu_result_t r;
  assert_int_equal(add(s, "alice", &r), 0);
  if (r.status) fail_msg("%s", r.message);
  assert_int_equal(r.nresults, 1);
  assert_int_equal(r.results[0].of.i32, 42);
  assert_true(r.new_worker);
  int pid = tw_gpu_supervisor_worker_pid(s, "alice", 0);
  assert_true(pid > 0);
  tw_gpu_result_free(&r);
  assert_int_equal(add(s, "alice", &r), 0);
  assert_false(r.new_worker);
  assert_int_equal(tw_gpu_supervisor_worker_pid(s, "alice", 0), pid);
  tw_gpu_result_free(&r);
  /* Bad tenant names are refused before anything starts. */
  assert_int_equal(add(s, "../x", &r), TW_EINVAL);
  /* Quota: the worker got the supervisor's per-tenant cap. */
  tw_val_t big = {.type = TW_I64};
  big.of.i64 = 8ull << 30;
  assert_int_equal(invoke(s, "alice", "alloc", &big, 1, &r), 0);
  assert_int_equal((int64_t)r.results[0].of.i64, TW_CUDA_EQUOTA);
  char m[4096];
  tw_gpu_supervisor_metrics(s, m, sizeof m);
  assert_non_null(strstr(m, "tensor_wasm_gpu_memory_bytes_per_tenant{tenant=\"alice\""));
  assert_non_null(strstr(m, "tensor_wasm_gpu_permits_in_use"));
  tw_gpu_supervisor_free(s);
}

struct spin_arg {
  tw_gpu_supervisor_t *s;
  int rc;
  tw_gpu_result_t res;
};

static void *spin_thread(void *p) {
  struct spin_arg *a = p;
  a->rc = invoke(a->s, "bob", "spin", NULL, 0, &a->res);
  return NULL;
}

static void test_kill_mid_call(void **state) {
  tw_gpu_supervisor_t *s = new_sup(0, 0);
  tw_gpu_result_t r;
  assert_int_equal(add(s, "bob", &r), 0);
  int pid = tw_gpu_supervisor_worker_pid(s, "bob", 0);
  struct spin_arg a = {.s = s};
  pthread_t t;
  pthread_create(&t, NULL, spin_thread, &a);
  struct timespec ts = {0, 300000000};
  nanosleep(&ts, NULL);
  kill(pid, SIGKILL);
  pthread_join(t, NULL);
  assert_int_equal(a.rc, TW_EIO);
  assert_true(a.res.worker_crashed);
  assert_non_null(strstr(a.res.message, "died during the call"));
  assert_non_null(strstr(a.res.message, "signal 9"));
  /* The next call starts a new worker. */
  assert_int_equal(add(s, "bob", &r), 0);
  assert_int_equal(r.status, 0);
  assert_true(r.new_worker);
  int pid2 = tw_gpu_supervisor_worker_pid(s, "bob", 0);
  assert_true(pid2 > 0 && pid2 != pid);
  char m[4096];
  tw_gpu_supervisor_metrics(s, m, sizeof m);
  assert_non_null(strstr(m, "tensor_wasm_gpu_worker_crashes_total 1"));
  tw_gpu_supervisor_free(s);
}

static void test_spares_not_shared(void **state) {
  tw_gpu_supervisor_t *s = new_sup(2, 0);
  assert_int_equal(tw_gpu_supervisor_wait_spares(s, 20000), 2);
  tw_gpu_result_t r;
  assert_int_equal(add(s, "t1", &r), 0);
  assert_true(r.from_spare);
  int p1 = tw_gpu_supervisor_worker_pid(s, "t1", 0);
  assert_int_equal(add(s, "t2", &r), 0);
  assert_true(r.from_spare);
  int p2 = tw_gpu_supervisor_worker_pid(s, "t2", 0);
  assert_int_equal(add(s, "t3", &r), 0); /* a refilled spare */
  int p3 = tw_gpu_supervisor_worker_pid(s, "t3", 0);
  assert_true(p1 != p2 && p2 != p3 && p1 != p3);
  /* Each tenant keeps its own worker. */
  assert_int_equal(add(s, "t1", &r), 0);
  assert_int_equal(tw_gpu_supervisor_worker_pid(s, "t1", 0), p1);
  tw_gpu_supervisor_free(s);
}

static void test_seccomp(void **state) {
  tw_gpu_supervisor_t *s = new_sup(0, 0);
  int e = -1;
  assert_int_equal(tw__gpu_supervisor_probe(s, "sec", &e), 0);
  assert_int_equal(e, 1 /* EPERM */);
  tw_gpu_supervisor_free(s);
  setenv("TW_WORKER_NO_SECCOMP", "1", 1);
  s = new_sup(0, 0);
  assert_int_equal(tw__gpu_supervisor_probe(s, "sec", &e), 0);
  assert_int_equal(e, 0);
  tw_gpu_supervisor_free(s);
  unsetenv("TW_WORKER_NO_SECCOMP");
}

static void test_guest_fault(void **state) {
  /* The isolation guest, when the wasm examples were built. */
  FILE *f = fopen(TW_BINARY_DIR "/examples/gpu/isolation.wasm", "rb");
  if (!f) skip();
  static uint8_t g[1 << 20];
  size_t n = fread(g, 1, sizeof g, f);
  fclose(f);
  tw_gpu_supervisor_t *s = new_sup(0, 0);
  tw_gpu_request_t q;
  memset(&q, 0, sizeof q);
  q.module = g;
  q.module_len = n;
  q.device = -1;
  tw_val_t v = {.type = TW_I32};
  v.of.i32 = 0x5ec2e7;
  tw_gpu_result_t r;
  q.tenant = "victim";
  q.export_name = "leak";
  q.args = &v;
  q.nargs = 1;
  assert_int_equal(tw_gpu_supervisor_invoke(s, &q, &r), 0);
  int64_t addr = (int64_t)r.results[0].of.i64;
  assert_true(addr > 0);
  /* The attacker's wild write faults its own worker only. */
  q.tenant = "attacker";
  q.export_name = "wild_write";
  tw_val_t av = {.type = TW_I64};
  av.of.i64 = 0x10;
  q.args = &av;
  assert_int_equal(tw_gpu_supervisor_invoke(s, &q, &r), 0);
  assert_int_equal((int32_t)r.results[0].of.i32, TW_CUDA_ELOST);
  assert_true(r.worker_crashed);
  /* Reading the victim's address reads the attacker's own memory. */
  av.of.i64 = (uint64_t)addr;
  q.export_name = "wild_read";
  assert_int_equal(tw_gpu_supervisor_invoke(s, &q, &r), 0);
  assert_true((int64_t)r.results[0].of.i64 != 0x5ec2e7);
  /* The victim is unaffected. */
  q.tenant = "victim";
  q.export_name = "hold";
  tw_val_t hv[2] = {{.type = TW_I32}, {.type = TW_I32}};
  hv[0].of.i32 = 0x5ec2e7;
  hv[1].of.i32 = 10;
  q.args = hv;
  q.nargs = 2;
  assert_int_equal(tw_gpu_supervisor_invoke(s, &q, &r), 0);
  assert_int_equal(r.status, 0);
  assert_int_equal((int64_t)r.results[0].of.i64, 0);
  tw_gpu_supervisor_free(s);
}

int main(void) {
  if (access(TW_BINARY_DIR "/tensor-wasm", X_OK) != 0) return 77;
  char err[256];
  if (tw_wat_to_wasm(wat, strlen(wat), &bin, &bin_len, err, sizeof err))
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_invoke),
      cmocka_unit_test(test_kill_mid_call),
      cmocka_unit_test(test_spares_not_shared),
      cmocka_unit_test(test_seccomp),
      cmocka_unit_test(test_guest_fault),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tw_free(bin);
  return rc;
}
