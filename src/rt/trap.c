/* Traps: the protected call (the one place that uses sigsetjmp), the
 * SIGSEGV/SIGBUS handler that turns a guard-page fault into a trap, and
 * interrupts from other threads (tw_store_interrupt).
 * Invariant: a fault becomes a trap only when this thread is running guest
 * code (a protected call is active and no host function is running) and
 * the address lies inside a registered memory reservation; every other
 * fault gets the previous disposition back and re-raises, so real bugs
 * still crash loudly. We never unwind across host frames: a trap unwinds
 * to the innermost protected call, whose body only runs generated code
 * and runtime services.
 */
#include "rt/rt.h"

#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

_Static_assert(TWR_TRAP_UNREACHABLE == TW_TRAP_UNREACHABLE, "trap codes");
_Static_assert(TWR_TRAP_MEMORY_OOB == TW_TRAP_MEMORY_OOB, "trap codes");
_Static_assert(TWR_TRAP_DIV_BY_ZERO == TW_TRAP_DIV_BY_ZERO, "trap codes");
_Static_assert(TWR_TRAP_INT_OVERFLOW == TW_TRAP_INT_OVERFLOW, "trap codes");
_Static_assert(TWR_TRAP_BAD_CONVERSION == TW_TRAP_BAD_CONVERSION,
               "trap codes");
_Static_assert(TWR_TRAP_UNDEFINED_ELEMENT == TW_TRAP_UNDEFINED_ELEMENT,
               "trap codes");
_Static_assert(TWR_TRAP_UNINITIALIZED_ELEMENT ==
                   TW_TRAP_UNINITIALIZED_ELEMENT,
               "trap codes");
_Static_assert(TWR_TRAP_INDIRECT_CALL_TYPE == TW_TRAP_INDIRECT_CALL_TYPE,
               "trap codes");
_Static_assert(TWR_TRAP_STACK_EXHAUSTED == TW_TRAP_STACK_EXHAUSTED,
               "trap codes");
_Static_assert(TWR_TRAP_TABLE_OOB == TW_TRAP_TABLE_OOB, "trap codes");
_Static_assert(TWR_TRAP_DEADLINE == TW_TRAP_DEADLINE, "trap codes");
_Static_assert(TWR_TRAP_INTERRUPTED == TW_TRAP_INTERRUPTED, "trap codes");

#define ALTSTACK_BYTES (64u << 10)

static __thread struct tw__exec *cur_exec;
static __thread char *thread_stack_low; /* cached lowest stack address */
static __thread size_t thread_stack_size;
static __thread bool altstack_done;

static pthread_once_t trap_once = PTHREAD_ONCE_INIT;
static int trap_init_rc;
static pthread_key_t altstack_key;
static struct sigaction old_segv, old_bus;

const char *tw_trap_message(tw_trap_kind_t kind) {
  switch (kind) {
#define TW_TRAP_MSG_CASE_(name, msg) \
  case TW_TRAP_##name:               \
    return msg;
    TW_TRAPS(TW_TRAP_MSG_CASE_)
#undef TW_TRAP_MSG_CASE_
  case TW_TRAP_COUNT_:
    break;
  }
  return "unknown trap";
}

void tw_store_last_trap(const tw_store_t *store, tw_trap_info_t *out) {
  if (!out) return;
  if (!store) {
    memset(out, 0, sizeof *out);
    snprintf(out->message, sizeof out->message, "%s",
             tw_trap_message(TW_TRAP_NONE));
    return;
  }
  *out = store->last_trap;
}

void tw__rt_set_trap(tw_store_t *s, int kind, int32_t exit_code,
                     const char *fmt, ...) {
  s->last_trap.kind = (tw_trap_kind_t)kind;
  s->last_trap.exit_code = exit_code;
  if (fmt) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->last_trap.message, sizeof s->last_trap.message, fmt, ap);
    va_end(ap);
  } else {
    snprintf(s->last_trap.message, sizeof s->last_trap.message, "%s",
             tw_trap_message((tw_trap_kind_t)kind));
  }
}

struct tw__exec *tw__rt_current_exec(void) { return cur_exec; }

static void fault_handler(int sig, siginfo_t *si, void *uctx) {
  (void)uctx;
  struct tw__exec *x = cur_exec;
  uintptr_t addr = (uintptr_t)si->si_addr;
  if (x && x->in_host == 0 && tw__rt_reservation_contains(addr)) {
    x->trap_kind = TW_TRAP_MEMORY_OOB;
    siglongjmp(x->jb, 1);
  }
  /* A loop header read an armed poll page: a call of the memory's store
   * was stopped. If it is this thread's call, that is its deadline trap;
   * otherwise (a nested call, another call of the store, or a page armed
   * for every memory) the page is made readable again and the load runs
   * again: the timer re-arms pages for as long as a stopped call runs. */
  uintptr_t page = tw__rt_poll_page_at(addr);
  if (page) {
    if (x && x->in_host == 0 && x->x.stack_limit == TWR_STOPPED) {
      x->trap_kind = TW_TRAP_DEADLINE;
      siglongjmp(x->jb, 1);
    }
    tw__rt_poll_page_disarm(page);
    return;
  }
  /* Not a guest fault: put the previous disposition back and return; the
   * faulting instruction runs again and the fault takes its normal course
   * (usually a core dump). */
  sigaction(sig, sig == SIGSEGV ? &old_segv : &old_bus, NULL);
}

static void altstack_release(void *p) {
  stack_t ss = {.ss_flags = SS_DISABLE};
  sigaltstack(&ss, NULL);
  munmap(p, ALTSTACK_BYTES);
}

static void trap_init_once(void) {
  if (pthread_key_create(&altstack_key, altstack_release)) {
    trap_init_rc = TW_ENOMEM;
    return;
  }
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = fault_handler;
  /* SA_NODEFER: we leave the handler by siglongjmp without restoring the
   * signal mask (sigsetjmp(..., 0) saves a syscall per call), so the
   * signal must not be blocked while the handler runs. */
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &old_segv) || sigaction(SIGBUS, &sa, &old_bus))
    trap_init_rc = TW_EIO;
}

int tw__rt_trap_init(void) {
  pthread_once(&trap_once, trap_init_once);
  return trap_init_rc;
}

/* Gives this thread an alternate signal stack (so the handler can run even
 * when the fault is a stack overflow in host code), unless it has one. */
static void ensure_altstack(void) {
  if (altstack_done) return;
  altstack_done = true;
  stack_t cur;
  if (sigaltstack(NULL, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return;
  void *p = mmap(NULL, ALTSTACK_BYTES, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return; /* handler then runs on the normal stack */
  stack_t ss = {.ss_sp = p, .ss_size = ALTSTACK_BYTES, .ss_flags = 0};
  if (sigaltstack(&ss, NULL) || pthread_setspecific(altstack_key, p)) {
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    munmap(p, ALTSTACK_BYTES);
  }
}

/* The limit word of a call on this thread: the lowest address guest code
 * may push the stack to, plus the TWR_FRAME_SLACK that every entry check
 * counts in (abi.h). */
static char *stack_limit(uint32_t margin) {
  if (!thread_stack_low) {
    pthread_attr_t attr;
    void *addr = NULL;
    size_t size = 0;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      pthread_attr_getstack(&attr, &addr, &size);
      pthread_attr_destroy(&attr);
    }
    if (!addr) {
      /* Unknown stack: assume 1 MiB below the current frame. */
      char here;
      addr = (void *)((uintptr_t)&here - (1u << 20));
      size = 1u << 20;
    }
    thread_stack_low = addr;
    thread_stack_size = size;
  }
  /* On small thread stacks keep at least half the stack for guest code:
   * the margin protects host frames, which need far less than 256 KiB. */
  size_t m = margin;
  if (m > thread_stack_size / 2) m = thread_stack_size / 2;
  return thread_stack_low + m + TWR_FRAME_SLACK;
}

TW_NORETURN void tw__rt_trap(struct tw__exec *x, int kind) {
  /* A stopped call fails its next stack check too: the limit word says
   * which it was. */
  if (kind == TW_TRAP_STACK_EXHAUSTED && x->x.stack_limit == TWR_STOPPED)
    kind = TW_TRAP_DEADLINE;
  x->trap_kind = kind;
  siglongjmp(x->jb, 1);
}

/* ---- Interrupts ----
 * Every access to store->exec, ->interrupted and ->interrupters is
 * seq_cst, so they fall in one total order. A call links its exec into
 * the store's chain and only then reads `interrupted`; tw_store_interrupt
 * sets `interrupted` and only then reads the chain: one of the two sees
 * the other, so either the call stops itself or the interrupter finds
 * it. An interrupter counts itself in `interrupters`
 * before reading the chain, and a call that unlinks its exec waits for
 * the count to be 0 before its frame goes away: an interrupter that came
 * later in the order reads the chain without that exec. */

void tw__rt_exec_stop(struct tw__exec *x) {
  __atomic_store_n(&x->deadline, 0, __ATOMIC_RELAXED);
  __atomic_store_n(&x->x.stack_limit, TWR_STOPPED, __ATOMIC_RELAXED);
  /* Loops over memory poll its page: arm the store's. A call inside a
   * host function is caught when the host function returns instead. */
  if (__atomic_load_n(&x->in_host, __ATOMIC_RELAXED) == 0)
    tw__rt_polls_arm(x->store);
}

int tw_store_interrupt(tw_store_t *store) {
  if (!store) return TW_EINVAL;
  atomic_store(&store->interrupted, true);
  atomic_fetch_add(&store->interrupters, 1);
  for (struct tw__exec *x = atomic_load(&store->exec); x; x = x->store_prev)
    tw__rt_exec_stop(x);
  atomic_fetch_sub(&store->interrupters, 1);
  return 0;
}

/* Links ex as the store's innermost call (the interrupt flag is cleared
 * first when it is the outermost one) and stops it at once if the store
 * is interrupted. */
static void exec_link(tw_store_t *store, struct tw__exec *ex) {
  ex->store_prev = atomic_load(&store->exec);
  if (!ex->store_prev) atomic_store(&store->interrupted, false);
  atomic_store(&store->exec, ex);
  if (atomic_load(&store->interrupted)) tw__rt_exec_stop(ex);
}

/* Unlinks the store's innermost call ex; returns once no interrupter can
 * still reach it. */
static void exec_unlink(tw_store_t *store, struct tw__exec *ex) {
  atomic_store(&store->exec, ex->store_prev);
  /* Interrupters hold the count for a few loads and stores. */
  while (atomic_load(&store->interrupters)) sched_yield();
}

int tw__rt_protected_call(tw_store_t *store, tw__rt_body_fn fn, void *arg) {
  return tw__rt_protected_call_dl(store, fn, arg,
                                  store->engine->cfg.deadline_ms);
}

int tw__rt_protected_call_dl(tw_store_t *store, tw__rt_body_fn fn, void *arg,
                             uint32_t deadline_ms) {
  tw_engine_t *e = store->engine;
  /* Between outermost calls no guest frame of this store is live, so
   * switching its instances to tier-1 code is safe here. */
  if (!cur_exec && store->tier0_instances) tw__rt_tier_store_update(store);
  struct tw__exec ex;
  struct tw__exec *volatile vx = &ex;
  ensure_altstack();
  memset(&ex, 0, sizeof ex);
  ex.x.rt = &tw__rt_services;
  ex.x.stack_limit = (twr_uptr)stack_limit(e->cfg.stack_margin_bytes);
  ex.prev = cur_exec;
  ex.store = store;
  tw__rt_calls_enter(e, &ex, deadline_ms);
  store->last_trap.kind = TW_TRAP_NONE;
  int rc = 0;
  exec_link(store, &ex);
  cur_exec = &ex;
  if (sigsetjmp(ex.jb, 0) == 0) {
    fn(&ex, arg);
  } else {
    struct tw__exec *t = vx;
    /* A stopped call traps as a deadline; an interrupt stopped this one. */
    if (t->trap_kind == TW_TRAP_DEADLINE && atomic_load(&store->interrupted))
      t->trap_kind = TW_TRAP_INTERRUPTED;
    if (t->trap_kind == TW_TRAP_EXIT) {
      rc = TW_EEXIT;
    } else {
      rc = TW_ETRAP;
      if (t->trap_kind != TW_TRAP_HOST)
        tw__rt_set_trap(store, t->trap_kind, 0, NULL);
    }
  }
  cur_exec = vx->prev;
  exec_unlink(store, vx);
  tw__rt_calls_leave(e, vx);
  return rc;
}
