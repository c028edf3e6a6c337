/* JSON <-> WebAssembly values (rules in codec.h).
 * Invariants: every refusal names the 1-based argument and what was
 * expected; no conversion has undefined behaviour (ranges are checked
 * before any narrowing), and any parsed JSON tree is freed on every path.
 */
#include "codec/codec.h"

#include <stdio.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

static const char *json_kind(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return "object";
  case JSON_ARRAY:
    return "array";
  case JSON_STRING:
    return "string";
  case JSON_INTEGER:
    return "integer";
  case JSON_REAL:
    return "real";
  case JSON_TRUE:
  case JSON_FALSE:
    return "boolean";
  case JSON_NULL:
    return "null";
  }
  return "value";
}

static int type_error(char *err, size_t errlen, size_t i, uint8_t type,
                      const json_t *v) {
  snprintf(err, errlen, "argument %zu: expected %s, got %s", i + 1,
           tw_valtype_name(type), json_kind(v));
  return TW_EINVAL;
}

/* Parses "-?[0-9]+" into a sign and magnitude; 0 on success, -1 on bad
 * syntax, -2 when the magnitude exceeds UINT64_MAX. */
static int parse_decimal(const char *s, int *neg, uint64_t *mag) {
  *neg = 0;
  *mag = 0;
  if (*s == '-') {
    *neg = 1;
    s++;
  }
  if (*s == '\0') return -1;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    unsigned d = (unsigned)(*s - '0');
    if (*mag > (UINT64_MAX - d) / 10) return -2;
    *mag = *mag * 10 + d;
  }
  return 0;
}

static int to_i32(const json_t *v, size_t i, tw_val_t *out, char *err,
                  size_t errlen) {
  if (!json_is_integer(v)) return type_error(err, errlen, i, TW_I32, v);
  json_int_t n = json_integer_value(v);
  if (n < INT32_MIN || n > (json_int_t)UINT32_MAX) {
    snprintf(err, errlen,
             "argument %zu: %lld is out of range for i32 "
             "(-2147483648..4294967295)",
             i + 1, (long long)n);
    return TW_EINVAL;
  }
  out->type = TW_I32;
  /* Negative values wrap modulo 2^32 (well defined for unsigned). */
  out->of.i32 = (uint32_t)(int64_t)n;
  return 0;
}

static int to_i64(const json_t *v, size_t i, tw_val_t *out, char *err,
                  size_t errlen) {
  out->type = TW_I64;
  if (json_is_integer(v)) {
    out->of.i64 = (uint64_t)(int64_t)json_integer_value(v);
    return 0;
  }
  if (!json_is_string(v)) return type_error(err, errlen, i, TW_I64, v);
  const char *s = json_string_value(v);
  int neg;
  uint64_t mag;
  int rc = parse_decimal(s, &neg, &mag);
  if (rc == -1 || strlen(s) != json_string_length(v)) {
    snprintf(err, errlen,
             "argument %zu: expected i64, got a string that is not a "
             "decimal integer",
             i + 1);
    return TW_EINVAL;
  }
  if (rc == -2 || (neg && mag > (uint64_t)1 << 63)) {
    snprintf(err, errlen,
             "argument %zu: \"%.40s\" is out of range for i64 "
             "(-9223372036854775808..18446744073709551615)",
             i + 1, s);
    return TW_EINVAL;
  }
  out->of.i64 = neg ? (uint64_t)0 - mag : mag;
  return 0;
}

/* A JSON number or one of "nan", "inf", "-inf" as a double. */
static int to_double(const json_t *v, size_t i, uint8_t type, double *d,
                     char *err, size_t errlen) {
  if (json_is_integer(v)) {
    *d = (double)json_integer_value(v);
    return 0;
  }
  if (json_is_real(v)) {
    *d = json_real_value(v);
    return 0;
  }
  if (json_is_string(v)) {
    const char *s = json_string_value(v);
    if (strcmp(s, "nan") == 0) {
      *d = NAN;
      return 0;
    }
    if (strcmp(s, "inf") == 0) {
      *d = INFINITY;
      return 0;
    }
    if (strcmp(s, "-inf") == 0) {
      *d = -INFINITY;
      return 0;
    }
    snprintf(err, errlen,
             "argument %zu: expected %s, got string (only \"nan\", \"inf\" "
             "and \"-inf\" are accepted as strings)",
             i + 1, tw_valtype_name(type));
    return TW_EINVAL;
  }
  return type_error(err, errlen, i, type, v);
}

static int to_f32(const json_t *v, size_t i, tw_val_t *out, char *err,
                  size_t errlen) {
  double d;
  int rc = to_double(v, i, TW_F32, &d, err, errlen);
  if (rc) return rc;
  /* Converting an out-of-range double to float is undefined in C: refuse
   * it instead. */
  if (isfinite(d) && fabs(d) > FLT_MAX) {
    snprintf(err, errlen, "argument %zu: %g is out of range for f32", i + 1,
             d);
    return TW_EINVAL;
  }
  float f = (float)d;
  out->type = TW_F32;
  memcpy(&out->of.f32, &f, sizeof f);
  return 0;
}

static int to_f64(const json_t *v, size_t i, tw_val_t *out, char *err,
                  size_t errlen) {
  double d;
  int rc = to_double(v, i, TW_F64, &d, err, errlen);
  if (rc) return rc;
  out->type = TW_F64;
  memcpy(&out->of.f64, &d, sizeof d);
  return 0;
}

static int convert_one(const json_t *v, size_t i, uint8_t type,
                       tw_val_t *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  switch (type) {
  case TW_I32:
    return to_i32(v, i, out, err, errlen);
  case TW_I64:
    return to_i64(v, i, out, err, errlen);
  case TW_F32:
    return to_f32(v, i, out, err, errlen);
  case TW_F64:
    return to_f64(v, i, out, err, errlen);
  case TW_FUNCREF:
  case TW_EXTERNREF:
    if (!json_is_null(v)) {
      snprintf(err, errlen, "argument %zu: expected %s (only null), got %s",
               i + 1, tw_valtype_name(type), json_kind(v));
      return TW_EINVAL;
    }
    out->type = type;
    out->of.ref = NULL;
    return 0;
  default:
    snprintf(err, errlen,
             "argument %zu: %s parameters cannot be given as JSON",
             i + 1, tw_valtype_name(type));
    return TW_EINVAL;
  }
}

/* "(i32 i64)" for messages. */
static void describe_params(const tw_functype_t *type, char *buf,
                            size_t len) {
  size_t o = 0;
  buf[0] = '\0';
  for (uint32_t i = 0; i < type->nparams && o + 1 < len; i++) {
    int n = snprintf(buf + o, len - o, "%s%s", i ? " " : "",
                     tw_valtype_name(type->params[i]));
    if (n < 0) break;
    o += (size_t)n;
  }
}

int tw__codec_args_from_value(const json_t *root, const tw_functype_t *type,
                              tw_val_t *out, char *err, size_t errlen) {
  char scratch[1];
  if (!err || errlen == 0) {
    err = scratch;
    errlen = sizeof scratch;
  }
  err[0] = '\0';
  if (!root || !type || (type->nparams && (!out || !type->params))) {
    snprintf(err, errlen, "NULL argument");
    return TW_EINVAL;
  }
  if (!json_is_array(root)) {
    snprintf(err, errlen, "expected a JSON array of arguments, got %s",
             json_kind(root));
    return TW_EINVAL;
  }
  size_t n = json_array_size(root);
  if (n != type->nparams) {
    char params[256];
    describe_params(type, params, sizeof params);
    snprintf(err, errlen, "expected %" PRIu32 " argument%s (%s), got %zu",
             type->nparams, type->nparams == 1 ? "" : "s", params, n);
    return TW_EINVAL;
  }
  for (size_t i = 0; i < n; i++) {
    int rc = convert_one(json_array_get(root, i), i, type->params[i], &out[i],
                         err, errlen);
    if (rc) return rc;
  }
  return 0;
}

int tw__codec_args_from_text(const char *json, size_t len, const char *what,
                             const tw_functype_t *type, tw_val_t *out,
                             char *err, size_t errlen) {
  char scratch[1];
  if (!err || errlen == 0) {
    err = scratch;
    errlen = sizeof scratch;
  }
  err[0] = '\0';
  if (!what) what = "arguments";
  if (!json || !type || (type->nparams && (!out || !type->params))) {
    snprintf(err, errlen, "%s: NULL argument", what);
    return TW_EINVAL;
  }
  if (len > TW_CODEC_MAX_JSON_BYTES) {
    snprintf(err, errlen, "%s: %zu bytes of JSON is over the limit of %u",
             what, len, TW_CODEC_MAX_JSON_BYTES);
    return TW_EINVAL;
  }
  json_error_t jerr;
  json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
  if (!root) {
    if (strstr(jerr.text, "too big"))
      snprintf(err, errlen,
               "%s: %s (pass i64 values above 9223372036854775807 as a "
               "string of digits)",
               what, jerr.text);
    else
      snprintf(err, errlen, "%s: invalid JSON at column %d: %s", what,
               jerr.column, jerr.text);
    return TW_EINVAL;
  }
  int rc;
  if (!json_is_array(root)) {
    snprintf(err, errlen, "%s: expected a JSON array, got %s", what,
             json_kind(root));
    rc = TW_EINVAL;
  } else if (json_array_size(root) != type->nparams) {
    char inner[200];
    tw__codec_args_from_value(root, type, out, inner, sizeof inner);
    snprintf(err, errlen, "%s: %s", what, inner);
    rc = TW_EINVAL;
  } else {
    rc = tw__codec_args_from_value(root, type, out, err, errlen);
  }
  json_decref(root);
  return rc;
}

/* ---- Results ---- */

/* The longest value: a v128 as "0x" + 32 hex digits in quotes (36), or a
 * %.17g double such as -2.2250738585072014e-308 (24); plus a comma. */
#define VALUE_MAX_CHARS 40

size_t tw__codec_results_size(size_t n) {
  if (n > (SIZE_MAX - 3) / VALUE_MAX_CHARS) return SIZE_MAX;
  return n * VALUE_MAX_CHARS + 3;
}

static size_t put_float(char *p, double d, int digits) {
  int k;
  if (isnan(d))
    k = snprintf(p, VALUE_MAX_CHARS, "\"nan\"");
  else if (isinf(d))
    k = snprintf(p, VALUE_MAX_CHARS, d < 0 ? "\"-inf\"" : "\"inf\"");
  else
    k = snprintf(p, VALUE_MAX_CHARS, "%.*g", digits, d);
  return k > 0 ? (size_t)k : 0;
}

/* Writes one value at p (room for VALUE_MAX_CHARS); returns its length. */
static size_t put_one(char *p, const tw_val_t *v) {
  static const char hex[] = "0123456789abcdef";
  int k = 0;
  switch (v->type) {
  case TW_I32:
    k = snprintf(p, VALUE_MAX_CHARS, "%" PRId32, (int32_t)v->of.i32);
    break;
  case TW_I64:
    k = snprintf(p, VALUE_MAX_CHARS, "%" PRId64, (int64_t)v->of.i64);
    break;
  case TW_F32: {
    float x;
    memcpy(&x, &v->of.f32, sizeof x);
    return put_float(p, (double)x, 9);
  }
  case TW_F64: {
    double x;
    memcpy(&x, &v->of.f64, sizeof x);
    return put_float(p, x, 17);
  }
  case TW_V128: {
    size_t o = 0;
    p[o++] = '"';
    p[o++] = '0';
    p[o++] = 'x';
    for (int b = 15; b >= 0; b--) {
      p[o++] = hex[v->of.v128[b] >> 4];
      p[o++] = hex[v->of.v128[b] & 15];
    }
    p[o++] = '"';
    p[o] = '\0';
    return o;
  }
  case TW_FUNCREF:
  case TW_EXTERNREF:
    k = snprintf(p, VALUE_MAX_CHARS, "%s", v->of.ref ? "\"ref\"" : "null");
    break;
  default:
    k = snprintf(p, VALUE_MAX_CHARS, "null");
    break;
  }
  return k > 0 ? (size_t)k : 0;
}

size_t tw__codec_results_format(const tw_val_t *vals, size_t n, char *buf,
                                size_t cap) {
  if (!buf || cap < tw__codec_results_size(n)) return 0;
  size_t o = 0;
  buf[o++] = '[';
  for (size_t i = 0; i < n; i++) {
    if (i) buf[o++] = ',';
    o += put_one(buf + o, &vals[i]);
  }
  buf[o++] = ']';
  buf[o] = '\0';
  return o;
}
