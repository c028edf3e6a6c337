/* JSON <-> WebAssembly values for the command line (rules in args.h).
 * Invariants: every refusal names the 1-based argument and what was
 * expected; no conversion has undefined behaviour (ranges are checked
 * before any narrowing), and the parsed JSON tree is freed on every path.
 */
#include "cli/args.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include <jansson.h>

/* --args text longer than this is refused: a call takes at most a few
 * thousand parameters, and jansson would otherwise build any tree. */
#define ARGS_MAX_JSON_BYTES (1u << 20)

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
             "argument %zu: %s parameters cannot be given on the command "
             "line",
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

int tw_cli_args_from_json(const char *json, const tw_functype_t *type,
                          tw_val_t *out, char *err, size_t errlen) {
  char scratch[1];
  if (!err || errlen == 0) {
    err = scratch;
    errlen = sizeof scratch;
  }
  err[0] = '\0';
  if (!json || !type || (type->nparams && (!out || !type->params))) {
    snprintf(err, errlen, "--args: NULL argument");
    return TW_EINVAL;
  }
  size_t len = strlen(json);
  if (len > ARGS_MAX_JSON_BYTES) {
    snprintf(err, errlen, "--args: %zu bytes of JSON is over the limit of %u",
             len, ARGS_MAX_JSON_BYTES);
    return TW_EINVAL;
  }

  json_error_t jerr;
  json_t *root = json_loadb(json, len, JSON_DECODE_ANY, &jerr);
  if (!root) {
    if (strstr(jerr.text, "too big"))
      snprintf(err, errlen,
               "--args: %s (pass i64 values above 9223372036854775807 as a "
               "string of digits)",
               jerr.text);
    else
      snprintf(err, errlen, "--args: invalid JSON at column %d: %s",
               jerr.column, jerr.text);
    return TW_EINVAL;
  }

  int rc = 0;
  if (!json_is_array(root)) {
    snprintf(err, errlen, "--args: expected a JSON array, got %s",
             json_kind(root));
    rc = TW_EINVAL;
    goto done;
  }
  size_t n = json_array_size(root);
  if (n != type->nparams) {
    char params[256];
    describe_params(type, params, sizeof params);
    snprintf(err, errlen, "--args: expected %" PRIu32 " argument%s (%s), got %zu",
             type->nparams, type->nparams == 1 ? "" : "s", params, n);
    rc = TW_EINVAL;
    goto done;
  }
  for (size_t i = 0; i < n; i++) {
    rc = convert_one(json_array_get(root, i), i, type->params[i], &out[i],
                     err, errlen);
    if (rc) goto done;
  }

done:
  json_decref(root);
  return rc;
}

static void print_float(FILE *f, double d, int digits) {
  if (isnan(d))
    fputs("\"nan\"", f);
  else if (isinf(d))
    fputs(d < 0 ? "\"-inf\"" : "\"inf\"", f);
  else
    fprintf(f, "%.*g", digits, d);
}

static void print_one(FILE *f, const tw_val_t *v) {
  switch (v->type) {
  case TW_I32:
    fprintf(f, "%" PRId32, (int32_t)v->of.i32);
    break;
  case TW_I64:
    fprintf(f, "%" PRId64, (int64_t)v->of.i64);
    break;
  case TW_F32: {
    float x;
    memcpy(&x, &v->of.f32, sizeof x);
    print_float(f, (double)x, 9);
    break;
  }
  case TW_F64: {
    double x;
    memcpy(&x, &v->of.f64, sizeof x);
    print_float(f, x, 17);
    break;
  }
  case TW_V128:
    fputs("\"0x", f);
    for (int b = 15; b >= 0; b--) fprintf(f, "%02x", v->of.v128[b]);
    fputc('"', f);
    break;
  case TW_FUNCREF:
  case TW_EXTERNREF:
    fputs(v->of.ref ? "\"ref\"" : "null", f);
    break;
  default:
    fputs("null", f);
    break;
  }
}

void tw_cli_print_results(FILE *f, const tw_val_t *vals, size_t n) {
  fputc('[', f);
  for (size_t i = 0; i < n; i++) {
    if (i) fputc(',', f);
    print_one(f, &vals[i]);
  }
  fputs("]\n", f);
}
