/* Cold-start benchmark: for a generated module of about 1 MiB (many small
 * functions and a 1 MiB data segment filling its 1 MiB memory) measures
 * each step a request may pay — tier-0 compile, instantiate (copy-on-write
 * image), snapshot restore (1 MiB of memory; the first restore of a
 * snapshot, fully verified, and a repeated one served by the restore
 * cache, separately), the first call — and the
 * totals, as p50/p99 over many runs; plus instantiation of a small module
 * and a pool's acquire+release for comparison. Writes one Markdown table
 * to stdout. --write-module FILE[,SMALL] saves the modules for the peers
 * (bench/coldstart/peers.py, peers.js).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tw/pool.h>
#include <tw/snapshot.h>
#include <tw/tw.h>

#define NFUNCS 4000
#define DATA_BYTES (1u << 20)

struct bytes {
  uint8_t *p;
  size_t n, cap;
};

static void put(struct bytes *b, const void *p, size_t n) {
  if (b->n + n > b->cap) {
    b->cap = (b->n + n) * 2;
    b->p = realloc(b->p, b->cap);
    if (!b->p) abort();
  }
  memcpy(b->p + b->n, p, n);
  b->n += n;
}
static void byte(struct bytes *b, uint8_t v) { put(b, &v, 1); }
static void uleb(struct bytes *b, uint64_t v) {
  do {
    uint8_t c = v & 0x7f;
    v >>= 7;
    byte(b, c | (v ? 0x80 : 0));
  } while (v);
}
static void sleb(struct bytes *b, int64_t v) {
  for (;;) {
    uint8_t c = v & 0x7f;
    v >>= 7;
    if ((v == 0 && !(c & 0x40)) || (v == -1 && (c & 0x40))) {
      byte(b, c);
      return;
    }
    byte(b, c | 0x80);
  }
}
static void section(struct bytes *m, uint8_t id, struct bytes *s) {
  byte(m, id);
  uleb(m, s->n);
  put(m, s->p, s->n);
  s->n = 0;
}

/* Text-like data (words from a small vocabulary): compresses about as
 * well as typical program data, not as well as zeros. */
static void fill_data(uint8_t *d, size_t n) {
  static const char *words[] = {"tensor", "wasm", "snapshot", "request",
                                "tenant", "memory", "page", "copy",
                                "write", "kernel", "0x7f3a", "42"};
  uint32_t x = 12345;
  size_t i = 0;
  while (i < n) {
    x = x * 1103515245u + 12345u;
    const char *w = words[(x >> 16) % 12];
    for (size_t k = 0; w[k] && i < n; k++) d[i++] = (uint8_t)w[k];
    if (i < n) d[i++] = (x >> 8) & 1 ? ' ' : (uint8_t)(x >> 24);
  }
}

/* nfuncs functions f_i(x) = ((x + i) * 3) ^ i, exported as "f0" and
 * "touch" (writes one byte per 4 KiB page of the data, sums them); a
 * memory of mem_pages with a data segment of data_bytes at 0. */
static struct bytes make_module(uint32_t nfuncs, uint32_t mem_pages,
                                uint32_t data_bytes) {
  struct bytes m = {0}, s = {0}, body = {0};
  put(&m, "\0asm\1\0\0\0", 8);
  uleb(&s, 2); /* types: (i32)->i32, ()->i32 */
  put(&s, "\x60\x01\x7f\x01\x7f", 5);
  put(&s, "\x60\x00\x01\x7f", 4);
  section(&m, 1, &s);
  uleb(&s, nfuncs + 1);
  for (uint32_t i = 0; i < nfuncs; i++) uleb(&s, 0);
  uleb(&s, 1);
  section(&m, 3, &s);
  uleb(&s, 1);
  byte(&s, 0);
  uleb(&s, mem_pages);
  section(&m, 5, &s);
  uleb(&s, 2);
  uleb(&s, 2);
  put(&s, "f0", 2);
  byte(&s, 0);
  uleb(&s, 0);
  uleb(&s, 5);
  put(&s, "touch", 5);
  byte(&s, 0);
  uleb(&s, nfuncs);
  section(&m, 7, &s);
  uleb(&s, nfuncs + 1);
  for (uint32_t i = 0; i < nfuncs; i++) {
    body.n = 0;
    byte(&body, 0); /* no locals */
    put(&body, "\x20\x00\x41", 3);
    sleb(&body, i);
    put(&body, "\x6a\x41\x03\x6c\x41", 5);
    sleb(&body, i);
    put(&body, "\x73\x0b", 2);
    uleb(&s, body.n);
    put(&s, body.p, body.n);
  }
  /* touch: local $i, $acc; loop i < data_bytes step 4096: acc +=
   * load8(i); store8(i, acc) */
  body.n = 0;
  put(&body, "\x01\x02\x7f", 3);
  put(&body, "\x02\x40\x03\x40", 4);          /* block loop */
  put(&body, "\x20\x00\x41", 3);              /* local.get i, i32.const */
  sleb(&body, data_bytes);
  put(&body, "\x4f\x0d\x01", 3);              /* i32.ge_u br_if 1 */
  put(&body, "\x20\x01\x20\x00\x2d\x00\x00\x6a\x21\x01", 10); /* acc+=ld8 */
  put(&body, "\x20\x00\x20\x01\x3a\x00\x00", 7);             /* st8 */
  put(&body, "\x20\x00\x41\x80\x20\x6a\x21\x00", 8); /* i += 4096 */
  put(&body, "\x0c\x00\x0b\x0b\x20\x01\x0b", 7); /* br 0 end end acc */
  uleb(&s, body.n);
  put(&s, body.p, body.n);
  section(&m, 10, &s);
  if (data_bytes) {
    uint8_t *d = malloc(data_bytes);
    fill_data(d, data_bytes);
    uleb(&s, 1);
    put(&s, "\x00\x41\x00\x0b", 4);
    uleb(&s, data_bytes);
    put(&s, d, data_bytes);
    free(d);
    section(&m, 11, &s);
  }
  free(s.p);
  free(body.p);
  return m;
}

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

struct row {
  const char *name;
  int runs;
  double p50, p99; /* microseconds */
  const char *goal;
};

static struct row summarize(const char *name, uint64_t *v, int n,
                             const char *goal) {
  qsort(v, (size_t)n, sizeof *v, cmp_u64);
  struct row s = {name, n, v[n / 2] / 1e3, v[(n * 99) / 100] / 1e3, goal};
  return s;
}

#define CHECK(x)                                                           \
  do {                                                                     \
    int rc_ = (x);                                                         \
    if (rc_) {                                                             \
      fprintf(stderr, "%s: %s (%s)\n", #x, tw_strerror(rc_), err); \
      exit(1);                                                             \
    }                                                                      \
  } while (0)

int main(int argc, char **argv) {
  int fast = 1000, slow = 20;
  struct bytes big = make_module(NFUNCS, 16, DATA_BYTES);
  struct bytes small = make_module(8, 1, 4096);
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      fast = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--compile-runs") == 0 && i + 1 < argc) {
      slow = atoi(argv[++i]);
    } else if (strcmp(argv[i], "--write-modules") == 0 && i + 2 < argc) {
      FILE *f = fopen(argv[++i], "wb");
      FILE *g = fopen(argv[++i], "wb");
      if (!f || !g) return 1;
      fwrite(big.p, 1, big.n, f);
      fwrite(small.p, 1, small.n, g);
      fclose(f);
      fclose(g);
      return 0;
    } else {
      fprintf(stderr,
              "usage: coldstart [--runs N] [--compile-runs N]\n"
              "       coldstart --write-modules BIG.wasm SMALL.wasm\n");
      return 2;
    }
  }
  if (fast < 10) fast = 10;
  if (slow < 2) slow = 2;
  char err[512] = "";
  tw_engine_t *e;
  CHECK(tw_engine_new(NULL, &e));
  uint64_t *t = calloc((size_t)(fast > slow ? fast : slow), sizeof *t);
  uint64_t *t2 = calloc((size_t)fast, sizeof *t2);
  struct row st[16];
  int ns = 0;

  tw_module_t *mod = NULL, *smod;
  for (int i = 0; i < slow; i++) {
    tw_module_t *m;
    uint64_t t0 = now_ns();
    CHECK(tw_module_new(e, big.p, big.n, &m, err, sizeof err));
    t[i] = now_ns() - t0;
    if (mod) tw_module_free(mod);
    mod = m;
  }
  st[ns++] = summarize("tier-0 compile (codegen + libtcc)", t, slow, "");
  CHECK(tw_module_new(e, small.p, small.n, &smod, err, sizeof err));

  /* instantiate (the module's image is built by the first, untimed) */
  tw_val_t arg = {.type = TW_I32}, res;
  for (int pass = 0; pass < 2; pass++) {
    tw_module_t *m = pass ? mod : smod;
    tw_store_t *s0;
    tw_instance_t *in;
    CHECK(tw_store_new(e, &s0));
    CHECK(tw_instance_new(s0, m, NULL, &in, err, sizeof err));
    tw_store_free(s0);
    for (int i = 0; i < fast; i++) {
      tw_store_t *s;
      CHECK(tw_store_new(e, &s));
      uint64_t t0 = now_ns();
      CHECK(tw_instance_new(s, m, NULL, &in, err, sizeof err));
      uint64_t t1 = now_ns();
      CHECK(tw_instance_call(in, "touch", NULL, 0, &res, 1, err, sizeof err));
      t2[i] = now_ns() - t1;
      t[i] = t1 - t0;
      tw_store_free(s);
    }
    if (pass == 0) {
      st[ns++] = summarize("instantiate, small module (1 page, 4 KiB data)",
                           t, fast, "<= 5 us");
    } else {
      st[ns++] = summarize("instantiate, 1 MiB module (CoW image)", t, fast,
                           "");
      st[ns++] = summarize("first call after instantiate (touch 256 pages)",
                           t2, fast, "");
      for (int i = 0; i < fast; i++) t[i] = 0;
    }
  }
  /* instantiate + first call, as one total */
  for (int i = 0; i < fast; i++) {
    tw_store_t *s;
    tw_instance_t *in;
    CHECK(tw_store_new(e, &s));
    uint64_t t0 = now_ns();
    CHECK(tw_instance_new(s, mod, NULL, &in, err, sizeof err));
    CHECK(tw_instance_call(in, "f0", &arg, 1, &res, 1, err, sizeof err));
    t[i] = now_ns() - t0;
    tw_store_free(s);
  }
  st[ns++] = summarize("total: instantiate + first call (f0)", t, fast, "");

  /* snapshot of the instance after touch: 1 MiB of non-zero memory */
  static const uint8_t key[32] = "coldstart-benchmark-key-32-bytes";
  uint8_t *snap[2];
  size_t snap_len[2];
  {
    tw_store_t *s;
    tw_instance_t *in;
    CHECK(tw_store_new(e, &s));
    CHECK(tw_instance_new(s, mod, NULL, &in, err, sizeof err));
    CHECK(tw_instance_call(in, "touch", NULL, 0, &res, 1, err, sizeof err));
    for (int k = 0; k < 2; k++) {
      tw_snapshot_save_opts_t so;
      tw_snapshot_save_opts_default(&so);
      so.tenant = "bench";
      so.key = k ? NULL : key;
      so.key_len = sizeof key;
      CHECK(tw_snapshot_save(in, &so, &snap[k], &snap_len[k], err,
                             sizeof err));
    }
    tw_store_free(s);
  }
  tw_snapshot_info_t info;
  CHECK(tw_snapshot_inspect(snap[0], snap_len[0], &info, err, sizeof err));
  /* Restore, three ways: first (the cache emptied before each run, untimed:
   * header, BLAKE3 of the bytes, HMAC, decompression into the memfd,
   * decode, map), cached (the same bytes again: BLAKE3, the caller's
   * checks, map the kept image), and unsigned first (CRC32 instead of the
   * HMAC); plus signed with the cache bypassed (no BLAKE3, no insert). */
  enum { FIRST, CACHED, UNSIGNED_FIRST, BYPASS, NMODES };
  for (int mode = 0; mode < NMODES; mode++) {
    int k = mode == UNSIGNED_FIRST;
    tw_snapshot_cache_clear();
    for (int i = 0; i < fast; i++) {
      tw_store_t *s;
      tw_instance_t *in;
      CHECK(tw_store_new(e, &s));
      tw_snapshot_restore_opts_t o;
      tw_snapshot_restore_opts_default(&o);
      o.tenant = "bench";
      o.key = k ? NULL : key;
      o.key_len = sizeof key;
      o.allow_unsigned = k == 1;
      o.no_cache = mode == BYPASS;
      if (mode == CACHED && i == 0) { /* prime the cache, untimed */
        CHECK(tw_snapshot_restore(s, mod, NULL, snap[k], snap_len[k], &o,
                                  &in, err, sizeof err));
        tw_store_free(s);
        CHECK(tw_store_new(e, &s));
      }
      if (mode == FIRST || mode == UNSIGNED_FIRST) tw_snapshot_cache_clear();
      uint64_t t0 = now_ns();
      CHECK(tw_snapshot_restore(s, mod, NULL, snap[k], snap_len[k], &o, &in,
                                err, sizeof err));
      uint64_t t1 = now_ns();
      CHECK(tw_instance_call(in, "f0", &arg, 1, &res, 1, err, sizeof err));
      t[i] = t1 - t0;
      t2[i] = now_ns() - t0;
      tw_store_free(s);
    }
    switch (mode) {
    case FIRST:
      st[ns++] = summarize("snapshot restore 1 MiB (first, verified), signed",
                           t, fast, "");
      break;
    case CACHED:
      st[ns++] = summarize("snapshot restore 1 MiB (cached), signed", t, fast,
                           "<= 100 us");
      st[ns++] = summarize("total: cached restore + first call (f0)", t2,
                           fast, "");
      break;
    case UNSIGNED_FIRST:
      st[ns++] = summarize("snapshot restore 1 MiB (first, CRC32), unsigned",
                           t, fast, "");
      break;
    default:
      st[ns++] = summarize("snapshot restore 1 MiB, signed, cache bypassed "
                           "(no_cache)",
                           t, fast, "");
      break;
    }
  }
  {
    tw_snapshot_cache_stats_t cs;
    tw_snapshot_cache_stats(&cs);
    fprintf(stderr, "restore cache: %llu hits, %llu misses, %llu entries\n",
            (unsigned long long)cs.hits, (unsigned long long)cs.misses,
            (unsigned long long)cs.entries);
  }
  /* pool: acquire + release (reset) of a dirtied instance */
  {
    tw_pool_t *p;
    CHECK(tw_pool_new(e, mod, NULL, NULL, &p, err, sizeof err));
    for (int i = 0; i < fast; i++) {
      tw_instance_t *in;
      uint64_t t0 = now_ns();
      CHECK(tw_pool_acquire(p, &in, err, sizeof err));
      uint64_t t1 = now_ns();
      CHECK(tw_instance_call(in, "touch", NULL, 0, &res, 1, err, sizeof err));
      uint64_t t2v = now_ns();
      CHECK(tw_pool_release(p, in));
      t[i] = (t1 - t0) + (now_ns() - t2v);
    }
    st[ns++] = summarize("pool acquire + release (reset after 256 dirty "
                         "pages)",
                         t, fast, "");
    tw_pool_free(p);
  }
  printf("Module: %zu bytes (%d functions, %u-byte data segment, 16-page "
         "memory); snapshot %zu bytes signed (payload %llu bytes, "
         "compressed %llu).\n\n",
         big.n, NFUNCS + 1, DATA_BYTES, snap_len[0],
         (unsigned long long)info.payload_len,
         (unsigned long long)info.compressed_len);
  printf("| step | runs | p50 (us) | p99 (us) | goal |\n");
  printf("| --- | ---: | ---: | ---: | --- |\n");
  for (int i = 0; i < ns; i++)
    printf("| %s | %d | %.1f | %.1f | %s |\n", st[i].name, st[i].runs,
           st[i].p50, st[i].p99, st[i].goal);
  tw_free(snap[0]);
  tw_free(snap[1]);
  tw_module_free(smod);
  tw_module_free(mod);
  tw_engine_free(e);
  free(t);
  free(t2);
  free(big.p);
  free(small.p);
  return 0;
}
