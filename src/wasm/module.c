/* Index-space helpers over the module IR (imports first, then the
 * module's own definitions), and releasing a module. Lookups out of
 * range return 0 / NULL; callers that need to know check the counts.
 */
#include "base/base.h"
#include "wasm/wasm.h"

uint32_t tw__module_func_count(const struct tw__module *m) {
  return m->nfunc_imports + m->nfuncs;
}

/* The nth import of `kind`; O(imports), fine for diagnostics and
 * validation, which look up imports rarely compared with definitions. */
static const struct tw__import *nth_import(const struct tw__module *m,
                                           uint8_t kind, uint32_t n) {
  for (uint32_t i = 0; i < m->nimports; i++) {
    if (m->imports[i].kind != kind) continue;
    if (n == 0) return &m->imports[i];
    n--;
  }
  return NULL;
}

uint32_t tw__module_func_type(const struct tw__module *m, uint32_t funcidx) {
  if (funcidx < m->nfunc_imports) {
    const struct tw__import *im = nth_import(m, TW_EXTERN_FUNC, funcidx);
    return im ? im->desc.func_type : 0;
  }
  funcidx -= m->nfunc_imports;
  return funcidx < m->nfuncs ? m->funcs[funcidx].type : 0;
}

uint32_t tw__module_table_count(const struct tw__module *m) {
  return m->ntable_imports + m->ntables;
}

const struct tw__tabletype *tw__module_table(const struct tw__module *m,
                                             uint32_t tableidx) {
  if (tableidx < m->ntable_imports) {
    const struct tw__import *im = nth_import(m, TW_EXTERN_TABLE, tableidx);
    return im ? &im->desc.table : NULL;
  }
  tableidx -= m->ntable_imports;
  return tableidx < m->ntables ? &m->tables[tableidx] : NULL;
}

uint32_t tw__module_memory_count(const struct tw__module *m) {
  return m->nmemory_imports + m->nmemories;
}

const struct tw__limits *tw__module_memory(const struct tw__module *m,
                                           uint32_t memidx) {
  if (memidx < m->nmemory_imports) {
    const struct tw__import *im = nth_import(m, TW_EXTERN_MEMORY, memidx);
    return im ? &im->desc.memory : NULL;
  }
  memidx -= m->nmemory_imports;
  return memidx < m->nmemories ? &m->memories[memidx] : NULL;
}

uint32_t tw__module_global_count(const struct tw__module *m) {
  return m->nglobal_imports + m->nglobals;
}

const struct tw__globaltype *tw__module_global(const struct tw__module *m,
                                               uint32_t globalidx) {
  if (globalidx < m->nglobal_imports) {
    const struct tw__import *im = nth_import(m, TW_EXTERN_GLOBAL, globalidx);
    return im ? &im->desc.global : NULL;
  }
  globalidx -= m->nglobal_imports;
  return globalidx < m->nglobals ? &m->globals[globalidx].type : NULL;
}

const char *tw__module_func_name(const struct tw__module *m,
                                 uint32_t funcidx) {
  if (!m || !m->func_names || funcidx >= tw__module_func_count(m))
    return NULL;
  return m->func_names[funcidx];
}

void tw__module_free(struct tw__module *m) {
  if (!m) return;
  if (m->types)
    for (uint32_t i = 0; i < m->ntypes; i++) tw__free(m->types[i].types);
  tw__free(m->types);
  if (m->imports)
    for (uint32_t i = 0; i < m->nimports; i++) {
      tw__free(m->imports[i].module);
      tw__free(m->imports[i].name);
    }
  tw__free(m->imports);
  if (m->funcs)
    for (uint32_t i = 0; i < m->nfuncs; i++) tw__free(m->funcs[i].local_types);
  tw__free(m->funcs);
  tw__free(m->tables);
  tw__free(m->memories);
  tw__free(m->globals);
  if (m->exports)
    for (uint32_t i = 0; i < m->nexports; i++) tw__free(m->exports[i].name);
  tw__free(m->exports);
  if (m->elems)
    for (uint32_t i = 0; i < m->nelems; i++) tw__free(m->elems[i].items);
  tw__free(m->elems);
  tw__free(m->datas);
  if (m->func_names) {
    uint32_t n = tw__module_func_count(m);
    for (uint32_t i = 0; i < n; i++) tw__free(m->func_names[i]);
  }
  tw__free(m->func_names);
  tw__free(m->module_name);
  tw__free(m->bytes);
  tw__free(m);
}

const char *tw_valtype_name(uint8_t type) { return tw__valtype_name(type); }
