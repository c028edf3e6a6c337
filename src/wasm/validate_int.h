/* Shared between the module-level validator (validate.c) and the
 * function-body type checker (validate_func.c); private to src/wasm/.
 */
#ifndef TW_WASM_VALIDATE_INT_H
#define TW_WASM_VALIDATE_INT_H

#include <stddef.h>
#include <stdint.h>

#include "wasm/wasm.h"

/* Type-checks every defined function body of m (2.0 with SIMD).
 * `declared` is a bitmap over the function index space (imports first):
 * bit i set when function i may be named by ref.func inside a body (it is
 * referenced by an element segment, an export or a global initializer).
 * The module-level checks (type indexes of functions in range, ...) must
 * have passed. Returns 0, TW_EINVALID, TW_EMALFORMED, TW_ELIMIT or
 * TW_ENOMEM with a message naming the function index and byte offset.
 * Allocates its stacks once for all bodies and frees them before
 * returning. */
int tw__validate_code(const struct tw__module *m, const uint8_t *declared,
                      char *err, size_t errlen);

#endif
