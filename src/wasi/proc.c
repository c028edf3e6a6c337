/* WASI process-level calls: arguments and environment, clocks, random
 * bytes, exit, signals and yielding. None of them touches a descriptor.
 * Guest strings are laid out as the ABI asks: an array of u32 pointers
 * and one buffer of NUL-terminated strings.
 */
#include "wasi/wasi_int.h"

#include <errno.h>
#include <sched.h>
#include <sys/random.h>
#include <time.h>

/* Writes count pointers at vec and the packed strings at buf. */
static int put_strings(const struct wmem *m, uint32_t vec, uint32_t buf,
                       const char *strs, size_t bytes, uint32_t count) {
  if (!wmem_range(m, vec, (uint64_t)count * 4) ||
      !wmem_range(m, buf, bytes))
    return WE_FAULT;
  /* buf + bytes <= memory size <= 2^32: every offset fits a u32. */
  size_t off = 0;
  for (uint32_t i = 0; i < count; i++) {
    st32(m->base + vec + (uint64_t)i * 4, (uint32_t)(buf + off));
    off += strlen(strs + off) + 1;
  }
  if (bytes) memcpy(m->base + buf, strs, bytes);
  return 0;
}

static int put_sizes(const struct wmem *m, uint32_t count_ptr,
                     uint32_t size_ptr, uint32_t count, size_t bytes) {
  int e = tw__wasi_put32(m, count_ptr, count);
  return e ? e : tw__wasi_put32(m, size_ptr, (uint32_t)bytes);
}

TW__WASI_DECL(args_get) {
  return put_strings(m, A32(0), A32(1), w->args, w->args_bytes, w->argc);
}

TW__WASI_DECL(args_sizes_get) {
  return put_sizes(m, A32(0), A32(1), w->argc, w->args_bytes);
}

TW__WASI_DECL(environ_get) {
  return put_strings(m, A32(0), A32(1), w->env, w->env_bytes, w->envc);
}

TW__WASI_DECL(environ_sizes_get) {
  return put_sizes(m, A32(0), A32(1), w->envc, w->env_bytes);
}

/* WASI clock ids 0..3 to host clocks. */
static int host_clock(uint32_t id, clockid_t *out) {
  switch (id) {
  case 0: *out = CLOCK_REALTIME; return 0;
  case 1: *out = CLOCK_MONOTONIC; return 0;
  case 2: *out = CLOCK_PROCESS_CPUTIME_ID; return 0;
  case 3: *out = CLOCK_THREAD_CPUTIME_ID; return 0;
  default: return WE_INVAL;
  }
}

static uint64_t ts_ns(const struct timespec *ts) {
  if (ts->tv_sec < 0) return 0; /* before 1970: clamp, u64 has no sign */
  return (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
}

TW__WASI_DECL(clock_res_get) {
  clockid_t c;
  if (host_clock(A32(0), &c)) return WE_INVAL;
  struct timespec ts;
  if (clock_getres(c, &ts) != 0) return tw__wasi_errno(errno);
  uint64_t ns = ts_ns(&ts);
  return tw__wasi_put64(m, A32(1), ns ? ns : 1);
}

TW__WASI_DECL(clock_time_get) {
  clockid_t c;
  if (host_clock(A32(0), &c)) return WE_INVAL;
  struct timespec ts;
  if (clock_gettime(c, &ts) != 0) return tw__wasi_errno(errno);
  return tw__wasi_put64(m, A32(2), ts_ns(&ts));
}

TW__WASI_DECL(random_get) {
  uint32_t ptr = A32(0), len = A32(1);
  if (!wmem_range(m, ptr, len)) return WE_FAULT;
  uint8_t *p = m->base + ptr;
  size_t left = len;
  while (left) {
    /* getrandom returns at most 32 MiB at a time; loop for the rest. */
    ssize_t n = getrandom(p, left, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return tw__wasi_errno(errno);
    }
    p += n;
    left -= (size_t)n;
  }
  return 0;
}

TW__WASI_DECL(proc_exit) {
  (void)w;
  (void)m;
  return tw_caller_exit(caller, (int32_t)A32(0));
}

/* Signals are not delivered to guests: there is no handler model in
 * preview 1 worth emulating, and raising a host signal would hit the
 * runtime. The call fails with `nosys` (documented in docs/WASI.md). */
TW__WASI_DECL(proc_raise) {
  (void)w;
  (void)m;
  (void)a;
  return WE_NOSYS;
}

TW__WASI_DECL(sched_yield) {
  (void)w;
  (void)m;
  (void)a;
  sched_yield();
  return 0;
}
