/* Module-level code generation: the translation unit's layout.
 *
 *   prelude | options (TWM_FN, TWR_POLL) | typedef per type (twm_sig<t>) |
 *   prototypes f<i> | import thunks twm_import_<k> | bodies |
 *   invokers twm_invoke_<t> | twm_entry
 *
 * Identifiers are all ours (f<funcidx>, twm_*): no module string reaches
 * the output, so nothing the module says can end a comment or a literal.
 * With one translation unit, twm_entry is the only external symbol. Split
 * into several (tier 1), each unit holds a range of the defined functions;
 * functions become external with hidden visibility (TWM_FN) so units can
 * call each other, and unit 0 also holds the thunks, the invokers and
 * twm_entry (the shared object's only exported symbol).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "codegen/codegen.h"
#include "codegen/codegen_int.h"

static void emit_typedefs(const struct tw__module *m, struct tw__buf *b) {
  char name[40];
  for (uint32_t t = 0; t < m->ntypes; t++) {
    snprintf(name, sizeof name, "(*twm_sig%" PRIu32 ")", t);
    tw__buf_puts(b, "typedef ");
    tw__cg_signature(b, &m->types[t], name, 0);
    tw__buf_puts(b, ";\n");
  }
}

static void emit_prototypes(const struct tw__module *m, struct tw__buf *b) {
  char name[24];
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    snprintf(name, sizeof name, "f%" PRIu32, m->nfunc_imports + i);
    tw__buf_puts(b, "TWM_FN ");
    tw__cg_signature(b, &m->types[m->funcs[i].type], name, 0);
    tw__buf_puts(b, ";\n");
  }
}

/* Host thunk for function import k: pack, call_host, unpack. */
static void emit_thunk(const struct tw__module *m, uint32_t k,
                       struct tw__buf *b) {
  const struct tw__functype *ft = &m->types[tw__module_func_type(m, k)];
  const uint8_t *rt = ft->types + ft->nparams;
  char name[40];
  snprintf(name, sizeof name, "twm_import_%" PRIu32, k);
  tw__buf_puts(b, "static ");
  tw__cg_signature(b, ft, name, 1);
  tw__buf_printf(b, " {\ntwr_val a_[%" PRIu32 "];\n",
                 ft->nparams ? ft->nparams : 1);
  if (ft->nresults <= 1) tw__buf_puts(b, "twr_val r_[1];\n");
  for (uint32_t i = 0; i < ft->nparams; i++)
    tw__buf_printf(b, "a_[%" PRIu32 "].%s = l%" PRIu32 ";\n", i,
                   tw__cg_field(ft->types[i]), i);
  tw__buf_printf(b, "x->rt->call_host(x, env, a_, %s);\n",
                 ft->nresults <= 1 ? "r_" : "ret");
  if (ft->nresults == 1)
    tw__buf_printf(b, "return r_[0].%s;\n", tw__cg_field(rt[0]));
  tw__buf_puts(b, "}\n\n");
}

static void emit_invoker(const struct tw__module *m, uint32_t t,
                         struct tw__buf *b) {
  const struct tw__functype *ft = &m->types[t];
  const uint8_t *rt = ft->types + ft->nparams;
  tw__buf_printf(b,
                 "static void twm_invoke_%" PRIu32
                 "(struct twr_exec *x, const struct twr_func *f, "
                 "const twr_val *a, twr_val *r) {\n(void)a; (void)r;\n",
                 t);
  if (ft->nresults == 1) tw__buf_printf(b, "r[0].%s = ", tw__cg_field(rt[0]));
  tw__buf_printf(b, "((twm_sig%" PRIu32 ")f->fn)(x, f->env", t);
  for (uint32_t i = 0; i < ft->nparams; i++)
    tw__buf_printf(b, ", a[%" PRIu32 "].%s", i, tw__cg_field(ft->types[i]));
  tw__buf_puts(b, ft->nresults > 1 ? ", r);\n}\n\n" : ");\n}\n\n");
}

static void emit_entry(const struct tw__module *m, struct tw__buf *b) {
  tw__buf_puts(b, "TWM_EXPORT void twm_entry(struct twr_code *c) {\n"
                  "c->abi_version = TWR_ABI_VERSION;\n");
  for (uint32_t i = 0; i < m->nfuncs; i++)
    tw__buf_printf(b, "c->funcs[%" PRIu32 "] = (const void *)f%" PRIu32 ";\n",
                   i, m->nfunc_imports + i);
  for (uint32_t t = 0; t < m->ntypes; t++)
    tw__buf_printf(b, "c->invokers[%" PRIu32 "] = twm_invoke_%" PRIu32 ";\n",
                   t, t);
  for (uint32_t k = 0; k < m->nfunc_imports; k++)
    tw__buf_printf(b,
                   "c->import_thunks[%" PRIu32
                   "] = (const void *)twm_import_%" PRIu32 ";\n",
                   k, k);
  tw__buf_puts(b, "}\n");
}

/* What changes between translation units and options: the linkage of
 * functions, the deadline polls, the export attribute of twm_entry. */
static void emit_options(const struct tw__codegen_opts *o,
                         struct tw__buf *b) {
  if (o->ntus > 1)
    tw__buf_puts(b, "#define TWM_FN __attribute__((visibility(\"hidden\")))\n");
  else
    tw__buf_puts(b, "#define TWM_FN static\n");
  tw__buf_puts(b, "#if defined(__GNUC__) && !defined(__TINYC__)\n"
                  "#define TWM_EXPORT __attribute__((visibility(\"default\")))\n"
                  "#else\n#define TWM_EXPORT\n#endif\n");
  if (!o->interruptible)
    tw__buf_puts(b, "#undef TWR_POLL\n#define TWR_POLL(x) ((void)0)\n"
                    "#undef TWR_POLLM\n#define TWR_POLLM(m) ((void)0)\n");
}

/* tw__cg_func starts every function with "static "; turn that into
 * "TWM_FN " (same length) so the options above decide the linkage. */
static int relink(struct tw__buf *out, size_t start) {
  static const char k_static[] = "static ", k_fn[] = "TWM_FN ";
  _Static_assert(sizeof k_static == sizeof k_fn, "same length");
  if (out->len - start < sizeof k_static - 1 ||
      memcmp(out->data + start, k_static, sizeof k_static - 1) != 0)
    return TW_ECOMPILE;
  memcpy(out->data + start, k_fn, sizeof k_fn - 1);
  return 0;
}

void tw__codegen_opts_default(struct tw__codegen_opts *o) {
  memset(o, 0, sizeof *o);
  o->interruptible = true;
  o->ntus = 1;
}

uint32_t tw__codegen_split(const struct tw__module *m, size_t target_bytes,
                           uint32_t max_tus, uint32_t *tu_of) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < m->nfuncs; i++)
    total += (uint64_t)(m->funcs[i].end - m->funcs[i].code) + 16 +
             4ull * m->funcs[i].nlocals;
  if (max_tus == 0) max_tus = 1;
  if (target_bytes == 0) target_bytes = 1;
  if (total / target_bytes + 1 > max_tus)
    target_bytes = (size_t)(total / max_tus + 1);
  uint32_t tu = 0;
  uint64_t acc = 0;
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    uint64_t sz = (uint64_t)(m->funcs[i].end - m->funcs[i].code) + 16 +
                  4ull * m->funcs[i].nlocals;
    if (acc > 0 && acc + sz > target_bytes && tu + 1 < max_tus) {
      tu++;
      acc = 0;
    }
    tu_of[i] = tu;
    acc += sz;
  }
  return tu + 1;
}

int tw__codegen_c(const struct tw__module *m, struct tw__buf *out, char *err,
                  size_t errlen) {
  struct tw__codegen_opts o;
  tw__codegen_opts_default(&o);
  return tw__codegen_c_ex(m, &o, out, err, errlen);
}

int tw__codegen_c_ex(const struct tw__module *m,
                     const struct tw__codegen_opts *o, struct tw__buf *out,
                     char *err, size_t errlen) {
  int rc;
  bool split = o->ntus > 1;
  if (split && (!o->tu_of || o->tu >= o->ntus))
    return tw__err(TW_EINVAL, err, errlen, "codegen: bad unit selection");
  bool first = !split || o->tu == 0;
  if (!tw__cg_uses_simd(m)) tw__buf_puts(out, "#define TWR_NO_SIMD 1\n");
  tw__buf_append(out, tw__prelude_text, tw__prelude_text_len);
  tw__buf_printf(out, "\n/* generated by TensorWasm codegen %d */\n",
                 TW_CODEGEN_VERSION);
  emit_options(o, out);
  emit_typedefs(m, out);
  emit_prototypes(m, out);
  tw__buf_puts(out, "\n");
  if (first)
    for (uint32_t k = 0; k < m->nfunc_imports; k++) emit_thunk(m, k, out);
  if (out->error) goto buf_fail;

  uint8_t *own = NULL;
  const uint8_t *calls = o->calls;
  if (!calls) {
    if (!(own = tw__malloc(m->nfuncs ? m->nfuncs : 1)))
      return tw__err(TW_ENOMEM, err, errlen, "out of memory");
    if ((rc = tw__codegen_calls(m, own, err, errlen))) {
      tw__free(own);
      return rc;
    }
    calls = own;
  }
  struct tw__buf scratch;
  tw__buf_init(&scratch, out->limit);
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    if (split && o->tu_of[i] != o->tu) continue;
    size_t start = out->len;
    rc = tw__cg_func(m, i, calls, o, out, &scratch, err, errlen);
    if (!rc && !out->error && relink(out, start))
      rc = tw__err(TW_ECOMPILE, err, errlen,
                   "codegen: function %" PRIu32 " does not start with "
                   "\"static \"", m->nfunc_imports + i);
    if (rc) {
      tw__buf_free(&scratch);
      tw__free(own);
      if (rc == TW_ELIMIT || rc == TW_ENOMEM)
        return tw__err(rc, err, errlen,
                       "codegen: function %" PRIu32 ": %s",
                       m->nfunc_imports + i,
                       rc == TW_ELIMIT ? "generated C exceeds the size limit"
                                       : "out of memory");
      return rc;
    }
  }
  tw__buf_free(&scratch);
  tw__free(own);

  if (first) {
    for (uint32_t t = 0; t < m->ntypes; t++) emit_invoker(m, t, out);
    emit_entry(m, out);
  }
  if (out->error) goto buf_fail;
  return 0;

buf_fail:
  return tw__err(out->error, err, errlen, "codegen: %s",
                 out->error == TW_ELIMIT ? "generated C exceeds the size limit"
                                         : "out of memory");
}
