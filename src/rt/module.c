/* Modules: decode -> validate -> generate C -> compile (tier 0) -> ask the
 * compiled code to fill its function tables; plus the read-only queries on
 * a module's imports and exports.
 * Invariant: a tw_module_t is immutable after tw_module_new and is shared
 * by reference count between its owner and the instances made from it.
 */
#include "rt/rt.h"

#include <string.h>

/* Generated C for one module may not exceed this. */
#define CODEGEN_LIMIT_BYTES (512ull << 20)

static void module_release(tw_module_t *mod) {
  tw__rt_tier_module_free(mod); /* first: its job reads mod->m */
  tw__rt_module_caches_free(mod);
  if (mod->code) tw__code_free(mod->code);
  tw__free(mod->rc.funcs);
  tw__free(mod->rc.invokers);
  tw__free(mod->rc.import_thunks);
  tw__free(mod->type_ids);
  tw__module_free(mod->m);
  tw__free(mod);
}

void tw__rt_module_ref(tw_module_t *mod) { atomic_fetch_add(&mod->refs, 1); }

void tw_module_free(tw_module_t *mod) {
  if (!mod) return;
  if (atomic_fetch_sub(&mod->refs, 1) == 1) module_release(mod);
}

int tw_module_validate(tw_engine_t *engine, const uint8_t *bytes,
                       size_t size, char *err, size_t errlen) {
  (void)engine;
  if (!bytes && size) return tw__err(TW_EINVAL, err, errlen, "no bytes");
  struct tw__module *m = NULL;
  int rc = tw__module_decode(bytes, size, &m, err, errlen);
  if (rc) return rc;
  rc = tw__module_validate(m, err, errlen);
  tw__module_free(m);
  return rc;
}

/* Generates and compiles the code, then lets twm_entry fill mod->rc. */
static int module_compile(tw_module_t *mod, char *err, size_t errlen) {
  const struct tw__module *m = mod->m;
  struct tw__buf src;
  tw__buf_init(&src, CODEGEN_LIMIT_BYTES);
  uint64_t t0 = tw__now_ns();
  struct tw__codegen_opts opts;
  tw__codegen_opts_default(&opts);
  opts.interruptible = mod->engine->cfg.interruptible;
  opts.plain_mem = true; /* for tcc */
  int rc = tw__codegen_c_ex(m, &opts, &src, err, errlen);
  if (!rc && (rc = tw__buf_cstr(&src)))
    tw__err(rc, err, errlen, "generated C: %s", tw_strerror(rc));
  uint64_t t1 = tw__now_ns();
  mod->codegen_ms = (double)(t1 - t0) / 1e6;
  if (rc) goto fail_codegen;
  rc = tw__tier0_compile(src.data, src.len, &mod->code, err, errlen);
  mod->compile_ms = (double)(tw__now_ns() - t1) / 1e6;
  if (rc) goto fail_codegen;
  tw__buf_free(&src);

  mod->rc.funcs = tw__calloc(m->nfuncs, sizeof *mod->rc.funcs);
  mod->rc.invokers = tw__calloc(m->ntypes, sizeof *mod->rc.invokers);
  mod->rc.import_thunks =
      tw__calloc(m->nfunc_imports, sizeof *mod->rc.import_thunks);
  if (!mod->rc.funcs || !mod->rc.invokers || !mod->rc.import_thunks)
    return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  void *entry = tw__code_entry(mod->code);
  if (!entry)
    return tw__err(TW_ECOMPILE, err, errlen,
                   "compiled code has no %s function", TWR_ENTRY_SYMBOL);
  void (*fill)(struct twr_code *) = (void (*)(struct twr_code *))entry;
  fill(&mod->rc);
  if (mod->rc.abi_version != TWR_ABI_VERSION)
    return tw__err(TW_ECOMPILE, err, errlen,
                   "compiled code has ABI version %u, the runtime %u",
                   mod->rc.abi_version, (unsigned)TWR_ABI_VERSION);
  for (uint32_t i = 0; i < m->nfuncs; i++)
    if (!mod->rc.funcs[i])
      return tw__err(TW_ECOMPILE, err, errlen,
                     "compiled code lacks function %u",
                     m->nfunc_imports + i);
  for (uint32_t i = 0; i < m->ntypes; i++)
    if (!mod->rc.invokers[i])
      return tw__err(TW_ECOMPILE, err, errlen,
                     "compiled code lacks the invoker of type %u", i);
  for (uint32_t i = 0; i < m->nfunc_imports; i++)
    if (!mod->rc.import_thunks[i])
      return tw__err(TW_ECOMPILE, err, errlen,
                     "compiled code lacks the thunk of import %u", i);
  return 0;

fail_codegen:
  tw__buf_free(&src);
  return rc;
}

int tw_module_new(tw_engine_t *engine, const uint8_t *bytes, size_t size,
                  tw_module_t **out, char *err, size_t errlen) {
  if (!engine || !out || (!bytes && size))
    return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  *out = NULL;
  tw_module_t *mod = tw__calloc(1, sizeof *mod);
  if (!mod) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  mod->engine = engine;
  atomic_init(&mod->refs, 1);
  int rc = tw__module_decode(bytes, size, &mod->m, err, errlen);
  if (rc) goto fail;
  if ((rc = tw__module_validate(mod->m, err, errlen))) goto fail;
  const struct tw__module *m = mod->m;
  mod->type_ids = tw__calloc(m->ntypes, sizeof *mod->type_ids);
  if (!mod->type_ids) {
    rc = tw__err(TW_ENOMEM, err, errlen, "out of memory");
    goto fail;
  }
  for (uint32_t i = 0; i < m->ntypes; i++) {
    const struct tw__functype *ft = &m->types[i];
    rc = tw__rt_type_intern(engine, ft->nparams, ft->nresults, ft->types,
                            &mod->type_ids[i]);
    if (rc) {
      tw__err(rc, err, errlen, "interning type %u: %s", i, tw_strerror(rc));
      goto fail;
    }
  }
  if ((rc = module_compile(mod, err, errlen))) goto fail;
  if ((rc = tw__rt_tier_module_start(mod, err, errlen))) goto fail;
  *out = mod;
  return 0;

fail:
  module_release(mod);
  return rc;
}

double tw_module_codegen_ms(const tw_module_t *mod) {
  return mod ? mod->codegen_ms : 0;
}

double tw_module_compile_ms(const tw_module_t *mod) {
  return mod ? mod->compile_ms : 0;
}

uint32_t tw_module_export_count(const tw_module_t *mod) {
  return mod ? mod->m->nexports : 0;
}

int tw_module_export_info(const tw_module_t *mod, uint32_t i,
                          const char **name, size_t *name_len,
                          tw_extern_kind_t *kind) {
  if (!mod || i >= mod->m->nexports) return TW_ENOTFOUND;
  const struct tw__export *ex = &mod->m->exports[i];
  if (name) *name = ex->name;
  if (name_len) *name_len = ex->name_len;
  if (kind) *kind = (tw_extern_kind_t)ex->kind;
  return 0;
}

uint32_t tw_module_import_count(const tw_module_t *mod) {
  return mod ? mod->m->nimports : 0;
}

int tw_module_import_info(const tw_module_t *mod, uint32_t i,
                          const char **module_name, size_t *module_len,
                          const char **name, size_t *name_len,
                          tw_extern_kind_t *kind) {
  if (!mod || i >= mod->m->nimports) return TW_ENOTFOUND;
  const struct tw__import *im = &mod->m->imports[i];
  if (module_name) *module_name = im->module;
  if (module_len) *module_len = im->module_len;
  if (name) *name = im->name;
  if (name_len) *name_len = im->name_len;
  if (kind) *kind = (tw_extern_kind_t)im->kind;
  return 0;
}

int64_t tw__rt_module_find_export(const tw_module_t *mod, const char *name,
                                  size_t name_len, uint8_t kind) {
  const struct tw__module *m = mod->m;
  for (uint32_t i = 0; i < m->nexports; i++) {
    const struct tw__export *ex = &m->exports[i];
    if (ex->kind == kind && ex->name_len == name_len &&
        memcmp(ex->name, name, name_len) == 0)
      return ex->index;
  }
  return -1;
}

int tw_module_export_functype(const tw_module_t *mod, const char *name,
                              tw_functype_t *out) {
  return tw_module_export_functype_n(mod, name, name ? strlen(name) : 0, out);
}

int tw_module_export_functype_n(const tw_module_t *mod, const char *name,
                                size_t name_len, tw_functype_t *out) {
  if (!mod || !name || !out) return TW_EINVAL;
  int64_t idx =
      tw__rt_module_find_export(mod, name, name_len, TW_EXTERN_FUNC);
  if (idx < 0) return TW_ENOTFOUND;
  const struct tw__functype *ft =
      &mod->m->types[tw__module_func_type(mod->m, (uint32_t)idx)];
  out->nparams = ft->nparams;
  out->nresults = ft->nresults;
  out->params = ft->types;
  out->results = ft->types + ft->nparams;
  return 0;
}
