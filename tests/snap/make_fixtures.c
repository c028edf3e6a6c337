/* Writes the snapshot fixtures of tests/snap/ (golden v1 snapshots and
 * corrupt ones beside them); run by hand, outputs committed:
 *     build/tests/snap_make_fixtures tests/snap
 * Goldens are never regenerated once committed (old versions must keep
 * restoring); corrupt ones may be, as long as test_fixtures.c still
 * expects what they produce. Uses snapshot internals to forge what the
 * public API refuses to write (a lying length, a bomb).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>
#include <zstd.h>

#include "snap/snap_int.h"
#include "snap/fixture_params.h"
#include "tw/snapshot.h"

static const char *dir;

static uint8_t *read_file(const char *name, size_t *len) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    perror(path);
    exit(1);
  }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)n + 1);
  if (!b || fread(b, 1, (size_t)n, f) != (size_t)n) exit(1);
  fclose(f);
  *len = (size_t)n;
  return b;
}

static void write_file(const char *name, const uint8_t *b, size_t n) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(b, 1, n, f) != n || fclose(f)) {
    perror(path);
    exit(1);
  }
  printf("%-36s %6zu bytes\n", name, n);
}

static void check(int rc, const char *what, const char *err) {
  if (rc) {
    fprintf(stderr, "%s: %s (%s)\n", what, tw_strerror(rc), err);
    exit(1);
  }
}

/* Recomputes the header CRC and, for signed snapshots, the trailer. */
static void reseal(uint8_t *b, size_t n) {
  snap_put32(b + SNAP_OFF_HEADER_CRC,
             (uint32_t)crc32_z(0, b, SNAP_OFF_HEADER_CRC));
  if (snap_get16(b + SNAP_OFF_FLAGS) & TW_SNAPSHOT_FLAG_SIGNED)
    tw__snap_hmac(FIXTURE_KEY, FIXTURE_KEY_LEN, b, n - 32,
                  b + n - 32);
}

/* Snapshot of `module` after calling its "setup" export if it has one. */
static void snap_of(tw_engine_t *e, const char *module, const char *tenant,
                    uint64_t epoch, bool sign, uint8_t **out, size_t *n) {
  char err[512] = "";
  size_t len;
  uint8_t *wasm = read_file(module, &len);
  tw_module_t *m;
  tw_store_t *s;
  tw_instance_t *in;
  check(tw_module_new(e, wasm, len, &m, err, sizeof err), "module", err);
  check(tw_store_new(e, &s), "store", "");
  check(tw_instance_new(s, m, NULL, &in, err, sizeof err), "instance", err);
  tw_functype_t ft;
  if (tw_module_export_functype(m, "setup", &ft) == 0)
    check(tw_instance_call(in, "setup", NULL, 0, NULL, 0, err, sizeof err),
          "setup", err);
  tw_snapshot_save_opts_t o;
  tw_snapshot_save_opts_default(&o);
  o.tenant = tenant;
  o.epoch = epoch;
  if (sign) {
    o.key = FIXTURE_KEY;
    o.key_len = FIXTURE_KEY_LEN;
  }
  check(tw_snapshot_save(in, &o, out, n, err, sizeof err), "save", err);
  tw_store_free(s);
  tw_module_free(m);
  free(wasm);
}

/* Writes a copy of b with one bit flipped at `at`. */
static void flipped(const char *name, const uint8_t *b, size_t n, size_t at,
                    int bit) {
  uint8_t *c = malloc(n);
  memcpy(c, b, n);
  c[at] ^= (uint8_t)(1u << bit);
  write_file(name, c, n);
  free(c);
}

/* An unsigned snapshot with a payload bit flipped such that the frame
 * still decodes and only the CRC32 notices. */
static void crc_fixture(tw_engine_t *e) {
  uint8_t *b;
  size_t n;
  snap_of(e, "golden.wasm", FIXTURE_TENANT, FIXTURE_EPOCH, false, &b, &n);
  tw_snapshot_info_t info;
  char err[512];
  check(tw_snapshot_inspect(b, n, &info, err, sizeof err), "inspect", err);
  for (size_t at = n - 8; at > TW__SNAP_HEADER_LEN + 8; at--) {
    b[at] ^= 4;
    uint8_t *p = NULL;
    int rc = tw__snap_decompress(b, &info, 1u << 30, &p, err, sizeof err);
    tw__free(p);
    if (rc && strstr(err, "payload checksum mismatch")) {
      write_file("corrupt_payload_crc.twsnap", b, n);
      tw_free(b);
      return;
    }
    b[at] ^= 4;
  }
  fprintf(stderr, "no payload bit found that only the CRC catches\n");
  exit(1);
}

/* A signed snapshot whose header declares 1 KiB of payload while its
 * frame expands to 300 MiB of zeros (past the 256 MiB default cap). */
static void bomb_fixture(const uint8_t *like, size_t like_n) {
  size_t big = 300u << 20;
  uint8_t *zeros = calloc(1, big);
  size_t bound = ZSTD_compressBound(big);
  uint8_t *frame = malloc(bound);
  size_t clen = ZSTD_compress(frame, bound, zeros, big, 19);
  if (!zeros || !frame || ZSTD_isError(clen)) exit(1);
  size_t n = TW__SNAP_HEADER_LEN + clen + 32;
  uint8_t *b = calloc(1, n);
  memcpy(b, like, TW__SNAP_HEADER_LEN);
  (void)like_n;
  memcpy(b + TW__SNAP_HEADER_LEN, frame, clen);
  snap_put64(b + SNAP_OFF_PAYLOAD_LEN, 1024);
  snap_put64(b + SNAP_OFF_COMPRESSED_LEN, clen);
  snap_put32(b + SNAP_OFF_PAYLOAD_CRC, 0);
  reseal(b, n);
  write_file("corrupt_bomb.twsnap", b, n);
  free(b);
  free(frame);
  free(zeros);
}

int main(int argc, char **argv) {
  if (argc != 3 || (strcmp(argv[1], "--all") && strcmp(argv[1], "--corrupt"))) {
    fprintf(stderr, "usage: %s --all|--corrupt DIR\n"
                    "  --all      also (re)write the golden snapshots\n",
            argv[0]);
    return 2;
  }
  dir = argv[2];
  bool goldens = strcmp(argv[1], "--all") == 0;
  tw_engine_t *e;
  check(tw_engine_new(NULL, &e), "engine", "");
  uint8_t *b;
  size_t n;
  if (goldens) {
    snap_of(e, "golden.wasm", FIXTURE_TENANT, FIXTURE_EPOCH, false, &b, &n);
    write_file("golden_v1_unsigned.twsnap", b, n);
    tw_free(b);
    snap_of(e, "golden.wasm", FIXTURE_TENANT, FIXTURE_EPOCH, true, &b, &n);
    write_file("golden_v1_signed.twsnap", b, n);
    tw_free(b);
  }
  size_t gn;
  uint8_t *g = read_file("golden_v1_signed.twsnap", &gn);
  write_file("corrupt_truncated.twsnap", g, gn / 2);
  flipped("corrupt_header_bitflip.twsnap", g, gn, SNAP_OFF_EPOCH, 0);
  flipped("corrupt_payload_bitflip.twsnap", g, gn,
          TW__SNAP_HEADER_LEN + (gn - TW__SNAP_HEADER_LEN - 32) / 2, 3);
  flipped("corrupt_bad_hmac.twsnap", g, gn, gn - 1, 7);
  crc_fixture(e);
  bomb_fixture(g, gn);
  snap_of(e, "other.wasm", FIXTURE_TENANT, FIXTURE_EPOCH, true, &b, &n);
  write_file("corrupt_wrong_module.twsnap", b, n);
  tw_free(b);
  snap_of(e, "golden.wasm", "tenant-b", FIXTURE_EPOCH, true, &b, &n);
  write_file("corrupt_wrong_tenant.twsnap", b, n);
  tw_free(b);
  snap_of(e, "golden.wasm", FIXTURE_TENANT, FIXTURE_EPOCH - 1, true, &b, &n);
  write_file("corrupt_old_epoch.twsnap", b, n);
  tw_free(b);
  snap_of(e, "golden.wasm", FIXTURE_TENANT, FIXTURE_EPOCH, false, &b, &n);
  write_file("corrupt_unsigned.twsnap", b, n);
  tw_free(b);
  free(g);
  tw_engine_free(e);
  return 0;
}
