/* Snapshot internals shared by the files of src/snap/: the header codec
 * and sealing (format.c) and the payload of instance state (state.c).
 * The byte layout is docs/SNAPSHOT-FORMAT.md; the offsets below are that
 * table's and must move together with it.
 */
#ifndef TW_SNAP_SNAP_INT_H
#define TW_SNAP_SNAP_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/base.h"
#include "rt/rt.h"
#include "snap/snap.h"

/* Header field offsets (v1). */
#define SNAP_OFF_MAGIC 0
#define SNAP_OFF_VERSION 8
#define SNAP_OFF_FLAGS 10
#define SNAP_OFF_HEADER_LEN 12
#define SNAP_OFF_DIGEST 16
#define SNAP_OFF_TENANT 48
#define SNAP_OFF_EPOCH 112
#define SNAP_OFF_NONCE 120
#define SNAP_OFF_PAYLOAD_LEN 136
#define SNAP_OFF_COMPRESSED_LEN 144
#define SNAP_OFF_PAYLOAD_CRC 152
#define SNAP_OFF_HEADER_CRC 156

extern const uint8_t tw__snap_magic[8];

/* Page granule of memory runs in the payload. */
#define SNAP_PAGE 4096u

/* Little-endian field access. */
static inline void snap_put16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void snap_put32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void snap_put64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t snap_get16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t snap_get32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline uint64_t snap_get64(const uint8_t *p) {
  return (uint64_t)snap_get32(p) | (uint64_t)snap_get32(p + 4) << 32;
}

/* format.c */

/* Parses and checks the header's structure into *info (the public
 * struct). Messages name the failing check. */
int tw__snap_parse_header(const uint8_t *b, size_t len,
                          tw_snapshot_info_t *info, char *err,
                          size_t errlen);
/* Compresses payload and lays out header + frame (+ trailer when key is
 * given) into a new buffer (*out, tw_free'd by the caller). */
int tw__snap_seal(const uint8_t digest[32], const char *tenant,
                  uint64_t epoch, const uint8_t *payload, size_t payload_len,
                  int level, const uint8_t *key, size_t key_len,
                  uint8_t **out, size_t *out_len, char *err, size_t errlen);
/* HMAC-SHA256 of b[0, n) into mac. */
int tw__snap_hmac(const uint8_t *key, size_t key_len, const uint8_t *b,
                  size_t n, uint8_t mac[32]);
/* Decompresses the payload of a snapshot whose header is `info` into a
 * new buffer of info->payload_len bytes (tw__free'd by the caller),
 * refusing more than `cap` bytes and checking the CRC. */
int tw__snap_decompress(const uint8_t *b, const tw_snapshot_info_t *info,
                        uint64_t cap, uint8_t **out, char *err,
                        size_t errlen);

/* state.c */

/* Encodes the instance's state as a v1 payload into buf. */
int tw__snap_capture(tw_instance_t *inst, struct tw__buf *buf, char *err,
                     size_t errlen);
/* Checks a v1 payload against the (bare) instance's module and sets the
 * instance's state from it. */
int tw__snap_apply(tw_instance_t *inst, const uint8_t *p, size_t n,
                   char *err, size_t errlen);

#endif
