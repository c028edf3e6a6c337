/* Fixed-width SIMD instructions (0xFD prefix) -> C statements.
 *
 * Every instruction becomes one call to the prelude helper named after it
 * ("i16x8.add_sat_s" -> twr_i16x8_add_sat_s, see prelude_simd.h), so this
 * file only decides how operands, immediates and memory reach the helper.
 * emit_func.c has already done the stack bookkeeping from the opcode's
 * signature; memory addresses follow the scalar rule (mem0 + (u64)addr +
 * offset, an out-of-bounds access faults in the guard reservation).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen_int.h"

/* "i8x16.extract_lane_s" -> "twr_i8x16_extract_lane_s" */
static int helper_name(unsigned op, char *buf, size_t n) {
  const char *name = tw__op_name(op);
  if (!name || strlen(name) + 5 > n) return TW_EUNSUPPORTED;
  snprintf(buf, n, "twr_%s", name);
  for (char *p = buf; *p; p++)
    if (*p == '.') *p = '_';
  return 0;
}

/* C type of a memory access of `width` bytes. */
static const char *access_type(unsigned width) {
  switch (width) {
  case 1: return "twr_u8";
  case 2: return "twr_u16";
  case 4: return "twr_u32";
  default: return "twr_u64";
  }
}

static uint64_t le64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

int tw__cg_simd(struct tw__buf *b, const struct tw__instr *in,
                const char *const *args, const char *dst, const char *addr) {
  unsigned op = in->op;
  char fn[64];
  int rc = helper_name(op, fn, sizeof fn);
  if (rc) return rc;
  const char *sig = tw__op_sig(op);
  if (!sig) return TW_EUNSUPPORTED;
  size_t np = (size_t)(strchr(sig, ':') - sig);

  switch (tw__op_imm(op)) {
  case TW_IMM_MEMARG:
    if (op == TW_OP_V128_STORE) {
      tw__buf_printf(b, "twr_v128_store(%s, %s);\n", addr, args[1]);
    } else if (op == TW_OP_V128_LOAD) {
      tw__buf_printf(b, "%s = twr_v128_load(%s);\n", dst, addr);
    } else { /* extend, splat, zero: a helper of the loaded scalar */
      tw__buf_printf(b, "%s = %s(TWR_LOAD(%s, %s));\n", dst, fn,
                     access_type(tw__op_width(op)), addr);
    }
    return 0;
  case TW_IMM_MEMARG_LANE: {
    const char *T = access_type(tw__op_width(op));
    if (dst) /* load_lane: (addr, v) -> v */
      tw__buf_printf(b, "%s = %s(%s, %uu, TWR_LOAD(%s, %s));\n", dst, fn,
                     args[1], (unsigned)in->lane, T, addr);
    else /* store_lane: (addr, v) -> */
      tw__buf_printf(b, "TWR_STORE(%s, %s, %s(%s, %uu));\n", T, addr, fn,
                     args[1], (unsigned)in->lane);
    return 0;
  }
  case TW_IMM_V128:
    tw__buf_printf(b, "%s = twr_v128_make(0x%016" PRIx64 "ull, 0x%016" PRIx64
                      "ull);\n",
                   dst, le64(in->bytes), le64(in->bytes + 8));
    return 0;
  case TW_IMM_SHUFFLE:
    tw__buf_printf(b, "%s = %s(%s, %s, 0x%016" PRIx64 "ull, 0x%016" PRIx64
                      "ull);\n",
                   dst, fn, args[0], args[1], le64(in->bytes),
                   le64(in->bytes + 8));
    return 0;
  case TW_IMM_LANE: /* extract: (v, lane); replace: (v, lane, x) */
    if (np == 1)
      tw__buf_printf(b, "%s = %s(%s, %uu);\n", dst, fn, args[0],
                     (unsigned)in->lane);
    else
      tw__buf_printf(b, "%s = %s(%s, %uu, %s);\n", dst, fn, args[0],
                     (unsigned)in->lane, args[1]);
    return 0;
  case TW_IMM_NONE:
    if (!dst || np == 0 || np > 3) return TW_EUNSUPPORTED;
    tw__buf_printf(b, "%s = %s(%s", dst, fn, args[0]);
    for (size_t i = 1; i < np; i++) tw__buf_printf(b, ", %s", args[i]);
    tw__buf_puts(b, ");\n");
    return 0;
  default:
    return TW_EUNSUPPORTED;
  }
}

bool tw__cg_uses_simd(const struct tw__module *m) {
  /* Any SIMD instruction starts with the byte 0xFD; other bytes of the
   * code (immediates) may also be 0xFD, which only costs a needless
   * prelude section. */
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    const struct tw__func *f = &m->funcs[i];
    if (f->end > f->code &&
        memchr(f->code, 0xfd, (size_t)(f->end - f->code)) != NULL)
      return true;
  }
  return false;
}
