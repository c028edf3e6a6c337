/* BLAKE3 wrapper: keeps the library's types out of the rest of the
 * project. The opaque hasher storage is checked against the library's
 * struct size and alignment at build time.
 */
#include "base/hash.h"

#include <blake3.h>
#include <pthread.h>
#include <string.h>

_Static_assert(sizeof(blake3_hasher) <= sizeof(struct tw__hasher),
               "tw__hasher too small for blake3_hasher");
_Static_assert(_Alignof(blake3_hasher) <= 8, "blake3_hasher alignment");
_Static_assert(BLAKE3_OUT_LEN == TW_HASH_LEN, "digest length");

/* The library detects CPU features lazily, on first use, in an unguarded
 * global: two threads hashing for the first time at once race on it (a
 * benign race on x86, but a data race all the same, and TSan says so).
 * Hash once under pthread_once so the detection is done before any
 * concurrent use. */
static pthread_once_t features_once = PTHREAD_ONCE_INIT;

static void detect_features(void) {
  blake3_hasher h;
  uint8_t out[BLAKE3_OUT_LEN];
  static const uint8_t block[4096];
  blake3_hasher_init(&h);
  blake3_hasher_update(&h, block, sizeof block);
  blake3_hasher_finalize(&h, out, sizeof out);
}

void tw__hasher_init(struct tw__hasher *h) {
  pthread_once(&features_once, detect_features);
  blake3_hasher_init((blake3_hasher *)(void *)h->opaque);
}

void tw__hasher_update(struct tw__hasher *h, const void *data, size_t len) {
  if (len) blake3_hasher_update((blake3_hasher *)(void *)h->opaque, data, len);
}

void tw__hasher_field(struct tw__hasher *h, const void *data, size_t len) {
  uint8_t n[8];
  for (int i = 0; i < 8; i++) n[i] = (uint8_t)((uint64_t)len >> (8 * i));
  tw__hasher_update(h, n, sizeof n);
  tw__hasher_update(h, data, len);
}

void tw__hasher_final(const struct tw__hasher *h, uint8_t out[TW_HASH_LEN]) {
  blake3_hasher_finalize((const blake3_hasher *)(const void *)h->opaque, out,
                         TW_HASH_LEN);
}

void tw__blake3(const void *data, size_t len, uint8_t out[TW_HASH_LEN]) {
  struct tw__hasher h;
  tw__hasher_init(&h);
  tw__hasher_update(&h, data, len);
  tw__hasher_final(&h, out);
}

void tw__hash_hex(const uint8_t h[TW_HASH_LEN],
                  char out[2 * TW_HASH_LEN + 1]) {
  static const char k[] = "0123456789abcdef";
  for (int i = 0; i < TW_HASH_LEN; i++) {
    out[2 * i] = k[h[i] >> 4];
    out[2 * i + 1] = k[h[i] & 15];
  }
  out[2 * TW_HASH_LEN] = '\0';
}
