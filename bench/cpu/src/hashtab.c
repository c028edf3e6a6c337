/* A string hash table: n PRNG words (4..15 letters) inserted into an
 * open-addressing table keyed by string (FNV-1a, linear probing, words
 * copied into an arena), counting duplicates, then 2n lookups of which
 * about half hit. Byte loops, memcmp, unpredictable memory access.
 * Checksum: distinct words, hits, and the sum of the counts found. */
#include "bench.h"

struct slot {
  uint32_t hash;
  uint32_t off; /* into the arena; UINT32_MAX: empty */
  uint32_t len;
  uint32_t count;
};

static uint32_t make_word(uint64_t *s, char *w) {
  uint64_t r = sm64(s);
  uint32_t len = 4 + (uint32_t)(r % 12);
  r >>= 4;
  for (uint32_t i = 0; i < len; i++) {
    if (i % 10 == 9) r = sm64(s);
    /* Letters from a 6-letter alphabet make collisions of prefixes common. */
    w[i] = (char)('a' + r % 6);
    r /= 6;
  }
  return len;
}

static uint32_t fnv1a(const char *p, uint32_t len) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < len; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
  return h;
}

static struct slot *find(struct slot *tab, uint32_t mask, const char *arena,
                         const char *w, uint32_t len, uint32_t h) {
  for (uint32_t i = h & mask;; i = (i + 1) & mask) {
    struct slot *sl = &tab[i];
    if (sl->off == UINT32_MAX) return sl;
    if (sl->hash == h && sl->len == len && memcmp(arena + sl->off, w, len) == 0)
      return sl;
  }
}

int64_t run(int32_t n) {
  uint32_t cap = 16;
  while (cap < (uint32_t)n * 2u) cap <<= 1;
  struct slot *tab = malloc((size_t)cap * sizeof *tab);
  char *arena = malloc((size_t)n * 16);
  if (!tab || !arena) return -1;
  for (uint32_t i = 0; i < cap; i++) tab[i].off = UINT32_MAX;
  uint32_t used = 0, distinct = 0;
  char w[16];
  uint64_t s = 42;
  for (int32_t i = 0; i < n; i++) {
    uint32_t len = make_word(&s, w);
    uint32_t h = fnv1a(w, len);
    struct slot *sl = find(tab, cap - 1, arena, w, len, h);
    if (sl->off == UINT32_MAX) {
      memcpy(arena + used, w, len);
      *sl = (struct slot){h, used, len, 0};
      used += len;
      distinct++;
    }
    sl->count++;
  }
  /* Lookups: even ones replay the insert stream (hits), odd ones come from
   * another seed (mostly misses). */
  uint64_t s_hit = 42, s_miss = 4242, sum = 0;
  uint32_t hits = 0;
  for (int32_t i = 0; i < 2 * n; i++) {
    uint32_t len = make_word((i & 1) ? &s_miss : &s_hit, w);
    struct slot *sl = find(tab, cap - 1, arena, w, len, fnv1a(w, len));
    if (sl->off != UINT32_MAX) {
      hits++;
      sum += sl->count * (uint64_t)(i + 1);
    }
  }
  free(arena);
  free(tab);
  return (int64_t)(((uint64_t)distinct << 40) ^ ((uint64_t)hits << 20) ^ sum);
}
