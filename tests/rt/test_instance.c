/* Instantiation and linking through the public API: exports of one
 * instance imported by another (functions, memory, table, globals), host
 * functions with multiple results, host traps, exits and re-entry,
 * unlinkable imports, segment and start-function failures whose earlier
 * writes stay visible, and the module/instance queries.
 */
#include "rt/rt_test.h"

#include "rt/modules.h"

static tw_engine_t *engine;

#define CALL(inst, name, args, nargs, res, nres)                            \
  do {                                                                      \
    char err_[256] = "";                                                    \
    int rc_ = tw_instance_call(inst, name, args, nargs, res, nres, err_,    \
                               sizeof err_);                                \
    if (rc_) fail_msg("%s: %s (%s)", name, tw_strerror(rc_), err_);         \
  } while (0)

static uint32_t call_i32(tw_instance_t *in, const char *name, uint32_t a,
                         uint32_t b, size_t nargs) {
  tw_val_t args[2] = {rt_i32(a), rt_i32(b)}, r;
  CALL(in, name, args, nargs, &r, 1);
  assert_int_equal(r.type, TW_I32);
  return r.of.i32;
}

/* host "mv": (i32 x) -> (x+1, 2x as i64, 1.5f, 2.25) */
static int host_mv(tw_caller_t *c, void *user, const tw_val_t *a,
                   tw_val_t *r) {
  (void)c;
  (*(int *)user)++;
  float f = 1.5f;
  double d = 2.25;
  r[0].of.i32 = a[0].of.i32 + 1;
  r[1].of.i64 = (uint64_t)a[0].of.i32 * 2;
  memcpy(&r[2].of.f32, &f, 4);
  memcpy(&r[3].of.f64, &d, 8);
  return 0;
}

static const uint8_t mv_params[] = {TW_I32};
static const uint8_t mv_results[] = {TW_I32, TW_I64, TW_F32, TW_F64};
static const tw_functype_t mv_type = {1, 4, mv_params, mv_results};

static tw_instance_t *new_provider(tw_store_t *s, tw_module_t **mod) {
  *mod = rt_test_module(engine, wasm_provider, sizeof wasm_provider);
  tw_instance_t *p = NULL;
  char err[256] = "";
  assert_int_equal(tw_instance_new(s, *mod, NULL, &p, err, sizeof err), 0);
  return p;
}

static void link_instances(void **state) {
  (void)state;
  rt_test_handlers();
  tw_store_t *s;
  tw_linker_t *l;
  tw_module_t *pm, *cm;
  assert_int_equal(tw_store_new(engine, &s), 0);
  assert_int_equal(tw_linker_new(engine, &l), 0);
  tw_instance_t *p = new_provider(s, &pm);
  tw_val_t v;
  assert_int_equal(tw_instance_global_get(p, "started", &v), 0);
  assert_int_equal(v.type, TW_I32);
  assert_int_equal(v.of.i32, 1); /* the start function ran */

  int mv_calls = 0;
  assert_int_equal(tw_linker_define_instance(l, "p", p), 0);
  assert_int_equal(
      tw_linker_define_func(l, "host", "mv", &mv_type, host_mv, &mv_calls),
      0);
  assert_int_equal(
      tw_linker_define_func(l, "host", "mv", &mv_type, host_mv, &mv_calls),
      TW_EEXISTS);
  /* Re-registering an instance replaces its names. */
  assert_int_equal(tw_linker_define_instance(l, "p", p), 0);

  cm = rt_test_module(engine, wasm_consumer, sizeof wasm_consumer);
  tw_instance_t *c = NULL;
  char err[256] = "";
  assert_int_equal(tw_instance_new(s, cm, l, &c, err, sizeof err), 0);
  /* Imported function, imported global. */
  assert_int_equal(call_i32(c, "quad", 5, 0, 1), 20);
  assert_int_equal(call_i32(c, "started", 0, 0, 0), 1);
  assert_int_equal(tw_instance_global_get(c, "k2", &v), 0);
  double d;
  memcpy(&d, &v.of.f64, 8);
  assert_true(v.type == TW_F64 && d == 2.5);
  /* The consumer's element and data segments wrote into the provider's
   * table and memory; its stores land there too. */
  assert_int_equal(call_i32(p, "call_tab", 0, 7, 2), 14);
  assert_int_equal(call_i32(p, "call_tab", 1, 7, 2), 21);
  assert_int_equal(call_i32(p, "peek", 100, 0, 1), 42);
  tw_val_t sargs[2] = {rt_i32(10), rt_i32(99)};
  CALL(c, "store", sargs, 2, NULL, 0);
  assert_int_equal(call_i32(p, "peek", 10, 0, 1), 99);
  uint8_t *base;
  uint64_t size;
  assert_int_equal(tw_instance_memory(p, "mem", &base, &size), 0);
  assert_int_equal(size, 65536);
  assert_int_equal(base[10], 99);
  uint8_t *base2;
  assert_int_equal(tw_instance_memory(c, NULL, &base2, &size), 0);
  assert_ptr_equal(base, base2);
  /* Host function with four results. */
  tw_val_t a = rt_i32(41), r[4];
  CALL(c, "mv", &a, 1, r, 4);
  float f;
  memcpy(&f, &r[2].of.f32, 4);
  memcpy(&d, &r[3].of.f64, 8);
  assert_int_equal(r[0].type, TW_I32);
  assert_int_equal(r[0].of.i32, 42);
  assert_int_equal(r[1].type, TW_I64);
  assert_int_equal(r[1].of.i64, 82);
  assert_true(r[2].type == TW_F32 && f == 1.5f);
  assert_true(r[3].type == TW_F64 && d == 2.25);
  assert_int_equal(mv_calls, 1);

  /* The module may be freed while its instances live. */
  tw_module_free(cm);
  assert_int_equal(call_i32(c, "quad", 1, 0, 1), 4);
  tw_linker_free(l);
  tw_store_free(s);
  tw_module_free(pm);
}

static void unlinkable(void **state) {
  (void)state;
  rt_test_handlers();
  tw_store_t *s;
  tw_module_t *pm;
  assert_int_equal(tw_store_new(engine, &s), 0);
  tw_instance_t *p = new_provider(s, &pm);
  tw_module_t *cm =
      rt_test_module(engine, wasm_consumer, sizeof wasm_consumer);
  tw_instance_t *c = NULL;
  char err[256];
  tw_linker_t *l;

  /* Missing host function. */
  assert_int_equal(tw_linker_new(engine, &l), 0);
  assert_int_equal(tw_linker_define_instance(l, "p", p), 0);
  assert_int_equal(tw_instance_new(s, cm, l, &c, err, sizeof err),
                   TW_EUNLINKABLE);
  assert_string_equal(err, "unknown import: \"host\" \"mv\"");
  assert_null(c);
  /* Wrong function type. */
  static const uint8_t i32s[] = {TW_I32, TW_I32};
  tw_functype_t wrong = {1, 1, i32s, i32s + 1};
  assert_int_equal(
      tw_linker_define_func(l, "host", "mv", &wrong, host_mv, NULL), 0);
  assert_int_equal(tw_instance_new(s, cm, l, &c, err, sizeof err),
                   TW_EUNLINKABLE);
  assert_string_equal(err, "incompatible import type: \"host\" \"mv\"");
  tw_linker_free(l);

  /* A memory smaller than the import's minimum; a global of the wrong
   * mutability; a table of the wrong element type. */
  assert_int_equal(tw_linker_new(engine, &l), 0);
  assert_int_equal(tw_linker_define_func(l, "p", "double", &wrong, host_mv,
                                         NULL),
                   0);
  assert_int_equal(tw_linker_define_memory(l, s, "p", "mem", 0, 1, true), 0);
  assert_int_equal(tw_instance_new(s, cm, l, &c, err, sizeof err),
                   TW_EUNLINKABLE);
  assert_string_equal(err, "incompatible import type: \"p\" \"mem\"");
  tw_linker_free(l);

  assert_int_equal(tw_linker_new(engine, &l), 0);
  assert_int_equal(tw_linker_define_func(l, "p", "double", &wrong, host_mv,
                                         NULL),
                   0);
  assert_int_equal(tw_linker_define_memory(l, s, "p", "mem", 1, 0, false),
                   0);
  assert_int_equal(
      tw_linker_define_table(l, s, "p", "tab", TW_EXTERNREF, 2, 0, false), 0);
  assert_int_equal(tw_instance_new(s, cm, l, &c, err, sizeof err),
                   TW_EUNLINKABLE);
  assert_string_equal(err, "incompatible import type: \"p\" \"tab\"");
  tw_linker_free(l);

  assert_int_equal(tw_linker_new(engine, &l), 0);
  assert_int_equal(tw_linker_define_func(l, "p", "double", &wrong, host_mv,
                                         NULL),
                   0);
  assert_int_equal(tw_linker_define_memory(l, s, "p", "mem", 1, 0, false),
                   0);
  assert_int_equal(
      tw_linker_define_table(l, s, "p", "tab", TW_FUNCREF, 2, 0, false), 0);
  tw_val_t g = rt_i32(0);
  assert_int_equal(tw_linker_define_global(l, s, "p", "started", &g, false),
                   0);
  assert_int_equal(tw_instance_new(s, cm, l, &c, err, sizeof err),
                   TW_EUNLINKABLE);
  assert_string_equal(err, "incompatible import type: \"p\" \"started\"");
  tw_linker_free(l);

  tw_module_free(cm);
  tw_module_free(pm);
  tw_store_free(s);
}

/* host "fail": 0 trap with a message, 1 exit(3), 2 a bare error code,
 * 3 rewrite "ping" to "pong" in guest memory and return normally. */
static int host_fail(tw_caller_t *c, void *user, const tw_val_t *a,
                     tw_val_t *r) {
  (void)user;
  (void)r;
  switch (a[0].of.i32) {
  case 0:
    return tw_caller_trap(c, "boom %d", 7);
  case 1:
    return tw_caller_exit(c, 3);
  case 2:
    return TW_EINVAL;
  default: {
    char buf[4];
    if (tw_caller_read(c, 8, buf, 4) || memcmp(buf, "ping", 4))
      return tw_caller_trap(c, "bad read");
    uint64_t size;
    uint8_t *mem = tw_caller_memory(c, &size);
    if (!mem || size != 65536) return tw_caller_trap(c, "bad memory");
    if (tw_caller_read(c, size - 3, buf, 4) != TW_EINVAL ||
        tw_caller_write(c, UINT64_MAX, buf, 1) != TW_EINVAL)
      return tw_caller_trap(c, "bounds not checked");
    return tw_caller_write(c, 9, "o", 1);
  }
  }
}

/* host "reenter": calls back into the same instance: inc(x), or for
 * x >= 1000 the trapping export, passing its status on. */
static int host_reenter(tw_caller_t *c, void *user, const tw_val_t *a,
                        tw_val_t *r) {
  (void)user;
  tw_instance_t *in = tw_caller_instance(c);
  char err[128];
  if (a[0].of.i32 >= 1000)
    return tw_instance_call(in, "trap", NULL, 0, NULL, 0, err, sizeof err);
  tw_val_t arg = rt_i32(a[0].of.i32);
  return tw_instance_call(in, "inc", &arg, 1, r, 1, err, sizeof err);
}

static void host_functions(void **state) {
  (void)state;
  rt_test_handlers();
  tw_store_t *s;
  tw_linker_t *l;
  assert_int_equal(tw_store_new(engine, &s), 0);
  assert_int_equal(tw_linker_new(engine, &l), 0);
  int mv_calls = 0;
  static const uint8_t i32s[] = {TW_I32, TW_I32};
  tw_functype_t t_fail = {1, 0, i32s, NULL}, t_re = {1, 1, i32s, i32s + 1};
  assert_int_equal(
      tw_linker_define_func(l, "host", "mv", &mv_type, host_mv, &mv_calls),
      0);
  assert_int_equal(
      tw_linker_define_func(l, "host", "fail", &t_fail, host_fail, NULL), 0);
  assert_int_equal(tw_linker_define_func(l, "host", "reenter", &t_re,
                                         host_reenter, NULL),
                   0);
  tw_module_t *m = rt_test_module(engine, wasm_host, sizeof wasm_host);
  tw_instance_t *in;
  char err[256];
  assert_int_equal(tw_instance_new(s, m, l, &in, err, sizeof err), 0);

  tw_val_t a = rt_i32(10), r;
  CALL(in, "sum_mv", &a, 1, &r, 1);
  assert_int_equal(r.of.i64, 11 + 20 + 1 + 2);

  tw_trap_info_t ti;
  a = rt_i32(0);
  assert_int_equal(tw_instance_call(in, "fail", &a, 1, NULL, 0, err,
                                    sizeof err),
                   TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_HOST);
  assert_string_equal(ti.message, "boom 7");
  assert_string_equal(err, "boom 7");

  a = rt_i32(1);
  assert_int_equal(tw_instance_call(in, "fail", &a, 1, NULL, 0, err,
                                    sizeof err),
                   TW_EEXIT);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_EXIT);
  assert_int_equal(ti.exit_code, 3);

  a = rt_i32(2);
  assert_int_equal(tw_instance_call(in, "fail", &a, 1, NULL, 0, err,
                                    sizeof err),
                   TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_HOST);
  assert_non_null(strstr(ti.message, "invalid argument"));

  a = rt_i32(3); /* host returns normally, then the guest traps */
  assert_int_equal(tw_instance_call(in, "fail", &a, 1, NULL, 0, err,
                                    sizeof err),
                   TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_UNREACHABLE);
  uint8_t *base;
  assert_int_equal(tw_instance_memory(in, "memory", &base, NULL), 0);
  assert_memory_equal(base + 8, "pong", 4);

  /* Re-entry: host -> guest -> host -> guest, and a nested trap passed
   * through the host function. */
  a = rt_i32(5);
  CALL(in, "reenter", &a, 1, &r, 1);
  assert_int_equal(r.of.i32, 6);
  a = rt_i32(1000);
  assert_int_equal(tw_instance_call(in, "reenter", &a, 1, &r, 1, err,
                                    sizeof err),
                   TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_UNREACHABLE);
  /* Still usable afterwards. */
  a = rt_i32(7);
  CALL(in, "reenter", &a, 1, &r, 1);
  assert_int_equal(r.of.i32, 8);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_NONE);

  tw_module_free(m);
  tw_linker_free(l);
  tw_store_free(s);
}

static void failed_instantiation_keeps_writes(void **state) {
  (void)state;
  rt_test_handlers();
  tw_store_t *s;
  tw_linker_t *l;
  tw_module_t *pm;
  assert_int_equal(tw_store_new(engine, &s), 0);
  assert_int_equal(tw_linker_new(engine, &l), 0);
  tw_instance_t *p = new_provider(s, &pm);
  assert_int_equal(tw_linker_define_instance(l, "p", p), 0);
  char err[256];
  tw_trap_info_t ti;
  tw_instance_t *x = NULL;

  tw_module_t *m = rt_test_module(engine, wasm_segments,
                                  sizeof wasm_segments);
  assert_int_equal(tw_instance_new(s, m, l, &x, err, sizeof err), TW_ETRAP);
  assert_null(x);
  assert_non_null(strstr(err, "out of bounds memory access"));
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_MEMORY_OOB);
  /* The element segment and the first data segment were applied, and the
   * failed instance's function stays callable through the table. */
  assert_int_equal(call_i32(p, "call_tab", 3, 0, 2), 7);
  assert_int_equal(call_i32(p, "peek", 200, 0, 1), 0x63);
  assert_int_equal(call_i32(p, "peek", 65535, 0, 1), 0);
  tw_module_free(m);

  m = rt_test_module(engine, wasm_elem_oob, sizeof wasm_elem_oob);
  assert_int_equal(tw_instance_new(s, m, l, &x, err, sizeof err), TW_ETRAP);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_TABLE_OOB);
  assert_string_equal(ti.message, "out of bounds table access");
  assert_int_equal(call_i32(p, "call_tab", 2, 0, 2), 9);
  assert_int_equal(call_i32(p, "call_tab", 3, 0, 2), 7); /* untouched */
  tw_module_free(m);

  m = rt_test_module(engine, wasm_start_trap, sizeof wasm_start_trap);
  assert_int_equal(tw_instance_new(s, m, l, &x, err, sizeof err), TW_ETRAP);
  assert_null(x);
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_UNREACHABLE);
  assert_string_equal(err, "start function: unreachable");
  assert_int_equal(call_i32(p, "peek", 300, 0, 1), 5);
  tw_module_free(m);

  tw_module_free(pm);
  tw_linker_free(l);
  tw_store_free(s);
}

static void queries_and_call_errors(void **state) {
  (void)state;
  rt_test_handlers();
  tw_module_t *m =
      rt_test_module(engine, wasm_consumer, sizeof wasm_consumer);
  assert_int_equal(tw_module_import_count(m), 6);
  const char *mn, *n;
  size_t mlen, nlen;
  tw_extern_kind_t k;
  assert_int_equal(tw_module_import_info(m, 1, &mn, &mlen, &n, &nlen, &k),
                   0);
  assert_true(mlen == 1 && memcmp(mn, "p", 1) == 0);
  assert_true(nlen == 3 && memcmp(n, "mem", 3) == 0);
  assert_int_equal(k, TW_EXTERN_KIND_MEMORY);
  assert_int_equal(tw_module_import_info(m, 6, &mn, &mlen, &n, &nlen, &k),
                   TW_ENOTFOUND);
  assert_int_equal(tw_module_export_count(m), 5);
  assert_int_equal(tw_module_export_info(m, 0, &n, &nlen, &k), 0);
  assert_true(nlen == 2 && memcmp(n, "k2", 2) == 0);
  assert_int_equal(k, TW_EXTERN_KIND_GLOBAL);
  tw_functype_t ft;
  assert_int_equal(tw_module_export_functype(m, "mv", &ft), 0);
  assert_int_equal(ft.nparams, 1);
  assert_int_equal(ft.nresults, 4);
  assert_memory_equal(ft.results, mv_results, 4);
  assert_int_equal(tw_module_export_functype(m, "k2", &ft), TW_ENOTFOUND);
  assert_true(tw_module_codegen_ms(m) >= 0 && tw_module_compile_ms(m) > 0);
  tw_module_free(m);

  char err[256];
  const unsigned char junk[] = {0, 'a', 's', 'm', 2, 0, 0, 0};
  assert_int_equal(tw_module_new(engine, junk, sizeof junk, &m, err,
                                 sizeof err),
                   TW_EMALFORMED);
  assert_int_equal(tw_module_validate(engine, wasm_traps, sizeof wasm_traps,
                                      err, sizeof err),
                   0);

  tw_store_t *s;
  assert_int_equal(tw_store_new(engine, &s), 0);
  tw_module_t *pm;
  tw_instance_t *p = new_provider(s, &pm);
  tw_val_t args[2] = {rt_i32(1), rt_f64(2)}, r[2];
  assert_int_equal(tw_instance_call(p, "nope", args, 1, r, 1, err,
                                    sizeof err),
                   TW_ENOTFOUND);
  assert_int_equal(tw_instance_call(p, "mem", args, 1, r, 1, err,
                                    sizeof err),
                   TW_ENOTFOUND);
  assert_int_equal(tw_instance_call(p, "double", args, 2, r, 1, err,
                                    sizeof err),
                   TW_ETYPE);
  assert_int_equal(tw_instance_call(p, "call_tab", args, 2, r, 1, err,
                                    sizeof err),
                   TW_ETYPE);
  assert_string_equal(err, "argument 2: expected i32, got f64");
  assert_int_equal(tw_instance_call(p, "double", args, 1, r, 0, err,
                                    sizeof err),
                   TW_ETYPE);
  assert_int_equal(tw_instance_initialize(p, err, sizeof err), 0);
  assert_ptr_equal(tw_instance_module(p), pm);
  tw_val_t v;
  assert_int_equal(tw_instance_global_get(p, "nope", &v), TW_ENOTFOUND);
  assert_int_equal(tw_instance_memory(p, "nope", NULL, NULL), TW_ENOTFOUND);
  tw_store_free(s);
  tw_module_free(pm);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(link_instances),
      cmocka_unit_test(unlinkable),
      cmocka_unit_test(host_functions),
      cmocka_unit_test(failed_instantiation_keeps_writes),
      cmocka_unit_test(queries_and_call_errors),
  };
  if (tw_engine_new(NULL, &engine)) return 1;
  rt_test_save_handlers();
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tw_engine_free(engine);
  return rc;
}
