/* The linker: (module, name) -> external, for resolving imports.
 * Names are copied and compared as byte strings. Host functions carry
 * their canonical type id; instance exports point at the instance's own
 * objects (which its store keeps alive); host-created memories, tables and
 * globals are owned by the store they were created in. Lookup is a linear
 * scan: linkers hold tens to hundreds of names.
 */
#include "rt/rt.h"

#include <string.h>

struct link_entry {
  char *module;
  size_t module_len;
  char *name;
  size_t name_len;
  struct tw__rt_extern ext;
};

struct tw_linker {
  tw_engine_t *engine;
  struct link_entry *v;
  size_t n, cap;
};

int tw_linker_new(tw_engine_t *engine, tw_linker_t **out) {
  if (!engine || !out) return TW_EINVAL;
  tw_linker_t *l = tw__calloc(1, sizeof *l);
  if (!l) return TW_ENOMEM;
  l->engine = engine;
  *out = l;
  return 0;
}

void tw_linker_free(tw_linker_t *l) {
  if (!l) return;
  for (size_t i = 0; i < l->n; i++) {
    tw__free(l->v[i].module);
    tw__free(l->v[i].name);
  }
  tw__free(l->v);
  tw__free(l);
}

static struct link_entry *find(const tw_linker_t *l, const char *module,
                               size_t mlen, const char *name, size_t nlen) {
  for (size_t i = 0; i < l->n; i++) {
    struct link_entry *e = &l->v[i];
    if (e->module_len == mlen && e->name_len == nlen &&
        memcmp(e->module, module, mlen) == 0 &&
        memcmp(e->name, name, nlen) == 0)
      return e;
  }
  return NULL;
}

const struct tw__rt_extern *tw__rt_linker_lookup(const tw_linker_t *l,
                                                 const char *module,
                                                 size_t mlen,
                                                 const char *name,
                                                 size_t nlen) {
  if (!l) return NULL;
  struct link_entry *e = find(l, module, mlen, name, nlen);
  return e ? &e->ext : NULL;
}

/* Adds or (if `overwrite`) replaces module.name. */
static int define(tw_linker_t *l, const char *module, size_t mlen,
                  const char *name, size_t nlen,
                  const struct tw__rt_extern *ext, bool overwrite) {
  struct link_entry *e = find(l, module, mlen, name, nlen);
  if (e) {
    if (!overwrite) return TW_EEXISTS;
    e->ext = *ext;
    return 0;
  }
  if (l->n == l->cap) {
    size_t cap = l->cap ? l->cap * 2 : 16;
    struct link_entry *nv = tw__reallocarray(l->v, cap, sizeof *nv);
    if (!nv) return TW_ENOMEM;
    l->v = nv;
    l->cap = cap;
  }
  char *m = tw__strndup(module, mlen);
  char *n = tw__strndup(name, nlen);
  if (!m || !n) {
    tw__free(m);
    tw__free(n);
    return TW_ENOMEM;
  }
  l->v[l->n++] = (struct link_entry){m, mlen, n, nlen, *ext};
  return 0;
}

int tw_linker_define_func(tw_linker_t *l, const char *module,
                          const char *name, const tw_functype_t *type,
                          tw_host_fn fn, void *user) {
  if (!l || !module || !name || !type || !fn) return TW_EINVAL;
  if ((type->nparams && !type->params) || (type->nresults && !type->results))
    return TW_EINVAL;
  if (type->nparams > TW_LIMIT_FUNC_PARAMS ||
      type->nresults > TW_LIMIT_FUNC_RESULTS)
    return TW_ELIMIT;
  size_t mlen = strlen(module), nlen = strlen(name);
  if (find(l, module, mlen, name, nlen)) return TW_EEXISTS;
  uint8_t small[64];
  size_t nt = (size_t)type->nparams + type->nresults;
  uint8_t *t = nt <= sizeof small ? small : tw__malloc(nt);
  if (!t) return TW_ENOMEM;
  if (type->nparams) memcpy(t, type->params, type->nparams);
  if (type->nresults) memcpy(t + type->nparams, type->results, type->nresults);
  struct tw__rt_extern ext = {.kind = TW_EXTERN_FUNC, .host_fn = fn,
                              .user = user};
  int rc = tw__rt_type_intern(l->engine, type->nparams, type->nresults, t,
                              &ext.type_id);
  if (t != small) tw__free(t);
  if (rc) return rc;
  return define(l, module, mlen, name, nlen, &ext, false);
}

int tw_linker_define_instance(tw_linker_t *l, const char *module_name,
                              tw_instance_t *inst) {
  if (!l || !module_name || !inst) return TW_EINVAL;
  const struct tw__module *m = inst->module->m;
  size_t mlen = strlen(module_name);
  for (uint32_t i = 0; i < m->nexports; i++) {
    const struct tw__export *ex = &m->exports[i];
    struct tw__rt_extern ext = {.kind = ex->kind};
    switch (ex->kind) {
    case TW_EXTERN_FUNC:
      ext.u.func = inst->in.funcs[ex->index];
      ext.type_id = ext.u.func->type_id;
      break;
    case TW_EXTERN_TABLE:
      ext.u.table = (struct tw__rt_table *)inst->in.tables[ex->index];
      break;
    case TW_EXTERN_MEMORY:
      ext.u.memory = (struct tw__rt_memory *)inst->in.memories[ex->index];
      break;
    case TW_EXTERN_GLOBAL:
      ext.u.global = (struct tw__rt_global *)inst->in.globals[ex->index];
      break;
    default:
      return TW_EINVAL;
    }
    int rc = define(l, module_name, mlen, ex->name, ex->name_len, &ext, true);
    if (rc) return rc;
  }
  return 0;
}

int tw_linker_define_memory(tw_linker_t *l, tw_store_t *store,
                            const char *module, const char *name,
                            uint32_t min_pages, uint32_t max_pages,
                            bool has_max) {
  if (!l || !store || !module || !name) return TW_EINVAL;
  if ((has_max && max_pages < min_pages) ||
      min_pages > TW_LIMIT_MEMORY_PAGES ||
      (has_max && max_pages > TW_LIMIT_MEMORY_PAGES))
    return TW_EINVAL;
  size_t mlen = strlen(module), nlen = strlen(name);
  if (find(l, module, mlen, name, nlen)) return TW_EEXISTS;
  struct tw__rt_memory *mem;
  int rc = tw__rt_memory_new(store, min_pages, max_pages, has_max,
                             store->engine->cfg.max_memory_bytes, &mem, NULL,
                             0);
  if (rc) return rc;
  if ((rc = tw__rt_store_own(store, TW__RT_OWN_MEMORY, mem))) {
    tw__rt_memory_free(mem);
    return rc;
  }
  struct tw__rt_extern ext = {.kind = TW_EXTERN_MEMORY, .u.memory = mem};
  return define(l, module, mlen, name, nlen, &ext, false);
}

int tw_linker_define_table(tw_linker_t *l, tw_store_t *store,
                           const char *module, const char *name,
                           tw_valtype_t reftype, uint32_t min, uint32_t max,
                           bool has_max) {
  if (!l || !store || !module || !name) return TW_EINVAL;
  if ((reftype != TW_FUNCREF && reftype != TW_EXTERNREF) ||
      (has_max && max < min))
    return TW_EINVAL;
  size_t mlen = strlen(module), nlen = strlen(name);
  if (find(l, module, mlen, name, nlen)) return TW_EEXISTS;
  struct tw__rt_table *t;
  int rc = tw__rt_table_new(store, (uint8_t)reftype, min, max, has_max, &t,
                            NULL, 0);
  if (rc) return rc;
  struct tw__rt_extern ext = {.kind = TW_EXTERN_TABLE, .u.table = t};
  return define(l, module, mlen, name, nlen, &ext, false);
}

int tw_linker_define_global(tw_linker_t *l, tw_store_t *store,
                            const char *module, const char *name,
                            const tw_val_t *value, bool mutable_) {
  if (!l || !store || !module || !name || !value) return TW_EINVAL;
  switch (value->type) {
  case TW_I32: case TW_I64: case TW_F32: case TW_F64: case TW_V128:
  case TW_FUNCREF: case TW_EXTERNREF:
    break;
  default:
    return TW_EINVAL;
  }
  size_t mlen = strlen(module), nlen = strlen(name);
  if (find(l, module, mlen, name, nlen)) return TW_EEXISTS;
  struct tw__rt_global *g = tw__calloc(1, sizeof *g);
  if (!g) return TW_ENOMEM;
  tw__rt_val_to_raw(value, &g->val);
  g->type = value->type;
  g->mutable_ = mutable_;
  int rc = tw__rt_store_own(store, TW__RT_OWN_GLOBAL, g);
  if (rc) {
    tw__free(g);
    return rc;
  }
  struct tw__rt_extern ext = {.kind = TW_EXTERN_GLOBAL, .u.global = g};
  return define(l, module, mlen, name, nlen, &ext, false);
}
