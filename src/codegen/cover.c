/* Covered loads: loads whose trap a later access makes certain, so they
 * can go without their keep (prelude.h, TWR_LOAD (a)).
 *
 * A load needs its keep because gcc may delete or sink a load whose value
 * it finds unused, and an out-of-bounds load must still trap. Memory is
 * one range from address 0, so if the bytes [a+o, a+o+w) are out of
 * bounds, so is every access [a+o', a+o'+w') with o'+w' >= o+w: the
 * address a is the same 32-bit value, and the static offsets add without
 * wrapping. When the same straight-line code goes on to such a load or
 * store, with nothing in between that has an effect or may trap
 * otherwise, an out-of-bounds load is followed by an out-of-bounds
 * access: the trap happens either way, at the load or at that access,
 * with no effect in between. `x[i] += v` is the common case (without the
 * keep gcc folds the load into the add), then struct fields and array
 * neighbours read in ascending order (p->a, p->b; w[i-15] .. w[i-2]
 * before w[i] = ...). A covering load may itself be covered by a later
 * access: the chain ends at a store or at a load that keeps its keep.
 *
 * The analysis numbers values within straight-line code: local.get gives
 * the local's current number, an integer constant or a pure integer
 * operator of numbered operands gives the number of the same expression
 * seen before, anything else a fresh one. Any instruction other than
 * local access, constants, pure operators, loads, drop and select ends the
 * straight line: control (every label may merge values), calls, stores,
 * global and table access, bulk memory, and operators that may trap. Work
 * is linear in the body: locals are reset by an epoch, the expression
 * table and the list of pending loads are small and bounded.
 */
#include <stdlib.h>
#include <string.h>

#include "codegen/codegen_int.h"

#define EXPRS 64
#define PENDING 16

struct expr {
  uint16_t op;
  uint32_t a, b;
  uint64_t k;
  uint32_t vn;
};

struct pend {
  uint32_t at; /* byte offset of the load */
  uint32_t vn, offs;
  unsigned width;
};

struct cover {
  uint32_t next; /* next fresh value number (0 is never used) */
  uint32_t epoch;
  uint32_t *lvn, *lepoch; /* per local: number, epoch it was set in */
  uint32_t *stack;
  uint32_t height, cap;
  struct expr exprs[EXPRS];
  unsigned nexprs;
  struct pend pend[PENDING];
  unsigned npend;
  uint32_t *out;
  uint32_t nout, outcap;
  int error;
};

static uint32_t fresh(struct cover *c) { return ++c->next; }

/* Appends v to the growable array *a of *n entries (capacity *cap). */
static void append(struct cover *c, uint32_t **a, uint32_t *n, uint32_t *cap,
                   uint32_t v) {
  if (*n == *cap) {
    uint32_t ncap = *cap ? *cap * 2 : 32;
    uint32_t *g = tw__reallocarray(*a, ncap, sizeof *g);
    if (!g) {
      c->error = TW_ENOMEM;
      return;
    }
    *a = g;
    *cap = ncap;
  }
  (*a)[(*n)++] = v;
}

static void push(struct cover *c, uint32_t vn) {
  append(c, &c->stack, &c->height, &c->cap, vn);
}

/* Values from before the straight line began are unknown: fresh. */
static uint32_t pop(struct cover *c) {
  return c->height ? c->stack[--c->height] : fresh(c);
}

static uint32_t local_vn(struct cover *c, uint32_t i) {
  if (c->lepoch[i] != c->epoch) {
    c->lepoch[i] = c->epoch;
    c->lvn[i] = fresh(c);
  }
  return c->lvn[i];
}

/* The number of op(a, b, k): the one it had before in this straight line,
 * or a fresh one (also when the table is full). */
static uint32_t lookup(struct cover *c, uint16_t op, uint32_t a, uint32_t b,
                       uint64_t k) {
  for (unsigned i = 0; i < c->nexprs; i++) {
    struct expr *e = &c->exprs[i];
    if (e->op == op && e->a == a && e->b == b && e->k == k) return e->vn;
  }
  uint32_t vn = fresh(c);
  if (c->nexprs < EXPRS)
    c->exprs[c->nexprs++] = (struct expr){op, a, b, k, vn};
  return vn;
}

/* Ends the straight line: nothing before is known afterwards. */
static void barrier(struct cover *c) {
  c->epoch++;
  c->height = 0;
  c->nexprs = 0;
  c->npend = 0;
}

/* An access of `width` bytes at value vn + offs covers the pending loads
 * of the same value that end no later; they leave the list (a load is
 * recorded once). */
static void cover_pending(struct cover *c, uint32_t vn, uint32_t offs,
                          unsigned width) {
  uint64_t end = (uint64_t)offs + width;
  unsigned k = 0;
  for (unsigned i = 0; i < c->npend; i++) {
    struct pend *p = &c->pend[i];
    if (p->vn == vn && (uint64_t)p->offs + p->width <= end)
      append(c, &c->out, &c->nout, &c->outcap, p->at);
    else
      c->pend[k++] = *p;
  }
  c->npend = k;
}

static bool is_int(char t) { return t == 'i' || t == 'l'; }

static bool may_trap(unsigned op) {
  switch (op) {
  case TW_OP_I32_DIV_S: case TW_OP_I32_DIV_U:
  case TW_OP_I32_REM_S: case TW_OP_I32_REM_U:
  case TW_OP_I64_DIV_S: case TW_OP_I64_DIV_U:
  case TW_OP_I64_REM_S: case TW_OP_I64_REM_U:
  case TW_OP_I32_TRUNC_F32_S: case TW_OP_I32_TRUNC_F32_U:
  case TW_OP_I32_TRUNC_F64_S: case TW_OP_I32_TRUNC_F64_U:
  case TW_OP_I64_TRUNC_F32_S: case TW_OP_I64_TRUNC_F32_U:
  case TW_OP_I64_TRUNC_F64_S: case TW_OP_I64_TRUNC_F64_U:
    return true;
  default:
    return false;
  }
}

static bool scalar_load(unsigned op) {
  return op >= TW_OP_I32_LOAD && op <= TW_OP_I64_LOAD32_U;
}

static bool scalar_store(unsigned op) {
  return op >= TW_OP_I32_STORE && op <= TW_OP_I64_STORE32;
}

static void step(struct cover *c, const struct tw__instr *in) {
  unsigned op = in->op;
  switch (op) {
  case TW_OP_NOP:
    return;
  case TW_OP_LOCAL_GET:
    push(c, local_vn(c, in->idx));
    return;
  case TW_OP_LOCAL_SET:
    c->lvn[in->idx] = pop(c);
    c->lepoch[in->idx] = c->epoch;
    return;
  case TW_OP_LOCAL_TEE: {
    uint32_t v = pop(c);
    c->lvn[in->idx] = v;
    c->lepoch[in->idx] = c->epoch;
    push(c, v);
    return;
  }
  case TW_OP_I32_CONST:
  case TW_OP_I64_CONST:
    push(c, lookup(c, (uint16_t)op, 0, 0, in->i64));
    return;
  case TW_OP_DROP:
    pop(c);
    return;
  case TW_OP_SELECT:
  case TW_OP_SELECT_T:
    pop(c);
    pop(c);
    pop(c);
    push(c, fresh(c));
    return;
  default:
    break;
  }
  if (scalar_load(op)) {
    uint32_t a = pop(c);
    unsigned w = tw__op_width(op);
    cover_pending(c, a, in->offs, w);
    if (c->npend < PENDING)
      c->pend[c->npend++] = (struct pend){in->offset, a, in->offs, w};
    push(c, fresh(c));
    return;
  }
  if (scalar_store(op)) {
    pop(c);
    uint32_t a = pop(c);
    cover_pending(c, a, in->offs, tw__op_width(op));
    barrier(c);
    return;
  }
  const char *sig = tw__op_sig(op);
  if (!sig || tw__op_width(op) || may_trap(op) || op == TW_OP_MEMORY_SIZE ||
      op == TW_OP_MEMORY_GROW || op >= 0x200) {
    barrier(c);
    return;
  }
  /* A pure operator: "P:R" with up to two parameters and one result. */
  const char *colon = strchr(sig, ':');
  unsigned np = (unsigned)(colon - sig);
  if (np > 2 || strlen(colon + 1) != 1) {
    barrier(c);
    return;
  }
  uint32_t b = np == 2 ? pop(c) : 0;
  uint32_t a = np >= 1 ? pop(c) : 0;
  bool ints = is_int(colon[1]) && (np < 1 || is_int(sig[0])) &&
              (np < 2 || is_int(sig[1]));
  push(c, ints ? lookup(c, (uint16_t)op, a, b, 0) : fresh(c));
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

int tw__cg_covered_loads(const struct tw__module *m, const struct tw__func *fn,
                         uint32_t nlocals, uint32_t **out, uint32_t *nout,
                         char *err, size_t errlen) {
  *out = NULL;
  *nout = 0;
  struct cover c;
  memset(&c, 0, sizeof c);
  c.epoch = 1;
  c.lvn = tw__calloc(nlocals ? nlocals : 1, sizeof *c.lvn);
  c.lepoch = tw__calloc(nlocals ? nlocals : 1, sizeof *c.lepoch);
  int rc = 0;
  if (!c.lvn || !c.lepoch) {
    rc = TW_ENOMEM;
    goto done;
  }
  struct tw__reader r;
  tw__reader_init(&r, m->bytes, fn->code, fn->end);
  while (r.p < r.end && !c.error) {
    struct tw__instr in;
    if ((rc = tw__reader_next(&r, &in, err, errlen))) break;
    if ((in.op == TW_OP_LOCAL_GET || in.op == TW_OP_LOCAL_SET ||
         in.op == TW_OP_LOCAL_TEE) &&
        in.idx >= nlocals) {
      barrier(&c); /* the validator has refused such code already */
      continue;
    }
    step(&c, &in);
  }
  tw__reader_close(&r);
  if (!rc) rc = c.error;
  if (!rc) {
    /* Ascending, for the emitter's binary search: a load is recorded
     * when its cover comes, which may be after a later load's. */
    if (c.nout > 1) qsort(c.out, c.nout, sizeof *c.out, cmp_u32);
    *out = c.out;
    *nout = c.nout;
    c.out = NULL;
  }
done:
  tw__free(c.out);
  tw__free(c.stack);
  tw__free(c.lvn);
  tw__free(c.lepoch);
  return rc;
}
