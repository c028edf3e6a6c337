/* Module-level validation (WebAssembly 2.0): index spaces, limits,
 * constant expressions, segments, start function, exports, and the set of
 * functions ref.func may name; then the bodies (validate_func.c).
 * Reads the IR only; allocates two scratch arrays (a bitmap over the
 * function index space, a sort array over the exports) and frees both.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "wasm/validate_int.h"

TW_PRINTF(4, 5)
static int invalid(char *err, size_t errlen, const char *where,
                   const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tw__err(TW_EINVALID, err, errlen, "%s: %s", where, msg);
}

static const char *name_of(uint8_t t) { return tw__valtype_name(t); }

static int check_table_limits(const struct tw__limits *l, const char *where,
                              char *err, size_t errlen) {
  if (l->has_max && l->min > l->max)
    return invalid(err, errlen, where,
                   "size minimum must not be greater than maximum "
                   "(%llu > %llu)",
                   (unsigned long long)l->min, (unsigned long long)l->max);
  return 0;
}

static int check_memory_limits(const struct tw__limits *l, const char *where,
                               char *err, size_t errlen) {
  if (l->min > TW_LIMIT_MEMORY_PAGES ||
      (l->has_max && l->max > TW_LIMIT_MEMORY_PAGES))
    return invalid(err, errlen, where,
                   "memory size must be at most 65536 pages (4GiB)");
  return check_table_limits(l, where, err, errlen);
}

/* Checks a constant expression against the type it must have. In 2.0 a
 * global.get in one may only name an imported, immutable global. */
static int check_init(const struct tw__module *m, const struct tw__init *in,
                      uint8_t want, const char *where, char *err,
                      size_t errlen) {
  uint8_t got;
  switch (in->kind) {
  case TW_INIT_NONCONST:
    return invalid(err, errlen, where,
                   "constant expression required (byte 0x%x)", in->index);
  case TW_INIT_ARITY:
    return invalid(err, errlen, where,
                   "type mismatch: a constant expression must leave exactly "
                   "one value (byte 0x%x)",
                   in->index);
  case TW_INIT_CONST:
  case TW_INIT_REF_NULL:
    got = in->type;
    break;
  case TW_INIT_REF_FUNC:
    if (in->index >= tw__module_func_count(m))
      return invalid(err, errlen, where, "unknown function %u", in->index);
    got = TW_T_FUNCREF;
    break;
  case TW_INIT_GLOBAL_GET: {
    if (in->index >= m->nglobal_imports)
      return invalid(err, errlen, where, "unknown global %u", in->index);
    const struct tw__globaltype *g = tw__module_global(m, in->index);
    if (g->mutable_)
      return invalid(err, errlen, where,
                     "constant expression required: global %u is mutable",
                     in->index);
    got = g->type;
    break;
  }
  default:
    return invalid(err, errlen, where, "constant expression required");
  }
  if (got != want)
    return invalid(err, errlen, where, "type mismatch: expected %s, got %s",
                   name_of(want), name_of(got));
  return 0;
}

static int check_imports(const struct tw__module *m, char *err,
                         size_t errlen) {
  char where[64];
  int rc;
  for (uint32_t i = 0; i < m->nimports; i++) {
    const struct tw__import *im = &m->imports[i];
    snprintf(where, sizeof where, "import %u", i);
    switch (im->kind) {
    case TW_EXTERN_FUNC:
      if (im->desc.func_type >= m->ntypes)
        return invalid(err, errlen, where, "unknown type %u",
                       im->desc.func_type);
      break;
    case TW_EXTERN_TABLE:
      if ((rc = check_table_limits(&im->desc.table.limits, where, err,
                                   errlen)))
        return rc;
      break;
    case TW_EXTERN_MEMORY:
      if ((rc = check_memory_limits(&im->desc.memory, where, err, errlen)))
        return rc;
      break;
    default:
      break;
    }
  }
  return 0;
}

static int check_definitions(const struct tw__module *m, char *err,
                             size_t errlen) {
  char where[64];
  int rc;
  for (uint32_t i = 0; i < m->nfuncs; i++)
    if (m->funcs[i].type >= m->ntypes) {
      snprintf(where, sizeof where, "function %u", m->nfunc_imports + i);
      return invalid(err, errlen, where, "unknown type %u", m->funcs[i].type);
    }
  for (uint32_t i = 0; i < m->ntables; i++) {
    snprintf(where, sizeof where, "table %u", m->ntable_imports + i);
    if ((rc = check_table_limits(&m->tables[i].limits, where, err, errlen)))
      return rc;
  }
  if (tw__module_memory_count(m) > 1)
    return invalid(err, errlen, "memory section",
                   "multiple memories (%u; 2.0 allows one)",
                   tw__module_memory_count(m));
  for (uint32_t i = 0; i < m->nmemories; i++) {
    snprintf(where, sizeof where, "memory %u", m->nmemory_imports + i);
    if ((rc = check_memory_limits(&m->memories[i], where, err, errlen)))
      return rc;
  }
  for (uint32_t i = 0; i < m->nglobals; i++) {
    snprintf(where, sizeof where, "global %u", m->nglobal_imports + i);
    if ((rc = check_init(m, &m->globals[i].init, m->globals[i].type.type,
                         where, err, errlen)))
      return rc;
  }
  return 0;
}

static int check_segments(const struct tw__module *m, char *err,
                          size_t errlen) {
  char where[64];
  int rc;
  for (uint32_t i = 0; i < m->nelems; i++) {
    const struct tw__elem *e = &m->elems[i];
    snprintf(where, sizeof where, "element segment %u", i);
    if (e->mode == TW_SEG_ACTIVE) {
      if (e->table >= tw__module_table_count(m))
        return invalid(err, errlen, where, "unknown table %u", e->table);
      uint8_t tt = tw__module_table(m, e->table)->reftype;
      if (tt != e->reftype)
        return invalid(err, errlen, where,
                       "type mismatch: segment of %s for table %u of %s",
                       name_of(e->reftype), e->table, name_of(tt));
      if ((rc = check_init(m, &e->offset, TW_T_I32, where, err, errlen)))
        return rc;
    }
    for (uint32_t k = 0; k < e->count; k++)
      if ((rc = check_init(m, &e->items[k], e->reftype, where, err, errlen)))
        return rc;
  }
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const struct tw__data *d = &m->datas[i];
    if (d->mode != TW_SEG_ACTIVE) continue;
    snprintf(where, sizeof where, "data segment %u", i);
    if (d->memory >= tw__module_memory_count(m))
      return invalid(err, errlen, where, "unknown memory %u", d->memory);
    if ((rc = check_init(m, &d->offset, TW_T_I32, where, err, errlen)))
      return rc;
  }
  return 0;
}

static int check_start(const struct tw__module *m, char *err,
                       size_t errlen) {
  if (!m->has_start) return 0;
  if (m->start >= tw__module_func_count(m))
    return invalid(err, errlen, "start section", "unknown function %u",
                   m->start);
  const struct tw__functype *ft = &m->types[tw__module_func_type(m, m->start)];
  if (ft->nparams != 0 || ft->nresults != 0)
    return invalid(err, errlen, "start section",
                   "start function %u must have type [] -> []", m->start);
  return 0;
}

static int cmp_export_names(const void *a, const void *b) {
  const struct tw__export *x = *(const struct tw__export *const *)a;
  const struct tw__export *y = *(const struct tw__export *const *)b;
  uint32_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
  int c = n ? memcmp(x->name, y->name, n) : 0;
  if (c) return c;
  return (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Export indexes, then name uniqueness: O(n log n) by sorting pointers. */
static int check_exports(const struct tw__module *m, char *err,
                         size_t errlen) {
  static const char *const kinds[] = {"function", "table", "memory",
                                      "global"};
  char where[64], esc[64];
  for (uint32_t i = 0; i < m->nexports; i++) {
    const struct tw__export *x = &m->exports[i];
    uint32_t count;
    switch (x->kind) {
    case TW_EXTERN_FUNC: count = tw__module_func_count(m); break;
    case TW_EXTERN_TABLE: count = tw__module_table_count(m); break;
    case TW_EXTERN_MEMORY: count = tw__module_memory_count(m); break;
    case TW_EXTERN_GLOBAL: count = tw__module_global_count(m); break;
    default:
      return tw__err(TW_EMALFORMED, err, errlen,
                     "export %u: malformed export kind %u", i, x->kind);
    }
    if (x->index >= count) {
      snprintf(where, sizeof where, "export %u", i);
      return invalid(err, errlen, where, "unknown %s %u", kinds[x->kind],
                     x->index);
    }
  }
  if (m->nexports < 2) return 0;

  const struct tw__export **v = tw__reallocarray(NULL, m->nexports,
                                                 sizeof *v);
  if (!v) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  for (uint32_t i = 0; i < m->nexports; i++) v[i] = &m->exports[i];
  qsort(v, m->nexports, sizeof *v, cmp_export_names);
  int rc = 0;
  for (uint32_t i = 1; i < m->nexports; i++)
    if (cmp_export_names(&v[i - 1], &v[i]) == 0) {
      tw__escape((const uint8_t *)v[i]->name, v[i]->name_len, esc,
                 sizeof esc);
      rc = invalid(err, errlen, "export section",
                   "duplicate export name \"%s\"", esc);
      break;
    }
  tw__free(v);
  return rc;
}

static void declare(uint8_t *bits, uint32_t n, uint32_t idx) {
  if (idx < n) bits[idx >> 3] |= (uint8_t)(1u << (idx & 7));
}

/* C.refs of the spec: functions named outside function bodies. */
static uint8_t *declared_funcs(const struct tw__module *m) {
  uint32_t n = tw__module_func_count(m);
  uint8_t *bits = tw__calloc((size_t)n / 8 + 1, 1);
  if (!bits) return NULL;
  for (uint32_t i = 0; i < m->nelems; i++)
    for (uint32_t k = 0; k < m->elems[i].count; k++)
      if (m->elems[i].items[k].kind == TW_INIT_REF_FUNC)
        declare(bits, n, m->elems[i].items[k].index);
  for (uint32_t i = 0; i < m->nexports; i++)
    if (m->exports[i].kind == TW_EXTERN_FUNC)
      declare(bits, n, m->exports[i].index);
  for (uint32_t i = 0; i < m->nglobals; i++)
    if (m->globals[i].init.kind == TW_INIT_REF_FUNC)
      declare(bits, n, m->globals[i].init.index);
  return bits;
}

int tw__module_validate(const struct tw__module *m, char *err,
                        size_t errlen) {
  int rc;
  if ((rc = check_imports(m, err, errlen))) return rc;
  if ((rc = check_definitions(m, err, errlen))) return rc;
  if ((rc = check_segments(m, err, errlen))) return rc;
  if ((rc = check_start(m, err, errlen))) return rc;
  if ((rc = check_exports(m, err, errlen))) return rc;

  uint8_t *declared = declared_funcs(m);
  if (!declared) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  rc = tw__validate_code(m, declared, err, errlen);
  tw__free(declared);
  return rc;
}
