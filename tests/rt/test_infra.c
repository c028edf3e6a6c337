/* Runtime infrastructure without generated code: guard-page reservations
 * and the fault handler, the protected call (traps, nesting, deadlines,
 * poll pages, the stack limit), memory growth and its caps, and type
 * interning.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rt/rt.h"

static tw_engine_t *engine;
static tw_store_t *store;
static struct sigaction tw_segv, tw_bus;

/* cmocka replaces the SIGSEGV handler while each test runs; put the
 * runtime's back (cmocka restores it afterwards). */
static void own_handlers(void) {
  sigaction(SIGSEGV, &tw_segv, NULL);
  sigaction(SIGBUS, &tw_bus, NULL);
}


static void config_defaults(void **state) {
  (void)state;
  own_handlers();
  tw_engine_config_t cfg;
  tw_engine_config_default(&cfg);
  assert_int_equal(cfg.max_memory_bytes, 256ull << 20);
  assert_int_equal(cfg.stack_margin_bytes, 256u << 10);
  assert_int_equal(cfg.max_table_elems, 10000000u);
  assert_int_equal(cfg.deadline_ms, 30000u);
  assert_string_equal(tw_trap_message(TW_TRAP_MEMORY_OOB),
                      "out of bounds memory access");
  assert_string_equal(tw_trap_message(TW_TRAP_STACK_EXHAUSTED),
                      "call stack exhausted");
}

/* Writes one byte at *(volatile char **)arg. */
static void poke(struct tw__exec *x, void *arg) {
  (void)x;
  volatile char *p = arg;
  *p = 1;
}

static void oob_in_reservation_traps(void **state) {
  (void)state;
  own_handlers();
  struct tw__rt_memory *mem;
  assert_int_equal(
      tw__rt_memory_new(NULL, 1, 4, true, 1 << 30, &mem, NULL, 0), 0);
  assert_int_equal(mem->m.size, 65536);
  assert_int_equal(tw__rt_protected_call(store, poke, mem->m.base + 100), 0);
  assert_int_equal(mem->m.base[100], 1);
  /* Just past the accessible part, and far out (4 GiB + 4 GiB offset). */
  assert_int_equal(
      tw__rt_protected_call(store, poke, mem->m.base + 65536), TW_ETRAP);
  tw_trap_info_t ti;
  tw_store_last_trap(store, &ti);
  assert_int_equal(ti.kind, TW_TRAP_MEMORY_OOB);
  assert_string_equal(ti.message, "out of bounds memory access");
  assert_int_equal(tw__rt_protected_call(
                       store, poke, mem->m.base + (8ull << 30) + 65535),
                   TW_ETRAP);
  /* The handler is still installed after a trap: trap again, then run. */
  assert_int_equal(
      tw__rt_protected_call(store, poke, mem->m.base + 70000), TW_ETRAP);
  assert_int_equal(tw__rt_protected_call(store, poke, mem->m.base + 5), 0);
  tw_store_last_trap(store, &ti);
  assert_int_equal(ti.kind, TW_TRAP_NONE);
  tw__rt_memory_free(mem);
}

/* The fault went to the previous handler: the default kills the child
 * with SIGSEGV; under AddressSanitizer its handler reports and exits 1. */
static bool died_of_fault(int st) {
  if (WIFSIGNALED(st)) return WTERMSIG(st) == SIGSEGV;
  return WIFEXITED(st) && WEXITSTATUS(st) != 0;
}

/* A fault outside every reservation must not be swallowed, even inside a
 * protected call: the child must die of SIGSEGV. */
static void foreign_fault_crashes(void **state) {
  (void)state;
  own_handlers();
  void *p = mmap(NULL, 65536, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  assert_true(p != MAP_FAILED);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    alarm(10); /* a handler loop must end as a failure, not a hung test */
    tw__rt_protected_call(store, poke, p);
    _exit(0);
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(died_of_fault(st));
  /* Outside a protected call too, even inside a reservation. */
  struct tw__rt_memory *mem;
  assert_int_equal(tw__rt_memory_new(NULL, 0, 0, false, 1 << 20, &mem, NULL, 0), 0);
  pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    alarm(10);
    poke(NULL, mem->m.base);
    _exit(0);
  }
  assert_int_equal(waitpid(pid, &st, 0), pid);
  assert_true(died_of_fault(st));
  tw__rt_memory_free(mem);
  munmap(p, 65536);
}

static void trap_via_services(struct tw__exec *x, void *arg) {
  x->x.rt->trap(&x->x, (int)(intptr_t)arg);
  fail_msg("trap returned");
}

static int inner_rc;
static void nested(struct tw__exec *x, void *arg) {
  (void)arg;
  /* As a host function calling back into a guest would. */
  x->in_host++;
  inner_rc = tw__rt_protected_call(store, trap_via_services,
                                   (void *)(intptr_t)TWR_TRAP_DIV_BY_ZERO);
  x->in_host--;
  assert_ptr_equal(tw__rt_current_exec(), x);
  x->x.rt->trap(&x->x, TWR_TRAP_UNREACHABLE);
}

static void traps_and_nesting(void **state) {
  (void)state;
  own_handlers();
  tw_trap_info_t ti;
  for (int k = TWR_TRAP_UNREACHABLE; k <= TWR_TRAP_DEADLINE; k++) {
    assert_int_equal(tw__rt_protected_call(store, trap_via_services,
                                           (void *)(intptr_t)k),
                     TW_ETRAP);
    tw_store_last_trap(store, &ti);
    assert_int_equal(ti.kind, k);
    assert_string_equal(ti.message, tw_trap_message(k));
  }
  assert_int_equal(tw__rt_protected_call(store, nested, NULL), TW_ETRAP);
  assert_int_equal(inner_rc, TW_ETRAP);
  tw_store_last_trap(store, &ti);
  assert_int_equal(ti.kind, TW_TRAP_UNREACHABLE);
  assert_null(tw__rt_current_exec());
}

/* Spins the way generated code checks at loop headers. */
static void spin(struct tw__exec *x, void *arg) {
  (void)arg;
  for (;;)
    if (x->x.stack_limit == TWR_STOPPED)
      x->x.rt->trap(&x->x, TWR_TRAP_DEADLINE);
}

/* Runs fn(arg) in a protected call of the store, whose engine's deadline
 * is 50 ms: it must end with the deadline trap, near that deadline. */
static void expect_deadline(tw__rt_body_fn fn, void *arg) {
  uint64_t t0 = tw__now_ns();
  assert_int_equal(tw__rt_protected_call(store, fn, arg), TW_ETRAP);
  double ms = (double)(tw__now_ns() - t0) / 1e6;
  tw_trap_info_t ti;
  tw_store_last_trap(store, &ti);
  assert_int_equal(ti.kind, TW_TRAP_DEADLINE);
  assert_string_equal(ti.message, "deadline exceeded");
  assert_true(ms >= 45 && ms < 1000);
}

static void deadline_fires(void **state) {
  (void)state;
  own_handlers();
  expect_deadline(spin, NULL);
}

/* Spins the way recursive generated code checks at function entries: a
 * stopped call fails the stack check, and is reported as a deadline. */
static void spin_entries(struct tw__exec *x, void *arg) {
  (void)arg;
  for (;;) {
    char here;
    if ((twr_uptr)&here - 256 < x->x.stack_limit)
      x->x.rt->trap(&x->x, TWR_TRAP_STACK_EXHAUSTED);
  }
}

static void deadline_fires_at_entries(void **state) {
  (void)state;
  own_handlers();
  assert_int_equal(tw__rt_protected_call(store, spin_entries, NULL),
                   TW_ETRAP);
  tw_trap_info_t ti;
  tw_store_last_trap(store, &ti);
  assert_int_equal(ti.kind, TW_TRAP_DEADLINE);
}

/* The permissions ("rw-p", "r--p", "---p") of the mapping holding addr,
 * from /proc/self/maps. */
static void prot_of(const void *addr, char out[5]) {
  FILE *f = fopen("/proc/self/maps", "r");
  assert_non_null(f);
  char line[512];
  strcpy(out, "????");
  while (fgets(line, sizeof line, f)) {
    unsigned long lo, hi;
    char perms[5];
    if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 &&
        (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
      memcpy(out, perms, 5);
      break;
    }
  }
  fclose(f);
}

/* Spins the way generated code on memory 0 checks at loop headers: reads
 * the poll page below the memory's base. */
static void spin_on_page(struct tw__exec *x, void *arg) {
  (void)x;
  const volatile uint8_t *m0 = arg;
  for (;;)
    if (m0[-1]) fail_msg("poll page not zero");
}

static void read_page_once(struct tw__exec *x, void *arg) {
  (void)x;
  const volatile uint8_t *m0 = arg;
  assert_int_equal(m0[-1], 0);
}

static void poll_pages(void **state) {
  (void)state;
  own_handlers();
  struct tw__rt_memory *mem, *other, *raw;
  int peer;
  assert_int_equal(tw__rt_memory_new(store, 1, 1, true, 1 << 20, &mem, NULL,
                                     0), 0);
  assert_int_equal(tw__rt_memory_new(&peer, 1, 1, true, 1 << 20, &other,
                                     NULL, 0), 0);
  assert_int_equal(tw__rt_memory_new(NULL, 1, 1, true, 1 << 20, &raw, NULL,
                                     0), 0);
  uint8_t *b = mem->m.base;
  uintptr_t page = (uintptr_t)b - 4096;
  char p[5];
  prot_of(b - 1, p);
  assert_string_equal(p, "r--p");
  assert_int_equal(tw__rt_poll_page_at((uintptr_t)b - 1), page);
  assert_int_equal(tw__rt_poll_page_at(page), page);
  assert_int_equal(tw__rt_poll_page_at(page - 1), 0);
  assert_int_equal(tw__rt_poll_page_at((uintptr_t)b), 0);
  assert_int_equal(tw__rt_poll_page_at((uintptr_t)raw->m.base - 1), 0);
  /* Arming is per owner; NULL arms every owned memory, never raw ones. */
  tw__rt_polls_arm(&peer);
  prot_of(b - 1, p);
  assert_string_equal(p, "r--p");
  prot_of(other->m.base - 1, p);
  assert_string_equal(p, "---p");
  tw__rt_polls_arm(store);
  prot_of(b - 1, p);
  assert_string_equal(p, "---p");
  tw__rt_poll_page_disarm(page);
  tw__rt_poll_page_disarm((uintptr_t)other->m.base - 4096);
  tw__rt_polls_arm(NULL);
  prot_of(b - 1, p);
  assert_string_equal(p, "---p");
  prot_of(raw->m.base - 1, p);
  assert_string_equal(p, "r--p");
  prot_of(b, p);
  assert_string_equal(p, "rw-p");
  /* A call that reads an armed page without being stopped: the fault
   * handler disarms the page and the read goes on. */
  assert_int_equal(tw__rt_protected_call(store, read_page_once, b), 0);
  prot_of(b - 1, p);
  assert_string_equal(p, "r--p");
  /* A loop on the page stops at the deadline: the timer arms it. */
  expect_deadline(spin_on_page, b);
  /* The page stays armed after the trap; the next call heals it. */
  prot_of(b - 1, p);
  assert_string_equal(p, "---p");
  assert_int_equal(tw__rt_protected_call(store, read_page_once, b), 0);
  prot_of(b - 1, p);
  assert_string_equal(p, "r--p");
  /* A read of an armed page outside any protected call is healed too,
   * not turned into a crash or a trap. */
  tw__rt_polls_arm(store);
  assert_int_equal(((const volatile uint8_t *)b)[-1], 0);
  prot_of(b - 1, p);
  assert_string_equal(p, "r--p");
  tw__rt_memory_free(raw);
  tw__rt_memory_free(other);
  tw__rt_memory_free(mem);
}

static void check_stack(struct tw__exec *x, void *arg) {
  char here;
  *(char **)arg = (char *)x->x.stack_limit;
  assert_true((twr_uptr)&here > x->x.stack_limit);
  assert_true((twr_uptr)&here - x->x.stack_limit < (64 << 20));
}

static void stack_limit_sane(void **state) {
  (void)state;
  own_handlers();
  char *lim = NULL;
  assert_int_equal(tw__rt_protected_call(store, check_stack, &lim), 0);
  assert_non_null(lim);
}

static void memory_grow_and_caps(void **state) {
  (void)state;
  own_handlers();
  struct tw__rt_memory *mem;
  /* Cap of 4 pages although the module would allow 10. */
  assert_int_equal(
      tw__rt_memory_new(NULL, 1, 10, true, 4 * 65536, &mem, NULL, 0), 0);
  assert_int_equal(tw__rt_memory_grow(&mem->m, 0), 1);
  assert_int_equal(tw__rt_memory_grow(&mem->m, 2), 1);
  assert_int_equal(mem->m.pages, 3);
  mem->m.base[3 * 65536 - 1] = 7; /* accessible now */
  assert_int_equal(tw__rt_memory_grow(&mem->m, 2), UINT32_MAX);
  assert_int_equal(tw__rt_memory_grow(&mem->m, 1), 3);
  assert_int_equal(tw__rt_memory_grow(&mem->m, 1), UINT32_MAX);
  assert_int_equal(mem->m.size, 4 * 65536);
  tw__rt_memory_free(mem);
  /* Declared max below the cap. */
  assert_int_equal(tw__rt_memory_new(NULL, 0, 2, true, 1 << 30, &mem, NULL, 0), 0);
  assert_int_equal(tw__rt_memory_grow(&mem->m, 3), UINT32_MAX);
  assert_int_equal(tw__rt_memory_grow(&mem->m, 2), 0);
  assert_int_equal(tw__rt_memory_grow(&mem->m, 0xffffffffu), UINT32_MAX);
  tw__rt_memory_free(mem);
  /* No declared max: the engine cap and 65536 pages bound it. */
  assert_int_equal(
      tw__rt_memory_new(NULL, 0, 0, false, 1ull << 40, &mem, NULL, 0), 0);
  assert_int_equal(mem->m.max_pages, 65536);
  tw__rt_memory_free(mem);
  char err[128];
  assert_int_equal(
      tw__rt_memory_new(NULL, 5, 0, false, 4 * 65536, &mem, err, sizeof err),
      TW_ELIMIT);
  assert_non_null(strstr(err, "exceeds"));
}

static void reservation_registry(void **state) {
  (void)state;
  own_handlers();
  static char a[100];
  int s1 = tw__rt_reservation_register(a, sizeof a);
  assert_true(s1 >= 0);
  assert_true(tw__rt_reservation_contains((uintptr_t)&a[0]));
  assert_true(tw__rt_reservation_contains((uintptr_t)&a[99]));
  assert_false(tw__rt_reservation_contains((uintptr_t)&a[100]));
  tw__rt_reservation_unregister(s1);
  assert_false(tw__rt_reservation_contains((uintptr_t)&a[0]));
  /* Many memories at once, freed again; slots are reused. */
  struct tw__rt_memory *mems[64];
  for (int i = 0; i < 64; i++)
    assert_int_equal(tw__rt_memory_new(NULL, 0, 0, false, 0, &mems[i], NULL, 0),
                     0);
  for (int i = 0; i < 64; i++) tw__rt_memory_free(mems[i]);
  int s2 = tw__rt_reservation_register(a, sizeof a);
  assert_int_equal(s2, s1);
  tw__rt_reservation_unregister(s2);
}

static void type_interning(void **state) {
  (void)state;
  own_handlers();
  const uint8_t t1[] = {TW_I32, TW_I64, TW_F32};
  const uint8_t t2[] = {TW_I32, TW_I64, TW_F64};
  uint32_t a, b, c, d, e;
  assert_int_equal(tw__rt_type_intern(engine, 2, 1, t1, &a), 0);
  assert_int_equal(tw__rt_type_intern(engine, 2, 1, t2, &b), 0);
  assert_int_equal(tw__rt_type_intern(engine, 1, 2, t1, &c), 0);
  assert_int_equal(tw__rt_type_intern(engine, 0, 0, NULL, &d), 0);
  assert_int_not_equal(a, b);
  assert_int_not_equal(a, c);
  assert_int_not_equal(a, d);
  assert_int_equal(tw__rt_type_intern(engine, 2, 1, t1, &e), 0);
  assert_int_equal(a, e);
  /* Enough distinct types to force the hash table to grow. */
  uint32_t ids[500];
  for (int i = 0; i < 500; i++) {
    uint8_t t[3] = {(uint8_t)(i & 0xff), (uint8_t)(i >> 8), TW_I32};
    assert_int_equal(tw__rt_type_intern(engine, 2, 1, t, &ids[i]), 0);
  }
  for (int i = 0; i < 500; i++) {
    uint8_t t[3] = {(uint8_t)(i & 0xff), (uint8_t)(i >> 8), TW_I32};
    uint32_t id;
    assert_int_equal(tw__rt_type_intern(engine, 2, 1, t, &id), 0);
    assert_int_equal(id, ids[i]);
    tw_functype_t ft;
    tw__rt_type_get(engine, id, &ft);
    assert_int_equal(ft.nparams, 2);
    assert_int_equal(ft.nresults, 1);
    assert_memory_equal(ft.params, t, 3);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(config_defaults),
      cmocka_unit_test(oob_in_reservation_traps),
      cmocka_unit_test(foreign_fault_crashes),
      cmocka_unit_test(traps_and_nesting),
      cmocka_unit_test(deadline_fires),
      cmocka_unit_test(deadline_fires_at_entries),
      cmocka_unit_test(poll_pages),
      cmocka_unit_test(stack_limit_sane),
      cmocka_unit_test(memory_grow_and_caps),
      cmocka_unit_test(reservation_registry),
      cmocka_unit_test(type_interning),
  };
  tw_engine_config_t cfg;
  tw_engine_config_default(&cfg);
  cfg.deadline_ms = 50;
  if (tw_engine_new(&cfg, &engine) || tw_store_new(engine, &store)) return 1;
  sigaction(SIGSEGV, NULL, &tw_segv);
  sigaction(SIGBUS, NULL, &tw_bus);
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tw_store_free(store);
  tw_engine_free(engine);
  return rc;
}
