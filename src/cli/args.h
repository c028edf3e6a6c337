/* The command line's side of the JSON value codec: --args text to typed
 * WebAssembly arguments, and results printed as a JSON line. The codec
 * itself (rules, limits) lives in the library, src/codec/codec.h, shared
 * with the HTTP API; these are the CLI's thin entry points to it.
 */
#ifndef TW_CLI_ARGS_H
#define TW_CLI_ARGS_H

#include <stddef.h>
#include <stdio.h>

#include <tw/tw.h>

/* Parses `json` (a NUL-terminated JSON array) into type->nparams values of
 * the parameter types of `type`, written to out (room for type->nparams).
 * Returns 0, or TW_EINVAL with a message in err ("argument 2: expected
 * i32, got string"), or TW_ENOMEM. Allocates nothing that outlives the
 * call. */
int tw_cli_args_from_json(const char *json, const tw_functype_t *type,
                          tw_val_t *out, char *err, size_t errlen);

/* Writes `n` values as one JSON array line to f: i32/i64 as signed
 * decimal, f32/f64 with enough digits to round-trip (%.9g / %.17g), NaN
 * and infinities as the strings "nan", "inf", "-inf", null references as
 * null and others as "ref", v128 as a "0x..." string of 32 hex digits
 * (most significant byte first). */
void tw_cli_print_results(FILE *f, const tw_val_t *vals, size_t n);

#endif
