/* TensorWasm snapshots: capture a live instance's state (memories,
 * globals, tables) and restore it into a fresh instance of the same
 * module. The wire format is docs/SNAPSHOT-FORMAT.md (version
 * TW_SNAPSHOT_FORMAT_VERSION): a fixed header, a zstd-compressed payload
 * and an HMAC-SHA256 trailer.
 *
 * Trust: a snapshot restores only into the module whose BLAKE3 digest it
 * carries and only for its own tenant; it must be signed with the key the
 * caller passes (unsigned ones are refused unless allow_unsigned); the
 * caller passes the tenant's current epoch, and snapshots of older epochs
 * are refused (bumping a tenant's epoch revokes all its snapshots).
 *
 * Errors: TW_EINVAL (bad arguments), TW_EMALFORMED (the bytes are not a
 * well-formed snapshot: truncated, bad magic, checksum mismatch, bad
 * payload), TW_EUNSUPPORTED (a format version this build does not read,
 * or state that cannot be captured: externrefs, imported memories), 
 * TW_EAUTH for every trust failure (missing or bad signature, wrong
 * module, tenant, revoked epoch, replayed nonce), TW_ELIMIT (a payload
 * past the decompression cap), TW_ENOMEM. Each fills err with a message
 * that says which check failed.
 */
#ifndef TW_SNAPSHOT_H
#define TW_SNAPSHOT_H

#include "tw/tw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The format version this build writes. Readers accept exactly the
 * versions they know (today: 1). Bump it whenever the bytes of the
 * header or payload change meaning or layout (a new field, a new record,
 * another compression); a new flag bit that old readers may ignore does
 * not need a bump. Old versions keep loading: their golden files stay in
 * tests/snap/ and a test restores them. */
#define TW_SNAPSHOT_FORMAT_VERSION 1

/* Longest tenant id, in bytes (fixed field of the header). */
#define TW_SNAPSHOT_TENANT_MAX 64
/* Default cap on the decompressed payload (256 MiB). */
#define TW_SNAPSHOT_DEFAULT_MAX_PAYLOAD (256ull << 20)

/* Header flag bits. */
#define TW_SNAPSHOT_FLAG_SIGNED 0x0001u /* an HMAC-SHA256 trailer follows */

typedef struct tw_snapshot_save_opts {
  const char *tenant;  /* 1..64 bytes, no NUL; required */
  uint64_t epoch;      /* the tenant's current epoch */
  const uint8_t *key;  /* HMAC key; NULL = write an unsigned snapshot */
  size_t key_len;
  int level;           /* zstd level (0 = default, 3) */
} tw_snapshot_save_opts_t;

/* Called with a snapshot's nonce during restore, after its signature and
 * identity checks pass; return false to refuse it as a replay. */
typedef bool (*tw_snapshot_replay_fn)(void *user, const uint8_t nonce[16]);

typedef struct tw_snapshot_restore_opts {
  const char *tenant;         /* required: must equal the snapshot's */
  uint64_t epoch;             /* tenant's current epoch: older refused */
  const uint8_t *key;         /* HMAC key (NULL: signature not checked) */
  size_t key_len;
  bool allow_unsigned;        /* accept unsigned snapshots, and signed ones
                                 when no key is given (unverified) */
  uint64_t max_payload_bytes; /* decompression cap; 0 = 256 MiB */
  tw_snapshot_replay_fn replay_check; /* optional */
  void *replay_user;
  uint8_t nonce_out[16];      /* filled on success: the snapshot's nonce */
  bool no_cache;              /* neither use nor fill the restore cache */
} tw_snapshot_restore_opts_t;

/* Fills *o with defaults (everything zero/NULL). */
TW_API void tw_snapshot_save_opts_default(tw_snapshot_save_opts_t *o);
TW_API void tw_snapshot_restore_opts_default(tw_snapshot_restore_opts_t *o);

/* Captures `instance` (which must not be running) into a new snapshot:
 * memory 0 (only its non-zero 4 KiB pages), every global the module
 * defines, every table it defines (function references as indexes into
 * the instance's function space), and which segments were dropped. On
 * success *out is a buffer of *out_len bytes to release with tw_free().
 * TW_EUNSUPPORTED for state that cannot be serialized (an externref that
 * is not null, a function of another instance in a table, an imported
 * memory or table); nothing is allocated on failure. */
TW_API int tw_snapshot_save(tw_instance_t *instance,
                            const tw_snapshot_save_opts_t *opts,
                            uint8_t **out, size_t *out_len, char *err,
                            size_t errlen);

/* Instantiates `module` in `store` through `linker` (as tw_instance_new,
 * but without running the start function: the snapshot holds the state
 * after it) and replaces its state with the snapshot's, after checking
 * the snapshot against opts (see the top of this file). Memory is mapped
 * copy-on-write from a sealed memfd holding the decompressed pages. The
 * nonce is written to opts->nonce_out. On failure *out is NULL and the
 * store may hold a half-made instance (freed with the store). `bytes` is
 * only read during the call.
 *
 * Restore cache: unless opts->no_cache, the decoded image of a snapshot
 * that passed every check is kept (see tw_snapshot_cache_set_limit), keyed
 * by the BLAKE3 of its bytes; restoring byte-identical bytes again skips
 * the signature (when verified before with the same key), decompression,
 * checksum and decoding, and maps the kept image copy-on-write. The checks
 * that depend on the caller (allow_unsigned, key, module, tenant, epoch,
 * cap, replay_check) run on every restore, hit or miss, with the same
 * results and messages. docs/SNAPSHOT-FORMAT.md ("Restore cache") gives
 * the argument. */
TW_API int tw_snapshot_restore(tw_store_t *store, tw_module_t *module,
                               tw_linker_t *linker, const uint8_t *bytes,
                               size_t len, tw_snapshot_restore_opts_t *opts,
                               tw_instance_t **out, char *err,
                               size_t errlen);

/* What a snapshot's header says. */
typedef struct tw_snapshot_info {
  uint16_t format_version;
  uint16_t flags;          /* TW_SNAPSHOT_FLAG_* */
  uint8_t module_digest[32]; /* BLAKE3 of the module's bytes */
  char tenant[TW_SNAPSHOT_TENANT_MAX + 1]; /* NUL-terminated */
  uint64_t epoch;
  uint8_t nonce[16];
  uint64_t payload_len;    /* uncompressed */
  uint64_t compressed_len;
  uint32_t payload_crc32;
  uint64_t total_len;      /* header + payload + trailer */
} tw_snapshot_info_t;

/* Checks the header's structure (magic, version, header checksum,
 * lengths) and fills *info; does not decompress or check the signature.
 * Errors: TW_EMALFORMED, TW_EUNSUPPORTED. */
TW_API int tw_snapshot_inspect(const uint8_t *bytes, size_t len,
                               tw_snapshot_info_t *info, char *err,
                               size_t errlen);

/* Checks the HMAC trailer with key: 0 when it matches, TW_EAUTH when
 * the snapshot is unsigned or the signature does not match. */
TW_API int tw_snapshot_verify(const uint8_t *bytes, size_t len,
                              const uint8_t *key, size_t key_len, char *err,
                              size_t errlen);

/* ---- Restore cache (process-wide) ---- */

/* Default bound of the restore cache: 256 MiB of images. */
#define TW_SNAPSHOT_CACHE_DEFAULT_BYTES (256ull << 20)

typedef struct tw_snapshot_cache_stats {
  uint64_t hits;        /* restores that found their image */
  uint64_t misses;      /* restores that looked and did not */
  uint64_t insertions;  /* images added */
  uint64_t evictions;   /* images dropped to stay within the bound */
  uint64_t entries;     /* images held now */
  uint64_t bytes;       /* what they hold: non-zero memory pages (in
                           memfds), the other records, bookkeeping */
  uint64_t limit_bytes; /* the bound */
} tw_snapshot_cache_stats_t;

/* Bounds the cache at max_bytes (default TW_SNAPSHOT_CACHE_DEFAULT_BYTES),
 * evicting least recently used images at once if it holds more; 0 turns
 * it off (restores then neither look nor add; the BLAKE3 is not computed).
 * Images larger than the bound are not kept. The cache serves every
 * engine of the process: an image is used only for bytes identical to
 * the ones that passed, by a caller whose module, tenant, epoch, key and
 * options pass the checks again, and is checked against the new
 * instance's limits. Instances keep their mapping after an eviction. */
TW_API void tw_snapshot_cache_set_limit(uint64_t max_bytes);
/* Drops every image (instances keep their mappings). */
TW_API void tw_snapshot_cache_clear(void);
/* Counters since the process started, and the current contents. */
TW_API void tw_snapshot_cache_stats(tw_snapshot_cache_stats_t *out);

/* The BLAKE3 digest of a module's bytes, as snapshots record it. */
TW_API int tw_module_digest(tw_module_t *module, uint8_t out[32]);

#ifdef __cplusplus
}
#endif

#endif
