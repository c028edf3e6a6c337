/* Snapshots: the committed v1 goldens keep restoring with their state;
 * every corrupt fixture is refused with its own message; save/restore
 * round trips (sparse pages, grown memory, globals of every kind, tables,
 * dropped segments) and the trust options (keys, tenants, epochs, the
 * replay check, the cap, externrefs that cannot be captured).
 */
#include "snap/snap_test.h"

#include "snap/fixture_params.h"

static tw_engine_t *engine;
static tw_module_t *golden;

static void restore_opts(tw_snapshot_restore_opts_t *o) {
  tw_snapshot_restore_opts_default(o);
  o->tenant = FIXTURE_TENANT;
  o->epoch = FIXTURE_EPOCH;
  o->key = FIXTURE_KEY;
  o->key_len = FIXTURE_KEY_LEN;
}

/* The state golden.wat's "setup" leaves. */
static void check_golden_state(tw_instance_t *in) {
  assert_int_equal(st_i32_of(in, "msize"), 4);
  assert_int_equal(st_load(in, 0), 0x6c6c6568); /* "hell" */
  assert_int_equal(st_load(in, 70000), 0x6f636573); /* "seco" */
  assert_int_equal(st_load(in, 8192), 0x11223344);
  assert_int_equal(st_load(in, 200000), 0x55667788);
  assert_int_equal(st_i32_of(in, "g"), 1234);
  assert_int_equal(st_call(in, "h", NULL, 0, 1).of.i64, (uint64_t)-5);
  double f;
  uint64_t fb = st_call(in, "f", NULL, 0, 1).of.f64;
  memcpy(&f, &fb, 8);
  assert_true(f == 2.75);
  assert_int_equal(st_i32_of(in, "tsize"), 6);
  tw_val_t a = st_i32(0);
  assert_int_equal(st_call(in, "call", &a, 1, 1).of.i32, 1);
  a = st_i32(2);
  assert_int_equal(st_call(in, "call", &a, 1, 1).of.i32, 3);
  a = st_i32(5);
  assert_int_equal(st_call(in, "call", &a, 1, 1).of.i32, 2);
  assert_int_equal(st_i32_of(in, "call_fr"), 3);
  /* the passive segment was dropped: memory.init of 7 bytes traps */
  a = st_i32(0);
  tw_val_t r;
  char err[256];
  assert_int_equal(tw_instance_call(in, "init", &a, 1, &r, 1, err, sizeof err),
                   TW_ETRAP);
}

static void goldens_restore(void **state) {
  (void)state;
  const char *files[] = {"golden_v1_signed.twsnap", "golden_v1_unsigned.twsnap"};
  for (int i = 0; i < 2; i++) {
    size_t n;
    uint8_t *b = st_read(files[i], &n);
    tw_snapshot_info_t info;
    char err[512] = "";
    assert_int_equal(tw_snapshot_inspect(b, n, &info, err, sizeof err), 0);
    assert_int_equal(info.format_version, 1);
    assert_string_equal(info.tenant, FIXTURE_TENANT);
    assert_int_equal(info.epoch, FIXTURE_EPOCH);
    uint8_t digest[32];
    assert_int_equal(tw_module_digest(golden, digest), 0);
    assert_memory_equal(digest, info.module_digest, 32);
    tw_store_t *s;
    assert_int_equal(tw_store_new(engine, &s), 0);
    tw_snapshot_restore_opts_t o;
    restore_opts(&o);
    o.allow_unsigned = i == 1;
    tw_instance_t *in = NULL;
    int rc = tw_snapshot_restore(s, golden, NULL, b, n, &o, &in, err,
                                 sizeof err);
    if (rc) fail_msg("%s: %s", files[i], err);
    assert_memory_equal(o.nonce_out, info.nonce, 16);
    check_golden_state(in);
    tw_store_free(s);
    free(b);
  }
}

struct expect {
  const char *file;
  int rc;
  const char *msg;
  bool allow_unsigned;
};

static const struct expect corrupt[] = {
    {"corrupt_truncated.twsnap", TW_EMALFORMED,
     "truncated snapshot: 173 bytes, the header announces 347", false},
    {"corrupt_header_bitflip.twsnap", TW_EMALFORMED,
     "corrupt snapshot header: checksum mismatch over bytes 0-155", false},
    {"corrupt_payload_bitflip.twsnap", TW_EAUTH,
     "bad snapshot signature: HMAC-SHA256 mismatch", false},
    {"corrupt_bad_hmac.twsnap", TW_EAUTH,
     "bad snapshot signature: HMAC-SHA256 mismatch", false},
    {"corrupt_payload_crc.twsnap", TW_EMALFORMED,
     "payload checksum mismatch: CRC32 0x", true},
    {"corrupt_wrong_module.twsnap", TW_EAUTH,
     "snapshot is of another module (digest ", false},
    {"corrupt_wrong_tenant.twsnap", TW_EAUTH,
     "snapshot belongs to tenant \"tenant-b\", not \"tenant-a\"", false},
    {"corrupt_old_epoch.twsnap", TW_EAUTH,
     "snapshot epoch 4 is older than the tenant's current epoch 5 (revoked)",
     false},
    {"corrupt_bomb.twsnap", TW_ELIMIT,
     "compressed payload expands past its declared 1024 bytes (compression "
     "bomb?)",
     false},
    {"corrupt_unsigned.twsnap", TW_EAUTH,
     "unsigned snapshot refused: signing is required", false},
};

static void corrupt_refused(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof corrupt / sizeof corrupt[0]; i++) {
    size_t n;
    uint8_t *b = st_read(corrupt[i].file, &n);
    tw_store_t *s;
    assert_int_equal(tw_store_new(engine, &s), 0);
    tw_snapshot_restore_opts_t o;
    restore_opts(&o);
    o.allow_unsigned = corrupt[i].allow_unsigned;
    tw_instance_t *in = (tw_instance_t *)1;
    char err[512] = "";
    int rc = tw_snapshot_restore(s, golden, NULL, b, n, &o, &in, err,
                                 sizeof err);
    print_message("%s: %s\n", corrupt[i].file, err);
    if (rc != corrupt[i].rc || !strstr(err, corrupt[i].msg))
      fail_msg("%s: got %d \"%s\", want %d \"%s\"", corrupt[i].file, rc, err,
               corrupt[i].rc, corrupt[i].msg);
    assert_null(in);
    tw_store_free(s);
    free(b);
  }
}

static void header_checks(void **state) {
  (void)state;
  size_t n;
  uint8_t *b = st_read("golden_v1_signed.twsnap", &n);
  tw_snapshot_info_t info;
  char err[512];
  assert_int_equal(tw_snapshot_inspect(b, 10, &info, err, sizeof err),
                   TW_EMALFORMED);
  assert_non_null(strstr(err, "truncated snapshot: 10 bytes, a header needs 160"));
  b[0] ^= 1;
  assert_int_equal(tw_snapshot_inspect(b, n, &info, err, sizeof err),
                   TW_EMALFORMED);
  assert_string_equal(err, "not a snapshot: bad magic at byte 0");
  b[0] ^= 1;
  b[8] = 2; /* version 2 */
  assert_int_equal(tw_snapshot_inspect(b, n, &info, err, sizeof err),
                   TW_EUNSUPPORTED);
  assert_string_equal(err, "unsupported snapshot format version 2 (this "
                           "build reads 1)");
  b[8] = 1;
  /* extra bytes after the trailer */
  uint8_t *c = malloc(n + 3);
  memcpy(c, b, n);
  memset(c + n, 0, 3);
  assert_int_equal(tw_snapshot_inspect(c, n + 3, &info, err, sizeof err),
                   TW_EMALFORMED);
  assert_non_null(strstr(err, "has 3 bytes after its end"));
  free(c);
  /* cap below the declared payload length */
  tw_store_t *s;
  assert_int_equal(tw_store_new(engine, &s), 0);
  tw_snapshot_restore_opts_t o;
  restore_opts(&o);
  o.max_payload_bytes = 100;
  tw_instance_t *in;
  assert_int_equal(
      tw_snapshot_restore(s, golden, NULL, b, n, &o, &in, err, sizeof err),
      TW_ELIMIT);
  assert_non_null(strstr(err, "exceeds the decompression cap of 100 bytes"));
  /* a signed snapshot with no key, signing required */
  restore_opts(&o);
  o.key = NULL;
  assert_int_equal(
      tw_snapshot_restore(s, golden, NULL, b, n, &o, &in, err, sizeof err),
      TW_EAUTH);
  assert_non_null(strstr(err, "signed snapshot but no key to check it"));
  /* wrong key */
  restore_opts(&o);
  o.key = (const uint8_t *)"another-key-of-32-bytes-........";
  assert_int_equal(
      tw_snapshot_restore(s, golden, NULL, b, n, &o, &in, err, sizeof err),
      TW_EAUTH);
  assert_non_null(strstr(err, "HMAC-SHA256 mismatch"));
  tw_store_free(s);
  free(b);
}

static bool refuse_all(void *user, const uint8_t nonce[16]) {
  memcpy(user, nonce, 16);
  return false;
}

static void replay_check(void **state) {
  (void)state;
  size_t n;
  uint8_t *b = st_read("golden_v1_signed.twsnap", &n);
  tw_store_t *s;
  assert_int_equal(tw_store_new(engine, &s), 0);
  tw_snapshot_restore_opts_t o;
  restore_opts(&o);
  uint8_t seen[16] = {0};
  o.replay_check = refuse_all;
  o.replay_user = seen;
  tw_instance_t *in;
  char err[512];
  assert_int_equal(
      tw_snapshot_restore(s, golden, NULL, b, n, &o, &in, err, sizeof err),
      TW_EAUTH);
  assert_string_equal(err, "snapshot nonce refused by the replay check "
                           "(already used)");
  tw_snapshot_info_t info;
  assert_int_equal(tw_snapshot_inspect(b, n, &info, err, sizeof err), 0);
  assert_memory_equal(seen, info.nonce, 16);
  tw_store_free(s);
  free(b);
}

static void round_trip(void **state) {
  (void)state;
  tw_store_t *s1, *s2;
  assert_int_equal(tw_store_new(engine, &s1), 0);
  assert_int_equal(tw_store_new(engine, &s2), 0);
  tw_instance_t *a, *r;
  char err[512] = "";
  assert_int_equal(tw_instance_new(s1, golden, NULL, &a, err, sizeof err), 0);
  st_call(a, "setup", NULL, 0, 0);
  tw_snapshot_save_opts_t so;
  tw_snapshot_save_opts_default(&so);
  so.tenant = FIXTURE_TENANT;
  so.epoch = 9;
  so.key = FIXTURE_KEY;
  so.key_len = FIXTURE_KEY_LEN;
  uint8_t *b;
  size_t n;
  assert_int_equal(tw_snapshot_save(a, &so, &b, &n, err, sizeof err), 0);
  tw_snapshot_restore_opts_t o;
  restore_opts(&o);
  o.epoch = 9;
  int rc = tw_snapshot_restore(s2, golden, NULL, b, n, &o, &r, err, sizeof err);
  if (rc) fail_msg("restore: %s", err);
  uint8_t *ma, *mr;
  uint64_t sa, sr;
  assert_int_equal(tw_instance_memory(a, NULL, &ma, &sa), 0);
  assert_int_equal(tw_instance_memory(r, NULL, &mr, &sr), 0);
  assert_int_equal(sa, sr);
  assert_memory_equal(ma, mr, sa);
  check_golden_state(r);
  /* copy-on-write: writes to the restored instance are its own */
  tw_val_t args[2] = {st_i32(8192), st_i32(99)};
  st_call(r, "store", args, 2, 0);
  assert_int_equal(st_load(a, 8192), 0x11223344);
  assert_int_equal(st_load(r, 8192), 99);
  /* a newer epoch passes; a key too short is refused */
  o.epoch = 3;
  tw_instance_t *r2;
  assert_int_equal(
      tw_snapshot_restore(s2, golden, NULL, b, n, &o, &r2, err, sizeof err), 0);
  o.key_len = 4;
  assert_int_equal(
      tw_snapshot_restore(s2, golden, NULL, b, n, &o, &r2, err, sizeof err),
      TW_EINVAL);
  tw_free(b);
  tw_store_free(s2);
  tw_store_free(s1);
}

static const char externref_wat[] =
    "(module (table (export \"t\") 2 externref) (memory 1)"
    " (func (export \"put\") (param externref)"
    "   (table.set 0 (i32.const 1) (local.get 0))))";

static void externref_refused(void **state) {
  (void)state;
  tw_module_t *m = st_module_wat(engine, externref_wat);
  tw_store_t *s;
  assert_int_equal(tw_store_new(engine, &s), 0);
  tw_instance_t *in;
  char err[512] = "";
  assert_int_equal(tw_instance_new(s, m, NULL, &in, err, sizeof err), 0);
  tw_snapshot_save_opts_t so;
  tw_snapshot_save_opts_default(&so);
  so.tenant = "t";
  uint8_t *b;
  size_t n;
  /* null externrefs serialize */
  assert_int_equal(tw_snapshot_save(in, &so, &b, &n, err, sizeof err), 0);
  tw_free(b);
  tw_val_t v;
  memset(&v, 0, sizeof v);
  v.type = TW_EXTERNREF;
  v.of.ref = &v;
  assert_int_equal(tw_instance_call(in, "put", &v, 1, NULL, 0, err, sizeof err),
                   0);
  assert_int_equal(tw_snapshot_save(in, &so, &b, &n, err, sizeof err),
                   TW_EUNSUPPORTED);
  assert_string_equal(err, "table 0 (element 1) holds an externref, which "
                           "cannot be serialized");
  assert_null(b);
  tw_store_free(s);
  tw_module_free(m);
}

int main(void) {
  if (tw_engine_new(NULL, &engine)) return 1;
  golden = st_module_file(engine, "golden.wasm");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(goldens_restore), cmocka_unit_test(corrupt_refused),
      cmocka_unit_test(header_checks),   cmocka_unit_test(replay_check),
      cmocka_unit_test(round_trip),      cmocka_unit_test(externref_refused),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tw_module_free(golden);
  tw_engine_free(engine);
  return rc;
}
