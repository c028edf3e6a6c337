/* Helpers shared by the snapshot and pool tests: files of tests/snap/,
 * modules from WAT text or committed binaries, calls that must succeed. */
#ifndef TW_TESTS_SNAP_TEST_H
#define TW_TESTS_SNAP_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw/pool.h"
#include "tw/snapshot.h"
#include "tw/tw.h"

static inline uint8_t *st_read(const char *name, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/tests/snap/%s", TW_SOURCE_DIR, name);
  FILE *f = fopen(path, "rb");
  if (!f) fail_msg("cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  assert_non_null(b);
  assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static inline tw_module_t *st_module_file(tw_engine_t *e, const char *name) {
  size_t n;
  uint8_t *b = st_read(name, &n);
  tw_module_t *m = NULL;
  char err[256] = "";
  int rc = tw_module_new(e, b, n, &m, err, sizeof err);
  free(b);
  if (rc) fail_msg("module %s: %s", name, err);
  return m;
}

static inline tw_module_t *st_module_wat(tw_engine_t *e, const char *wat) {
  uint8_t *w;
  size_t n;
  char err[256] = "";
  if (tw_wat_to_wasm(wat, strlen(wat), &w, &n, err, sizeof err))
    fail_msg("wat: %s", err);
  tw_module_t *m = NULL;
  int rc = tw_module_new(e, w, n, &m, err, sizeof err);
  tw_free(w);
  if (rc) fail_msg("module: %s", err);
  return m;
}

static inline tw_val_t st_i32(uint32_t v) {
  tw_val_t r;
  memset(&r, 0, sizeof r);
  r.type = TW_I32;
  r.of.i32 = v;
  return r;
}

/* Calls name(args) expecting success and at most one result. */
static inline tw_val_t st_call(tw_instance_t *in, const char *name,
                               const tw_val_t *args, size_t nargs,
                               size_t nres) {
  tw_val_t r;
  memset(&r, 0, sizeof r);
  char err[256] = "";
  int rc = tw_instance_call(in, name, args, nargs, &r, nres, err, sizeof err);
  if (rc) fail_msg("%s: %s (%s)", name, tw_strerror(rc), err);
  return r;
}

static inline uint32_t st_i32_of(tw_instance_t *in, const char *name) {
  return st_call(in, name, NULL, 0, 1).of.i32;
}

static inline uint32_t st_load(tw_instance_t *in, uint32_t addr) {
  tw_val_t a = st_i32(addr);
  return st_call(in, "load", &a, 1, 1).of.i32;
}

#endif
