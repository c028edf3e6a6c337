/* WebAssembly -> C, and the compilers that turn that C into running code.
 *
 * tw__codegen_c() writes one self-contained C translation unit for a
 * validated module: the prelude (src/rt/abi.h + src/codegen/prelude.h),
 * one C function per defined WebAssembly function (named f<index>), one
 * invoker per module type, one host thunk per imported function, and
 * `void twm_entry(struct twr_code *)` that fills the runtime's tables.
 * The C is free of undefined behaviour for every valid module; module
 * strings never become identifiers (only escaped literals).
 *
 * Tier 0 compiles that C in memory with libtcc (serialized: libtcc has
 * global state).
 */
#ifndef TW_CODEGEN_H
#define TW_CODEGEN_H

#include <stddef.h>

#include "base/base.h"
#include "wasm/wasm.h"

/* Bump when the generated C changes meaning (cached code is keyed on it). */
#define TW_CODEGEN_VERSION 1

/* The prelude text (embedded at build time). */
extern const char tw__prelude_text[];
extern const unsigned long tw__prelude_text_len;

/* Appends the C for module m (which must have passed validation) to out.
 * Returns 0, TW_EUNSUPPORTED for instructions this tier cannot yet
 * translate (message names function and offset), TW_ELIMIT if the output
 * would exceed out's limit, or TW_ENOMEM. */
int tw__codegen_c(const struct tw__module *m, struct tw__buf *out, char *err,
                  size_t errlen);

/* Compiled code: owns the machine code until freed. */
struct tw__code;

/* Compiles C source (NUL-terminated, len bytes) in memory with libtcc.
 * On failure returns TW_ECOMPILE with the compiler's first message. */
int tw__tier0_compile(const char *csrc, size_t len, struct tw__code **out,
                      char *err, size_t errlen);

/* The module's twm_entry function (void (*)(struct twr_code *)). */
void *tw__code_entry(struct tw__code *code);

void tw__code_free(struct tw__code *code);

#endif
