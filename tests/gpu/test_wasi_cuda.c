/* wasi:cuda host functions on the mock backend: argv lowering, every bad
 * input of issue 6 (each an error code plus a message, never a launch),
 * device buffers, quotas, zero-copy registration order, sticky faults.
 * A small WAT module re-exports the imports so the test drives them with
 * exact arguments; it writes PTX and argv straight into guest memory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "gpu/gpu_int.h"
#include "tw/gpu.h"

static const char wat[] =
    "(module\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_load_ptx\" (func $load "
    "(param i32 i32 i32 i32) (result i64)))\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_launch\" (func $launch "
    "(param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32) (result i32)))\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_sync\" (func $sync (result "
    "i32)))\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_last_error_len\" (func "
    "$elen (result i32)))\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_last_error_copy\" (func "
    "$ecopy (param i32 i32) (result i32)))\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_alloc\" (func $alloc "
    "(param i64) (result i64)))\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_free\" (func $free (param "
    "i64) (result i32)))\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_copy_in\" (func $cin "
    "(param i64 i64 i32 i32) (result i32)))\n"
    " (import \"wasi:cuda/host@0.2.0\" \"wasi_cuda_copy_out\" (func $cout "
    "(param i64 i64 i32 i32) (result i32)))\n"
    " (memory (export \"memory\") 4)\n"
    " (func (export \"load\") (param i32 i32 i32 i32) (result i64)\n"
    "  (call $load (local.get 0) (local.get 1) (local.get 2) (local.get 3)))\n"
    " (func (export \"launch\") (param i32 i32 i32 i32 i32 i32 i32 i32 i32 "
    "i32) (result i32)\n"
    "  (call $launch (local.get 0) (local.get 1) (local.get 2) (local.get 3) "
    "(local.get 4) (local.get 5) (local.get 6) (local.get 7) (local.get 8) "
    "(local.get 9)))\n"
    " (func (export \"sync\") (result i32) (call $sync))\n"
    " (func (export \"elen\") (result i32) (call $elen))\n"
    " (func (export \"ecopy\") (param i32 i32) (result i32) (call $ecopy "
    "(local.get 0) (local.get 1)))\n"
    " (func (export \"alloc\") (param i64) (result i64) (call $alloc "
    "(local.get 0)))\n"
    " (func (export \"free\") (param i64) (result i32) (call $free (local.get "
    "0)))\n"
    " (func (export \"cin\") (param i64 i64 i32 i32) (result i32) (call $cin "
    "(local.get 0) (local.get 1) (local.get 2) (local.get 3)))\n"
    " (func (export \"cout\") (param i64 i64 i32 i32) (result i32) (call "
    "$cout (local.get 0) (local.get 1) (local.get 2) (local.get 3)))\n"
    " (func (export \"grow\") (param i32) (result i32) (memory.grow (local.get "
    "0))))\n";

static const char ptx[] =
    ".version 8.0\n.target sm_90\n.address_size 64\n"
    ".visible .entry vector_add(\n .param .u64 a,\n .param .u64 b,\n"
    " .param .u64 c,\n .param .u32 n\n)\n{\n ret;\n}\n"
    ".visible .entry empty()\n{\n ret;\n}\n";

/* Guest memory layout of the tests. */
enum { PTX_AT = 0x1000, NAME_AT = 0x100, ARGV_AT = 0x200, ERR_AT = 0x800,
       A_AT = 0x10000, B_AT = 0x14000, C_AT = 0x18000 };

struct env {
  tw_engine_t *engine;
  tw_module_t *module;
  tw_gpu_t *gpu;
  tw_store_t *store;
  tw_linker_t *linker;
  tw_instance_t *inst, *inst2;
  uint8_t *mem, *mem2;
};

static void env_open(struct env *e, uint64_t quota) {
  memset(e, 0, sizeof *e);
  tw__gpu_mock_reset();
  uint8_t *bin;
  size_t len;
  char err[512];
  assert_int_equal(tw_wat_to_wasm(wat, strlen(wat), &bin, &len, err, sizeof err), 0);
  assert_int_equal(tw_engine_new(NULL, &e->engine), 0);
  assert_int_equal(tw_module_new(e->engine, bin, len, &e->module, err, sizeof err), 0);
  tw_free(bin);
  tw_gpu_config_t cfg;
  tw_gpu_config_default(&cfg);
  cfg.backend = TW_GPU_BACKEND_MOCK;
  if (quota) cfg.memory_quota = quota;
  assert_int_equal(tw_gpu_open(&cfg, &e->gpu, err, sizeof err), 0);
  assert_int_equal(tw_store_new(e->engine, &e->store), 0);
  assert_int_equal(tw_linker_new(e->engine, &e->linker), 0);
  assert_int_equal(tw_linker_define_cuda(e->linker, e->gpu), 0);
  assert_true(tw_module_imports_cuda(e->module));
  assert_int_equal(tw_instance_new(e->store, e->module, e->linker, &e->inst, err, sizeof err), 0);
  assert_int_equal(tw_instance_new(e->store, e->module, e->linker, &e->inst2, err, sizeof err), 0);
  uint64_t size;
  assert_int_equal(tw_instance_memory(e->inst, NULL, &e->mem, &size), 0);
  assert_int_equal(tw_instance_memory(e->inst2, NULL, &e->mem2, &size), 0);
}

static void env_close(struct env *e) {
  tw_gpu_instance_release(e->gpu, e->inst);
  tw_gpu_instance_release(e->gpu, e->inst2);
  tw_gpu_close(e->gpu);
  tw_linker_free(e->linker);
  tw_store_free(e->store);
  tw_module_free(e->module);
  tw_engine_free(e->engine);
  struct tw__gpu_mock_counters c;
  tw__gpu_mock_counters(&c);
  assert_int_equal(c.live_allocs, 0); /* everything freed with the instance */
  assert_int_equal(c.live_registered, 0);
  assert_int_equal(c.live_modules, 0);
}

static tw_val_t i32v(uint32_t v) {
  tw_val_t x = {.type = TW_I32};
  x.of.i32 = v;
  return x;
}
static tw_val_t i64v(uint64_t v) {
  tw_val_t x = {.type = TW_I64};
  x.of.i64 = v;
  return x;
}

static int64_t call(tw_instance_t *inst, const char *name, int n, ...) {
  tw_val_t args[10], res[1];
  va_list ap;
  va_start(ap, n);
  for (int i = 0; i < n; i++) args[i] = va_arg(ap, tw_val_t);
  va_end(ap);
  char err[256];
  tw_functype_t ft;
  assert_int_equal(tw_module_export_functype(tw_instance_module(inst), name, &ft), 0);
  int rc = tw_instance_call(inst, name, args, (size_t)n, res, 1, err, sizeof err);
  if (rc) fail_msg("%s: %s", name, err);
  return ft.results[0] == TW_I64 ? (int64_t)res[0].of.i64 : (int32_t)res[0].of.i32;
}

/* The instance's last error message. */
static const char *last_error(struct env *e, tw_instance_t *inst) {
  static char buf[2048];
  uint8_t *mem = inst == e->inst ? e->mem : e->mem2;
  int64_t n = call(inst, "ecopy", 2, i32v(ERR_AT), i32v(1024));
  assert_true(n >= 0);
  memcpy(buf, mem + ERR_AT, (size_t)n);
  buf[n] = '\0';
  return buf;
}

static int64_t load(struct env *e, tw_instance_t *inst, const char *text,
                    const char *entry) {
  uint8_t *mem = inst == e->inst ? e->mem : e->mem2;
  memcpy(mem + PTX_AT, text, strlen(text));
  memcpy(mem + NAME_AT, entry, strlen(entry));
  return call(inst, "load", 4, i32v(PTX_AT), i32v((uint32_t)strlen(text)),
              i32v(NAME_AT), i32v((uint32_t)strlen(entry)));
}

static int64_t launch(struct env *e, int64_t k, uint32_t gx, uint32_t bx,
                      uint32_t shared, const uint8_t *argv, uint32_t n) {
  if (n) memcpy(e->mem + ARGV_AT, argv, n); /* argv may be NULL when empty */
  return call(e->inst, "launch", 10, i32v((uint32_t)k), i32v(gx), i32v(1),
              i32v(1), i32v(bx), i32v(1), i32v(1), i32v(shared),
              i32v(ARGV_AT), i32v(n));
}

static uint32_t put_ptr(uint8_t *p, uint32_t off, uint32_t len) {
  p[0] = 0x07;
  memcpy(p + 1, &off, 4);
  memcpy(p + 5, &len, 4);
  return 9;
}

/* vector_add argv over guest memory, n floats each. */
static uint32_t vadd_argv(uint8_t *a, uint32_t n) {
  uint32_t at = 0;
  at += put_ptr(a + at, A_AT, n * 4);
  at += put_ptr(a + at, B_AT, n * 4);
  at += put_ptr(a + at, C_AT, n * 4);
  a[at++] = 0x05;
  memcpy(a + at, &n, 4);
  return at + 4;
}

static void test_vector_add_zero_copy(void **state) {
  struct env e;
  env_open(&e, 0);
  int64_t k = load(&e, e.inst, ptx, "vector_add");
  assert_true(k >= 0);
  float *a = (float *)(e.mem + A_AT), *b = (float *)(e.mem + B_AT),
        *c = (float *)(e.mem + C_AT);
  for (int i = 0; i < 1024; i++) {
    a[i] = (float)i;
    b[i] = 2.0f * (float)i;
    c[i] = 0;
  }
  uint8_t argv[64];
  uint32_t n = vadd_argv(argv, 1024);
  assert_int_equal(launch(&e, k, 4, 256, 0, argv, n), 0);
  assert_int_equal(call(e.inst, "sync", 0), 0);
  for (int i = 0; i < 1024; i++) assert_true(c[i] == 3.0f * (float)i);
  struct tw__gpu_mock_counters mc;
  tw__gpu_mock_counters(&mc);
  assert_int_equal(mc.launches, 1);
  assert_string_equal(mc.last_entry, "vector_add");
  assert_int_equal(mc.last_grid[0], 4);
  tw_gpu_stats_t st;
  tw_gpu_get_stats(e.gpu, &st);
  assert_int_equal(st.pinned_bytes, 4 * 65536);
  assert_int_equal(st.launches, 1);
  assert_int_equal(st.permits_in_use, 0);
  /* The same PTX again: a cache hit, not a second module. */
  assert_true(load(&e, e.inst, ptx, "empty") >= 0);
  tw_gpu_get_stats(e.gpu, &st);
  assert_int_equal(st.modules_loaded, 1);
  assert_int_equal(st.module_cache_hits, 1);
  env_close(&e);
}

static void expect(struct env *e, tw_instance_t *inst, int64_t got,
                   int64_t code, const char *needle) {
  if (got != code)
    fail_msg("expected %lld, got %lld (%s)", (long long)code, (long long)got,
             last_error(e, inst));
  const char *m = last_error(e, inst);
  if (!strstr(m, needle)) fail_msg("message '%s' lacks '%s'", m, needle);
}

static void test_bad_ptx(void **state) {
  struct env e;
  env_open(&e, 0);
  /* Oversized: checked before anything is read. */
  int64_t r = call(e.inst, "load", 4, i32v(0), i32v((8u << 20) + 1),
                   i32v(NAME_AT), i32v(5));
  expect(&e, e.inst, r, TW_CUDA_ELIMIT, "limit");
  expect(&e, e.inst, load(&e, e.inst, "hello world", "k"), TW_CUDA_EPTX,
         ".version");
  expect(&e, e.inst, load(&e, e.inst, ptx, "nope"), TW_CUDA_ENOTFOUND,
         "vector_add, empty");
  expect(&e, e.inst, load(&e, e.inst, ptx, "bad name"), TW_CUDA_EINVAL,
         "identifier");
  /* PTX and entry pointers past the end of memory. */
  r = call(e.inst, "load", 4, i32v(4 * 65536 - 4), i32v(100), i32v(NAME_AT),
           i32v(5));
  expect(&e, e.inst, r, TW_CUDA_EBOUNDS, "outside guest memory");
  /* Syntactically broken PTX reaches the compiler (nvJitLink here), whose
   * message reaches the guest. */
  static const char broken[] =
      ".version 8.0\n.target sm_90\n.address_size 64\n"
      ".visible .entry k()\n{\n frobnicate.u32 %r1;\n ret;\n}\n";
  r = load(&e, e.inst, broken, "k");
  struct tw__cuda const *cu = tw__gpu_driver(TW_GPU_BACKEND_MOCK, NULL, 0);
  if (cu->has_jitlink) expect(&e, e.inst, r, TW_CUDA_EPTX, "PTX rejected");
  /* Aggregate parameters are refused. */
  static const char agg[] =
      ".version 8.0\n.target sm_90\n"
      ".visible .entry k(.param .align 8 .b8 s[16])\n{\n ret;\n}\n";
  expect(&e, e.inst, load(&e, e.inst, agg, "k"), TW_CUDA_EARGV, "16 bytes");
  env_close(&e);
}

static void test_bad_launch(void **state) {
  struct env e;
  env_open(&e, 0);
  int64_t k = load(&e, e.inst, ptx, "vector_add");
  int64_t k2 = load(&e, e.inst2, ptx, "vector_add");
  assert_true(k >= 0 && k2 >= 0 && k != k2);
  uint8_t argv[64];
  uint32_t n = vadd_argv(argv, 16);
  expect(&e, e.inst, launch(&e, k2, 1, 16, 0, argv, n), TW_CUDA_EBADID,
         "another instance");
  expect(&e, e.inst, launch(&e, k + 5, 1, 16, 0, argv, n), TW_CUDA_EBADID,
         "unknown kernel");
  expect(&e, e.inst, launch(&e, k, 0, 16, 0, argv, n), TW_CUDA_EDIMS,
         "grid x = 0");
  expect(&e, e.inst, launch(&e, k, 1, 2048, 0, argv, n), TW_CUDA_EDIMS,
         "block x = 2048");
  expect(&e, e.inst, launch(&e, k, 1, 16, 300000, argv, n), TW_CUDA_EDIMS,
         "shared memory");
  /* argv: truncated, unknown tag, wrong count, wrong size. */
  expect(&e, e.inst, launch(&e, k, 1, 16, 0, argv, n - 2), TW_CUDA_EARGV,
         "truncated");
  uint8_t bad[64];
  memcpy(bad, argv, n);
  bad[9] = 0x2a;
  expect(&e, e.inst, launch(&e, k, 1, 16, 0, bad, n), TW_CUDA_EARGV,
         "unknown tag 0x2a");
  expect(&e, e.inst, launch(&e, k, 1, 16, 0, argv, 18), TW_CUDA_EARGV,
         "2 records");
  memcpy(bad, argv, n);
  bad[27] = 0x06; /* u64 for the u32 parameter */
  uint8_t big[64];
  memcpy(big, bad, 28);
  memset(big + 28, 0, 8);
  expect(&e, e.inst, launch(&e, k, 1, 16, 0, big, 36), TW_CUDA_EARGV,
         "parameter 3");
  /* A pointer past the end of memory. */
  uint32_t at = put_ptr(bad, 4 * 65536 - 8, 16);
  at += put_ptr(bad + at, B_AT, 4);
  at += put_ptr(bad + at, C_AT, 4);
  bad[at++] = 0x05;
  memset(bad + at, 0, 4);
  expect(&e, e.inst, launch(&e, k, 1, 16, 0, bad, at + 4), TW_CUDA_EBOUNDS,
         "past the end of guest memory");
  /* argv itself outside memory. */
  int64_t r = call(e.inst, "launch", 10, i32v((uint32_t)k), i32v(1), i32v(1),
                   i32v(1), i32v(1), i32v(1), i32v(1), i32v(0),
                   i32v(4 * 65536 - 2), i32v(36));
  expect(&e, e.inst, r, TW_CUDA_EBOUNDS, "argv");
  struct tw__gpu_mock_counters mc;
  tw__gpu_mock_counters(&mc);
  assert_int_equal(mc.launches, 0); /* never a launch */
  env_close(&e);
}

static void test_too_many_kernels(void **state) {
  struct env e;
  env_open(&e, 0);
  for (int i = 0; i < 256; i++) assert_true(load(&e, e.inst, ptx, "empty") >= 0);
  expect(&e, e.inst, load(&e, e.inst, ptx, "empty"), TW_CUDA_ELIMIT,
         "256 kernels");
  env_close(&e);
}

static void test_buffers_and_quota(void **state) {
  struct env e;
  env_open(&e, 1u << 20);
  int64_t b = call(e.inst, "alloc", 1, i64v(4096));
  assert_true(b > 0);
  memcpy(e.mem + A_AT, "secret bytes", 12);
  assert_int_equal(call(e.inst, "cin", 4, i64v((uint64_t)b), i64v(100), i32v(A_AT), i32v(12)), 0);
  assert_int_equal(call(e.inst, "cout", 4, i64v((uint64_t)b), i64v(100), i32v(C_AT), i32v(12)), 0);
  assert_memory_equal(e.mem + C_AT, "secret bytes", 12);
  expect(&e, e.inst, call(e.inst, "cin", 4, i64v((uint64_t)b), i64v(4090), i32v(A_AT), i32v(12)),
         TW_CUDA_EBOUNDS, "outside buffer");
  expect(&e, e.inst, call(e.inst, "cout", 4, i64v((uint64_t)b), i64v(0), i32v(4 * 65536 - 4), i32v(12)),
         TW_CUDA_EBOUNDS, "outside memory");
  expect(&e, e.inst2, call(e.inst2, "free", 1, i64v((uint64_t)b)), TW_CUDA_EBADID,
         "another instance");
  expect(&e, e.inst, call(e.inst, "alloc", 1, i64v(2u << 20)), TW_CUDA_EQUOTA,
         "quota exceeded");
  tw__gpu_mock_inject(TW__MOCK_FAULT_OOM);
  expect(&e, e.inst, call(e.inst, "alloc", 1, i64v(64)), TW_CUDA_EQUOTA,
         "out of memory");
  /* The buffer as a kernel argument (tag 0x08). */
  int64_t k = load(&e, e.inst, ptx, "vector_add");
  uint8_t argv[64];
  uint32_t at = 0;
  for (int i = 0; i < 3; i++) {
    argv[at++] = 0x08;
    uint64_t h = (uint64_t)b, off = 0;
    memcpy(argv + at, &h, 8);
    memcpy(argv + at + 8, &off, 8);
    at += 16;
  }
  argv[at++] = 0x05;
  uint32_t cnt = 16;
  memcpy(argv + at, &cnt, 4);
  assert_int_equal(launch(&e, k, 1, 16, 0, argv, at + 4), 0);
  assert_int_equal(call(e.inst, "sync", 0), 0);
  uint64_t off = 5000;
  memcpy(argv + 9, &off, 8);
  expect(&e, e.inst, launch(&e, k, 1, 16, 0, argv, at + 4), TW_CUDA_EBOUNDS,
         "past the end of buffer");
  assert_int_equal(call(e.inst, "free", 1, i64v((uint64_t)b)), 0);
  expect(&e, e.inst, call(e.inst, "free", 1, i64v((uint64_t)b)), TW_CUDA_EBADID,
         "unknown device buffer");
  /* Pinning guest memory counts against the quota too: 4 pages = 256 KiB
   * fits in 1 MiB, 32 pages do not. */
  assert_true(call(e.inst, "grow", 1, i32v(28)) >= 0);
  uint32_t n = vadd_argv(argv, 16);
  expect(&e, e.inst, launch(&e, k, 1, 16, 0, argv, n), TW_CUDA_EQUOTA,
         "pinning guest memory");
  env_close(&e);
}

static void test_registration_order(void **state) {
  struct env e;
  env_open(&e, 0);
  int64_t k = load(&e, e.inst, ptx, "vector_add");
  uint8_t argv[64];
  uint32_t n = vadd_argv(argv, 16);
  struct tw__gpu_mock_counters mc;
  /* Nothing is pinned before a launch passes a guest pointer. */
  tw__gpu_mock_counters(&mc);
  assert_string_equal(mc.reg_log, "");
  assert_int_equal(launch(&e, k, 1, 16, 0, argv, n), 0);
  assert_int_equal(launch(&e, k, 1, 16, 0, argv, n), 0); /* no new range */
  tw__gpu_mock_counters(&mc);
  assert_string_equal(mc.reg_log, "R");
  /* Grow: the next launch registers the new pages as a second range, and a
   * pointer spanning both works (device pointers equal host pointers). */
  assert_int_equal(call(e.inst, "grow", 1, i32v(2)), 4);
  uint8_t span[64];
  uint32_t at = put_ptr(span, 4 * 65536 - 32, 64);
  at += put_ptr(span + at, B_AT, 64);
  at += put_ptr(span + at, C_AT, 64);
  span[at++] = 0x05;
  uint32_t cnt = 16;
  memcpy(span + at, &cnt, 4);
  assert_int_equal(launch(&e, k, 1, 16, 0, span, at + 4), 0);
  assert_int_equal(call(e.inst, "sync", 0), 0);
  tw__gpu_mock_counters(&mc);
  assert_string_equal(mc.reg_log, "RR");
  tw_gpu_stats_t st;
  tw_gpu_get_stats(e.gpu, &st);
  assert_int_equal(st.pinned_bytes, 6 * 65536);
  /* Unpin (before a reset/restore), then launch again: registered anew. */
  tw_gpu_instance_unpin(e.gpu, e.inst);
  tw__gpu_mock_counters(&mc);
  assert_string_equal(mc.reg_log, "RRUU");
  assert_int_equal(launch(&e, k, 1, 16, 0, argv, n), 0);
  tw__gpu_mock_counters(&mc);
  assert_string_equal(mc.reg_log, "RRUUR");
  /* Release: unregistered before the store frees the memory. */
  tw_gpu_instance_release(e.gpu, e.inst);
  tw__gpu_mock_counters(&mc);
  assert_string_equal(mc.reg_log, "RRUURU");
  assert_int_equal(mc.live_registered, 0);
  tw_gpu_get_stats(e.gpu, &st);
  assert_int_equal(st.pinned_bytes, 0);
  env_close(&e);
}

static void test_sticky_fault(void **state) {
  struct env e;
  env_open(&e, 0);
  int64_t k = load(&e, e.inst, ptx, "empty");
  tw__gpu_mock_inject(TW__MOCK_FAULT_LAUNCH);
  expect(&e, e.inst, launch(&e, k, 1, 1, 0, NULL, 0), TW_CUDA_ELOST,
         "CUDA_ERROR_LAUNCH_FAILED");
  assert_true(tw_gpu_poisoned(e.gpu));
  expect(&e, e.inst2, load(&e, e.inst2, ptx, "empty"), TW_CUDA_ELOST,
         "context is lost");
  tw_gpu_instance_release(e.gpu, e.inst);
  tw_gpu_instance_release(e.gpu, e.inst2);
  tw__gpu_mock_reset();
  env_close(&e);

  env_open(&e, 0);
  k = load(&e, e.inst, ptx, "empty");
  tw__gpu_mock_inject(TW__MOCK_FAULT_ILLEGAL);
  assert_int_equal(launch(&e, k, 1, 1, 0, NULL, 0), 0); /* asynchronous */
  expect(&e, e.inst, call(e.inst, "sync", 0), TW_CUDA_ELOST,
         "CUDA_ERROR_ILLEGAL_ADDRESS");
  tw_gpu_stats_t st;
  tw_gpu_get_stats(e.gpu, &st);
  assert_int_equal(st.poisoned, 1);
  tw_gpu_instance_release(e.gpu, e.inst);
  tw_gpu_instance_release(e.gpu, e.inst2);
  tw__gpu_mock_reset();
  env_close(&e);
}

static void test_argv_decode(void **state) {
  struct tw__gpu_param p[3] = {{4, ".u32"}, {8, ".f64"}, {8, ".u64"}};
  struct tw__gpu_arg out[3];
  uint8_t a[64];
  size_t n = 0;
  a[n++] = 0x01;
  int32_t neg = -5;
  memcpy(a + n, &neg, 4);
  n += 4;
  a[n++] = 0x04;
  double d = 1.5;
  memcpy(a + n, &d, 8);
  n += 8;
  a[n++] = 0x07;
  uint32_t off = 64, len = 8;
  memcpy(a + n, &off, 4);
  memcpy(a + n + 4, &len, 4);
  n += 8;
  char err[256];
  assert_int_equal(tw__gpu_argv_decode(a, n, p, 3, out, err, sizeof err), 0);
  assert_int_equal(out[0].a, 0xfffffffbu);
  uint64_t bits;
  memcpy(&bits, &d, 8);
  assert_true(out[1].a == bits);
  assert_int_equal(out[2].a, 64);
  assert_int_equal(out[2].b, 8);
  assert_int_equal(out[2].at, 14);
  assert_int_equal(tw__gpu_argv_decode(a, n - 1, p, 3, out, err, sizeof err),
                   TW_CUDA_EARGV);
  assert_non_null(strstr(err, "record 2 at byte 14"));
}

int main(void) {
  setenv("TW_GPU_MOCK", "1", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_argv_decode),
      cmocka_unit_test(test_vector_add_zero_copy),
      cmocka_unit_test(test_bad_ptx),
      cmocka_unit_test(test_bad_launch),
      cmocka_unit_test(test_too_many_kernels),
      cmocka_unit_test(test_buffers_and_quota),
      cmocka_unit_test(test_registration_order),
      cmocka_unit_test(test_sticky_fault),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
