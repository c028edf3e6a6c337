/* Helpers for generated code, appended after src/rt/abi.h to form the
 * prelude of every generated translation unit (never included by the
 * runtime). Like abi.h it includes no header: the libm functions it needs
 * are declared here and bound by the compiler driver (tier 0:
 * tcc_add_symbol). Every helper is free of undefined behaviour for every
 * input; the ones that can trap call x->rt->trap, which does not return,
 * and still return a value so the C compiler never sees a UB path.
 */
#ifndef TW_CODEGEN_PRELUDE_H
#define TW_CODEGEN_PRELUDE_H

/* ---- entry checks ----
 * Every function body starts with (emit_func.c decides which apply):
 *   struct twr_inst *in = env;
 *   twr_u8 *const m0_ = in->mem0;     if it touches memory 0 or polls it
 *   TWR_ENTER(x, est);                if it makes calls
 * and every loop header has TWR_POLLM(m0_) (modules with a memory 0) or
 * TWR_POLL(x) (modules without). mem0 never changes during a call
 * (abi.h), so it is read once: a may_alias guest store would otherwise
 * force gcc to reload it after every store.
 * Deadlines and interrupts need no check of their own: the runtime stops
 * a call by storing TWR_STOPPED into x->stack_limit (abi.h), which fails
 * the next stack check at a function entry (TWR_ENTER) and the next
 * TWR_POLL at a loop header, and by arming the poll pages of its store's
 * memories, which faults the next TWR_POLLM. */

/* The stack pointer, for the stack check. gcc/clang on x86-64 and
 * aarch64 read it with an (ordinary, movable) asm, so the check does not
 * need a stack slot and gcc can still shrink-wrap the prologue; else the
 * address of a local stands in for it. */
#if defined(__GNUC__) && !defined(__TINYC__) && defined(__x86_64__)
#define TWR_SP(sp) __asm__("movq %%rsp, %0" : "=r"(sp))
#elif defined(__GNUC__) && !defined(__TINYC__) && defined(__aarch64__)
#define TWR_SP(sp) __asm__("mov %0, sp" : "=r"(sp))
#else
#define TWR_SP(sp)                                                          \
  do {                                                                      \
    char probe_;                                                            \
    (sp) = (twr_uptr)&probe_;                                               \
  } while (0)
#endif

/* Native stack check at function entry: `est` bytes (> TWR_FRAME_SLACK)
 * is the estimated frame of the function being entered; the limit word
 * already allows TWR_FRAME_SLACK of it (abi.h). A stopped call fails it
 * too (the runtime's trap handler reports which). */
#define TWR_ENTER(x, est)                                                   \
  do {                                                                      \
    twr_uptr sp_;                                                           \
    TWR_SP(sp_);                                                            \
    if (sp_ - ((twr_uptr)(est) - TWR_FRAME_SLACK) < (x)->stack_limit)       \
      TWR_TRAP((x), TWR_TRAP_STACK_EXHAUSTED);                              \
  } while (0)

/* TWR_ENTER for a frame estimate of at most TWR_FRAME_SLACK bytes: the
 * stack pointer against the limit word. On x86-64 an asm goto compares
 * %rsp with the word in memory (gcc does not fold a volatile read into a
 * compare) and branches: one fused compare-and-branch. asm goto is
 * volatile: never moved or deleted. */
#if defined(__GNUC__) && !defined(__TINYC__) && defined(__x86_64__)
#define TWR_ENTER_S(x, est)                                                 \
  do {                                                                      \
    __label__ low_;                                                         \
    __asm__ goto("cmpq %0, %%rsp\n\tjb %l[low_]"                            \
                 : : "m"((x)->stack_limit) : "cc" : low_);                   \
    if (0) {                                                                \
    low_:                                                                   \
      TWR_TRAP((x), TWR_TRAP_STACK_EXHAUSTED);                              \
    }                                                                       \
  } while (0)
#else
#define TWR_ENTER_S(x, est) TWR_ENTER(x, TWR_FRAME_SLACK)
#endif

/* Loop header check: has the call been stopped? On x86-64 one compare of
 * the word in memory with an immediate -1 and a branch. */
#if defined(__GNUC__) && !defined(__TINYC__) && defined(__x86_64__)
#define TWR_POLL(x)                                                         \
  do {                                                                      \
    __label__ late_;                                                        \
    __asm__ goto("cmpq $-1, %0\n\tje %l[late_]"                             \
                 : : "m"((x)->stack_limit) : "cc" : late_);                 \
    if (0) {                                                                \
    late_:                                                                  \
      TWR_TRAP((x), TWR_TRAP_DEADLINE);                                     \
    }                                                                       \
  } while (0)
#else
#define TWR_POLL(x)                                                         \
  do {                                                                      \
    if ((x)->stack_limit == TWR_STOPPED)                                    \
      TWR_TRAP((x), TWR_TRAP_DEADLINE);                                     \
  } while (0)
#endif

/* Loop header check of a module with a memory 0: read the last byte of
 * the memory's poll page, just below its base (abi.h). One load, no
 * branch, no register: the runtime arms the page to stop a call, and the
 * fault handler turns the fault into the deadline trap. An asm volatile
 * (tcc's inline assembler takes it too), so the read is neither deleted
 * nor moved out of the loop; elsewhere a volatile read whose value is
 * tested (tcc drops a volatile read cast to void). */
#if (defined(__GNUC__) || defined(__TINYC__)) && defined(__x86_64__)
#define TWR_POLLM(m) __asm__ volatile("testb $0, -1(%0)" : : "r"(m) : "cc")
#elif defined(__GNUC__) && !defined(__TINYC__) && defined(__aarch64__)
#define TWR_POLLM(m)                                                        \
  do {                                                                      \
    twr_u32 t_;                                                             \
    __asm__ volatile("ldurb %w0, [%1, #-1]" : "=r"(t_) : "r"(m));           \
  } while (0)
#else
#define TWR_POLLM(m)                                                        \
  do {                                                                      \
    if (*(const volatile twr_u8 *)((m) - 1)) {                              \
    }                                                                       \
  } while (0)
#endif

/* Traps never return (the runtime unwinds); telling gcc/clang so keeps
 * them from reasoning about, or warning on, the paths after a trap. */
#if defined(__GNUC__) && !defined(__TINYC__)
__attribute__((noreturn, cold)) static void twr_trap(struct twr_exec *x,
                                                    int code) {
  x->rt->trap(x, code);
  __builtin_unreachable();
}
#define TWR_TRAP(x, code) twr_trap((x), (code))
#else
#define TWR_TRAP(x, code) (x)->rt->trap((x), (code))
#endif

/* ---- linear memory access (little-endian host assumed) ----
 * Addresses are m0_ + (u64)addr + offset: 32-bit addresses plus a 32-bit
 * offset stay inside the 8 GiB reservation, so out of bounds faults in a
 * guard page and the signal handler turns the fault into a trap.
 *
 * What a load must keep under an optimising compiler, and how:
 *  (a) An executed load must really access memory, even when its value
 *      is never used (traps.wast "no_dce": a dropped out-of-bounds load
 *      still traps). Seeing that in the codegen is not enough: a value
 *      stored into a local that is overwritten before use, or used on
 *      one branch only (gcc sinks the load into that branch), or feeding
 *      a store that a later store kills, is dead to gcc too. So every
 *      load's value is handed to an empty asm that takes it in a
 *      register (TWR_KEEP): an asm without outputs is volatile, never
 *      deleted, so the load executes on every path that reaches it. Unlike
 *      a volatile load, the load itself stays an ordinary memory read:
 *      gcc may CSE two loads of the same address with no store between,
 *      hoist an invariant load out of a loop, and schedule freely. The
 *      asm costs no instruction; it does keep a loaded value in a
 *      register (no load folded into an ALU operand) and, like volatile,
 *      keeps gcc from vectorizing the loop. (Measured and rejected:
 *      xoring every integer load into a per-function sink consumed by an
 *      asm at each return: +9% instructions on sha256, +13% heapsort,
 *      +25% compress; nothing vectorized. Dropping the keep entirely, the
 *      unsafe bound, saves at most 8% (matmul), 0-4% elsewhere.)
 *  (b) Order. After a trap, memory and globals must show every store
 *      before the trapping instruction and none after it. gcc reorders
 *      accesses it proves disjoint: it hoists an invariant load out of a
 *      loop (trapping before the loop's first store), sinks a store out
 *      of a loop (so a deadline trap finds none of its iterations
 *      stored), merges neighbouring byte stores into one wider store
 *      (which faults as a whole where the first bytes should have been
 *      written), and schedules a load above a store. So every store and
 *      global.set sits between two compiler barriers (TWR_ORDER: an
 *      empty asm that may read and write all memory). A loop that stores
 *      has a barrier in its body, so nothing crosses its iterations
 *      either. Loads between two stores stay free: gcc may CSE, fold and
 *      schedule them among themselves (two loads that trap trap alike),
 *      and hoist one out of a loop without stores or calls, past that
 *      loop's checks only: memory is the same after either trap, and a
 *      deadline that passes just then may be reported as the load's
 *      trap. Costs under 1% of instructions on bench/cpu (nbody, compress
 *      the most; loop checks as barriers too cost heapsort 12% of its
 *      time). tier 0 (tcc) never reorders. */
#if defined(__TINYC__) || !defined(__GNUC__)
/* tcc does not optimise on aliasing or delete loads; x86-64 tolerates
 * unaligned access. */
#define TWR_ORDER() ((void)0)
#define TWR_LOAD(T, p) (*(const T *)(const void *)(p))
#define TWR_LDNK(T, p) TWR_LOAD(T, p)
#define TWR_STORE(T, p, v) (*(T *)(void *)(p) = (v))
#else
#define TWR_ORDER() __asm__ volatile("" : : : "memory")
typedef twr_u8 __attribute__((aligned(1), may_alias)) twr_ua_twr_u8;
typedef twr_u16 __attribute__((aligned(1), may_alias)) twr_ua_twr_u16;
typedef twr_u32 __attribute__((aligned(1), may_alias)) twr_ua_twr_u32;
typedef twr_u64 __attribute__((aligned(1), may_alias)) twr_ua_twr_u64;
typedef float __attribute__((aligned(1), may_alias)) twr_ua_float;
typedef double __attribute__((aligned(1), may_alias)) twr_ua_double;
#if defined(__x86_64__) || defined(__aarch64__)
#define TWR_KEEP_I(v) __asm__("" : : "r"(v))
#if defined(__x86_64__)
#define TWR_KEEP_F(v) __asm__("" : : "x"(v))
#else
#define TWR_KEEP_F(v) __asm__("" : : "w"(v))
#endif
#define TWR_LD(T, K)                                                        \
  __attribute__((always_inline)) static inline T twr_ld_##T(const void *p) { \
    T v = *(const twr_ua_##T *)p;                                           \
    K(v);                                                                   \
    return v;                                                               \
  }
#else /* other targets: volatile loads (always kept, never reordered) */
#define TWR_LD(T, K)                                                        \
  static inline T twr_ld_##T(const void *p) {                               \
    return *(const volatile twr_ua_##T *)p;                                 \
  }
#endif
TWR_LD(twr_u8, TWR_KEEP_I)
TWR_LD(twr_u16, TWR_KEEP_I)
TWR_LD(twr_u32, TWR_KEEP_I)
TWR_LD(twr_u64, TWR_KEEP_I)
TWR_LD(float, TWR_KEEP_F)
TWR_LD(double, TWR_KEEP_F)
#define TWR_LOAD(T, p) twr_ld_##T((const void *)(p))
/* A covered load (codegen/cover.c): a later access of the same address,
 * ending no earlier, with nothing in between, traps if this load would,
 * so it needs no keep and gcc may fold it into an operand. */
#define TWR_LDNK(T, p) (*(const twr_ua_##T *)(const void *)(p))
#define TWR_STORE(T, p, v)                                                  \
  do {                                                                      \
    TWR_ORDER();                                                            \
    *(twr_ua_##T *)(void *)(p) = (v);                                       \
    TWR_ORDER();                                                            \
  } while (0)
#endif
#define TWR_ADDR(a, off) (m0_ + (twr_u64)(a) + (twr_u64)(off))

/* ---- libm ---- */
#if defined(__TINYC__) || !defined(__GNUC__)
double sqrt(double);
float sqrtf(float);
double ceil(double);
float ceilf(float);
double floor(double);
float floorf(float);
double trunc(double);
float truncf(float);
double rint(double);
float rintf(float);
#define twr_sqrt sqrt
#define twr_sqrtf sqrtf
#define twr_ceil ceil
#define twr_ceilf ceilf
#define twr_floor floor
#define twr_floorf floorf
#define twr_trunc trunc
#define twr_truncf truncf
#define twr_rint rint
#define twr_rintf rintf
#else
/* gcc/clang expand these inline; the expansions can return a signalling
 * NaN unchanged, where WebAssembly wants it quieted: do that first. */
#define twr_sqrt __builtin_sqrt
#define twr_sqrtf __builtin_sqrtf
#define TWR_ROUNDING(name, T, builtin)                                      \
  static T name(T a) { return a != a ? a + a : builtin(a); }
TWR_ROUNDING(twr_ceil, double, __builtin_ceil)
TWR_ROUNDING(twr_ceilf, float, __builtin_ceilf)
TWR_ROUNDING(twr_floor, double, __builtin_floor)
TWR_ROUNDING(twr_floorf, float, __builtin_floorf)
TWR_ROUNDING(twr_trunc, double, __builtin_trunc)
TWR_ROUNDING(twr_truncf, float, __builtin_truncf)
TWR_ROUNDING(twr_rint, double, __builtin_rint)
TWR_ROUNDING(twr_rintf, float, __builtin_rintf)
#endif

/* promote/demote: gcc folds (float)(double)f to f even with
 * -fsignaling-nans, which would keep a signalling NaN signalling. */
#if defined(__TINYC__) || !defined(__GNUC__)
#define twr_f64_promote(a) ((double)(a))
#define twr_f32_demote(a) ((float)(a))
#else
static double twr_f64_promote(float a) {
  return a != a ? (double)a + (double)a : (double)a;
}
static float twr_f32_demote(double a) {
  return a != a ? (float)(a + a) : (float)a;
}
#endif

/* ---- bit casts ---- */
typedef union twr_f32u {
  twr_u32 u;
  float f;
} twr_f32u;
typedef union twr_f64u {
  twr_u64 u;
  double f;
} twr_f64u;

static twr_u32 twr_f32_bits(float f) {
  twr_f32u v;
  v.f = f;
  return v.u;
}
static float twr_f32_from(twr_u32 u) {
  twr_f32u v;
  v.u = u;
  return v.f;
}
static twr_u64 twr_f64_bits(double f) {
  twr_f64u v;
  v.f = f;
  return v.u;
}
static double twr_f64_from(twr_u64 u) {
  twr_f64u v;
  v.u = u;
  return v.f;
}

/* ---- integer helpers ---- */
static twr_u32 twr_rotl32(twr_u32 a, twr_u32 n) {
  n &= 31;
  return n ? (a << n) | (a >> (32 - n)) : a;
}
static twr_u32 twr_rotr32(twr_u32 a, twr_u32 n) {
  n &= 31;
  return n ? (a >> n) | (a << (32 - n)) : a;
}
static twr_u64 twr_rotl64(twr_u64 a, twr_u64 n) {
  n &= 63;
  return n ? (a << n) | (a >> (64 - n)) : a;
}
static twr_u64 twr_rotr64(twr_u64 a, twr_u64 n) {
  n &= 63;
  return n ? (a >> n) | (a << (64 - n)) : a;
}
#if defined(__TINYC__) || !defined(__GNUC__)
static twr_u32 twr_clz32(twr_u32 a) {
  twr_u32 n = 0;
  if (!a) return 32;
  while (!(a & 0x80000000u)) { a <<= 1; n++; }
  return n;
}
static twr_u32 twr_ctz32(twr_u32 a) {
  twr_u32 n = 0;
  if (!a) return 32;
  while (!(a & 1u)) { a >>= 1; n++; }
  return n;
}
static twr_u32 twr_popcnt32(twr_u32 a) {
  a = a - ((a >> 1) & 0x55555555u);
  a = (a & 0x33333333u) + ((a >> 2) & 0x33333333u);
  a = (a + (a >> 4)) & 0x0f0f0f0fu;
  return (a * 0x01010101u) >> 24;
}
static twr_u64 twr_clz64(twr_u64 a) {
  twr_u64 n = 0;
  if (!a) return 64;
  while (!(a & 0x8000000000000000ull)) { a <<= 1; n++; }
  return n;
}
static twr_u64 twr_ctz64(twr_u64 a) {
  twr_u64 n = 0;
  if (!a) return 64;
  while (!(a & 1u)) { a >>= 1; n++; }
  return n;
}
static twr_u64 twr_popcnt64(twr_u64 a) {
  return (twr_u64)twr_popcnt32((twr_u32)a) +
         twr_popcnt32((twr_u32)(a >> 32));
}
#else
#define twr_clz32(a) ((a) ? (twr_u32)__builtin_clz(a) : 32u)
#define twr_ctz32(a) ((a) ? (twr_u32)__builtin_ctz(a) : 32u)
#define twr_popcnt32(a) ((twr_u32)__builtin_popcount(a))
#define twr_clz64(a) ((a) ? (twr_u64)__builtin_clzll(a) : 64u)
#define twr_ctz64(a) ((a) ? (twr_u64)__builtin_ctzll(a) : 64u)
#define twr_popcnt64(a) ((twr_u64)__builtin_popcountll(a))
#endif

static twr_u32 twr_i32_div_s(struct twr_exec *x, twr_u32 a, twr_u32 b) {
  if (b == 0) { TWR_TRAP(x, TWR_TRAP_DIV_BY_ZERO); return 0; }
  if (a == 0x80000000u && b == 0xffffffffu) {
    TWR_TRAP(x, TWR_TRAP_INT_OVERFLOW);
    return 0;
  }
  return (twr_u32)((twr_i32)a / (twr_i32)b);
}
static twr_u32 twr_i32_div_u(struct twr_exec *x, twr_u32 a, twr_u32 b) {
  if (b == 0) { TWR_TRAP(x, TWR_TRAP_DIV_BY_ZERO); return 0; }
  return a / b;
}
static twr_u32 twr_i32_rem_s(struct twr_exec *x, twr_u32 a, twr_u32 b) {
  if (b == 0) { TWR_TRAP(x, TWR_TRAP_DIV_BY_ZERO); return 0; }
  if (b == 0xffffffffu) return 0;
  return (twr_u32)((twr_i32)a % (twr_i32)b);
}
static twr_u32 twr_i32_rem_u(struct twr_exec *x, twr_u32 a, twr_u32 b) {
  if (b == 0) { TWR_TRAP(x, TWR_TRAP_DIV_BY_ZERO); return 0; }
  return a % b;
}
static twr_u64 twr_i64_div_s(struct twr_exec *x, twr_u64 a, twr_u64 b) {
  if (b == 0) { TWR_TRAP(x, TWR_TRAP_DIV_BY_ZERO); return 0; }
  if (a == 0x8000000000000000ull && b == 0xffffffffffffffffull) {
    TWR_TRAP(x, TWR_TRAP_INT_OVERFLOW);
    return 0;
  }
  return (twr_u64)((twr_i64)a / (twr_i64)b);
}
static twr_u64 twr_i64_div_u(struct twr_exec *x, twr_u64 a, twr_u64 b) {
  if (b == 0) { TWR_TRAP(x, TWR_TRAP_DIV_BY_ZERO); return 0; }
  return a / b;
}
static twr_u64 twr_i64_rem_s(struct twr_exec *x, twr_u64 a, twr_u64 b) {
  if (b == 0) { TWR_TRAP(x, TWR_TRAP_DIV_BY_ZERO); return 0; }
  if (b == 0xffffffffffffffffull) return 0;
  return (twr_u64)((twr_i64)a % (twr_i64)b);
}
static twr_u64 twr_i64_rem_u(struct twr_exec *x, twr_u64 a, twr_u64 b) {
  if (b == 0) { TWR_TRAP(x, TWR_TRAP_DIV_BY_ZERO); return 0; }
  return a % b;
}

/* ---- float helpers: sign operations touch only the sign bit ---- */
static float twr_f32_abs(float a) {
  return twr_f32_from(twr_f32_bits(a) & 0x7fffffffu);
}
static float twr_f32_neg(float a) {
  return twr_f32_from(twr_f32_bits(a) ^ 0x80000000u);
}
static float twr_f32_copysign(float a, float b) {
  return twr_f32_from((twr_f32_bits(a) & 0x7fffffffu) |
                      (twr_f32_bits(b) & 0x80000000u));
}
static double twr_f64_abs(double a) {
  return twr_f64_from(twr_f64_bits(a) & 0x7fffffffffffffffull);
}
static double twr_f64_neg(double a) {
  return twr_f64_from(twr_f64_bits(a) ^ 0x8000000000000000ull);
}
static double twr_f64_copysign(double a, double b) {
  return twr_f64_from((twr_f64_bits(a) & 0x7fffffffffffffffull) |
                      (twr_f64_bits(b) & 0x8000000000000000ull));
}
/* min/max: a NaN operand gives a quiet NaN (a + b propagates it); zeros
 * of either sign compare equal, so pick by bits: min prefers -0. */
static float twr_f32_min(float a, float b) {
  if (a != a || b != b) return a + b;
  if (a == b) return twr_f32_from(twr_f32_bits(a) | twr_f32_bits(b));
  return a < b ? a : b;
}
static float twr_f32_max(float a, float b) {
  if (a != a || b != b) return a + b;
  if (a == b) return twr_f32_from(twr_f32_bits(a) & twr_f32_bits(b));
  return a > b ? a : b;
}
static double twr_f64_min(double a, double b) {
  if (a != a || b != b) return a + b;
  if (a == b) return twr_f64_from(twr_f64_bits(a) | twr_f64_bits(b));
  return a < b ? a : b;
}
static double twr_f64_max(double a, double b) {
  if (a != a || b != b) return a + b;
  if (a == b) return twr_f64_from(twr_f64_bits(a) & twr_f64_bits(b));
  return a > b ? a : b;
}

/* ---- float -> int. Range checks are exact: every bound is a power of
 * two (representable), compared before converting. Unsigned results go
 * through signed 64-bit conversions (exact in range) so no helper from
 * the compiler's runtime library is needed. ---- */
static twr_u64 twr_d2u64(double a) { /* requires 0 <= trunc(a) < 2^64 */
  if (a < 9223372036854775808.0) return (twr_u64)(twr_i64)a;
  return (twr_u64)(twr_i64)(a - 9223372036854775808.0) +
         0x8000000000000000ull;
}
static twr_u32 twr_i32_trunc_f32_s(struct twr_exec *x, float a) {
  if (a != a) { TWR_TRAP(x, TWR_TRAP_BAD_CONVERSION); return 0; }
  if (!(a >= -2147483648.0f && a < 2147483648.0f)) {
    TWR_TRAP(x, TWR_TRAP_INT_OVERFLOW);
    return 0;
  }
  return (twr_u32)(twr_i64)a;
}
static twr_u32 twr_i32_trunc_f32_u(struct twr_exec *x, float a) {
  if (a != a) { TWR_TRAP(x, TWR_TRAP_BAD_CONVERSION); return 0; }
  if (!(a > -1.0f && a < 4294967296.0f)) {
    TWR_TRAP(x, TWR_TRAP_INT_OVERFLOW);
    return 0;
  }
  return (twr_u32)(twr_i64)a;
}
static twr_u32 twr_i32_trunc_f64_s(struct twr_exec *x, double a) {
  if (a != a) { TWR_TRAP(x, TWR_TRAP_BAD_CONVERSION); return 0; }
  if (!(a > -2147483649.0 && a < 2147483648.0)) {
    TWR_TRAP(x, TWR_TRAP_INT_OVERFLOW);
    return 0;
  }
  return (twr_u32)(twr_i64)a;
}
static twr_u32 twr_i32_trunc_f64_u(struct twr_exec *x, double a) {
  if (a != a) { TWR_TRAP(x, TWR_TRAP_BAD_CONVERSION); return 0; }
  if (!(a > -1.0 && a < 4294967296.0)) {
    TWR_TRAP(x, TWR_TRAP_INT_OVERFLOW);
    return 0;
  }
  return (twr_u32)(twr_i64)a;
}
static twr_u64 twr_i64_trunc_f32_s(struct twr_exec *x, float a) {
  if (a != a) { TWR_TRAP(x, TWR_TRAP_BAD_CONVERSION); return 0; }
  if (!(a >= -9223372036854775808.0f && a < 9223372036854775808.0f)) {
    TWR_TRAP(x, TWR_TRAP_INT_OVERFLOW);
    return 0;
  }
  return (twr_u64)(twr_i64)a;
}
static twr_u64 twr_i64_trunc_f32_u(struct twr_exec *x, float a) {
  if (a != a) { TWR_TRAP(x, TWR_TRAP_BAD_CONVERSION); return 0; }
  if (!(a > -1.0f && a < 18446744073709551616.0f)) {
    TWR_TRAP(x, TWR_TRAP_INT_OVERFLOW);
    return 0;
  }
  return twr_d2u64((double)a);
}
static twr_u64 twr_i64_trunc_f64_s(struct twr_exec *x, double a) {
  if (a != a) { TWR_TRAP(x, TWR_TRAP_BAD_CONVERSION); return 0; }
  if (!(a >= -9223372036854775808.0 && a < 9223372036854775808.0)) {
    TWR_TRAP(x, TWR_TRAP_INT_OVERFLOW);
    return 0;
  }
  return (twr_u64)(twr_i64)a;
}
static twr_u64 twr_i64_trunc_f64_u(struct twr_exec *x, double a) {
  if (a != a) { TWR_TRAP(x, TWR_TRAP_BAD_CONVERSION); return 0; }
  if (!(a > -1.0 && a < 18446744073709551616.0)) {
    TWR_TRAP(x, TWR_TRAP_INT_OVERFLOW);
    return 0;
  }
  return twr_d2u64(a);
}

/* saturating variants: NaN -> 0, out of range -> the nearest bound */
static twr_u32 twr_i32_trunc_sat_f32_s(float a) {
  if (a != a) return 0;
  if (a < -2147483648.0f) return 0x80000000u;
  if (a >= 2147483648.0f) return 0x7fffffffu;
  return (twr_u32)(twr_i64)a;
}
static twr_u32 twr_i32_trunc_sat_f32_u(float a) {
  if (!(a > -1.0f)) return 0; /* NaN too */
  if (a >= 4294967296.0f) return 0xffffffffu;
  return (twr_u32)(twr_i64)a;
}
static twr_u32 twr_i32_trunc_sat_f64_s(double a) {
  if (a != a) return 0;
  if (a <= -2147483649.0) return 0x80000000u;
  if (a >= 2147483648.0) return 0x7fffffffu;
  return (twr_u32)(twr_i64)a;
}
static twr_u32 twr_i32_trunc_sat_f64_u(double a) {
  if (!(a > -1.0)) return 0;
  if (a >= 4294967296.0) return 0xffffffffu;
  return (twr_u32)(twr_i64)a;
}
static twr_u64 twr_i64_trunc_sat_f32_s(float a) {
  if (a != a) return 0;
  if (a < -9223372036854775808.0f) return 0x8000000000000000ull;
  if (a >= 9223372036854775808.0f) return 0x7fffffffffffffffull;
  return (twr_u64)(twr_i64)a;
}
static twr_u64 twr_i64_trunc_sat_f32_u(float a) {
  if (!(a > -1.0f)) return 0;
  if (a >= 18446744073709551616.0f) return 0xffffffffffffffffull;
  return twr_d2u64((double)a);
}
static twr_u64 twr_i64_trunc_sat_f64_s(double a) {
  if (a != a) return 0;
  if (a < -9223372036854775808.0) return 0x8000000000000000ull;
  if (a >= 9223372036854775808.0) return 0x7fffffffffffffffull;
  return (twr_u64)(twr_i64)a;
}
static twr_u64 twr_i64_trunc_sat_f64_u(double a) {
  if (!(a > -1.0)) return 0;
  if (a >= 18446744073709551616.0) return 0xffffffffffffffffull;
  return twr_d2u64(a);
}

/* ---- int -> float: unsigned 64-bit goes through a signed conversion
 * of v/2 with the lost bit kept as a sticky bit, which rounds once and
 * correctly for both widths. ---- */
static float twr_f32_convert_u64(twr_u64 v) {
  if (v < 0x8000000000000000ull) return (float)(twr_i64)v;
  return (float)(twr_i64)((v >> 1) | (v & 1u)) * 2.0f;
}
static double twr_f64_convert_u64(twr_u64 v) {
  if (v < 0x8000000000000000ull) return (double)(twr_i64)v;
  return (double)(twr_i64)((v >> 1) | (v & 1u)) * 2.0;
}

#endif
