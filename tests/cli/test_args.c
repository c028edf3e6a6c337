/* Unit tests of the CLI's JSON argument codec (src/cli/args.c): every
 * accepted form per type, every refusal with the argument it names, and
 * result printing. args.c lives in the executable, not the library, so it
 * is compiled into this test directly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cli/args.c"

static const uint8_t p_i32x2[] = {TW_I32, TW_I32};
static const uint8_t p_i64[] = {TW_I64};
static const uint8_t p_f32[] = {TW_F32};
static const uint8_t p_f64[] = {TW_F64};
static const uint8_t p_ref[] = {TW_EXTERNREF};
static const uint8_t p_v128[] = {TW_V128};

static tw_functype_t sig(const uint8_t *params, uint32_t n) {
  tw_functype_t t = {n, 0, params, NULL};
  return t;
}

/* Converts and expects success. */
static void ok(const char *json, const uint8_t *params, uint32_t n,
               tw_val_t *out) {
  char err[256] = "";
  tw_functype_t t = sig(params, n);
  int rc = tw_cli_args_from_json(json, &t, out, err, sizeof err);
  if (rc != 0) fail_msg("%s: unexpected error: %s", json, err);
}

/* Converts and expects a refusal whose message contains `want`. */
static void bad(const char *json, const uint8_t *params, uint32_t n,
                const char *want) {
  char err[256] = "";
  tw_val_t out[4];
  tw_functype_t t = sig(params, n);
  int rc = tw_cli_args_from_json(json, &t, out, err, sizeof err);
  assert_int_equal(rc, TW_EINVAL);
  if (!strstr(err, want)) fail_msg("%s: message '%s' lacks '%s'", json, err, want);
}

static void test_i32(void **state) {
  (void)state;
  tw_val_t v[2];
  ok("[2, 3]", p_i32x2, 2, v);
  assert_int_equal(v[0].type, TW_I32);
  assert_int_equal(v[0].of.i32, 2);
  assert_int_equal(v[1].of.i32, 3);
  ok("[-2147483648, 4294967295]", p_i32x2, 2, v);
  assert_int_equal(v[0].of.i32, 0x80000000u);
  assert_int_equal(v[1].of.i32, 0xffffffffu);
  bad("[4294967296, 0]", p_i32x2, 2, "argument 1: 4294967296 is out of range");
  bad("[0, -2147483649]", p_i32x2, 2, "argument 2: -2147483649 is out of range");
  bad("[\"2\", 3]", p_i32x2, 2, "argument 1: expected i32, got string");
  bad("[2, true]", p_i32x2, 2, "argument 2: expected i32, got boolean");
  bad("[2, null]", p_i32x2, 2, "argument 2: expected i32, got null");
  bad("[2.5, 1]", p_i32x2, 2, "argument 1: expected i32, got real");
  bad("[[], 1]", p_i32x2, 2, "argument 1: expected i32, got array");
  bad("[1, {}]", p_i32x2, 2, "argument 2: expected i32, got object");
}

static void test_count_and_syntax(void **state) {
  (void)state;
  tw_val_t v[1];
  ok("[]", NULL, 0, v);
  ok("  [ ]  ", NULL, 0, v);
  bad("[1]", p_i32x2, 2, "expected 2 arguments (i32 i32), got 1");
  bad("[1,2,3]", p_i32x2, 2, "expected 2 arguments (i32 i32), got 3");
  bad("[1]", NULL, 0, "expected 0 arguments");
  bad("", p_i32x2, 2, "invalid JSON");
  bad("[1,", p_i32x2, 2, "invalid JSON");
  bad("[1] x", p_i32x2, 2, "invalid JSON");
  bad("{\"a\": 1}", p_i32x2, 2, "expected a JSON array, got object");
  bad("5", p_i32x2, 2, "expected a JSON array, got integer");
}

static void test_i64(void **state) {
  (void)state;
  tw_val_t v[1];
  ok("[-9223372036854775808]", p_i64, 1, v);
  assert_true(v[0].of.i64 == UINT64_C(0x8000000000000000));
  ok("[9223372036854775807]", p_i64, 1, v);
  assert_true(v[0].of.i64 == UINT64_C(0x7fffffffffffffff));
  ok("[\"18446744073709551615\"]", p_i64, 1, v);
  assert_true(v[0].of.i64 == UINT64_MAX);
  ok("[\"-9223372036854775808\"]", p_i64, 1, v);
  assert_true(v[0].of.i64 == UINT64_C(0x8000000000000000));
  ok("[\"0\"]", p_i64, 1, v);
  assert_true(v[0].of.i64 == 0);
  bad("[\"18446744073709551616\"]", p_i64, 1, "out of range for i64");
  bad("[\"-9223372036854775809\"]", p_i64, 1, "out of range for i64");
  bad("[\"12a\"]", p_i64, 1, "argument 1: expected i64");
  bad("[\"\"]", p_i64, 1, "argument 1: expected i64");
  bad("[\"-\"]", p_i64, 1, "argument 1: expected i64");
  bad("[\"+1\"]", p_i64, 1, "argument 1: expected i64");
  bad("[\"1\\u00002\"]", p_i64, 1, "invalid JSON"); /* NUL refused */
  bad("[18446744073709551615]", p_i64, 1, "string of digits");
  bad("[1.0]", p_i64, 1, "argument 1: expected i64, got real");
}

static void test_floats(void **state) {
  (void)state;
  tw_val_t v[1];
  float f;
  double d;
  ok("[0.1]", p_f32, 1, v);
  memcpy(&f, &v[0].of.f32, sizeof f);
  assert_true(f == 0.1f);
  ok("[16777217]", p_f32, 1, v);
  memcpy(&f, &v[0].of.f32, sizeof f);
  assert_true(f == 16777216.0f);
  ok("[\"-inf\"]", p_f32, 1, v);
  assert_int_equal(v[0].of.f32, 0xff800000u);
  ok("[-0.0]", p_f64, 1, v);
  assert_true(v[0].of.f64 == UINT64_C(0x8000000000000000));
  ok("[1e308]", p_f64, 1, v);
  memcpy(&d, &v[0].of.f64, sizeof d);
  assert_true(d == 1e308);
  ok("[\"nan\"]", p_f64, 1, v);
  memcpy(&d, &v[0].of.f64, sizeof d);
  assert_true(d != d);
  ok("[\"inf\"]", p_f64, 1, v);
  assert_true(v[0].of.f64 == UINT64_C(0x7ff0000000000000));
  bad("[1e39]", p_f32, 1, "out of range for f32");
  bad("[1e400]", p_f64, 1, "invalid JSON");
  bad("[\"NaN\"]", p_f64, 1, "argument 1: expected f64, got string");
  bad("[false]", p_f32, 1, "argument 1: expected f32, got boolean");
  bad("[null]", p_f64, 1, "argument 1: expected f64, got null");
}

static void test_refs_and_v128(void **state) {
  (void)state;
  tw_val_t v[1];
  ok("[null]", p_ref, 1, v);
  assert_int_equal(v[0].type, TW_EXTERNREF);
  assert_null(v[0].of.ref);
  bad("[1]", p_ref, 1, "argument 1: expected externref (only null), got integer");
  bad("[\"0\"]", p_v128, 1, "argument 1: v128 parameters cannot be given");
}

static char *print_to_string(const tw_val_t *vals, size_t n) {
  static char buf[512];
  FILE *f = fmemopen(buf, sizeof buf, "w");
  assert_non_null(f);
  tw_cli_print_results(f, vals, n);
  fclose(f);
  return buf;
}

static void test_print(void **state) {
  (void)state;
  tw_val_t v[8];
  memset(v, 0, sizeof v);
  assert_string_equal(print_to_string(v, 0), "[]\n");

  v[0].type = TW_I32;
  v[0].of.i32 = 0xffffffffu;
  v[1].type = TW_I64;
  v[1].of.i64 = UINT64_C(0x8000000000000000);
  v[2].type = TW_F32;
  float f = 0.1f;
  memcpy(&v[2].of.f32, &f, sizeof f);
  v[3].type = TW_F64;
  double d = 0.1;
  memcpy(&v[3].of.f64, &d, sizeof d);
  v[4].type = TW_F64;
  v[4].of.f64 = UINT64_C(0xfff0000000000000);
  v[5].type = TW_F32;
  v[5].of.f32 = 0x7fc00001u;
  v[6].type = TW_FUNCREF;
  v[6].of.ref = NULL;
  v[7].type = TW_EXTERNREF;
  v[7].of.ref = &v[0];
  assert_string_equal(print_to_string(v, 8),
                      "[-1,-9223372036854775808,0.100000001,"
                      "0.10000000000000001,\"-inf\",\"nan\",null,\"ref\"]\n");

  memset(&v[0], 0, sizeof v[0]);
  v[0].type = TW_V128;
  v[0].of.v128[0] = 0x01;
  v[0].of.v128[15] = 0xab;
  assert_string_equal(print_to_string(v, 1),
                      "[\"0xab000000000000000000000000000001\"]\n");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_i32),
      cmocka_unit_test(test_count_and_syntax),
      cmocka_unit_test(test_i64),
      cmocka_unit_test(test_floats),
      cmocka_unit_test(test_refs_and_v128),
      cmocka_unit_test(test_print),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
