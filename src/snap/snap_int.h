/* Snapshot internals shared by the files of src/snap/: the header codec
 * and sealing (format.c) and the payload of instance state (state.c).
 * The byte layout is docs/SNAPSHOT-FORMAT.md; the offsets below are that
 * table's and must move together with it.
 */
#ifndef TW_SNAP_SNAP_INT_H
#define TW_SNAP_SNAP_INT_H

#include <stdatomic.h>
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
/* The payload as the reader pulls it: a zstd frame decompressed as it is
 * read (restore), or a buffer holding the payload (the fuzzer, through
 * tw__snap_apply). pos counts the payload bytes handed out; len is the
 * payload length (declared by the header, or the buffer's). With
 * check_crc the CRC32 of every byte read is compared with want_crc when
 * the source is finished. */
struct tw__snap_src {
  const uint8_t *buf;  /* buffer mode (zstd == NULL): the payload */
  void *zstd;          /* frame mode: a ZSTD_DCtx */
  const uint8_t *frame;
  size_t frame_len, frame_pos;
  uint64_t len, pos;
  bool ended;          /* the frame is complete (zstd said so) */
  bool check_crc;
  uint32_t crc, want_crc;
};

/* Opens the frame of a snapshot whose header is `info`: refuses a
 * declared payload past `cap` (TW_ELIMIT) and a frame whose own content
 * size differs from the declared length (larger: TW_ELIMIT, a bomb;
 * smaller: TW_EMALFORMED) before any decompression. */
int tw__snap_src_open(struct tw__snap_src *s, const uint8_t *b,
                      const tw_snapshot_info_t *info, uint64_t cap,
                      bool check_crc, char *err, size_t errlen);
/* A source over a payload already in memory (no CRC). */
void tw__snap_src_buffer(struct tw__snap_src *s, const uint8_t *p, size_t n);
/* Reads the next n bytes (n <= len - pos) into dst. Errors are the
 * frame's: corrupt, ends early (TW_EMALFORMED). */
int tw__snap_src_read(struct tw__snap_src *s, void *dst, size_t n, char *err,
                      size_t errlen);
/* Reads what is left of the declared length, then checks that the frame
 * ends exactly there (past it: TW_ELIMIT, a bomb; bytes after the frame:
 * TW_EMALFORMED) and the CRC when asked. */
int tw__snap_src_finish(struct tw__snap_src *s, char *err, size_t errlen);
/* Releases the decompression context (kept per thread for reuse). */
void tw__snap_src_close(struct tw__snap_src *s);
/* The whole payload in a new buffer of info->payload_len bytes
 * (tw__free'd by the caller), refusing more than `cap` bytes and checking
 * the CRC (for tools: restore streams through tw__snap_decode). */
int tw__snap_decompress(const uint8_t *b, const tw_snapshot_info_t *info,
                        uint64_t cap, uint8_t **out, char *err,
                        size_t errlen);

/* state.c */

/* Encodes the instance's state as a v1 payload into buf. */
int tw__snap_capture(tw_instance_t *inst, struct tw__buf *buf, char *err,
                     size_t errlen);
/* A decoded payload, ready to be applied to bare instances of the module
 * it was checked against: each memory as a sealed memfd of its pages
 * (F_SEAL_WRITE|F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL, mapped MAP_PRIVATE
 * by each restore), and the records after the memories (globals, tables,
 * segment bits, flags) as bytes, parsed again by each apply. Immutable
 * once built; shared by reference count (the restore cache holds one). */
struct tw__snap_mem {
  uint64_t pages;    /* size in 64 KiB pages */
  uint64_t pages_at; /* payload offset of the size field (messages) */
  int fd;            /* -1 when the memory has no non-zero page */
  uint64_t data_bytes; /* bytes of the runs written into fd */
};

struct tw__snap_image {
  atomic_int refs;
  uint32_t nmem;
  struct tw__snap_mem *mems;
  uint8_t *rest;
  size_t rest_len;
  uint64_t rest_at; /* payload offset of rest[0] */
  uint64_t bytes;   /* what the image holds in memory, for the cache */
};

/* Reads a v1 payload from s, checking it against the bare instance's
 * module and memories, into a new image (one reference). The source is
 * finished (frame end, CRC) before success is returned, and a payload
 * error found half-way is reported only after the rest of the frame
 * turned out well-formed (a frame or CRC error takes precedence, as when
 * the payload was decompressed whole before reading). */
int tw__snap_decode(tw_instance_t *inst, struct tw__snap_src *s,
                    struct tw__snap_image **out, char *err, size_t errlen);
/* Sets the bare instance's state from img: maps each memory's file
 * copy-on-write (or sizes it), then reads the remaining records. Checks
 * everything against this instance again (its engine's limits may differ
 * from the one the image was decoded for). */
int tw__snap_image_apply(tw_instance_t *inst, const struct tw__snap_image *img,
                         char *err, size_t errlen);
void tw__snap_image_ref(struct tw__snap_image *img);
void tw__snap_image_unref(struct tw__snap_image *img);
/* Checks a v1 payload held in memory against the (bare) instance's module
 * and sets the instance's state from it (decode + apply). */
int tw__snap_apply(tw_instance_t *inst, const uint8_t *p, size_t n,
                   char *err, size_t errlen);

/* cache.c: the verified restore-image cache (docs/SNAPSHOT-FORMAT.md,
 * "Restore cache"). Entries keep the exact bytes they verified; id (from
 * tw__snap_cache_id) only selects candidates, and a hit needs the whole
 * snapshot to be byte-for-byte equal. key_fp is the fingerprint of the
 * HMAC key its signature was verified with (NULL: not verified with a
 * key). */

/* The lookup id of a snapshot: BLAKE3 of its length, first 128 and last
 * 64 bytes (header and trailer). Cheap; not a proof of equality. */
void tw__snap_cache_id(const uint8_t *bytes, size_t len, uint8_t id[32]);
/* Whether the cache takes entries (its limit is not 0). */
bool tw__snap_cache_enabled(void);
/* A reference to the image cached for exactly these bytes, or NULL (a
 * miss). *mac_ok says whether its signature was verified with the key of
 * fingerprint key_fp (false when key_fp is NULL). */
struct tw__snap_image *tw__snap_cache_get(const uint8_t id[32],
                                          const uint8_t *bytes, size_t len,
                                          const uint8_t *key_fp,
                                          bool *mac_ok);
/* Adds img (the cache takes its own reference, and keeps a copy of the
 * bytes) under id, or records key_fp on the entry of the same bytes.
 * Entries past the limit are evicted, least recently used first; an entry
 * larger than the limit is not kept. */
void tw__snap_cache_put(const uint8_t id[32], const uint8_t *bytes,
                        size_t len, const uint8_t *key_fp,
                        struct tw__snap_image *img);
/* Drops the entry of these bytes, if any (a snapshot found revoked). */
void tw__snap_cache_drop(const uint8_t id[32], const uint8_t *bytes,
                         size_t len);

#endif
