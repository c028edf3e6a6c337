/* A compression kernel: LZ77 with hash chains (32 KiB window, greedy,
 * matches of 3..258 bytes) over n bytes of PRNG text made of a small
 * vocabulary of made-up words, then Huffman code lengths for the literal/
 * length and distance symbol counts, and the total compressed size in bits
 * they imply. Byte loads, hash-table stores, data-dependent branches.
 * Checksum: the size in bits and a hash of the token stream. */
#include "bench.h"

#define WINDOW (1u << 15)
#define HASH_BITS 15
#define MAX_CHAIN 32
#define MIN_MATCH 3
#define MAX_MATCH 258
#define NLITLEN 286 /* 256 literals, end marker, 29 length classes */
#define NDIST 30
#define MAX_BITS 15

/* Fills text with words separated by spaces and the odd newline. */
static void make_text(uint8_t *text, size_t len) {
  char vocab[512][10];
  uint8_t vlen[512];
  uint32_t s = 7777u;
  for (int w = 0; w < 512; w++) {
    vlen[w] = (uint8_t)(2 + xs32(&s) % 8);
    for (int k = 0; k < vlen[w]; k++) vocab[w][k] = (char)('a' + xs32(&s) % 26);
  }
  size_t pos = 0;
  while (pos < len) {
    /* Skewed choice: small word numbers are much more frequent. */
    uint32_t r = xs32(&s);
    int w = (int)((r % 512) & (r >> 9) % 512);
    for (int k = 0; k < vlen[w] && pos < len; k++) text[pos++] = (uint8_t)vocab[w][k];
    if (pos < len) text[pos++] = (r >> 28) == 0 ? '\n' : ' ';
  }
}

/* Symbol class of a match length 3..258 (0..28) and of a distance
 * 1..32768 (0..29): logarithmic buckets, as deflate does. */
static int length_class(uint32_t len) {
  int c = 0;
  uint32_t v = len - MIN_MATCH;
  while (v >= 8 && c < 28) v >>= 1, c += 4;
  return c + (int)(v & 3) > 28 ? 28 : c + (int)(v & 3);
}

static int dist_class(uint32_t dist) {
  int c = 0;
  uint32_t v = dist - 1;
  while (v >= 4) v >>= 1, c += 2;
  return c + (int)(v & 1);
}

/* Huffman code lengths for n symbol counts (two-queue method over the
 * counts sorted by insertion sort; n is at most a few hundred), limited
 * to MAX_BITS by flattening. Returns the total bits of the coded data. */
static uint64_t huffman_bits(const uint32_t *count, int n, uint8_t *lens) {
  int sym[NLITLEN];
  uint64_t w[2 * NLITLEN];
  int parent[2 * NLITLEN];
  int m = 0;
  for (int i = 0; i < n; i++) {
    lens[i] = 0;
    if (count[i]) sym[m++] = i;
  }
  if (m == 0) return 0;
  if (m == 1) {
    lens[sym[0]] = 1;
    return count[sym[0]];
  }
  for (int i = 1; i < m; i++) {
    int v = sym[i], j = i;
    while (j > 0 && count[sym[j - 1]] > count[v]) sym[j] = sym[j - 1], j--;
    sym[j] = v;
  }
  for (int i = 0; i < m; i++) w[i] = count[sym[i]];
  int leaf = 0, inner = m, inner_end = m;
  for (int k = 0; k < m - 1; k++) {
    int pick[2];
    for (int t = 0; t < 2; t++) {
      if (leaf < m && (inner == inner_end || w[leaf] <= w[inner]))
        pick[t] = leaf++;
      else
        pick[t] = inner++;
    }
    w[inner_end] = w[pick[0]] + w[pick[1]];
    parent[pick[0]] = parent[pick[1]] = inner_end++;
  }
  /* Depths: the root is inner_end - 1; parents come after children. */
  uint8_t depth[2 * NLITLEN];
  depth[inner_end - 1] = 0;
  for (int i = inner_end - 2; i >= 0; i--) depth[i] = (uint8_t)(depth[parent[i]] + 1);
  uint64_t bits = 0;
  for (int i = 0; i < m; i++) {
    uint8_t d = depth[i] > MAX_BITS ? MAX_BITS : depth[i];
    lens[sym[i]] = d;
    bits += (uint64_t)d * count[sym[i]];
  }
  return bits;
}

int64_t run(int32_t n) {
  size_t len = (size_t)n;
  uint8_t *text = malloc(len + MAX_MATCH);
  uint32_t *head = malloc((1u << HASH_BITS) * sizeof *head);
  uint32_t *prev = malloc(WINDOW * sizeof *prev);
  if (!text || !head || !prev) return -1;
  make_text(text, len);
  memset(text + len, 0, MAX_MATCH);
  for (uint32_t i = 0; i < (1u << HASH_BITS); i++) head[i] = UINT32_MAX;
  for (uint32_t i = 0; i < WINDOW; i++) prev[i] = UINT32_MAX;

  uint32_t litlen[NLITLEN] = {0}, dist[NDIST] = {0};
  uint64_t extra_bits = 0, token_hash = 1469598103934665603ull;
  size_t pos = 0;
  while (pos < len) {
    uint32_t best_len = 0, best_dist = 0;
    if (pos + MIN_MATCH <= len) {
      uint32_t h = ((uint32_t)text[pos] << 10 ^ (uint32_t)text[pos + 1] << 5 ^
                    text[pos + 2]) & ((1u << HASH_BITS) - 1);
      uint32_t cand = head[h];
      size_t limit = len - pos < MAX_MATCH ? len - pos : MAX_MATCH;
      for (int chain = 0; chain < MAX_CHAIN && cand != UINT32_MAX &&
                          pos - cand <= WINDOW - 1;
           chain++) {
        const uint8_t *p = text + pos, *q = text + cand;
        uint32_t l = 0;
        if (q[best_len] == p[best_len]) {
          while (l < limit && p[l] == q[l]) l++;
          if (l > best_len) {
            best_len = l;
            best_dist = (uint32_t)(pos - cand);
            if (l == limit) break;
          }
        }
        uint32_t next = prev[cand & (WINDOW - 1)];
        if (next == UINT32_MAX || next >= cand) break;
        cand = next;
      }
      prev[pos & (WINDOW - 1)] = head[h];
      head[h] = (uint32_t)pos;
    }
    if (best_len >= MIN_MATCH) {
      litlen[257 + length_class(best_len)]++;
      dist[dist_class(best_dist)]++;
      extra_bits += (uint64_t)(length_class(best_len) / 4) + dist_class(best_dist) / 2;
      token_hash = (token_hash ^ (best_len << 16 | best_dist)) * 1099511628211ull;
      /* Insert the skipped positions into the chains too. */
      for (uint32_t k = 1; k < best_len && pos + k + MIN_MATCH <= len; k++) {
        size_t q = pos + k;
        uint32_t h = ((uint32_t)text[q] << 10 ^ (uint32_t)text[q + 1] << 5 ^
                      text[q + 2]) & ((1u << HASH_BITS) - 1);
        prev[q & (WINDOW - 1)] = head[h];
        head[h] = (uint32_t)q;
      }
      pos += best_len;
    } else {
      litlen[text[pos]]++;
      token_hash = (token_hash ^ text[pos]) * 1099511628211ull;
      pos++;
    }
  }
  litlen[256]++;
  uint8_t lens_ll[NLITLEN], lens_d[NDIST];
  uint64_t bits = huffman_bits(litlen, NLITLEN, lens_ll) +
                  huffman_bits(dist, NDIST, lens_d) + extra_bits;
  free(prev);
  free(head);
  free(text);
  return (int64_t)(bits ^ (token_hash << 20));
}
