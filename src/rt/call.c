/* Calling exported functions from the host: find the export, check the
 * arguments against the function's type, run its invoker inside a
 * protected call, convert the results. Also the value conversions between
 * the public tw_val_t and the ABI's untyped twr_val.
 */
#include "rt/rt.h"

#include <string.h>

void tw__rt_val_to_raw(const tw_val_t *v, twr_val *out) {
  memset(out, 0, sizeof *out);
  switch (v->type) {
  case TW_I32:
  case TW_F32:
    out->i32 = v->of.i32;
    break;
  case TW_I64:
  case TW_F64:
    out->i64 = v->of.i64;
    break;
  case TW_V128:
    memcpy(&out->v128, v->of.v128, 16);
    break;
  default: /* references */
    out->ref = v->of.ref;
    break;
  }
}

void tw__rt_val_from_raw(uint8_t t, const twr_val *raw, tw_val_t *out) {
  memset(out, 0, sizeof *out);
  out->type = t;
  switch (t) {
  case TW_I32:
  case TW_F32:
    out->of.i32 = raw->i32;
    break;
  case TW_I64:
  case TW_F64:
    out->of.i64 = raw->i64;
    break;
  case TW_V128:
    memcpy(out->of.v128, &raw->v128, 16);
    break;
  default:
    out->of.ref = raw->ref;
    break;
  }
}

struct call_args {
  const struct twr_func *f;
  const twr_val *args;
  twr_val *results;
};

static void call_body(struct tw__exec *x, void *arg) {
  struct call_args *c = arg;
  c->f->invoke(&x->x, c->f, c->args, c->results);
}

int tw_instance_call(tw_instance_t *inst, const char *name,
                     const tw_val_t *args, size_t nargs, tw_val_t *results,
                     size_t nresults, char *err, size_t errlen) {
  return tw_instance_call_n(inst, name, name ? strlen(name) : 0, args, nargs,
                            results, nresults, err, errlen);
}

int tw_instance_call_n(tw_instance_t *inst, const char *name,
                       size_t name_len, const tw_val_t *args, size_t nargs,
                       tw_val_t *results, size_t nresults, char *err,
                       size_t errlen) {
  return tw_instance_call_ex(inst, name, name_len, args, nargs, results,
                             nresults, NULL, err, errlen);
}

int tw_instance_call_ex(tw_instance_t *inst, const char *name,
                        size_t name_len, const tw_val_t *args, size_t nargs,
                        tw_val_t *results, size_t nresults,
                        const tw_call_options_t *opts, char *err,
                        size_t errlen) {
  if (!inst || !name || (nargs && !args) || (nresults && !results))
    return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  const struct tw__module *m = inst->module->m;
  int64_t idx = tw__rt_module_find_export(inst->module, name, name_len,
                                          TW_EXTERN_FUNC);
  if (idx < 0) {
    char esc[128];
    tw__escape((const uint8_t *)name, name_len, esc, sizeof esc);
    return tw__err(TW_ENOTFOUND, err, errlen, "no exported function \"%s\"",
                   esc);
  }
  const struct tw__functype *ft =
      &m->types[tw__module_func_type(m, (uint32_t)idx)];
  if (nargs != ft->nparams)
    return tw__err(TW_ETYPE, err, errlen, "expected %u arguments, got %zu",
                   ft->nparams, nargs);
  if (nresults < ft->nresults)
    return tw__err(TW_ETYPE, err, errlen,
                   "room for %zu results, the function returns %u", nresults,
                   ft->nresults);
  for (uint32_t i = 0; i < ft->nparams; i++)
    if (args[i].type != ft->types[i])
      return tw__err(TW_ETYPE, err, errlen,
                     "argument %u: expected %s, got %s", i + 1,
                     tw__valtype_name(ft->types[i]),
                     tw__valtype_name(args[i].type));

  twr_val small[16];
  twr_val *raw = small;
  size_t nraw = (size_t)ft->nparams + ft->nresults;
  if (nraw > 16 && !(raw = tw__calloc(nraw, sizeof *raw)))
    return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  for (uint32_t i = 0; i < ft->nparams; i++)
    tw__rt_val_to_raw(&args[i], &raw[i]);
  struct call_args c = {inst->funcs[idx], raw, raw + ft->nparams};
  int rc = tw__rt_protected_call_dl(
      inst->store, call_body, &c,
      tw__rt_deadline_ms(inst, opts ? opts->deadline_ms : 0));
  if (rc == 0) {
    for (uint32_t i = 0; i < ft->nresults; i++)
      tw__rt_val_from_raw(ft->types[ft->nparams + i], &c.results[i],
                          &results[i]);
  } else {
    tw__err(rc, err, errlen, "%s", inst->store->last_trap.message);
  }
  if (raw != small) tw__free(raw);
  return rc;
}
