/* Internals shared by the code generator's files (emit.c: module level,
 * emit_func.c: function bodies, emit_num.c: numeric operators,
 * emit_simd.c: SIMD instructions). Not for
 * use outside src/codegen/.
 */
#ifndef TW_CODEGEN_INT_H
#define TW_CODEGEN_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "codegen/codegen.h"
#include "wasm/wasm.h"

/* C type of a value type ("twr_u32", "float", "void *"...). */
const char *tw__cg_ctype(uint8_t t);
/* twr_val member holding a value type ("i32", ..., "ref"). */
const char *tw__cg_field(uint8_t t);
/* One-letter suffix naming a value type in generated identifiers. */
char tw__cg_suffix(uint8_t t);

/* Writes `RET name(struct twr_exec *x, void *env, P l0, ...[, twr_val
 * *ret])` for function type ft; with_names=0 omits parameter names. */
void tw__cg_signature(struct tw__buf *b, const struct tw__functype *ft,
                      const char *name, int with_names);

/* Appends the C function for defined function `defidx` to out. calls
 * (from tw__codegen_calls, or NULL) lets loops that call a function that
 * calls go without their own header check: every such function checks at
 * its entry. o: cover_loads and plain_mem are read (the rest concern the
 * whole unit). scratch is a
 * caller-owned buffer reused between functions (its contents are
 * clobbered). Returns 0, TW_EUNSUPPORTED (SIMD), TW_ELIMIT, TW_ENOMEM, or
 * an error from the instruction reader; err names the function and
 * offset. */
int tw__cg_func(const struct tw__module *m, uint32_t defidx,
                const uint8_t *calls, const struct tw__codegen_opts *o,
                struct tw__buf *out, struct tw__buf *scratch, char *err,
                size_t errlen);

/* The byte offsets (ascending) of the scalar loads of defined function
 * fn (nlocals: its parameters and locals) whose trap a later access of
 * the same address value, ending no earlier, in the same straight-line
 * code makes certain (cover.c); the
 * code generator emits them without the keep. *out is freed by the
 * caller. Returns 0, TW_ENOMEM, or an error of the instruction reader. */
int tw__cg_covered_loads(const struct tw__module *m, const struct tw__func *fn,
                         uint32_t nlocals, uint32_t **out, uint32_t *nout,
                         char *err, size_t errlen);

/* For an operator with a fixed signature and no immediates (arithmetic,
 * comparisons, conversions): a C expression template where $0, $1 stand
 * for the operands (in stack order) and x is the exec pointer. NULL if
 * op is not such an operator. */
const char *tw__cg_num_template(unsigned op);
/* For a shift whose count is a constant already reduced modulo the
 * width: the template without the reduction; NULL for other operators. */
const char *tw__cg_shift_const_template(unsigned op);

/* Appends the C statement for SIMD instruction `in` (an 0xFD opcode) to
 * b. The caller has done the stack effect of the opcode's signature:
 * args[0..n) name the operand slots in stack order, dst the result slot
 * (NULL when there is none), addr the effective address expression of a
 * memory instruction (its first operand plus the static offset). Returns
 * 0 or TW_EUNSUPPORTED. */
int tw__cg_simd(struct tw__buf *b, const struct tw__instr *in,
                const char *const *args, const char *dst, const char *addr);

/* Whether m's code may contain a SIMD instruction. When it cannot, the
 * generated C starts with `#define TWR_NO_SIMD` and the prelude leaves
 * out its v128 helpers (tcc compiles every static function it sees). */
bool tw__cg_uses_simd(const struct tw__module *m);

#endif
