/* Helpers shared by the runtime tests: cmocka swaps its own SIGSEGV
 * handler in while each test function runs, so tests that fault on
 * purpose put the runtime's back first; plus module loaders. */
#ifndef TW_TESTS_RT_TEST_H
#define TW_TESTS_RT_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tw/tw.h"

static struct sigaction rt_test_segv, rt_test_bus;

/* Call once after the first tw_engine_new (which installs the handlers). */
static inline void rt_test_save_handlers(void) {
  sigaction(SIGSEGV, NULL, &rt_test_segv);
  sigaction(SIGBUS, NULL, &rt_test_bus);
}

/* Call at the top of each test function that may fault. */
static inline void rt_test_handlers(void) {
  sigaction(SIGSEGV, &rt_test_segv, NULL);
  sigaction(SIGBUS, &rt_test_bus, NULL);
}

static inline tw_module_t *rt_test_module(tw_engine_t *e,
                                          const unsigned char *bytes,
                                          size_t n) {
  tw_module_t *m = NULL;
  char err[256] = "";
  int rc = tw_module_new(e, bytes, n, &m, err, sizeof err);
  if (rc) fail_msg("tw_module_new: %s (%s)", tw_strerror(rc), err);
  return m;
}

/* A module from its text format. */
static inline tw_module_t *rt_test_wat_module(tw_engine_t *e,
                                              const char *text) {
  uint8_t *bin;
  size_t n;
  char err[256];
  if (tw_wat_to_wasm(text, strlen(text), &bin, &n, err, sizeof err))
    fail_msg("wat: %s", err);
  tw_module_t *m = rt_test_module(e, bin, n);
  tw_free(bin);
  return m;
}

static inline tw_val_t rt_i32(uint32_t v) {
  tw_val_t r;
  memset(&r, 0, sizeof r);
  r.type = TW_I32;
  r.of.i32 = v;
  return r;
}

static inline tw_val_t rt_f64(double d) {
  tw_val_t r;
  memset(&r, 0, sizeof r);
  r.type = TW_F64;
  memcpy(&r.of.f64, &d, 8);
  return r;
}

#endif
