/* One WebAssembly function body -> one C function.
 *
 * Stack to variables: walking the (validated) instructions with the shared
 * reader, we track the operand stack's types; the value at depth d of type
 * T lives in the C local s<d><suffix(T)>. A block's results (a loop's
 * params) therefore land in the slots starting at the block's base height,
 * and a branch copies its values there (ascending, which is safe because a
 * source is never below its destination) and jumps. Code after br, br_table,
 * return and unreachable is skipped up to the matching else/end. Locals are
 * l<k> (parameters first), zero-initialised.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen_int.h"
#include "rt/abi.h"

enum { CTL_FUNC, CTL_BLOCK, CTL_LOOP, CTL_IF };

/* One entry of the control stack. */
struct ctl {
  uint8_t kind;
  bool has_else;
  uint32_t label;
  uint32_t base; /* operand height below the block's params */
  uint32_t np, nr;
  const uint8_t *pt, *rt; /* param / result types (module- or static-owned) */
  /* Loops: where the header check ("TWR_POLL...;", poll_len bytes) is in
   * the body, and whether it can go (see loop_call). */
  size_t poll_pos, poll_len;
  bool poll_mem; /* the check reads m0_'s poll page */
  bool covered, tainted;
};

struct fstate {
  const struct tw__module *m;
  uint32_t funcidx; /* whole index space, for messages */
  struct tw__buf *b;
  const struct tw__functype *ft;
  uint8_t *ltypes; /* types of all locals, params first */
  uint32_t nlocals;
  uint8_t *types; /* operand stack types */
  uint8_t *used;  /* per depth: bit per slot type declared */
  /* Deferred pushes (see rd): per depth, what the slot would have been
   * assigned and was not yet: PEND_LOCAL (pv: its index) or an integer
   * constant (pv: its bits). */
  uint8_t *pk;
  uint64_t *pv;
  uint32_t npend;
  uint32_t height, cap;
  struct ctl *ctl;
  uint32_t nctl, ctlcap;
  uint32_t nlabels;
  uint32_t max_mr; /* largest multi-result call */
  bool has_call;   /* calls a function (call, call_indirect) */
  const uint8_t *calls; /* per defined function: it calls (see tw__cg_func) */
  bool uses_mem;   /* addresses memory 0 through m0_ */
  bool plain_mem;  /* tw__codegen_opts.plain_mem */
  uint32_t mem_polls; /* loop checks on m0_'s poll page that stay */
  /* Byte offsets of the loads that need no keep (tw__cg_covered_loads). */
  uint32_t *cov;
  uint32_t ncov;
  bool unreachable;
  uint32_t skip; /* nesting of blocks opened inside skipped code */
  char names[4][24];
  unsigned nameix;
  char *err;
  size_t errlen;
};

static const uint8_t k_valtypes[] = {TW_T_I32,  TW_T_I64,     TW_T_F32,
                                     TW_T_F64,  TW_T_V128,    TW_T_FUNCREF,
                                     TW_T_EXTERNREF};

const char *tw__cg_ctype(uint8_t t) {
  switch (t) {
  case TW_T_I32: return "twr_u32";
  case TW_T_I64: return "twr_u64";
  case TW_T_F32: return "float";
  case TW_T_F64: return "double";
  case TW_T_V128: return "twr_v128";
  default: return "void *";
  }
}

const char *tw__cg_field(uint8_t t) {
  switch (t) {
  case TW_T_I32: return "i32";
  case TW_T_I64: return "i64";
  case TW_T_F32: return "f32";
  case TW_T_F64: return "f64";
  case TW_T_V128: return "v128";
  default: return "ref";
  }
}

char tw__cg_suffix(uint8_t t) {
  switch (t) {
  case TW_T_I32: return 'i';
  case TW_T_I64: return 'l';
  case TW_T_F32: return 'f';
  case TW_T_F64: return 'd';
  case TW_T_V128: return 'v';
  default: return 'r';
  }
}

static unsigned type_bit(uint8_t t) {
  switch (t) {
  case TW_T_I32: return 1;
  case TW_T_I64: return 2;
  case TW_T_F32: return 4;
  case TW_T_F64: return 8;
  case TW_T_V128: return 16;
  default: return 32;
  }
}

static const uint8_t *one_type(uint8_t t) {
  for (size_t i = 0; i < sizeof k_valtypes; i++)
    if (k_valtypes[i] == t) return &k_valtypes[i];
  return &k_valtypes[0];
}

void tw__cg_signature(struct tw__buf *b, const struct tw__functype *ft,
                      const char *name, int with_names) {
  const uint8_t *rt = ft->types + ft->nparams;
  tw__buf_printf(b, "%s %s(struct twr_exec *%s, void *%s",
                 ft->nresults == 1 ? tw__cg_ctype(rt[0]) : "void", name,
                 with_names ? "x" : "", with_names ? "env" : "");
  for (uint32_t i = 0; i < ft->nparams; i++) {
    if (with_names)
      tw__buf_printf(b, ", %s l%" PRIu32, tw__cg_ctype(ft->types[i]), i);
    else
      tw__buf_printf(b, ", %s", tw__cg_ctype(ft->types[i]));
  }
  if (ft->nresults > 1) tw__buf_puts(b, with_names ? ", twr_val *ret" : ", twr_val *");
  tw__buf_puts(b, ")");
}

static char *fmt_u32(char *p, uint32_t v) {
  char tmp[10];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) *p++ = tmp[--n];
  return p;
}

/* ---- operand stack ---- */

static int fail(struct fstate *fs, int code, uint32_t off, const char *what) {
  return tw__err(code, fs->err, fs->errlen,
                 "codegen: function %" PRIu32 ", byte 0x%" PRIx32 ": %s",
                 fs->funcidx, off, what);
}

static int reserve(struct fstate *fs, uint32_t n) {
  if (n <= fs->cap) return 0;
  uint32_t ncap = fs->cap ? fs->cap : 64;
  while (ncap < n) {
    if (ncap > UINT32_MAX / 2) return TW_ELIMIT;
    ncap *= 2;
  }
  uint8_t *t = tw__realloc(fs->types, ncap);
  if (!t) return TW_ENOMEM;
  fs->types = t;
  uint8_t *u = tw__realloc(fs->used, ncap);
  if (!u) return TW_ENOMEM;
  memset(u + fs->cap, 0, ncap - fs->cap);
  fs->used = u;
  uint8_t *k = tw__realloc(fs->pk, ncap);
  if (!k) return TW_ENOMEM;
  memset(k + fs->cap, 0, ncap - fs->cap);
  fs->pk = k;
  uint64_t *v = tw__reallocarray(fs->pv, ncap, sizeof *v);
  if (!v) return TW_ENOMEM;
  fs->pv = v;
  fs->cap = ncap;
  return 0;
}

/* Name of the slot at depth d (which must hold a typed value); marks it
 * declared. Rotates among four buffers: at most four live at once. */
static const char *slot(struct fstate *fs, uint32_t d) {
  char *s = fs->names[fs->nameix++ & 3];
  fs->used[d] |= (uint8_t)type_bit(fs->types[d]);
  char *p = s;
  *p++ = 's';
  p = fmt_u32(p, d);
  *p++ = tw__cg_suffix(fs->types[d]);
  *p = 0;
  return s;
}

enum { PEND_NONE, PEND_LOCAL, PEND_I32, PEND_I64 };

/* Deferred values. local.get and i32/i64.const do not assign their slot;
 * the slot is marked pending, and the instructions that only read their
 * operands as expressions (numeric operators, loads, stores, local.set,
 * local.tee, drop) read the local or the literal in its place (rd). Every
 * other instruction first assigns all pending slots (flush_pending), so
 * labels, branches and calls see the slots as before. A local is written
 * only by local.set/tee, which first assigns the slots still pending on
 * it. Fewer statements: tcc's time is per statement. */
static const char *pend_name(struct fstate *fs, uint32_t d) {
  char *s = fs->names[fs->nameix++ & 3];
  char *p = s;
  uint64_t v = fs->pv[d];
  if (fs->pk[d] == PEND_LOCAL) {
    *p++ = 'l';
    p = fmt_u32(p, (uint32_t)v);
  } else if (fs->pk[d] == PEND_I32) {
    p = fmt_u32(p, (uint32_t)v);
    *p++ = 'u';
  } else {
    char tmp[20];
    int n = 0;
    do {
      tmp[n++] = (char)('0' + v % 10);
      v /= 10;
    } while (v);
    while (n) *p++ = tmp[--n];
    memcpy(p, "ull", 3);
    p += 3;
  }
  *p = 0;
  return s;
}

/* The value at depth d as an expression, for an instruction that
 * consumes it. */
static const char *rd(struct fstate *fs, uint32_t d) {
  if (!fs->pk[d]) return slot(fs, d);
  const char *s = pend_name(fs, d);
  fs->pk[d] = PEND_NONE;
  fs->npend--;
  return s;
}

static void put(struct fstate *fs, const char *str);

/* Assigns pending slots below the height; only those holding local
 * `only` if only != UINT32_MAX. */
static void flush_pending(struct fstate *fs, uint32_t only, uint32_t except) {
  for (uint32_t d = 0; d < fs->height && fs->npend; d++) {
    if (!fs->pk[d] || d == except) continue;
    if (only != UINT32_MAX &&
        !(fs->pk[d] == PEND_LOCAL && fs->pv[d] == only))
      continue;
    put(fs, slot(fs, d));
    put(fs, " = ");
    put(fs, rd(fs, d));
    put(fs, ";\n");
  }
}

static void set_pending(struct fstate *fs, uint32_t d, uint8_t k,
                        uint64_t v) {
  fs->pk[d] = k;
  fs->pv[d] = v;
  fs->npend++;
}

static int push(struct fstate *fs, uint8_t t, uint32_t *d) {
  int rc = reserve(fs, fs->height + 1);
  if (rc) return rc;
  if (fs->pk[fs->height]) {
    fs->pk[fs->height] = PEND_NONE;
    fs->npend--;
  }
  fs->types[fs->height] = t;
  *d = fs->height++;
  return 0;
}

/* Sets height to base + n with the given types (block end, else). */
static int set_stack(struct fstate *fs, uint32_t base, uint32_t n,
                     const uint8_t *t) {
  int rc = reserve(fs, base + n);
  if (rc) return rc;
  for (uint32_t i = 0; i < n; i++) fs->types[base + i] = t[i];
  fs->height = base + n;
  return 0;
}

static void out(struct fstate *fs, const char *fmt, ...) TW_PRINTF(2, 3);
static void out(struct fstate *fs, const char *fmt, ...) {
  va_list ap;
  char tmp[256];
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n < sizeof tmp) {
    tw__buf_append(fs->b, tmp, (size_t)n);
    return;
  }
  char *big = tw__malloc((size_t)n + 1);
  if (!big) {
    if (!fs->b->error) fs->b->error = TW_ENOMEM;
    return;
  }
  va_start(ap, fmt);
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  va_end(ap);
  tw__buf_append(fs->b, big, (size_t)n);
  tw__free(big);
}

/* Calls runtime service `service` (bulk memory and table operations) with
 * the instruction's index immediates, already formatted in `imms`, and the
 * top three operands, which it pops. */
static void rt_call3(struct fstate *fs, const char *service,
                     const char *imms) {
  uint32_t h = fs->height;
  out(fs, "x->rt->%s(x, in, %s, %s, %s, %s);\n", service, imms,
      slot(fs, h - 3), slot(fs, h - 2), slot(fs, h - 1));
  fs->height -= 3;
}

/* Hand-written formatting for the hot paths (printf dominated tier-0
 * code generation): decimal u32, names, fixed strings. */
static void put(struct fstate *fs, const char *str) { tw__buf_puts(fs->b, str); }

static void put_u(struct fstate *fs, uint32_t v) {
  char tmp[12];
  tw__buf_append(fs->b, tmp, (size_t)(fmt_u32(tmp, v) - tmp));
}

/* "<pre><v><post>" */
static void put3(struct fstate *fs, const char *pre, uint32_t v,
                 const char *post) {
  put(fs, pre);
  put_u(fs, v);
  put(fs, post);
}

static void copy_name(char *dst, size_t n, const char *src) {
  size_t len = strlen(src);
  if (len >= n) len = n - 1;
  memcpy(dst, src, len);
  dst[len] = 0;
}

/* "TWR_ADDR(<slot>, <off>u)" into dst (96 bytes); with plain, the same
 * address as "(m0_ + <slot> + <off>u)" (the 32-bit slot and offset add
 * to the pointer one at a time, so their sum does not wrap). */
static void addr_expr(char *dst, const char *slotname, uint32_t off,
                      bool plain) {
  char *p = dst;
  memcpy(p, plain ? "(m0_ + " : "TWR_ADDR(", plain ? 7 : 9);
  p += plain ? 7 : 9;
  size_t len = strlen(slotname);
  if (len > 40) len = 40;
  memcpy(p, slotname, len);
  p += len;
  if (!plain || off) {
    memcpy(p, plain ? " + " : ", ", plain ? 3 : 2);
    p += plain ? 3 : 2;
    p = fmt_u32(p, off);
    *p++ = 'u';
  }
  *p++ = ')';
  *p = 0;
}

/* ---- control ---- */

static void blocktype(const struct fstate *fs, const struct tw__instr *in,
                      struct ctl *c) {
  c->np = c->nr = 0;
  c->pt = c->rt = NULL;
  if (in->bt_kind == TW_BLOCK_VAL) {
    c->nr = 1;
    c->rt = one_type(in->bt_val);
  } else if (in->bt_kind == TW_BLOCK_TYPE) {
    const struct tw__functype *ft = &fs->m->types[in->idx];
    c->np = ft->nparams;
    c->nr = ft->nresults;
    c->pt = ft->types;
    c->rt = ft->types + ft->nparams;
  }
}

static int push_ctl(struct fstate *fs, const struct ctl *c) {
  if (fs->nctl == fs->ctlcap) {
    uint32_t ncap = fs->ctlcap ? fs->ctlcap * 2 : 16;
    struct ctl *n = tw__reallocarray(fs->ctl, ncap, sizeof *n);
    if (!n) return TW_ENOMEM;
    fs->ctl = n;
    fs->ctlcap = ncap;
  }
  fs->ctl[fs->nctl++] = *c;
  return 0;
}

/* Writes the function's return of the top nresults values. */
static void emit_return(struct fstate *fs) {
  uint32_t nr = fs->ft->nresults;
  uint32_t h = fs->height;
  if (nr == 0) {
    out(fs, "return;\n");
  } else if (nr == 1) {
    out(fs, "return %s;\n", slot(fs, h - 1));
  } else {
    for (uint32_t k = 0; k < nr; k++)
      out(fs, "ret[%" PRIu32 "].%s = %s;\n", k,
          tw__cg_field(fs->types[h - nr + k]), slot(fs, h - nr + k));
    out(fs, "return;\n");
  }
}

/* Branch to the label `depth` levels out: copy values, jump. */
static void emit_branch(struct fstate *fs, uint32_t depth) {
  struct ctl *c = &fs->ctl[fs->nctl - 1 - depth];
  if (c->kind == CTL_LOOP && !c->covered) c->tainted = true;
  if (c->kind == CTL_FUNC) {
    emit_return(fs);
    return;
  }
  uint32_t n = c->kind == CTL_LOOP ? c->np : c->nr;
  uint32_t h = fs->height;
  for (uint32_t k = 0; k < n; k++) {
    uint32_t src = h - n + k, dst = c->base + k;
    if (src == dst) continue;
    uint8_t save = fs->types[dst];
    /* The destination slot has the label's type; above the current
     * height (never: dst < src <= h) or below it the type matches. */
    fs->types[dst] = fs->types[src];
    put(fs, slot(fs, dst));
    put(fs, " = ");
    put(fs, slot(fs, src));
    put(fs, ";\n");
    fs->types[dst] = save;
  }
  put3(fs, "goto L", c->label, ";\n");
}

/* A loop needs no check at its header when every iteration calls a
 * function that checks at its entry (tw__cg_func: every function that
 * calls does, and that check also fails once the call is stopped): a
 * direct call as an instruction of the loop's own body (not nested in a
 * block of it), with no branch back to the header before it. Every path
 * from the header to a branch back then runs the call: the loop's own
 * instructions run in order, and the branches come after the call. The
 * header check is blanked when the loop ends (it was emitted first). */
static void loop_call(struct fstate *fs, uint32_t defidx) {
  struct ctl *c = &fs->ctl[fs->nctl - 1];
  if (c->kind == CTL_LOOP && !c->tainted && fs->calls && fs->calls[defidx])
    c->covered = true;
}

/* ---- calls ---- */

/* Emits a call with expression head `callee` ("f3(" or "((twm_sig2)F_->fn)(")
 * and environment `envx`, consuming params and pushing results. */
static int emit_call(struct fstate *fs, uint32_t typeidx, const char *callee,
                     const char *envx) {
  const struct tw__functype *ft = &fs->m->types[typeidx];
  uint32_t np = ft->nparams, nr = ft->nresults;
  const uint8_t *rt = ft->types + np;
  if (fs->height < np) return TW_EINVALID;
  uint32_t base = fs->height - np;
  if (nr == 1) {
    /* the result goes to slot `base`, typed as the result (its C name
     * differs from the param's there if the types differ) */
    int rc = reserve(fs, base + 1);
    if (rc) return rc;
    uint8_t old = base < fs->height ? fs->types[base] : 0;
    fs->types[base] = rt[0];
    put(fs, slot(fs, base));
    put(fs, " = ");
    if (base < fs->height) fs->types[base] = old;
  }
  put(fs, callee);
  put(fs, envx);
  for (uint32_t i = 0; i < np; i++) {
    put(fs, ", ");
    put(fs, slot(fs, base + i));
  }
  if (nr > 1) {
    out(fs, ", mr_");
    if (nr > fs->max_mr) fs->max_mr = nr;
  }
  out(fs, ");\n");
  int rc = set_stack(fs, base, nr, rt);
  if (rc) return rc;
  if (nr > 1)
    for (uint32_t k = 0; k < nr; k++)
      out(fs, "%s = mr_[%" PRIu32 "].%s;\n", slot(fs, base + k), k,
          tw__cg_field(rt[k]));
  return 0;
}

/* ---- memory ---- */

static bool is_covered(const struct fstate *fs, uint32_t offset) {
  uint32_t lo = 0, hi = fs->ncov;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (fs->cov[mid] < offset)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo < fs->ncov && fs->cov[lo] == offset;
}

/* A scalar load as C: pre, then the access of a `type` value, then post
 * (the widening of narrow loads). NULL if op is no scalar load. */
struct load_form {
  const char *type, *pre, *post;
};

static const struct load_form *load_form(unsigned op) {
  static const struct load_form
      i32 = {"twr_u32", "", ""}, i64 = {"twr_u64", "", ""},
      f32 = {"float", "", ""}, f64 = {"double", "", ""},
      i32_8s = {"twr_u8", "((twr_u32)", " ^ 0x80u) - 0x80u"},
      i32_8u = {"twr_u8", "(twr_u32)", ""},
      i32_16s = {"twr_u16", "((twr_u32)", " ^ 0x8000u) - 0x8000u"},
      i32_16u = {"twr_u16", "(twr_u32)", ""},
      i64_8s = {"twr_u8", "((twr_u64)", " ^ 0x80ull) - 0x80ull"},
      i64_8u = {"twr_u8", "(twr_u64)", ""},
      i64_16s = {"twr_u16", "((twr_u64)", " ^ 0x8000ull) - 0x8000ull"},
      i64_16u = {"twr_u16", "(twr_u64)", ""},
      i64_32s = {"twr_u32", "((twr_u64)", " ^ 0x80000000ull) - 0x80000000ull"},
      i64_32u = {"twr_u32", "(twr_u64)", ""};
  switch (op) {
  case TW_OP_I32_LOAD: return &i32;
  case TW_OP_I64_LOAD: return &i64;
  case TW_OP_F32_LOAD: return &f32;
  case TW_OP_F64_LOAD: return &f64;
  case TW_OP_I32_LOAD8_S: return &i32_8s;
  case TW_OP_I32_LOAD8_U: return &i32_8u;
  case TW_OP_I32_LOAD16_S: return &i32_16s;
  case TW_OP_I32_LOAD16_U: return &i32_16u;
  case TW_OP_I64_LOAD8_S: return &i64_8s;
  case TW_OP_I64_LOAD8_U: return &i64_8u;
  case TW_OP_I64_LOAD16_S: return &i64_16s;
  case TW_OP_I64_LOAD16_U: return &i64_16u;
  case TW_OP_I64_LOAD32_S: return &i64_32s;
  case TW_OP_I64_LOAD32_U: return &i64_32u;
  default: return NULL;
  }
}

static const char *store_type(unsigned op) {
  switch (op) {
  case TW_OP_I32_STORE: return "twr_u32";
  case TW_OP_I64_STORE: return "twr_u64";
  case TW_OP_F32_STORE: return "float";
  case TW_OP_F64_STORE: return "double";
  case TW_OP_I32_STORE8: case TW_OP_I64_STORE8: return "twr_u8";
  case TW_OP_I32_STORE16: case TW_OP_I64_STORE16: return "twr_u16";
  case TW_OP_I64_STORE32: return "twr_u32";
  default: return NULL;
  }
}

/* Writes template t with $0/$1 replaced by a0/a1. */
static void subst(struct fstate *fs, const char *t, const char *a0,
                  const char *a1) {
  const char *run = t;
  for (const char *p = t; *p; p++) {
    const char *rep = NULL;
    size_t skip = 1;
    if (p[0] == '$' && p[1] == '0') rep = a0, skip = 2;
    else if (p[0] == '$' && p[1] == '1') rep = a1, skip = 2;
    if (!rep) continue;
    tw__buf_append(fs->b, run, (size_t)(p - run));
    tw__buf_puts(fs->b, rep);
    p += skip - 1;
    run = p + 1;
  }
  tw__buf_puts(fs->b, run);
}

static uint8_t sig_type(char c) {
  switch (c) {
  case 'i': return TW_T_I32;
  case 'l': return TW_T_I64;
  case 'f': return TW_T_F32;
  case 'd': return TW_T_F64;
  default: return TW_T_V128;
  }
}

/* Formats a finite double exactly as a C hex-float literal, by hand:
 * printf's %a follows the locale's decimal point. */
static void hex_double(char *buf, size_t n, double d) {
  uint64_t bits;
  memcpy(&bits, &d, 8);
  int neg = (int)(bits >> 63);
  int exp = (int)((bits >> 52) & 0x7ff);
  uint64_t frac = bits & 0xfffffffffffffull;
  if (exp == 0) /* zero or subnormal: 0x0.<frac>p-1022 */
    snprintf(buf, n, "%s0x0.%013" PRIx64 "p-1022", neg ? "-" : "", frac);
  else
    snprintf(buf, n, "%s0x1.%013" PRIx64 "p%+d", neg ? "-" : "", frac,
             exp - 1023);
}

static void float_const(struct fstate *fs, const char *dst, uint64_t bits,
                        bool f32) {
  char lit[48];
  if (f32) {
    uint32_t u = (uint32_t)bits;
    float f;
    memcpy(&f, &u, 4);
    if ((u & 0x7f800000u) == 0x7f800000u) {
      out(fs, "%s = twr_f32_from(0x%08" PRIx32 "u);\n", dst, u);
      return;
    }
    hex_double(lit, sizeof lit, (double)f); /* exact: f32 widens exactly */
    out(fs, "%s = (float)%s;\n", dst, lit);
  } else {
    double d;
    memcpy(&d, &bits, 8);
    if ((bits & 0x7ff0000000000000ull) == 0x7ff0000000000000ull) {
      out(fs, "%s = twr_f64_from(0x%016" PRIx64 "ull);\n", dst, bits);
      return;
    }
    hex_double(lit, sizeof lit, d);
    out(fs, "%s = %s;\n", dst, lit);
  }
}

/* ---- SIMD: the stack effect here, the C in emit_simd.c ---- */

static int simd(struct fstate *fs, const struct tw__instr *in) {
  const char *sig = tw__op_sig(in->op);
  const char *colon = sig ? strchr(sig, ':') : NULL;
  if (!colon || strlen(colon + 1) > 1 || colon - sig > 3)
    return fail(fs, TW_EUNSUPPORTED, in->offset, "unknown SIMD instruction");
  uint32_t np = (uint32_t)(colon - sig), h = fs->height, d;
  if (h < np) return fail(fs, TW_EINVALID, in->offset, "operand stack underflow");
  char args[3][24], addr[96] = "";
  const char *argv[3] = {args[0], args[1], args[2]};
  for (uint32_t k = 0; k < np; k++)
    snprintf(args[k], sizeof args[k], "%s", slot(fs, h - np + k));
  unsigned imm = tw__op_imm(in->op);
  if (imm == TW_IMM_MEMARG || imm == TW_IMM_MEMARG_LANE)
    {
    snprintf(addr, sizeof addr, "TWR_ADDR(%s, %" PRIu32 "u)", args[0],
             in->offs);
    fs->uses_mem = true;
  }
  fs->height -= np;
  char dst[24] = "";
  if (colon[1]) {
    int rc = push(fs, sig_type(colon[1]), &d);
    if (rc) return rc;
    snprintf(dst, sizeof dst, "%s", slot(fs, d));
  }
  int rc = tw__cg_simd(fs->b, in, argv, colon[1] ? dst : NULL, addr);
  if (rc)
    return tw__err(rc, fs->err, fs->errlen,
                   "codegen: function %" PRIu32 ", byte 0x%" PRIx32
                   ": SIMD instruction %s is not supported",
                   fs->funcidx, in->offset, tw__op_name(in->op));
  return 0;
}

/* ---- the instruction switch ---- */

/* Instructions that may read deferred values (see rd). */
static bool reads_only(unsigned op) {
  switch (op) {
  case TW_OP_LOCAL_GET: case TW_OP_LOCAL_SET: case TW_OP_LOCAL_TEE:
  case TW_OP_I32_CONST: case TW_OP_I64_CONST: case TW_OP_DROP:
    return true;
  default:
    return op < 0x200 && (load_form(op) || store_type(op) ||
                          tw__cg_num_template(op));
  }
}

static int instr(struct fstate *fs, const struct tw__instr *in) {
  unsigned op = in->op;
  uint32_t h = fs->height, d;
  int rc;
  char addr[96];

  /* skipping unreachable code: only track nesting */
  if (fs->unreachable) {
    if (op == TW_OP_BLOCK || op == TW_OP_LOOP || op == TW_OP_IF) {
      fs->skip++;
      return 0;
    }
    if (op == TW_OP_END && fs->skip > 0) {
      fs->skip--;
      return 0;
    }
    if (op != TW_OP_END && !(op == TW_OP_ELSE && fs->skip == 0)) return 0;
  }
  if (fs->npend && !reads_only(op)) flush_pending(fs, UINT32_MAX, UINT32_MAX);

  if (op >= 0x200) return simd(fs, in);

#define NEED(n)                                                             \
  do {                                                                      \
    if (fs->height < (n)) return fail(fs, TW_EINVALID, in->offset,          \
                                      "operand stack underflow");           \
  } while (0)

  switch (op) {
  case TW_OP_UNREACHABLE:
    out(fs, "TWR_TRAP(x, TWR_TRAP_UNREACHABLE);\n");
    fs->unreachable = true;
    return 0;
  case TW_OP_NOP:
    return 0;
  case TW_OP_BLOCK:
  case TW_OP_LOOP:
  case TW_OP_IF: {
    struct ctl c = {0};
    c.kind = op == TW_OP_BLOCK ? CTL_BLOCK : op == TW_OP_LOOP ? CTL_LOOP : CTL_IF;
    c.label = fs->nlabels++;
    blocktype(fs, in, &c);
    if (op == TW_OP_IF) {
      NEED(1);
      put(fs, "if (!");
      put(fs, slot(fs, h - 1));
      put3(fs, ") goto L", c.label, "_e;\n");
      fs->height--;
    }
    NEED(c.np);
    c.base = fs->height - c.np;
    if (op == TW_OP_LOOP) {
      put3(fs, "L", c.label, ":;\n");
      /* With a memory 0, the check reads its poll page; else it reads
       * the call's limit word. */
      bool mem0 = fs->m->nmemories + fs->m->nmemory_imports > 0;
      const char *poll = mem0 ? "TWR_POLLM(m0_);" : "TWR_POLL(x);";
      c.poll_mem = mem0;
      if (mem0) fs->mem_polls++;
      c.poll_pos = fs->b->len;
      c.poll_len = strlen(poll);
      put(fs, poll);
      put(fs, "\n");
    }
    return push_ctl(fs, &c);
  }
  case TW_OP_ELSE: {
    struct ctl *c = &fs->ctl[fs->nctl - 1];
    if (c->kind != CTL_IF) return fail(fs, TW_EINVALID, in->offset, "else outside if");
    out(fs, "goto L%" PRIu32 ";\nL%" PRIu32 "_e:;\n", c->label, c->label);
    c->has_else = true;
    fs->unreachable = false;
    return set_stack(fs, c->base, c->np, c->pt);
  }
  case TW_OP_END: {
    struct ctl *c = &fs->ctl[fs->nctl - 1];
    if (c->kind == CTL_FUNC) {
      /* the function's own end: return its results */
      rc = set_stack(fs, 0, c->nr, c->rt);
      if (rc) return rc;
      emit_return(fs);
      fs->nctl--;
      fs->unreachable = false;
      return 0;
    }
    if (c->kind == CTL_IF && !c->has_else) put3(fs, "L", c->label, "_e:;\n");
    if (c->kind != CTL_LOOP) put3(fs, "L", c->label, ":;\n");
    if (c->kind == CTL_LOOP && c->covered && !fs->b->error) {
      memset(fs->b->data + c->poll_pos, ' ', c->poll_len);
      if (c->poll_mem) fs->mem_polls--;
    }
    rc = set_stack(fs, c->base, c->nr, c->rt);
    fs->nctl--;
    fs->unreachable = false;
    return rc;
  }
  case TW_OP_BR:
    if (in->idx >= fs->nctl) return fail(fs, TW_EINVALID, in->offset, "bad label");
    emit_branch(fs, in->idx);
    fs->unreachable = true;
    fs->skip = 0;
    return 0;
  case TW_OP_BR_IF:
    NEED(1);
    if (in->idx >= fs->nctl) return fail(fs, TW_EINVALID, in->offset, "bad label");
    put(fs, "if (");
    put(fs, slot(fs, h - 1));
    put(fs, ") {\n");
    fs->height--;
    emit_branch(fs, in->idx);
    put(fs, "}\n");
    return 0;
  case TW_OP_BR_TABLE: {
    NEED(1);
    uint32_t def = in->idx;
    if (def >= fs->nctl) return fail(fs, TW_EINVALID, in->offset, "bad label");
    out(fs, "switch (%s) {\n", slot(fs, h - 1));
    fs->height--;
    for (uint32_t k = 0; k < in->ntargets; k++) {
      uint32_t t = in->targets[k];
      if (t >= fs->nctl) return fail(fs, TW_EINVALID, in->offset, "bad label");
      if (t == def) continue;
      out(fs, "case %" PRIu32 "u:\n", k);
      if (k + 1 < in->ntargets && in->targets[k + 1] == t) continue;
      emit_branch(fs, t);
    }
    out(fs, "default:\n");
    emit_branch(fs, def);
    out(fs, "}\n");
    fs->unreachable = true;
    fs->skip = 0;
    return 0;
  }
  case TW_OP_RETURN:
    NEED(fs->ft->nresults);
    emit_return(fs);
    fs->unreachable = true;
    fs->skip = 0;
    return 0;
  case TW_OP_CALL: {
    uint32_t f = in->idx;
    uint32_t t = tw__module_func_type(fs->m, f);
    char head[64];
    NEED(fs->m->types[t].nparams);
    fs->has_call = true;
    if (f >= fs->m->nfunc_imports) {
      loop_call(fs, f - fs->m->nfunc_imports);
      *fmt_u32(head + 1, f) = 0;
      head[0] = 'f';
      strcat(head, "(");
      return emit_call(fs, t, head, "x, env");
    }
    snprintf(head, sizeof head, "((twm_sig%" PRIu32 ")in->funcs[%" PRIu32 "]->fn)(",
             t, f);
    char envx[64];
    snprintf(envx, sizeof envx, "x, in->funcs[%" PRIu32 "]->env", f);
    return emit_call(fs, t, head, envx);
  }
  case TW_OP_CALL_INDIRECT: {
    uint32_t t = in->idx;
    NEED(1 + fs->m->types[t].nparams);
    fs->has_call = true;
    out(fs,
        "{ const struct twr_table *T_ = in->tables[%" PRIu32 "];\n"
        "twr_u32 i_ = %s;\n"
        "const struct twr_func *F_;\n"
        "if (i_ >= T_->size) TWR_TRAP(x, TWR_TRAP_UNDEFINED_ELEMENT);\n"
        "else if (!(F_ = (const struct twr_func *)T_->elems[i_])) "
        "TWR_TRAP(x, TWR_TRAP_UNINITIALIZED_ELEMENT);\n"
        "else if (F_->type_id != in->type_ids[%" PRIu32 "]) "
        "TWR_TRAP(x, TWR_TRAP_INDIRECT_CALL_TYPE);\n"
        "else {\n",
        in->idx2, slot(fs, h - 1), t);
    fs->height--;
    char head[64];
    snprintf(head, sizeof head, "((twm_sig%" PRIu32 ")F_->fn)(", t);
    rc = emit_call(fs, t, head, "x, F_->env");
    out(fs, "} }\n");
    return rc;
  }
  case TW_OP_DROP:
    NEED(1);
    if (fs->pk[h - 1]) (void)rd(fs, h - 1);
    fs->height--;
    return 0;
  case TW_OP_SELECT:
  case TW_OP_SELECT_T: {
    NEED(3);
    const char *c = slot(fs, h - 1);
    const char *b = slot(fs, h - 2);
    const char *a = slot(fs, h - 3);
    out(fs, "if (!%s) %s = %s;\n", c, a, b);
    fs->height -= 2;
    return 0;
  }
  case TW_OP_LOCAL_GET:
    if (in->idx >= fs->nlocals) return fail(fs, TW_EINVALID, in->offset, "bad local");
    if ((rc = push(fs, fs->ltypes[in->idx], &d))) return rc;
    set_pending(fs, d, PEND_LOCAL, in->idx);
    return 0;
  case TW_OP_LOCAL_SET:
  case TW_OP_LOCAL_TEE: {
    NEED(1);
    if (in->idx >= fs->nlocals) return fail(fs, TW_EINVALID, in->offset, "bad local");
    bool self = fs->pk[h - 1] == PEND_LOCAL && fs->pv[h - 1] == in->idx;
    char v[24];
    /* local.set consumes the value; local.tee leaves it (pending still:
     * a pending local other than this one is not written here) */
    copy_name(v, sizeof v,
              op == TW_OP_LOCAL_SET || !fs->pk[h - 1] ? rd(fs, h - 1)
                                                      : pend_name(fs, h - 1));
    if (op == TW_OP_LOCAL_SET) fs->height--;
    if (fs->npend) flush_pending(fs, in->idx, self ? h - 1 : UINT32_MAX);
    if (!self) {
      put3(fs, "l", in->idx, " = ");
      put(fs, v);
      put(fs, ";\n");
    }
    return 0;
  }
  case TW_OP_GLOBAL_GET: {
    uint8_t t = tw__module_global(fs->m, in->idx)->type;
    if ((rc = push(fs, t, &d))) return rc;
    out(fs, "%s = in->globals[%" PRIu32 "]->%s;\n", slot(fs, d), in->idx,
        tw__cg_field(t));
    return 0;
  }
  case TW_OP_GLOBAL_SET:
    NEED(1);
    /* Ordered like a store (prelude.h, memory access (b)). */
    out(fs, "TWR_ORDER();\nin->globals[%" PRIu32 "]->%s = %s;\nTWR_ORDER();\n",
        in->idx, tw__cg_field(fs->types[h - 1]), slot(fs, h - 1));
    fs->height--;
    return 0;
  case TW_OP_TABLE_GET: {
    NEED(1);
    uint8_t t = tw__module_table(fs->m, in->idx)->reftype;
    const char *i = slot(fs, h - 1);
    fs->types[h - 1] = t;
    out(fs, "%s = x->rt->table_get(x, in, %" PRIu32 "u, %s);\n",
        slot(fs, h - 1), in->idx, i);
    return 0;
  }
  case TW_OP_TABLE_SET:
    NEED(2);
    out(fs, "x->rt->table_set(x, in, %" PRIu32 "u, %s, %s);\n", in->idx,
        slot(fs, h - 2), slot(fs, h - 1));
    fs->height -= 2;
    return 0;
  case TW_OP_MEMORY_SIZE:
    if ((rc = push(fs, TW_T_I32, &d))) return rc;
    out(fs, "%s = (twr_u32)in->memories[0]->pages;\n", slot(fs, d));
    return 0;
  case TW_OP_MEMORY_GROW:
    NEED(1);
    out(fs, "%s = x->rt->memory_grow(x, in, 0u, %s);\n", slot(fs, h - 1),
        slot(fs, h - 1));
    return 0;
  case TW_OP_I32_CONST:
    if ((rc = push(fs, TW_T_I32, &d))) return rc;
    set_pending(fs, d, PEND_I32, (uint32_t)in->i64);
    return 0;
  case TW_OP_I64_CONST:
    if ((rc = push(fs, TW_T_I64, &d))) return rc;
    set_pending(fs, d, PEND_I64, (uint64_t)in->i64);
    return 0;
  case TW_OP_F32_CONST:
    if ((rc = push(fs, TW_T_F32, &d))) return rc;
    float_const(fs, slot(fs, d), in->i64, true);
    return 0;
  case TW_OP_F64_CONST:
    if ((rc = push(fs, TW_T_F64, &d))) return rc;
    float_const(fs, slot(fs, d), in->i64, false);
    return 0;
  case TW_OP_REF_NULL:
    if ((rc = push(fs, in->reftype, &d))) return rc;
    out(fs, "%s = (void *)0;\n", slot(fs, d));
    return 0;
  case TW_OP_REF_IS_NULL: {
    NEED(1);
    const char *r = slot(fs, h - 1);
    fs->types[h - 1] = TW_T_I32;
    out(fs, "%s = (twr_u32)(%s == 0);\n", slot(fs, h - 1), r);
    return 0;
  }
  case TW_OP_REF_FUNC:
    if ((rc = push(fs, TW_T_FUNCREF, &d))) return rc;
    out(fs, "%s = (void *)in->funcs[%" PRIu32 "];\n", slot(fs, d), in->idx);
    return 0;
  case TW_OP_MEMORY_INIT:
  case TW_OP_MEMORY_COPY:
  case TW_OP_MEMORY_FILL:
  case TW_OP_TABLE_INIT:
  case TW_OP_TABLE_COPY: {
    NEED(3);
    /* Immediates in the order the services take them: memory.init and
     * memory.fill name memory 0; table.init takes (table, segment). */
    char imms[32];
    uint32_t a = in->idx, b = in->idx2;
    const char *service = "memory_copy";
    if (op == TW_OP_MEMORY_INIT) service = "memory_init", a = 0, b = in->idx;
    if (op == TW_OP_TABLE_INIT) service = "table_init", a = in->idx2, b = in->idx;
    if (op == TW_OP_TABLE_COPY) service = "table_copy";
    if (op == TW_OP_MEMORY_FILL) {
      service = "memory_fill";
      snprintf(imms, sizeof imms, "0u");
    } else {
      snprintf(imms, sizeof imms, "%" PRIu32 "u, %" PRIu32 "u", a, b);
    }
    rt_call3(fs, service, imms);
    return 0;
  }
  case TW_OP_DATA_DROP:
    out(fs, "x->rt->data_drop(x, in, %" PRIu32 "u);\n", in->idx);
    return 0;
  case TW_OP_ELEM_DROP:
    out(fs, "x->rt->elem_drop(x, in, %" PRIu32 "u);\n", in->idx);
    return 0;
  case TW_OP_TABLE_GROW: {
    NEED(2);
    const char *init = slot(fs, h - 2);
    const char *n = slot(fs, h - 1);
    fs->types[h - 2] = TW_T_I32;
    out(fs, "%s = x->rt->table_grow(x, in, %" PRIu32 "u, %s, %s);\n",
        slot(fs, h - 2), in->idx, init, n);
    fs->height--;
    return 0;
  }
  case TW_OP_TABLE_SIZE:
    if ((rc = push(fs, TW_T_I32, &d))) return rc;
    out(fs, "%s = in->tables[%" PRIu32 "]->size;\n", slot(fs, d), in->idx);
    return 0;
  case TW_OP_TABLE_FILL:
    NEED(3);
    out(fs, "x->rt->table_fill(x, in, %" PRIu32 "u, %s, %s, %s);\n", in->idx,
        slot(fs, h - 3), slot(fs, h - 2), slot(fs, h - 1));
    fs->height -= 3;
    return 0;
  default:
    break;
  }

  /* loads and stores */
  const struct load_form *lf = load_form(op);
  if (lf) {
    NEED(1);
    addr_expr(addr, rd(fs, h - 1), in->offs, fs->plain_mem);
    fs->uses_mem = true;
    const char *sig = tw__op_sig(op);
    fs->types[h - 1] = sig_type(sig[2]);
    put(fs, slot(fs, h - 1));
    put(fs, " = ");
    put(fs, lf->pre);
    /* tcc: plain C; gcc: the keep, or none for a covered load (prelude.h,
     * linear memory access (a)). */
    if (fs->plain_mem)
      put(fs, "(*(");
    else if (fs->ncov && is_covered(fs, in->offset))
      put(fs, "TWR_LDNK(");
    else
      put(fs, "TWR_LOAD(");
    put(fs, lf->type);
    put(fs, fs->plain_mem ? " *)" : ", ");
    put(fs, addr);
    put(fs, ")");
    put(fs, lf->post);
    put(fs, ";\n");
    return 0;
  }
  const char *st = store_type(op);
  if (st) {
    NEED(2);
    addr_expr(addr, rd(fs, h - 2), in->offs, fs->plain_mem);
    fs->uses_mem = true;
    if (fs->plain_mem) { /* *(T *)A = (T)v; */
      put(fs, "*(");
      put(fs, st);
      put(fs, " *)");
      put(fs, addr);
      put(fs, " = (");
    } else {
      put(fs, "TWR_STORE(");
      put(fs, st);
      put(fs, ", ");
      put(fs, addr);
      put(fs, ", (");
    }
    put(fs, st);
    put(fs, ")");
    put(fs, rd(fs, h - 1));
    put(fs, fs->plain_mem ? ";\n" : ");\n");
    fs->height -= 2;
    return 0;
  }

  /* numeric operators */
  const char *tpl = tw__cg_num_template(op);
  const char *sig = tw__op_sig(op);
  if (!tpl || !sig)
    return tw__err(TW_EUNSUPPORTED, fs->err, fs->errlen,
                   "codegen: function %" PRIu32 ", byte 0x%" PRIx32
                   ": instruction %s is not supported",
                   fs->funcidx, in->offset, tw__op_name(op));
  uint32_t np = sig[0] == ':' ? 0 : sig[1] == ':' ? 1 : 2;
  NEED(np);
  /* A shift by a constant: the count reduced here (x << 7, not
   * x << (7u & 31)), which spares tcc the work. */
  const char *shift = np == 2 && (fs->pk[h - 1] == PEND_I32 ||
                                  fs->pk[h - 1] == PEND_I64)
                          ? tw__cg_shift_const_template(op)
                          : NULL;
  if (shift) {
    tpl = shift;
    fs->pv[h - 1] &= fs->pk[h - 1] == PEND_I32 ? 31 : 63;
  }
  char a0[24] = "", a1[24] = "";
  if (np >= 1) copy_name(a0, sizeof a0, rd(fs, h - np));
  if (np >= 2) copy_name(a1, sizeof a1, rd(fs, h - 1));
  fs->height -= np;
  if ((rc = push(fs, sig_type(sig[np + 1]), &d))) return rc;
  put(fs, slot(fs, d));
  put(fs, " = ");
  subst(fs, tpl, a0, a1);
  put(fs, ";\n");
  return 0;
#undef NEED
}

/* Writes the declarations of every slot used, grouped by type. */
static void declare_slots(struct fstate *fs, struct tw__buf *o,
                          uint32_t maxd) {
  for (size_t ti = 0; ti < 6; ti++) {
    uint8_t t = k_valtypes[ti];
    unsigned bit = type_bit(t);
    uint32_t n = 0;
    for (uint32_t dd = 0; dd < maxd; dd++) {
      if (!(fs->used[dd] & bit)) continue;
      if (n % 16 == 0)
        tw__buf_printf(o, "%s%s %ss%" PRIu32 "%c", n ? ";\n" : "",
                       t == TW_T_FUNCREF ? "void" : tw__cg_ctype(t),
                       t == TW_T_FUNCREF ? "*" : "", dd, tw__cg_suffix(t));
      else
        tw__buf_printf(o, ", %ss%" PRIu32 "%c", t == TW_T_FUNCREF ? "*" : "",
                       dd, tw__cg_suffix(t));
      n++;
    }
    if (n) tw__buf_puts(o, ";\n");
  }
}

int tw__codegen_calls(const struct tw__module *m, uint8_t *calls, char *err,
                      size_t errlen) {
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    const struct tw__func *fn = &m->funcs[i];
    struct tw__reader r;
    tw__reader_init(&r, m->bytes, fn->code, fn->end);
    calls[i] = 0;
    while (r.p < r.end) {
      struct tw__instr ins;
      int rc = tw__reader_next(&r, &ins, err, errlen);
      if (rc) {
        tw__reader_close(&r);
        return rc;
      }
      if (ins.op == TW_OP_CALL || ins.op == TW_OP_CALL_INDIRECT) {
        calls[i] = 1;
        break;
      }
    }
    tw__reader_close(&r);
  }
  return 0;
}

int tw__cg_func(const struct tw__module *m, uint32_t defidx,
                const uint8_t *calls, const struct tw__codegen_opts *opts,
                struct tw__buf *o, struct tw__buf *scratch, char *err,
                size_t errlen) {
  const struct tw__func *fn = &m->funcs[defidx];
  struct fstate fs;
  memset(&fs, 0, sizeof fs);
  fs.m = m;
  fs.funcidx = m->nfunc_imports + defidx;
  fs.calls = calls;
  fs.plain_mem = opts->plain_mem;
  fs.ft = &m->types[fn->type];
  fs.err = err;
  fs.errlen = errlen;
  scratch->len = 0;
  scratch->error = 0;
  fs.b = scratch;

  int rc = 0;
  uint32_t np = fs.ft->nparams;
  fs.nlocals = np + fn->nlocals;
  fs.ltypes = tw__malloc(fs.nlocals ? fs.nlocals : 1);
  if (!fs.ltypes) return TW_ENOMEM;
  memcpy(fs.ltypes, fs.ft->types, np);
  if (fn->nlocals) memcpy(fs.ltypes + np, fn->local_types, fn->nlocals);

  if (opts->cover_loads &&
      (rc = tw__cg_covered_loads(m, fn, fs.nlocals, &fs.cov, &fs.ncov, err,
                                 errlen)))
    goto done;

  struct ctl top = {0};
  top.kind = CTL_FUNC;
  top.label = fs.nlabels++;
  top.nr = fs.ft->nresults;
  top.rt = fs.ft->types + np;
  if ((rc = push_ctl(&fs, &top)) || (rc = reserve(&fs, 16))) goto done;

  struct tw__reader r;
  tw__reader_init(&r, m->bytes, fn->code, fn->end);
  uint32_t maxd = 0;
  while (fs.nctl > 0) {
    struct tw__instr ins;
    if (r.p >= r.end) {
      rc = fail(&fs, TW_EMALFORMED, fn->body_offset, "function body ends early");
      break;
    }
    if ((rc = tw__reader_next(&r, &ins, err, errlen))) break;
    if ((rc = instr(&fs, &ins))) break;
    if (fs.height > maxd) maxd = fs.height;
    if (scratch->error) {
      rc = scratch->error;
      break;
    }
  }
  tw__reader_close(&r);
  if (rc) goto done;

  /* header, locals, slots, entry checks, then the body */
  char name[24];
  snprintf(name, sizeof name, "f%" PRIu32, fs.funcidx);
  tw__buf_puts(o, "static ");
  tw__cg_signature(o, fs.ft, name, 1);
  tw__buf_puts(o, " {\nstruct twr_inst *in = (struct twr_inst *)env;\n");
  for (uint32_t i = np; i < fs.nlocals; i++) {
    uint8_t t = fs.ltypes[i];
    if (t == TW_T_V128)
      tw__buf_printf(o, "twr_v128 l%" PRIu32 " = {0, 0};\n", i);
    else
      tw__buf_printf(o, "%s l%" PRIu32 " = 0;\n", tw__cg_ctype(t), i);
  }
  declare_slots(&fs, o, maxd < fs.cap ? maxd + 1 : fs.cap);
  if (fs.max_mr) tw__buf_printf(o, "twr_val mr_[%" PRIu32 "];\n", fs.max_mr);
  if (fs.uses_mem || fs.mem_polls)
    tw__buf_puts(o, "twr_u8 *const m0_ = in->mem0;\n");
  tw__buf_puts(o, "(void)x;\n(void)in;\n");
  /* Entry checks. Every loop header checks whether the call was stopped
   * (TWR_POLLM or TWR_POLL), unless each iteration calls a function that
   * checks (loop_call). A function that calls checks the stack at its entry,
   * which also fails once the call was stopped (abi.h): a call tree
   * without loops can still run for exponential time. Code without loops
   * and calls runs in time bounded by its size and needs no check. Leaves
   * (no calls) with a small frame go without the stack check: the runtime
   * keeps a margin (>= 32 KiB, default 256 KiB) below stack_limit that
   * covers one such frame plus the runtime services a leaf may call. */
  uint64_t nvars = (uint64_t)fs.nlocals + maxd + fs.max_mr;
  uint64_t est = nvars * 16 + 256;
  if (est > TWR_FRAME_SLACK)
    tw__buf_printf(o, "TWR_ENTER(x, %" PRIu64 "u);\n", est);
  else if (fs.has_call || (calls && calls[defidx]))
    tw__buf_printf(o, "TWR_ENTER_S(x, %" PRIu64 "u);\n", est);
  tw__buf_append(o, scratch->data, scratch->len);
  tw__buf_puts(o, "}\n\n");
  rc = o->error;

done:
  tw__free(fs.cov);
  tw__free(fs.ltypes);
  tw__free(fs.types);
  tw__free(fs.used);
  tw__free(fs.pk);
  tw__free(fs.pv);
  tw__free(fs.ctl);
  return rc;
}
