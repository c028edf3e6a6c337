/* Numeric operators as C expression templates: one row per WebAssembly
 * operator whose signature is fixed and which has no immediates. Every
 * template is defined for every operand value: integer arithmetic is
 * unsigned, shift counts are masked, signed comparisons convert to the
 * signed type (implementation-defined, two's complement on every target
 * we support, never undefined), and anything that can trap or needs care
 * goes through a helper in prelude.h.
 */
#include "codegen/codegen_int.h"

const char *tw__cg_shift_const_template(unsigned op) {
  switch (op) {
  case TW_OP_I32_SHL: case TW_OP_I64_SHL: return "$0 << $1";
  case TW_OP_I32_SHR_S: return "(twr_u32)((twr_i32)$0 >> $1)";
  case TW_OP_I64_SHR_S: return "(twr_u64)((twr_i64)$0 >> $1)";
  case TW_OP_I32_SHR_U: case TW_OP_I64_SHR_U: return "$0 >> $1";
  default: return NULL;
  }
}

const char *tw__cg_num_template(unsigned op) {
  switch (op) {
  /* i32 comparisons */
  case TW_OP_I32_EQZ: return "(twr_u32)($0 == 0)";
  case TW_OP_I32_EQ: return "(twr_u32)($0 == $1)";
  case TW_OP_I32_NE: return "(twr_u32)($0 != $1)";
  case TW_OP_I32_LT_S: return "(twr_u32)((twr_i32)$0 < (twr_i32)$1)";
  case TW_OP_I32_LT_U: return "(twr_u32)($0 < $1)";
  case TW_OP_I32_GT_S: return "(twr_u32)((twr_i32)$0 > (twr_i32)$1)";
  case TW_OP_I32_GT_U: return "(twr_u32)($0 > $1)";
  case TW_OP_I32_LE_S: return "(twr_u32)((twr_i32)$0 <= (twr_i32)$1)";
  case TW_OP_I32_LE_U: return "(twr_u32)($0 <= $1)";
  case TW_OP_I32_GE_S: return "(twr_u32)((twr_i32)$0 >= (twr_i32)$1)";
  case TW_OP_I32_GE_U: return "(twr_u32)($0 >= $1)";
  /* i64 comparisons */
  case TW_OP_I64_EQZ: return "(twr_u32)($0 == 0)";
  case TW_OP_I64_EQ: return "(twr_u32)($0 == $1)";
  case TW_OP_I64_NE: return "(twr_u32)($0 != $1)";
  case TW_OP_I64_LT_S: return "(twr_u32)((twr_i64)$0 < (twr_i64)$1)";
  case TW_OP_I64_LT_U: return "(twr_u32)($0 < $1)";
  case TW_OP_I64_GT_S: return "(twr_u32)((twr_i64)$0 > (twr_i64)$1)";
  case TW_OP_I64_GT_U: return "(twr_u32)($0 > $1)";
  case TW_OP_I64_LE_S: return "(twr_u32)((twr_i64)$0 <= (twr_i64)$1)";
  case TW_OP_I64_LE_U: return "(twr_u32)($0 <= $1)";
  case TW_OP_I64_GE_S: return "(twr_u32)((twr_i64)$0 >= (twr_i64)$1)";
  case TW_OP_I64_GE_U: return "(twr_u32)($0 >= $1)";
  /* float comparisons: C's are IEEE's (false on NaN except !=) */
  case TW_OP_F32_EQ: case TW_OP_F64_EQ: return "(twr_u32)($0 == $1)";
  case TW_OP_F32_NE: case TW_OP_F64_NE: return "(twr_u32)($0 != $1)";
  case TW_OP_F32_LT: case TW_OP_F64_LT: return "(twr_u32)($0 < $1)";
  case TW_OP_F32_GT: case TW_OP_F64_GT: return "(twr_u32)($0 > $1)";
  case TW_OP_F32_LE: case TW_OP_F64_LE: return "(twr_u32)($0 <= $1)";
  case TW_OP_F32_GE: case TW_OP_F64_GE: return "(twr_u32)($0 >= $1)";
  /* i32 arithmetic */
  case TW_OP_I32_CLZ: return "twr_clz32($0)";
  case TW_OP_I32_CTZ: return "twr_ctz32($0)";
  case TW_OP_I32_POPCNT: return "twr_popcnt32($0)";
  case TW_OP_I32_ADD: return "$0 + $1";
  case TW_OP_I32_SUB: return "$0 - $1";
  case TW_OP_I32_MUL: return "$0 * $1";
  case TW_OP_I32_DIV_S: return "twr_i32_div_s(x, $0, $1)";
  case TW_OP_I32_DIV_U: return "twr_i32_div_u(x, $0, $1)";
  case TW_OP_I32_REM_S: return "twr_i32_rem_s(x, $0, $1)";
  case TW_OP_I32_REM_U: return "twr_i32_rem_u(x, $0, $1)";
  case TW_OP_I32_AND: return "$0 & $1";
  case TW_OP_I32_OR: return "$0 | $1";
  case TW_OP_I32_XOR: return "$0 ^ $1";
  case TW_OP_I32_SHL: return "$0 << ($1 & 31)";
  case TW_OP_I32_SHR_S: return "(twr_u32)((twr_i32)$0 >> ($1 & 31))";
  case TW_OP_I32_SHR_U: return "$0 >> ($1 & 31)";
  case TW_OP_I32_ROTL: return "twr_rotl32($0, $1)";
  case TW_OP_I32_ROTR: return "twr_rotr32($0, $1)";
  /* i64 arithmetic */
  case TW_OP_I64_CLZ: return "twr_clz64($0)";
  case TW_OP_I64_CTZ: return "twr_ctz64($0)";
  case TW_OP_I64_POPCNT: return "twr_popcnt64($0)";
  case TW_OP_I64_ADD: return "$0 + $1";
  case TW_OP_I64_SUB: return "$0 - $1";
  case TW_OP_I64_MUL: return "$0 * $1";
  case TW_OP_I64_DIV_S: return "twr_i64_div_s(x, $0, $1)";
  case TW_OP_I64_DIV_U: return "twr_i64_div_u(x, $0, $1)";
  case TW_OP_I64_REM_S: return "twr_i64_rem_s(x, $0, $1)";
  case TW_OP_I64_REM_U: return "twr_i64_rem_u(x, $0, $1)";
  case TW_OP_I64_AND: return "$0 & $1";
  case TW_OP_I64_OR: return "$0 | $1";
  case TW_OP_I64_XOR: return "$0 ^ $1";
  case TW_OP_I64_SHL: return "$0 << ($1 & 63)";
  case TW_OP_I64_SHR_S: return "(twr_u64)((twr_i64)$0 >> ($1 & 63))";
  case TW_OP_I64_SHR_U: return "$0 >> ($1 & 63)";
  case TW_OP_I64_ROTL: return "twr_rotl64($0, $1)";
  case TW_OP_I64_ROTR: return "twr_rotr64($0, $1)";
  /* f32 arithmetic */
  case TW_OP_F32_ABS: return "twr_f32_abs($0)";
  case TW_OP_F32_NEG: return "twr_f32_neg($0)";
  case TW_OP_F32_CEIL: return "twr_ceilf($0)";
  case TW_OP_F32_FLOOR: return "twr_floorf($0)";
  case TW_OP_F32_TRUNC: return "twr_truncf($0)";
  case TW_OP_F32_NEAREST: return "twr_rintf($0)";
  case TW_OP_F32_SQRT: return "twr_sqrtf($0)";
  case TW_OP_F32_ADD: case TW_OP_F64_ADD: return "$0 + $1";
  case TW_OP_F32_SUB: case TW_OP_F64_SUB: return "$0 - $1";
  case TW_OP_F32_MUL: case TW_OP_F64_MUL: return "$0 * $1";
  case TW_OP_F32_DIV: case TW_OP_F64_DIV: return "$0 / $1";
  case TW_OP_F32_MIN: return "twr_f32_min($0, $1)";
  case TW_OP_F32_MAX: return "twr_f32_max($0, $1)";
  case TW_OP_F32_COPYSIGN: return "twr_f32_copysign($0, $1)";
  /* f64 arithmetic */
  case TW_OP_F64_ABS: return "twr_f64_abs($0)";
  case TW_OP_F64_NEG: return "twr_f64_neg($0)";
  case TW_OP_F64_CEIL: return "twr_ceil($0)";
  case TW_OP_F64_FLOOR: return "twr_floor($0)";
  case TW_OP_F64_TRUNC: return "twr_trunc($0)";
  case TW_OP_F64_NEAREST: return "twr_rint($0)";
  case TW_OP_F64_SQRT: return "twr_sqrt($0)";
  case TW_OP_F64_MIN: return "twr_f64_min($0, $1)";
  case TW_OP_F64_MAX: return "twr_f64_max($0, $1)";
  case TW_OP_F64_COPYSIGN: return "twr_f64_copysign($0, $1)";
  /* conversions */
  case TW_OP_I32_WRAP_I64: return "(twr_u32)$0";
  case TW_OP_I32_TRUNC_F32_S: return "twr_i32_trunc_f32_s(x, $0)";
  case TW_OP_I32_TRUNC_F32_U: return "twr_i32_trunc_f32_u(x, $0)";
  case TW_OP_I32_TRUNC_F64_S: return "twr_i32_trunc_f64_s(x, $0)";
  case TW_OP_I32_TRUNC_F64_U: return "twr_i32_trunc_f64_u(x, $0)";
  case TW_OP_I64_EXTEND_I32_S:
    return "((twr_u64)$0 ^ 0x80000000ull) - 0x80000000ull";
  case TW_OP_I64_EXTEND_I32_U: return "(twr_u64)$0";
  case TW_OP_I64_TRUNC_F32_S: return "twr_i64_trunc_f32_s(x, $0)";
  case TW_OP_I64_TRUNC_F32_U: return "twr_i64_trunc_f32_u(x, $0)";
  case TW_OP_I64_TRUNC_F64_S: return "twr_i64_trunc_f64_s(x, $0)";
  case TW_OP_I64_TRUNC_F64_U: return "twr_i64_trunc_f64_u(x, $0)";
  case TW_OP_F32_CONVERT_I32_S: return "(float)(twr_i32)$0";
  case TW_OP_F32_CONVERT_I32_U: return "(float)(twr_i64)(twr_u64)$0";
  case TW_OP_F32_CONVERT_I64_S: return "(float)(twr_i64)$0";
  case TW_OP_F32_CONVERT_I64_U: return "twr_f32_convert_u64($0)";
  case TW_OP_F32_DEMOTE_F64: return "twr_f32_demote($0)";
  case TW_OP_F64_CONVERT_I32_S: return "(double)(twr_i32)$0";
  case TW_OP_F64_CONVERT_I32_U: return "(double)(twr_i64)(twr_u64)$0";
  case TW_OP_F64_CONVERT_I64_S: return "(double)(twr_i64)$0";
  case TW_OP_F64_CONVERT_I64_U: return "twr_f64_convert_u64($0)";
  case TW_OP_F64_PROMOTE_F32: return "twr_f64_promote($0)";
  case TW_OP_I32_REINTERPRET_F32: return "twr_f32_bits($0)";
  case TW_OP_I64_REINTERPRET_F64: return "twr_f64_bits($0)";
  case TW_OP_F32_REINTERPRET_I32: return "twr_f32_from($0)";
  case TW_OP_F64_REINTERPRET_I64: return "twr_f64_from($0)";
  /* sign extension, with unsigned masks only */
  case TW_OP_I32_EXTEND8_S: return "(($0 & 0xffu) ^ 0x80u) - 0x80u";
  case TW_OP_I32_EXTEND16_S: return "(($0 & 0xffffu) ^ 0x8000u) - 0x8000u";
  case TW_OP_I64_EXTEND8_S: return "(($0 & 0xffull) ^ 0x80ull) - 0x80ull";
  case TW_OP_I64_EXTEND16_S:
    return "(($0 & 0xffffull) ^ 0x8000ull) - 0x8000ull";
  case TW_OP_I64_EXTEND32_S:
    return "(($0 & 0xffffffffull) ^ 0x80000000ull) - 0x80000000ull";
  /* saturating truncation */
  case TW_OP_I32_TRUNC_SAT_F32_S: return "twr_i32_trunc_sat_f32_s($0)";
  case TW_OP_I32_TRUNC_SAT_F32_U: return "twr_i32_trunc_sat_f32_u($0)";
  case TW_OP_I32_TRUNC_SAT_F64_S: return "twr_i32_trunc_sat_f64_s($0)";
  case TW_OP_I32_TRUNC_SAT_F64_U: return "twr_i32_trunc_sat_f64_u($0)";
  case TW_OP_I64_TRUNC_SAT_F32_S: return "twr_i64_trunc_sat_f32_s($0)";
  case TW_OP_I64_TRUNC_SAT_F32_U: return "twr_i64_trunc_sat_f32_u($0)";
  case TW_OP_I64_TRUNC_SAT_F64_S: return "twr_i64_trunc_sat_f64_s($0)";
  case TW_OP_I64_TRUNC_SAT_F64_U: return "twr_i64_trunc_sat_f64_u($0)";
  default: return NULL;
  }
}
