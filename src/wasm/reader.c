/* The instruction reader and the opcode tables: the one place that turns
 * instruction bytes into struct tw__instr, plus the LEB128 / UTF-8 cursor
 * primitives the section decoder shares. Every read checks against the
 * cursor's end first; the reader's only allocation is the br_table
 * scratch, bounded by TW_LIMIT_BR_TABLE and by the bytes left.
 */
#include <pthread.h>
#include <string.h>

#include "base/base.h"
#include "wasm/decode_int.h"
#include "wasm/wasm.h"

/* ---- Cursor primitives ---- */

const char *tw__rd_what(int status, const char *eof_msg) {
  switch (status) {
  case TW__RD_EOF:
    return eof_msg ? eof_msg : "unexpected end";
  case TW__RD_TOOLONG:
    return "integer representation too long";
  case TW__RD_TOOLARGE:
    return "integer too large";
  }
  return "malformed";
}

int tw__rd_u8(const uint8_t **p, const uint8_t *end, uint8_t *out) {
  if (*p >= end) return TW__RD_EOF;
  *out = **p;
  (*p)++;
  return 0;
}

int tw__rd_bytes(const uint8_t **p, const uint8_t *end, size_t n,
                 const uint8_t **out) {
  if ((size_t)(end - *p) < n) return TW__RD_EOF;
  *out = *p;
  *p += n;
  return 0;
}

/* Unsigned/signed LEB128 of at most `bits` bits. The last permitted byte
 * may only carry the bits that remain; the others must be zero (unsigned)
 * or copies of the sign bit (signed). */
static int rd_leb(const uint8_t **p, const uint8_t *end, unsigned bits,
                  int is_signed, uint64_t *out) {
  const uint8_t *q = *p;
  uint64_t v = 0;
  unsigned shift = 0;
  unsigned maxbytes = (bits + 6) / 7;
  for (unsigned i = 0;; i++) {
    if (q >= end) return TW__RD_EOF;
    uint8_t b = *q++;
    if (i == maxbytes - 1) {
      /* last byte: bits left = bits - shift (1..7) */
      unsigned left = bits - shift;
      if (b & 0x80) return TW__RD_TOOLONG;
      uint8_t rest = (uint8_t)(b & 0x7f) >> left;
      if (!is_signed) {
        if (rest) return TW__RD_TOOLARGE;
      } else {
        /* the sign bit is bit (left-1); bits above it must all match */
        uint8_t sign = (uint8_t)((b >> (left - 1)) & 1);
        uint8_t want = sign ? (uint8_t)(0x7f >> left) : 0;
        if (rest != want) return TW__RD_TOOLARGE;
      }
      v |= (uint64_t)(b & ((1u << left) - 1)) << shift;
      shift += left;
      if (is_signed && (b >> (left - 1)) & 1 && shift < 64)
        v |= ~(uint64_t)0 << shift;
      break;
    }
    v |= (uint64_t)(b & 0x7f) << shift;
    shift += 7;
    if (!(b & 0x80)) {
      if (is_signed && (b & 0x40) && shift < 64) v |= ~(uint64_t)0 << shift;
      break;
    }
  }
  *p = q;
  *out = v;
  return 0;
}

int tw__rd_u32(const uint8_t **p, const uint8_t *end, uint32_t *out) {
  /* fast path: one byte */
  if (*p < end && !(**p & 0x80)) {
    *out = **p;
    (*p)++;
    return 0;
  }
  uint64_t v;
  int rc = rd_leb(p, end, 32, 0, &v);
  if (rc == 0) *out = (uint32_t)v;
  return rc;
}

int tw__rd_s32(const uint8_t **p, const uint8_t *end, int32_t *out) {
  uint64_t v;
  int rc = rd_leb(p, end, 32, 1, &v);
  /* v is the sign-extended 64-bit pattern; its low 32 bits are the value */
  if (rc == 0) *out = (int32_t)(uint32_t)v;
  return rc;
}

int tw__rd_s33(const uint8_t **p, const uint8_t *end, int64_t *out) {
  uint64_t v;
  int rc = rd_leb(p, end, 33, 1, &v);
  if (rc == 0) {
    /* v is sign-extended to 64 bits; convert without overflow */
    *out = (v >> 63) ? -(int64_t)(~v) - 1 : (int64_t)v;
  }
  return rc;
}

int tw__rd_s64(const uint8_t **p, const uint8_t *end, int64_t *out) {
  uint64_t v;
  int rc = rd_leb(p, end, 64, 1, &v);
  if (rc == 0) *out = (v >> 63) ? -(int64_t)(~v) - 1 : (int64_t)v;
  return rc;
}

int tw__utf8_valid(const uint8_t *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    uint32_t cp;
    size_t len;
    uint32_t min;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4, cp = c & 0x07, min = 0x10000;
    } else {
      return 0;
    }
    if (n - i < len) return 0;
    for (size_t k = 1; k < len; k++) {
      uint8_t d = s[i + k];
      if ((d & 0xc0) != 0x80) return 0;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    i += len;
  }
  return 1;
}

/* ---- Opcode tables ---- */

struct opinfo {
  const char *sym; /* NULL: not an opcode */
  const char *sig;
  uint8_t imm;
  uint8_t width;
};

static const struct opinfo ops[TW_OP_LIMIT_] = {
#define OPINFO_(sym, id, imm, sig, width) [id] = {#sym, sig, imm, width},
    TW_FOR_EACH_OP(OPINFO_)
#undef OPINFO_
};

/* Text names, derived once from the symbols (see opcodes.h). */
#define NAME_MAX_ 40
static char op_names[TW_OP_LIMIT_][NAME_MAX_];
static pthread_once_t op_names_once = PTHREAD_ONCE_INIT;

static void build_names(void) {
  static const char *const spaces[] = {
      "I32",   "I64",   "F32",   "F64",   "V128",  "I8X16",
      "I16X8", "I32X4", "I64X2", "F32X4", "F64X2", "LOCAL",
      "GLOBAL", "TABLE", "MEMORY", "REF",  "ELEM",  "DATA"};
  for (unsigned op = 0; op < TW_OP_LIMIT_; op++) {
    const char *s = ops[op].sym;
    if (!s) continue;
    char *d = op_names[op];
    if (op == TW_OP_SELECT_T) {
      strcpy(d, "select");
      continue;
    }
    size_t n = strlen(s);
    if (n >= NAME_MAX_) n = NAME_MAX_ - 1;
    const char *us = strchr(s, '_');
    size_t dot = (size_t)-1;
    if (us) {
      size_t plen = (size_t)(us - s);
      for (size_t k = 0; k < sizeof spaces / sizeof spaces[0]; k++)
        if (strlen(spaces[k]) == plen && !strncmp(spaces[k], s, plen)) {
          dot = plen;
          break;
        }
    }
    for (size_t i = 0; i < n; i++) {
      char c = s[i];
      if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
      if (i == dot) c = '.';
      d[i] = c;
    }
    d[n] = '\0';
  }
}

bool tw__op_valid(unsigned op) { return op < TW_OP_LIMIT_ && ops[op].sym; }

const char *tw__op_name(unsigned op) {
  if (!tw__op_valid(op)) return NULL;
  pthread_once(&op_names_once, build_names);
  return op_names[op];
}

const char *tw__op_sig(unsigned op) {
  return tw__op_valid(op) ? ops[op].sig : NULL;
}

unsigned tw__op_imm(unsigned op) {
  return tw__op_valid(op) ? ops[op].imm : 0;
}

unsigned tw__op_width(unsigned op) {
  return tw__op_valid(op) ? ops[op].width : 0;
}

const char *tw__valtype_name(uint8_t t) {
  switch (t) {
  case TW_T_I32:
    return "i32";
  case TW_T_I64:
    return "i64";
  case TW_T_F32:
    return "f32";
  case TW_T_F64:
    return "f64";
  case TW_T_V128:
    return "v128";
  case TW_T_FUNCREF:
    return "funcref";
  case TW_T_EXTERNREF:
    return "externref";
  }
  return "?";
}

/* ---- Instruction reader ---- */

void tw__reader_init(struct tw__reader *r, const uint8_t *base,
                     const uint8_t *p, const uint8_t *end) {
  r->base = base;
  r->p = p;
  r->end = end;
  r->targets = NULL;
  r->targets_cap = 0;
}

void tw__reader_close(struct tw__reader *r) {
  tw__free(r->targets);
  r->targets = NULL;
  r->targets_cap = 0;
}

#define EOF_MSG "unexpected end of section or function"

static unsigned long off_of(const struct tw__reader *r, const uint8_t *p) {
  return (unsigned long)(p - r->base);
}

/* Formats "byte 0x..: <what>" for a primitive's failure at `at`. */
static int rd_fail(const struct tw__reader *r, const uint8_t *at, int st,
                   char *err, size_t errlen) {
  return tw__err(TW_EMALFORMED, err, errlen, "byte 0x%lx: %s", off_of(r, at),
                 tw__rd_what(st, EOF_MSG));
}

#define RD(call)                                              \
  do {                                                        \
    const uint8_t *at_ = r->p;                                \
    int st_ = (call);                                         \
    if (st_) return rd_fail(r, at_, st_, err, errlen);        \
  } while (0)

static int read_zero_byte(struct tw__reader *r, char *err, size_t errlen) {
  uint8_t b;
  const uint8_t *at = r->p;
  RD(tw__rd_u8(&r->p, r->end, &b));
  if (b != 0)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "byte 0x%lx: zero byte expected", off_of(r, at));
  return 0;
}

static int read_blocktype(struct tw__reader *r, struct tw__instr *in,
                          char *err, size_t errlen) {
  const uint8_t *at = r->p;
  if (at >= r->end) return rd_fail(r, at, TW__RD_EOF, err, errlen);
  uint8_t b = *at;
  if (b == 0x40) {
    r->p++;
    in->bt_kind = TW_BLOCK_EMPTY;
    return 0;
  }
  if (tw__is_valtype(b)) {
    r->p++;
    in->bt_kind = TW_BLOCK_VAL;
    in->bt_val = b;
    return 0;
  }
  int64_t x;
  RD(tw__rd_s33(&r->p, r->end, &x));
  if (x < 0)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "byte 0x%lx: malformed block type", off_of(r, at));
  in->bt_kind = TW_BLOCK_TYPE;
  in->idx = (uint32_t)x; /* s33 >= 0 fits in 32 bits */
  return 0;
}

static int read_br_table(struct tw__reader *r, struct tw__instr *in,
                         char *err, size_t errlen) {
  uint32_t n;
  const uint8_t *at = r->p;
  RD(tw__rd_u32(&r->p, r->end, &n));
  if (n > TW_LIMIT_BR_TABLE)
    return tw__err(TW_ELIMIT, err, errlen,
                   "byte 0x%lx: br_table with %u labels (limit %u)",
                   off_of(r, at), n, TW_LIMIT_BR_TABLE);
  /* each label takes at least one byte: fail before allocating */
  if ((size_t)(r->end - r->p) < (size_t)n + 1)
    return rd_fail(r, r->end, TW__RD_EOF, err, errlen);
  if (n + 1 > r->targets_cap) {
    uint32_t cap = r->targets_cap ? r->targets_cap : 16;
    while (cap < n + 1) cap = cap > UINT32_MAX / 2 ? n + 1 : cap * 2;
    uint32_t *t = tw__reallocarray(r->targets, cap, sizeof *t);
    if (!t)
      return tw__err(TW_ENOMEM, err, errlen,
                     "byte 0x%lx: out of memory for br_table",
                     off_of(r, at));
    r->targets = t;
    r->targets_cap = cap;
  }
  for (uint32_t i = 0; i <= n; i++) RD(tw__rd_u32(&r->p, r->end, &r->targets[i]));
  in->ntargets = n;
  in->targets = r->targets;
  in->idx = r->targets[n];
  return 0;
}

static int read_select_t(struct tw__reader *r, struct tw__instr *in,
                         char *err, size_t errlen) {
  uint32_t n;
  RD(tw__rd_u32(&r->p, r->end, &n));
  if ((size_t)(r->end - r->p) < n)
    return rd_fail(r, r->end, TW__RD_EOF, err, errlen);
  in->select_count = n;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *at = r->p;
    uint8_t t;
    RD(tw__rd_u8(&r->p, r->end, &t));
    if (!tw__is_valtype(t))
      return tw__err(TW_EMALFORMED, err, errlen,
                     "byte 0x%lx: malformed value type 0x%02x",
                     off_of(r, at), t);
    if (i == 0) in->reftype = t;
  }
  return 0;
}

int tw__reader_next(struct tw__reader *r, struct tw__instr *in, char *err,
                    size_t errlen) {
  memset(in, 0, sizeof *in);
  const uint8_t *start = r->p;
  in->offset = (uint32_t)(start - r->base);
  uint8_t b;
  RD(tw__rd_u8(&r->p, r->end, &b));
  unsigned op = b;
  if (b == 0xfc || b == 0xfd) {
    uint32_t sub;
    RD(tw__rd_u32(&r->p, r->end, &sub));
    if (sub >= 0x100 || !tw__op_valid((b == 0xfc ? 0x100u : 0x200u) + sub))
      return tw__err(TW_EMALFORMED, err, errlen,
                     "byte 0x%lx: illegal opcode: unknown opcode 0x%02x 0x%x",
                     off_of(r, start), b, sub);
    op = (b == 0xfc ? 0x100u : 0x200u) + sub;
  } else if (!tw__op_valid(op)) {
    return tw__err(TW_EMALFORMED, err, errlen,
                   "byte 0x%lx: illegal opcode: unknown opcode 0x%02x",
                   off_of(r, start), b);
  }
  in->op = (uint16_t)op;

  const uint8_t *q;
  switch ((enum tw_imm)ops[op].imm) {
  case TW_IMM_NONE:
    break;
  case TW_IMM_BLOCKTYPE:
    return read_blocktype(r, in, err, errlen);
  case TW_IMM_LABEL:
  case TW_IMM_FUNC:
  case TW_IMM_LOCAL:
  case TW_IMM_GLOBAL:
  case TW_IMM_TABLE:
  case TW_IMM_DATA:
  case TW_IMM_ELEM:
    RD(tw__rd_u32(&r->p, r->end, &in->idx));
    break;
  case TW_IMM_BR_TABLE:
    return read_br_table(r, in, err, errlen);
  case TW_IMM_CALL_INDIRECT:
  case TW_IMM_ELEM_TABLE:
  case TW_IMM_TABLE_TABLE:
    RD(tw__rd_u32(&r->p, r->end, &in->idx));
    RD(tw__rd_u32(&r->p, r->end, &in->idx2));
    break;
  case TW_IMM_SELECT_T:
    return read_select_t(r, in, err, errlen);
  case TW_IMM_MEMARG:
  case TW_IMM_MEMARG_LANE:
    RD(tw__rd_u32(&r->p, r->end, &in->align));
    RD(tw__rd_u32(&r->p, r->end, &in->offs));
    if (ops[op].imm == TW_IMM_MEMARG_LANE)
      RD(tw__rd_u8(&r->p, r->end, &in->lane));
    break;
  case TW_IMM_MEMORY:
    return read_zero_byte(r, err, errlen);
  case TW_IMM_MEMORY_MEMORY: {
    int rc = read_zero_byte(r, err, errlen);
    return rc ? rc : read_zero_byte(r, err, errlen);
  }
  case TW_IMM_DATA_MEMORY:
    RD(tw__rd_u32(&r->p, r->end, &in->idx));
    return read_zero_byte(r, err, errlen);
  case TW_IMM_REFTYPE: {
    const uint8_t *at = r->p;
    RD(tw__rd_u8(&r->p, r->end, &in->reftype));
    if (!tw__is_reftype(in->reftype))
      return tw__err(TW_EMALFORMED, err, errlen,
                     "byte 0x%lx: malformed reference type 0x%02x",
                     off_of(r, at), in->reftype);
    break;
  }
  case TW_IMM_I32: {
    int32_t v;
    RD(tw__rd_s32(&r->p, r->end, &v));
    in->i64 = (uint64_t)(int64_t)v;
    break;
  }
  case TW_IMM_I64: {
    int64_t v;
    RD(tw__rd_s64(&r->p, r->end, &v));
    in->i64 = (uint64_t)v;
    break;
  }
  case TW_IMM_F32:
    RD(tw__rd_bytes(&r->p, r->end, 4, &q));
    in->i64 = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 |
              (uint32_t)q[3] << 24;
    break;
  case TW_IMM_F64:
    RD(tw__rd_bytes(&r->p, r->end, 8, &q));
    for (int i = 7; i >= 0; i--) in->i64 = in->i64 << 8 | q[i];
    break;
  case TW_IMM_V128:
  case TW_IMM_SHUFFLE:
    RD(tw__rd_bytes(&r->p, r->end, 16, &q));
    memcpy(in->bytes, q, 16);
    break;
  case TW_IMM_LANE:
    RD(tw__rd_u8(&r->p, r->end, &in->lane));
    break;
  }
  return 0;
}
