/* The services table generated code calls (struct twr_rt in abi.h), with
 * the specification's semantics. Every bounds check is done in 64-bit
 * arithmetic before anything is written, so a trapping bulk operation
 * changes nothing; a length of zero at exactly the end is in bounds.
 * Functions that trap do not return (they unwind to the protected call).
 */
#include "rt/rt.h"

#include <string.h>

#define EXEC(x) ((struct tw__exec *)(x))

static void svc_trap(struct twr_exec *x, int code) {
  tw__rt_trap(EXEC(x), code);
}

/* Runs the host function bound to an import. Arguments and results use
 * small on-stack arrays; larger signatures allocate (freed before any
 * unwinding). */
static void svc_call_host(struct twr_exec *xx, void *binding,
                          const twr_val *args, twr_val *results) {
  struct tw__exec *x = EXEC(xx);
  struct tw__rt_binding *b = binding;
  tw_store_t *store = b->caller->store;
  tw_functype_t ft;
  tw__rt_type_get(store->engine, b->type_id, &ft);

  tw_val_t small[16];
  tw_val_t *vals = small;
  size_t nvals = (size_t)ft.nparams + ft.nresults;
  if (nvals > 16) {
    vals = tw__calloc(nvals, sizeof *vals);
    if (!vals) {
      tw__rt_set_trap(store, TW_TRAP_HOST, 0,
                      "out of memory calling a host function");
      tw__rt_trap(x, TW_TRAP_HOST);
    }
  }
  tw_val_t *argv = vals, *resv = vals + ft.nparams;
  for (uint32_t i = 0; i < ft.nparams; i++)
    tw__rt_val_from_raw(ft.params[i], &args[i], &argv[i]);
  for (uint32_t i = 0; i < ft.nresults; i++) {
    memset(&resv[i], 0, sizeof resv[i]);
    resv[i].type = ft.results[i];
  }

  struct tw_caller caller = {x, b->caller, false};
  store->last_trap.kind = TW_TRAP_NONE;
  __atomic_store_n(&x->in_host, x->in_host + 1, __ATOMIC_RELAXED);
  int rc = b->fn(&caller, b->user, argv, resv);
  __atomic_store_n(&x->in_host, x->in_host - 1, __ATOMIC_RELAXED);

  if (rc == 0) {
    for (uint32_t i = 0; i < ft.nresults; i++) {
      /* The declared type decides how the slot is read. */
      resv[i].type = ft.results[i];
      tw__rt_val_to_raw(&resv[i], &results[i]);
    }
    if (vals != small) tw__free(vals);
    /* Stopped while the host function ran (its poll pages were not
     * armed then): stop here rather than at the next check. */
    if (__atomic_load_n(&x->x.stack_limit, __ATOMIC_RELAXED) == TWR_STOPPED)
      tw__rt_trap(x, TW_TRAP_DEADLINE);
    return;
  }
  if (vals != small) tw__free(vals);

  int kind;
  if ((rc == TW_ETRAP || rc == TW_EEXIT) &&
      store->last_trap.kind != TW_TRAP_NONE) {
    /* tw_caller_trap/exit recorded it, or a nested guest call trapped
     * and the host passed its status on: report that trap. */
    kind = store->last_trap.kind;
  } else if (rc == TW_EEXIT) {
    kind = TW_TRAP_EXIT;
    tw__rt_set_trap(store, kind, 0, NULL);
  } else {
    kind = TW_TRAP_HOST;
    tw__rt_set_trap(store, kind, 0, "host function error: %s",
                    tw_strerror(rc));
  }
  tw__rt_trap(x, kind);
}

static twr_u32 svc_memory_grow(struct twr_exec *x, struct twr_inst *in,
                               twr_u32 mem, twr_u32 delta) {
  (void)x;
  return tw__rt_memory_grow(in->memories[mem], delta);
}

static void svc_memory_fill(struct twr_exec *x, struct twr_inst *in,
                            twr_u32 mem, twr_u32 dst, twr_u32 val,
                            twr_u32 n) {
  struct twr_memory *m = in->memories[mem];
  if ((uint64_t)dst + n > m->size) tw__rt_trap(EXEC(x), TW_TRAP_MEMORY_OOB);
  memset(m->base + dst, (int)(val & 0xff), n);
}

static void svc_memory_copy(struct twr_exec *x, struct twr_inst *in,
                            twr_u32 dst_mem, twr_u32 src_mem, twr_u32 dst,
                            twr_u32 src, twr_u32 n) {
  struct twr_memory *d = in->memories[dst_mem];
  struct twr_memory *s = in->memories[src_mem];
  if ((uint64_t)dst + n > d->size || (uint64_t)src + n > s->size)
    tw__rt_trap(EXEC(x), TW_TRAP_MEMORY_OOB);
  memmove(d->base + dst, s->base + src, n);
}

static void svc_memory_init(struct twr_exec *x, struct twr_inst *in,
                            twr_u32 mem, twr_u32 seg, twr_u32 dst,
                            twr_u32 src, twr_u32 n) {
  struct twr_memory *m = in->memories[mem];
  const struct twr_dataseg *d = &in->datas[seg];
  if ((uint64_t)src + n > d->len || (uint64_t)dst + n > m->size)
    tw__rt_trap(EXEC(x), TW_TRAP_MEMORY_OOB);
  if (n) memcpy(m->base + dst, d->bytes + src, n);
}

static void svc_data_drop(struct twr_exec *x, struct twr_inst *in,
                          twr_u32 seg) {
  (void)x;
  in->datas[seg].len = 0;
}

static void *svc_table_get(struct twr_exec *x, struct twr_inst *in,
                           twr_u32 tab, twr_u32 i) {
  struct twr_table *t = in->tables[tab];
  if (i >= t->size) tw__rt_trap(EXEC(x), TW_TRAP_TABLE_OOB);
  return t->elems[i];
}

static void svc_table_set(struct twr_exec *x, struct twr_inst *in,
                          twr_u32 tab, twr_u32 i, void *ref) {
  struct twr_table *t = in->tables[tab];
  if (i >= t->size) tw__rt_trap(EXEC(x), TW_TRAP_TABLE_OOB);
  t->elems[i] = ref;
}

/* table.grow; also used at instantiation time. */
static twr_u32 table_grow(struct twr_table *t, void *init, twr_u32 delta) {
  uint32_t old = t->size;
  if (delta == 0) return old;
  if (delta > t->max - old) return UINT32_MAX;
  void **e = tw__reallocarray(t->elems, (size_t)old + delta, sizeof *e);
  if (!e) return UINT32_MAX;
  for (uint32_t i = 0; i < delta; i++) e[old + i] = init;
  t->elems = e;
  t->size = old + delta;
  return old;
}

static twr_u32 svc_table_grow(struct twr_exec *x, struct twr_inst *in,
                              twr_u32 tab, void *init, twr_u32 delta) {
  (void)x;
  return table_grow(in->tables[tab], init, delta);
}

static void svc_table_fill(struct twr_exec *x, struct twr_inst *in,
                           twr_u32 tab, twr_u32 i, void *ref, twr_u32 n) {
  struct twr_table *t = in->tables[tab];
  if ((uint64_t)i + n > t->size) tw__rt_trap(EXEC(x), TW_TRAP_TABLE_OOB);
  for (uint32_t k = 0; k < n; k++) t->elems[i + k] = ref;
}

static void svc_table_copy(struct twr_exec *x, struct twr_inst *in,
                           twr_u32 dst_tab, twr_u32 src_tab, twr_u32 dst,
                           twr_u32 src, twr_u32 n) {
  struct twr_table *d = in->tables[dst_tab];
  struct twr_table *s = in->tables[src_tab];
  if ((uint64_t)dst + n > d->size || (uint64_t)src + n > s->size)
    tw__rt_trap(EXEC(x), TW_TRAP_TABLE_OOB);
  if (n) memmove(d->elems + dst, s->elems + src, (size_t)n * sizeof(void *));
}

static void svc_table_init(struct twr_exec *x, struct twr_inst *in,
                           twr_u32 tab, twr_u32 seg, twr_u32 dst,
                           twr_u32 src, twr_u32 n) {
  struct twr_table *t = in->tables[tab];
  const struct twr_elemseg *s = &in->elems[seg];
  if ((uint64_t)src + n > s->len || (uint64_t)dst + n > t->size)
    tw__rt_trap(EXEC(x), TW_TRAP_TABLE_OOB);
  if (n) memcpy(t->elems + dst, s->items + src, (size_t)n * sizeof(void *));
}

static void svc_elem_drop(struct twr_exec *x, struct twr_inst *in,
                          twr_u32 seg) {
  (void)x;
  in->elems[seg].len = 0;
}

uint32_t tw__rt_table_grow(struct twr_table *t, void *init, uint32_t delta) {
  return table_grow(t, init, delta);
}

const struct twr_rt tw__rt_services = {
    .trap = svc_trap,
    .call_host = svc_call_host,
    .memory_grow = svc_memory_grow,
    .memory_fill = svc_memory_fill,
    .memory_copy = svc_memory_copy,
    .memory_init = svc_memory_init,
    .data_drop = svc_data_drop,
    .table_get = svc_table_get,
    .table_set = svc_table_set,
    .table_grow = svc_table_grow,
    .table_fill = svc_table_fill,
    .table_copy = svc_table_copy,
    .table_init = svc_table_init,
    .elem_drop = svc_elem_drop,
};
