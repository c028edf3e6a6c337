/* libFuzzer target for the snapshot reader, against the golden module of
 * tests/snap/ with its fixed test key. Each input goes three ways:
 * (1) as-is through inspect and a signed, strict restore; (2) with its
 * header made consistent (CRC, digest, tenant, unsigned) through a restore
 * that allows unsigned snapshots, so mutations reach decompression and
 * the payload reader; (3) as a raw payload applied to a bare instance.
 * Restores (1) and (2) run twice, through the restore cache's miss and
 * then hit path, and must agree. Invariants: no crash, no sanitizer
 * report, no leak, and every refusal has a message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "snap/snap_int.h"
#include "tw/snapshot.h"

#include "../tests/snap/fixture_params.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tw_engine_t *engine;
static tw_module_t *module;
static uint8_t digest[32];

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc;
  (void)argv;
  FILE *f = fopen(TW_SOURCE_DIR "/tests/snap/golden.wasm", "rb");
  if (!f) abort();
  uint8_t buf[65536];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  char err[256];
  tw_engine_config_t cfg;
  tw_engine_config_default(&cfg);
  cfg.max_memory_bytes = 64ull << 20;
  if (tw_engine_new(&cfg, &engine) ||
      tw_module_new(engine, buf, n, &module, err, sizeof err) ||
      tw_module_digest(module, digest))
    abort();
  return 0;
}

static int restore_once(const uint8_t *b, size_t n, bool strict) {
  tw_store_t *s;
  if (tw_store_new(engine, &s)) abort();
  tw_snapshot_restore_opts_t o;
  tw_snapshot_restore_opts_default(&o);
  o.tenant = FIXTURE_TENANT;
  o.epoch = 0;
  o.max_payload_bytes = 16u << 20;
  if (strict) {
    o.key = FIXTURE_KEY;
    o.key_len = FIXTURE_KEY_LEN;
  } else {
    o.allow_unsigned = true;
  }
  tw_instance_t *in = NULL;
  char err[512] = "";
  int rc = tw_snapshot_restore(s, module, NULL, b, n, &o, &in, err,
                               sizeof err);
  if (rc && (in || !err[0])) abort();
  if (!rc && !in) abort();
  tw_store_free(s);
  return rc;
}

/* Twice: the first restore is a miss (the cache is emptied after each
 * input), the second a hit when the first passed; both must agree. */
static void restore(const uint8_t *b, size_t n, bool strict) {
  int rc = restore_once(b, n, strict);
  if (restore_once(b, n, strict) != rc) abort();
  tw_snapshot_cache_clear();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  tw_snapshot_info_t info;
  char err[512] = "";
  if (tw_snapshot_inspect(data, size, &info, err, sizeof err) && !err[0])
    abort();
  restore(data, size, true);
  if (size >= TW__SNAP_HEADER_LEN) {
    uint8_t *c = malloc(size);
    if (!c) return 0;
    memcpy(c, data, size);
    memcpy(c + SNAP_OFF_MAGIC, tw__snap_magic, 8);
    snap_put16(c + SNAP_OFF_VERSION, TW_SNAPSHOT_FORMAT_VERSION);
    snap_put16(c + SNAP_OFF_FLAGS, 0);
    snap_put32(c + SNAP_OFF_HEADER_LEN, TW__SNAP_HEADER_LEN);
    memcpy(c + SNAP_OFF_DIGEST, digest, 32);
    memset(c + SNAP_OFF_TENANT, 0, TW_SNAPSHOT_TENANT_MAX);
    memcpy(c + SNAP_OFF_TENANT, FIXTURE_TENANT, strlen(FIXTURE_TENANT));
    snap_put64(c + SNAP_OFF_COMPRESSED_LEN, size - TW__SNAP_HEADER_LEN);
    snap_put32(c + SNAP_OFF_HEADER_CRC,
               (uint32_t)crc32_z(0, c, SNAP_OFF_HEADER_CRC));
    restore(c, size, false);
    free(c);
  }
  tw_store_t *s;
  tw_instance_t *in;
  if (tw_store_new(engine, &s)) abort();
  if (tw__rt_instance_new(s, module, NULL, TW__RT_INST_BARE, &in, err,
                          sizeof err))
    abort();
  err[0] = '\0';
  if (tw__snap_apply(in, data, size, err, sizeof err) && !err[0]) abort();
  tw_store_free(s);
  return 0;
}
