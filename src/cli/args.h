/* The command line's value codec: --args JSON to typed WebAssembly
 * arguments, and results back to JSON text. Kept apart from the commands so
 * that a fuzz target can drive it on its own.
 *
 * Conversion rules (docs in examples/README.md):
 *   i32  JSON integer in -2^31 .. 2^32-1 (values above 2^31-1 are taken as
 *        their unsigned bit pattern).
 *   i64  JSON integer in -2^63 .. 2^63-1, or a JSON string of decimal digits
 *        with an optional leading '-' in -2^63 .. 2^64-1 (jansson's integers
 *        are `long long`, so u64 values above 2^63-1 need the string form).
 *   f32, f64  any JSON number (rounded to nearest), or the strings "nan",
 *        "inf", "-inf". f32 refuses finite values beyond FLT_MAX.
 *   funcref, externref  only null.
 *   v128  refused.
 * Anything else (strings, booleans, null, arrays, objects where not listed)
 * is refused with a message naming the 1-based argument.
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
