/* Unit tests of src/store: schema migrations (from an empty database and
 * from the version-1 golden database in schema_v1.sql), refusing a newer
 * schema, records, scopes, and the artifact store's integrity checks
 * (HMAC trailer, digest, truncation) and the data directory's secret.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/store.h"

static char tmpdir[256];

static int setup(void **state) {
  (void)state;
  snprintf(tmpdir, sizeof tmpdir, "/tmp/tw-store-XXXXXX");
  return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
  return system(cmd) == 0 ? 0 : -1;
}

static void path_in(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", tmpdir, name);
}

static void test_migrate_empty(void **state) {
  (void)state;
  char p[300], err[256];
  path_in(p, sizeof p, "empty.db");
  struct tw__db *db;
  assert_int_equal(tw__db_open(p, &db, err, sizeof err), 0);
  assert_int_equal(tw__db_version(db), TW_DB_SCHEMA_VERSION);
  struct tw__tenant t = {.max_functions = 3, .max_instances = 4,
                         .max_memory_bytes = 5, .created_at = 6};
  snprintf(t.id, sizeof t.id, "t1");
  assert_int_equal(tw__db_tenant_put(db, &t), 0);
  struct tw__tenant got;
  assert_int_equal(tw__db_tenant_get(db, "t1", &got), 0);
  assert_int_equal(got.max_instances, 4);
  assert_int_equal(tw__db_tenant_get(db, "nope", &got), TW_ENOTFOUND);
  tw__db_close(db);
  /* Reopening is a no-op migration. */
  assert_int_equal(tw__db_open(p, &db, err, sizeof err), 0);
  assert_int_equal(tw__db_version(db), TW_DB_SCHEMA_VERSION);
  tw__db_close(db);
}

static void test_migrate_step_by_step(void **state) {
  (void)state;
  char p[300], err[256];
  path_in(p, sizeof p, "steps.db");
  struct tw__db *db;
  assert_int_equal(tw__db_open_at(p, 1, &db, err, sizeof err), 0);
  assert_int_equal(tw__db_version(db), 1);
  tw__db_close(db);
  assert_int_equal(tw__db_open(p, &db, err, sizeof err), 0);
  assert_int_equal(tw__db_version(db), TW_DB_SCHEMA_VERSION);
  tw__db_close(db);
}

static int count_cb(void *ctx, const struct tw__job *j) {
  (void)j;
  ++*(int *)ctx;
  return 0;
}

static void test_migrate_golden_v1(void **state) {
  (void)state;
  char p[300], err[256], sqlpath[512];
  path_in(p, sizeof p, "v1.db");
  snprintf(sqlpath, sizeof sqlpath, "%s/tests/http/schema_v1.sql",
           TW_SOURCE_DIR);
  FILE *f = fopen(sqlpath, "r");
  assert_non_null(f);
  static char sql[65536];
  size_t n = fread(sql, 1, sizeof sql - 1, f);
  fclose(f);
  sql[n] = '\0';
  sqlite3 *h;
  assert_int_equal(sqlite3_open(p, &h), SQLITE_OK);
  assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(h);

  struct tw__db *db;
  assert_int_equal(tw__db_open(p, &db, err, sizeof err), 0);
  assert_int_equal(tw__db_version(db), TW_DB_SCHEMA_VERSION);
  /* Old rows survive with the new columns' defaults. */
  struct tw__tenant t;
  assert_int_equal(tw__db_tenant_get(db, "acme", &t), 0);
  assert_int_equal(t.created_at, 1700000000000LL);
  assert_int_equal(t.max_functions, 100);
  struct tw__function fn;
  assert_int_equal(tw__db_function_get(db, "acme", "add", &fn), 0);
  assert_string_equal(fn.mode, "typed");
  assert_int_equal(fn.pool_size, 4);
  uint8_t hash[32];
  memset(hash, 1, sizeof hash);
  struct tw__token tok;
  assert_int_equal(tw__db_token_find(db, hash, &tok), 0);
  assert_string_equal(tok.id, "tok_old");
  assert_int_equal(tok.scopes, TW_SCOPE_READ | TW_SCOPE_INVOKE);
  /* Recovery semantics on the old rows. */
  int failed = 0, queued = 0;
  assert_int_equal(tw__db_job_fail_running(db, "stopped", &failed), 0);
  assert_int_equal(failed, 1);
  assert_int_equal(tw__db_job_each_queued(db, count_cb, &queued), 0);
  assert_int_equal(queued, 1);
  struct tw__job j;
  assert_int_equal(tw__db_job_get(db, "job_old1", &j), 0);
  assert_int_equal(j.state, TW_JOB_FAILED);
  assert_string_equal(j.error, "stopped");
  tw__job_clear(&j);
  tw__db_close(db);
}

static void test_newer_schema_refused(void **state) {
  (void)state;
  char p[300], err[256];
  path_in(p, sizeof p, "future.db");
  sqlite3 *h;
  assert_int_equal(sqlite3_open(p, &h), SQLITE_OK);
  assert_int_equal(sqlite3_exec(h, "PRAGMA user_version=999", NULL, NULL,
                                NULL),
                   SQLITE_OK);
  sqlite3_close(h);
  struct tw__db *db;
  assert_int_equal(tw__db_open(p, &db, err, sizeof err), TW_EUNSUPPORTED);
  assert_non_null(strstr(err, "newer"));
  assert_null(db);
}

static void test_scopes(void **state) {
  (void)state;
  uint32_t s;
  char err[128], buf[64];
  assert_int_equal(tw__scopes_parse("deploy,invoke,read", &s, err, sizeof err),
                   0);
  assert_int_equal(s, TW_SCOPE_DEPLOY | TW_SCOPE_INVOKE | TW_SCOPE_READ);
  tw__scopes_format(s, buf, sizeof buf);
  assert_string_equal(buf, "read,invoke,deploy");
  assert_int_equal(tw__scopes_parse("read, root", &s, err, sizeof err),
                   TW_EINVAL);
  assert_non_null(strstr(err, "root"));
  assert_int_equal(tw__scopes_parse(",,", &s, err, sizeof err), TW_EINVAL);
  assert_int_equal(tw__scopes_parse("admin", &s, err, sizeof err), 0);
  tw__scopes_format(s, buf, sizeof buf);
  assert_string_equal(buf, "admin");
}

static void corrupt_byte(const char *file, long off) {
  FILE *f = fopen(file, "r+b");
  assert_non_null(f);
  fseek(f, off, off < 0 ? SEEK_END : SEEK_SET);
  int c = fgetc(f);
  fseek(f, -1, SEEK_CUR);
  fputc(c ^ 0x40, f);
  fclose(f);
}

static void test_artifacts(void **state) {
  (void)state;
  char dir[300], err[256], digest[65], file[512];
  path_in(dir, sizeof dir, "art");
  uint8_t key[32];
  memset(key, 7, sizeof key);
  struct tw__artifacts *a;
  assert_int_equal(tw__art_open(dir, key, &a, err, sizeof err), 0);
  const uint8_t data[] = "\0asm\1\0\0\0 payload";
  assert_int_equal(tw__art_put(a, data, sizeof data, digest, err, sizeof err),
                   0);
  uint8_t *got;
  size_t len;
  assert_int_equal(tw__art_get(a, digest, 1 << 20, &got, &len, err,
                               sizeof err),
                   0);
  assert_int_equal(len, sizeof data);
  assert_memory_equal(got, data, len);
  free(got);
  /* The file is the payload plus the 48-byte trailer. */
  snprintf(file, sizeof file, "%s/%.2s/%s", dir, digest, digest);
  struct stat sb;
  assert_int_equal(stat(file, &sb), 0);
  assert_int_equal(sb.st_size, sizeof data + TW_ARTIFACT_TRAILER);
  /* A different key does not verify. */
  uint8_t other[32];
  memset(other, 8, sizeof other);
  struct tw__artifacts *b;
  assert_int_equal(tw__art_open(dir, other, &b, err, sizeof err), 0);
  assert_int_equal(tw__art_get(b, digest, 1 << 20, &got, &len, err,
                               sizeof err),
                   TW_EIO);
  tw__art_close(b);
  /* Flipped payload byte, flipped MAC byte, truncation: all refused. */
  corrupt_byte(file, 3);
  assert_int_equal(tw__art_get(a, digest, 1 << 20, &got, &len, err,
                               sizeof err),
                   TW_EIO);
  corrupt_byte(file, 3);
  assert_int_equal(tw__art_get(a, digest, 1 << 20, &got, &len, err,
                               sizeof err),
                   0);
  free(got);
  corrupt_byte(file, -1);
  assert_int_equal(tw__art_get(a, digest, 1 << 20, &got, &len, err,
                               sizeof err),
                   TW_EIO);
  assert_int_equal(truncate(file, 10), 0);
  assert_int_equal(tw__art_get(a, digest, 1 << 20, &got, &len, err,
                               sizeof err),
                   TW_EIO);
  /* Size cap, bad digests, absent files. */
  assert_int_equal(tw__art_put(a, data, sizeof data, digest, err, sizeof err),
                   0);
  assert_int_equal(tw__art_get(a, digest, 4, &got, &len, err, sizeof err),
                   TW_EIO);
  assert_int_equal(tw__art_get(a, "../../etc/passwd", 100, &got, &len, err,
                               sizeof err),
                   TW_EINVAL);
  char absent[65];
  memset(absent, 'a', 64);
  absent[64] = '\0';
  assert_int_equal(tw__art_get(a, absent, 100, &got, &len, err, sizeof err),
                   TW_ENOTFOUND);
  assert_int_equal(tw__art_remove(a, digest), 0);
  assert_int_equal(tw__art_get(a, digest, 100, &got, &len, err, sizeof err),
                   TW_ENOTFOUND);
  tw__art_close(a);
}

static void test_secret(void **state) {
  (void)state;
  char dir[300], err[256], file[400];
  path_in(dir, sizeof dir, "secret");
  uint8_t s1[32], s2[32], d1[32], d2[32];
  assert_int_equal(tw__secret_load(dir, s1, err, sizeof err), 0);
  assert_int_equal(tw__secret_load(dir, s2, err, sizeof err), 0);
  assert_memory_equal(s1, s2, 32);
  snprintf(file, sizeof file, "%s/secret.key", dir);
  struct stat sb;
  assert_int_equal(stat(file, &sb), 0);
  assert_int_equal(sb.st_mode & 0777, 0600);
  tw__secret_derive(s1, "a", d1);
  tw__secret_derive(s1, "b", d2);
  assert_memory_not_equal(d1, d2, 32);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_migrate_empty),
      cmocka_unit_test(test_migrate_step_by_step),
      cmocka_unit_test(test_migrate_golden_v1),
      cmocka_unit_test(test_newer_schema_refused),
      cmocka_unit_test(test_scopes),
      cmocka_unit_test(test_artifacts),
      cmocka_unit_test(test_secret),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
