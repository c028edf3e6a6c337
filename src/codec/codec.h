/* The JSON value codec shared by the command line (`run --args`) and the
 * HTTP API (`invoke` bodies): JSON arguments to typed WebAssembly values by
 * an export's signature, and results back to JSON text. One implementation
 * for both front ends, driven on its own by fuzz/fuzz_args.c.
 *
 * Conversion rules (user docs in examples/README.md):
 *   i32  JSON integer in -2^31 .. 2^32-1 (values above 2^31-1 are taken as
 *        their unsigned bit pattern).
 *   i64  JSON integer in -2^63 .. 2^63-1, or a JSON string of decimal digits
 *        with an optional leading '-' in -2^63 .. 2^64-1 (jansson's integers
 *        are `long long`, so u64 values above 2^63-1 need the string form).
 *   f32, f64  any JSON number (rounded to nearest), or the strings "nan",
 *        "inf", "-inf". f32 refuses finite values beyond FLT_MAX.
 *   funcref, externref  only null.
 *   v128  refused.
 * Anything else is refused with a message naming the 1-based argument.
 */
#ifndef TW_CODEC_H
#define TW_CODEC_H

#include <stddef.h>

#include <jansson.h>

#include "tw/tw.h"

/* JSON argument text longer than this is refused: a call takes at most a
 * few thousand parameters, and jansson would otherwise build any tree. */
#define TW_CODEC_MAX_JSON_BYTES (1u << 20)

/* Converts `array` (a parsed JSON value, expected to be an array) into
 * type->nparams values of the parameter types of `type`, written to out
 * (room for type->nparams). Returns 0, or TW_EINVAL with a message in err
 * ("argument 2: expected i32, got string"). Allocates nothing; the caller
 * keeps ownership of `array`. */
int tw__codec_args_from_value(const json_t *array, const tw_functype_t *type,
                              tw_val_t *out, char *err, size_t errlen);

/* The same from `len` bytes of JSON text (need not be NUL-terminated),
 * refused past TW_CODEC_MAX_JSON_BYTES. Messages about the text as a whole
 * start with "<what>: " (e.g. "--args: invalid JSON at column 3: ..."). */
int tw__codec_args_from_text(const char *json, size_t len, const char *what,
                             const tw_functype_t *type, tw_val_t *out,
                             char *err, size_t errlen);

/* Bytes that tw__codec_results_format needs for n values, terminating NUL
 * included (an upper bound). */
size_t tw__codec_results_size(size_t n);

/* Writes n values as one JSON array (no newline) into buf of `cap` bytes,
 * NUL-terminated: i32/i64 as signed decimal, f32/f64 with enough digits to
 * round-trip (%.9g / %.17g), NaN and infinities as the strings "nan",
 * "inf", "-inf", null references as null and others as "ref", v128 as a
 * "0x..." string of 32 hex digits (most significant byte first). Returns
 * the length written, or 0 when cap is below tw__codec_results_size(n). */
size_t tw__codec_results_format(const tw_val_t *vals, size_t n, char *buf,
                                size_t cap);

#endif
