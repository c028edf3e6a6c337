/* tw_store_interrupt: a call spinning on one thread is stopped from
 * another within milliseconds with "interrupted" (tier 0, and tier 1 when a
 * C compiler is there, whose -O2 code must still re-read the deadline);
 * with loops on a memory (which read its poll page) and without;
 * nested host -> guest calls stop at every level, also when the host
 * function swallows the inner trap; a guest sleeping in WASI poll_oneoff
 * or blocked reading a socket wakes up; and the interrupt leaves no trace
 * on the next call, nor does one sent while no call runs.
 */
#include "rt/rt_test.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/base.h"
#include "tw/wasi.h"

static const char k_wat[] =
    "(module\n"
    "  (import \"host\" \"reenter\" (func $reenter))\n"
    "  (func $spin (export \"spin\") (loop (br 0)))\n"
    "  (func (export \"ok\") (result i32) (i32.const 42))\n"
    "  (func (export \"nested\") (call $reenter) (loop (br 0))))\n";

/* The same with a memory: the loops read its poll page instead. */
static const char k_wat_mem[] =
    "(module\n"
    "  (import \"host\" \"reenter\" (func $reenter))\n"
    "  (memory 1)\n"
    "  (func $spin (export \"spin\")\n"
    "    (loop (i32.store (i32.const 8) (i32.add (i32.load (i32.const 8))\n"
    "                                            (i32.const 1)))\n"
    "          (br 0)))\n"
    "  (func (export \"ok\") (result i32) (i32.const 42))\n"
    "  (func (export \"nested\") (call $reenter) (call $spin)))\n";

/* poll_oneoff with one clock subscription of 10 s; fd_read on fd 3. */
static const char k_wasi_wat[] =
    "(module\n"
    "  (import \"wasi_snapshot_preview1\" \"poll_oneoff\"\n"
    "    (func $poll (param i32 i32 i32 i32) (result i32)))\n"
    "  (import \"wasi_snapshot_preview1\" \"fd_read\"\n"
    "    (func $read (param i32 i32 i32 i32) (result i32)))\n"
    "  (memory (export \"memory\") 1)\n"
    "  (func (export \"sleep\") (result i32)\n"
    "    (i64.store (i32.const 0) (i64.const 7))\n"
    "    (i32.store8 (i32.const 8) (i32.const 0))\n"
    "    (i32.store (i32.const 16) (i32.const 1))\n"
    "    (i64.store (i32.const 24) (i64.const 10000000000))\n"
    "    (i64.store (i32.const 32) (i64.const 0))\n"
    "    (i32.store16 (i32.const 40) (i32.const 0))\n"
    "    (call $poll (i32.const 0) (i32.const 64) (i32.const 1)\n"
    "                (i32.const 128)))\n"
    "  (func (export \"read\") (result i32)\n"
    "    (i32.store (i32.const 256) (i32.const 512))\n"
    "    (i32.store (i32.const 260) (i32.const 16))\n"
    "    (call $read (i32.const 3) (i32.const 256) (i32.const 1)\n"
    "                (i32.const 300))))\n";

/* ---- The interrupter thread ---- */

/* Interrupts `store` every 20 ms, from 30 ms after it starts, until the
 * call ends (the first interrupt may come before the call started, and an
 * interrupt that finds no call is forgotten by design). */
struct interrupter {
  pthread_t th;
  tw_store_t *store;
  atomic_bool done;
  _Atomic uint64_t first_ns; /* time of the first interrupt */
};

static void *interrupter_main(void *arg) {
  struct interrupter *it = arg;
  struct timespec ts = {0, 30000000};
  nanosleep(&ts, NULL);
  while (!atomic_load(&it->done)) {
    uint64_t now = tw__now_ns();
    uint64_t zero = 0;
    atomic_compare_exchange_strong(&it->first_ns, &zero, now);
    if (tw_store_interrupt(it->store) != 0) abort(); /* no cmocka here */
    ts.tv_nsec = 20000000;
    nanosleep(&ts, NULL);
  }
  return NULL;
}

static void interrupter_start(struct interrupter *it, tw_store_t *s) {
  it->store = s;
  atomic_init(&it->done, false);
  atomic_init(&it->first_ns, 0);
  assert_int_equal(pthread_create(&it->th, NULL, interrupter_main, it), 0);
}

/* Stops the thread; returns ms from the first interrupt to `end_ns`. */
static double interrupter_stop(struct interrupter *it, uint64_t end_ns) {
  atomic_store(&it->done, true);
  pthread_join(it->th, NULL);
  uint64_t first = atomic_load(&it->first_ns);
  assert_true(first != 0);
  return end_ns > first ? (double)(end_ns - first) / 1e6 : 0.0;
}

/* ---- Host function for the nested case ---- */

static int inner_rc, inner_kind;
static tw_store_t *nested_store; /* the store host_reenter runs in */

/* Calls back into the guest's endless "spin", records how that ended and
 * returns 0 whatever happened: the outer call must stop on its own. */
static int host_reenter(tw_caller_t *c, void *user, const tw_val_t *a,
                        tw_val_t *r) {
  (void)user;
  (void)a;
  (void)r;
  tw_instance_t *in = tw_caller_instance(c);
  char err[256];
  inner_rc = tw_instance_call(in, "spin", NULL, 0, NULL, 0, err, sizeof err);
  tw_trap_info_t ti;
  tw_store_last_trap(nested_store, &ti);
  inner_kind = (int)ti.kind;
  return 0;
}

/* Calls `name` under a 60 s deadline while another thread interrupts the
 * store; returns the trap kind and the latency. */
static int interrupted_call(tw_store_t *s, tw_instance_t *in, const char *name,
                            uint32_t deadline_ms, double *latency_ms) {
  struct interrupter it;
  interrupter_start(&it, s);
  tw_call_options_t o = {.deadline_ms = deadline_ms};
  tw_val_t r;
  char err[256];
  int rc = tw_instance_call_ex(in, name, strlen(name), NULL, 0, &r, 1, &o, err,
                               sizeof err);
  uint64_t end = tw__now_ns();
  *latency_ms = interrupter_stop(&it, end);
  assert_int_equal(rc, TW_ETRAP);
  tw_trap_info_t ti;
  tw_store_last_trap(s, &ti);
  if (ti.kind == TW_TRAP_INTERRUPTED)
    assert_string_equal(ti.message, "interrupted");
  return (int)ti.kind;
}

/* After an interrupt the store serves calls as before. */
static void next_call_clean(tw_store_t *s, tw_instance_t *in) {
  tw_val_t r;
  char err[256];
  assert_int_equal(tw_instance_call(in, "ok", NULL, 0, &r, 1, err, sizeof err),
                   0);
  assert_int_equal(r.of.i32, 42);
  /* An interrupt while no call runs is forgotten: the next call ends at
   * its own (short) deadline, reported as such. */
  assert_int_equal(tw_store_interrupt(s), 0);
  tw_call_options_t o = {.deadline_ms = 50};
  uint64_t t0 = tw__now_ns();
  assert_int_equal(
      tw_instance_call_ex(in, "spin", 4, NULL, 0, NULL, 0, &o, err, sizeof err),
      TW_ETRAP);
  assert_true(tw__now_ns() - t0 >= 49000000u);
  tw_trap_info_t ti;
  tw_store_last_trap(s, &ti);
  assert_int_equal(ti.kind, TW_TRAP_DEADLINE);
}

static void loops_at_tier(tw_tier_t tier, const char *text) {
  tw_engine_config_t cfg;
  tw_engine_config_default(&cfg);
  cfg.tier = tier;
  tw_engine_t *e;
  assert_int_equal(tw_engine_new(&cfg, &e), 0);
  uint8_t *bin;
  size_t n;
  char err[256];
  assert_int_equal(
      tw_wat_to_wasm(text, strlen(text), &bin, &n, err, sizeof err), 0);
  tw_module_t *m = NULL;
  int rc = tw_module_new(e, bin, n, &m, err, sizeof err);
  tw_free(bin);
  if (rc != 0 || (tier == TW_TIER_1 && tw_module_tier(m) != 1)) {
    /* No C compiler here: tier 0 covers the rest. */
    print_message("tier %d unavailable: %s\n", (int)tier, err);
    tw_module_free(m);
    tw_engine_free(e);
    return;
  }
  tw_linker_t *l;
  tw_store_t *s;
  tw_instance_t *in;
  tw_functype_t ft = {0, 0, NULL, NULL};
  assert_int_equal(tw_linker_new(e, &l), 0);
  assert_int_equal(
      tw_linker_define_func(l, "host", "reenter", &ft, host_reenter, NULL), 0);
  assert_int_equal(tw_store_new(e, &s), 0);
  assert_int_equal(tw_instance_new(s, m, l, &in, err, sizeof err), 0);
  nested_store = s;

  double ms;
  assert_int_equal(interrupted_call(s, in, "spin", 60000, &ms),
                   TW_TRAP_INTERRUPTED);
  print_message("tier %d: loop interrupted after %.2f ms\n", tw_module_tier(m),
                ms);
  assert_true(ms < 1000);
  next_call_clean(s, in);

  /* No deadline at all: the interrupt still stops the loop. */
  assert_int_equal(interrupted_call(s, in, "spin", TW_DEADLINE_NONE, &ms),
                   TW_TRAP_INTERRUPTED);
  assert_true(ms < 1000);

  /* Nested: the inner call stops, the host swallows that, and the outer
   * call stops at its next poll too. */
  inner_rc = 0;
  inner_kind = TW_TRAP_NONE;
  assert_int_equal(interrupted_call(s, in, "nested", 60000, &ms),
                   TW_TRAP_INTERRUPTED);
  assert_int_equal(inner_rc, TW_ETRAP);
  assert_int_equal(inner_kind, TW_TRAP_INTERRUPTED);
  print_message("tier %d: nested calls interrupted after %.2f ms\n",
                tw_module_tier(m), ms);
  assert_true(ms < 1000);
  next_call_clean(s, in);

  tw_store_free(s);
  tw_linker_free(l);
  tw_module_free(m);
  tw_engine_free(e);
}

static void loop_tier0(void **state) {
  (void)state;
  rt_test_handlers();
  loops_at_tier(TW_TIER_0, k_wat);
  loops_at_tier(TW_TIER_0, k_wat_mem);
}

static void loop_tier1(void **state) {
  (void)state;
  rt_test_handlers();
  loops_at_tier(TW_TIER_1, k_wat);
  loops_at_tier(TW_TIER_1, k_wat_mem);
}

/* A guest waiting in WASI wakes up when interrupted: poll_oneoff on a
 * 10 s clock, and fd_read on a socket nobody writes to (no deadline). */
static void wasi_waits(void **state) {
  (void)state;
  rt_test_handlers();
  tw_engine_config_t cfg;
  tw_engine_config_default(&cfg);
  cfg.tier = TW_TIER_0;
  tw_engine_t *e;
  assert_int_equal(tw_engine_new(&cfg, &e), 0);
  tw_module_t *m = rt_test_wat_module(e, k_wasi_wat);
  int sv[2];
  assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
  tw_wasi_config_t wc;
  memset(&wc, 0, sizeof wc);
  const char *argv[] = {"t"};
  wc.argv = argv;
  wc.argc = 1;
  wc.sockets = &sv[0];
  wc.nsockets = 1;
  tw_wasi_t *w;
  char err[256];
  assert_int_equal(tw_wasi_new(&wc, &w, err, sizeof err), 0);
  tw_linker_t *l;
  tw_store_t *s;
  tw_instance_t *in;
  assert_int_equal(tw_linker_new(e, &l), 0);
  assert_int_equal(tw_linker_define_wasi(l, w), 0);
  assert_int_equal(tw_store_new(e, &s), 0);
  assert_int_equal(tw_instance_new(s, m, l, &in, err, sizeof err), 0);

  double ms;
  assert_int_equal(interrupted_call(s, in, "sleep", 60000, &ms),
                   TW_TRAP_INTERRUPTED);
  print_message("poll_oneoff (10 s) interrupted after %.2f ms\n", ms);
  assert_true(ms < 1000);
  assert_int_equal(interrupted_call(s, in, "read", TW_DEADLINE_NONE, &ms),
                   TW_TRAP_INTERRUPTED);
  print_message("blocked fd_read interrupted after %.2f ms\n", ms);
  assert_true(ms < 1000);

  /* The next call reads what arrives, undisturbed. */
  assert_int_equal(write(sv[1], "hi", 2), 2);
  tw_val_t r;
  assert_int_equal(
      tw_instance_call(in, "read", NULL, 0, &r, 1, err, sizeof err), 0);
  assert_int_equal(r.of.i32, 0); /* errno success */
  uint8_t *mem;
  uint64_t size;
  assert_int_equal(tw_instance_memory(in, NULL, &mem, &size), 0);
  assert_int_equal(mem[300], 2); /* bytes read */
  assert_memory_equal(mem + 512, "hi", 2);

  tw_store_free(s);
  tw_linker_free(l);
  tw_wasi_free(w);
  close(sv[0]);
  close(sv[1]);
  tw_module_free(m);
  tw_engine_free(e);
}

static void bad_argument(void **state) {
  (void)state;
  assert_int_equal(tw_store_interrupt(NULL), TW_EINVAL);
  assert_string_equal(tw_trap_message(TW_TRAP_INTERRUPTED), "interrupted");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(bad_argument),
      cmocka_unit_test(loop_tier0),
      cmocka_unit_test(loop_tier1),
      cmocka_unit_test(wasi_waits),
  };
  tw_engine_t *e;
  if (tw_engine_new(NULL, &e)) return 1;
  rt_test_save_handlers();
  tw_engine_free(e);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
