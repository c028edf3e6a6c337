/* Every trap kind raised by real generated code (tests/rt/wat/traps.wat),
 * with the specification's message, and the instance still usable after
 * each one; bulk-memory bounds at exactly the end.
 */
#include "rt/rt_test.h"

#include "rt/modules.h"

static tw_engine_t *engine;
static tw_store_t *store;
static tw_instance_t *inst;

static void expect_trap(const char *name, const tw_val_t *args, size_t n,
                        tw_trap_kind_t kind) {
  char err[256] = "";
  tw_val_t r[1];
  int rc = tw_instance_call(inst, name, args, n, r, 1, err, sizeof err);
  if (rc != TW_ETRAP)
    fail_msg("%s: expected a trap, got %s (%s)", name, tw_strerror(rc), err);
  tw_trap_info_t ti;
  tw_store_last_trap(store, &ti);
  if (ti.kind != kind)
    fail_msg("%s: expected trap \"%s\", got \"%s\"", name,
             tw_trap_message(kind), ti.message);
  assert_string_equal(ti.message, tw_trap_message(kind));
  assert_string_equal(err, tw_trap_message(kind));
  /* The instance keeps working after the trap. */
  rc = tw_instance_call(inst, "ok", NULL, 0, r, 1, err, sizeof err);
  assert_int_equal(rc, 0);
  assert_int_equal(r[0].of.i32, 42);
}

static void expect_ok(const char *name, const tw_val_t *args, size_t n) {
  char err[256] = "";
  tw_val_t r[1];
  int rc = tw_instance_call(inst, name, args, n, r, 1, err, sizeof err);
  if (rc) fail_msg("%s: %s (%s)", name, tw_strerror(rc), err);
}

static void each_kind(void **state) {
  (void)state;
  rt_test_handlers();
  tw_val_t a[2];
  expect_trap("unreachable", NULL, 0, TW_TRAP_UNREACHABLE);

  a[0] = rt_i32(65532);
  expect_ok("load", a, 1);
  a[0] = rt_i32(65533);
  expect_trap("load", a, 1, TW_TRAP_MEMORY_OOB);
  a[0] = rt_i32(0xffffffffu);
  expect_trap("load", a, 1, TW_TRAP_MEMORY_OOB);
  a[0] = rt_i32(0xffffffffu); /* address + offset near 8 GiB */
  expect_trap("store_off", a, 1, TW_TRAP_MEMORY_OOB);

  a[0] = rt_i32(0);
  expect_trap("div0", a, 1, TW_TRAP_DIV_BY_ZERO);
  a[0] = rt_i32(0x80000000u);
  expect_trap("overflow", a, 1, TW_TRAP_INT_OVERFLOW);
  a[0] = rt_f64(3e9);
  expect_trap("conv", a, 1, TW_TRAP_INT_OVERFLOW);
  a[0] = rt_f64(0.0 / 0.0);
  expect_trap("conv", a, 1, TW_TRAP_BAD_CONVERSION);

  a[0] = rt_i32(0);
  expect_ok("call_ind", a, 1);
  a[0] = rt_i32(1);
  expect_trap("call_ind", a, 1, TW_TRAP_INDIRECT_CALL_TYPE);
  a[0] = rt_i32(2);
  expect_trap("call_ind", a, 1, TW_TRAP_UNINITIALIZED_ELEMENT);
  a[0] = rt_i32(3);
  expect_trap("call_ind", a, 1, TW_TRAP_UNDEFINED_ELEMENT);

  a[0] = rt_i32(0);
  expect_ok("table_get", a, 1);
  a[0] = rt_i32(1);
  expect_trap("table_get", a, 1, TW_TRAP_TABLE_OOB);

  /* memory.fill: n == 0 exactly at the end is fine, one past is not. */
  a[0] = rt_i32(65536);
  a[1] = rt_i32(0);
  expect_ok("fill", a, 2);
  a[0] = rt_i32(65537);
  expect_trap("fill", a, 2, TW_TRAP_MEMORY_OOB);
  a[0] = rt_i32(65000);
  a[1] = rt_i32(537);
  expect_trap("fill", a, 2, TW_TRAP_MEMORY_OOB);

  a[0] = rt_i32(0);
  expect_trap("recurse", a, 1, TW_TRAP_STACK_EXHAUSTED);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(each_kind),
  };
  if (tw_engine_new(NULL, &engine) || tw_store_new(engine, &store))
    return 1;
  rt_test_save_handlers();
  char err[256];
  tw_module_t *m;
  if (tw_module_new(engine, wasm_traps, sizeof wasm_traps, &m, err,
                    sizeof err) ||
      tw_instance_new(store, m, NULL, &inst, err, sizeof err)) {
    fprintf(stderr, "setup: %s\n", err);
    return 1;
  }
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tw_store_free(store);
  tw_module_free(m);
  tw_engine_free(engine);
  return rc;
}
