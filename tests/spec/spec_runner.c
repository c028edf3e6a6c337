/* Runs the WebAssembly core spec tests (wast2json output) against the
 * public API in tw/tw.h: one store per script, a `spectest` host module,
 * and a per-file baseline that gates regressions.
 * Invariants: a failing command never aborts its file (later commands that
 * need a failed module fail too); by default each file runs in a forked
 * child, so even a crashing guest costs one file, not the whole run. */
#include <tw/tw.h>

#include <jansson.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define EXIT_SKIP 77
#define MAX_MODULE_BYTES (64u << 20) /* largest .wasm we agree to read */
#define MAX_RESULTS 1024             /* bound on an export's result count */

/* ---- Options ---- */

struct options {
  const char *dir;
  const char *baseline;
  const char *write_baseline;
  const char *filter;
  bool verbose;
  bool fork_files;  /* run each file in a child process */
  int jobs;         /* children at once */
  unsigned timeout; /* seconds per file in a child; 0 = none */
  int tier;         /* tw_tier_t of the engines (default TW_TIER_0) */
  const char *cache_dir; /* code cache (default: the engine's default) */
};

static struct options opt = {.tier = TW_TIER_0};

/* ---- Per-file results ----
 * Lives in shared memory when files run in children, so that the counts
 * reached before a crash and the command that crashed survive it. */

enum file_status { FILE_OK, FILE_BAD_JSON, FILE_CRASHED, FILE_NO_ENGINE };

struct file_result {
  long passed, failed, skipped;
  long vm_passed, vm_total; /* assert_invalid + binary assert_malformed */
  int status;               /* enum file_status */
  int signal;               /* for FILE_CRASHED: the signal, or 0 for exit */
  int line;                 /* line of the command being run */
  char cmd[32];             /* its type */
  double ms;
  bool done;
};

/* ---- Decimal and bit-pattern helpers (covered by --self-test) ---- */

/* Parses an optionally negative decimal integer into its 64-bit two's
 * complement bits. Rejects empty strings, other characters and overflow. */
static bool parse_u64(const char *s, uint64_t *out) {
  bool neg = false;
  uint64_t v = 0;
  if (*s == '-') {
    neg = true;
    s++;
  }
  if (*s == '\0')
    return false;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return false;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      return false;
    v = v * 10 + d;
  }
  *out = neg ? (uint64_t)0 - v : v;
  return true;
}

/* How a result is compared with its expectation. */
enum match {
  MATCH_BITS,      /* identical bits (numbers) or identical pointer (refs) */
  MATCH_NAN_CANON, /* quiet NaN, payload exactly the top bit, any sign */
  MATCH_NAN_ARITH, /* quiet NaN, any payload, any sign */
  MATCH_NONNULL,   /* a funcref that is not null (its identity is opaque) */
};

static bool match_f32(uint32_t got, int m, uint32_t want) {
  switch (m) {
  case MATCH_NAN_CANON:
    return (got & 0x7fffffffu) == 0x7fc00000u;
  case MATCH_NAN_ARITH:
    return (got & 0x7fc00000u) == 0x7fc00000u;
  default:
    return got == want;
  }
}

static bool match_f64(uint64_t got, int m, uint64_t want) {
  switch (m) {
  case MATCH_NAN_CANON:
    return (got & 0x7fffffffffffffffull) == 0x7ff8000000000000ull;
  case MATCH_NAN_ARITH:
    return (got & 0x7ff8000000000000ull) == 0x7ff8000000000000ull;
  default:
    return got == want;
  }
}

/* Lane shapes of v128 values as wast2json names them. */
struct lane_shape {
  const char *name;
  unsigned bytes;
  bool is_float;
};

static const struct lane_shape lane_shapes[] = {
    {"i8", 1, false},  {"i16", 2, false}, {"i32", 4, false},
    {"i64", 8, false}, {"f32", 4, true},  {"f64", 8, true},
};

static const struct lane_shape *find_lane_shape(const char *name) {
  for (size_t i = 0; i < sizeof lane_shapes / sizeof lane_shapes[0]; i++)
    if (strcmp(lane_shapes[i].name, name) == 0)
      return &lane_shapes[i];
  return NULL;
}

static uint64_t lane_get(const uint8_t *v, unsigned bytes, unsigned i) {
  uint64_t x = 0;
  for (unsigned b = bytes; b-- > 0;)
    x = (x << 8) | v[i * bytes + b];
  return x;
}

static void lane_set(uint8_t *v, unsigned bytes, unsigned i, uint64_t x) {
  for (unsigned b = 0; b < bytes; b++, x >>= 8)
    v[i * bytes + b] = (uint8_t)x;
}

/* An expected (or argument) value: the value itself plus how to compare. */
struct expect {
  tw_val_t val;
  uint8_t match;                   /* enum match, scalars and refs */
  const struct lane_shape *shape;  /* v128 only */
  uint8_t lane_match[16];          /* v128 only, per lane */
};

static bool match_v128(const uint8_t *got, const struct expect *e) {
  const struct lane_shape *sh = e->shape;
  unsigned n = 16 / sh->bytes;
  for (unsigned i = 0; i < n; i++) {
    uint64_t g = lane_get(got, sh->bytes, i);
    uint64_t w = lane_get(e->val.of.v128, sh->bytes, i);
    bool ok;
    if (sh->is_float && sh->bytes == 4)
      ok = match_f32((uint32_t)g, e->lane_match[i], (uint32_t)w);
    else if (sh->is_float)
      ok = match_f64(g, e->lane_match[i], w);
    else
      ok = g == w;
    if (!ok)
      return false;
  }
  return true;
}

static bool match_value(const tw_val_t *got, const struct expect *e) {
  if (got->type != e->val.type)
    return false;
  switch (e->val.type) {
  case TW_I32:
    return got->of.i32 == e->val.of.i32;
  case TW_I64:
    return got->of.i64 == e->val.of.i64;
  case TW_F32:
    return match_f32(got->of.f32, e->match, e->val.of.f32);
  case TW_F64:
    return match_f64(got->of.f64, e->match, e->val.of.f64);
  case TW_V128:
    return match_v128(got->of.v128, e);
  case TW_FUNCREF:
  case TW_EXTERNREF:
    if (e->match == MATCH_NONNULL)
      return got->of.ref != NULL;
    return got->of.ref == e->val.of.ref;
  default:
    return false;
  }
}

static uint8_t nan_pattern(const char *s) {
  if (strcmp(s, "nan:canonical") == 0)
    return MATCH_NAN_CANON;
  if (strcmp(s, "nan:arithmetic") == 0)
    return MATCH_NAN_ARITH;
  return MATCH_BITS;
}

/* Parses a wast2json value object. Arguments (is_result false) may not use
 * NaN patterns or non-null funcrefs: the API cannot make those up. */
static bool parse_value(json_t *j, bool is_result, struct expect *e,
                        char *why, size_t whylen) {
  memset(e, 0, sizeof *e);
  const char *type = json_string_value(json_object_get(j, "type"));
  json_t *jv = json_object_get(j, "value");
  const char *s = json_string_value(jv);
  if (!type) {
    snprintf(why, whylen, "value without a type");
    return false;
  }
  if (strcmp(type, "v128") == 0) {
    const char *ln = json_string_value(json_object_get(j, "lane_type"));
    const struct lane_shape *sh = ln ? find_lane_shape(ln) : NULL;
    if (!sh || !json_is_array(jv) || json_array_size(jv) != 16 / sh->bytes) {
      snprintf(why, whylen, "bad v128 value (lane type %s)", ln ? ln : "?");
      return false;
    }
    e->val.type = TW_V128;
    e->shape = sh;
    for (unsigned i = 0; i < 16 / sh->bytes; i++) {
      const char *ls = json_string_value(json_array_get(jv, i));
      uint64_t x = 0;
      uint8_t m = ls ? nan_pattern(ls) : MATCH_BITS;
      if (!ls || (m != MATCH_BITS && (!sh->is_float || !is_result)) ||
          (m == MATCH_BITS && !parse_u64(ls, &x))) {
        snprintf(why, whylen, "bad v128 lane %u: %s", i, ls ? ls : "?");
        return false;
      }
      e->lane_match[i] = m;
      lane_set(e->val.of.v128, sh->bytes, i, x);
    }
    return true;
  }
  if (!s) {
    snprintf(why, whylen, "%s value is not a string", type);
    return false;
  }
  uint64_t x = 0;
  if (strcmp(type, "funcref") == 0 || strcmp(type, "externref") == 0) {
    bool func = type[0] == 'f';
    e->val.type = func ? TW_FUNCREF : TW_EXTERNREF;
    if (strcmp(s, "null") == 0)
      return true; /* ref = NULL, MATCH_BITS */
    if (!parse_u64(s, &x) || x >= UINTPTR_MAX) {
      snprintf(why, whylen, "bad %s value %s", type, s);
      return false;
    }
    if (func) {
      if (!is_result) {
        snprintf(why, whylen, "cannot pass a non-null funcref argument");
        return false;
      }
      e->match = MATCH_NONNULL;
      return true;
    }
    /* externref N is the host pointer N + 1, so externref 0 is not null. */
    e->val.of.ref = (void *)(uintptr_t)(x + 1);
    return true;
  }
  uint8_t m = nan_pattern(s);
  bool is_float = strcmp(type, "f32") == 0 || strcmp(type, "f64") == 0;
  if ((m != MATCH_BITS && (!is_float || !is_result)) ||
      (m == MATCH_BITS && !parse_u64(s, &x))) {
    snprintf(why, whylen, "bad %s value %s", type, s);
    return false;
  }
  e->match = m;
  if (strcmp(type, "i32") == 0) {
    e->val.type = TW_I32;
    e->val.of.i32 = (uint32_t)x;
  } else if (strcmp(type, "i64") == 0) {
    e->val.type = TW_I64;
    e->val.of.i64 = x;
  } else if (strcmp(type, "f32") == 0) {
    e->val.type = TW_F32;
    e->val.of.f32 = (uint32_t)x;
  } else if (strcmp(type, "f64") == 0) {
    e->val.type = TW_F64;
    e->val.of.f64 = x;
  } else {
    snprintf(why, whylen, "unknown value type %s", type);
    return false;
  }
  return true;
}

/* Writes a value for messages; `e` (may be NULL) supplies NaN patterns
 * and the v128 lane shape. */
static void format_value(char *buf, size_t n, const tw_val_t *v,
                         const struct expect *e) {
  static const char *const pat[] = {"", "nan:canonical", "nan:arithmetic",
                                    "non-null"};
  bool show_pat = e && e->match != MATCH_BITS;
  switch (v->type) {
  case TW_I32:
    snprintf(buf, n, "i32:%" PRIu32 " (0x%08" PRIx32 ")", v->of.i32, v->of.i32);
    break;
  case TW_I64:
    snprintf(buf, n, "i64:%" PRIu64 " (0x%016" PRIx64 ")", v->of.i64, v->of.i64);
    break;
  case TW_F32:
    if (show_pat) {
      snprintf(buf, n, "f32:%s", pat[e->match]);
    } else {
      float f;
      memcpy(&f, &v->of.f32, sizeof f);
      snprintf(buf, n, "f32:0x%08" PRIx32 " (%.9g)", v->of.f32, (double)f);
    }
    break;
  case TW_F64:
    if (show_pat) {
      snprintf(buf, n, "f64:%s", pat[e->match]);
    } else {
      double d;
      memcpy(&d, &v->of.f64, sizeof d);
      snprintf(buf, n, "f64:0x%016" PRIx64 " (%.17g)", v->of.f64, d);
    }
    break;
  case TW_V128: {
    const struct lane_shape *sh = e && e->shape ? e->shape : &lane_shapes[2];
    size_t used = (size_t)snprintf(buf, n, "v128:%s[", sh->name);
    for (unsigned i = 0; i < 16 / sh->bytes && used < n; i++) {
      uint8_t m = e && e->shape ? e->lane_match[i] : MATCH_BITS;
      if (m != MATCH_BITS)
        used += (size_t)snprintf(buf + used, n - used, "%s%s", i ? " " : "",
                                 pat[m]);
      else
        used += (size_t)snprintf(buf + used, n - used, "%s0x%" PRIx64,
                                 i ? " " : "",
                                 lane_get(v->of.v128, sh->bytes, i));
    }
    if (used < n)
      snprintf(buf + used, n - used, "]");
    break;
  }
  case TW_FUNCREF:
  case TW_EXTERNREF:
    if (show_pat)
      snprintf(buf, n, "%s:%s", tw_valtype_name(v->type), pat[e->match]);
    else if (v->of.ref)
      snprintf(buf, n, "%s:%p", tw_valtype_name(v->type), v->of.ref);
    else
      snprintf(buf, n, "%s:null", tw_valtype_name(v->type));
    break;
  default:
    snprintf(buf, n, "?type 0x%02x", v->type);
  }
}

static int self_test(void) {
  int bad = 0;
#define CHECK(c)                                                            \
  do {                                                                      \
    if (!(c)) {                                                             \
      fprintf(stderr, "self-test: %s:%d: %s\n", __FILE__, __LINE__, #c);    \
      bad++;                                                                \
    }                                                                       \
  } while (0)
  uint64_t x;
  CHECK(parse_u64("0", &x) && x == 0);
  CHECK(parse_u64("18446744073709551615", &x) && x == UINT64_MAX);
  CHECK(!parse_u64("18446744073709551616", &x));
  CHECK(parse_u64("-1", &x) && x == UINT64_MAX);
  CHECK(!parse_u64("", &x) && !parse_u64("-", &x) && !parse_u64("1x", &x));
  CHECK(!parse_u64("nan:canonical", &x));

  /* f32: canonical is exactly 0x7fc00000 or 0xffc00000. */
  CHECK(match_f32(0x7fc00000u, MATCH_NAN_CANON, 0));
  CHECK(match_f32(0xffc00000u, MATCH_NAN_CANON, 0));
  CHECK(!match_f32(0x7fc00001u, MATCH_NAN_CANON, 0));
  CHECK(!match_f32(0x7f800001u, MATCH_NAN_CANON, 0)); /* signalling */
  CHECK(!match_f32(0x7f800000u, MATCH_NAN_CANON, 0)); /* infinity */
  CHECK(!match_f32(0x7fe00000u, MATCH_NAN_CANON, 0));
  /* arithmetic: quiet bit set, any payload or sign. */
  CHECK(match_f32(0x7fc00000u, MATCH_NAN_ARITH, 0));
  CHECK(match_f32(0xffc00001u, MATCH_NAN_ARITH, 0));
  CHECK(match_f32(0x7fffffffu, MATCH_NAN_ARITH, 0));
  CHECK(!match_f32(0x7f800001u, MATCH_NAN_ARITH, 0));
  CHECK(!match_f32(0x7f800000u, MATCH_NAN_ARITH, 0));
  CHECK(!match_f32(0x3fc00000u, MATCH_NAN_ARITH, 0));
  CHECK(match_f32(0x7fa00000u, MATCH_BITS, 0x7fa00000u));
  CHECK(!match_f32(0x7fa00000u, MATCH_BITS, 0x7fc00000u));
  CHECK(!match_f32(0x80000000u, MATCH_BITS, 0)); /* -0 is not +0 */

  CHECK(match_f64(0x7ff8000000000000ull, MATCH_NAN_CANON, 0));
  CHECK(match_f64(0xfff8000000000000ull, MATCH_NAN_CANON, 0));
  CHECK(!match_f64(0x7ff8000000000001ull, MATCH_NAN_CANON, 0));
  CHECK(!match_f64(0x7ff0000000000001ull, MATCH_NAN_CANON, 0));
  CHECK(!match_f64(0x7ff0000000000000ull, MATCH_NAN_CANON, 0));
  CHECK(match_f64(0xfffc000000000000ull, MATCH_NAN_ARITH, 0));
  CHECK(match_f64(0x7fffffffffffffffull, MATCH_NAN_ARITH, 0));
  CHECK(!match_f64(0x7ff4000000000000ull, MATCH_NAN_ARITH, 0));
  CHECK(!match_f64(0x7ff0000000000000ull, MATCH_NAN_ARITH, 0));
  CHECK(!match_f64(0x7ff8000000000000ull, MATCH_BITS, 0xfff8000000000000ull));

  /* Values from JSON text, the way wast2json writes them. */
  char why[128];
  struct expect e, arg;
  json_error_t jerr;
  json_t *j = json_loads(
      "{\"type\":\"v128\",\"lane_type\":\"f32\",\"value\":"
      "[\"nan:canonical\",\"1065353216\",\"nan:arithmetic\",\"2147483648\"]}",
      0, &jerr);
  CHECK(j && parse_value(j, true, &e, why, sizeof why));
  CHECK(!j || !parse_value(j, false, &arg, why, sizeof why)); /* no NaN args */
  tw_val_t got = {.type = TW_V128};
  lane_set(got.of.v128, 4, 0, 0xffc00000u);
  lane_set(got.of.v128, 4, 1, 0x3f800000u);
  lane_set(got.of.v128, 4, 2, 0x7fc12345u);
  lane_set(got.of.v128, 4, 3, 0x80000000u);
  CHECK(match_value(&got, &e));
  lane_set(got.of.v128, 4, 0, 0x7fc00001u); /* not canonical */
  CHECK(!match_value(&got, &e));
  lane_set(got.of.v128, 4, 0, 0x7fc00000u);
  lane_set(got.of.v128, 4, 3, 0x00000000u); /* +0 for -0 */
  CHECK(!match_value(&got, &e));
  json_decref(j);

  j = json_loads("{\"type\":\"v128\",\"lane_type\":\"i16\",\"value\":"
                 "[\"65535\",\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"32768\"]}",
                 0, &jerr);
  CHECK(j && parse_value(j, false, &e, why, sizeof why));
  CHECK(e.val.of.v128[0] == 0xff && e.val.of.v128[1] == 0xff &&
        e.val.of.v128[2] == 1 && e.val.of.v128[3] == 0 &&
        e.val.of.v128[14] == 0x00 && e.val.of.v128[15] == 0x80);
  json_decref(j);

  j = json_loads("{\"type\":\"externref\",\"value\":\"0\"}", 0, &jerr);
  CHECK(j && parse_value(j, false, &e, why, sizeof why));
  CHECK(e.val.type == TW_EXTERNREF && e.val.of.ref == (void *)(uintptr_t)1);
  json_decref(j);
  j = json_loads("{\"type\":\"funcref\",\"value\":\"3\"}", 0, &jerr);
  CHECK(j && parse_value(j, true, &e, why, sizeof why));
  got.type = TW_FUNCREF;
  got.of.ref = &e;
  CHECK(match_value(&got, &e));
  got.of.ref = NULL;
  CHECK(!match_value(&got, &e));
  CHECK(!parse_value(j, false, &e, why, sizeof why));
  json_decref(j);
  j = json_loads("{\"type\":\"f32\",\"value\":\"nan:arithmetic\"}", 0, &jerr);
  CHECK(j && parse_value(j, true, &e, why, sizeof why));
  got.type = TW_F32;
  got.of.f32 = 0xffd00000u;
  CHECK(match_value(&got, &e));
  got.type = TW_F64; /* wrong type */
  CHECK(!match_value(&got, &e));
  json_decref(j);
  j = json_loads("{\"type\":\"i32\",\"value\":\"4294967295\"}", 0, &jerr);
  CHECK(j && parse_value(j, true, &e, why, sizeof why));
  CHECK(e.val.of.i32 == 0xffffffffu);
  json_decref(j);
#undef CHECK
  printf("self-test: %s\n", bad ? "FAILED" : "ok");
  return bad ? 1 : 0;
}

/* ---- The spectest host module ---- */

static int spectest_print(tw_caller_t *caller, void *user,
                          const tw_val_t *args, tw_val_t *results) {
  (void)caller, (void)user, (void)args, (void)results;
  return 0;
}

static int define_spectest(tw_linker_t *lk, tw_store_t *store) {
  static const struct {
    const char *name;
    uint8_t n;
    uint8_t params[2];
  } funcs[] = {
      {"print", 0, {0}},
      {"print_i32", 1, {TW_I32}},
      {"print_i64", 1, {TW_I64}},
      {"print_f32", 1, {TW_F32}},
      {"print_f64", 1, {TW_F64}},
      {"print_i32_f32", 2, {TW_I32, TW_F32}},
      {"print_f64_f64", 2, {TW_F64, TW_F64}},
  };
  int rc;
  for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++) {
    tw_functype_t ft = {funcs[i].n, 0, funcs[i].params, NULL};
    rc = tw_linker_define_func(lk, "spectest", funcs[i].name, &ft,
                               spectest_print, NULL);
    if (rc)
      return rc;
  }
  float f32 = 666.6f;
  double f64 = 666.6;
  tw_val_t g[4] = {{.type = TW_I32}, {.type = TW_I64}, {.type = TW_F32},
                   {.type = TW_F64}};
  g[0].of.i32 = 666;
  g[1].of.i64 = 666;
  memcpy(&g[2].of.f32, &f32, sizeof f32);
  memcpy(&g[3].of.f64, &f64, sizeof f64);
  static const char *const gnames[4] = {"global_i32", "global_i64",
                                        "global_f32", "global_f64"};
  for (int i = 0; i < 4; i++)
    if ((rc = tw_linker_define_global(lk, store, "spectest", gnames[i], &g[i],
                                      false)))
      return rc;
  if ((rc = tw_linker_define_table(lk, store, "spectest", "table",
                                   TW_FUNCREF, 10, 20, true)))
    return rc;
  return tw_linker_define_memory(lk, store, "spectest", "memory", 1, 2, true);
}

/* ---- Running one file ---- */

struct named {
  char *name;
  tw_instance_t *inst; /* NULL if that module failed */
};

struct file_ctx {
  const char *dir;
  const char *name;   /* file name without .json */
  const char *source; /* NAME.wast, for messages */
  bool simd;
  FILE *out;          /* failure details (-v) */
  struct file_result *res;
  tw_engine_t *engine;
  tw_store_t *store;
  tw_linker_t *linker;
  tw_instance_t *current;
  bool current_failed; /* the last module command failed */
  struct named *names;
  size_t nnames, cap_names;
  tw_module_t **mods;
  size_t nmods, cap_mods;
  int line;
  const char *cmd;
};

static void fail(struct file_ctx *fc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Counts a failure and, with -v, says why. */
static void fail(struct file_ctx *fc, const char *fmt, ...) {
  fc->res->failed++;
  if (!opt.verbose)
    return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(fc->out, "  FAIL %s:%d %s: ", fc->source, fc->line, fc->cmd);
  vfprintf(fc->out, fmt, ap);
  fputc('\n', fc->out);
  fflush(fc->out); /* keep the details if a later command crashes */
  va_end(ap);
}

static void warn(struct file_ctx *fc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void warn(struct file_ctx *fc, const char *fmt, ...) {
  if (!opt.verbose)
    return;
  va_list ap;
  va_start(ap, fmt);
  fprintf(fc->out, "  warn %s:%d %s: ", fc->source, fc->line, fc->cmd);
  vfprintf(fc->out, fmt, ap);
  fputc('\n', fc->out);
  fflush(fc->out); /* keep the details if a later command crashes */
  va_end(ap);
}

static bool grow(void **p, size_t *cap, size_t n, size_t elem) {
  if (n < *cap)
    return true;
  size_t nc = *cap ? *cap * 2 : 16;
  void *q = realloc(*p, nc * elem);
  if (!q)
    return false;
  *p = q;
  *cap = nc;
  return true;
}

/* Reads DIR/filename and compiles it. On success the module is kept until
 * the file ends (instances may refer to it). */
static int load_module(struct file_ctx *fc, json_t *cmd, tw_module_t **out,
                       char *err, size_t errlen) {
  *out = NULL;
  const char *fn = json_string_value(json_object_get(cmd, "filename"));
  if (!fn || strchr(fn, '/')) {
    snprintf(err, errlen, "harness: bad or missing filename");
    return TW_EINVAL;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", fc->dir, fn);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(err, errlen, "harness: cannot open %.300s: %s", path,
             strerror(errno));
    return TW_EIO;
  }
  uint8_t *buf = NULL;
  size_t len = 0, cap = 0;
  int rc = 0;
  for (;;) {
    if (len == cap) {
      if (cap >= MAX_MODULE_BYTES) {
        snprintf(err, errlen, "harness: %s is too large", fn);
        rc = TW_ELIMIT;
        break;
      }
      cap = cap ? cap * 2 : 4096;
      uint8_t *nb = realloc(buf, cap);
      if (!nb) {
        rc = TW_ENOMEM;
        snprintf(err, errlen, "harness: out of memory");
        break;
      }
      buf = nb;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0)
      break;
  }
  if (!rc && ferror(f)) {
    snprintf(err, errlen, "harness: cannot read %.300s", path);
    rc = TW_EIO;
  }
  fclose(f);
  /* A .wat (module_type "text") goes through the WAT front end first,
   * exactly as the CLI would take it. */
  size_t fnlen = strlen(fn);
  if (!rc && fnlen > 4 && strcmp(fn + fnlen - 4, ".wat") == 0) {
    uint8_t *bin = NULL;
    size_t binlen = 0;
    rc = tw_wat_to_wasm((const char *)buf, len, &bin, &binlen, err, errlen);
    if (rc == 0) {
      free(buf);
      buf = malloc(binlen ? binlen : 1);
      if (!buf) {
        tw_free(bin);
        snprintf(err, errlen, "harness: out of memory");
        return TW_ENOMEM;
      }
      memcpy(buf, bin, binlen);
      len = binlen;
      tw_free(bin);
    }
  }
  if (!rc) {
    err[0] = '\0';
    rc = tw_module_new(fc->engine, buf, len, out, err, errlen);
    if (rc && !err[0])
      snprintf(err, errlen, "%s", tw_strerror(rc));
    /* --tier 1 tests tier-1 code: a module left on tier 0 (compiler
     * missing or failing) is a failure, not a silent pass. */
    if (rc == 0 && opt.tier == TW_TIER_1 && tw_module_tier(*out) != 1) {
      tw_module_free(*out);
      *out = NULL;
      snprintf(err, errlen, "harness: no tier-1 code for this module");
      rc = TW_ECOMPILE;
    }
  }
  free(buf);
  if (rc == 0) {
    if (!grow((void **)&fc->mods, &fc->cap_mods, fc->nmods, sizeof *fc->mods)) {
      tw_module_free(*out);
      *out = NULL;
      snprintf(err, errlen, "harness: out of memory");
      return TW_ENOMEM;
    }
    fc->mods[fc->nmods++] = *out;
  }
  return rc;
}

static int instantiate(struct file_ctx *fc, tw_module_t *m,
                       tw_instance_t **out, char *err, size_t errlen) {
  err[0] = '\0';
  int rc = tw_instance_new(fc->store, m, fc->linker, out, err, errlen);
  if (rc && !err[0])
    snprintf(err, errlen, "%s", tw_strerror(rc));
  return rc;
}

/* Finds a named module; later definitions shadow earlier ones. */
static struct named *find_named(struct file_ctx *fc, const char *name) {
  for (size_t i = fc->nnames; i-- > 0;)
    if (strcmp(fc->names[i].name, name) == 0)
      return &fc->names[i];
  return NULL;
}

static int resolve_instance(struct file_ctx *fc, const char *name,
                            tw_instance_t **out, char *err, size_t errlen) {
  if (name) {
    struct named *nm = find_named(fc, name);
    if (!nm) {
      snprintf(err, errlen, "unknown module %s", name);
      return TW_ENOTFOUND;
    }
    if (!nm->inst) {
      snprintf(err, errlen, "module %s failed to load", name);
      return TW_ENOTFOUND;
    }
    *out = nm->inst;
    return 0;
  }
  if (!fc->current) {
    snprintf(err, errlen, fc->current_failed ? "current module failed to load"
                                             : "no current module");
    return TW_ENOTFOUND;
  }
  *out = fc->current;
  return 0;
}

/* The outcome of an action: rc is 0 or a TW_E* code (TW_ETRAP with the
 * store's trap info). results are owned by the caller (free). */
struct outcome {
  int rc;
  tw_val_t *results;
  size_t nresults;
  char err[512];
};

static void run_action(struct file_ctx *fc, json_t *act, struct outcome *o) {
  memset(o, 0, sizeof *o);
  const char *type = json_string_value(json_object_get(act, "type"));
  json_t *jfield = json_object_get(act, "field");
  const char *field = json_string_value(jfield);
  const char *modname = json_string_value(json_object_get(act, "module"));
  tw_instance_t *inst = NULL;
  if (!type || !field) {
    o->rc = TW_EINVAL;
    snprintf(o->err, sizeof o->err, "harness: malformed action");
    return;
  }
  size_t field_len = json_string_length(jfield); /* may contain NUL */
  if ((o->rc = resolve_instance(fc, modname, &inst, o->err, sizeof o->err)))
    return;
  if (strcmp(type, "get") == 0) {
    o->results = calloc(1, sizeof *o->results);
    if (!o->results) {
      o->rc = TW_ENOMEM;
      return;
    }
    o->rc = tw_instance_global_get_n(inst, field, field_len, o->results);
    if (o->rc)
      snprintf(o->err, sizeof o->err, "global_get: %s", tw_strerror(o->rc));
    else
      o->nresults = 1;
    return;
  }
  if (strcmp(type, "invoke") != 0) {
    o->rc = TW_EINVAL;
    snprintf(o->err, sizeof o->err, "harness: unknown action %s", type);
    return;
  }
  json_t *jargs = json_object_get(act, "args");
  size_t nargs = json_array_size(jargs);
  tw_val_t *args = calloc(nargs ? nargs : 1, sizeof *args);
  tw_functype_t ft;
  if (!args) {
    o->rc = TW_ENOMEM;
    return;
  }
  for (size_t i = 0; i < nargs; i++) {
    struct expect e;
    if (!parse_value(json_array_get(jargs, i), false, &e, o->err,
                     sizeof o->err)) {
      o->rc = TW_EINVAL;
      goto done;
    }
    args[i] = e.val;
  }
  o->rc = tw_module_export_functype_n(tw_instance_module(inst), field,
                                      field_len, &ft);
  if (o->rc) {
    snprintf(o->err, sizeof o->err, "no function export \"%s\": %s", field,
             tw_strerror(o->rc));
    goto done;
  }
  if (ft.nresults > MAX_RESULTS) {
    o->rc = TW_ELIMIT;
    snprintf(o->err, sizeof o->err, "%" PRIu32 " results", ft.nresults);
    goto done;
  }
  o->results = calloc(ft.nresults ? ft.nresults : 1, sizeof *o->results);
  if (!o->results) {
    o->rc = TW_ENOMEM;
    goto done;
  }
  o->nresults = ft.nresults;
  o->rc = tw_instance_call_n(inst, field, field_len, args, nargs, o->results,
                             o->nresults, o->err, sizeof o->err);
  if (o->rc == TW_ETRAP || o->rc == TW_EEXIT) {
    tw_trap_info_t ti;
    tw_store_last_trap(fc->store, &ti);
    snprintf(o->err, sizeof o->err, "%s", ti.message);
  } else if (o->rc && !o->err[0]) {
    snprintf(o->err, sizeof o->err, "%s", tw_strerror(o->rc));
  }
done:
  free(args);
}

static void outcome_free(struct outcome *o) { free(o->results); }

static void cmd_module(struct file_ctx *fc, json_t *cmd) {
  const char *name = json_string_value(json_object_get(cmd, "name"));
  char err[512];
  tw_module_t *m;
  tw_instance_t *inst = NULL;
  int rc = load_module(fc, cmd, &m, err, sizeof err);
  if (rc)
    fail(fc, "module rejected (%s): %s", tw_strerror(rc), err);
  else if ((rc = instantiate(fc, m, &inst, err, sizeof err)))
    fail(fc, "instantiation failed (%s): %s", tw_strerror(rc), err);
  else
    fc->res->passed++;
  fc->current = inst;
  fc->current_failed = inst == NULL;
  if (name) {
    char *copy = strdup(name);
    if (!copy ||
        !grow((void **)&fc->names, &fc->cap_names, fc->nnames, sizeof *fc->names)) {
      free(copy);
      return;
    }
    fc->names[fc->nnames++] = (struct named){copy, inst};
  }
}

static void cmd_register(struct file_ctx *fc, json_t *cmd) {
  const char *as = json_string_value(json_object_get(cmd, "as"));
  const char *name = json_string_value(json_object_get(cmd, "name"));
  char err[256];
  tw_instance_t *inst;
  if (!as) {
    fail(fc, "harness: register without \"as\"");
    return;
  }
  if (resolve_instance(fc, name, &inst, err, sizeof err)) {
    fail(fc, "%s", err);
    return;
  }
  int rc = tw_linker_define_instance(fc->linker, as, inst);
  if (rc)
    fail(fc, "register as \"%s\": %s", as, tw_strerror(rc));
  else
    fc->res->passed++;
}

static void describe_action(char *buf, size_t n, json_t *act) {
  const char *field = json_string_value(json_object_get(act, "field"));
  const char *mod = json_string_value(json_object_get(act, "module"));
  snprintf(buf, n, "%s%s\"%s\"", mod ? mod : "", mod ? "." : "",
           field ? field : "?");
}

static void cmd_action(struct file_ctx *fc, json_t *cmd) {
  struct outcome o;
  char what[160];
  json_t *act = json_object_get(cmd, "action");
  describe_action(what, sizeof what, act);
  run_action(fc, act, &o);
  if (o.rc)
    fail(fc, "%s: %s: %s", what, tw_strerror(o.rc), o.err);
  else
    fc->res->passed++;
  outcome_free(&o);
}

static void cmd_assert_return(struct file_ctx *fc, json_t *cmd) {
  struct outcome o;
  char what[160], why[256];
  json_t *act = json_object_get(cmd, "action");
  json_t *exp = json_object_get(cmd, "expected");
  describe_action(what, sizeof what, act);
  run_action(fc, act, &o);
  if (o.rc) {
    fail(fc, "%s: %s: %s", what, tw_strerror(o.rc), o.err);
    goto out;
  }
  if (json_array_size(exp) != o.nresults) {
    fail(fc, "%s: %zu results, expected %zu", what, o.nresults,
         json_array_size(exp));
    goto out;
  }
  for (size_t i = 0; i < o.nresults; i++) {
    struct expect e;
    if (!parse_value(json_array_get(exp, i), true, &e, why, sizeof why)) {
      fail(fc, "%s: harness: %s", what, why);
      goto out;
    }
    if (!match_value(&o.results[i], &e)) {
      char want[400], got[400];
      format_value(want, sizeof want, &e.val, &e);
      format_value(got, sizeof got, &o.results[i], e.shape ? &e : NULL);
      fail(fc, "%s: result %zu: expected %s, got %s", what, i, want, got);
      goto out;
    }
  }
  fc->res->passed++;
out:
  outcome_free(&o);
}

/* assert_trap and assert_exhaustion: the call must trap (for exhaustion,
 * with TW_TRAP_STACK_EXHAUSTED). The message is only a hint. */
static void cmd_assert_trap(struct file_ctx *fc, json_t *cmd, bool exhaustion) {
  struct outcome o;
  char what[160];
  json_t *act = json_object_get(cmd, "action");
  const char *text = json_string_value(json_object_get(cmd, "text"));
  describe_action(what, sizeof what, act);
  run_action(fc, act, &o);
  if (o.rc != TW_ETRAP) {
    if (o.rc == 0)
      fail(fc, "%s: returned normally, expected trap \"%s\"", what,
           text ? text : "");
    else
      fail(fc, "%s: %s: %s (expected trap \"%s\")", what, tw_strerror(o.rc),
           o.err, text ? text : "");
    goto out;
  }
  tw_trap_info_t ti;
  tw_store_last_trap(fc->store, &ti);
  if (exhaustion && ti.kind != TW_TRAP_STACK_EXHAUSTED) {
    fail(fc, "%s: trapped with \"%s\", expected stack exhaustion", what,
         ti.message);
    goto out;
  }
  if (text && strncmp(ti.message, text, strlen(text)) != 0)
    warn(fc, "%s: trap message \"%s\", expected \"%s\"", what, ti.message,
         text);
  fc->res->passed++;
out:
  outcome_free(&o);
}

/* assert_invalid and assert_malformed: tw_module_new must refuse it, as
 * malformed or invalid (either passes; a mix-up is a -v warning, since
 * the two overlap at the edges of the binary format). */
static void cmd_assert_rejected(struct file_ctx *fc, json_t *cmd,
                                bool malformed) {
  const char *mt = json_string_value(json_object_get(cmd, "module_type"));
  const char *text = json_string_value(json_object_get(cmd, "text"));
  (void)mt; /* text modules go through tw_wat_to_wasm in load_module */
  if (fc->simd)
    fc->res->vm_total++;
  char err[512];
  tw_module_t *m;
  int rc = load_module(fc, cmd, &m, err, sizeof err);
  if (rc == 0) {
    fail(fc, "module accepted, expected %s \"%s\"",
         malformed ? "malformed" : "invalid", text ? text : "");
    return;
  }
  if (rc == TW_EIO || (strncmp(err, "harness:", 8) == 0)) {
    fail(fc, "%s", err);
    return;
  }
  /* Only the decoder and validator may give the verdict: a module refused
   * by code generation (TW_ECOMPILE, TW_EUNSUPPORTED) or for lack of
   * memory was not judged invalid, so that is no pass. */
  if (rc != TW_EMALFORMED && rc != TW_EINVALID && rc != TW_ELIMIT) {
    fail(fc, "rejected as %s (%s), expected %s \"%s\"", tw_strerror(rc), err,
         malformed ? "malformed" : "invalid", text ? text : "");
    return;
  }
  int want = malformed ? TW_EMALFORMED : TW_EINVALID;
  if (rc != want)
    warn(fc, "rejected as %s (%s), expected %s \"%s\"", tw_strerror(rc), err,
         tw_strerror(want), text ? text : "");
  fc->res->passed++;
  if (fc->simd)
    fc->res->vm_passed++;
}

/* assert_unlinkable (any instantiation failure passes; TW_EUNLINKABLE is
 * the expected one) and assert_uninstantiable (must be TW_ETRAP). */
static void cmd_assert_no_instance(struct file_ctx *fc, json_t *cmd,
                                   bool unlinkable) {
  const char *text = json_string_value(json_object_get(cmd, "text"));
  char err[512];
  tw_module_t *m;
  tw_instance_t *inst;
  int rc = load_module(fc, cmd, &m, err, sizeof err);
  if (rc) {
    fail(fc, "module rejected (%s): %s", tw_strerror(rc), err);
    return;
  }
  rc = instantiate(fc, m, &inst, err, sizeof err);
  if (rc == 0) {
    fail(fc, "instantiated, expected \"%s\"", text ? text : "");
    return;
  }
  if (unlinkable) {
    if (rc != TW_EUNLINKABLE)
      warn(fc, "failed with %s (%s), expected unlinkable \"%s\"",
           tw_strerror(rc), err, text ? text : "");
  } else {
    if (rc != TW_ETRAP) {
      fail(fc, "failed with %s (%s), expected trap \"%s\"", tw_strerror(rc),
           err, text ? text : "");
      return;
    }
    tw_trap_info_t ti;
    tw_store_last_trap(fc->store, &ti);
    if (text && strncmp(ti.message, text, strlen(text)) != 0)
      warn(fc, "trap message \"%s\", expected \"%s\"", ti.message, text);
  }
  fc->res->passed++;
}

static void run_command(struct file_ctx *fc, json_t *cmd) {
  const char *type = json_string_value(json_object_get(cmd, "type"));
  json_int_t line = json_integer_value(json_object_get(cmd, "line"));
  fc->line = (int)line;
  fc->cmd = type ? type : "?";
  fc->res->line = fc->line;
  snprintf(fc->res->cmd, sizeof fc->res->cmd, "%s", fc->cmd);
  if (opt.verbose) {
    char what[160] = "";
    json_t *act = json_object_get(cmd, "action");
    if (act)
      describe_action(what, sizeof what, act);
    else if (json_object_get(cmd, "filename"))
      snprintf(what, sizeof what, "%s",
               json_string_value(json_object_get(cmd, "filename")));
    fprintf(stderr, "[%s:%d] %s %s\n", fc->source, fc->line, fc->cmd, what);
    fflush(stderr);
  }
  if (!type)
    fail(fc, "harness: command without a type");
  else if (strcmp(type, "module") == 0)
    cmd_module(fc, cmd);
  else if (strcmp(type, "register") == 0)
    cmd_register(fc, cmd);
  else if (strcmp(type, "action") == 0)
    cmd_action(fc, cmd);
  else if (strcmp(type, "assert_return") == 0)
    cmd_assert_return(fc, cmd);
  else if (strcmp(type, "assert_trap") == 0)
    cmd_assert_trap(fc, cmd, false);
  else if (strcmp(type, "assert_exhaustion") == 0)
    cmd_assert_trap(fc, cmd, true);
  else if (strcmp(type, "assert_invalid") == 0)
    cmd_assert_rejected(fc, cmd, false);
  else if (strcmp(type, "assert_malformed") == 0)
    cmd_assert_rejected(fc, cmd, true);
  else if (strcmp(type, "assert_unlinkable") == 0)
    cmd_assert_no_instance(fc, cmd, true);
  else if (strcmp(type, "assert_uninstantiable") == 0)
    cmd_assert_no_instance(fc, cmd, false);
  else
    fail(fc, "harness: unknown command type");
}

/* Runs DIR/NAME.json in a fresh store and fills *res; details go to out. */
static void run_file(tw_engine_t *engine, const char *dir, const char *name,
                     struct file_result *res, FILE *out) {
  char path[4096], source[300];
  json_error_t jerr;
  struct file_ctx fc = {.dir = dir, .name = name, .source = source,
                        .simd = strncmp(name, "simd_", 5) == 0, .out = out,
                        .res = res, .engine = engine};
  snprintf(path, sizeof path, "%s/%s.json", dir, name);
  snprintf(source, sizeof source, "%s.wast", name);
  /* names.wast has an export name with a NUL byte: allow it in strings. */
  json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
  json_t *cmds = json_object_get(root, "commands");
  if (!json_is_array(cmds)) {
    res->status = FILE_BAD_JSON;
    res->failed++;
    fprintf(out, "  FAIL %s: cannot read: %s (line %d)\n", path,
            root ? "no \"commands\" array" : jerr.text, jerr.line);
    json_decref(root);
    return;
  }
  const char *src = json_string_value(json_object_get(root, "source_filename"));
  if (src)
    snprintf(source, sizeof source, "%s", src);
  int rc = tw_store_new(engine, &fc.store);
  if (rc == 0 && (rc = tw_linker_new(engine, &fc.linker)) != 0) {
    tw_store_free(fc.store);
    fc.store = NULL;
  }
  if (rc == 0 && (rc = define_spectest(fc.linker, fc.store)) != 0)
    fprintf(out, "  warn %s: defining spectest: %s\n", source,
            tw_strerror(rc));
  if (!fc.store) {
    res->status = FILE_NO_ENGINE;
    res->failed++;
    fprintf(out, "  FAIL %s: cannot create a store or linker: %s\n", source,
            tw_strerror(rc));
    json_decref(root);
    return;
  }
  size_t i;
  json_t *cmd;
  json_array_foreach(cmds, i, cmd) run_command(&fc, cmd);

  tw_linker_free(fc.linker);
  tw_store_free(fc.store);
  for (size_t k = 0; k < fc.nmods; k++)
    tw_module_free(fc.mods[k]);
  free(fc.mods);
  for (size_t k = 0; k < fc.nnames; k++)
    free(fc.names[k].name);
  free(fc.names);
  json_decref(root);
}

/* ---- Driver ---- */

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int json_file_filter(const struct dirent *d) {
  size_t n = strlen(d->d_name);
  if (n <= 5 || strcmp(d->d_name + n - 5, ".json") != 0)
    return 0;
  return !opt.filter || strstr(d->d_name, opt.filter) != NULL;
}

struct baseline_entry {
  char name[256];
  long passed;
};

/* Reads "NAME PASSED" lines; '#' starts a comment. A missing file is an
 * empty baseline (everything must pass). Returns -1 on a bad line. */
static long read_baseline(const char *path, struct baseline_entry **out) {
  *out = NULL;
  FILE *f = fopen(path, "r");
  if (!f)
    return 0;
  char line[512];
  long n = 0, lineno = 0;
  size_t cap = 0;
  while (fgets(line, sizeof line, f)) {
    lineno++;
    char name[256];
    long passed;
    char *hash = strchr(line, '#');
    if (hash)
      *hash = '\0';
    if (strspn(line, " \t\r\n") == strlen(line))
      continue;
    if (sscanf(line, "%255s %ld", name, &passed) != 2 || passed < 0) {
      fprintf(stderr, "%s:%ld: expected \"NAME PASSED\"\n", path, lineno);
      fclose(f);
      free(*out);
      *out = NULL;
      return -1;
    }
    if (!grow((void **)out, &cap, (size_t)n, sizeof **out)) {
      fclose(f);
      free(*out);
      *out = NULL;
      return -1;
    }
    snprintf((*out)[n].name, sizeof (*out)[n].name, "%s", name);
    (*out)[n].passed = passed;
    n++;
  }
  fclose(f);
  return n;
}

/* Copies everything in fd (from its start) to stdout. */
static void dump_fd(int fd) {
  char buf[8192];
  ssize_t n;
  if (lseek(fd, 0, SEEK_SET) < 0)
    return;
  while ((n = read(fd, buf, sizeof buf)) > 0)
    fwrite(buf, 1, (size_t)n, stdout);
}

static void print_result(const char *name, const struct file_result *r,
                         int outfd) {
  long total = r->passed + r->failed + r->skipped;
  printf("%s: passed %ld / %ld (failed %ld, skipped %ld)", name, r->passed,
         total, r->failed, r->skipped);
  if (opt.verbose)
    printf(" [%.0f ms]", r->ms);
  printf("\n");
  if (r->status == FILE_CRASHED) {
    if (r->signal == SIGALRM)
      printf("  CRASH: timed out after %u s while running line %d (%s)\n",
             opt.timeout, r->line, r->cmd);
    else if (r->signal)
      printf("  CRASH: killed by signal %d (%s) while running line %d (%s)\n",
             r->signal, strsignal(r->signal), r->line, r->cmd);
    else
      printf("  CRASH: child exited abnormally while running line %d (%s)\n",
             r->line, r->cmd);
  }
  fflush(stdout);
  if (outfd >= 0)
    dump_fd(outfd);
  fflush(stdout);
}

static tw_engine_t *make_engine(void) {
  tw_engine_t *engine = NULL;
  tw_engine_config_t cfg;
  tw_engine_config_default(&cfg);
  cfg.tier = (tw_tier_t)opt.tier;
  if (opt.cache_dir)
    cfg.cache_dir = opt.cache_dir;
  int rc = tw_engine_new(&cfg, &engine);
  if (rc) {
    fprintf(stderr, "spec_runner: tw_engine_new: %s\n", tw_strerror(rc));
    return NULL;
  }
  return engine;
}

/* Runs file i in a child that writes details to outfd and counts into the
 * shared *res. Returns the child's pid, or -1. */
static pid_t start_child(const char *name, struct file_result *res, int outfd) {
  fflush(stdout);
  fflush(stderr);
  pid_t pid = fork();
  if (pid != 0)
    return pid;
  if (opt.timeout)
    alarm(opt.timeout);
  FILE *out = fdopen(outfd, "w");
  if (!out)
    _exit(3);
  double t0 = now_ms();
  tw_engine_t *engine = make_engine();
  if (!engine) {
    res->status = FILE_NO_ENGINE;
    res->failed++;
  } else {
    run_file(engine, opt.dir, name, res, out);
    tw_engine_free(engine);
  }
  res->ms = now_ms() - t0;
  res->done = true;
  fclose(out);
  _exit(0);
}

static void usage(FILE *f) {
  fprintf(f,
          "usage: spec_runner --dir DIR [--baseline FILE] "
          "[--write-baseline FILE]\n"
          "                   [--filter SUBSTR] [-v] [-j N] [--no-fork] "
          "[--timeout S]\n"
          "                   [--tier 0|1|auto] [--cache-dir DIR]\n"
          "       spec_runner --self-test\n"
          "Runs every *.json (wast2json output) in DIR. Exit status: 0 when "
          "every file\n"
          "passes at least its baseline count (files without a line must "
          "have no\n"
          "failures), 1 otherwise, 77 when DIR does not exist.\n");
}

static int parse_args(int argc, char **argv) {
  long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
  opt.fork_files = true;
  opt.jobs = ncpu >= 2 ? 2 : 1;
  opt.timeout = 600;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define TAKES(flag) (strcmp(a, flag) == 0 && (val ? (i++, true) : false))
    if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0)
      opt.verbose = true;
    else if (strcmp(a, "--no-fork") == 0)
      opt.fork_files = false;
    else if (strcmp(a, "--self-test") == 0)
      return 2;
    else if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)
      return 3;
    else if (TAKES("--dir"))
      opt.dir = val;
    else if (TAKES("--baseline"))
      opt.baseline = val;
    else if (TAKES("--write-baseline"))
      opt.write_baseline = val;
    else if (TAKES("--filter"))
      opt.filter = val;
    else if (TAKES("-j") || TAKES("--jobs")) {
      opt.jobs = atoi(val);
      if (opt.jobs < 1)
        opt.jobs = 1;
    } else if (TAKES("--timeout"))
      opt.timeout = (unsigned)atoi(val);
    else if (TAKES("--tier")) {
      if (strcmp(val, "0") == 0)
        opt.tier = TW_TIER_0;
      else if (strcmp(val, "1") == 0)
        opt.tier = TW_TIER_1;
      else if (strcmp(val, "auto") == 0)
        opt.tier = TW_TIER_AUTO;
      else {
        fprintf(stderr, "spec_runner: --tier expects 0, 1 or auto\n");
        return 1;
      }
    } else if (TAKES("--cache-dir"))
      opt.cache_dir = val;
    else {
      fprintf(stderr, "spec_runner: bad argument %s\n", a);
      return 1;
    }
#undef TAKES
  }
  if (!opt.dir) {
    fprintf(stderr, "spec_runner: --dir is required\n");
    return 1;
  }
  return 0;
}

/* The files to run: the .json files in DIR that match --filter, sorted,
 * without their suffix. Returns their count, or -1. */
static int list_files(char ***out) {
  struct dirent **ents;
  int n = scandir(opt.dir, &ents, json_file_filter, alphasort);
  if (n < 0) {
    fprintf(stderr, "spec_runner: cannot list %s: %s\n", opt.dir,
            strerror(errno));
    return -1;
  }
  char **names = calloc((size_t)n + 1, sizeof *names);
  for (int i = 0; i < n; i++) {
    if (names)
      names[i] = strndup(ents[i]->d_name, strlen(ents[i]->d_name) - 5);
    if (names && !names[i]) {
      for (int k = 0; k < i; k++)
        free(names[k]);
      free(names);
      names = NULL;
    }
    free(ents[i]);
  }
  free(ents);
  *out = names;
  return names ? n : -1;
}

/* Runs every file in this process with one engine (for debuggers). */
static int run_in_process(char **names, int n, struct file_result *res) {
  tw_engine_t *engine = make_engine();
  if (!engine)
    return -1;
  for (int i = 0; i < n; i++) {
    FILE *tmp = tmpfile();
    double t1 = now_ms();
    run_file(engine, opt.dir, names[i], &res[i], tmp ? tmp : stdout);
    res[i].ms = now_ms() - t1;
    res[i].done = true;
    if (tmp)
      fflush(tmp);
    print_result(names[i], &res[i], tmp ? fileno(tmp) : -1);
    if (tmp)
      fclose(tmp);
  }
  tw_engine_free(engine);
  return 0;
}

/* Runs up to opt.jobs files at once, one child each, and prints results
 * in file order as they complete. */
static int run_forked(char **names, int n, struct file_result *res) {
  int *outfds = calloc((size_t)n + 1, sizeof *outfds);
  pid_t *pids = calloc((size_t)n + 1, sizeof *pids);
  int next_start = 0, next_print = 0, running = 0;
  if (!outfds || !pids) {
    free(outfds);
    free(pids);
    return -1;
  }
  while (next_print < n) {
    while (running < opt.jobs && next_start < n) {
      int i = next_start++;
      FILE *tmp = tmpfile();
      outfds[i] = tmp ? dup(fileno(tmp)) : -1;
      if (tmp)
        fclose(tmp);
      pids[i] = outfds[i] >= 0 ? start_child(names[i], &res[i], outfds[i]) : -1;
      if (pids[i] < 0) {
        fprintf(stderr, "spec_runner: cannot start a child for %s\n",
                names[i]);
        res[i].status = FILE_CRASHED;
        res[i].failed++;
        res[i].done = true;
      } else {
        running++;
      }
    }
    int wst = 0;
    pid_t pid = running ? waitpid(-1, &wst, 0) : 0;
    if (pid < 0 && errno == EINTR)
      continue;
    for (int i = 0; pid > 0 && i < n; i++) {
      if (pids[i] != pid)
        continue;
      running--;
      pids[i] = 0;
      if (!WIFEXITED(wst) || WEXITSTATUS(wst) != 0 || !res[i].done) {
        res[i].status = FILE_CRASHED;
        res[i].signal = WIFSIGNALED(wst) ? WTERMSIG(wst) : 0;
        res[i].failed++; /* the command that crashed */
      }
      res[i].done = true;
    }
    if (pid < 0) /* none of our children is left: never wait forever */
      for (int i = next_print; i < next_start; i++)
        res[i].done = true;
    while (next_print < n && res[next_print].done) {
      print_result(names[next_print], &res[next_print], outfds[next_print]);
      if (outfds[next_print] >= 0)
        close(outfds[next_print]);
      next_print++;
    }
  }
  free(outfds);
  free(pids);
  return 0;
}

static void print_totals(char **names, int n, const struct file_result *res,
                         double wall_ms) {
  long tp = 0, tf = 0, ts = 0, vmp = 0, vmt = 0;
  long cp[2] = {0, 0}, cf[2] = {0, 0}, cs[2] = {0, 0};
  int files_full[2] = {0, 0}, files[2] = {0, 0};
  for (int i = 0; i < n; i++) {
    const struct file_result *r = &res[i];
    int simd = strncmp(names[i], "simd_", 5) == 0;
    tp += r->passed, tf += r->failed, ts += r->skipped;
    cp[simd] += r->passed, cf[simd] += r->failed, cs[simd] += r->skipped;
    vmp += r->vm_passed, vmt += r->vm_total;
    files[simd]++;
    files_full[simd] += r->failed == 0;
  }
  for (int simd = 0; simd < 2; simd++)
    printf("%s%ld passed, %ld failed, %ld skipped "
           "(%d of %d files without failures)\n",
           simd ? "SIMD:     " : "\nnon-SIMD: ", cp[simd], cf[simd], cs[simd],
           files_full[simd], files[simd]);
  printf("SIMD assert_invalid+assert_malformed (binary): %ld / %ld passed\n",
         vmp, vmt);
  printf("spec: %ld passed, %ld failed, %ld skipped in %d files, %.1f s\n", tp,
         tf, ts, n, wall_ms / 1e3);
  printf("%ld passed, %ld failed\n", tp, tf);
}

/* The regression gate: returns how many files fall short. */
static int check_gate(char **names, int n, const struct file_result *res,
                      const struct baseline_entry *base, long nbase) {
  int bad = 0;
  for (int i = 0; i < n; i++) {
    const struct file_result *r = &res[i];
    const struct baseline_entry *b = NULL;
    for (long k = 0; k < nbase; k++)
      if (strcmp(base[k].name, names[i]) == 0)
        b = &base[k];
    if (r->status == FILE_CRASHED) {
      printf("regression: %s crashed\n", names[i]);
      bad++;
    } else if (opt.write_baseline && !opt.baseline) {
      continue; /* writing a baseline: only crashes fail the run */
    } else if (b && r->passed < b->passed) {
      printf("regression: %s passed %ld, baseline %ld\n", names[i], r->passed,
             b->passed);
      bad++;
    } else if (!b && r->failed > 0) {
      printf("regression: %s has %ld failures and no baseline line\n",
             names[i], r->failed);
      bad++;
    } else if (b && r->passed > b->passed) {
      printf("improved: %s passed %ld, baseline %ld (raise its line)\n",
             names[i], r->passed, b->passed);
    }
  }
  return bad;
}

static int write_baseline(char **names, int n, const struct file_result *res) {
  FILE *f = fopen(opt.write_baseline, "w");
  if (!f) {
    fprintf(stderr, "spec_runner: cannot write %s: %s\n", opt.write_baseline,
            strerror(errno));
    return -1;
  }
  if (opt.filter)
    fprintf(stderr, "spec_runner: warning: baseline written with --filter "
                    "holds only the files that ran\n");
  fprintf(f, "# spec_runner baseline: NAME PASSED (commands that must "
             "keep passing).\n# Regenerate with spec_runner --dir DIR "
             "--write-baseline FILE.\n");
  for (int i = 0; i < n; i++)
    fprintf(f, "%s %ld\n", names[i], res[i].passed);
  if (fclose(f) != 0)
    return -1;
  printf("baseline written to %s\n", opt.write_baseline);
  return 0;
}

int main(int argc, char **argv) {
  int pa = parse_args(argc, argv);
  if (pa == 2)
    return self_test();
  if (pa == 3) {
    usage(stdout);
    return 0;
  }
  if (pa) {
    usage(stderr);
    return 2;
  }
  struct stat st;
  if (stat(opt.dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
    printf("spec conformance data not found at %s (set TW_CONFORMANCE_DIR)\n",
           opt.dir);
    return EXIT_SKIP;
  }
  struct baseline_entry *base = NULL;
  long nbase = 0;
  if (opt.baseline && (nbase = read_baseline(opt.baseline, &base)) < 0)
    return 2;
  char **names;
  int n = list_files(&names);
  if (n < 0) {
    free(base);
    return 2;
  }
  /* Shared with the children: counts survive a child's crash. */
  size_t res_bytes = ((size_t)n + 1) * sizeof(struct file_result);
  struct file_result *res = mmap(NULL, res_bytes, PROT_READ | PROT_WRITE,
                                 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  int status = 2;
  if (res == MAP_FAILED) {
    fprintf(stderr, "spec_runner: out of memory\n");
    goto out_names;
  }
  memset(res, 0, res_bytes);
  double t0 = now_ms();
  if ((opt.fork_files ? run_forked : run_in_process)(names, n, res) < 0)
    goto out_res;
  print_totals(names, n, res, now_ms() - t0);
  int bad = check_gate(names, n, res, base, nbase);
  if (opt.write_baseline && write_baseline(names, n, res) < 0)
    goto out_res;
  printf("%s\n", bad ? "spec gate: FAILED" : "spec gate: ok");
  status = bad ? 1 : 0;
out_res:
  munmap(res, res_bytes);
out_names:
  for (int i = 0; i < n; i++)
    free(names[i]);
  free(names);
  free(base);
  return status;
}
