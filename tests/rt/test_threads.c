/* Concurrency: 8 threads share compiled modules, each with its own store
 * holding many instances, calling concurrently (with traps mixed in, so
 * the fault handler runs on several threads at once); results checked.
 * cmocka's asserts are not thread-safe, so threads count mismatches and
 * the main thread asserts.
 */
#include "rt/rt_test.h"

#include <pthread.h>
#include <stdio.h>

#include "rt/modules.h"

#define NTHREADS 8
#define NINST 12
#define ROUNDS 200

static tw_engine_t *engine;
static tw_module_t *work_mod, *traps_mod;

struct worker {
  int id;
  int errors;
  int calls;
  char first_error[512];
};

static void note(struct worker *w, const char *what, const char *err) {
  if (w->errors++ == 0)
    snprintf(w->first_error, sizeof w->first_error, "thread %d: %s: %s",
             w->id, what, err);
}

static uint32_t expected_run(uint32_t seed, uint32_t n) {
  uint32_t acc = 0;
  for (uint32_t i = 0; i < n; i++) acc += seed + i * i;
  return acc;
}

static uint32_t fib(uint32_t n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

static void *worker_main(void *arg) {
  struct worker *w = arg;
  char err[256];
  tw_store_t *s;
  if (tw_store_new(engine, &s)) {
    note(w, "store", "failed");
    return NULL;
  }
  tw_instance_t *work[NINST], *traps[NINST];
  for (int i = 0; i < NINST; i++) {
    if (tw_instance_new(s, work_mod, NULL, &work[i], err, sizeof err) ||
        tw_instance_new(s, traps_mod, NULL, &traps[i], err, sizeof err)) {
      note(w, "instantiate", err);
      tw_store_free(s);
      return NULL;
    }
  }
  for (int r = 0; r < ROUNDS; r++) {
    for (int i = 0; i < NINST; i++) {
      uint32_t seed = (uint32_t)(w->id * 1000 + r * 17 + i);
      uint32_t n = 500 + (uint32_t)((r * 31 + i) % 700);
      tw_val_t a[2] = {rt_i32(seed), rt_i32(n)}, res;
      w->calls++;
      if (tw_instance_call(work[i], "run", a, 2, &res, 1, err, sizeof err))
        note(w, "run", err);
      else if (res.of.i32 != expected_run(seed, n))
        note(w, "run", "wrong result");
      a[0] = rt_i32((uint32_t)(10 + (r + i) % 8));
      if (tw_instance_call(work[i], "fib", a, 1, &res, 1, err, sizeof err))
        note(w, "fib", err);
      else if (res.of.i32 != fib(a[0].of.i32))
        note(w, "fib", "wrong result");
      /* A guard-page fault and an explicit trap on this thread. */
      a[0] = rt_i32(0x7fffff00u + (uint32_t)i);
      tw_trap_info_t ti;
      if (tw_instance_call(traps[i], "load", a, 1, &res, 1, err,
                           sizeof err) != TW_ETRAP ||
          (tw_store_last_trap(s, &ti), ti.kind != TW_TRAP_MEMORY_OOB))
        note(w, "load", "expected out of bounds memory access");
      a[0] = rt_i32(0);
      if (tw_instance_call(traps[i], "div0", a, 1, &res, 1, err,
                           sizeof err) != TW_ETRAP ||
          (tw_store_last_trap(s, &ti), ti.kind != TW_TRAP_DIV_BY_ZERO))
        note(w, "div0", "expected integer divide by zero");
    }
  }
  for (int i = 0; i < NINST; i++) {
    tw_val_t res;
    if (tw_instance_call(work[i], "calls", NULL, 0, &res, 1, err,
                         sizeof err) ||
        res.of.i32 != ROUNDS)
      note(w, "calls", "instance state mixed up between threads");
  }
  tw_store_free(s);
  return NULL;
}

static void many_threads(void **state) {
  (void)state;
  rt_test_handlers();
  pthread_t th[NTHREADS];
  struct worker w[NTHREADS];
  for (int i = 0; i < NTHREADS; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].id = i;
    assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  }
  int errors = 0, calls = 0;
  for (int i = 0; i < NTHREADS; i++) {
    pthread_join(th[i], NULL);
    if (w[i].errors) fprintf(stderr, "%s\n", w[i].first_error);
    errors += w[i].errors;
    calls += w[i].calls;
  }
  assert_int_equal(errors, 0);
  assert_int_equal(calls, NTHREADS * NINST * ROUNDS);
}

/* Modules compiled concurrently (libtcc is serialized inside). */
static void *compile_main(void *arg) {
  int *bad = arg;
  for (int i = 0; i < 5; i++) {
    tw_module_t *m;
    char err[256];
    if (tw_module_new(engine, wasm_work, sizeof wasm_work, &m, err,
                      sizeof err)) {
      (*bad)++;
      continue;
    }
    tw_module_free(m);
  }
  return NULL;
}

static void concurrent_compiles(void **state) {
  (void)state;
  pthread_t th[4];
  int bad[4] = {0};
  for (int i = 0; i < 4; i++)
    assert_int_equal(pthread_create(&th[i], NULL, compile_main, &bad[i]), 0);
  for (int i = 0; i < 4; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(bad[i], 0);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(many_threads),
      cmocka_unit_test(concurrent_compiles),
  };
  char err[256];
  if (tw_engine_new(NULL, &engine)) return 1;
  rt_test_save_handlers();
  if (tw_module_new(engine, wasm_work, sizeof wasm_work, &work_mod, err,
                    sizeof err) ||
      tw_module_new(engine, wasm_traps, sizeof wasm_traps, &traps_mod, err,
                    sizeof err)) {
    fprintf(stderr, "setup: %s\n", err);
    return 1;
  }
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tw_module_free(work_mod);
  tw_module_free(traps_mod);
  tw_engine_free(engine);
  return rc;
}
