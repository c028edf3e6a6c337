/* The binary decoder: .wasm bytes -> struct tw__module (structure only;
 * instructions are walked by the validator through the reader).
 * Invariants: every count is checked against its TW_LIMIT_* and against
 * the bytes left before anything is allocated for it; every array's count
 * field is set as soon as the (zeroed) array exists, so tw__module_free
 * can release a half-built module; every message names the section, the
 * function where there is one, and the byte offset.
 */
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "wasm/decode_int.h"
#include "wasm/wasm.h"

/* 2.0 allows one memory, but a second one is a validation error
 * ("multiple memories"), not a malformation: the decoder keeps up to this
 * many and leaves the rule to the validator. */
#define DECODE_MAX_MEMORIES 10000u

enum { SEC_CUSTOM = 0, SEC_DATACOUNT = 12, SEC_MAX = 12 };

struct dec {
  const uint8_t *base; /* the module's own copy */
  const uint8_t *fend; /* end of file */
  const uint8_t *send; /* end of the current section */
  const uint8_t *p;
  int sec;  /* current section id, -1 in the header */
  long func; /* function index inside the code section, else -1 */
  char *err;
  size_t errlen;
  struct tw__module *m;
  const uint8_t *names, *names_end; /* "name" section payload, if any */
  uint64_t elem_items; /* over all segments, against TW_LIMIT_ELEM_ITEMS */
  struct tw__reader rd;
};

static const char *sec_name(int id) {
  static const char *const names[] = {
      "custom", "type",   "import", "function", "table",   "memory",   "global",
      "export", "start", "element", "code",     "data",    "datacount"};
  return id >= 0 && id <= SEC_MAX ? names[id] : "unknown";
}

static int failv(struct dec *d, int code, const uint8_t *at, const char *fmt,
                 va_list ap) {
  char msg[256];
  char where[96];
  size_t w = 0;
  vsnprintf(msg, sizeof msg, fmt, ap);
  where[0] = '\0';
  if (d->sec >= 0)
    w += (size_t)snprintf(where, sizeof where, "section %d (%s), ", d->sec,
                          sec_name(d->sec));
  if (d->func >= 0 && w < sizeof where)
    w += (size_t)snprintf(where + w, sizeof where - w, "function %ld, ",
                          d->func);
  if (at)
    return tw__err(code, d->err, d->errlen, "%sbyte 0x%lx: %s", where,
                   (unsigned long)(at - d->base), msg);
  return tw__err(code, d->err, d->errlen, "%s%s", where, msg);
}

static int fail(struct dec *d, int code, const uint8_t *at, const char *fmt,
                ...) TW_PRINTF(4, 5);
static int fail(struct dec *d, int code, const uint8_t *at, const char *fmt,
                ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = failv(d, code, at, fmt, ap);
  va_end(ap);
  return rc;
}

/* A primitive's failure, with the spec's wording. */
static int rd_fail(struct dec *d, const uint8_t *at, int st) {
  /* inside a section the spec says "unexpected end of section or
   * function" or "unexpected end" depending on the case; the first
   * contains the second */
  const char *eof = "unexpected end";
  if (st == TW__RD_EOF && d->sec >= 0)
    eof = "unexpected end of section or function";
  return fail(d, TW_EMALFORMED, at, "%s", tw__rd_what(st, eof));
}

#define RD(call)                                    \
  do {                                              \
    const uint8_t *at_ = d->p;                      \
    int st_ = (call);                               \
    if (st_) return rd_fail(d, at_, st_);           \
  } while (0)

#define TRY(call)              \
  do {                         \
    int rc_ = (call);          \
    if (rc_) return rc_;       \
  } while (0)

static int rd_u8(struct dec *d, uint8_t *out) {
  RD(tw__rd_u8(&d->p, d->send, out));
  return 0;
}

/* A one-byte tag that the spec reads as a LEB128 (limits flags, the
 * function type form): a set high bit is "integer representation too
 * long", as for any over-long LEB128. */
static int rd_tag(struct dec *d, uint8_t *out) {
  const uint8_t *at = d->p;
  RD(tw__rd_u8(&d->p, d->send, out));
  if (*out & 0x80)
    return fail(d, TW_EMALFORMED, at,
                "integer representation too long: tag byte 0x%02x", *out);
  return 0;
}

static int rd_u32(struct dec *d, uint32_t *out) {
  RD(tw__rd_u32(&d->p, d->send, out));
  return 0;
}

/* A vector count: at most `limit`, and at most one element per
 * `min_size` bytes left (every element of every vector takes at least one
 * byte), so a module cannot make us allocate for elements it does not
 * contain. We pass 1 for min_size everywhere so that a short vector fails
 * on the element that is cut, with the spec's message for it. */
static int rd_count(struct dec *d, uint32_t *out, uint32_t limit,
                    size_t min_size, const char *what) {
  const uint8_t *at = d->p;
  TRY(rd_u32(d, out));
  if (*out > limit)
    return fail(d, TW_ELIMIT, at, "%u %s (limit %u)", *out, what, limit);
  if ((uint64_t)*out * min_size > (uint64_t)(d->send - d->p))
    return fail(d, TW_EMALFORMED, at,
                "unexpected end of section or function: %u %s do not fit in "
                "the %lu bytes left",
                *out, what, (unsigned long)(d->send - d->p));
  return 0;
}

/* A name: u32 length, then that many bytes of UTF-8. *out is a
 * NUL-terminated copy (may contain NULs; *len says how long). */
static int rd_name(struct dec *d, char **out, uint32_t *len) {
  const uint8_t *at = d->p;
  uint32_t n;
  TRY(rd_u32(d, &n));
  if (n > (size_t)(d->send - d->p))
    return fail(d, TW_EMALFORMED, at,
                "length out of bounds: name of %u bytes, %lu left", n,
                (unsigned long)(d->send - d->p));
  if (n > TW_LIMIT_NAME_BYTES)
    return fail(d, TW_ELIMIT, at, "name of %u bytes (limit %u)", n,
                TW_LIMIT_NAME_BYTES);
  if (!tw__utf8_valid(d->p, n))
    return fail(d, TW_EMALFORMED, at, "malformed UTF-8 encoding");
  if (out) {
    *out = tw__strndup((const char *)d->p, n);
    if (!*out) return fail(d, TW_ENOMEM, at, "out of memory");
  }
  if (len) *len = n;
  d->p += n;
  return 0;
}

static int rd_valtype(struct dec *d, uint8_t *out) {
  const uint8_t *at = d->p;
  TRY(rd_u8(d, out));
  if (!tw__is_valtype(*out))
    return fail(d, TW_EMALFORMED, at, "malformed value type 0x%02x", *out);
  return 0;
}

static int rd_reftype(struct dec *d, uint8_t *out) {
  const uint8_t *at = d->p;
  TRY(rd_u8(d, out));
  if (!tw__is_reftype(*out))
    return fail(d, TW_EMALFORMED, at, "malformed reference type 0x%02x",
                *out);
  return 0;
}

static int rd_limits(struct dec *d, struct tw__limits *l) {
  const uint8_t *at = d->p;
  uint8_t flag;
  uint32_t v;
  TRY(rd_tag(d, &flag));
  if (flag > 1)
    return fail(d, TW_EMALFORMED, at,
                "integer too large: malformed limits flags 0x%02x", flag);
  TRY(rd_u32(d, &v));
  l->min = v;
  l->has_max = flag == 1;
  l->max = 0;
  if (l->has_max) {
    TRY(rd_u32(d, &v));
    l->max = v;
  }
  return 0;
}

static int rd_globaltype(struct dec *d, struct tw__globaltype *g) {
  TRY(rd_valtype(d, &g->type));
  const uint8_t *at = d->p;
  uint8_t mut;
  TRY(rd_u8(d, &mut));
  if (mut > 1)
    return fail(d, TW_EMALFORMED, at, "malformed mutability 0x%02x", mut);
  g->mutable_ = mut == 1;
  return 0;
}

/* Reads one instruction through the shared reader, bounded by the section
 * end, and re-prefixes its message with where we are. */
static int rd_instr(struct dec *d, struct tw__instr *in) {
  char msg[192];
  d->rd.p = d->p;
  d->rd.end = d->send;
  int rc = tw__reader_next(&d->rd, in, msg, sizeof msg);
  if (rc) return fail(d, rc, NULL, "%s", msg);
  d->p = d->rd.p;
  return 0;
}

/* A constant expression: instructions up to the `end` that closes it,
 * classified per struct tw__init (NONCONST / ARITY are left for the
 * validator to report). */
static int rd_init(struct dec *d, struct tw__init *init) {
  struct tw__instr in;
  uint32_t n = 0, depth = 0;
  bool nonconst = false;
  memset(init, 0, sizeof *init);
  for (;;) {
    TRY(rd_instr(d, &in));
    if (in.op == TW_OP_END) {
      if (depth == 0) break;
      depth--;
    } else if (in.op == TW_OP_BLOCK || in.op == TW_OP_LOOP ||
               in.op == TW_OP_IF) {
      depth++;
    }
    n++;
    bool isconst = true;
    switch (in.op) {
    case TW_OP_I32_CONST:
      init->type = TW_T_I32;
      init->value.bits = in.i64 & 0xffffffffu;
      break;
    case TW_OP_I64_CONST:
      init->type = TW_T_I64;
      init->value.bits = in.i64;
      break;
    case TW_OP_F32_CONST:
      init->type = TW_T_F32;
      init->value.bits = in.i64;
      break;
    case TW_OP_F64_CONST:
      init->type = TW_T_F64;
      init->value.bits = in.i64;
      break;
    case TW_OP_V128_CONST:
      init->type = TW_T_V128;
      memcpy(init->value.v128, in.bytes, 16);
      break;
    case TW_OP_REF_NULL:
      init->kind = TW_INIT_REF_NULL;
      init->type = in.reftype;
      break;
    case TW_OP_REF_FUNC:
      init->kind = TW_INIT_REF_FUNC;
      init->type = TW_T_FUNCREF;
      init->index = in.idx;
      break;
    case TW_OP_GLOBAL_GET:
      init->kind = TW_INIT_GLOBAL_GET;
      init->type = 0; /* the validator looks the global up */
      init->index = in.idx;
      break;
    default:
      isconst = false;
    }
    if (isconst && (in.op == TW_OP_I32_CONST || in.op == TW_OP_I64_CONST ||
                    in.op == TW_OP_F32_CONST || in.op == TW_OP_F64_CONST ||
                    in.op == TW_OP_V128_CONST))
      init->kind = TW_INIT_CONST;
    if (!isconst && !nonconst) {
      nonconst = true;
      init->index = in.offset;
    }
  }
  if (nonconst) {
    uint32_t off = init->index;
    memset(init, 0, sizeof *init);
    init->kind = TW_INIT_NONCONST;
    init->index = off;
  } else if (n != 1) {
    memset(init, 0, sizeof *init);
    init->kind = TW_INIT_ARITY;
    init->index = in.offset;
  }
  return 0;
}

/* ---- Sections ---- */

static int sec_type(struct dec *d) {
  struct tw__module *m = d->m;
  uint32_t n;
  TRY(rd_count(d, &n, TW_LIMIT_TYPES, 1, "types"));
  m->types = tw__calloc(n, sizeof *m->types);
  if (!m->types) return fail(d, TW_ENOMEM, d->p, "out of memory");
  m->ntypes = n;
  for (uint32_t i = 0; i < n; i++) {
    struct tw__functype *ft = &m->types[i];
    const uint8_t *at = d->p;
    uint8_t form;
    TRY(rd_tag(d, &form));
    if (form != 0x60)
      return fail(d, TW_EMALFORMED, at,
                  "type %u: malformed function type 0x%02x", i, form);
    uint32_t np, nr;
    TRY(rd_count(d, &np, TW_LIMIT_FUNC_PARAMS, 1, "parameters"));
    const uint8_t *params = d->p;
    d->p += np;
    TRY(rd_count(d, &nr, TW_LIMIT_FUNC_RESULTS, 1, "results"));
    const uint8_t *results = d->p;
    d->p = params;
    ft->types = tw__malloc((size_t)np + nr);
    if (!ft->types) return fail(d, TW_ENOMEM, at, "out of memory");
    ft->nparams = np;
    ft->nresults = nr;
    for (uint32_t k = 0; k < np; k++) TRY(rd_valtype(d, &ft->types[k]));
    d->p = results;
    for (uint32_t k = 0; k < nr; k++) TRY(rd_valtype(d, &ft->types[np + k]));
  }
  return 0;
}

static int sec_import(struct dec *d) {
  struct tw__module *m = d->m;
  uint32_t n;
  TRY(rd_count(d, &n, TW_LIMIT_IMPORTS, 1, "imports"));
  m->imports = tw__calloc(n, sizeof *m->imports);
  if (!m->imports) return fail(d, TW_ENOMEM, d->p, "out of memory");
  m->nimports = n;
  for (uint32_t i = 0; i < n; i++) {
    struct tw__import *im = &m->imports[i];
    TRY(rd_name(d, &im->module, &im->module_len));
    TRY(rd_name(d, &im->name, &im->name_len));
    const uint8_t *at = d->p;
    TRY(rd_u8(d, &im->kind));
    switch (im->kind) {
    case TW_EXTERN_FUNC:
      TRY(rd_u32(d, &im->desc.func_type));
      m->nfunc_imports++;
      break;
    case TW_EXTERN_TABLE:
      TRY(rd_reftype(d, &im->desc.table.reftype));
      TRY(rd_limits(d, &im->desc.table.limits));
      m->ntable_imports++;
      break;
    case TW_EXTERN_MEMORY:
      TRY(rd_limits(d, &im->desc.memory));
      m->nmemory_imports++;
      break;
    case TW_EXTERN_GLOBAL:
      TRY(rd_globaltype(d, &im->desc.global));
      m->nglobal_imports++;
      break;
    default:
      return fail(d, TW_EMALFORMED, at, "import %u: malformed import kind 0x%02x",
                  i, im->kind);
    }
  }
  return 0;
}

static int sec_function(struct dec *d) {
  struct tw__module *m = d->m;
  uint32_t n;
  const uint8_t *at = d->p;
  TRY(rd_count(d, &n, TW_LIMIT_FUNCS, 1, "functions"));
  if ((uint64_t)n + m->nfunc_imports > TW_LIMIT_FUNCS)
    return fail(d, TW_ELIMIT, at, "%u functions and %u imported (limit %u)",
                n, m->nfunc_imports, TW_LIMIT_FUNCS);
  m->funcs = tw__calloc(n, sizeof *m->funcs);
  if (!m->funcs) return fail(d, TW_ENOMEM, at, "out of memory");
  m->nfuncs = n;
  for (uint32_t i = 0; i < n; i++) TRY(rd_u32(d, &m->funcs[i].type));
  return 0;
}

static int sec_table(struct dec *d) {
  struct tw__module *m = d->m;
  uint32_t n;
  TRY(rd_count(d, &n, TW_LIMIT_TABLES, 1, "tables"));
  m->tables = tw__calloc(n, sizeof *m->tables);
  if (!m->tables) return fail(d, TW_ENOMEM, d->p, "out of memory");
  m->ntables = n;
  for (uint32_t i = 0; i < n; i++) {
    TRY(rd_reftype(d, &m->tables[i].reftype));
    TRY(rd_limits(d, &m->tables[i].limits));
  }
  return 0;
}

static int sec_memory(struct dec *d) {
  struct tw__module *m = d->m;
  uint32_t n;
  TRY(rd_count(d, &n, DECODE_MAX_MEMORIES, 1, "memories"));
  m->memories = tw__calloc(n, sizeof *m->memories);
  if (!m->memories) return fail(d, TW_ENOMEM, d->p, "out of memory");
  m->nmemories = n;
  for (uint32_t i = 0; i < n; i++) TRY(rd_limits(d, &m->memories[i]));
  return 0;
}

static int sec_global(struct dec *d) {
  struct tw__module *m = d->m;
  uint32_t n;
  const uint8_t *at = d->p;
  TRY(rd_count(d, &n, TW_LIMIT_GLOBALS, 1, "globals"));
  if ((uint64_t)n + m->nglobal_imports > TW_LIMIT_GLOBALS)
    return fail(d, TW_ELIMIT, at, "%u globals and %u imported (limit %u)", n,
                m->nglobal_imports, TW_LIMIT_GLOBALS);
  m->globals = tw__calloc(n, sizeof *m->globals);
  if (!m->globals) return fail(d, TW_ENOMEM, at, "out of memory");
  m->nglobals = n;
  for (uint32_t i = 0; i < n; i++) {
    TRY(rd_globaltype(d, &m->globals[i].type));
    TRY(rd_init(d, &m->globals[i].init));
  }
  return 0;
}

static int sec_export(struct dec *d) {
  struct tw__module *m = d->m;
  uint32_t n;
  TRY(rd_count(d, &n, TW_LIMIT_EXPORTS, 1, "exports"));
  m->exports = tw__calloc(n, sizeof *m->exports);
  if (!m->exports) return fail(d, TW_ENOMEM, d->p, "out of memory");
  m->nexports = n;
  for (uint32_t i = 0; i < n; i++) {
    struct tw__export *ex = &m->exports[i];
    TRY(rd_name(d, &ex->name, &ex->name_len));
    const uint8_t *at = d->p;
    TRY(rd_u8(d, &ex->kind));
    if (ex->kind > TW_EXTERN_GLOBAL)
      return fail(d, TW_EMALFORMED, at,
                  "export %u: malformed export kind 0x%02x", i, ex->kind);
    TRY(rd_u32(d, &ex->index));
  }
  return 0;
}

static int sec_start(struct dec *d) {
  TRY(rd_u32(d, &d->m->start));
  d->m->has_start = true;
  return 0;
}

/* Element segment items: function indexes (flags 0-3) or expressions
 * (flags 4-7), both stored as struct tw__init. */
static int elem_items(struct dec *d, struct tw__elem *e, bool exprs) {
  uint32_t n;
  const uint8_t *at = d->p;
  TRY(rd_count(d, &n, TW_LIMIT_ELEM_ITEMS, 1, "element items"));
  /* the limit is on the module's total: items cost 32 bytes each in the
   * IR, so per-segment limits alone would let a module amplify */
  d->elem_items += n;
  if (d->elem_items > TW_LIMIT_ELEM_ITEMS)
    return fail(d, TW_ELIMIT, at, "%llu element items in all (limit %u)",
                (unsigned long long)d->elem_items, TW_LIMIT_ELEM_ITEMS);
  e->items = tw__calloc(n, sizeof *e->items);
  if (!e->items) return fail(d, TW_ENOMEM, d->p, "out of memory");
  e->count = n;
  for (uint32_t i = 0; i < n; i++) {
    if (exprs) {
      TRY(rd_init(d, &e->items[i]));
    } else {
      e->items[i].kind = TW_INIT_REF_FUNC;
      e->items[i].type = TW_T_FUNCREF;
      TRY(rd_u32(d, &e->items[i].index));
    }
  }
  return 0;
}

static int elem_kind(struct dec *d) {
  const uint8_t *at = d->p;
  uint8_t k;
  TRY(rd_u8(d, &k));
  if (k != 0x00)
    return fail(d, TW_EMALFORMED, at, "malformed element kind 0x%02x", k);
  return 0;
}

static int sec_element(struct dec *d) {
  struct tw__module *m = d->m;
  uint32_t n;
  TRY(rd_count(d, &n, TW_LIMIT_ELEM_SEGMENTS, 1, "element segments"));
  m->elems = tw__calloc(n, sizeof *m->elems);
  if (!m->elems) return fail(d, TW_ENOMEM, d->p, "out of memory");
  m->nelems = n;
  for (uint32_t i = 0; i < n; i++) {
    struct tw__elem *e = &m->elems[i];
    const uint8_t *at = d->p;
    uint32_t flags;
    TRY(rd_u32(d, &flags));
    if (flags > 7)
      return fail(d, TW_EMALFORMED, at,
                  "element segment %u: malformed elements segment kind %u", i,
                  flags);
    bool exprs = flags & 4;
    e->reftype = TW_T_FUNCREF;
    if (!(flags & 1)) {
      e->mode = TW_SEG_ACTIVE;
      if (flags & 2) TRY(rd_u32(d, &e->table));
      TRY(rd_init(d, &e->offset));
    } else {
      e->mode = (flags & 2) ? TW_SEG_DECLARATIVE : TW_SEG_PASSIVE;
    }
    /* flags 0 and 4 carry no element kind / type: funcref implied */
    if (flags & 3) {
      if (exprs)
        TRY(rd_reftype(d, &e->reftype));
      else
        TRY(elem_kind(d));
    }
    TRY(elem_items(d, e, exprs));
  }
  return 0;
}

static int sec_datacount(struct dec *d) {
  TRY(rd_u32(d, &d->m->datacount));
  d->m->has_datacount = true;
  return 0;
}

/* One function body's locals: groups summed in 64 bits and checked
 * before anything is expanded. */
static int func_locals(struct dec *d, struct tw__func *f) {
  const uint8_t *at = d->p;
  uint32_t ngroups;
  TRY(rd_count(d, &ngroups, UINT32_MAX, 2, "local groups"));
  const uint8_t *groups = d->p;
  uint64_t total = 0;
  for (uint32_t g = 0; g < ngroups; g++) {
    uint32_t c;
    uint8_t t;
    TRY(rd_u32(d, &c));
    TRY(rd_valtype(d, &t));
    total += c;
  }
  if (total > UINT32_MAX)
    return fail(d, TW_EMALFORMED, at, "too many locals: %llu",
                (unsigned long long)total);
  uint64_t params = 0;
  if (f->type < d->m->ntypes) params = d->m->types[f->type].nparams;
  if (total + params > TW_LIMIT_LOCALS)
    return fail(d, TW_ELIMIT, at, "too many locals: %llu (limit %u)",
                (unsigned long long)(total + params), TW_LIMIT_LOCALS);
  f->local_types = tw__malloc((size_t)total);
  if (!f->local_types) return fail(d, TW_ENOMEM, at, "out of memory");
  f->nlocals = (uint32_t)total;
  const uint8_t *q = groups;
  uint32_t k = 0;
  for (uint32_t g = 0; g < ngroups; g++) {
    uint32_t c;
    /* already checked above: cannot fail */
    (void)tw__rd_u32(&q, d->send, &c);
    uint8_t t = *q++;
    memset(f->local_types + k, t, c);
    k += c;
  }
  return 0;
}

static int sec_code(struct dec *d) {
  struct tw__module *m = d->m;
  uint32_t n;
  const uint8_t *at = d->p;
  TRY(rd_u32(d, &n));
  if (n != m->nfuncs)
    return fail(d, TW_EMALFORMED, at,
                "function and code section have inconsistent lengths (%u "
                "functions, %u bodies)",
                m->nfuncs, n);
  for (uint32_t i = 0; i < n; i++) {
    struct tw__func *f = &m->funcs[i];
    d->func = (long)m->nfunc_imports + i;
    f->body_offset = (uint32_t)(d->p - d->base);
    const uint8_t *bat = d->p;
    uint32_t size;
    TRY(rd_u32(d, &size));
    if (size > (size_t)(d->send - d->p))
      return fail(d, TW_EMALFORMED, bat,
                  "unexpected end of section or function: body of %u bytes, "
                  "%lu left",
                  size, (unsigned long)(d->send - d->p));
    if (size > TW_LIMIT_FUNC_BODY_BYTES)
      return fail(d, TW_ELIMIT, bat, "body of %u bytes (limit %u)", size,
                  TW_LIMIT_FUNC_BODY_BYTES);
    const uint8_t *send = d->send;
    const uint8_t *bend = d->p + size;
    d->send = bend; /* the body bounds its own reads */
    int rc = func_locals(d, f);
    d->send = send;
    if (rc) return rc;
    f->code = d->p;
    f->end = bend;
    if (f->code == bend || bend[-1] != 0x0b)
      return fail(d, TW_EMALFORMED, bend > bat ? bend - 1 : bat,
                  "unexpected end of section or function: END opcode "
                  "expected");
    d->p = bend;
  }
  d->func = -1;
  return 0;
}

static int sec_data(struct dec *d) {
  struct tw__module *m = d->m;
  uint32_t n;
  const uint8_t *at = d->p;
  TRY(rd_count(d, &n, TW_LIMIT_DATA_SEGMENTS, 1, "data segments"));
  if (m->has_datacount && n != m->datacount)
    return fail(d, TW_EMALFORMED, at,
                "data count and data section have inconsistent lengths (%u "
                "and %u)",
                m->datacount, n);
  m->datas = tw__calloc(n, sizeof *m->datas);
  if (!m->datas) return fail(d, TW_ENOMEM, at, "out of memory");
  m->ndatas = n;
  for (uint32_t i = 0; i < n; i++) {
    struct tw__data *s = &m->datas[i];
    const uint8_t *fat = d->p;
    uint32_t flags;
    TRY(rd_u32(d, &flags));
    if (flags > 2)
      return fail(d, TW_EMALFORMED, fat,
                  "data segment %u: malformed data segment kind %u", i, flags);
    s->mode = flags == 1 ? TW_SEG_PASSIVE : TW_SEG_ACTIVE;
    if (flags == 2) TRY(rd_u32(d, &s->memory));
    if (flags != 1) TRY(rd_init(d, &s->offset));
    const uint8_t *lat = d->p;
    TRY(rd_u32(d, &s->len));
    if (s->len > (size_t)(d->send - d->p))
      return fail(d, TW_EMALFORMED, lat,
                  "unexpected end of section or function: data segment %u of "
                  "%u bytes, %lu left", i,
                  s->len, (unsigned long)(d->send - d->p));
    s->bytes = d->p;
    d->p += s->len;
  }
  return 0;
}

static int sec_custom(struct dec *d) {
  char *name = NULL;
  uint32_t len;
  TRY(rd_name(d, &name, &len));
  if (len == 4 && !memcmp(name, "name", 4) && !d->names) {
    d->names = d->p;
    d->names_end = d->send;
  }
  tw__free(name);
  d->p = d->send; /* contents are opaque */
  return 0;
}

/* Section order rank: ids 1-9, then datacount (12), code (10), data (11). */
static int sec_rank(int id) {
  if (id == SEC_DATACOUNT) return 10;
  if (id == 10) return 11;
  if (id == 11) return 12;
  return id;
}

static int decode_sections(struct dec *d) {
  int last = 0;
  bool saw_code = false, saw_data = false;
  while (d->p < d->fend) {
    d->sec = -1;
    d->send = d->fend;
    const uint8_t *at = d->p;
    uint8_t id;
    uint32_t size;
    TRY(rd_u8(d, &id));
    if (id > SEC_MAX)
      return fail(d, TW_EMALFORMED, at, "malformed section id %u", id);
    d->sec = id;
    TRY(rd_u32(d, &size));
    if (size > (size_t)(d->fend - d->p))
      return fail(d, TW_EMALFORMED, at,
                  "length out of bounds: section of %u bytes, %lu left", size,
                  (unsigned long)(d->fend - d->p));
    d->send = d->p + size;
    if (id != SEC_CUSTOM) {
      if (sec_rank(id) <= last)
        return fail(d, TW_EMALFORMED, at,
                    "unexpected content after last section (out of order "
                    "or duplicate)");
      last = sec_rank(id);
    }
    int rc = 0;
    switch (id) {
    case 0: rc = sec_custom(d); break;
    case 1: rc = sec_type(d); break;
    case 2: rc = sec_import(d); break;
    case 3: rc = sec_function(d); break;
    case 4: rc = sec_table(d); break;
    case 5: rc = sec_memory(d); break;
    case 6: rc = sec_global(d); break;
    case 7: rc = sec_export(d); break;
    case 8: rc = sec_start(d); break;
    case 9: rc = sec_element(d); break;
    case 10: rc = sec_code(d); saw_code = true; break;
    case 11: rc = sec_data(d); saw_data = true; break;
    case 12: rc = sec_datacount(d); break;
    }
    if (rc) return rc;
    if (d->p != d->send)
      return fail(d, TW_EMALFORMED, d->p,
                  "section size mismatch: %lu bytes left over",
                  (unsigned long)(d->send - d->p));
  }
  d->sec = -1;
  if (!saw_code && d->m->nfuncs != 0)
    return fail(d, TW_EMALFORMED, NULL,
                "function and code section have inconsistent lengths (%u "
                "functions, no code section)",
                d->m->nfuncs);
  if (!saw_data && d->m->has_datacount && d->m->datacount != 0)
    return fail(d, TW_EMALFORMED, NULL,
                "data count and data section have inconsistent lengths (%u "
                "and no data section)",
                d->m->datacount);
  return 0;
}

int tw__module_decode(const uint8_t *bytes, size_t size,
                      struct tw__module **out, char *err, size_t errlen) {
  static const uint8_t magic[4] = {0x00, 0x61, 0x73, 0x6d};
  static const uint8_t version[4] = {0x01, 0x00, 0x00, 0x00};
  int rc;
  *out = NULL;
  if (err && errlen) err[0] = '\0';
  if (size > TW_LIMIT_MODULE_BYTES)
    return tw__err(TW_ELIMIT, err, errlen, "module of %zu bytes (limit %u)",
                   size, TW_LIMIT_MODULE_BYTES);
  if (size < 4)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "byte 0x%zx: unexpected end (magic header)", size);
  if (memcmp(bytes, magic, 4) != 0)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "byte 0x0: magic header not detected");
  if (size < 8)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "byte 0x%zx: unexpected end (binary version)", size);
  if (memcmp(bytes + 4, version, 4) != 0)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "byte 0x4: unknown binary version");

  struct tw__module *m = tw__calloc(1, sizeof *m);
  if (!m) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  m->bytes = tw__malloc(size);
  if (!m->bytes) {
    rc = tw__err(TW_ENOMEM, err, errlen, "out of memory");
    goto fail_module;
  }
  memcpy(m->bytes, bytes, size);
  m->size = size;

  struct dec d = {0};
  d.base = m->bytes;
  d.fend = m->bytes + size;
  d.send = d.fend;
  d.p = m->bytes + 8;
  d.sec = -1;
  d.func = -1;
  d.err = err;
  d.errlen = errlen;
  d.m = m;
  tw__reader_init(&d.rd, m->bytes, d.p, d.fend);
  rc = decode_sections(&d);
  tw__reader_close(&d.rd);
  if (rc) goto fail_module;
  if (d.names) tw__names_parse(m, d.names, d.names_end);
  *out = m;
  return 0;

fail_module:
  tw__module_free(m);
  return rc;
}
