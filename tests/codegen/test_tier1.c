/* Tier 1: modules compiled by the system C compiler give the same results
 * as tier 0 (arithmetic, host imports, traps, stack exhaustion,
 * deadlines); instances made before tier 1 was ready switch to it on
 * their next call; modules split into several translation units link and
 * run; a missing, failing or hanging compiler leaves tier 0 serving and
 * never blocks tw_module_new in TW_TIER_AUTO mode. Also bad input: huge
 * functions, deep nesting, many locals and many functions compile in
 * tier 0 within bounded time, or are refused with TW_ELIMIT.
 */
#include "rt/rt_test.h"

#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base.h"
#include "rt/rt.h"

static char cache_dir[256];

static const char k_wat[] =
    "(module\n"
    "  (import \"host\" \"add\" (func $hadd (param i32 i32) (result i32)))\n"
    "  (memory 1)\n"
    "  (func $fib (export \"fib\") (param i32) (result i32)\n"
    "    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))\n"
    "      (then (local.get 0))\n"
    "      (else (i32.add (call $fib (i32.sub (local.get 0) (i32.const 1)))\n"
    "                     (call $fib (i32.sub (local.get 0) (i32.const 2)))))))\n"
    "  (func (export \"sum\") (param i32) (result i64) (local i64)\n"
    "    (block (loop\n"
    "      (br_if 1 (i32.eqz (local.get 0)))\n"
    "      (local.set 1 (i64.add (local.get 1) (i64.extend_i32_u (local.get 0))))\n"
    "      (local.set 0 (i32.sub (local.get 0) (i32.const 1)))\n"
    "      (br 0)))\n"
    "    (local.get 1))\n"
    "  (func (export \"host\") (param i32) (result i32)\n"
    "    (call $hadd (local.get 0) (i32.const 1000)))\n"
    "  (func $rec (export \"recurse\") (param i32) (result i32)\n"
    "    (i32.add (call $rec (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))\n"
    "  (func (export \"spin\") (loop (br 0)))\n"
    "  (func (export \"div\") (param i32 i32) (result i32)\n"
    "    (i32.div_s (local.get 0) (local.get 1)))\n"
    "  (func (export \"nan\") (result i32)\n"
    "    (i32.reinterpret_f32 (f32.neg (f32.reinterpret_i32 (i32.const 0x7fa00000)))))\n"
    "  (func (export \"oob\") (result i32) (i32.load (i32.const 70000)))\n"
    /* Tier 1 drops the keep of the first load of each (codegen/cover.c):
     * the later access traps in its place. */
    "  (func (export \"fields\") (param i32) (result i32)\n"
    "    (drop (i32.load (local.get 0)))\n"
    "    (i32.load offset=4 (local.get 0)))\n"
    "  (func (export \"move\") (param i32)\n"
    "    (i32.store offset=4 (local.get 0) (i32.load (local.get 0))))\n"
    /* After a trap memory and globals show every store before it and
     * none after (prelude.h, memory access (b)). */
    "  (data (i32.const 65528) \"\\ef\\be\\ad\\de\\ef\\be\\ad\\de\")\n"
    "  (global $g (mut i32) (i32.const 0))\n"
    "  (func (export \"peek\") (param i32) (result i32) (i32.load (local.get 0)))\n"
    "  (func (export \"gpeek\") (result i32) (global.get $g))\n"
    "  (func (export \"v128\") (param i32)\n"
    "    (v128.store (local.get 0) (v128.const i64x2 0 0)))\n"
    "  (func (export \"hoist\") (param $p i32) (result i32) (local $i i32) (local $s i32)\n"
    "    (loop $l\n"
    "      (i32.store (local.get $p) (local.get $i))\n"
    "      (local.set $s (i32.add (local.get $s) (i32.load offset=4 (local.get $p))))\n"
    "      (local.set $i (i32.add (local.get $i) (i32.const 1)))\n"
    "      (br_if $l (i32.lt_u (local.get $i) (i32.const 100))))\n"
    "    (local.get $s))\n"
    "  (func (export \"bytes\") (param $p i32) (param $v i32)\n"
    "    (i32.store8 (local.get $p) (local.get $v))\n"
    "    (i32.store8 offset=1 (local.get $p) (i32.shr_u (local.get $v) (i32.const 8)))\n"
    "    (i32.store8 offset=2 (local.get $p) (i32.shr_u (local.get $v) (i32.const 16)))\n"
    "    (i32.store8 offset=3 (local.get $p) (i32.shr_u (local.get $v) (i32.const 24))))\n"
    "  (func (export \"count\")\n"
    "    (loop (i32.store (i32.const 16) (i32.add (i32.load (i32.const 16)) (i32.const 1)))\n"
    "          (br 0)))\n"
    "  (func (export \"gcount\")\n"
    "    (loop (global.set $g (i32.add (global.get $g) (i32.const 1))) (br 0))))\n";

static int host_add(tw_caller_t *c, void *user, const tw_val_t *a,
                    tw_val_t *r) {
  (void)c;
  (void)user;
  r[0].of.i32 = a[0].of.i32 + a[1].of.i32;
  return 0;
}

static uint8_t *wat(const char *text, size_t *len) {
  uint8_t *bin = NULL;
  char err[256];
  if (tw_wat_to_wasm(text, strlen(text), &bin, len, err, sizeof err))
    fail_msg("wat: %s", err);
  return bin;
}

static tw_engine_t *engine_with(tw_tier_t tier, const char *cache) {
  tw_engine_config_t cfg;
  tw_engine_config_default(&cfg);
  cfg.tier = tier;
  cfg.cache_dir = cache;
  cfg.deadline_ms = 300;
  tw_engine_t *e = NULL;
  assert_int_equal(tw_engine_new(&cfg, &e), 0);
  return e;
}

static int call1(tw_instance_t *in, const char *name, const tw_val_t *args,
                 size_t n, tw_val_t *r) {
  char err[256];
  return tw_instance_call(in, name, args, n, r, 1, err, sizeof err);
}

static void expect_trap(tw_store_t *s, int rc, tw_trap_kind_t kind) {
  tw_trap_info_t ti;
  assert_int_equal(rc, TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, kind);
}

static uint32_t peek(tw_instance_t *in, uint32_t at) {
  tw_val_t a = rt_i32(at), r;
  assert_int_equal(call1(in, "peek", &a, 1, &r), 0);
  return r.of.i32;
}

/* Memory and globals after traps: a partly out-of-bounds v128 store
 * writes nothing; a loop's first store lands before its invariant load
 * traps; byte stores before the trapping one land; loops stopped by the
 * deadline have stored their iterations. */
static void check_trap_state(tw_store_t *s, tw_instance_t *in) {
  char err[256];
  tw_val_t a[2] = {rt_i32(65528), rt_i32(0)}, r;
  expect_trap(s, tw_instance_call(in, "v128", a, 1, NULL, 0, err, sizeof err),
              TW_TRAP_MEMORY_OOB);
  assert_int_equal(peek(in, 65528), 0xdeadbeefu);
  assert_int_equal(peek(in, 65532), 0xdeadbeefu);
  a[0] = rt_i32(65532);
  expect_trap(s, call1(in, "hoist", a, 1, &r), TW_TRAP_MEMORY_OOB);
  assert_int_equal(peek(in, 65532), 0);
  a[0] = rt_i32(65533);
  a[1] = rt_i32(0x44332211u);
  expect_trap(s, tw_instance_call(in, "bytes", a, 2, NULL, 0, err, sizeof err),
              TW_TRAP_MEMORY_OOB);
  assert_int_equal(peek(in, 65532), 0x33221100u);
  expect_trap(s, tw_instance_call(in, "count", NULL, 0, NULL, 0, err,
                                  sizeof err),
              TW_TRAP_DEADLINE);
  assert_true(peek(in, 16) > 1000);
  expect_trap(s, tw_instance_call(in, "gcount", NULL, 0, NULL, 0, err,
                                  sizeof err),
              TW_TRAP_DEADLINE);
  assert_int_equal(call1(in, "gpeek", NULL, 0, &r), 0);
  assert_true(r.of.i32 > 1000);
}

/* Runs every export of k_wat in a fresh store and checks the results. */
static void check_semantics(tw_engine_t *e, tw_module_t *mod) {
  tw_linker_t *l;
  tw_store_t *s;
  tw_instance_t *in;
  char err[256];
  uint8_t p2[2] = {TW_I32, TW_I32}, r1[1] = {TW_I32};
  tw_functype_t ft = {2, 1, p2, r1};
  assert_int_equal(tw_linker_new(e, &l), 0);
  assert_int_equal(tw_linker_define_func(l, "host", "add", &ft, host_add,
                                         NULL), 0);
  assert_int_equal(tw_store_new(e, &s), 0);
  assert_int_equal(tw_instance_new(s, mod, l, &in, err, sizeof err), 0);
  tw_val_t r, a = rt_i32(20);
  assert_int_equal(call1(in, "fib", &a, 1, &r), 0);
  assert_int_equal(r.of.i32, 6765);
  a = rt_i32(100000);
  assert_int_equal(call1(in, "sum", &a, 1, &r), 0);
  assert_true(r.of.i64 == 5000050000ull);
  a = rt_i32(7);
  assert_int_equal(call1(in, "host", &a, 1, &r), 0);
  assert_int_equal(r.of.i32, 1007);
  /* sNaN payload kept by f32.neg */
  assert_int_equal(call1(in, "nan", NULL, 0, &r), 0);
  assert_int_equal(r.of.i32, 0xffa00000u);
  tw_trap_info_t ti;
  tw_val_t d[2] = {rt_i32(1), rt_i32(0)};
  assert_int_equal(call1(in, "div", d, 2, &r), TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_DIV_BY_ZERO);
  d[0] = rt_i32(0x80000000u);
  d[1] = rt_i32(0xffffffffu);
  assert_int_equal(call1(in, "div", d, 2, &r), TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_INT_OVERFLOW);
  assert_int_equal(call1(in, "oob", NULL, 0, &r), TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_MEMORY_OOB);
  /* Covered loads: in bounds, the last access out of bounds, both out. */
  uint32_t at[3] = {65528, 65532, 70000};
  for (int i = 0; i < 3; i++) {
    a = rt_i32(at[i]);
    assert_int_equal(call1(in, "fields", &a, 1, &r), i ? TW_ETRAP : 0);
    assert_int_equal(tw_instance_call(in, "move", &a, 1, NULL, 0, err,
                                      sizeof err),
                     i ? TW_ETRAP : 0);
    if (i) {
      tw_store_last_trap(s, &ti);
      assert_int_equal(ti.kind, TW_TRAP_MEMORY_OOB);
    }
  }
  check_trap_state(s, in);
  a = rt_i32(0);
  assert_int_equal(call1(in, "recurse", &a, 1, &r), TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_STACK_EXHAUSTED);
  uint64_t t0 = tw__now_ns();
  assert_int_equal(call1(in, "spin", NULL, 0, &r), TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_DEADLINE);
  assert_true((tw__now_ns() - t0) / 1000000u < 3000);
  a = rt_i32(10);
  assert_int_equal(call1(in, "fib", &a, 1, &r), 0);
  assert_int_equal(r.of.i32, 55);
  tw_store_free(s);
  tw_linker_free(l);
}

static void tier1_semantics(void **state) {
  (void)state;
  rt_test_handlers();
  size_t n;
  uint8_t *bin = wat(k_wat, &n);
  tw_engine_t *e = engine_with(TW_TIER_1, cache_dir);
  tw_module_t *mod = rt_test_module(e, bin, n);
  assert_int_equal(tw_module_tier(mod), 1);
  assert_int_equal(tw_module_wait_tier1(mod, 0), 0);
  check_semantics(e, mod);
  tw_module_free(mod);
  tw_engine_free(e);
  /* Tier 0 alone gives the same answers. */
  e = engine_with(TW_TIER_0, NULL);
  mod = rt_test_module(e, bin, n);
  assert_int_equal(tw_module_tier(mod), 0);
  assert_int_equal(tw_module_wait_tier1(mod, 0), TW_EUNSUPPORTED);
  check_semantics(e, mod);
  tw_module_free(mod);
  tw_engine_free(e);
  tw_free(bin);
}

/* An instance made on tier 0 switches at its next call. */
static void auto_switch(void **state) {
  (void)state;
  rt_test_handlers();
  size_t n;
  uint8_t *bin = wat(k_wat, &n);
  tw_engine_t *e = engine_with(TW_TIER_AUTO, NULL);
  tw_module_t *mod = rt_test_module(e, bin, n);
  tw_linker_t *l;
  tw_store_t *s;
  tw_instance_t *in;
  char err[256];
  uint8_t p2[2] = {TW_I32, TW_I32}, r1[1] = {TW_I32};
  tw_functype_t ft = {2, 1, p2, r1};
  assert_int_equal(tw_linker_new(e, &l), 0);
  assert_int_equal(
      tw_linker_define_func(l, "host", "add", &ft, host_add, NULL), 0);
  assert_int_equal(tw_store_new(e, &s), 0);
  assert_int_equal(tw_instance_new(s, mod, l, &in, err, sizeof err), 0);
  bool was0 = in->tier == 0;
  assert_int_equal(tw_module_wait_tier1(mod, 120000), 0);
  tw_val_t r, a = rt_i32(5);
  assert_int_equal(call1(in, "host", &a, 1, &r), 0);
  assert_int_equal(r.of.i32, 1005);
  assert_int_equal(in->tier, 1);
  assert_ptr_equal(in->own_funcs[0].fn, mod->rc1.funcs[0]);
  assert_ptr_equal(in->import_funcs[0].fn, mod->rc1.import_thunks[0]);
  if (!was0) print_message("note: tier 1 was ready before the instance\n");
  tw_store_free(s);
  tw_linker_free(l);
  tw_module_free(mod);
  tw_engine_free(e);
  tw_free(bin);
}

/* A module of many functions, split into several translation units that
 * call each other. */
/* Function i calls i+1 (chains of 50), so calls cross unit borders. */
static const char *callee(int i, int n, char *buf, size_t len) {
  if (i % 50 == 49 || i + 1 >= n) return "(i32.const 0)";
  snprintf(buf, len, "(call $f%d (local.get 3))", i + 1);
  return buf;
}

static void split_units(void **state) {
  (void)state;
  rt_test_handlers();
  enum { N = 2000 };
  char call[64];
  struct tw__buf b;
  tw__buf_init(&b, 64u << 20);
  tw__buf_puts(&b, "(module\n");
  for (int i = 0; i < N; i++)
    tw__buf_printf(&b,
                   "(func $f%d (param i32) (result i32) "
                   "(local i32 i32 i32)\n"
                   " (local.set 1 (i32.mul (local.get 0) (i32.const 3)))\n"
                   " (local.set 2 (i32.xor (local.get 1) (i32.const %d)))\n"
                   " (local.set 3 (i32.rotl (local.get 2) (i32.const 5)))\n"
                   " (i32.add (local.get 3) %s))\n",
                   i, i, callee(i, N, call, sizeof call));
  tw__buf_puts(&b, "(func (export \"chain\") (result i32) (local i32)\n");
  for (int i = 0; i < N; i += 50)
    tw__buf_printf(&b, " (local.set 0 (i32.add (local.get 0) (call $f%d "
                       "(i32.const %d))))\n", i, i);
  tw__buf_puts(&b, " (local.get 0)))\n");
  assert_int_equal(tw__buf_cstr(&b), 0);
  size_t n;
  uint8_t *bin = wat(b.data, &n);
  tw__buf_free(&b);
  struct tw__module *m;
  char err[256];
  assert_int_equal(tw__module_decode(bin, n, &m, err, sizeof err), 0);
  uint32_t *tu = calloc(m->nfuncs, sizeof *tu);
  uint32_t ntus = tw__codegen_split(m, 48u << 10, 64, tu);
  tw__module_free(m);
  free(tu);
  assert_true(ntus > 1);

  tw_engine_t *e0 = engine_with(TW_TIER_0, NULL);
  tw_engine_t *e1 = engine_with(TW_TIER_1, cache_dir);
  tw_module_t *m0 = rt_test_module(e0, bin, n);
  uint64_t t0 = tw__now_ns();
  tw_module_t *m1 = rt_test_module(e1, bin, n);
  print_message("%u functions in %u units: tier 1 in %.0f ms\n", N, ntus,
                (double)(tw__now_ns() - t0) / 1e6);
  assert_int_equal(tw_module_tier(m1), 1);
  tw_val_t r0, r1;
  tw_store_t *s0, *s1;
  tw_instance_t *i0, *i1;
  assert_int_equal(tw_store_new(e0, &s0), 0);
  assert_int_equal(tw_store_new(e1, &s1), 0);
  assert_int_equal(tw_instance_new(s0, m0, NULL, &i0, err, sizeof err), 0);
  assert_int_equal(tw_instance_new(s1, m1, NULL, &i1, err, sizeof err), 0);
  assert_int_equal(call1(i0, "chain", NULL, 0, &r0), 0);
  assert_int_equal(call1(i1, "chain", NULL, 0, &r1), 0);
  assert_int_equal(r0.of.i32, r1.of.i32);
  tw_store_free(s0);
  tw_store_free(s1);
  tw_module_free(m0);
  tw_module_free(m1);
  tw_engine_free(e0);
  tw_engine_free(e1);
  tw_free(bin);
}

/* Writes an executable fake compiler script; returns its path. */
static const char *fake_cc(const char *name, const char *body) {
  static char path[512];
  snprintf(path, sizeof path, "%s/%s", cache_dir, name);
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fprintf(f, "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'fakecc "
             "1.0'; exit 0; fi\n%s\n", body);
  fclose(f);
  chmod(path, 0755);
  return path;
}

/* The compiler misbehaves: tier 0 keeps serving. */
static void expect_tier0_serving(const char *cc, const char *timeout_ms,
                                 tw_tier_t tier, double max_new_ms) {
  setenv("TW_CC", cc, 1);
  if (timeout_ms)
    setenv("TW_CC_TIMEOUT_MS", timeout_ms, 1);
  else
    unsetenv("TW_CC_TIMEOUT_MS");
  size_t n;
  uint8_t *bin = wat(k_wat, &n);
  tw_engine_t *e = engine_with(tier, NULL);
  uint64_t t0 = tw__now_ns();
  tw_module_t *mod = rt_test_module(e, bin, n);
  double ms = (double)(tw__now_ns() - t0) / 1e6;
  if (ms > max_new_ms) fail_msg("tw_module_new took %.0f ms", ms);
  if (tier == TW_TIER_AUTO)
    assert_int_equal(tw_module_wait_tier1(mod, 20000), TW_ECOMPILE);
  assert_int_equal(tw_module_tier(mod), 0);
  check_semantics(e, mod);
  tw_module_free(mod);
  tw_engine_free(e);
  tw_free(bin);
  unsetenv("TW_CC");
  unsetenv("TW_CC_TIMEOUT_MS");
}

static void compiler_missing(void **state) {
  (void)state;
  rt_test_handlers();
  expect_tier0_serving("/nonexistent/cc", NULL, TW_TIER_1, 10000);
  expect_tier0_serving("/nonexistent/cc", NULL, TW_TIER_AUTO, 10000);
}

static void compiler_error(void **state) {
  (void)state;
  rt_test_handlers();
  const char *cc = fake_cc("failcc", "echo 'u0.c:1:1: error: nope' >&2; exit 1");
  expect_tier0_serving(cc, NULL, TW_TIER_1, 10000);
}

static void compiler_timeout(void **state) {
  (void)state;
  rt_test_handlers();
  const char *cc = fake_cc("slowcc", "sleep 30");
  uint64_t t0 = tw__now_ns();
  expect_tier0_serving(cc, "300", TW_TIER_1, 10000);
  assert_true((tw__now_ns() - t0) / 1000000u < 10000);
}

/* AUTO never waits for the compiler, and freeing the module (and the
 * engine) while it compiles kills the compiler at once. */
static void auto_never_blocks(void **state) {
  (void)state;
  rt_test_handlers();
  const char *cc = fake_cc("hangcc", "sleep 60");
  setenv("TW_CC", cc, 1);
  size_t n;
  uint8_t *bin = wat(k_wat, &n);
  tw_engine_t *e = engine_with(TW_TIER_AUTO, NULL);
  uint64_t t0 = tw__now_ns();
  tw_module_t *mod = rt_test_module(e, bin, n);
  assert_true((tw__now_ns() - t0) / 1000000u < 2000);
  assert_int_equal(tw_module_tier(mod), 0);
  assert_int_equal(tw_module_wait_tier1(mod, 200), TW_ELIMIT);
  check_semantics(e, mod);
  t0 = tw__now_ns();
  tw_module_free(mod);
  tw_engine_free(e);
  assert_true((tw__now_ns() - t0) / 1000000u < 2000);
  tw_free(bin);
  unsetenv("TW_CC");
}

/* ---- bad input ---- */

static void put_leb(struct tw__buf *b, uint64_t v) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    if (v) c |= 0x80;
    tw__buf_append(b, &c, 1);
  } while (v);
}

static void put_section(struct tw__buf *out, uint8_t id,
                        const struct tw__buf *body) {
  tw__buf_append(out, &id, 1);
  put_leb(out, body->len);
  tw__buf_append(out, body->data, body->len);
}

/* A module of nfuncs functions of type () -> i32, exported as "f0" (the
 * first); body(i, b) writes function i's locals and code (without the
 * size). */
static uint8_t *build_module(uint32_t nfuncs,
                             void (*body)(uint32_t, struct tw__buf *),
                             size_t *len) {
  struct tw__buf out, sec, fb;
  tw__buf_init(&out, 1u << 30);
  tw__buf_init(&sec, 1u << 30);
  tw__buf_init(&fb, 1u << 30);
  tw__buf_append(&out, "\0asm\1\0\0\0", 8);
  tw__buf_append(&sec, "\x01\x60\x00\x01\x7f", 5); /* type () -> i32 */
  put_section(&out, 1, &sec);
  sec.len = 0;
  put_leb(&sec, nfuncs);
  for (uint32_t i = 0; i < nfuncs; i++) tw__buf_append(&sec, "\0", 1);
  put_section(&out, 3, &sec);
  sec.len = 0;
  tw__buf_append(&sec, "\x01\x02" "f0" "\x00\x00", 6);
  put_section(&out, 7, &sec);
  sec.len = 0;
  put_leb(&sec, nfuncs);
  for (uint32_t i = 0; i < nfuncs; i++) {
    fb.len = 0;
    body(i, &fb);
    put_leb(&sec, fb.len);
    tw__buf_append(&sec, fb.data, fb.len);
  }
  put_section(&out, 10, &sec);
  assert_int_equal(out.error, 0);
  tw__buf_free(&sec);
  tw__buf_free(&fb);
  *len = out.len;
  return (uint8_t *)out.data;
}

/* 5 MB of code in one function: i32.const 1, i32.add, repeated. */
static void body_huge(uint32_t i, struct tw__buf *b) {
  (void)i;
  tw__buf_append(b, "\x00\x41\x00", 3); /* no locals; i32.const 0 */
  for (size_t k = 0; k < (5u << 20) / 3; k++)
    tw__buf_append(b, "\x41\x01\x6a", 3);
  tw__buf_append(b, "\x0b", 1);
}

/* 1000 nested blocks. */
static void body_deep(uint32_t i, struct tw__buf *b) {
  (void)i;
  tw__buf_append(b, "\x00", 1);
  for (int k = 0; k < 1000; k++) tw__buf_append(b, "\x02\x40", 2);
  for (int k = 0; k < 1000; k++) tw__buf_append(b, "\x0b", 1);
  tw__buf_append(b, "\x41\x07\x0b", 3);
}

/* 50,000 i64 locals, the last one returned as i32. */
static void body_locals(uint32_t i, struct tw__buf *b) {
  (void)i;
  tw__buf_append(b, "\x01", 1);
  put_leb(b, 50000);
  tw__buf_append(b, "\x7e", 1);
  tw__buf_append(b, "\x20", 1);
  put_leb(b, 49999);
  tw__buf_append(b, "\xa7\x0b", 2); /* i32.wrap_i64; end */
}

/* 100,000 functions, each returning its index. */
static void body_small(uint32_t i, struct tw__buf *b) {
  tw__buf_append(b, "\x00\x41", 2);
  uint32_t v = i;
  /* signed LEB128 of a non-negative value */
  for (;;) {
    uint8_t c = v & 0x7f;
    v >>= 7;
    if (v == 0 && !(c & 0x40)) {
      tw__buf_append(b, &c, 1);
      break;
    }
    c |= 0x80;
    tw__buf_append(b, &c, 1);
  }
  tw__buf_append(b, "\x0b", 1);
}

static long max_rss_kib(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_maxrss;
}

/* Tier 0 compiles it (checking the answer) within bounded time, or
 * refuses it with TW_ELIMIT; tier 1 never holds tw_module_new up. */
static void bad_one(const char *what, uint32_t nfuncs,
                    void (*body)(uint32_t, struct tw__buf *),
                    uint32_t expect) {
  size_t n;
  uint8_t *bin = build_module(nfuncs, body, &n);
  tw_engine_t *e = engine_with(TW_TIER_AUTO, NULL);
  tw_module_t *mod = NULL;
  char err[256] = "";
  uint64_t t0 = tw__now_ns();
  int rc = tw_module_new(e, bin, n, &mod, err, sizeof err);
  double ms = (double)(tw__now_ns() - t0) / 1e6;
  print_message("%s (%zu bytes): %s in %.0f ms, max RSS %ld MiB%s%s\n", what,
                n, rc ? tw_strerror(rc) : "compiled", ms, max_rss_kib() >> 10,
                rc ? ": " : "", err);
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  const double limit_ms = 240000; /* instrumented codegen is 3-10x slower */
#else
  const double limit_ms = 60000;
#endif
  if (ms > limit_ms) fail_msg("%s: tier 0 took %.0f ms", what, ms);
  if (rc) {
    assert_int_equal(rc, TW_ELIMIT);
    assert_true(err[0] != '\0');
  } else {
    tw_store_t *s;
    tw_instance_t *in;
    tw_val_t r;
    assert_int_equal(tw_store_new(e, &s), 0);
    assert_int_equal(tw_instance_new(s, mod, NULL, &in, err, sizeof err), 0);
    assert_int_equal(call1(in, "f0", NULL, 0, &r), 0);
    assert_int_equal(r.of.i32, expect);
    tw_store_free(s);
  }
  tw_module_free(mod); /* cancels a tier-1 compile still running */
  tw_engine_free(e);
  free(bin);
}

static void bad_input(void **state) {
  (void)state;
  rt_test_handlers();
  bad_one("5 MB function", 1, body_huge, (5u << 20) / 3);
  bad_one("1000-deep nesting", 1, body_deep, 7);
  bad_one("50,000 locals", 1, body_locals, 0);
  bad_one("100,000 functions", 100000, body_small, 0);
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(cache_dir, sizeof cache_dir, "%s/tw-test-tier1-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(cache_dir)) return 1;
  unsetenv("TW_CC");
  tw_engine_t *e;
  if (tw_engine_new(NULL, &e)) return 1;
  rt_test_save_handlers();
  tw_engine_free(e);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(tier1_semantics), cmocka_unit_test(auto_switch),
      cmocka_unit_test(split_units),     cmocka_unit_test(compiler_missing),
      cmocka_unit_test(compiler_error),  cmocka_unit_test(compiler_timeout),
      cmocka_unit_test(auto_never_blocks), cmocka_unit_test(bad_input),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  char cmd[512];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache_dir);
  if (system(cmd) != 0) rc = rc ? rc : 1;
  return rc;
}
