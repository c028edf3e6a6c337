/* v128 helpers for generated code: one function per fixed-width SIMD
 * instruction, named after it ("i8x16.add_sat_s" -> twr_i8x16_add_sat_s),
 * appended to the prelude after prelude.h (whose scalar float helpers the
 * lanes reuse, so a lane quiets NaNs exactly as the scalar operator does).
 *
 * Two bodies per helper where it matters: under gcc/clang, GCC vector
 * extensions (so -O2 emits SSE instructions); under tcc, which has none,
 * plain loops over a lane view. Both read and write lanes through the
 * union twr_vl (type punning through a union is defined in C11 and GNU C).
 * Integer lanes compute in unsigned types or in a wider signed type, so no
 * helper has undefined behaviour for any input. Modules without any 0xFD
 * byte in their code get `#define TWR_NO_SIMD` before the prelude and skip
 * all of this (tcc would otherwise compile every unused helper).
 */
#ifndef TW_CODEGEN_PRELUDE_SIMD_H
#define TW_CODEGEN_PRELUDE_SIMD_H
#if !defined(TWR_NO_SIMD)

#if defined(__GNUC__) && !defined(__TINYC__)
#define TWR_VEC 1
typedef twr_u8 twr_vu8 __attribute__((vector_size(16)));
typedef twr_i8 twr_vi8 __attribute__((vector_size(16)));
typedef twr_u16 twr_vu16 __attribute__((vector_size(16)));
typedef twr_i16 twr_vi16 __attribute__((vector_size(16)));
typedef twr_u32 twr_vu32 __attribute__((vector_size(16)));
typedef twr_i32 twr_vi32 __attribute__((vector_size(16)));
typedef twr_u64 twr_vu64 __attribute__((vector_size(16)));
typedef twr_i64 twr_vi64 __attribute__((vector_size(16)));
typedef float twr_vf32 __attribute__((vector_size(16)));
typedef double twr_vf64 __attribute__((vector_size(16)));
/* Unaligned, aliasing view for memory access; volatile at the load so an
 * unused out-of-bounds load still faults (see TWR_LOAD in prelude.h). */
typedef twr_u8 twr_ua_vu8 __attribute__((vector_size(16), aligned(1), may_alias));
#else
#define TWR_VEC 0
#endif

/* A v128 seen as lanes of every shape. */
typedef union twr_vl {
  twr_v128 v;
  twr_u8 u8[16];
  twr_i8 i8[16];
  twr_u16 u16[8];
  twr_i16 i16[8];
  twr_u32 u32[4];
  twr_i32 i32[4];
  twr_u64 u64[2];
  twr_i64 i64[2];
  float f32[4];
  double f64[2];
#if TWR_VEC
  twr_vu8 vu8;
  twr_vi8 vi8;
  twr_vu16 vu16;
  twr_vi16 vi16;
  twr_vu32 vu32;
  twr_vi32 vi32;
  twr_vu64 vu64;
  twr_vi64 vi64;
  twr_vf32 vf32;
  twr_vf64 vf64;
#endif
} twr_vl;

#if TWR_VEC
#define TWR_SI static inline __attribute__((unused))
#else
#define TWR_SI static inline
#endif
#define TWR_LANES(n, stmt)                                                  \
  {                                                                         \
    int i;                                                                  \
    for (i = 0; i < (n); i++) { stmt; }                                     \
  }
/* Helper shapes: a (and b, c) are the operands' lane views, r the
 * result's. TWR_V1/TWR_V2 take a vector body and a lane body. */
#define TWR_OP1(name, body)                                                 \
  TWR_SI twr_v128 name(twr_v128 a_) {                                       \
    twr_vl a, r;                                                            \
    a.v = a_;                                                               \
    body;                                                                   \
    return r.v;                                                             \
  }
#define TWR_OP2(name, body)                                                 \
  TWR_SI twr_v128 name(twr_v128 a_, twr_v128 b_) {                          \
    twr_vl a, b, r;                                                         \
    a.v = a_;                                                               \
    b.v = b_;                                                               \
    body;                                                                   \
    return r.v;                                                             \
  }
#if TWR_VEC
#define TWR_V1(name, vbody, lbody) TWR_OP1(name, vbody)
#define TWR_V2(name, vbody, lbody) TWR_OP2(name, vbody)
#else
#define TWR_V1(name, vbody, lbody) TWR_OP1(name, lbody)
#define TWR_V2(name, vbody, lbody) TWR_OP2(name, lbody)
#endif

/* ---- construction, memory ---- */

TWR_SI twr_v128 twr_v128_make(twr_u64 lo, twr_u64 hi) {
  twr_v128 r;
  r.lo = lo;
  r.hi = hi;
  return r;
}

#if TWR_VEC
TWR_SI twr_v128 twr_v128_load(const void *p) {
  twr_vl r;
  r.vu8 = *(const volatile twr_ua_vu8 *)p;
  return r.v;
}
TWR_SI void twr_v128_store(void *p, twr_v128 v) { /* ordered: TWR_STORE */
  twr_vl a;
  a.v = v;
  TWR_ORDER();
  *(twr_ua_vu8 *)p = a.vu8;
  TWR_ORDER();
}
#else
TWR_SI twr_v128 twr_v128_load(const void *p) {
  twr_v128 r;
  r.lo = TWR_LOAD(twr_u64, p);
  r.hi = TWR_LOAD(twr_u64, (const twr_u8 *)p + 8);
  return r;
}
/* The high half first: it faults exactly when the whole store is out of
 * bounds, and then the low half must not have been written. */
TWR_SI void twr_v128_store(void *p, twr_v128 v) {
  TWR_STORE(twr_u64, (twr_u8 *)p + 8, v.hi);
  TWR_STORE(twr_u64, p, v.lo);
}
#endif

/* load-extend: the 64 loaded bits, widened lane by lane */
#define TWR_LOAD_EXT(name, n, wf, nf)                                       \
  TWR_SI twr_v128 name(twr_u64 bits) {                                      \
    twr_vl a, r;                                                            \
    a.u64[0] = bits;                                                        \
    a.u64[1] = 0;                                                           \
    TWR_LANES(n, r.wf[i] = a.nf[i]);                                        \
    return r.v;                                                             \
  }
TWR_LOAD_EXT(twr_v128_load8x8_s, 8, i16, i8)
TWR_LOAD_EXT(twr_v128_load8x8_u, 8, u16, u8)
TWR_LOAD_EXT(twr_v128_load16x4_s, 4, i32, i16)
TWR_LOAD_EXT(twr_v128_load16x4_u, 4, u32, u16)
TWR_LOAD_EXT(twr_v128_load32x2_s, 2, i64, i32)
TWR_LOAD_EXT(twr_v128_load32x2_u, 2, u64, u32)

/* ---- splat, lanes ---- */

TWR_SI twr_v128 twr_i8x16_splat(twr_u32 x) {
  twr_u64 w = (twr_u64)(twr_u8)x * 0x0101010101010101ull;
  return twr_v128_make(w, w);
}
TWR_SI twr_v128 twr_i16x8_splat(twr_u32 x) {
  twr_u64 w = (twr_u64)(twr_u16)x * 0x0001000100010001ull;
  return twr_v128_make(w, w);
}
TWR_SI twr_v128 twr_i32x4_splat(twr_u32 x) {
  twr_u64 w = (twr_u64)x * 0x0000000100000001ull;
  return twr_v128_make(w, w);
}
TWR_SI twr_v128 twr_i64x2_splat(twr_u64 x) { return twr_v128_make(x, x); }
TWR_SI twr_v128 twr_f32x4_splat(float x) {
  return twr_i32x4_splat(twr_f32_bits(x));
}
TWR_SI twr_v128 twr_f64x2_splat(double x) {
  return twr_i64x2_splat(twr_f64_bits(x));
}
#define twr_v128_load8_splat(x) twr_i8x16_splat(x)
#define twr_v128_load16_splat(x) twr_i16x8_splat(x)
#define twr_v128_load32_splat(x) twr_i32x4_splat(x)
#define twr_v128_load64_splat(x) twr_i64x2_splat(x)
TWR_SI twr_v128 twr_v128_load32_zero(twr_u32 x) {
  return twr_v128_make(x, 0);
}
TWR_SI twr_v128 twr_v128_load64_zero(twr_u64 x) {
  return twr_v128_make(x, 0);
}

/* Lane indexes are immediates the validator bounded; the masks keep every
 * access in the array regardless. */
#define TWR_EXTRACT(name, T, f, n, conv)                                    \
  TWR_SI T name(twr_v128 a_, unsigned l) {                                  \
    twr_vl a;                                                               \
    a.v = a_;                                                               \
    return conv(a.f[l & (n - 1)]);                                          \
  }
#define TWR_REPLACE(name, T, f, n, conv)                                    \
  TWR_SI twr_v128 name(twr_v128 a_, unsigned l, T x) {                      \
    twr_vl a;                                                               \
    a.v = a_;                                                               \
    a.f[l & (n - 1)] = conv(x);                                             \
    return a.v;                                                             \
  }
#define TWR_SX32(v) ((twr_u32)(twr_i32)(v))
#define TWR_ID(v) (v)
#define TWR_U8(v) ((twr_u8)(v))
#define TWR_U16(v) ((twr_u16)(v))
#define TWR_U32(v) ((twr_u32)(v))
TWR_EXTRACT(twr_i8x16_extract_lane_s, twr_u32, i8, 16, TWR_SX32)
TWR_EXTRACT(twr_i8x16_extract_lane_u, twr_u32, u8, 16, TWR_U32)
TWR_EXTRACT(twr_i16x8_extract_lane_s, twr_u32, i16, 8, TWR_SX32)
TWR_EXTRACT(twr_i16x8_extract_lane_u, twr_u32, u16, 8, TWR_U32)
TWR_EXTRACT(twr_i32x4_extract_lane, twr_u32, u32, 4, TWR_ID)
TWR_EXTRACT(twr_i64x2_extract_lane, twr_u64, u64, 2, TWR_ID)
TWR_EXTRACT(twr_f32x4_extract_lane, float, f32, 4, TWR_ID)
TWR_EXTRACT(twr_f64x2_extract_lane, double, f64, 2, TWR_ID)
TWR_REPLACE(twr_i8x16_replace_lane, twr_u32, u8, 16, TWR_U8)
TWR_REPLACE(twr_i16x8_replace_lane, twr_u32, u16, 8, TWR_U16)
TWR_REPLACE(twr_i32x4_replace_lane, twr_u32, u32, 4, TWR_ID)
TWR_REPLACE(twr_i64x2_replace_lane, twr_u64, u64, 2, TWR_ID)
TWR_REPLACE(twr_f32x4_replace_lane, float, f32, 4, TWR_ID)
TWR_REPLACE(twr_f64x2_replace_lane, double, f64, 2, TWR_ID)
/* load_lane / store_lane: the loaded scalar replaces a lane; the stored
 * one is a lane, narrowed to the access width */
TWR_REPLACE(twr_v128_load8_lane, twr_u8, u8, 16, TWR_ID)
TWR_REPLACE(twr_v128_load16_lane, twr_u16, u16, 8, TWR_ID)
TWR_REPLACE(twr_v128_load32_lane, twr_u32, u32, 4, TWR_ID)
TWR_REPLACE(twr_v128_load64_lane, twr_u64, u64, 2, TWR_ID)
TWR_EXTRACT(twr_v128_store8_lane, twr_u8, u8, 16, TWR_ID)
TWR_EXTRACT(twr_v128_store16_lane, twr_u16, u16, 8, TWR_ID)
TWR_EXTRACT(twr_v128_store32_lane, twr_u32, u32, 4, TWR_ID)
TWR_EXTRACT(twr_v128_store64_lane, twr_u64, u64, 2, TWR_ID)

/* i8x16.shuffle: the 16 lane immediates (each < 32) packed little-endian
 * into two constants; after inlining gcc sees a constant mask. */
TWR_SI twr_v128 twr_i8x16_shuffle(twr_v128 a_, twr_v128 b_, twr_u64 mlo,
                                  twr_u64 mhi) {
  twr_vl a, b, m, r;
  a.v = a_;
  b.v = b_;
  m.u64[0] = mlo;
  m.u64[1] = mhi;
#if TWR_VEC && !defined(__clang__)
  r.vu8 = __builtin_shuffle(a.vu8, b.vu8, m.vu8 & 31);
#else
  TWR_LANES(16, r.u8[i] = m.u8[i] < 16 ? a.u8[m.u8[i] & 15]
                                       : b.u8[m.u8[i] & 15]);
#endif
  return r.v;
}
TWR_OP2(twr_i8x16_swizzle,
        TWR_LANES(16, r.u8[i] = b.u8[i] < 16 ? a.u8[b.u8[i]] : 0))

/* ---- bitwise ---- */

TWR_V1(twr_v128_not, r.vu64 = ~a.vu64,
       TWR_LANES(2, r.u64[i] = ~a.u64[i]))
TWR_V2(twr_v128_and, r.vu64 = a.vu64 & b.vu64,
       TWR_LANES(2, r.u64[i] = a.u64[i] & b.u64[i]))
TWR_V2(twr_v128_andnot, r.vu64 = a.vu64 & ~b.vu64,
       TWR_LANES(2, r.u64[i] = a.u64[i] & ~b.u64[i]))
TWR_V2(twr_v128_or, r.vu64 = a.vu64 | b.vu64,
       TWR_LANES(2, r.u64[i] = a.u64[i] | b.u64[i]))
TWR_V2(twr_v128_xor, r.vu64 = a.vu64 ^ b.vu64,
       TWR_LANES(2, r.u64[i] = a.u64[i] ^ b.u64[i]))
TWR_SI twr_v128 twr_v128_bitselect(twr_v128 a, twr_v128 b, twr_v128 c) {
  return twr_v128_make((a.lo & c.lo) | (b.lo & ~c.lo),
                       (a.hi & c.hi) | (b.hi & ~c.hi));
}
TWR_SI twr_u32 twr_v128_any_true(twr_v128 a) {
  return (twr_u32)((a.lo | a.hi) != 0);
}

/* ---- integer lanes, one family per width ----
 * P: prefix, N: lanes, B: bits, U/S: unsigned/signed lane fields,
 * W: the wider signed type lanes compute in (int for 8/16 bits). */
/* all ones in a lane of type twr_<U> if c, else zero */
#define TWR_ALL1(U, c) ((twr_##U)(0 - (twr_##U)(c)))
#define TWR_MASKSEL(U, m, x, y) (((x) & (twr_##U)(m)) | ((y) & ~(twr_##U)(m)))

#define TWR_INT_COMMON(P, N, B, U, S)                                       \
  TWR_V2(twr_##P##_add, r.v##U = a.v##U + b.v##U,                           \
         TWR_LANES(N, r.U[i] = (twr_##U)(a.U[i] + b.U[i])))                 \
  TWR_V2(twr_##P##_sub, r.v##U = a.v##U - b.v##U,                           \
         TWR_LANES(N, r.U[i] = (twr_##U)(a.U[i] - b.U[i])))                 \
  TWR_V1(twr_##P##_neg, r.v##U = 0 - a.v##U,                                \
         TWR_LANES(N, r.U[i] = (twr_##U)(0u - a.U[i])))                     \
  TWR_V1(twr_##P##_abs,                                                     \
         twr_v##U m_ = (twr_v##U)(a.v##S >> (B - 1));                       \
         r.v##U = (a.v##U ^ m_) - m_,                                       \
         TWR_LANES(N, r.U[i] = a.S[i] < 0 ? (twr_##U)(0u - a.U[i]) : a.U[i])) \
  TWR_V2(twr_##P##_eq, r.v##S = (twr_v##S)(a.v##U == b.v##U),               \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.U[i] == b.U[i]))) \
  TWR_V2(twr_##P##_ne, r.v##S = (twr_v##S)(a.v##U != b.v##U),               \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.U[i] != b.U[i]))) \
  TWR_V2(twr_##P##_lt_s, r.v##S = (twr_v##S)(a.v##S < b.v##S),              \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.S[i] < b.S[i]))) \
  TWR_V2(twr_##P##_gt_s, r.v##S = (twr_v##S)(a.v##S > b.v##S),              \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.S[i] > b.S[i]))) \
  TWR_V2(twr_##P##_le_s, r.v##S = (twr_v##S)(a.v##S <= b.v##S),             \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.S[i] <= b.S[i]))) \
  TWR_V2(twr_##P##_ge_s, r.v##S = (twr_v##S)(a.v##S >= b.v##S),             \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.S[i] >= b.S[i]))) \
  TWR_SI twr_v128 twr_##P##_shl(twr_v128 a_, twr_u32 n) {                   \
    twr_vl a, r;                                                            \
    a.v = a_;                                                               \
    n &= B - 1;                                                             \
    TWR_IF_VEC(r.v##U = a.v##U << (int)n,                                   \
               TWR_LANES(N, r.U[i] = (twr_##U)((twr_u64)a.U[i] << n)));     \
    return r.v;                                                             \
  }                                                                         \
  TWR_SI twr_v128 twr_##P##_shr_u(twr_v128 a_, twr_u32 n) {                 \
    twr_vl a, r;                                                            \
    a.v = a_;                                                               \
    n &= B - 1;                                                             \
    TWR_IF_VEC(r.v##U = a.v##U >> (int)n,                                   \
               TWR_LANES(N, r.U[i] = (twr_##U)(a.U[i] >> n)));              \
    return r.v;                                                             \
  }                                                                         \
  TWR_SI twr_v128 twr_##P##_shr_s(twr_v128 a_, twr_u32 n) {                 \
    twr_vl a, r;                                                            \
    a.v = a_;                                                               \
    n &= B - 1;                                                             \
    TWR_IF_VEC(r.v##S = a.v##S >> (int)n,                                   \
               TWR_LANES(N, r.S[i] = (twr_##S)((twr_i64)a.S[i] >> n)));     \
    return r.v;                                                             \
  }                                                                         \
  TWR_SI twr_u32 twr_##P##_all_true(twr_v128 a_) {                          \
    twr_vl a;                                                               \
    twr_u32 t = 1;                                                          \
    a.v = a_;                                                               \
    TWR_LANES(N, t &= (twr_u32)(a.U[i] != 0));                              \
    return t;                                                               \
  }

/* unsigned comparisons and min/max (not in i64x2) */
#define TWR_INT_ORDER(P, N, U, S)                                           \
  TWR_V2(twr_##P##_lt_u, r.v##S = (twr_v##S)(a.v##U < b.v##U),              \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.U[i] < b.U[i]))) \
  TWR_V2(twr_##P##_gt_u, r.v##S = (twr_v##S)(a.v##U > b.v##U),              \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.U[i] > b.U[i]))) \
  TWR_V2(twr_##P##_le_u, r.v##S = (twr_v##S)(a.v##U <= b.v##U),             \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.U[i] <= b.U[i]))) \
  TWR_V2(twr_##P##_ge_u, r.v##S = (twr_v##S)(a.v##U >= b.v##U),             \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.U[i] >= b.U[i]))) \
  TWR_V2(twr_##P##_min_s,                                                   \
         r.v##U = TWR_MASKSEL(v##U, a.v##S < b.v##S, a.v##U, b.v##U),       \
         TWR_LANES(N, r.S[i] = a.S[i] < b.S[i] ? a.S[i] : b.S[i]))          \
  TWR_V2(twr_##P##_max_s,                                                   \
         r.v##U = TWR_MASKSEL(v##U, a.v##S > b.v##S, a.v##U, b.v##U),       \
         TWR_LANES(N, r.S[i] = a.S[i] > b.S[i] ? a.S[i] : b.S[i]))          \
  TWR_V2(twr_##P##_min_u,                                                   \
         r.v##U = TWR_MASKSEL(v##U, a.v##U < b.v##U, a.v##U, b.v##U),       \
         TWR_LANES(N, r.U[i] = a.U[i] < b.U[i] ? a.U[i] : b.U[i]))          \
  TWR_V2(twr_##P##_max_u,                                                   \
         r.v##U = TWR_MASKSEL(v##U, a.v##U > b.v##U, a.v##U, b.v##U),       \
         TWR_LANES(N, r.U[i] = a.U[i] > b.U[i] ? a.U[i] : b.U[i]))

/* saturating add/sub and the rounding average (i8x16, i16x8). Signed
 * overflow is detected on the wrapped sum: it happened iff the operands
 * agree in sign (add) or differ (sub) and the result's sign differs from
 * a's; the saturated value is then 0x7f.. or 0x80.. by a's sign. */
#define TWR_INT_SAT(P, N, B, U, S, MAX)                                     \
  TWR_V2(twr_##P##_add_sat_u,                                               \
         twr_v##U s_ = a.v##U + b.v##U;                                     \
         r.v##U = s_ | (twr_v##U)(s_ < a.v##U),                             \
         TWR_LANES(N, int s_ = a.U[i] + b.U[i];                             \
                   r.U[i] = (twr_##U)(s_ > (int)MAX ? (int)MAX : s_)))      \
  TWR_V2(twr_##P##_sub_sat_u,                                               \
         r.v##U = (a.v##U - b.v##U) & (twr_v##U)(a.v##U >= b.v##U),         \
         TWR_LANES(N, int s_ = a.U[i] - b.U[i];                             \
                   r.U[i] = (twr_##U)(s_ < 0 ? 0 : s_)))                    \
  TWR_V2(twr_##P##_add_sat_s,                                               \
         twr_v##U s_ = a.v##U + b.v##U;                                     \
         twr_v##S o_ = (twr_v##S)((s_ ^ a.v##U) & (s_ ^ b.v##U)) >> (B - 1); \
         twr_v##U t_ = (twr_v##U)(a.v##S >> (B - 1)) ^ (MAX >> 1);          \
         r.v##U = TWR_MASKSEL(v##U, o_, t_, s_),                            \
         TWR_LANES(N, int s_ = a.S[i] + b.S[i];                             \
                   r.S[i] = (twr_##S)(s_ > (int)(MAX >> 1) ? (int)(MAX >> 1) \
                                      : s_ < -(int)(MAX >> 1) - 1           \
                                          ? -(int)(MAX >> 1) - 1            \
                                          : s_)))                           \
  TWR_V2(twr_##P##_sub_sat_s,                                               \
         twr_v##U s_ = a.v##U - b.v##U;                                     \
         twr_v##S o_ = (twr_v##S)((a.v##U ^ b.v##U) & (s_ ^ a.v##U)) >> (B - 1); \
         twr_v##U t_ = (twr_v##U)(a.v##S >> (B - 1)) ^ (MAX >> 1);          \
         r.v##U = TWR_MASKSEL(v##U, o_, t_, s_),                            \
         TWR_LANES(N, int s_ = a.S[i] - b.S[i];                             \
                   r.S[i] = (twr_##S)(s_ > (int)(MAX >> 1) ? (int)(MAX >> 1) \
                                      : s_ < -(int)(MAX >> 1) - 1           \
                                          ? -(int)(MAX >> 1) - 1            \
                                          : s_)))                           \
  TWR_V2(twr_##P##_avgr_u, r.v##U = (a.v##U | b.v##U) - ((a.v##U ^ b.v##U) >> 1), \
         TWR_LANES(N, r.U[i] = (twr_##U)((a.U[i] + b.U[i] + 1u) >> 1)))

#if TWR_VEC
#define TWR_IF_VEC(v, l) v
#else
#define TWR_IF_VEC(v, l) l
#endif

TWR_INT_COMMON(i8x16, 16, 8, u8, i8)
TWR_INT_COMMON(i16x8, 8, 16, u16, i16)
TWR_INT_COMMON(i32x4, 4, 32, u32, i32)
TWR_INT_COMMON(i64x2, 2, 64, u64, i64)
TWR_INT_ORDER(i8x16, 16, u8, i8)
TWR_INT_ORDER(i16x8, 8, u16, i16)
TWR_INT_ORDER(i32x4, 4, u32, i32)
TWR_INT_SAT(i8x16, 16, 8, u8, i8, 0xffu)
TWR_INT_SAT(i16x8, 8, 16, u16, i16, 0xffffu)

TWR_V2(twr_i16x8_mul, r.vu16 = a.vu16 * b.vu16,
       TWR_LANES(8, r.u16[i] = (twr_u16)((twr_u32)a.u16[i] * b.u16[i])))
TWR_V2(twr_i32x4_mul, r.vu32 = a.vu32 * b.vu32,
       TWR_LANES(4, r.u32[i] = a.u32[i] * b.u32[i]))
TWR_V2(twr_i64x2_mul, r.vu64 = a.vu64 * b.vu64,
       TWR_LANES(2, r.u64[i] = a.u64[i] * b.u64[i]))

/* popcnt per byte: the classic SWAR count, which never carries across a
 * byte, run on both halves */
TWR_SI twr_u64 twr_popcnt8x8(twr_u64 x) {
  x = x - ((x >> 1) & 0x5555555555555555ull);
  x = (x & 0x3333333333333333ull) + ((x >> 2) & 0x3333333333333333ull);
  return (x + (x >> 4)) & 0x0f0f0f0f0f0f0f0full;
}
TWR_SI twr_v128 twr_i8x16_popcnt(twr_v128 a) {
  return twr_v128_make(twr_popcnt8x8(a.lo), twr_popcnt8x8(a.hi));
}

/* bitmask: bit i = top bit of lane i. For bytes, one multiply gathers
 * the eight top bits of a half (the partial products never overlap, so
 * nothing carries into the top byte). */
TWR_SI twr_u32 twr_bitmask8x8(twr_u64 x) {
  return (twr_u32)((((x >> 7) & 0x0101010101010101ull) *
                    0x0102040810204080ull) >> 56);
}
TWR_SI twr_u32 twr_i8x16_bitmask(twr_v128 a) {
  return twr_bitmask8x8(a.lo) | (twr_bitmask8x8(a.hi) << 8);
}
#define TWR_BITMASK(P, N, U, B)                                             \
  TWR_SI twr_u32 twr_##P##_bitmask(twr_v128 a_) {                           \
    twr_vl a;                                                               \
    twr_u32 m = 0;                                                          \
    a.v = a_;                                                               \
    TWR_LANES(N, m |= (twr_u32)(a.U[i] >> (B - 1)) << i);                   \
    return m;                                                               \
  }
TWR_BITMASK(i16x8, 8, u16, 16)
TWR_BITMASK(i32x4, 4, u32, 32)
TWR_BITMASK(i64x2, 2, u64, 64)

/* narrow with saturation: lanes of a, then of b, clamped to the narrow
 * type (signed input in both cases) */
#define TWR_CLAMP(v, lo, hi) ((v) < (lo) ? (lo) : (v) > (hi) ? (hi) : (v))
#define TWR_NARROW(name, N, nf, wf, lo, hi)                                 \
  TWR_OP2(name, TWR_LANES(N / 2, r.nf[i] = TWR_CLAMP(a.wf[i], lo, hi));     \
          TWR_LANES(N / 2, r.nf[i + N / 2] = TWR_CLAMP(b.wf[i], lo, hi)))
TWR_NARROW(twr_i8x16_narrow_i16x8_s, 16, i8, i16, -128, 127)
TWR_NARROW(twr_i8x16_narrow_i16x8_u, 16, u8, i16, 0, 255)
TWR_NARROW(twr_i16x8_narrow_i32x4_s, 8, i16, i32, -32768, 32767)
TWR_NARROW(twr_i16x8_narrow_i32x4_u, 8, u16, i32, 0, 65535)

/* extend: lanes [off, off + N) of the narrow view, widened */
#define TWR_EXTEND(name, N, wf, nf, off)                                    \
  TWR_OP1(name, TWR_LANES(N, r.wf[i] = a.nf[i + (off)]))
TWR_EXTEND(twr_i16x8_extend_low_i8x16_s, 8, i16, i8, 0)
TWR_EXTEND(twr_i16x8_extend_high_i8x16_s, 8, i16, i8, 8)
TWR_EXTEND(twr_i16x8_extend_low_i8x16_u, 8, u16, u8, 0)
TWR_EXTEND(twr_i16x8_extend_high_i8x16_u, 8, u16, u8, 8)
TWR_EXTEND(twr_i32x4_extend_low_i16x8_s, 4, i32, i16, 0)
TWR_EXTEND(twr_i32x4_extend_high_i16x8_s, 4, i32, i16, 4)
TWR_EXTEND(twr_i32x4_extend_low_i16x8_u, 4, u32, u16, 0)
TWR_EXTEND(twr_i32x4_extend_high_i16x8_u, 4, u32, u16, 4)
TWR_EXTEND(twr_i64x2_extend_low_i32x4_s, 2, i64, i32, 0)
TWR_EXTEND(twr_i64x2_extend_high_i32x4_s, 2, i64, i32, 2)
TWR_EXTEND(twr_i64x2_extend_low_i32x4_u, 2, u64, u32, 0)
TWR_EXTEND(twr_i64x2_extend_high_i32x4_u, 2, u64, u32, 2)

/* extmul: products of the extended lanes, in a type wide enough to hold
 * them exactly (i64 for the signed i32 case, u64 for the unsigned) */
#define TWR_EXTMUL(name, N, wf, nf, off, T)                                 \
  TWR_OP2(name, TWR_LANES(N, r.wf[i] = (T)a.nf[i + (off)] * (T)b.nf[i + (off)]))
TWR_EXTMUL(twr_i16x8_extmul_low_i8x16_s, 8, i16, i8, 0, int)
TWR_EXTMUL(twr_i16x8_extmul_high_i8x16_s, 8, i16, i8, 8, int)
TWR_EXTMUL(twr_i16x8_extmul_low_i8x16_u, 8, u16, u8, 0, unsigned)
TWR_EXTMUL(twr_i16x8_extmul_high_i8x16_u, 8, u16, u8, 8, unsigned)
TWR_EXTMUL(twr_i32x4_extmul_low_i16x8_s, 4, i32, i16, 0, twr_i32)
TWR_EXTMUL(twr_i32x4_extmul_high_i16x8_s, 4, i32, i16, 4, twr_i32)
TWR_EXTMUL(twr_i32x4_extmul_low_i16x8_u, 4, u32, u16, 0, twr_u32)
TWR_EXTMUL(twr_i32x4_extmul_high_i16x8_u, 4, u32, u16, 4, twr_u32)
TWR_EXTMUL(twr_i64x2_extmul_low_i32x4_s, 2, i64, i32, 0, twr_i64)
TWR_EXTMUL(twr_i64x2_extmul_high_i32x4_s, 2, i64, i32, 2, twr_i64)
TWR_EXTMUL(twr_i64x2_extmul_low_i32x4_u, 2, u64, u32, 0, twr_u64)
TWR_EXTMUL(twr_i64x2_extmul_high_i32x4_u, 2, u64, u32, 2, twr_u64)

/* extadd_pairwise: sums of adjacent extended lanes (always fit) */
#define TWR_EXTADD(name, N, wf, nf)                                         \
  TWR_OP1(name, TWR_LANES(N, r.wf[i] = a.nf[2 * i] + a.nf[2 * i + 1]))
TWR_EXTADD(twr_i16x8_extadd_pairwise_i8x16_s, 8, i16, i8)
TWR_EXTADD(twr_i16x8_extadd_pairwise_i8x16_u, 8, u16, u8)
TWR_EXTADD(twr_i32x4_extadd_pairwise_i16x8_s, 4, i32, i16)
TWR_EXTADD(twr_i32x4_extadd_pairwise_i16x8_u, 4, u32, u16)

/* dot: each product fits in i32; their sum may not (2 * 2^30), so it
 * wraps in unsigned arithmetic, as the instruction does */
TWR_OP2(twr_i32x4_dot_i16x8_s,
        TWR_LANES(4, r.u32[i] = (twr_u32)((twr_i32)a.i16[2 * i] * b.i16[2 * i]) +
                                (twr_u32)((twr_i32)a.i16[2 * i + 1] *
                                          b.i16[2 * i + 1])))

/* q15mulr_sat_s: (a * b + 2^14) >> 15, saturated; the only overflow is
 * -32768 * -32768 (the right shift of a negative int is arithmetic on
 * every compiler we target: implementation-defined, not undefined) */
TWR_OP2(twr_i16x8_q15mulr_sat_s,
        TWR_LANES(8, twr_i32 p_ = ((twr_i32)a.i16[i] * b.i16[i] + 0x4000) >> 15;
                  r.i16[i] = (twr_i16)(p_ > 32767 ? 32767 : p_)))

/* ---- floating-point lanes ---- */

#define TWR_FLOAT_FAMILY(P, N, F, U, S, SIGN, MINF, MAXF)                   \
  TWR_V2(twr_##P##_add, r.v##F = a.v##F + b.v##F,                           \
         TWR_LANES(N, r.F[i] = a.F[i] + b.F[i]))                            \
  TWR_V2(twr_##P##_sub, r.v##F = a.v##F - b.v##F,                           \
         TWR_LANES(N, r.F[i] = a.F[i] - b.F[i]))                            \
  TWR_V2(twr_##P##_mul, r.v##F = a.v##F * b.v##F,                           \
         TWR_LANES(N, r.F[i] = a.F[i] * b.F[i]))                            \
  TWR_V2(twr_##P##_div, r.v##F = a.v##F / b.v##F,                           \
         TWR_LANES(N, r.F[i] = a.F[i] / b.F[i]))                            \
  TWR_V1(twr_##P##_abs, r.v##U = a.v##U & ~(twr_v##U){0} >> 1,              \
         TWR_LANES(N, r.U[i] = a.U[i] & ~SIGN))                             \
  TWR_V1(twr_##P##_neg, r.v##U = a.v##U ^ ((twr_v##U){0} + SIGN),           \
         TWR_LANES(N, r.U[i] = a.U[i] ^ SIGN))                              \
  TWR_V2(twr_##P##_eq, r.v##S = (twr_v##S)(a.v##F == b.v##F),               \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.F[i] == b.F[i])))           \
  TWR_V2(twr_##P##_ne, r.v##S = (twr_v##S)(a.v##F != b.v##F),               \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.F[i] != b.F[i])))           \
  TWR_V2(twr_##P##_lt, r.v##S = (twr_v##S)(a.v##F < b.v##F),                \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.F[i] < b.F[i])))            \
  TWR_V2(twr_##P##_gt, r.v##S = (twr_v##S)(a.v##F > b.v##F),                \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.F[i] > b.F[i])))            \
  TWR_V2(twr_##P##_le, r.v##S = (twr_v##S)(a.v##F <= b.v##F),               \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.F[i] <= b.F[i])))           \
  TWR_V2(twr_##P##_ge, r.v##S = (twr_v##S)(a.v##F >= b.v##F),               \
         TWR_LANES(N, r.U[i] = TWR_ALL1(U, a.F[i] >= b.F[i])))           \
  /* pmin = b < a ? b : a, pmax = a < b ? b : a: no NaN rule, operands'   \
   * bits pass through */                                                   \
  TWR_V2(twr_##P##_pmin,                                                    \
         r.v##U = TWR_MASKSEL(v##U, b.v##F < a.v##F, b.v##U, a.v##U),       \
         TWR_LANES(N, r.U[i] = b.F[i] < a.F[i] ? b.U[i] : a.U[i]))          \
  TWR_V2(twr_##P##_pmax,                                                    \
         r.v##U = TWR_MASKSEL(v##U, a.v##F < b.v##F, b.v##U, a.v##U),       \
         TWR_LANES(N, r.U[i] = a.F[i] < b.F[i] ? b.U[i] : a.U[i]))          \
  /* min/max: as the scalar helpers: NaN -> a + b (quiet), equal operands \
   * (so both zeros) -> OR (min prefers -0) / AND (max prefers +0) of the \
   * bits, else the smaller / larger */                                     \
  TWR_V2(twr_##P##_min,                                                     \
         twr_v##S n_ = (twr_v##S)((a.v##F != a.v##F) | (b.v##F != b.v##F)); \
         twr_v##S e_ = (twr_v##S)(a.v##F == b.v##F);                        \
         twr_v##U p_ = TWR_MASKSEL(v##U, a.v##F < b.v##F, a.v##U, b.v##U);  \
         twr_vl q_; q_.v##F = a.v##F + b.v##F;                              \
         p_ = TWR_MASKSEL(v##U, e_, a.v##U | b.v##U, p_);                   \
         r.v##U = TWR_MASKSEL(v##U, n_, q_.v##U, p_),                       \
         TWR_LANES(N, r.F[i] = MINF(a.F[i], b.F[i])))                       \
  TWR_V2(twr_##P##_max,                                                     \
         twr_v##S n_ = (twr_v##S)((a.v##F != a.v##F) | (b.v##F != b.v##F)); \
         twr_v##S e_ = (twr_v##S)(a.v##F == b.v##F);                        \
         twr_v##U p_ = TWR_MASKSEL(v##U, a.v##F > b.v##F, a.v##U, b.v##U);  \
         twr_vl q_; q_.v##F = a.v##F + b.v##F;                              \
         p_ = TWR_MASKSEL(v##U, e_, a.v##U & b.v##U, p_);                   \
         r.v##U = TWR_MASKSEL(v##U, n_, q_.v##U, p_),                       \
         TWR_LANES(N, r.F[i] = MAXF(a.F[i], b.F[i])))

TWR_FLOAT_FAMILY(f32x4, 4, f32, u32, i32, 0x80000000u, twr_f32_min,
                 twr_f32_max)
TWR_FLOAT_FAMILY(f64x2, 2, f64, u64, i64, 0x8000000000000000ull,
                 twr_f64_min, twr_f64_max)

/* per-lane calls to the scalar helpers of prelude.h */
#define TWR_FLOAT_MAP(name, N, F, fn) TWR_OP1(name, TWR_LANES(N, r.F[i] = fn(a.F[i])))
TWR_FLOAT_MAP(twr_f32x4_sqrt, 4, f32, twr_sqrtf)
TWR_FLOAT_MAP(twr_f32x4_ceil, 4, f32, twr_ceilf)
TWR_FLOAT_MAP(twr_f32x4_floor, 4, f32, twr_floorf)
TWR_FLOAT_MAP(twr_f32x4_trunc, 4, f32, twr_truncf)
TWR_FLOAT_MAP(twr_f32x4_nearest, 4, f32, twr_rintf)
TWR_FLOAT_MAP(twr_f64x2_sqrt, 2, f64, twr_sqrt)
TWR_FLOAT_MAP(twr_f64x2_ceil, 2, f64, twr_ceil)
TWR_FLOAT_MAP(twr_f64x2_floor, 2, f64, twr_floor)
TWR_FLOAT_MAP(twr_f64x2_trunc, 2, f64, twr_trunc)
TWR_FLOAT_MAP(twr_f64x2_nearest, 2, f64, twr_rint)

/* ---- conversions ---- */

TWR_OP1(twr_i32x4_trunc_sat_f32x4_s,
        TWR_LANES(4, r.u32[i] = twr_i32_trunc_sat_f32_s(a.f32[i])))
TWR_OP1(twr_i32x4_trunc_sat_f32x4_u,
        TWR_LANES(4, r.u32[i] = twr_i32_trunc_sat_f32_u(a.f32[i])))
TWR_OP1(twr_i32x4_trunc_sat_f64x2_s_zero,
        TWR_LANES(4, r.u32[i] = i < 2 ? twr_i32_trunc_sat_f64_s(a.f64[i & 1]) : 0))
TWR_OP1(twr_i32x4_trunc_sat_f64x2_u_zero,
        TWR_LANES(4, r.u32[i] = i < 2 ? twr_i32_trunc_sat_f64_u(a.f64[i & 1]) : 0))
TWR_V1(twr_f32x4_convert_i32x4_s,
       r.vf32 = __builtin_convertvector(a.vi32, twr_vf32),
       TWR_LANES(4, r.f32[i] = (float)a.i32[i]))
/* u32 -> f32 through i64, exact, then one rounding */
TWR_OP1(twr_f32x4_convert_i32x4_u,
        TWR_LANES(4, r.f32[i] = (float)(twr_i64)a.u32[i]))
TWR_OP1(twr_f64x2_convert_low_i32x4_s,
        TWR_LANES(2, r.f64[i] = (double)a.i32[i]))
TWR_OP1(twr_f64x2_convert_low_i32x4_u,
        TWR_LANES(2, r.f64[i] = (double)a.u32[i]))
TWR_OP1(twr_f32x4_demote_f64x2_zero,
        TWR_LANES(4, r.f32[i] = i < 2 ? twr_f32_demote(a.f64[i & 1]) : 0.0f))
TWR_OP1(twr_f64x2_promote_low_f32x4,
        TWR_LANES(2, r.f64[i] = twr_f64_promote(a.f32[i])))

#endif /* !TWR_NO_SIMD */
#endif
