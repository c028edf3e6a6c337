/* BLAKE3 hashing for the code cache (keys and entry checksums), over the
 * official C implementation built as the tw_blake3 library. Nothing else
 * in the project includes blake3.h: this header is the one door.
 */
#ifndef TW_BASE_HASH_H
#define TW_BASE_HASH_H

#include <stddef.h>
#include <stdint.h>

/* Bytes in a BLAKE3 digest as used here. */
#define TW_HASH_LEN 32

/* Incremental hashing state. Opaque storage big enough for the library's
 * hasher (checked at build time in hash.c); caller-allocated, no close. */
struct tw__hasher {
  _Alignas(8) unsigned char opaque[1920];
};

/* Starts a new hash. */
void tw__hasher_init(struct tw__hasher *h);
/* Adds len bytes (data may be NULL when len is 0). */
void tw__hasher_update(struct tw__hasher *h, const void *data, size_t len);
/* Adds a length-prefixed field (u64 little-endian length, then the bytes),
 * so that consecutive fields cannot run into each other. */
void tw__hasher_field(struct tw__hasher *h, const void *data, size_t len);
/* Writes the 32-byte digest of everything added so far. h stays usable. */
void tw__hasher_final(const struct tw__hasher *h, uint8_t out[TW_HASH_LEN]);

/* One-shot BLAKE3 of len bytes. */
void tw__blake3(const void *data, size_t len, uint8_t out[TW_HASH_LEN]);

/* Lower-case hex of a digest into out (2*TW_HASH_LEN+1 bytes). */
void tw__hash_hex(const uint8_t h[TW_HASH_LEN], char out[2 * TW_HASH_LEN + 1]);

#endif
