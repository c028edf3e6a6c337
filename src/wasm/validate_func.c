/* Function-body validation: the spec's algorithm (appendix "Validation
 * Algorithm") over one operand stack of value types, where 0 is the
 * Unknown type of unreachable code, and one stack of control frames.
 * Both stacks live in one struct reused for every body of a module; they
 * only grow, bounded by VAL_STACK_MAX and TW_LIMIT_BLOCK_DEPTH. Linear in
 * code size. Instructions are decoded only through tw__reader_next.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/base.h"
#include "wasm/validate_int.h"

#define T_UNKNOWN 0
/* Operand stack entries, over all open blocks of one body. A body of the
 * largest allowed size pushes far fewer in practice; the bound only stops
 * a crafted module (calls returning 1000 values each) from eating memory. */
#define VAL_STACK_MAX (1u << 24)

struct ctrl {
  uint16_t op; /* TW_OP_BLOCK, _LOOP, _IF, _ELSE; _END for the function */
  bool unreachable;
  const uint8_t *params;
  uint32_t nparams;
  const uint8_t *results;
  uint32_t nresults;
  size_t height; /* operand stack height at entry, params excluded */
};

/* An opcode's signature, decoded once per module from tw__op_sig: the
 * generic path then costs no string handling per instruction. */
struct opsig {
  uint8_t has_sig;
  uint8_t npop, npush;
  uint8_t imm; /* enum tw_imm */
  uint8_t pop[4], push[2];
};

struct vstate {
  const struct tw__module *m;
  struct opsig sigs[TW_OP_LIMIT_];
  const uint8_t *declared; /* bitmap, see tw__validate_code */
  uint32_t nfuncs_all, ntables_all, nmems_all, nglobals_all;

  uint8_t *vals;
  size_t nvals, capvals;
  struct ctrl *ctrls;
  size_t nctrls, capctrls;
  uint8_t *scratch; /* br_table: values popped for one target */
  size_t capscratch;

  /* the body being checked */
  uint32_t funcidx;
  const uint8_t *params;
  uint32_t nparams;
  const uint8_t *locals;
  uint32_t nlocals;
  uint32_t offset; /* of the instruction being checked */

  char *err;
  size_t errlen;
};

/* One stable byte per value type, so that a block of type [] -> [t] can
 * point at its single result like a function type does. */
static const uint8_t k_valtypes[] = {TW_T_I32,  TW_T_I64,     TW_T_F32,
                                     TW_T_F64,  TW_T_V128,    TW_T_FUNCREF,
                                     TW_T_EXTERNREF};

static const uint8_t *one_type(uint8_t t) {
  for (size_t i = 0; i < sizeof k_valtypes; i++)
    if (k_valtypes[i] == t) return &k_valtypes[i];
  return NULL;
}

static const char *type_name(uint8_t t) {
  return t == T_UNKNOWN ? "unknown" : tw__valtype_name(t);
}

static bool is_num(uint8_t t) {
  return t == T_UNKNOWN || t == TW_T_I32 || t == TW_T_I64 || t == TW_T_F32 ||
         t == TW_T_F64;
}
static bool is_vec(uint8_t t) { return t == T_UNKNOWN || t == TW_T_V128; }
static bool is_ref(uint8_t t) {
  return t == T_UNKNOWN || t == TW_T_FUNCREF || t == TW_T_EXTERNREF;
}

TW_PRINTF(3, 4)
static int fail(struct vstate *st, int code, const char *fmt, ...) {
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tw__err(code, st->err, st->errlen, "function %u, byte 0x%x: %s",
                 st->funcidx, st->offset, msg);
}

static int invalid_type(struct vstate *st, uint8_t want, uint8_t got) {
  return fail(st, TW_EINVALID, "type mismatch: expected %s, got %s",
              type_name(want), type_name(got));
}

/* ---- operand stack ---- */

static int reserve_vals(struct vstate *st, size_t more) {
  if (st->nvals + more <= st->capvals) return 0;
  if (more > VAL_STACK_MAX || st->nvals + more > VAL_STACK_MAX)
    return fail(st, TW_ELIMIT, "operand stack deeper than %u values",
                VAL_STACK_MAX);
  size_t cap = st->capvals ? st->capvals : 256;
  while (cap < st->nvals + more) cap *= 2;
  uint8_t *v = tw__realloc(st->vals, cap);
  if (!v) return fail(st, TW_ENOMEM, "out of memory");
  st->vals = v;
  st->capvals = cap;
  return 0;
}

static int push(struct vstate *st, uint8_t t) {
  int rc = reserve_vals(st, 1);
  if (rc) return rc;
  st->vals[st->nvals++] = t;
  return 0;
}

static int push_vals(struct vstate *st, const uint8_t *ts, uint32_t n) {
  int rc = reserve_vals(st, n);
  if (rc) return rc;
  /* n is almost always 0 or 1: a loop beats a memcpy call */
  for (uint32_t i = 0; i < n; i++) st->vals[st->nvals + i] = ts[i];
  st->nvals += n;
  return 0;
}

/* Pops one value of any type into *out (T_UNKNOWN below the frame's base
 * in unreachable code). `want` only words the message. */
static int pop_any(struct vstate *st, uint8_t want, uint8_t *out) {
  const struct ctrl *c = &st->ctrls[st->nctrls - 1];
  *out = T_UNKNOWN;
  if (st->nvals == c->height) {
    if (c->unreachable) {
      *out = T_UNKNOWN;
      return 0;
    }
    if (want == T_UNKNOWN)
      return fail(st, TW_EINVALID, "type mismatch: expected a value, "
                                   "got nothing");
    return fail(st, TW_EINVALID, "type mismatch: expected %s, got nothing",
                type_name(want));
  }
  *out = st->vals[--st->nvals];
  return 0;
}

static int pop_expect(struct vstate *st, uint8_t want) {
  uint8_t got;
  /* fast path: a value of the frame is there and has the wanted type */
  if (st->nvals > st->ctrls[st->nctrls - 1].height &&
      st->vals[st->nvals - 1] == want) {
    st->nvals--;
    return 0;
  }
  int rc = pop_any(st, want, &got);
  if (rc) return rc;
  if (got != want && got != T_UNKNOWN && want != T_UNKNOWN)
    return invalid_type(st, want, got);
  return 0;
}

static int pop_vals(struct vstate *st, const uint8_t *ts, uint32_t n) {
  for (uint32_t i = n; i-- > 0;) {
    int rc = pop_expect(st, ts[i]);
    if (rc) return rc;
  }
  return 0;
}

static void set_unreachable(struct vstate *st) {
  struct ctrl *c = &st->ctrls[st->nctrls - 1];
  st->nvals = c->height;
  c->unreachable = true;
}

/* ---- control stack ---- */

static int push_ctrl(struct vstate *st, uint16_t op, const uint8_t *params,
                     uint32_t nparams, const uint8_t *results,
                     uint32_t nresults) {
  if (st->nctrls == st->capctrls) {
    /* +1: the function's own frame */
    if (st->nctrls >= (size_t)TW_LIMIT_BLOCK_DEPTH + 1)
      return fail(st, TW_ELIMIT, "blocks nested deeper than %u",
                  TW_LIMIT_BLOCK_DEPTH);
    size_t cap = st->capctrls ? st->capctrls * 2 : 16;
    if (cap > (size_t)TW_LIMIT_BLOCK_DEPTH + 1)
      cap = (size_t)TW_LIMIT_BLOCK_DEPTH + 1;
    struct ctrl *c = tw__reallocarray(st->ctrls, cap, sizeof *c);
    if (!c) return fail(st, TW_ENOMEM, "out of memory");
    st->ctrls = c;
    st->capctrls = cap;
  }
  struct ctrl *c = &st->ctrls[st->nctrls++];
  c->op = op;
  c->unreachable = false;
  c->params = params;
  c->nparams = nparams;
  c->results = results;
  c->nresults = nresults;
  c->height = st->nvals;
  return push_vals(st, params, nparams);
}

/* Checks the frame's results are exactly what is left above its base and
 * removes it; *out receives a copy. */
static int pop_ctrl(struct vstate *st, struct ctrl *out) {
  const struct ctrl *c = &st->ctrls[st->nctrls - 1];
  int rc = pop_vals(st, c->results, c->nresults);
  if (rc) return rc;
  if (st->nvals != c->height)
    return fail(st, TW_EINVALID,
                "type mismatch: %zu value(s) left on the stack at the end of "
                "a block",
                st->nvals - c->height);
  *out = *c;
  st->nctrls--;
  return 0;
}

static void label_types(const struct ctrl *c, const uint8_t **ts,
                        uint32_t *n) {
  if (c->op == TW_OP_LOOP) {
    *ts = c->params;
    *n = c->nparams;
  } else {
    *ts = c->results;
    *n = c->nresults;
  }
}

static int label(struct vstate *st, uint32_t depth, const struct ctrl **out) {
  *out = &st->ctrls[0];
  if (depth >= st->nctrls)
    return fail(st, TW_EINVALID, "unknown label %u", depth);
  *out = &st->ctrls[st->nctrls - 1 - depth];
  return 0;
}

/* Resolves a block type to its parameter and result types. */
static int block_type(struct vstate *st, const struct tw__instr *in,
                      const uint8_t **params, uint32_t *np,
                      const uint8_t **results, uint32_t *nr) {
  *params = NULL;
  *np = 0;
  *results = NULL;
  *nr = 0;
  if (in->bt_kind == TW_BLOCK_VAL) {
    *results = one_type(in->bt_val);
    if (!*results)
      return fail(st, TW_EMALFORMED, "malformed block type 0x%02x",
                  in->bt_val);
    *nr = 1;
  } else if (in->bt_kind == TW_BLOCK_TYPE) {
    if (in->idx >= st->m->ntypes)
      return fail(st, TW_EINVALID, "unknown type %u", in->idx);
    const struct tw__functype *ft = &st->m->types[in->idx];
    *params = ft->types;
    *np = ft->nparams;
    *results = ft->types + ft->nparams;
    *nr = ft->nresults;
  }
  return 0;
}

/* ---- index-space lookups with the spec's messages ---- */

static int need_memory(struct vstate *st, uint32_t idx) {
  if (idx >= st->nmems_all)
    return fail(st, TW_EINVALID, "unknown memory %u", idx);
  return 0;
}

static int need_table(struct vstate *st, uint32_t idx, uint8_t *reftype) {
  if (reftype) *reftype = T_UNKNOWN;
  if (idx >= st->ntables_all)
    return fail(st, TW_EINVALID, "unknown table %u", idx);
  if (reftype) *reftype = tw__module_table(st->m, idx)->reftype;
  return 0;
}

static int need_elem(struct vstate *st, uint32_t idx) {
  if (idx >= st->m->nelems)
    return fail(st, TW_EINVALID, "unknown elem segment %u", idx);
  return 0;
}

static int need_data(struct vstate *st, uint32_t idx) {
  /* The spec classes this as malformed: without the count, a one-pass
   * compiler cannot check the index before the data section arrives. */
  if (!st->m->has_datacount)
    return fail(st, TW_EMALFORMED, "data count section required");
  if (idx >= st->m->datacount)
    return fail(st, TW_EINVALID, "unknown data segment %u", idx);
  return 0;
}

/* ---- instructions ---- */

static uint8_t sig_type(char c) {
  switch (c) {
  case 'i': return TW_T_I32;
  case 'l': return TW_T_I64;
  case 'f': return TW_T_F32;
  case 'd': return TW_T_F64;
  case 'v': return TW_T_V128;
  }
  return T_UNKNOWN;
}

/* Fills st->sigs from the opcode table. Signatures longer than the
 * struct holds would be a bug in opcodes.h: such ops are left without one
 * and end up refused as illegal, loudly. */
static void init_sigs(struct vstate *st) {
  for (unsigned op = 0; op < TW_OP_LIMIT_; op++) {
    struct opsig *o = &st->sigs[op];
    const char *sig = tw__op_sig(op);
    memset(o, 0, sizeof *o);
    o->imm = (uint8_t)tw__op_imm(op);
    if (!sig) continue;
    const char *p = sig;
    for (; *p && *p != ':' && o->npop < sizeof o->pop; p++)
      o->pop[o->npop++] = sig_type(*p);
    if (*p != ':') continue;
    for (p++; *p && o->npush < sizeof o->push; p++)
      o->push[o->npush++] = sig_type(*p);
    if (*p) continue;
    o->has_sig = 1;
  }
}

/* Types an instruction from its decoded signature. */
static int apply_sig(struct vstate *st, const struct opsig *o) {
  int rc;
  if ((rc = pop_vals(st, o->pop, o->npop))) return rc;
  return push_vals(st, o->push, o->npush);
}

static int check_align(struct vstate *st, const struct tw__instr *in) {
  unsigned width = tw__op_width(in->op);
  if (in->align >= 32 || (1u << in->align) > width)
    return fail(st, TW_EINVALID,
                "alignment must not be larger than natural (%s: 2^%u > %u)",
                tw__op_name(in->op), in->align, width);
  return 0;
}

/* Immediate checks of the instructions typed by signature. */
static int check_sig_imms(struct vstate *st, const struct tw__instr *in) {
  int rc;
  uint8_t t1, t2;
  switch (st->sigs[in->op].imm) {
  case TW_IMM_MEMARG:
    if ((rc = need_memory(st, 0))) return rc;
    return check_align(st, in);
  case TW_IMM_MEMARG_LANE:
    if ((rc = need_memory(st, 0))) return rc;
    if ((rc = check_align(st, in))) return rc;
    if (in->lane >= 16 / tw__op_width(in->op))
      return fail(st, TW_EINVALID, "invalid lane index %u", in->lane);
    return 0;
  case TW_IMM_LANE:
    if (in->lane >= tw__op_width(in->op))
      return fail(st, TW_EINVALID, "invalid lane index %u", in->lane);
    return 0;
  case TW_IMM_SHUFFLE:
    for (int i = 0; i < 16; i++)
      if (in->bytes[i] >= 32)
        return fail(st, TW_EINVALID, "invalid lane index %u", in->bytes[i]);
    return 0;
  case TW_IMM_MEMORY:
    return need_memory(st, in->idx);
  case TW_IMM_MEMORY_MEMORY:
    if ((rc = need_memory(st, in->idx))) return rc;
    return need_memory(st, in->idx2);
  case TW_IMM_DATA_MEMORY:
    if ((rc = need_memory(st, in->idx2))) return rc;
    return need_data(st, in->idx);
  case TW_IMM_DATA:
    return need_data(st, in->idx);
  case TW_IMM_ELEM:
    return need_elem(st, in->idx);
  case TW_IMM_ELEM_TABLE:
    if ((rc = need_table(st, in->idx2, &t1))) return rc;
    if ((rc = need_elem(st, in->idx))) return rc;
    t2 = st->m->elems[in->idx].reftype;
    if (t1 != t2) return invalid_type(st, t1, t2);
    return 0;
  case TW_IMM_TABLE_TABLE:
    if ((rc = need_table(st, in->idx, &t1))) return rc;
    if ((rc = need_table(st, in->idx2, &t2))) return rc;
    if (t1 != t2) return invalid_type(st, t1, t2);
    return 0;
  case TW_IMM_TABLE:
    return need_table(st, in->idx, NULL);
  }
  return 0;
}

static int local_type(struct vstate *st, uint32_t idx, uint8_t *t) {
  *t = T_UNKNOWN;
  if (idx < st->nparams) {
    *t = st->params[idx];
    return 0;
  }
  if ((uint64_t)idx - st->nparams < st->nlocals) {
    *t = st->locals[idx - st->nparams];
    return 0;
  }
  return fail(st, TW_EINVALID, "unknown local %u", idx);
}

static int check_br_table(struct vstate *st, const struct tw__instr *in) {
  const struct ctrl *c;
  const uint8_t *ts;
  uint32_t arity, n;
  int rc;
  if ((rc = pop_expect(st, TW_T_I32))) return rc;
  if ((rc = label(st, in->idx, &c))) return rc;
  label_types(c, &ts, &arity);
  if (arity > st->capscratch) {
    uint8_t *s = tw__realloc(st->scratch, arity);
    if (!s) return fail(st, TW_ENOMEM, "out of memory");
    st->scratch = s;
    st->capscratch = arity;
  }
  for (uint32_t k = 0; k < in->ntargets; k++) {
    const struct ctrl *ck;
    if ((rc = label(st, in->targets[k], &ck))) return rc;
    label_types(ck, &ts, &n);
    if (n != arity)
      return fail(st, TW_EINVALID,
                  "type mismatch: br_table target %u has %u value(s), the "
                  "default %u",
                  in->targets[k], n, arity);
    /* Pop the target's types and push back what was popped (Unknown
     * stays Unknown), as the spec's algorithm does. */
    for (uint32_t i = n; i-- > 0;) {
      uint8_t got;
      if ((rc = pop_any(st, ts[i], &got))) return rc;
      if (got != ts[i] && got != T_UNKNOWN)
        return invalid_type(st, ts[i], got);
      st->scratch[i] = got;
    }
    if ((rc = push_vals(st, st->scratch, n))) return rc;
  }
  label_types(c, &ts, &n);
  if ((rc = pop_vals(st, ts, n))) return rc;
  set_unreachable(st);
  return 0;
}

static int check_call(struct vstate *st, const struct tw__functype *ft) {
  int rc = pop_vals(st, ft->types, ft->nparams);
  if (rc) return rc;
  return push_vals(st, ft->types + ft->nparams, ft->nresults);
}

static int check_instr(struct vstate *st, const struct tw__instr *in) {
  const struct tw__module *m = st->m;
  const struct opsig *o;
  const struct ctrl *c;
  struct ctrl fr;
  const uint8_t *ps, *rs;
  uint32_t np, nr;
  uint8_t t, t1, t2;
  int rc;

  if (in->op >= TW_OP_LIMIT_)
    return fail(st, TW_EMALFORMED, "illegal opcode 0x%x", in->op);
  o = &st->sigs[in->op];
  if (o->has_sig) {
    if (o->imm != TW_IMM_NONE && (rc = check_sig_imms(st, in))) return rc;
    return apply_sig(st, o);
  }
  switch (in->op) {
  case TW_OP_UNREACHABLE:
    set_unreachable(st);
    return 0;
  case TW_OP_NOP:
    return 0;
  case TW_OP_BLOCK:
  case TW_OP_LOOP:
    if ((rc = block_type(st, in, &ps, &np, &rs, &nr))) return rc;
    if ((rc = pop_vals(st, ps, np))) return rc;
    return push_ctrl(st, in->op, ps, np, rs, nr);
  case TW_OP_IF:
    if ((rc = block_type(st, in, &ps, &np, &rs, &nr))) return rc;
    if ((rc = pop_expect(st, TW_T_I32))) return rc;
    if ((rc = pop_vals(st, ps, np))) return rc;
    return push_ctrl(st, in->op, ps, np, rs, nr);
  case TW_OP_ELSE:
    if (st->ctrls[st->nctrls - 1].op != TW_OP_IF)
      return fail(st, TW_EMALFORMED, "else without a matching if");
    if ((rc = pop_ctrl(st, &fr))) return rc;
    return push_ctrl(st, TW_OP_ELSE, fr.params, fr.nparams, fr.results,
                     fr.nresults);
  case TW_OP_END:
    if ((rc = pop_ctrl(st, &fr))) return rc;
    /* An if without else passes its parameters through the missing arm. */
    if (fr.op == TW_OP_IF &&
        (fr.nparams != fr.nresults ||
         (fr.nparams && memcmp(fr.params, fr.results, fr.nparams) != 0)))
      return fail(st, TW_EINVALID,
                  "type mismatch: if without else must have matching "
                  "parameter and result types");
    return push_vals(st, fr.results, fr.nresults);
  case TW_OP_BR:
    if ((rc = label(st, in->idx, &c))) return rc;
    label_types(c, &ps, &np);
    if ((rc = pop_vals(st, ps, np))) return rc;
    set_unreachable(st);
    return 0;
  case TW_OP_BR_IF:
    if ((rc = label(st, in->idx, &c))) return rc;
    if ((rc = pop_expect(st, TW_T_I32))) return rc;
    label_types(c, &ps, &np);
    if ((rc = pop_vals(st, ps, np))) return rc;
    return push_vals(st, ps, np);
  case TW_OP_BR_TABLE:
    return check_br_table(st, in);
  case TW_OP_RETURN:
    c = &st->ctrls[0];
    if ((rc = pop_vals(st, c->results, c->nresults))) return rc;
    set_unreachable(st);
    return 0;
  case TW_OP_CALL:
    if (in->idx >= st->nfuncs_all)
      return fail(st, TW_EINVALID, "unknown function %u", in->idx);
    return check_call(st, &m->types[tw__module_func_type(m, in->idx)]);
  case TW_OP_CALL_INDIRECT:
    if ((rc = need_table(st, in->idx2, &t))) return rc;
    if (t != TW_T_FUNCREF)
      return fail(st, TW_EINVALID,
                  "type mismatch: call_indirect through table %u of %s",
                  in->idx2, type_name(t));
    if (in->idx >= m->ntypes)
      return fail(st, TW_EINVALID, "unknown type %u", in->idx);
    if ((rc = pop_expect(st, TW_T_I32))) return rc;
    return check_call(st, &m->types[in->idx]);
  case TW_OP_DROP:
    return pop_any(st, T_UNKNOWN, &t);
  case TW_OP_SELECT:
    if ((rc = pop_expect(st, TW_T_I32))) return rc;
    if ((rc = pop_any(st, T_UNKNOWN, &t1))) return rc;
    if ((rc = pop_any(st, T_UNKNOWN, &t2))) return rc;
    if (!((is_num(t1) && is_num(t2)) || (is_vec(t1) && is_vec(t2))))
      return fail(st, TW_EINVALID,
                  "type mismatch: select without a type needs numeric or "
                  "vector operands, got %s and %s",
                  type_name(t2), type_name(t1));
    if (t1 != t2 && t1 != T_UNKNOWN && t2 != T_UNKNOWN)
      return invalid_type(st, t2, t1);
    return push(st, t1 == T_UNKNOWN ? t2 : t1);
  case TW_OP_SELECT_T:
    if (in->select_count != 1)
      return fail(st, TW_EINVALID, "invalid result arity: select with %u "
                  "types", in->select_count);
    if (!one_type(in->reftype))
      return fail(st, TW_EMALFORMED, "malformed value type 0x%02x",
                  in->reftype);
    if ((rc = pop_expect(st, TW_T_I32))) return rc;
    if ((rc = pop_expect(st, in->reftype))) return rc;
    if ((rc = pop_expect(st, in->reftype))) return rc;
    return push(st, in->reftype);
  case TW_OP_LOCAL_GET:
    if ((rc = local_type(st, in->idx, &t))) return rc;
    return push(st, t);
  case TW_OP_LOCAL_SET:
    if ((rc = local_type(st, in->idx, &t))) return rc;
    return pop_expect(st, t);
  case TW_OP_LOCAL_TEE:
    if ((rc = local_type(st, in->idx, &t))) return rc;
    if ((rc = pop_expect(st, t))) return rc;
    return push(st, t);
  case TW_OP_GLOBAL_GET:
    if (in->idx >= st->nglobals_all)
      return fail(st, TW_EINVALID, "unknown global %u", in->idx);
    return push(st, tw__module_global(m, in->idx)->type);
  case TW_OP_GLOBAL_SET: {
    if (in->idx >= st->nglobals_all)
      return fail(st, TW_EINVALID, "unknown global %u", in->idx);
    const struct tw__globaltype *g = tw__module_global(m, in->idx);
    if (!g->mutable_)
      return fail(st, TW_EINVALID, "global is immutable: global %u",
                  in->idx);
    return pop_expect(st, g->type);
  }
  case TW_OP_TABLE_GET:
    if ((rc = need_table(st, in->idx, &t))) return rc;
    if ((rc = pop_expect(st, TW_T_I32))) return rc;
    return push(st, t);
  case TW_OP_TABLE_SET:
    if ((rc = need_table(st, in->idx, &t))) return rc;
    if ((rc = pop_expect(st, t))) return rc;
    return pop_expect(st, TW_T_I32);
  case TW_OP_TABLE_GROW:
    if ((rc = need_table(st, in->idx, &t))) return rc;
    if ((rc = pop_expect(st, TW_T_I32))) return rc;
    if ((rc = pop_expect(st, t))) return rc;
    return push(st, TW_T_I32);
  case TW_OP_TABLE_FILL:
    if ((rc = need_table(st, in->idx, &t))) return rc;
    if ((rc = pop_expect(st, TW_T_I32))) return rc;
    if ((rc = pop_expect(st, t))) return rc;
    return pop_expect(st, TW_T_I32);
  case TW_OP_REF_NULL:
    if (in->reftype != TW_T_FUNCREF && in->reftype != TW_T_EXTERNREF)
      return fail(st, TW_EMALFORMED, "malformed reference type 0x%02x",
                  in->reftype);
    return push(st, in->reftype);
  case TW_OP_REF_IS_NULL:
    if ((rc = pop_any(st, T_UNKNOWN, &t))) return rc;
    if (!is_ref(t))
      return fail(st, TW_EINVALID,
                  "type mismatch: ref.is_null needs a reference, got %s",
                  type_name(t));
    return push(st, TW_T_I32);
  case TW_OP_REF_FUNC:
    if (in->idx >= st->nfuncs_all)
      return fail(st, TW_EINVALID, "unknown function %u", in->idx);
    if (!(st->declared[in->idx >> 3] & (1u << (in->idx & 7))))
      return fail(st, TW_EINVALID,
                  "undeclared function reference: function %u is not "
                  "named by an element segment, export or global",
                  in->idx);
    return push(st, TW_T_FUNCREF);
  }
  return fail(st, TW_EMALFORMED, "illegal opcode %s (0x%x)",
              tw__op_name(in->op) ? tw__op_name(in->op) : "?", in->op);
}

static int check_body(struct vstate *st, struct tw__reader *r, uint32_t i) {
  const struct tw__module *m = st->m;
  const struct tw__func *f = &m->funcs[i];
  const struct tw__functype *ft = &m->types[f->type];
  struct tw__instr in;
  char msg[200];
  int rc;

  st->funcidx = m->nfunc_imports + i;
  st->params = ft->types;
  st->nparams = ft->nparams;
  st->locals = f->local_types;
  st->nlocals = f->nlocals;
  st->offset = f->body_offset;
  st->nvals = 0;
  st->nctrls = 0;
  if ((rc = push_ctrl(st, TW_OP_END, NULL, 0, ft->types + ft->nparams,
                      ft->nresults)))
    return rc;

  r->p = f->code;
  r->end = f->end;
  while (st->nctrls > 0) {
    if (r->p >= r->end) {
      st->offset = (uint32_t)(r->p - m->bytes);
      return fail(st, TW_EMALFORMED, "END opcode expected");
    }
    if ((rc = tw__reader_next(r, &in, msg, sizeof msg)))
      return tw__err(rc, st->err, st->errlen, "function %u, %s",
                     st->funcidx, msg);
    st->offset = in.offset;
    if ((rc = check_instr(st, &in))) return rc;
  }
  if (r->p != r->end) {
    st->offset = (uint32_t)(r->p - m->bytes);
    return fail(st, TW_EMALFORMED,
                "END opcode expected: bytes follow the function's final end");
  }
  return 0;
}

int tw__validate_code(const struct tw__module *m, const uint8_t *declared,
                      char *err, size_t errlen) {
  struct vstate st;
  struct tw__reader r;
  int rc = 0;

  memset(&st, 0, sizeof st);
  st.m = m;
  init_sigs(&st);
  st.declared = declared;
  st.nfuncs_all = tw__module_func_count(m);
  st.ntables_all = tw__module_table_count(m);
  st.nmems_all = tw__module_memory_count(m);
  st.nglobals_all = tw__module_global_count(m);
  st.err = err;
  st.errlen = errlen;

  /* One reader for all bodies: its br_table scratch is reused. */
  tw__reader_init(&r, m->bytes, m->bytes, m->bytes);
  for (uint32_t i = 0; i < m->nfuncs && rc == 0; i++)
    rc = check_body(&st, &r, i);
  tw__reader_close(&r);
  tw__free(st.vals);
  tw__free(st.ctrls);
  tw__free(st.scratch);
  return rc;
}
