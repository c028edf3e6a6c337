/* Focused checks of the generated C text: module strings never reach the
 * output (export/import names full of comment ends, quotes, backslashes,
 * newlines, trigraph-like "??=" and NULs still compile), and SIMD goes
 * through the v128 helpers. Modules are
 * assembled here byte by byte (all sizes fit in one LEB128 byte).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "tw/tw.h"
#include "codegen/codegen.h"
#include "wasm/wasm.h"

struct bytes {
  uint8_t b[4096];
  size_t n;
};

static void put(struct bytes *o, const void *p, size_t n) {
  assert_true(o->n + n <= sizeof o->b);
  memcpy(o->b + o->n, p, n);
  o->n += n;
}
static void put1(struct bytes *o, uint8_t v) { put(o, &v, 1); }
static void section(struct bytes *o, uint8_t id, const struct bytes *s) {
  assert_true(s->n < 128);
  put1(o, id);
  put1(o, (uint8_t)s->n);
  put(o, s->b, s->n);
}
static void name(struct bytes *o, const char *s, size_t n) {
  put1(o, (uint8_t)n);
  put(o, s, n);
}

struct nm {
  const char *s;
  size_t n;
};
#define NM(lit) {lit, sizeof(lit) - 1}
static const struct nm k_names[] = {
    NM("*/ evil(); /*"),     NM("quote\"back\\slash"), NM("new\nline"),
    NM("?\?=?\?/trigraph?\?'"), NM("nul\0byte"),          NM("\xc3\xa9 */ \\"),
};
#define NNAMES (sizeof k_names / sizeof k_names[0])

/* (import "*\/..." "quote...": func [] -> [i32]); one defined function
 * returning 42, exported under every name in k_names. */
static void build_names_module(struct bytes *m) {
  static const uint8_t hdr[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  struct bytes s;
  put(m, hdr, sizeof hdr);
  s.n = 0; /* type: [] -> [i32] */
  put(&s, (const uint8_t[]){1, 0x60, 0, 1, 0x7f}, 5);
  section(m, 1, &s);
  s.n = 0; /* import */
  put1(&s, 1);
  name(&s, k_names[0].s, k_names[0].n);
  name(&s, k_names[4].s, k_names[4].n);
  put(&s, (const uint8_t[]){0, 0}, 2);
  section(m, 2, &s);
  s.n = 0; /* function */
  put(&s, (const uint8_t[]){1, 0}, 2);
  section(m, 3, &s);
  s.n = 0; /* export */
  put1(&s, (uint8_t)NNAMES);
  for (size_t i = 0; i < NNAMES; i++) {
    name(&s, k_names[i].s, k_names[i].n);
    put(&s, (const uint8_t[]){0, 1}, 2);
  }
  section(m, 7, &s);
  s.n = 0; /* code: call the import, drop, i32.const 42 */
  put(&s, (const uint8_t[]){1, 7, 0, 0x10, 0, 0x1a, 0x41, 42, 0x0b}, 9);
  section(m, 10, &s);
}

static void test_names_never_in_output(void **state) {
  (void)state;
  struct bytes w = {.n = 0};
  build_names_module(&w);
  struct tw__module *m = NULL;
  char err[512];
  assert_int_equal(tw__module_decode(w.b, w.n, &m, err, sizeof err), 0);
  assert_int_equal(tw__module_validate(m, err, sizeof err), 0);
  struct tw__buf c;
  tw__buf_init(&c, 1 << 24);
  assert_int_equal(tw__codegen_c(m, &c, err, sizeof err), 0);
  tw__buf_cstr(&c);
  /* the module's part of the output (after the prelude) */
  const char *gen = c.data + tw__prelude_text_len;
  size_t genlen = c.len - tw__prelude_text_len;
  for (size_t i = 0; i < NNAMES; i++)
    assert_null(memmem(gen, genlen, k_names[i].s, k_names[i].n));
  assert_null(memmem(c.data, c.len, "?\?", 2)); /* no trigraph anywhere */
  assert_null(memchr(c.data, '\0', c.len));
  struct tw__code *code = NULL;
  int rc = tw__tier0_compile(c.data, c.len, &code, err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  assert_int_equal(rc, 0);
  assert_non_null(tw__code_entry(code));
  tw__code_free(code);
  tw__buf_free(&c);
  tw__module_free(m);
}

/* SIMD goes through the v128 helpers of prelude_simd.h, and the C
 * compiles; a module without SIMD leaves those helpers out. */
static void test_simd_helpers(void **state) {
  (void)state;
  static const uint8_t hdr[] = {0, 'a', 's', 'm', 1, 0, 0, 0};
  struct bytes w = {.n = 0}, s = {.n = 0};
  put(&w, hdr, sizeof hdr);
  put(&s, (const uint8_t[]){1, 0x60, 0, 0}, 4);
  section(&w, 1, &s);
  s.n = 0;
  put(&s, (const uint8_t[]){1, 0}, 2);
  section(&w, 3, &s);
  s.n = 0; /* body: v128.const 0, drop, end */
  put(&s, (const uint8_t[]){1, 21, 0, 0xfd, 0x0c}, 5);
  for (int i = 0; i < 16; i++) put1(&s, 0);
  put(&s, (const uint8_t[]){0x1a, 0x0b}, 2);
  section(&w, 10, &s);
  struct tw__module *m = NULL;
  char err[512];
  assert_int_equal(tw__module_decode(w.b, w.n, &m, err, sizeof err), 0);
  assert_int_equal(tw__module_validate(m, err, sizeof err), 0);
  struct tw__buf c;
  tw__buf_init(&c, 1 << 24);
  assert_int_equal(tw__codegen_c(m, &c, err, sizeof err), 0);
  assert_int_equal(tw__buf_cstr(&c), 0);
  assert_non_null(strstr(c.data, "twr_v128_make(0x0000000000000000ull"));
  assert_int_not_equal(strncmp(c.data, "#define TWR_NO_SIMD", 19), 0);
  struct tw__code *code = NULL;
  int rc = tw__tier0_compile(c.data, c.len, &code, err, sizeof err);
  if (rc) fprintf(stderr, "%s\n", err);
  assert_int_equal(rc, 0);
  tw__code_free(code);
  tw__buf_free(&c);
  tw__module_free(m);

  w.n = 0;
  build_names_module(&w);
  assert_int_equal(tw__module_decode(w.b, w.n, &m, err, sizeof err), 0);
  tw__buf_init(&c, 1 << 24);
  assert_int_equal(tw__codegen_c(m, &c, err, sizeof err), 0);
  assert_int_equal(tw__buf_cstr(&c), 0);
  assert_int_equal(strncmp(c.data, "#define TWR_NO_SIMD", 19), 0);
  tw__buf_free(&c);
  tw__module_free(m);
}

static size_t count(const char *s, const char *what) {
  size_t n = 0;
  for (const char *p = strstr(s, what); p; p = strstr(p + 1, what)) n++;
  return n;
}

/* The C of a module, from its text (NUL-terminated, owned by *c), with
 * covered loads found (tier 1) or not (tier 0); plain: tier 0's plain
 * memory accesses. */
static const char *gen_c_ex(const char *wat, bool cover, bool plain,
                            struct tw__buf *c, struct tw__module **m) {
  uint8_t *bin;
  size_t n;
  char err[512];
  assert_int_equal(tw_wat_to_wasm(wat, strlen(wat), &bin, &n, err,
                                  sizeof err), 0);
  assert_int_equal(tw__module_decode(bin, n, m, err, sizeof err), 0);
  tw_free(bin);
  assert_int_equal(tw__module_validate(*m, err, sizeof err), 0);
  tw__buf_init(c, 1 << 24);
  struct tw__codegen_opts o;
  tw__codegen_opts_default(&o);
  o.cover_loads = cover;
  o.plain_mem = plain;
  assert_int_equal(tw__codegen_c_ex(*m, &o, c, err, sizeof err), 0);
  assert_int_equal(tw__buf_cstr(c), 0);
  const char *body = strstr(c->data, "/* generated by TensorWasm codegen");
  assert_non_null(body);
  return body;
}

static const char *gen_c(const char *wat, bool cover, struct tw__buf *c,
                         struct tw__module **m) {
  return gen_c_ex(wat, cover, false, c, m);
}

/* Tier 0 writes loads and stores as plain C, each access's offset added
 * to the pointer after the 32-bit address (no wrap); shifts by a constant
 * have the count reduced in the C (35 & 31 = 3), other counts are masked
 * there. */
static void test_plain_mem_and_shifts(void **state) {
  (void)state;
  static const char wat[] =
      "(module (memory 1)\n"
      " (func (export \"f\") (param i32 i32) (result i64)\n"
      "  (i32.store16 offset=6 (local.get 0)\n"
      "    (i32.shl (i32.load8_s (local.get 0)) (i32.const 35)))\n"
      "  (i64.shr_s (i64.load offset=8 (local.get 1)) (i64.const 65))\n"
      "  (drop (i32.shr_u (local.get 0) (local.get 1)))))\n";
  struct tw__buf c;
  struct tw__module *m = NULL;
  const char *body = gen_c_ex(wat, false, true, &c, &m);
  assert_int_equal(count(body, "TWR_LOAD("), 0);
  assert_int_equal(count(body, "TWR_STORE("), 0);
  assert_int_equal(count(body, "(*(twr_u8 *)(m0_ + l0))"), 1);
  assert_int_equal(count(body, "(*(twr_u64 *)(m0_ + l1 + 8u))"), 1);
  assert_int_equal(count(body, "*(twr_u16 *)(m0_ + l0 + 6u) = (twr_u16)"), 1);
  assert_int_equal(count(body, " << 3u;"), 1);
  assert_int_equal(count(body, "(twr_i64)s0l >> 1ull)"), 1);
  assert_int_equal(count(body, ">> (l1 & 31)"), 1);
  tw__buf_free(&c);
  tw__module_free(m);
  /* The macros otherwise (tier 1: keeps, order). */
  body = gen_c(wat, false, &c, &m);
  assert_int_equal(count(body, "TWR_LOAD("), 2);
  assert_int_equal(count(body, "TWR_STORE("), 1);
  assert_int_equal(count(body, "m0_ + l"), 0);
  tw__buf_free(&c);
  tw__module_free(m);
}

/* Deadline checks: a loop whose every iteration calls a function that
 * calls (and so checks at its entry) has no header check; a loop calling
 * a leaf, branching back before its call, or calling only inside a
 * nested block keeps it. Every function that calls checks at entry.
 * Without a memory the check compares the limit word; with one it reads
 * memory 0's poll page (loading the base only where a check stays). */
static void test_loop_checks(void **state) {
  (void)state;
  static const char funcs[] =
      " (func $nop) (func $calls (call $nop))\n"
      " (func (export \"a\") (loop $l (call $calls) (br $l)))\n"
      " (func (export \"b\") (loop $l (call $nop) (br $l)))\n"
      " (func (export \"c\") (param i32)\n"
      "  (loop $l (br_if $l (local.get 0)) (call $calls) (br $l)))\n"
      " (func (export \"d\") (loop $l (block (call $calls)) (br $l))))\n";
  for (int mem = 0; mem < 2; mem++) {
    char wat[1024];
    snprintf(wat, sizeof wat, "(module%s%s", mem ? " (memory 1)" : "", funcs);
    struct tw__buf c;
    struct tw__module *m = NULL;
    const char *body = gen_c(wat, false, &c, &m);
    assert_int_equal(count(body, "TWR_POLL(x);"), mem ? 0 : 3);
    assert_int_equal(count(body, "TWR_POLLM(m0_);"), mem ? 3 : 0);
    /* "a" loses its check (its call checks) and with it the base. */
    assert_int_equal(count(body, "twr_u8 *const m0_ = in->mem0;"),
                     mem ? 3 : 0);
    assert_int_equal(count(body, "TWR_ENTER_S(x,"), 5);
    tw__buf_free(&c);
    tw__module_free(m);
  }
}

/* Loads drop their keep only when a load or store of the same address
 * value, ending at the same byte or later, follows in the same
 * straight-line code with nothing in between that has an effect or may
 * trap: x[i] += v, also through a local.tee'd address, a store at a
 * higher offset, fields read in ascending order; not a wider load, a
 * lower offset, another address (x + 4 is another value: it may wrap),
 * a store after a call, a division or a label, a load whose address
 * local changed, or a dropped load with nothing after it. */
static void test_covered_loads(void **state) {
  (void)state;
  static const char wat[] =
      "(module (memory 1) (func $f)\n"
      " (func (export \"inc\") (param i32)\n"      /* covered */
      "  (i32.store (local.get 0) (i32.add (i32.load (local.get 0))\n"
      "                                      (i32.const 1))))\n"
      " (func (export \"tee\") (param i32) (local i32)\n" /* covered */
      "  (f64.store offset=8 (local.tee 1 (i32.add (local.get 0) (i32.const 8)))\n"
      "    (f64.add (f64.load offset=8 (local.get 1)) (f64.const 1))))\n"
      " (func (export \"narrow\") (param i32)\n"   /* covered: 1 <= 4 */
      "  (i32.store (local.get 0) (i32.load8_u (local.get 0))))\n"
      " (func (export \"wide\") (param i32)\n"     /* 8 bytes > 4 */
      "  (i32.store (local.get 0) (i32.wrap_i64 (i64.load (local.get 0)))))\n"
      " (func (export \"offs\") (param i32)\n"
      "  (i32.store offset=4 (local.get 0) (i32.load (local.get 0))))\n"
      " (func (export \"other\") (param i32 i32)\n"
      "  (i32.store (local.get 1) (i32.load (local.get 0))))\n"
      " (func (export \"call\") (param i32) (local i32)\n"
      "  (local.set 1 (i32.load (local.get 0))) (call $f)\n"
      "  (i32.store (local.get 0) (local.get 1)))\n"
      " (func (export \"div\") (param i32)\n"
      "  (i32.store (local.get 0) (i32.div_u (i32.const 1) (i32.load (local.get 0)))))\n"
      " (func (export \"label\") (param i32) (local i32)\n"
      "  (local.set 1 (i32.load (local.get 0))) (block)\n"
      "  (i32.store (local.get 0) (local.get 1)))\n"
      " (func (export \"moved\") (param i32) (local i32)\n"
      "  (local.set 1 (i32.load (local.get 0)))\n"
      "  (local.set 0 (i32.add (local.get 0) (i32.const 4)))\n"
      "  (i32.store (local.get 0) (local.get 1)))\n"
      " (func (export \"dropped\") (param i32)\n"
      "  (drop (i32.load (local.get 0))))\n"
      " (func (export \"fields\") (param i32) (result i32)\n" /* 2 covered */
      "  (i32.add (i32.add (i32.load (local.get 0)) (i32.load16_u offset=4 (local.get 0)))\n"
      "           (i32.load offset=8 (local.get 0))))\n"
      " (func (export \"lower\") (param i32) (result i32)\n"
      "  (i32.add (i32.load offset=8 (local.get 0)) (i32.load (local.get 0))))\n"
      " (func (export \"wrap\") (param i32)\n"
      "  (i32.store (i32.add (local.get 0) (i32.const 64))\n"
      "    (i32.load (i32.add (local.get 0) (i32.const 4))))))\n";
  struct tw__buf c;
  struct tw__module *m = NULL;
  const char *body = gen_c(wat, true, &c, &m);
  /* inc, tee, narrow, offs, fields' first two */
  assert_int_equal(count(body, "TWR_LDNK("), 6);
  assert_int_equal(count(body, "TWR_LOAD("), 11);
  tw__buf_free(&c);
  tw__module_free(m);
  /* Tier 0 does not look: tcc keeps every load anyway. */
  body = gen_c(wat, false, &c, &m);
  assert_int_equal(count(body, "TWR_LDNK("), 0);
  assert_int_equal(count(body, "TWR_LOAD("), 17);
  tw__buf_free(&c);
  tw__module_free(m);
}

/* The output limit is honoured with TW_ELIMIT. */
static void test_output_limit(void **state) {
  (void)state;
  struct bytes w = {.n = 0};
  build_names_module(&w);
  struct tw__module *m = NULL;
  char err[512];
  assert_int_equal(tw__module_decode(w.b, w.n, &m, err, sizeof err), 0);
  struct tw__buf c;
  tw__buf_init(&c, tw__prelude_text_len + 64);
  assert_int_equal(tw__codegen_c(m, &c, err, sizeof err), TW_ELIMIT);
  tw__buf_free(&c);
  tw__module_free(m);
}

/* tier0 reports tcc's first message as TW_ECOMPILE. */
static void test_tier0_error(void **state) {
  (void)state;
  static const char bad[] = "int f(void) { return nope; }\n";
  struct tw__code *code = NULL;
  char err[512] = "";
  assert_int_equal(tw__tier0_compile(bad, sizeof bad - 1, &code, err, sizeof err),
                   TW_ECOMPILE);
  assert_null(code);
  assert_non_null(strstr(err, "nope"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_names_never_in_output),
      cmocka_unit_test(test_simd_helpers),
      cmocka_unit_test(test_loop_checks),
      cmocka_unit_test(test_covered_loads),
      cmocka_unit_test(test_plain_mem_and_shifts),
      cmocka_unit_test(test_output_limit),
      cmocka_unit_test(test_tier0_error),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
