/* The payload of a v1 snapshot: an instance's memories (non-zero 4 KiB
 * pages as runs), defined globals, defined tables (function references
 * as indexes into the instance's function space) and dropped-segment
 * bits, in the order docs/SNAPSHOT-FORMAT.md gives. The reader is a
 * cursor over untrusted bytes: every count is checked against the bytes
 * left and against the module before anything is written, and every
 * message names the payload offset. Reading is split in two: decode
 * (source -> an image: memories as sealed memfds, the other records as
 * bytes) and apply (image -> a bare instance), so that a verified image
 * can be applied again without decoding (cache.c).
 */
#include "snap/snap_int.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* ---- Writing ---- */

static void put_u8(struct tw__buf *b, uint8_t v) { tw__buf_append(b, &v, 1); }
static void put_u32(struct tw__buf *b, uint32_t v) {
  uint8_t x[4];
  snap_put32(x, v);
  tw__buf_append(b, x, 4);
}
static void put_u64(struct tw__buf *b, uint64_t v) {
  uint8_t x[8];
  snap_put64(x, v);
  tw__buf_append(b, x, 8);
}

static bool page_is_zero(const uint8_t *p) {
  uint64_t acc = 0;
  for (size_t i = 0; i < SNAP_PAGE; i += 8) {
    uint64_t w;
    memcpy(&w, p + i, 8);
    acc |= w;
  }
  return acc == 0;
}

/* Function reference -> index + 1 in the instance's function space (0 for
 * null); -1 if it belongs to another instance. */
static int64_t func_ref_index(const tw_instance_t *inst, const void *ref) {
  if (!ref) return 0;
  const struct tw__module *m = inst->module->m;
  const struct twr_func *f = ref;
  if (f >= inst->own_funcs && f < inst->own_funcs + m->nfuncs)
    return (int64_t)(f - inst->own_funcs) + m->nfunc_imports + 1;
  for (uint32_t i = 0; i < m->nfunc_imports; i++)
    if (inst->funcs[i] == f) return (int64_t)i + 1;
  return -1;
}

static int put_ref(struct tw__buf *b, const tw_instance_t *inst,
                   uint8_t type, const void *ref, const char *what,
                   uint32_t i, uint32_t k, char *err, size_t errlen) {
  if (type == TW_T_EXTERNREF) {
    if (ref)
      return tw__err(TW_EUNSUPPORTED, err, errlen,
                     "%s %u (element %u) holds an externref, which cannot "
                     "be serialized",
                     what, i, k);
    put_u32(b, 0);
    return 0;
  }
  int64_t idx = func_ref_index(inst, ref);
  if (idx < 0 || idx > UINT32_MAX)
    return tw__err(TW_EUNSUPPORTED, err, errlen,
                   "%s %u (element %u) refers to a function of another "
                   "instance, which cannot be serialized",
                   what, i, k);
  put_u32(b, (uint32_t)idx);
  return 0;
}

static void put_bits(struct tw__buf *b, uint32_t n, bool (*dropped)(
                         const tw_instance_t *, uint32_t),
                     const tw_instance_t *inst) {
  put_u32(b, n);
  for (uint32_t i = 0; i < n; i += 8) {
    uint8_t byte = 0;
    for (uint32_t k = 0; k < 8 && i + k < n; k++)
      if (dropped(inst, i + k)) byte |= (uint8_t)(1u << k);
    put_u8(b, byte);
  }
}

static bool data_dropped(const tw_instance_t *inst, uint32_t i) {
  return inst->datas[i].len == 0 && inst->module->m->datas[i].len != 0;
}
static bool elem_dropped(const tw_instance_t *inst, uint32_t i) {
  return inst->elems[i].len == 0 && inst->module->m->elems[i].count != 0;
}

int tw__snap_capture(tw_instance_t *inst, struct tw__buf *b, char *err,
                     size_t errlen) {
  const struct tw__module *m = inst->module->m;
  if (!tw__rt_instance_self_contained(inst))
    return tw__err(TW_EUNSUPPORTED, err, errlen,
                   "the instance imports a memory, table or mutable "
                   "global; only self-contained instances can be captured");
  int rc;
  put_u32(b, m->nmemories);
  for (uint32_t i = 0; i < m->nmemories; i++) {
    const struct twr_memory *mem = inst->memories[i];
    put_u64(b, mem->pages);
    size_t nruns_at = b->len;
    put_u32(b, 0);
    uint32_t nruns = 0;
    uint64_t npages = mem->size / SNAP_PAGE;
    for (uint64_t pg = 0; pg < npages;) {
      if (page_is_zero(mem->base + pg * SNAP_PAGE)) {
        pg++;
        continue;
      }
      uint64_t end = pg + 1;
      while (end < npages && !page_is_zero(mem->base + end * SNAP_PAGE))
        end++;
      put_u32(b, (uint32_t)pg);
      put_u32(b, (uint32_t)(end - pg));
      tw__buf_append(b, mem->base + pg * SNAP_PAGE,
                     (size_t)(end - pg) * SNAP_PAGE);
      nruns++;
      pg = end;
    }
    if (!b->error) snap_put32((uint8_t *)b->data + nruns_at, nruns);
  }
  put_u32(b, m->nglobals);
  for (uint32_t i = 0; i < m->nglobals; i++) {
    uint8_t t = m->globals[i].type.type;
    const twr_val *v = inst->globals[m->nglobal_imports + i];
    put_u8(b, t);
    switch (t) {
    case TW_T_I32:
    case TW_T_F32:
      put_u32(b, v->i32);
      break;
    case TW_T_I64:
    case TW_T_F64:
      put_u64(b, v->i64);
      break;
    case TW_T_V128: {
      uint8_t x[16];
      memcpy(x, &v->v128, 16);
      tw__buf_append(b, x, 16);
      break;
    }
    default:
      if ((rc = put_ref(b, inst, t, v->ref, "global",
                        m->nglobal_imports + i, 0, err, errlen)))
        return rc;
      break;
    }
  }
  put_u32(b, m->ntables);
  for (uint32_t i = 0; i < m->ntables; i++) {
    const struct twr_table *t = inst->tables[i];
    put_u8(b, t->reftype);
    put_u32(b, t->size);
    for (uint32_t k = 0; k < t->size; k++)
      if ((rc = put_ref(b, inst, t->reftype, t->elems[k], "table", i, k, err,
                        errlen)))
        return rc;
  }
  put_bits(b, m->ndatas, data_dropped, inst);
  put_bits(b, m->nelems, elem_dropped, inst);
  put_u8(b, inst->initialized ? 1 : 0); /* instance flags */
  if (b->error)
    return tw__err(b->error, err, errlen, "payload: %s",
                   tw_strerror(b->error));
  return 0;
}

/* ---- Reading ---- */

/* The memories are read from the source as it decompresses (their runs
 * straight into a memfd mapping: no payload-sized buffer); what follows
 * them is small and read into a buffer that the cursor below walks. */

struct cur {
  const uint8_t *p, *start, *end;
  uint64_t base; /* payload offset of start */
  char *err;
  size_t errlen;
};

#define AT(c) ((size_t)((c)->base + (uint64_t)((c)->p - (c)->start)))

static int short_read(struct cur *c, const char *what) {
  return tw__err(TW_EMALFORMED, c->err, c->errlen,
                 "payload byte 0x%zx: truncated %s", AT(c), what);
}

static int get_u8(struct cur *c, uint8_t *v, const char *what) {
  *v = 0;
  if (c->end - c->p < 1) return short_read(c, what);
  *v = *c->p++;
  return 0;
}
static int get_u32(struct cur *c, uint32_t *v, const char *what) {
  *v = 0;
  if (c->end - c->p < 4) return short_read(c, what);
  *v = snap_get32(c->p);
  c->p += 4;
  return 0;
}
static int get_u64(struct cur *c, uint64_t *v, const char *what) {
  *v = 0;
  if (c->end - c->p < 8) return short_read(c, what);
  *v = snap_get64(c->p);
  c->p += 8;
  return 0;
}

#define BAD(c, ...)                                                         \
  tw__err(TW_EMALFORMED, (c)->err, (c)->errlen, __VA_ARGS__)

/* Reading from the source. src_failed tells a frame error (which ends the
 * read at once) from a payload error (reported once the frame is known
 * good: see tw__snap_decode). */
struct rd {
  struct tw__snap_src *s;
  bool src_failed;
  char *err;
  size_t errlen;
};

static int rd_short(struct rd *r, const char *what) {
  return tw__err(TW_EMALFORMED, r->err, r->errlen,
                 "payload byte 0x%zx: truncated %s", (size_t)r->s->pos, what);
}

static int rd_bytes(struct rd *r, void *dst, size_t n, const char *what) {
  if (r->s->len - r->s->pos < n) return rd_short(r, what);
  int rc = tw__snap_src_read(r->s, dst, n, r->err, r->errlen);
  if (rc) r->src_failed = true;
  return rc;
}

static int rd_u32(struct rd *r, uint32_t *v, const char *what) {
  uint8_t x[4];
  *v = 0;
  int rc = rd_bytes(r, x, 4, what);
  if (!rc) *v = snap_get32(x);
  return rc;
}

static int rd_u64(struct rd *r, uint64_t *v, const char *what) {
  uint8_t x[8];
  *v = 0;
  int rc = rd_bytes(r, x, 8, what);
  if (!rc) *v = snap_get64(x);
  return rc;
}

static int get_ref(struct cur *c, const tw_instance_t *inst, uint8_t type,
                   void **out) {
  size_t at = AT(c);
  uint32_t idx;
  int rc = get_u32(c, &idx, "reference");
  if (rc) return rc;
  if (idx == 0) {
    *out = NULL;
    return 0;
  }
  const struct tw__module *m = inst->module->m;
  if (type != TW_T_FUNCREF || idx - 1 >= tw__module_func_count(m))
    return BAD(c, "payload byte 0x%zx: reference %u is not a function of "
                  "the module",
               at, idx);
  *out = (void *)inst->funcs[idx - 1];
  return 0;
}

/* Memory i's size against what the module and this instance allow. */
static int check_pages(tw_instance_t *inst, uint32_t i, uint64_t pages,
                       uint64_t at, char *err, size_t errlen) {
  const struct tw__module *m = inst->module->m;
  const struct twr_memory *mem = inst->memories[i];
  if (pages < m->memories[i].min || pages > mem->max_pages)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "payload byte 0x%zx: memory %u has %llu pages, the "
                   "module allows %llu to %llu",
                   (size_t)at, i, (unsigned long long)pages,
                   (unsigned long long)m->memories[i].min,
                   (unsigned long long)mem->max_pages);
  return 0;
}

/* Reads memory i's size and runs; the runs go through a shared mapping
 * of a new memfd (populated ahead, so the copy takes no page faults),
 * which is then unmapped and sealed. */
static int decode_memory(struct rd *r, tw_instance_t *inst, uint32_t i,
                         struct tw__snap_mem *out) {
  uint64_t pages;
  uint32_t nruns;
  int rc;
  out->pages_at = r->s->pos;
  if ((rc = rd_u64(r, &pages, "memory size"))) return rc;
  out->pages = pages;
  if ((rc = check_pages(inst, i, pages, out->pages_at, r->err, r->errlen)))
    return rc;
  if ((rc = rd_u32(r, &nruns, "run count"))) return rc;
  if (!nruns) return 0;
  uint64_t limit = pages * (65536 / SNAP_PAGE), next = 0;
  size_t size = (size_t)(pages * 65536);
  uint8_t *map = MAP_FAILED;
  out->fd = memfd_create("tw-snapshot", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (out->fd < 0 || ftruncate(out->fd, (off_t)size) ||
      (size && (map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
                           out->fd, 0)) == MAP_FAILED))
    return tw__err(TW_ENOMEM, r->err, r->errlen, "memfd: %s",
                   strerror(errno));
  for (uint32_t k = 0; k < nruns; k++) {
    uint32_t first, count;
    size_t at = (size_t)r->s->pos;
    if ((rc = rd_u32(r, &first, "run")) || (rc = rd_u32(r, &count, "run")))
      goto done;
    if (count == 0 || first < next || (uint64_t)first + count > limit) {
      rc = tw__err(TW_EMALFORMED, r->err, r->errlen,
                   "payload byte 0x%zx: memory %u run %u (pages %u+%u) is "
                   "empty, out of order or past the memory's %llu pages",
                   at, i, k, first, count, (unsigned long long)pages);
      goto done;
    }
    size_t bytes = (size_t)count * SNAP_PAGE;
    if (r->s->len - r->s->pos < bytes) {
      rc = rd_short(r, "memory run");
      goto done;
    }
    uint8_t *dst = map + (size_t)first * SNAP_PAGE;
#ifdef MADV_POPULATE_WRITE
    (void)madvise(dst, bytes, MADV_POPULATE_WRITE); /* a hint: may fail */
#endif
    if ((rc = rd_bytes(r, dst, bytes, "memory run"))) goto done;
    out->data_bytes += bytes;
    next = (uint64_t)first + count;
  }
done:
  if (map != MAP_FAILED) munmap(map, size);
  /* No writable shared mapping is left, so F_SEAL_WRITE can be added. */
  if (!rc && fcntl(out->fd, F_ADD_SEALS,
                   F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL))
    rc = tw__err(TW_ENOMEM, r->err, r->errlen, "memfd seal: %s",
                 strerror(errno));
  return rc;
}

void tw__snap_image_ref(struct tw__snap_image *img) {
  atomic_fetch_add_explicit(&img->refs, 1, memory_order_relaxed);
}

void tw__snap_image_unref(struct tw__snap_image *img) {
  if (!img || atomic_fetch_sub_explicit(&img->refs, 1,
                                        memory_order_acq_rel) != 1)
    return;
  for (uint32_t i = 0; i < img->nmem; i++)
    if (img->mems[i].fd >= 0) close(img->mems[i].fd);
  tw__free(img->mems);
  tw__free(img->rest);
  tw__free(img);
}

static int decode_body(struct rd *r, tw_instance_t *inst,
                       struct tw__snap_image *img) {
  const struct tw__module *m = inst->module->m;
  uint32_t count;
  int rc;
  if (!tw__rt_instance_self_contained(inst))
    return tw__err(TW_EUNSUPPORTED, r->err, r->errlen,
                   "the module imports a memory, table or mutable global; "
                   "snapshots hold only self-contained instances");
  if ((rc = rd_u32(r, &count, "memory count"))) return rc;
  if (count != m->nmemories)
    return tw__err(TW_EMALFORMED, r->err, r->errlen,
                   "payload byte 0x0: %u memories, the module has %u", count,
                   m->nmemories);
  img->mems = tw__calloc(count ? count : 1, sizeof *img->mems);
  if (!img->mems)
    return tw__err(TW_ENOMEM, r->err, r->errlen, "out of memory");
  for (uint32_t i = 0; i < count; i++) {
    img->mems[i].fd = -1;
    img->nmem = i + 1;
    if ((rc = decode_memory(r, inst, i, &img->mems[i]))) return rc;
    img->bytes += img->mems[i].data_bytes;
  }
  img->rest_at = r->s->pos;
  img->rest_len = (size_t)(r->s->len - r->s->pos);
  img->rest = tw__malloc(img->rest_len ? img->rest_len : 1);
  if (!img->rest)
    return tw__err(TW_ENOMEM, r->err, r->errlen, "out of memory");
  img->bytes += img->rest_len + sizeof *img + count * sizeof *img->mems;
  return rd_bytes(r, img->rest, img->rest_len, "records");
}

int tw__snap_decode(tw_instance_t *inst, struct tw__snap_src *s,
                    struct tw__snap_image **out, char *err, size_t errlen) {
  *out = NULL;
  struct tw__snap_image *img = tw__calloc(1, sizeof *img);
  if (!img) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  atomic_init(&img->refs, 1);
  struct rd r = {s, false, err, errlen};
  int rc = decode_body(&r, inst, img);
  /* A payload error half-way: the whole frame would have been
   * decompressed and checked before the payload was read, so a frame or
   * CRC error past this point is the one to report. */
  if (!r.src_failed) {
    int frc = tw__snap_src_finish(s, err, errlen);
    if (frc) rc = frc;
  }
  if (rc) {
    tw__snap_image_unref(img);
    return rc;
  }
  *out = img;
  return 0;
}

static int get_bits(struct cur *c, uint32_t n, const char *what,
                    const uint8_t **bits) {
  uint32_t count;
  size_t at = AT(c);
  int rc = get_u32(c, &count, what);
  if (rc) return rc;
  if (count != n)
    return BAD(c, "payload byte 0x%zx: %u %s segments, the module has %u", at,
               count, what, n);
  size_t nb = ((size_t)n + 7) / 8;
  if ((size_t)(c->end - c->p) < nb) return short_read(c, what);
  *bits = c->p;
  c->p += nb;
  return 0;
}

/* The records after the memories: globals, tables, segment bits, flags. */
static int apply_rest(tw_instance_t *inst, struct cur *c) {
  const struct tw__module *m = inst->module->m;
  uint32_t count;
  int rc;
  size_t at = AT(c);
  if ((rc = get_u32(c, &count, "global count"))) return rc;
  if (count != m->nglobals)
    return BAD(c, "payload byte 0x%zx: %u globals, the module has %u", at,
               count, m->nglobals);
  for (uint32_t i = 0; i < count; i++) {
    uint8_t t, want = m->globals[i].type.type;
    twr_val *v = inst->globals[m->nglobal_imports + i];
    at = AT(c);
    if ((rc = get_u8(c, &t, "global"))) return rc;
    if (t != want)
      return BAD(c, "payload byte 0x%zx: global %u has type %s, the module "
                    "says %s",
                 at, m->nglobal_imports + i, tw_valtype_name(t),
                 tw_valtype_name(want));
    switch (t) {
    case TW_T_I32:
    case TW_T_F32:
      rc = get_u32(c, &v->i32, "global");
      break;
    case TW_T_I64:
    case TW_T_F64: {
      uint64_t x;
      if (!(rc = get_u64(c, &x, "global"))) v->i64 = x;
      break;
    }
    case TW_T_V128:
      if (c->end - c->p < 16) return short_read(c, "global");
      memcpy(&v->v128, c->p, 16);
      c->p += 16;
      break;
    default:
      rc = get_ref(c, inst, t, &v->ref);
      break;
    }
    if (rc) return rc;
  }
  at = AT(c);
  if ((rc = get_u32(c, &count, "table count"))) return rc;
  if (count != m->ntables)
    return BAD(c, "payload byte 0x%zx: %u tables, the module has %u", at,
               count, m->ntables);
  for (uint32_t i = 0; i < count; i++) {
    struct tw__rt_table *t = TW__RT_TABLE(inst->tables[i]);
    uint8_t type;
    uint32_t size;
    at = AT(c);
    if ((rc = get_u8(c, &type, "table")) ||
        (rc = get_u32(c, &size, "table")))
      return rc;
    if (type != t->t.reftype || size < m->tables[i].limits.min ||
        size > t->t.max)
      return BAD(c, "payload byte 0x%zx: table %u (%s, %u elements) does "
                    "not fit the module's table",
                 at, i, tw_valtype_name(type), size);
    if ((size_t)(c->end - c->p) / 4 < size) return short_read(c, "table");
    if (size > t->t.size &&
        tw__rt_table_grow(&t->t, NULL, size - t->t.size) == UINT32_MAX)
      return tw__err(TW_ENOMEM, c->err, c->errlen, "out of memory");
    for (uint32_t k = 0; k < size; k++)
      if ((rc = get_ref(c, inst, type, &t->t.elems[k]))) return rc;
  }
  const uint8_t *dbits, *ebits;
  if ((rc = get_bits(c, m->ndatas, "data", &dbits)) ||
      (rc = get_bits(c, m->nelems, "element", &ebits)))
    return rc;
  uint8_t iflags;
  at = AT(c);
  if ((rc = get_u8(c, &iflags, "instance flags"))) return rc;
  if (iflags & ~1u)
    return BAD(c, "payload byte 0x%zx: unknown instance flags 0x%x", at,
               (unsigned)iflags);
  if (c->p != c->end)
    return BAD(c, "payload byte 0x%zx: %zu bytes after the last record",
               AT(c), (size_t)(c->end - c->p));
  for (uint32_t i = 0; i < m->ndatas; i++)
    inst->datas[i].len = dbits[i / 8] >> (i % 8) & 1 ? 0 : m->datas[i].len;
  for (uint32_t i = 0; i < m->nelems; i++)
    inst->elems[i].len = ebits[i / 8] >> (i % 8) & 1 ? 0 : m->elems[i].count;
  inst->initialized = iflags & 1;
  return 0;
}

int tw__snap_image_apply(tw_instance_t *inst, const struct tw__snap_image *img,
                         char *err, size_t errlen) {
  const struct tw__module *m = inst->module->m;
  int rc;
  if (!tw__rt_instance_self_contained(inst))
    return tw__err(TW_EUNSUPPORTED, err, errlen,
                   "the module imports a memory, table or mutable global; "
                   "snapshots hold only self-contained instances");
  if (img->nmem != m->nmemories)
    return tw__err(TW_EMALFORMED, err, errlen,
                   "payload byte 0x0: %u memories, the module has %u",
                   img->nmem, m->nmemories);
  for (uint32_t i = 0; i < img->nmem; i++) {
    const struct tw__snap_mem *sm = &img->mems[i];
    struct tw__rt_memory *mem = TW__RT_MEMORY(inst->memories[i]);
    if ((rc = check_pages(inst, i, sm->pages, sm->pages_at, err, errlen)))
      return rc;
    /* A bare instance's memory is anonymous zeros of the initial size:
     * map the pages over it, or just make the size right. */
    if (sm->fd >= 0) {
      if ((rc = tw__rt_memory_map_file(mem, sm->fd, sm->pages * 65536,
                                       TW__RT_BACKING_OTHER)))
        return tw__err(rc, err, errlen, "cannot map memory %u: %s", i,
                       strerror(errno));
    } else if (sm->pages > mem->m.pages &&
               tw__rt_memory_grow(&mem->m,
                                  (uint32_t)(sm->pages - mem->m.pages)) ==
                   UINT32_MAX) {
      return tw__err(TW_ENOMEM, err, errlen, "cannot grow memory %u", i);
    }
  }
  struct cur c = {img->rest, img->rest, img->rest + img->rest_len,
                  img->rest_at, err, errlen};
  return apply_rest(inst, &c);
}

int tw__snap_apply(tw_instance_t *inst, const uint8_t *p, size_t n,
                   char *err, size_t errlen) {
  struct tw__snap_src s;
  struct tw__snap_image *img;
  tw__snap_src_buffer(&s, p, n);
  int rc = tw__snap_decode(inst, &s, &img, err, errlen);
  if (rc) return rc;
  rc = tw__snap_image_apply(inst, img, err, errlen);
  tw__snap_image_unref(img);
  return rc;
}
