/* The restore cache: a repeated restore of the same bytes is a hit and
 * restores the same state (copy-on-write: writes of one restore do not
 * reach the next); every check that depends on the caller still refuses
 * on a hit (tenant, epoch, module, key, unsigned policy, cap, replay); a
 * modified byte is a miss and gets the full verification; the bound
 * evicts; a limit of 0 turns the cache off; threads restoring the same
 * snapshot while another clears the cache are safe. Also: a signed
 * snapshot whose payload CRC is wrong restores (the HMAC covers it), an
 * unsigned one does not.
 */
#include "snap/snap_test.h"

#include <pthread.h>
#include <sched.h>
#include <zlib.h>

#include "snap/fixture_params.h"
#include "snap/snap_int.h"

static tw_engine_t *engine;
static tw_module_t *golden, *other;

static void restore_opts(tw_snapshot_restore_opts_t *o) {
  tw_snapshot_restore_opts_default(o);
  o->tenant = FIXTURE_TENANT;
  o->epoch = FIXTURE_EPOCH;
  o->key = FIXTURE_KEY;
  o->key_len = FIXTURE_KEY_LEN;
}

static tw_snapshot_cache_stats_t stats(void) {
  tw_snapshot_cache_stats_t s;
  tw_snapshot_cache_stats(&s);
  return s;
}

/* Restores b into a new store of module m; returns the status, the
 * message in err; on success checks a few words of golden's state and
 * frees the store. */
static int restore(tw_module_t *m, const uint8_t *b, size_t n,
                   tw_snapshot_restore_opts_t *o, char *err, size_t errlen) {
  tw_store_t *s;
  assert_int_equal(tw_store_new(engine, &s), 0);
  tw_instance_t *in = (tw_instance_t *)1;
  err[0] = '\0';
  int rc = tw_snapshot_restore(s, m, NULL, b, n, o, &in, err, errlen);
  if (rc) {
    assert_null(in);
    assert_true(err[0] != '\0');
  } else {
    assert_int_equal(st_load(in, 0), 0x6c6c6568);     /* "hell" */
    assert_int_equal(st_load(in, 8192), 0x11223344);
    assert_int_equal(st_i32_of(in, "g"), 1234);
    assert_int_equal(st_i32_of(in, "tsize"), 6);
  }
  tw_store_free(s);
  return rc;
}

static void repeated_restore_hits(void **state) {
  (void)state;
  tw_snapshot_cache_clear();
  size_t n;
  uint8_t *b = st_read("golden_v1_signed.twsnap", &n);
  tw_snapshot_cache_stats_t s0 = stats();
  char err[512];
  tw_snapshot_restore_opts_t o;
  restore_opts(&o);
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);
  tw_snapshot_cache_stats_t s1 = stats();
  assert_int_equal(s1.misses, s0.misses + 1);
  assert_int_equal(s1.insertions, s0.insertions + 1);
  assert_int_equal(s1.entries, 1);
  assert_true(s1.bytes > 0 && s1.bytes <= s1.limit_bytes);
  /* Twice more from the cache; the first of them writes its memory,
   * which the second must not see. */
  for (int i = 0; i < 2; i++) {
    tw_store_t *s;
    assert_int_equal(tw_store_new(engine, &s), 0);
    tw_instance_t *in;
    restore_opts(&o);
    memset(o.nonce_out, 0, 16);
    assert_int_equal(
        tw_snapshot_restore(s, golden, NULL, b, n, &o, &in, err, sizeof err),
        0);
    tw_snapshot_info_t info;
    assert_int_equal(tw_snapshot_inspect(b, n, &info, err, sizeof err), 0);
    assert_memory_equal(o.nonce_out, info.nonce, 16);
    assert_int_equal(st_load(in, 8192), 0x11223344);
    assert_int_equal(st_load(in, 200000), 0x55667788);
    tw_val_t args[2] = {st_i32(8192), st_i32(99)};
    st_call(in, "store", args, 2, 0);
    assert_int_equal(st_load(in, 8192), 99);
    tw_store_free(s);
  }
  tw_snapshot_cache_stats_t s2 = stats();
  assert_int_equal(s2.hits, s1.hits + 2);
  assert_int_equal(s2.misses, s1.misses);
  assert_int_equal(s2.entries, 1);
  /* no_cache neither looks nor adds */
  restore_opts(&o);
  o.no_cache = true;
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);
  tw_snapshot_cache_stats_t s3 = stats();
  assert_int_equal(s3.hits, s2.hits);
  assert_int_equal(s3.misses, s2.misses);
  free(b);
}

static bool refuse_all(void *user, const uint8_t nonce[16]) {
  (void)nonce;
  (*(int *)user)++;
  return false;
}

static void hit_still_checks_the_caller(void **state) {
  (void)state;
  tw_snapshot_cache_clear();
  size_t n;
  uint8_t *b = st_read("golden_v1_signed.twsnap", &n);
  char err[512];
  tw_snapshot_restore_opts_t o;
  restore_opts(&o);
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);
  tw_snapshot_cache_stats_t s0 = stats();
  assert_int_equal(s0.entries, 1);

  restore_opts(&o);
  o.tenant = "tenant-b";
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), TW_EAUTH);
  assert_string_equal(err, "snapshot belongs to tenant \"tenant-a\", not "
                           "\"tenant-b\"");

  restore_opts(&o);
  assert_int_equal(restore(other, b, n, &o, err, sizeof err), TW_EAUTH);
  assert_non_null(strstr(err, "snapshot is of another module (digest "));

  restore_opts(&o);
  o.key = (const uint8_t *)"another-key-of-32-bytes-........";
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), TW_EAUTH);
  assert_non_null(strstr(err, "HMAC-SHA256 mismatch"));

  restore_opts(&o);
  o.key = NULL;
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), TW_EAUTH);
  assert_non_null(strstr(err, "signed snapshot but no key to check it"));

  restore_opts(&o);
  o.max_payload_bytes = 100;
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), TW_ELIMIT);
  assert_non_null(strstr(err, "exceeds the decompression cap of 100 bytes"));

  restore_opts(&o);
  int calls = 0;
  o.replay_check = refuse_all;
  o.replay_user = &calls;
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), TW_EAUTH);
  assert_string_equal(err, "snapshot nonce refused by the replay check "
                           "(already used)");
  assert_int_equal(calls, 1);

  /* all of those were hits, and none of them disturbed the entry */
  tw_snapshot_cache_stats_t s1 = stats();
  assert_int_equal(s1.misses, s0.misses);
  assert_int_equal(s1.hits, s0.hits + 6);
  restore_opts(&o);
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);

  /* a bumped epoch revokes: refused, and the entry is dropped */
  restore_opts(&o);
  o.epoch = FIXTURE_EPOCH + 1;
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), TW_EAUTH);
  assert_string_equal(err, "snapshot epoch 5 is older than the tenant's "
                           "current epoch 6 (revoked)");
  assert_int_equal(stats().entries, 0);
  free(b);
}

static void unverified_entries(void **state) {
  (void)state;
  tw_snapshot_cache_clear();
  char err[512];
  tw_snapshot_restore_opts_t o;
  size_t n;
  /* cached without a key (allowed unverified), then a caller with the key
   * gets the signature checked once, then a wrong key is refused */
  uint8_t *b = st_read("golden_v1_signed.twsnap", &n);
  restore_opts(&o);
  o.key = NULL;
  o.allow_unsigned = true;
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);
  restore_opts(&o);
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);
  restore_opts(&o);
  o.key = (const uint8_t *)"another-key-of-32-bytes-........";
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), TW_EAUTH);
  assert_non_null(strstr(err, "HMAC-SHA256 mismatch"));
  restore_opts(&o);
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);
  free(b);
  /* an unsigned snapshot in the cache is still refused where signing is
   * required */
  b = st_read("golden_v1_unsigned.twsnap", &n);
  restore_opts(&o);
  o.allow_unsigned = true;
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);
  uint64_t hits = stats().hits;
  restore_opts(&o);
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), TW_EAUTH);
  assert_string_equal(err, "unsigned snapshot refused: signing is required");
  assert_int_equal(stats().hits, hits + 1);
  free(b);
}

static void modified_byte_misses(void **state) {
  (void)state;
  tw_snapshot_cache_clear();
  char err[512];
  tw_snapshot_restore_opts_t o;
  size_t n, un;
  uint8_t *b = st_read("golden_v1_signed.twsnap", &n);
  uint8_t *u = st_read("golden_v1_unsigned.twsnap", &un);
  restore_opts(&o);
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);
  o.allow_unsigned = true;
  assert_int_equal(restore(golden, u, un, &o, err, sizeof err), 0);
  tw_snapshot_cache_stats_t s0 = stats();
  /* one bit of the frame, of the trailer, of the header (epoch) */
  size_t at[] = {TW__SNAP_HEADER_LEN + 20, n - 1, SNAP_OFF_EPOCH};
  const char *want[] = {"HMAC-SHA256 mismatch", "HMAC-SHA256 mismatch",
                        "corrupt snapshot header: checksum mismatch"};
  for (int i = 0; i < 3; i++) {
    b[at[i]] ^= 1;
    restore_opts(&o);
    int rc = restore(golden, b, n, &o, err, sizeof err);
    assert_true(rc == TW_EAUTH || rc == TW_EMALFORMED);
    if (!strstr(err, want[i])) fail_msg("byte %zu: %s", at[i], err);
    b[at[i]] ^= 1;
  }
  tw_snapshot_cache_stats_t s1 = stats();
  assert_int_equal(s1.hits, s0.hits);
  assert_int_equal(s1.misses, s0.misses + 2); /* the header one: no lookup */
  /* unsigned: a flipped frame bit the CRC catches (the committed
   * fixture's), against an entry of the intact bytes */
  size_t cn;
  uint8_t *c = st_read("corrupt_payload_crc.twsnap", &cn);
  restore_opts(&o);
  o.allow_unsigned = true;
  assert_int_equal(restore(golden, c, cn, &o, err, sizeof err),
                   TW_EMALFORMED);
  assert_non_null(strstr(err, "payload checksum mismatch: CRC32 0x"));
  assert_int_equal(stats().hits, s0.hits);
  /* the intact ones still hit */
  restore_opts(&o);
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);
  assert_int_equal(stats().hits, s0.hits + 1);
  free(c);
  free(u);
  free(b);
}

/* A snapshot of golden after setup, then `store`s of val at 8192 ... so
 * that each val gives different bytes; signed with the fixture key. */
static uint8_t *snapshot_of(uint32_t val, size_t *n) {
  tw_store_t *s;
  tw_instance_t *in;
  char err[512] = "";
  assert_int_equal(tw_store_new(engine, &s), 0);
  assert_int_equal(tw_instance_new(s, golden, NULL, &in, err, sizeof err), 0);
  st_call(in, "setup", NULL, 0, 0);
  tw_val_t args[2] = {st_i32(250000), st_i32(val)};
  st_call(in, "store", args, 2, 0);
  tw_snapshot_save_opts_t so;
  tw_snapshot_save_opts_default(&so);
  so.tenant = FIXTURE_TENANT;
  so.epoch = FIXTURE_EPOCH;
  so.key = FIXTURE_KEY;
  so.key_len = FIXTURE_KEY_LEN;
  uint8_t *b;
  assert_int_equal(tw_snapshot_save(in, &so, &b, n, err, sizeof err), 0);
  tw_store_free(s);
  return b;
}

static void bound_evicts(void **state) {
  (void)state;
  tw_snapshot_cache_clear();
  size_t n[3];
  uint8_t *b[3];
  for (int i = 0; i < 3; i++) b[i] = snapshot_of(100 + (uint32_t)i, &n[i]);
  char err[512];
  tw_snapshot_restore_opts_t o;
  restore_opts(&o);
  assert_int_equal(restore(golden, b[0], n[0], &o, err, sizeof err), 0);
  uint64_t one = stats().bytes;
  assert_true(one > 0);
  /* room for two images */
  tw_snapshot_cache_set_limit(one * 2 + one / 2);
  tw_snapshot_cache_stats_t s0 = stats();
  for (int i = 1; i < 3; i++)
    assert_int_equal(restore(golden, b[i], n[i], &o, err, sizeof err), 0);
  tw_snapshot_cache_stats_t s1 = stats();
  assert_int_equal(s1.entries, 2);
  assert_int_equal(s1.evictions, s0.evictions + 1);
  assert_true(s1.bytes <= s1.limit_bytes);
  /* b[0], the least recently used, went; b[2] stays */
  assert_int_equal(restore(golden, b[2], n[2], &o, err, sizeof err), 0);
  assert_int_equal(stats().hits, s1.hits + 1);
  assert_int_equal(restore(golden, b[0], n[0], &o, err, sizeof err), 0);
  assert_int_equal(stats().misses, s1.misses + 1);
  /* lowering the bound evicts at once; smaller than one image: nothing
   * is kept */
  tw_snapshot_cache_set_limit(one / 2);
  assert_int_equal(stats().entries, 0);
  assert_int_equal(restore(golden, b[1], n[1], &o, err, sizeof err), 0);
  assert_int_equal(stats().entries, 0);
  /* 0 turns it off: no lookups */
  tw_snapshot_cache_set_limit(0);
  tw_snapshot_cache_stats_t s2 = stats();
  assert_int_equal(restore(golden, b[1], n[1], &o, err, sizeof err), 0);
  tw_snapshot_cache_stats_t s3 = stats();
  assert_int_equal(s3.hits + s3.misses, s2.hits + s2.misses);
  tw_snapshot_cache_set_limit(TW_SNAPSHOT_CACHE_DEFAULT_BYTES);
  for (int i = 0; i < 3; i++) tw_free(b[i]);
}

struct worker {
  const uint8_t *b;
  size_t n;
  int rounds, failures;
};

static void *restore_worker(void *arg) {
  struct worker *w = arg;
  for (int i = 0; i < w->rounds; i++) {
    tw_store_t *s;
    if (tw_store_new(engine, &s)) {
      w->failures++;
      continue;
    }
    tw_snapshot_restore_opts_t o;
    restore_opts(&o);
    tw_instance_t *in;
    char err[512];
    tw_val_t a, r;
    memset(&a, 0, sizeof a);
    a.type = TW_I32;
    a.of.i32 = 200000;
    if (tw_snapshot_restore(s, golden, NULL, w->b, w->n, &o, &in, err,
                            sizeof err) ||
        tw_instance_call(in, "load", &a, 1, &r, 1, err, sizeof err) ||
        r.of.i32 != 0x55667788)
      w->failures++;
    tw_store_free(s);
  }
  return NULL;
}

static atomic_bool stop_clearing;

static void *clear_worker(void *arg) {
  (void)arg;
  while (!atomic_load(&stop_clearing)) {
    tw_snapshot_cache_clear();
    sched_yield();
  }
  return NULL;
}

static void threads_share_entries(void **state) {
  (void)state;
  tw_snapshot_cache_clear();
  size_t n;
  uint8_t *b = st_read("golden_v1_signed.twsnap", &n);
  for (int pass = 0; pass < 2; pass++) {
    struct worker w[2] = {{b, n, 50, 0}, {b, n, 50, 0}};
    pthread_t t[2], c;
    atomic_store(&stop_clearing, false);
    if (pass) assert_int_equal(pthread_create(&c, NULL, clear_worker, NULL), 0);
    for (int i = 0; i < 2; i++)
      assert_int_equal(pthread_create(&t[i], NULL, restore_worker, &w[i]), 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    atomic_store(&stop_clearing, true);
    if (pass) pthread_join(c, NULL);
    assert_int_equal(w[0].failures, 0);
    assert_int_equal(w[1].failures, 0);
  }
  tw_snapshot_cache_stats_t s = stats();
  assert_true(s.entries <= 1);
  assert_true(s.hits > 0);
  free(b);
}

/* The CRC32 is not checked when the signature was: a signed snapshot with
 * a wrong payload CRC (re-signed) restores; its unsigned twin does not. */
static void crc_skipped_when_signed(void **state) {
  (void)state;
  tw_snapshot_cache_clear();
  size_t n;
  uint8_t *b = st_read("golden_v1_signed.twsnap", &n);
  b[SNAP_OFF_PAYLOAD_CRC] ^= 0xff;
  snap_put32(b + SNAP_OFF_HEADER_CRC,
             (uint32_t)crc32_z(0, b, SNAP_OFF_HEADER_CRC));
  assert_int_equal(tw__snap_hmac(FIXTURE_KEY, FIXTURE_KEY_LEN, b,
                                 n - TW__SNAP_MAC_LEN,
                                 b + n - TW__SNAP_MAC_LEN),
                   0);
  char err[512];
  tw_snapshot_restore_opts_t o;
  restore_opts(&o);
  o.no_cache = true;
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), 0);
  /* the same bytes without a key to check them: the CRC decides */
  restore_opts(&o);
  o.no_cache = true;
  o.key = NULL;
  o.allow_unsigned = true;
  assert_int_equal(restore(golden, b, n, &o, err, sizeof err), TW_EMALFORMED);
  assert_non_null(strstr(err, "payload checksum mismatch: CRC32 0x"));
  free(b);
}

int main(void) {
  if (tw_engine_new(NULL, &engine)) return 1;
  golden = st_module_file(engine, "golden.wasm");
  other = st_module_file(engine, "other.wasm");
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(repeated_restore_hits),
      cmocka_unit_test(hit_still_checks_the_caller),
      cmocka_unit_test(unverified_entries),
      cmocka_unit_test(modified_byte_misses),
      cmocka_unit_test(bound_evicts),
      cmocka_unit_test(threads_share_entries),
      cmocka_unit_test(crc_skipped_when_signed),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tw_snapshot_cache_clear();
  tw_module_free(other);
  tw_module_free(golden);
  tw_engine_free(engine);
  return rc;
}
