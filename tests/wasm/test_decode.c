/* Decoder and instruction-reader tests: a real module decoded field by
 * field, every truncation of it, absurd counts, section order, LEB128 and
 * UTF-8 edge cases, constant expressions, and the spec's binary
 * assert_malformed modules (read from the shared conformance folder,
 * skipped when it is absent).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "wasm/decode_int.h"
#include "wasm/wasm.h"

/* wat2wasm --debug-names of a module using imports of every kind, a
 * table, globals (one v128), exports, start, three element segments
 * (active, passive with expressions, declarative), datacount, two data
 * segments and a function with br_table, select t, memory.fill/init,
 * SIMD, float constants and call_indirect. */
static const unsigned char k_full[] = {
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, 0x01, 0x0a, 0x02, 0x60,
  0x02, 0x7f, 0x7e, 0x01, 0x7f, 0x60, 0x00, 0x00, 0x02, 0x1e, 0x03, 0x03,
  0x65, 0x6e, 0x76, 0x01, 0x66, 0x00, 0x00, 0x03, 0x65, 0x6e, 0x76, 0x03,
  0x6d, 0x65, 0x6d, 0x02, 0x01, 0x01, 0x02, 0x03, 0x65, 0x6e, 0x76, 0x01,
  0x67, 0x03, 0x7f, 0x00, 0x03, 0x03, 0x02, 0x00, 0x01, 0x04, 0x05, 0x01,
  0x70, 0x01, 0x02, 0x0a, 0x06, 0x1b, 0x02, 0x7e, 0x01, 0x42, 0x7b, 0x0b,
  0x7b, 0x00, 0xfd, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00,
  0x03, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x0b, 0x07, 0x0d, 0x02,
  0x03, 0x61, 0x64, 0x64, 0x00, 0x01, 0x03, 0x74, 0x61, 0x62, 0x01, 0x00,
  0x08, 0x01, 0x02, 0x09, 0x15, 0x03, 0x00, 0x41, 0x00, 0x0b, 0x02, 0x01,
  0x00, 0x05, 0x70, 0x02, 0xd2, 0x01, 0x0b, 0xd0, 0x70, 0x0b, 0x03, 0x00,
  0x01, 0x01, 0x0c, 0x01, 0x02, 0x0a, 0x6e, 0x02, 0x69, 0x03, 0x01, 0x7d,
  0x01, 0x7c, 0x01, 0x7b, 0x02, 0x7f, 0x20, 0x00, 0x20, 0x00, 0x0e, 0x02,
  0x00, 0x00, 0x00, 0x0b, 0x1a, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc,
  0x0b, 0x00, 0x41, 0x00, 0x41, 0x00, 0x41, 0x00, 0xfc, 0x08, 0x01, 0x00,
  0xfc, 0x09, 0x01, 0xfd, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xfd, 0x15, 0x03,
  0x1a, 0x41, 0x01, 0x41, 0x02, 0x41, 0x00, 0x1c, 0x01, 0x7f, 0x1a, 0x44,
  0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf8, 0x3f, 0x1a, 0x43, 0x00, 0x00,
  0x10, 0xc0, 0x1a, 0x41, 0x00, 0x40, 0x00, 0x1a, 0x41, 0x01, 0x42, 0x02,
  0x41, 0x00, 0x11, 0x00, 0x00, 0x0b, 0x02, 0x00, 0x0b, 0x0b, 0x12, 0x02,
  0x00, 0x41, 0x08, 0x0b, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x01, 0x05,
  0x77, 0x6f, 0x72, 0x6c, 0x64, 0x00, 0x45, 0x04, 0x6e, 0x61, 0x6d, 0x65,
  0x01, 0x0e, 0x03, 0x00, 0x03, 0x69, 0x6d, 0x70, 0x01, 0x03, 0x61, 0x64,
  0x64, 0x02, 0x01, 0x73, 0x02, 0x07, 0x03, 0x00, 0x00, 0x01, 0x00, 0x02,
  0x00, 0x04, 0x04, 0x01, 0x00, 0x01, 0x74, 0x05, 0x06, 0x01, 0x00, 0x03,
  0x74, 0x61, 0x62, 0x07, 0x0a, 0x03, 0x00, 0x01, 0x67, 0x01, 0x01, 0x68,
  0x02, 0x01, 0x76, 0x08, 0x04, 0x01, 0x01, 0x01, 0x70, 0x09, 0x05, 0x01,
  0x01, 0x02, 0x70, 0x64
};

#define HDR 0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00

static int decode(const uint8_t *b, size_t n, struct tw__module **m,
                  char *err, size_t errlen) {
  int rc = tw__module_decode(b, n, m, err, errlen);
  if (rc == 0) assert_non_null(*m);
  else assert_null(*m);
  return rc;
}

/* Decodes and also reads every instruction of every body, as the
 * validator would: the decoder leaves instruction encodings to it. */
static int decode_all(const uint8_t *b, size_t n, char *err, size_t errlen) {
  struct tw__module *m;
  int rc = decode(b, n, &m, err, errlen);
  if (rc) return rc;
  for (uint32_t i = 0; i < m->nfuncs && rc == 0; i++) {
    struct tw__reader r;
    struct tw__instr in;
    tw__reader_init(&r, m->bytes, m->funcs[i].code, m->funcs[i].end);
    while (r.p < r.end && rc == 0) rc = tw__reader_next(&r, &in, err, errlen);
    tw__reader_close(&r);
  }
  tw__module_free(m);
  return rc;
}

static void expect_fail(const uint8_t *b, size_t n, int code,
                        const char *needle) {
  char err[512];
  struct tw__module *m;
  int rc = decode(b, n, &m, err, sizeof err);
  if (rc != code || (needle && !strstr(err, needle)))
    fail_msg("expected %d \"%s\", got %d \"%s\"", code, needle ? needle : "",
             rc, err);
}

static void test_minimal(void **state) {
  (void)state;
  static const uint8_t b[] = {HDR};
  struct tw__module *m;
  char err[256];
  assert_int_equal(decode(b, sizeof b, &m, err, sizeof err), 0);
  assert_int_equal(m->ntypes, 0);
  assert_int_equal(tw__module_func_count(m), 0);
  assert_false(m->has_start);
  tw__module_free(m);

  static const uint8_t one[] = {HDR,  0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
                                0x03, 0x02, 0x01, 0x00, 0x0a, 0x04, 0x01,
                                0x02, 0x00, 0x0b};
  assert_int_equal(decode(one, sizeof one, &m, err, sizeof err), 0);
  assert_int_equal(m->nfuncs, 1);
  assert_int_equal(m->funcs[0].nlocals, 0);
  assert_int_equal(m->funcs[0].end - m->funcs[0].code, 1);
  assert_int_equal(m->funcs[0].code[0], 0x0b);
  tw__module_free(m);
}

static void test_header(void **state) {
  (void)state;
  static const uint8_t empty[1] = {0};
  expect_fail(empty, 0, TW_EMALFORMED, "unexpected end");
  static const uint8_t asm_[] = {0x00, 0x61, 0x73};
  expect_fail(asm_, sizeof asm_, TW_EMALFORMED, "unexpected end");
  static const uint8_t bad[] = {0x00, 0x61, 0x73, 0x6e, 1, 0, 0, 0};
  expect_fail(bad, sizeof bad, TW_EMALFORMED, "magic header not detected");
  static const uint8_t v[] = {0x00, 0x61, 0x73, 0x6d, 1, 0, 0};
  expect_fail(v, sizeof v, TW_EMALFORMED, "unexpected end");
  static const uint8_t v2[] = {0x00, 0x61, 0x73, 0x6d, 2, 0, 0, 0};
  expect_fail(v2, sizeof v2, TW_EMALFORMED, "unknown binary version");
}

static void test_full_module(void **state) {
  (void)state;
  struct tw__module *m;
  char err[256];
  assert_int_equal(decode(k_full, sizeof k_full, &m, err, sizeof err), 0);
  assert_int_equal(m->ntypes, 2);
  assert_int_equal(m->types[0].nparams, 2);
  assert_int_equal(m->types[0].nresults, 1);
  assert_int_equal(m->types[0].types[0], TW_T_I32);
  assert_int_equal(m->types[0].types[1], TW_T_I64);
  assert_int_equal(m->types[0].types[2], TW_T_I32);
  assert_int_equal(m->nimports, 3);
  assert_int_equal(m->nfunc_imports, 1);
  assert_int_equal(m->nmemory_imports, 1);
  assert_int_equal(m->nglobal_imports, 1);
  assert_string_equal(m->imports[1].name, "mem");
  assert_true(m->imports[1].desc.memory.has_max);
  assert_int_equal(m->imports[1].desc.memory.max, 2);
  assert_int_equal(tw__module_func_count(m), 3);
  assert_int_equal(tw__module_func_type(m, 0), 0);
  assert_int_equal(tw__module_func_type(m, 2), 1);
  assert_int_equal(tw__module_memory_count(m), 1);
  assert_int_equal(tw__module_memory(m, 0)->min, 1);
  assert_null(tw__module_memory(m, 1));
  assert_int_equal(tw__module_table_count(m), 1);
  assert_int_equal(tw__module_table(m, 0)->limits.max, 10);
  assert_int_equal(tw__module_global_count(m), 3);
  assert_int_equal(tw__module_global(m, 0)->type, TW_T_I32);
  assert_true(tw__module_global(m, 1)->mutable_);
  assert_int_equal(m->globals[0].init.kind, TW_INIT_CONST);
  assert_int_equal(m->globals[0].init.type, TW_T_I64);
  assert_int_equal((int64_t)m->globals[0].init.value.bits, -5);
  assert_int_equal(m->globals[1].init.type, TW_T_V128);
  assert_int_equal(m->globals[1].init.value.v128[4], 2);
  assert_int_equal(m->nexports, 2);
  assert_string_equal(m->exports[0].name, "add");
  assert_int_equal(m->exports[1].kind, TW_EXTERN_TABLE);
  assert_true(m->has_start);
  assert_int_equal(m->start, 2);
  assert_int_equal(m->nelems, 3);
  assert_int_equal(m->elems[0].mode, TW_SEG_ACTIVE);
  assert_int_equal(m->elems[0].offset.kind, TW_INIT_CONST);
  assert_int_equal(m->elems[0].count, 2);
  assert_int_equal(m->elems[0].items[1].kind, TW_INIT_REF_FUNC);
  assert_int_equal(m->elems[0].items[1].index, 0);
  assert_int_equal(m->elems[1].mode, TW_SEG_PASSIVE);
  assert_int_equal(m->elems[1].items[1].kind, TW_INIT_REF_NULL);
  assert_int_equal(m->elems[1].items[1].type, TW_T_FUNCREF);
  assert_int_equal(m->elems[2].mode, TW_SEG_DECLARATIVE);
  assert_true(m->has_datacount);
  assert_int_equal(m->datacount, 2);
  assert_int_equal(m->ndatas, 2);
  assert_int_equal(m->datas[0].len, 5);
  assert_memory_equal(m->datas[0].bytes, "hello", 5);
  assert_int_equal(m->datas[1].mode, TW_SEG_PASSIVE);
  assert_int_equal(m->funcs[0].nlocals, 3);
  assert_int_equal(m->funcs[0].local_types[0], TW_T_F32);
  assert_int_equal(m->funcs[0].local_types[2], TW_T_V128);
  assert_string_equal(tw__module_func_name(m, 1), "add");
  assert_null(tw__module_func_name(m, 99));

  /* the body, instruction by instruction */
  struct tw__reader r;
  struct tw__instr in;
  unsigned seen = 0;
  tw__reader_init(&r, m->bytes, m->funcs[0].code, m->funcs[0].end);
  while (r.p < r.end) {
    assert_int_equal(tw__reader_next(&r, &in, err, sizeof err), 0);
    assert_true(tw__op_valid(in.op));
    switch (in.op) {
    case TW_OP_BR_TABLE:
      assert_int_equal(in.ntargets, 2);
      assert_int_equal(in.targets[0], 0);
      assert_int_equal(in.idx, 0);
      seen |= 1;
      break;
    case TW_OP_SELECT_T:
      assert_int_equal(in.select_count, 1);
      assert_int_equal(in.reftype, TW_T_I32);
      seen |= 2;
      break;
    case TW_OP_F64_CONST:
      assert_true(in.i64 == 0x3ff8000000000000ull);
      seen |= 4;
      break;
    case TW_OP_F32_CONST:
      assert_true(in.i64 == 0xc0100000u);
      seen |= 8;
      break;
    case TW_OP_I8X16_EXTRACT_LANE_S:
      assert_int_equal(in.lane, 3);
      seen |= 16;
      break;
    case TW_OP_MEMORY_INIT:
      assert_int_equal(in.idx, 1);
      seen |= 32;
      break;
    case TW_OP_CALL_INDIRECT:
      assert_int_equal(in.idx, 0);
      assert_int_equal(in.idx2, 0);
      seen |= 64;
      break;
    case TW_OP_BLOCK:
      assert_int_equal(in.bt_kind, TW_BLOCK_VAL);
      assert_int_equal(in.bt_val, TW_T_I32);
      seen |= 128;
      break;
    case TW_OP_I64_CONST:
      assert_int_equal(in.i64, 2);
      break;
    }
  }
  assert_int_equal(seen, 255);
  assert_int_equal(in.op, TW_OP_END);
  tw__reader_close(&r);
  tw__module_free(m);
}

/* Section boundaries of a well-formed module, to know which prefixes are
 * complete modules themselves. */
static int is_boundary(const uint8_t *b, size_t n, size_t at) {
  size_t p = 8;
  if (at == 8) return 1;
  while (p < n) {
    const uint8_t *q = b + p + 1;
    uint32_t size;
    assert_int_equal(tw__rd_u32(&q, b + n, &size), 0);
    p = (size_t)(q - b) + size;
    if (p == at) return 1;
  }
  return 0;
}

static void test_truncations(void **state) {
  (void)state;
  char err[512];
  for (size_t len = 0; len < sizeof k_full; len++) {
    uint8_t *copy = malloc(len ? len : 1); /* exact size: ASan sees overreads */
    memcpy(copy, k_full, len);
    struct tw__module *m;
    err[0] = '\0';
    int rc = decode(copy, len, &m, err, sizeof err);
    if (rc == 0) {
      /* only whole sections can make a module; the function section
       * without its code section cannot */
      assert_true(is_boundary(k_full, sizeof k_full, len));
      tw__module_free(m);
    } else {
      assert_true(rc == TW_EMALFORMED);
      assert_true(err[0] != '\0');
      if (len >= 8 && !strstr(err, "byte 0x") && !strstr(err, "inconsistent"))
        fail_msg("len %zu: message without offset: %s", len, err);
    }
    free(copy);
  }
}

static void test_absurd_counts(void **state) {
  (void)state;
  /* 0xFFFFFFFF types */
  static const uint8_t types[] = {HDR, 0x01, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f};
  uint64_t t0 = tw__now_ns();
  expect_fail(types, sizeof types, TW_ELIMIT, "types");
  /* under the limit but far more than the bytes hold */
  static const uint8_t types2[] = {HDR, 0x01, 0x04, 0xa0, 0x8d, 0x06, 0x60};
  expect_fail(types2, sizeof types2, TW_EMALFORMED, "unexpected end");
  static const uint8_t funcs[] = {HDR, 0x03, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f};
  expect_fail(funcs, sizeof funcs, TW_ELIMIT, "functions");
  static const uint8_t imports[] = {HDR, 0x02, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f};
  expect_fail(imports, sizeof imports, TW_ELIMIT, "imports");
  static const uint8_t datas[] = {HDR, 0x0b, 0x05, 0xff, 0xff, 0xff, 0xff, 0x0f};
  expect_fail(datas, sizeof datas, TW_ELIMIT, "data segments");
  /* element items: 0x0FFFFFFF funcrefs in a 10-byte segment */
  static const uint8_t elems[] = {HDR,  0x09, 0x0a, 0x01, 0x00, 0x41, 0x00,
                                  0x0b, 0xff, 0xff, 0xff, 0x7f, 0x00};
  expect_fail(elems, sizeof elems, TW_ELIMIT, "element items");
  /* locals: two groups of 0xFFFFFFFF (sum overflows 32 bits) */
  static const uint8_t locals[] = {
      HDR,  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03, 0x02, 0x01, 0x00,
      0x0a, 0x10, 0x01, 0x0e, 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f,
      0xff, 0xff, 0xff, 0xff, 0x0f, 0x7e, 0x0b};
  expect_fail(locals, sizeof locals, TW_EMALFORMED, "too many locals");
  /* locals: 60000, over TW_LIMIT_LOCALS but representable */
  static const uint8_t locals2[] = {HDR,  0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
                                    0x03, 0x02, 0x01, 0x00, 0x0a, 0x08, 0x01,
                                    0x06, 0x01, 0xe0, 0xd4, 0x03, 0x7f, 0x0b};
  expect_fail(locals2, sizeof locals2, TW_ELIMIT, "too many locals");
  /* br_table claiming 0xFFFFFFFF labels */
  static const uint8_t brt[] = {HDR,  0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
                                0x03, 0x02, 0x01, 0x00, 0x0a, 0x0c, 0x01,
                                0x0a, 0x00, 0x41, 0x00, 0x0e, 0xff, 0xff,
                                0xff, 0xff, 0x0f, 0x0b};
  char err[256];
  assert_int_equal(decode_all(brt, sizeof brt, err, sizeof err), TW_ELIMIT);
  assert_non_null(strstr(err, "br_table"));
  assert_true(tw__now_ns() - t0 < 1000000000ull); /* all of this: fast */
}

static void test_section_order(void **state) {
  (void)state;
  /* function section before type section */
  static const uint8_t order[] = {HDR,  0x03, 0x01, 0x00,
                                  0x01, 0x01, 0x00};
  expect_fail(order, sizeof order, TW_EMALFORMED,
              "unexpected content after last section");
  static const uint8_t dup[] = {HDR, 0x01, 0x01, 0x00, 0x01, 0x01, 0x00};
  expect_fail(dup, sizeof dup, TW_EMALFORMED, "byte 0xb");
  /* datacount (12) goes before code (10): fine; after it: not */
  static const uint8_t dc_ok[] = {HDR, 0x0c, 0x01, 0x00, 0x0a, 0x01, 0x00};
  char err[256];
  struct tw__module *m;
  assert_int_equal(decode(dc_ok, sizeof dc_ok, &m, err, sizeof err), 0);
  tw__module_free(m);
  static const uint8_t dc_bad[] = {HDR, 0x0a, 0x01, 0x00, 0x0c, 0x01, 0x00};
  expect_fail(dc_bad, sizeof dc_bad, TW_EMALFORMED, "after last section");
  /* custom sections anywhere */
  static const uint8_t custom[] = {HDR,  0x00, 0x02, 0x01, 0x61, 0x01,
                                   0x01, 0x00, 0x00, 0x02, 0x01, 0x62};
  assert_int_equal(decode(custom, sizeof custom, &m, err, sizeof err), 0);
  tw__module_free(m);
  static const uint8_t id13[] = {HDR, 0x0d, 0x00};
  expect_fail(id13, sizeof id13, TW_EMALFORMED, "malformed section id");
  static const uint8_t mismatch[] = {HDR, 0x01, 0x02, 0x00, 0x00};
  expect_fail(mismatch, sizeof mismatch, TW_EMALFORMED,
              "section size mismatch");
  static const uint8_t oob[] = {HDR, 0x01, 0x05, 0x00};
  expect_fail(oob, sizeof oob, TW_EMALFORMED, "length out of bounds");
  /* functions without code */
  static const uint8_t nocode[] = {HDR,  0x01, 0x04, 0x01, 0x60, 0x00,
                                   0x00, 0x03, 0x02, 0x01, 0x00};
  expect_fail(nocode, sizeof nocode, TW_EMALFORMED,
              "function and code section have inconsistent lengths");
  /* datacount 1, no data section */
  static const uint8_t nodata[] = {HDR, 0x0c, 0x01, 0x01};
  expect_fail(nodata, sizeof nodata, TW_EMALFORMED,
              "data count and data section have inconsistent lengths");
}

static void test_leb128(void **state) {
  (void)state;
  struct {
    uint8_t b[11];
    size_t n;
    int bits; /* 32 unsigned, -32 / -33 / -64 signed */
    int st;
    int64_t v;
  } cases[] = {
      {{0x00}, 1, 32, 0, 0},
      {{0xff, 0xff, 0xff, 0xff, 0x0f}, 5, 32, 0, 0xffffffffll},
      {{0xff, 0xff, 0xff, 0xff, 0x1f}, 5, 32, TW__RD_TOOLARGE, 0},
      {{0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 6, 32, TW__RD_TOOLONG, 0},
      {{0x80, 0x80}, 2, 32, TW__RD_EOF, 0},
      {{0x80, 0x80, 0x80, 0x80, 0x00}, 5, 32, 0, 0},
      {{0x7f}, 1, -32, 0, -1},
      {{0xff, 0xff, 0xff, 0xff, 0x7f}, 5, -32, 0, -1},
      {{0x80, 0x80, 0x80, 0x80, 0x78}, 5, -32, 0, INT32_MIN},
      {{0xff, 0xff, 0xff, 0xff, 0x07}, 5, -32, 0, INT32_MAX},
      {{0xff, 0xff, 0xff, 0xff, 0x4f}, 5, -32, TW__RD_TOOLARGE, 0},
      {{0x80, 0x80, 0x80, 0x80, 0x08}, 5, -32, TW__RD_TOOLARGE, 0},
      {{0xff, 0xff, 0xff, 0xff, 0x0f}, 5, -33, 0, 0xffffffffll},
      {{0xff, 0xff, 0xff, 0xff, 0x7f}, 5, -33, 0, -1},
      {{0xff, 0xff, 0xff, 0xff, 0x1f}, 5, -33, TW__RD_TOOLARGE, 0},
      {{0xff, 0xff, 0xff, 0xff, 0x2f}, 5, -33, TW__RD_TOOLARGE, 0},
      {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7f}, 10, -64,
       0, INT64_MIN},
      {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, 10, -64,
       0, INT64_MAX},
      {{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x41}, 10, -64,
       TW__RD_TOOLARGE, 0},
      {{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00}, 11,
       -64, TW__RD_TOOLONG, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const uint8_t *p = cases[i].b;
    const uint8_t *end = p + cases[i].n;
    int st;
    int64_t v = 0;
    if (cases[i].bits == 32) {
      uint32_t u = 0;
      st = tw__rd_u32(&p, end, &u);
      v = u;
    } else if (cases[i].bits == -32) {
      int32_t s = 0;
      st = tw__rd_s32(&p, end, &s);
      v = s;
    } else if (cases[i].bits == -33) {
      st = tw__rd_s33(&p, end, &v);
    } else {
      st = tw__rd_s64(&p, end, &v);
    }
    if (st != cases[i].st) fail_msg("case %zu: status %d", i, st);
    if (st == 0) {
      if (v != cases[i].v) fail_msg("case %zu: value %lld", i, (long long)v);
      assert_ptr_equal(p, end);
    } else {
      assert_ptr_equal(p, cases[i].b); /* no advance on failure */
    }
  }
}

static void test_utf8(void **state) {
  (void)state;
  assert_true(tw__utf8_valid((const uint8_t *)"abc", 3));
  assert_true(tw__utf8_valid((const uint8_t *)"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", 9));
  assert_false(tw__utf8_valid((const uint8_t *)"\xc0\x80", 2));     /* overlong */
  assert_false(tw__utf8_valid((const uint8_t *)"\xe0\x80\x80", 3)); /* overlong */
  assert_false(tw__utf8_valid((const uint8_t *)"\xed\xa0\x80", 3)); /* surrogate */
  assert_false(tw__utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4));
  assert_false(tw__utf8_valid((const uint8_t *)"\xc3", 1));
  assert_false(tw__utf8_valid((const uint8_t *)"\x80", 1));
  assert_false(tw__utf8_valid((const uint8_t *)"\xff", 1));
  /* an export named "\xc0\x80" */
  static const uint8_t ex[] = {HDR, 0x07, 0x06, 0x01, 0x02, 0xc0, 0x80, 0x00, 0x00};
  expect_fail(ex, sizeof ex, TW_EMALFORMED, "malformed UTF-8 encoding");
  static const uint8_t cu[] = {HDR, 0x00, 0x02, 0x01, 0xff};
  expect_fail(cu, sizeof cu, TW_EMALFORMED, "malformed UTF-8 encoding");
}

static void test_op_tables(void **state) {
  (void)state;
  assert_string_equal(tw__op_name(TW_OP_I8X16_EXTRACT_LANE_S),
                      "i8x16.extract_lane_s");
  assert_string_equal(tw__op_name(TW_OP_BR_TABLE), "br_table");
  assert_string_equal(tw__op_name(TW_OP_SELECT_T), "select");
  assert_string_equal(tw__op_name(TW_OP_I32_ADD), "i32.add");
  assert_string_equal(tw__op_name(TW_OP_MEMORY_GROW), "memory.grow");
  assert_string_equal(tw__op_name(TW_OP_REF_IS_NULL), "ref.is_null");
  assert_string_equal(tw__op_name(TW_OP_LOCAL_TEE), "local.tee");
  assert_string_equal(tw__op_name(TW_OP_CALL_INDIRECT), "call_indirect");
  assert_string_equal(tw__op_name(TW_OP_I32_WRAP_I64), "i32.wrap_i64");
  assert_string_equal(tw__op_name(TW_OP_V128_LOAD8X8_S), "v128.load8x8_s");
  assert_string_equal(tw__op_name(TW_OP_DATA_DROP), "data.drop");
  assert_null(tw__op_name(0x06));
  assert_null(tw__op_name(0x5000));
  assert_false(tw__op_valid(0x06));
  assert_string_equal(tw__op_sig(TW_OP_I32_ADD), "ii:i");
  assert_null(tw__op_sig(TW_OP_CALL));
  assert_int_equal(tw__op_imm(TW_OP_MEMORY_INIT), TW_IMM_DATA_MEMORY);
  assert_int_equal(tw__op_width(TW_OP_I64_LOAD32_U), 4);
  assert_int_equal(tw__op_width(TW_OP_I32_ADD), 0);
  assert_string_equal(tw__valtype_name(TW_T_EXTERNREF), "externref");
  assert_string_equal(tw_valtype_name(0x7b), "v128");
  assert_string_equal(tw_valtype_name(0x12), "?");
  /* every opcode has a name without upper case */
  for (unsigned op = 0; op < TW_OP_LIMIT_; op++) {
    if (!tw__op_valid(op)) continue;
    const char *n = tw__op_name(op);
    assert_non_null(n);
    for (const char *c = n; *c; c++) assert_false(*c >= 'A' && *c <= 'Z');
  }
}

/* A function body (without size) in a one-function module. */
static int body(const uint8_t *code, size_t n, char *err, size_t errlen) {
  uint8_t b[256];
  static const uint8_t pre[] = {HDR,  0x01, 0x04, 0x01, 0x60, 0x00,
                                0x00, 0x03, 0x02, 0x01, 0x00, 0x05,
                                0x03, 0x01, 0x00, 0x01};
  size_t k = sizeof pre;
  memcpy(b, pre, k);
  b[k++] = 0x0a;
  b[k++] = (uint8_t)(n + 3);
  b[k++] = 0x01;
  b[k++] = (uint8_t)(n + 1);
  b[k++] = 0x00; /* no locals */
  memcpy(b + k, code, n);
  return decode_all(b, k + n, err, errlen);
}

static void test_instructions(void **state) {
  (void)state;
  char err[256];
  static const uint8_t ok[] = {0x3f, 0x00, 0x1a, 0x0b};
  assert_int_equal(body(ok, sizeof ok, err, sizeof err), 0);
  static const uint8_t msize[] = {0x3f, 0x01, 0x1a, 0x0b};
  assert_int_equal(body(msize, sizeof msize, err, sizeof err), TW_EMALFORMED);
  assert_non_null(strstr(err, "zero byte expected"));
  assert_non_null(strstr(err, "byte 0x"));
  static const uint8_t mcopy[] = {0x41, 0x00, 0x41, 0x00, 0x41, 0x00,
                                  0xfc, 0x0a, 0x00, 0x80, 0x00, 0x0b};
  assert_int_equal(body(mcopy, sizeof mcopy, err, sizeof err), TW_EMALFORMED);
  assert_non_null(strstr(err, "zero byte expected"));
  static const uint8_t simd[] = {0xfd, 0xe2, 0x01, 0x0b}; /* 0xe2: none */
  assert_int_equal(body(simd, sizeof simd, err, sizeof err), TW_EMALFORMED);
  assert_non_null(strstr(err, "unknown opcode 0xfd 0xe2"));
  static const uint8_t one[] = {0x06, 0x0b};
  assert_int_equal(body(one, sizeof one, err, sizeof err), TW_EMALFORMED);
  assert_non_null(strstr(err, "opcode 0x06"));
  static const uint8_t i32[] = {0x41, 0x80, 0x80, 0x80, 0x80, 0x70, 0x1a, 0x0b};
  assert_int_equal(body(i32, sizeof i32, err, sizeof err), TW_EMALFORMED);
  assert_non_null(strstr(err, "integer too large"));
  static const uint8_t refnull[] = {0xd0, 0x7f, 0x1a, 0x0b};
  assert_int_equal(body(refnull, sizeof refnull, err, sizeof err), TW_EMALFORMED);
  assert_non_null(strstr(err, "malformed reference type"));
  static const uint8_t noend[] = {0x01, 0x01};
  assert_int_equal(body(noend, sizeof noend, err, sizeof err), TW_EMALFORMED);
  assert_non_null(strstr(err, "END opcode expected"));
  /* blocktype as a type index (s33) and a negative one */
  static const uint8_t bt[] = {0x02, 0x00, 0x0b, 0x0b};
  assert_int_equal(body(bt, sizeof bt, err, sizeof err), 0);
  static const uint8_t btneg[] = {0x02, 0x50, 0x0b, 0x0b};
  assert_int_equal(body(btneg, sizeof btneg, err, sizeof err), TW_EMALFORMED);
}

static void test_const_exprs(void **state) {
  (void)state;
  struct tw__module *m;
  char err[256];
  /* globals: (i32.const 1 i32.const 2), (i32.const 1 i32.const 2 i32.add),
   * (), (global.get 0), (ref.func 0), (ref.null extern) */
  static const uint8_t g[] = {HDR,  0x06, 0x22, 0x06, 0x7f, 0x00, 0x41,
                              0x01, 0x41, 0x02, 0x0b, 0x7f, 0x00, 0x41,
                              0x01, 0x41, 0x02, 0x6a, 0x0b, 0x7f, 0x00,
                              0x0b, 0x7f, 0x00, 0x23, 0x00, 0x0b, 0x70,
                              0x00, 0xd2, 0x00, 0x0b, 0x6f, 0x00, 0xd0, 0x6f,
                              0x0b};
  assert_int_equal(decode(g, sizeof g, &m, err, sizeof err), 0);
  assert_int_equal(m->nglobals, 6);
  assert_int_equal(m->globals[0].init.kind, TW_INIT_ARITY);
  assert_int_equal(m->globals[1].init.kind, TW_INIT_NONCONST);
  assert_int_equal(m->globals[1].init.index, 0x18); /* the i32.add */
  assert_int_equal(m->globals[2].init.kind, TW_INIT_ARITY);
  assert_int_equal(m->globals[3].init.kind, TW_INIT_GLOBAL_GET);
  assert_int_equal(m->globals[4].init.kind, TW_INIT_REF_FUNC);
  assert_int_equal(m->globals[5].init.kind, TW_INIT_REF_NULL);
  assert_int_equal(m->globals[5].init.type, TW_T_EXTERNREF);
  tw__module_free(m);
  /* bad opcode inside an init expression is malformed */
  static const uint8_t bad[] = {HDR, 0x06, 0x04, 0x01, 0x7f, 0x00, 0xf3};
  expect_fail(bad, sizeof bad, TW_EMALFORMED, "opcode 0xf3");
  static const uint8_t mut[] = {HDR, 0x06, 0x06, 0x01, 0x7f, 0x02, 0x41, 0x00, 0x0b};
  expect_fail(mut, sizeof mut, TW_EMALFORMED, "malformed mutability");
}

static void test_names(void **state) {
  (void)state;
  struct tw__module *m;
  char err[256];
  /* a malformed name section (function name subsection truncated) is
   * ignored */
  static const uint8_t b[] = {HDR,  0x01, 0x04, 0x01, 0x60, 0x00, 0x00, 0x03,
                              0x02, 0x01, 0x00, 0x0a, 0x04, 0x01, 0x02, 0x00,
                              0x0b, 0x00, 0x0a, 0x04, 0x6e, 0x61, 0x6d, 0x65,
                              0x01, 0x09, 0x01, 0x00};
  uint8_t c[sizeof b];
  memcpy(c, b, sizeof b);
  c[25] = 0x09; /* name, then a subsection claiming 9 bytes of 2 */
  assert_int_equal(decode(c, sizeof c, &m, err, sizeof err), 0);
  assert_null(tw__module_func_name(m, 0));
  tw__module_free(m);
  /* a good one */
  static const uint8_t g[] = {HDR,  0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
                              0x03, 0x02, 0x01, 0x00, 0x0a, 0x04, 0x01,
                              0x02, 0x00, 0x0b, 0x00, 0x0d, 0x04, 0x6e,
                              0x61, 0x6d, 0x65, 0x01, 0x06, 0x01, 0x00,
                              0x03, 0x66, 0x6f, 0x6f};
  assert_int_equal(decode(g, sizeof g, &m, err, sizeof err), 0);
  assert_string_equal(tw__module_func_name(m, 0), "foo");
  tw__module_free(m);
}

/* Every binary module of the spec tests: assert_malformed ones must be
 * rejected (by the decoder or the reader), module ones decoded. */
static void test_spec_binaries(void **state) {
  (void)state;
  const char *root = getenv("TW_CONFORMANCE_DIR");
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/spec/json", root ? root : "");
  DIR *dh = root ? opendir(dir) : NULL;
  if (!dh) {
    skip();
    return;
  }
  struct dirent *de;
  unsigned malformed = 0, accepted = 0, bad = 0;
  while ((de = readdir(dh))) {
    size_t nl = strlen(de->d_name);
    if (nl < 6 || strcmp(de->d_name + nl - 5, ".json")) continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    json_error_t jerr;
    json_t *j = json_load_file(path, 0, &jerr);
    if (!j) continue;
    json_t *cmds = json_object_get(j, "commands");
    for (size_t i = 0; i < json_array_size(cmds); i++) {
      json_t *c = json_array_get(cmds, i);
      const char *type = json_string_value(json_object_get(c, "type"));
      const char *file = json_string_value(json_object_get(c, "filename"));
      const char *mt = json_string_value(json_object_get(c, "module_type"));
      if (!type || !file) continue;
      int want_ok = !strcmp(type, "module");
      int want_bad = !strcmp(type, "assert_malformed") && mt &&
                     !strcmp(mt, "binary");
      if (!want_ok && !want_bad) continue;
      snprintf(path, sizeof path, "%s/%s", dir, file);
      FILE *f = fopen(path, "rb");
      if (!f) continue;
      uint8_t *buf = malloc(1 << 20);
      size_t n = fread(buf, 1, 1 << 20, f);
      fclose(f);
      char err[512];
      int rc = decode_all(buf, n, err, sizeof err);
      free(buf);
      const char *text = json_string_value(json_object_get(c, "text"));
      /* the validator's, not ours: a structural walk finds these */
      int validator_only = text && (!strcmp(text, "data count section required") ||
                                    !strcmp(file, "binary.174.wasm"));
      if (want_ok && rc != 0) {
        printf("rejected %s: %s\n", file, err);
        bad++;
      } else if (want_bad && rc == 0 && !validator_only) {
        printf("accepted malformed %s (%s)\n", file, text ? text : "");
        bad++;
      }
      if (want_bad) malformed++;
      else accepted++;
    }
    json_decref(j);
  }
  closedir(dh);
  printf("spec binaries: %u malformed, %u modules, %u wrong\n", malformed,
         accepted, bad);
  assert_int_equal(bad, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_minimal),      cmocka_unit_test(test_header),
      cmocka_unit_test(test_full_module),  cmocka_unit_test(test_truncations),
      cmocka_unit_test(test_absurd_counts), cmocka_unit_test(test_section_order),
      cmocka_unit_test(test_leb128),       cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_op_tables),    cmocka_unit_test(test_instructions),
      cmocka_unit_test(test_const_exprs),  cmocka_unit_test(test_names),
      cmocka_unit_test(test_spec_binaries),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
