/* Stores and instantiation (WebAssembly 2.0, "instantiate"): resolve
 * imports, allocate the module's memories, tables and globals in the store,
 * build the generated code's view (struct twr_inst), initialise globals,
 * apply element then data segments, run the start function.
 * Invariant: until the first segment is applied a failure frees all it
 * made; from then on the instance belongs to the store even if it fails,
 * because its functions may already sit in imported tables (the spec keeps
 * earlier segments' writes visible).
 * Instances are cheap: memory 0's contents after the active data segments
 * are written once per module into a sealed memfd (the image) and mapped
 * copy-on-write into each new instance instead of copied; reset discards
 * an instance's private pages and replays the rest of instantiation.
 */
#include "rt/rt.h"
#include "tw/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/hash.h"

/* ---- Stores ---- */

int tw_store_new(tw_engine_t *engine, tw_store_t **out) {
  if (!engine || !out) return TW_EINVAL;
  tw_store_t *s = tw__calloc(1, sizeof *s);
  if (!s) return TW_ENOMEM;
  s->engine = engine;
  atomic_init(&s->exec, NULL);
  atomic_init(&s->interrupted, false);
  atomic_init(&s->interrupters, 0);
  tw__rt_set_trap(s, TW_TRAP_NONE, 0, NULL);
  *out = s;
  return 0;
}

static void owned_free(struct tw__rt_owned *o) {
  switch (o->kind) {
  case TW__RT_OWN_MEMORY:
    tw__rt_memory_free(o->p);
    break;
  case TW__RT_OWN_TABLE: {
    struct tw__rt_table *t = o->p;
    tw__free(t->t.elems);
    tw__free(t);
    break;
  }
  case TW__RT_OWN_INSTANCE:
    tw__rt_instance_free(o->p);
    break;
  default:
    tw__free(o->p);
    break;
  }
}

void tw__rt_store_truncate(tw_store_t *s, size_t mark) {
  while (s->nowned > mark) owned_free(&s->owned[--s->nowned]);
}

void tw_store_free(tw_store_t *s) {
  if (!s) return;
  tw__rt_store_truncate(s, 0);
  tw__free(s->owned);
  tw__free(s);
}

int tw__rt_store_own(tw_store_t *s, uint8_t kind, void *p) {
  if (s->nowned == s->owned_cap) {
    size_t cap = s->owned_cap ? s->owned_cap * 2 : 16;
    struct tw__rt_owned *n = tw__reallocarray(s->owned, cap, sizeof *n);
    if (!n) return TW_ENOMEM;
    s->owned = n;
    s->owned_cap = cap;
  }
  s->owned[s->nowned++] = (struct tw__rt_owned){kind, p};
  return 0;
}

int tw__rt_table_new(tw_store_t *s, uint8_t reftype, uint64_t min,
                     uint64_t max, bool has_max, struct tw__rt_table **out,
                     char *err, size_t errlen) {
  *out = NULL;
  uint32_t cap = s->engine->cfg.max_table_elems;
  if (min > cap)
    return tw__err(TW_ELIMIT, err, errlen,
                   "table of %llu elements exceeds the limit of %u",
                   (unsigned long long)min, cap);
  struct tw__rt_table *t = tw__calloc(1, sizeof *t);
  if (!t) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  t->t.elems = tw__calloc(min ? min : 1, sizeof(void *));
  if (!t->t.elems || tw__rt_store_own(s, TW__RT_OWN_TABLE, t)) {
    tw__free(t->t.elems);
    tw__free(t);
    return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  }
  t->t.size = (uint32_t)min;
  t->t.max = has_max && max < cap ? (uint32_t)max : cap;
  t->t.reftype = reftype;
  t->decl_max = (uint32_t)max;
  t->has_max = has_max;
  *out = t;
  return 0;
}

/* ---- Instances ---- */

void tw__rt_instance_free(tw_instance_t *inst) {
  if (!inst) return;
  if (inst->elems) {
    for (uint32_t i = 0; i < inst->module->m->nelems; i++)
      tw__free(inst->elems[i].items);
  }
  tw__free(inst->elems);
  tw__free(inst->datas);
  tw__free(inst->bindings);
  tw__free(inst->import_funcs);
  tw__free(inst->own_funcs);
  tw__free(inst->funcs);
  tw__free(inst->globals);
  tw__free(inst->tables);
  tw__free(inst->memories);
  tw_module_free(inst->module);
  tw__free(inst);
}

/* "unknown import" / "incompatible import type" with the import's names. */
static int import_err(const struct tw__import *im, const char *what,
                      char *err, size_t errlen) {
  char m[128], n[128];
  tw__escape((const uint8_t *)im->module, im->module_len, m, sizeof m);
  tw__escape((const uint8_t *)im->name, im->name_len, n, sizeof n);
  return tw__err(TW_EUNLINKABLE, err, errlen, "%s: \"%s\" \"%s\"", what, m,
                 n);
}

/* Limits subtyping: actual (min, max?) matches the import's (min, max?). */
static bool limits_match(uint64_t amin, uint64_t amax, bool ahas,
                         const struct tw__limits *im) {
  if (amin < im->min) return false;
  if (!im->has_max) return true;
  return ahas && amax <= im->max;
}

static int resolve_imports(tw_instance_t *inst, const tw_linker_t *linker,
                           char *err, size_t errlen) {
  const tw_module_t *mod = inst->module;
  const struct tw__module *m = mod->m;
  uint32_t fi = 0, ti = 0, mi = 0, gi = 0;
  for (uint32_t i = 0; i < m->nimports; i++) {
    const struct tw__import *im = &m->imports[i];
    const struct tw__rt_extern *ext = tw__rt_linker_lookup(
        linker, im->module, im->module_len, im->name, im->name_len);
    if (!ext) return import_err(im, "unknown import", err, errlen);
    if (ext->kind != im->kind)
      return import_err(im, "incompatible import type", err, errlen);
    switch (im->kind) {
    case TW_EXTERN_FUNC: {
      uint32_t tidx = im->desc.func_type;
      if (ext->type_id != mod->type_ids[tidx])
        return import_err(im, "incompatible import type", err, errlen);
      if (ext->u.func) {
        inst->funcs[fi] = ext->u.func;
      } else {
        struct tw__rt_binding *b = &inst->bindings[fi];
        *b = (struct tw__rt_binding){ext->host_fn, ext->user, ext->type_id,
                                     inst};
        inst->import_funcs[fi] = (struct twr_func){
            mod->rc.import_thunks[fi], b, mod->rc.invokers[tidx],
            ext->type_id};
        inst->funcs[fi] = &inst->import_funcs[fi];
      }
      fi++;
      break;
    }
    case TW_EXTERN_TABLE: {
      const struct tw__rt_table *t = ext->u.table;
      if (t->t.reftype != im->desc.table.reftype ||
          !limits_match(t->t.size, t->decl_max, t->has_max,
                        &im->desc.table.limits))
        return import_err(im, "incompatible import type", err, errlen);
      inst->tables[ti++] = (struct twr_table *)&ext->u.table->t;
      break;
    }
    case TW_EXTERN_MEMORY: {
      const struct tw__rt_memory *mem = ext->u.memory;
      if (!limits_match(mem->m.pages, mem->decl_max, mem->has_max,
                        &im->desc.memory))
        return import_err(im, "incompatible import type", err, errlen);
      inst->memories[mi++] = &ext->u.memory->m;
      break;
    }
    case TW_EXTERN_GLOBAL: {
      const struct tw__rt_global *g = ext->u.global;
      if (g->type != im->desc.global.type ||
          g->mutable_ != im->desc.global.mutable_)
        return import_err(im, "incompatible import type", err, errlen);
      inst->globals[gi++] = &ext->u.global->val;
      break;
    }
    default:
      return import_err(im, "incompatible import type", err, errlen);
    }
  }
  return 0;
}

/* Evaluates a constant expression (validated: the kinds below only). */
static void eval_init(const tw_instance_t *inst, const struct tw__init *e,
                      twr_val *out) {
  memset(out, 0, sizeof *out);
  switch (e->kind) {
  case TW_INIT_CONST:
    if (e->type == TW_T_V128) {
      memcpy(&out->v128, e->value.v128, 16);
    } else if (e->type == TW_T_I64 || e->type == TW_T_F64) {
      out->i64 = e->value.bits;
    } else {
      out->i32 = (uint32_t)e->value.bits;
    }
    break;
  case TW_INIT_REF_FUNC:
    out->ref = (void *)inst->funcs[e->index];
    break;
  case TW_INIT_GLOBAL_GET:
    *out = *inst->globals[e->index];
    break;
  default: /* TW_INIT_REF_NULL */
    out->ref = NULL;
    break;
  }
}

/* Allocates the instance's own memories, tables and globals in the store
 * and fills the generated code's view. */
static int allocate(tw_instance_t *inst, char *err, size_t errlen) {
  tw_store_t *s = inst->store;
  const tw_module_t *mod = inst->module;
  const struct tw__module *m = mod->m;
  int rc;
  for (uint32_t i = 0; i < m->nmemories; i++) {
    const struct tw__limits *l = &m->memories[i];
    struct tw__rt_memory *mem;
    rc = tw__rt_memory_new(s, l->min, l->max, l->has_max,
                           s->engine->cfg.max_memory_bytes, &mem, err, errlen);
    if (rc) return rc;
    if (tw__rt_store_own(s, TW__RT_OWN_MEMORY, mem)) {
      tw__rt_memory_free(mem);
      return tw__err(TW_ENOMEM, err, errlen, "out of memory");
    }
    inst->memories[m->nmemory_imports + i] = &mem->m;
  }
  for (uint32_t i = 0; i < m->ntables; i++) {
    const struct tw__tabletype *tt = &m->tables[i];
    struct tw__rt_table *t;
    rc = tw__rt_table_new(s, tt->reftype, tt->limits.min, tt->limits.max,
                          tt->limits.has_max, &t, err, errlen);
    if (rc) return rc;
    inst->tables[m->ntable_imports + i] = &t->t;
  }
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    uint32_t tidx = m->funcs[i].type;
    inst->own_funcs[i] = (struct twr_func){mod->rc.funcs[i], inst,
                                           mod->rc.invokers[tidx],
                                           mod->type_ids[tidx]};
    inst->funcs[m->nfunc_imports + i] = &inst->own_funcs[i];
  }
  /* Globals in order: an initializer reads only imported globals (2.0)
   * and functions, which are all in place. */
  for (uint32_t i = 0; i < m->nglobals; i++) {
    struct tw__rt_global *g = tw__calloc(1, sizeof *g);
    if (!g || tw__rt_store_own(s, TW__RT_OWN_GLOBAL, g)) {
      tw__free(g);
      return tw__err(TW_ENOMEM, err, errlen, "out of memory");
    }
    g->type = m->globals[i].type.type;
    g->mutable_ = m->globals[i].type.mutable_;
    eval_init(inst, &m->globals[i].init, &g->val);
    inst->globals[m->nglobal_imports + i] = &g->val;
  }
  for (uint32_t i = 0; i < m->ndatas; i++)
    inst->datas[i] = (struct twr_dataseg){m->datas[i].bytes, m->datas[i].len};
  for (uint32_t i = 0; i < m->nelems; i++) {
    const struct tw__elem *el = &m->elems[i];
    void **items = tw__calloc(el->count ? el->count : 1, sizeof *items);
    if (!items) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
    for (uint32_t k = 0; k < el->count; k++) {
      twr_val v;
      eval_init(inst, &el->items[k], &v);
      items[k] = v.ref;
    }
    inst->elems[i] = (struct twr_elemseg){items, el->count};
  }
  struct twr_inst *in = &inst->in;
  in->memories = inst->memories;
  in->tables = inst->tables;
  in->globals = inst->globals;
  in->funcs = inst->funcs;
  in->type_ids = mod->type_ids;
  in->datas = inst->datas;
  in->elems = inst->elems;
  in->mem0 = tw__module_memory_count(m) ? inst->memories[0]->base : NULL;
  return 0;
}

/* ---- Copy-on-write images ---- */

/* Marks a module whose memory 0 cannot (or need not) come from an image:
 * no own memory, no active data, an offset that is not a constant or an
 * imported global, or a segment out of bounds (copying then traps as the
 * spec says). */
static struct tw__rt_image no_image;

static void image_free(struct tw__rt_image *img) {
  if (!img || img == &no_image) return;
  close(img->fd);
  tw__free(img->key_global);
  tw__free(img->key_value);
  tw__free(img);
}

static int write_all(int fd, const uint8_t *p, size_t n, uint64_t off) {
  while (n) {
    ssize_t w = pwrite(fd, p, n, (off_t)off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    p += w;
    n -= (size_t)w;
    off += (uint64_t)w;
  }
  return 0;
}

/* Builds memory 0's image for the imported-global values `inst` sees;
 * &no_image when the module has none, NULL when out of resources. */
static struct tw__rt_image *image_build(const tw_instance_t *inst) {
  const struct tw__module *m = inst->module->m;
  if (m->nmemory_imports || m->nmemories == 0) return &no_image;
  uint64_t len = m->memories[0].min * 65536ull;
  uint32_t nactive = 0, nkey = 0;
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const struct tw__data *d = &m->datas[i];
    if (d->mode != TW_SEG_ACTIVE) continue;
    nactive++;
    if (d->offset.kind == TW_INIT_GLOBAL_GET) {
      if (d->offset.index >= m->nglobal_imports) return &no_image;
      nkey++;
    } else if (d->offset.kind != TW_INIT_CONST) {
      return &no_image;
    }
    twr_val off;
    eval_init(inst, &d->offset, &off);
    if ((uint64_t)off.i32 + d->len > len) return &no_image;
  }
  if (nactive == 0 || len == 0) return &no_image;
  struct tw__rt_image *img = tw__calloc(1, sizeof *img);
  if (!img) return NULL;
  img->fd = -1;
  img->key_global = tw__calloc(nkey ? nkey : 1, sizeof *img->key_global);
  img->key_value = tw__calloc(nkey ? nkey : 1, sizeof *img->key_value);
  if (!img->key_global || !img->key_value) goto fail;
  img->fd = memfd_create("tw-image", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (img->fd < 0 || ftruncate(img->fd, (off_t)len)) goto fail;
  img->len = len;
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const struct tw__data *d = &m->datas[i];
    if (d->mode != TW_SEG_ACTIVE) continue;
    twr_val off;
    eval_init(inst, &d->offset, &off);
    if (d->offset.kind == TW_INIT_GLOBAL_GET) {
      img->key_global[img->nkey] = d->offset.index;
      img->key_value[img->nkey++] = off.i32;
    }
    if (d->len && write_all(img->fd, d->bytes, d->len, off.i32)) goto fail;
  }
  /* Sealed: nobody can change the bytes under the instances' mappings. */
  if (fcntl(img->fd, F_ADD_SEALS,
            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL))
    goto fail;
  return img;
fail:
  if (img->fd >= 0) close(img->fd);
  img->fd = -1;
  tw__free(img->key_global);
  tw__free(img->key_value);
  tw__free(img);
  return NULL;
}

/* The module's image if `inst` can use it (built on first call), else
 * NULL: the caller copies the data segments. */
static const struct tw__rt_image *usable_image(const tw_instance_t *inst) {
  tw_module_t *mod = inst->module;
  struct tw__rt_image *img = atomic_load(&mod->image);
  if (!img) {
    img = image_build(inst);
    if (!img) return NULL; /* out of resources: copy this time */
    struct tw__rt_image *expect = NULL;
    if (!atomic_compare_exchange_strong(&mod->image, &expect, img)) {
      image_free(img);
      img = expect;
    }
  }
  if (img == &no_image) return NULL;
  for (uint32_t k = 0; k < img->nkey; k++)
    if (inst->globals[img->key_global[k]]->i32 != img->key_value[k])
      return NULL;
  return img;
}

void tw__rt_module_caches_free(tw_module_t *mod) {
  image_free(atomic_exchange(&mod->image, NULL));
  tw__free(atomic_exchange(&mod->digest, NULL));
}

const uint8_t *tw__rt_module_digest(tw_module_t *mod) {
  uint8_t *d = atomic_load(&mod->digest);
  if (d) return d;
  d = tw__malloc(32);
  if (!d) return NULL;
  tw__blake3(mod->m->bytes, mod->m->size, d);
  uint8_t *expect = NULL;
  if (!atomic_compare_exchange_strong(&mod->digest, &expect, d)) {
    tw__free(d);
    d = expect;
  }
  return d;
}

/* Applies active element segments, then active data segments, dropping
 * each applied or declarative segment. Stops at the first that does not
 * fit (earlier writes stay, as the spec says). */
static int apply_segments(tw_instance_t *inst, char *err, size_t errlen) {
  const struct tw__module *m = inst->module->m;
  tw_store_t *s = inst->store;
  for (uint32_t i = 0; i < m->nelems; i++) {
    const struct tw__elem *el = &m->elems[i];
    if (el->mode == TW_SEG_ACTIVE) {
      twr_val off;
      eval_init(inst, &el->offset, &off);
      struct twr_table *t = inst->tables[el->table];
      if ((uint64_t)off.i32 + el->count > t->size) {
        tw__rt_set_trap(s, TW_TRAP_TABLE_OOB, 0, NULL);
        return tw__err(TW_ETRAP, err, errlen,
                       "element segment %u: out of bounds table access", i);
      }
      if (el->count)
        memcpy(t->elems + off.i32, inst->elems[i].items,
               (size_t)el->count * sizeof(void *));
    }
    if (el->mode != TW_SEG_PASSIVE) inst->elems[i].len = 0;
  }
  const struct tw__rt_image *img = usable_image(inst);
  if (img) {
    /* The image holds every active segment's bytes, applied in order and
     * known to fit: map it (reset may have mapped it already). */
    struct tw__rt_memory *mem = TW__RT_MEMORY(inst->memories[0]);
    if (mem->backing != img &&
        tw__rt_memory_map_file(mem, img->fd, img->len, img))
      return tw__err(TW_ENOMEM, err, errlen,
                     "cannot map the initial memory image: %s",
                     strerror(errno));
    for (uint32_t i = 0; i < m->ndatas; i++)
      if (m->datas[i].mode == TW_SEG_ACTIVE) inst->datas[i].len = 0;
    return 0;
  }
  for (uint32_t i = 0; i < m->ndatas; i++) {
    const struct tw__data *d = &m->datas[i];
    if (d->mode != TW_SEG_ACTIVE) continue;
    twr_val off;
    eval_init(inst, &d->offset, &off);
    struct twr_memory *mem = inst->memories[d->memory];
    if ((uint64_t)off.i32 + d->len > mem->size) {
      tw__rt_set_trap(s, TW_TRAP_MEMORY_OOB, 0, NULL);
      return tw__err(TW_ETRAP, err, errlen,
                     "data segment %u: out of bounds memory access", i);
    }
    if (d->len) memcpy(mem->base + off.i32, d->bytes, d->len);
    inst->datas[i].len = 0;
  }
  return 0;
}

static void run_start(struct tw__exec *x, void *arg) {
  const struct twr_func *f = arg;
  f->invoke(&x->x, f, NULL, NULL);
}

/* Runs function f (no params, no results) in a protected call; on a trap
 * writes "<what>: <message>" to err. */
static int run_protected(tw_instance_t *inst, const struct twr_func *f,
                         const char *what, char *err, size_t errlen) {
  int rc = tw__rt_protected_call_dl(inst->store, run_start, (void *)f,
                                    tw__rt_deadline_ms(inst, 0));
  if (rc)
    tw__err(rc, err, errlen, "%s: %s", what, inst->store->last_trap.message);
  return rc;
}

int tw_instance_new(tw_store_t *store, tw_module_t *module,
                    tw_linker_t *linker, tw_instance_t **out, char *err,
                    size_t errlen) {
  return tw__rt_instance_new(store, module, linker, 0, out, err, errlen);
}

int tw__rt_instance_new(tw_store_t *store, tw_module_t *module,
                        tw_linker_t *linker, unsigned flags,
                        tw_instance_t **out, char *err, size_t errlen) {
  if (!store || !module || !out)
    return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  if (module->engine != store->engine)
    return tw__err(TW_EINVAL, err, errlen,
                   "module and store belong to different engines");
  *out = NULL;
  const struct tw__module *m = module->m;
  size_t mark = store->nowned;
  int rc;
  tw_instance_t *inst = tw__calloc(1, sizeof *inst);
  if (!inst) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  inst->store = store;
  inst->module = module;
  tw__rt_module_ref(module);
  uint32_t nf = tw__module_func_count(m);
  inst->memories = tw__calloc(tw__module_memory_count(m),
                              sizeof *inst->memories);
  inst->tables = tw__calloc(tw__module_table_count(m), sizeof *inst->tables);
  inst->globals = tw__calloc(tw__module_global_count(m),
                             sizeof *inst->globals);
  inst->funcs = tw__calloc(nf, sizeof *inst->funcs);
  inst->own_funcs = tw__calloc(m->nfuncs, sizeof *inst->own_funcs);
  inst->import_funcs =
      tw__calloc(m->nfunc_imports, sizeof *inst->import_funcs);
  inst->bindings = tw__calloc(m->nfunc_imports, sizeof *inst->bindings);
  inst->datas = tw__calloc(m->ndatas, sizeof *inst->datas);
  inst->elems = tw__calloc(m->nelems, sizeof *inst->elems);
  if (!inst->memories || !inst->tables || !inst->globals || !inst->funcs ||
      !inst->own_funcs || !inst->import_funcs || !inst->bindings ||
      !inst->datas || !inst->elems) {
    rc = tw__err(TW_ENOMEM, err, errlen, "out of memory");
    goto fail;
  }
  if ((rc = resolve_imports(inst, linker, err, errlen))) goto fail;
  if ((rc = allocate(inst, err, errlen))) goto fail;
  if (tw__rt_store_own(store, TW__RT_OWN_INSTANCE, inst)) {
    rc = tw__err(TW_ENOMEM, err, errlen, "out of memory");
    goto fail;
  }
  /* From here on the store owns the instance, also on failure. */
  tw__rt_tier_instance_init(inst);
  if (flags & TW__RT_INST_BARE) {
    *out = inst;
    return 0;
  }
  if ((rc = apply_segments(inst, err, errlen))) return rc;
  if (m->has_start &&
      (rc = run_protected(inst, inst->funcs[m->start], "start function", err,
                          errlen)))
    return rc;
  *out = inst;
  return 0;

fail:
  tw__rt_store_truncate(store, mark);
  tw__rt_instance_free(inst);
  return rc;
}

const tw_module_t *tw_instance_module(const tw_instance_t *inst) {
  return inst ? inst->module : NULL;
}

int tw_instance_initialize(tw_instance_t *inst, char *err, size_t errlen) {
  if (!inst) return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  if (inst->initialized) return 0;
  const tw_module_t *mod = inst->module;
  int64_t idx = tw__rt_module_find_export(mod, "_initialize", 11,
                                          TW_EXTERN_FUNC);
  if (idx < 0) return 0;
  const struct tw__functype *ft =
      &mod->m->types[tw__module_func_type(mod->m, (uint32_t)idx)];
  if (ft->nparams || ft->nresults)
    return tw__err(TW_ETYPE, err, errlen,
                   "_initialize must take and return nothing");
  inst->initialized = true;
  return run_protected(inst, inst->funcs[idx], "_initialize", err, errlen);
}

int tw_instance_global_get(tw_instance_t *inst, const char *name,
                           tw_val_t *out) {
  return tw_instance_global_get_n(inst, name, name ? strlen(name) : 0, out);
}

int tw_instance_global_get_n(tw_instance_t *inst, const char *name,
                             size_t name_len, tw_val_t *out) {
  if (!inst || !name || !out) return TW_EINVAL;
  int64_t idx = tw__rt_module_find_export(inst->module, name, name_len,
                                          TW_EXTERN_GLOBAL);
  if (idx < 0) return TW_ENOTFOUND;
  const struct tw__rt_global *g =
      (const struct tw__rt_global *)inst->globals[idx];
  tw__rt_val_from_raw(g->type, &g->val, out);
  return 0;
}

int tw_instance_memory(tw_instance_t *inst, const char *name, uint8_t **base,
                       uint64_t *size) {
  if (!inst) return TW_EINVAL;
  int64_t idx = 0;
  if (name) {
    idx = tw__rt_module_find_export(inst->module, name, strlen(name),
                                    TW_EXTERN_MEMORY);
    if (idx < 0) return TW_ENOTFOUND;
  } else if (tw__module_memory_count(inst->module->m) == 0) {
    return TW_ENOTFOUND;
  }
  struct twr_memory *mem = inst->memories[idx];
  if (base) *base = mem->base;
  if (size) *size = mem->size;
  return 0;
}

/* ---- Reset ---- */

bool tw__rt_instance_self_contained(const tw_instance_t *inst) {
  const struct tw__module *m = inst->module->m;
  if (m->nmemory_imports || m->ntable_imports) return false;
  for (uint32_t i = 0; i < m->nimports; i++)
    if (m->imports[i].kind == TW_EXTERN_GLOBAL &&
        m->imports[i].desc.global.mutable_)
      return false;
  return true;
}

int tw_instance_reset(tw_instance_t *inst, char *err, size_t errlen) {
  if (!inst) return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  if (!tw__rt_instance_self_contained(inst))
    return tw__err(TW_EUNSUPPORTED, err, errlen,
                   "the instance imports a memory, table or mutable global, "
                   "which a reset could not restore");
  const tw_module_t *mod = inst->module;
  const struct tw__module *m = mod->m;
  /* Memories first: nothing the guest wrote survives this step. */
  for (uint32_t i = 0; i < m->nmemories; i++) {
    const struct tw__rt_image *img = i == 0 ? usable_image(inst) : NULL;
    if (tw__rt_memory_reset(TW__RT_MEMORY(inst->memories[i]),
                            m->memories[i].min, img))
      return tw__err(TW_ENOMEM, err, errlen, "cannot reset memory %u: %s", i,
                     strerror(errno));
  }
  for (uint32_t i = 0; i < m->ntables; i++) {
    struct twr_table *t = inst->tables[i];
    /* Grown tables keep their storage; entries past size are unreachable
     * and table.grow overwrites them before they become reachable. */
    t->size = (uint32_t)m->tables[i].limits.min;
    if (t->size) memset(t->elems, 0, (size_t)t->size * sizeof(void *));
  }
  for (uint32_t i = 0; i < m->nglobals; i++)
    eval_init(inst, &m->globals[i].init,
              inst->globals[m->nglobal_imports + i]);
  for (uint32_t i = 0; i < m->ndatas; i++)
    inst->datas[i].len = m->datas[i].len;
  for (uint32_t i = 0; i < m->nelems; i++)
    inst->elems[i].len = m->elems[i].count;
  inst->initialized = false;
  int rc = apply_segments(inst, err, errlen);
  if (rc) return rc;
  if (m->has_start)
    rc = run_protected(inst, inst->funcs[m->start], "start function", err,
                       errlen);
  return rc;
}
