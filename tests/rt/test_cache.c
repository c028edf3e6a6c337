/* The tier-1 code cache on disk: a compile leaves one entry; the next
 * engine (as after a restart) loads it without compiling; a corrupt,
 * truncated or foreign entry is detected, deleted and rebuilt, never
 * loaded; two processes compiling the same module at once both get
 * working tier-1 code and leave one whole entry behind.
 */
#include "rt/rt_test.h"

#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base.h"

static char dir[256];

static const char k_wat[] =
    "(module (func (export \"f\") (param i32) (result i32)\n"
    "  (local i32)\n"
    "  (block (loop (br_if 1 (i32.eqz (local.get 0)))\n"
    "    (local.set 1 (i32.add (local.get 1) (i32.mul (local.get 0) (local.get 0))))\n"
    "    (local.set 0 (i32.sub (local.get 0) (i32.const 1))) (br 0)))\n"
    "  (local.get 1)))\n";

static uint8_t *bin;
static size_t bin_len;

/* Path of the single entry in dir/t1 (fails if not exactly one .so and
 * no temporary files). */
static void entry(char *out, size_t len) {
  char t1[300];
  snprintf(t1, sizeof t1, "%s/t1", dir);
  DIR *d = opendir(t1);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    if (strstr(e->d_name, ".tmp.")) fail_msg("left over: %s", e->d_name);
    snprintf(out, len, "%s/%s", t1, e->d_name);
    n++;
  }
  closedir(d);
  assert_int_equal(n, 1);
}

static ino_t inode_of(const char *p) {
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  return st.st_ino;
}

/* A fresh engine (a "restart") loads the module in tier 1 and runs it. */
static double load_and_run(void) {
  tw_engine_config_t cfg;
  tw_engine_config_default(&cfg);
  cfg.tier = TW_TIER_1;
  cfg.cache_dir = dir;
  tw_engine_t *e;
  assert_int_equal(tw_engine_new(&cfg, &e), 0);
  uint64_t t0 = tw__now_ns();
  tw_module_t *m = rt_test_module(e, bin, bin_len);
  double ms = (double)(tw__now_ns() - t0) / 1e6;
  assert_int_equal(tw_module_tier(m), 1);
  tw_store_t *s;
  tw_instance_t *in;
  char err[256];
  assert_int_equal(tw_store_new(e, &s), 0);
  assert_int_equal(tw_instance_new(s, m, NULL, &in, err, sizeof err), 0);
  tw_val_t a = rt_i32(10), r;
  assert_int_equal(tw_instance_call(in, "f", &a, 1, &r, 1, err, sizeof err),
                   0);
  assert_int_equal(r.of.i32, 385);
  tw_store_free(s);
  tw_module_free(m);
  tw_engine_free(e);
  return ms;
}

static void hit_after_restart(void **state) {
  (void)state;
  double cold = load_and_run();
  char p[600];
  entry(p, sizeof p);
  ino_t ino = inode_of(p);
  double warm = load_and_run();
  assert_true(inode_of(p) == ino); /* loaded, not rebuilt */
  print_message("cold %.1f ms, warm (cache hit) %.1f ms\n", cold, warm);
}

static uint8_t *slurp(const char *p, size_t *len) {
  FILE *f = fopen(p, "rb");
  assert_non_null(f);
  uint8_t *b = malloc(16u << 20);
  assert_non_null(b);
  *len = fread(b, 1, 16u << 20, f);
  fclose(f);
  return b;
}

/* Damages the entry with f, then checks the next load rebuilds it: the
 * entry is whole again (the compiler is deterministic, so byte-equal to
 * the first one; inode numbers may be reused, so they prove nothing). */
static void damage_and_check(void (*f)(const char *path)) {
  char p[600];
  load_and_run();
  entry(p, sizeof p);
  size_t n0, n1;
  uint8_t *good = slurp(p, &n0);
  f(p);
  load_and_run();
  char q[600];
  entry(q, sizeof q);
  assert_string_equal(p, q);
  uint8_t *again = slurp(q, &n1);
  assert_int_equal(n0, n1);
  assert_memory_equal(good, again, n0);
  free(good);
  free(again);
  load_and_run(); /* and the new one is good */
}

static void flip_payload(const char *p) {
  int fd = open(p, O_RDWR);
  assert_true(fd >= 0);
  uint8_t c;
  assert_int_equal(pread(fd, &c, 1, 200), 1);
  c ^= 0x55;
  assert_int_equal(pwrite(fd, &c, 1, 200), 1);
  close(fd);
}

static void truncate_half(const char *p) {
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(truncate(p, st.st_size / 2), 0);
}

static void truncate_trailer(const char *p) {
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  assert_int_equal(truncate(p, st.st_size - 1), 0);
}

static void zero_length(const char *p) { assert_int_equal(truncate(p, 0), 0); }

static void flip_key(const char *p) {
  struct stat st;
  assert_int_equal(stat(p, &st), 0);
  int fd = open(p, O_RDWR);
  assert_true(fd >= 0);
  uint8_t c;
  off_t at = st.st_size - 88 + 24; /* first key byte of the trailer */
  assert_int_equal(pread(fd, &c, 1, at), 1);
  c ^= 1;
  assert_int_equal(pwrite(fd, &c, 1, at), 1);
  close(fd);
}

static void corrupt(void **state) {
  (void)state;
  damage_and_check(flip_payload);
  damage_and_check(truncate_half);
  damage_and_check(truncate_trailer);
  damage_and_check(zero_length);
  damage_and_check(flip_key);
}

/* Two processes, empty cache, same module, at the same time. */
static void two_processes(void **state) {
  (void)state;
  char cmd[600];
  snprintf(cmd, sizeof cmd, "rm -rf '%s/t1'", dir);
  assert_int_equal(system(cmd), 0);
  pid_t pids[2];
  for (int i = 0; i < 2; i++) {
    fflush(NULL);
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      /* cmocka's assertions longjmp into the parent's frames: report by
       * exit status instead. */
      tw_engine_config_t cfg;
      tw_engine_config_default(&cfg);
      cfg.tier = TW_TIER_1;
      cfg.cache_dir = dir;
      tw_engine_t *e;
      tw_module_t *m;
      tw_store_t *s;
      tw_instance_t *in;
      char err[256];
      tw_val_t a = rt_i32(10), r;
      if (tw_engine_new(&cfg, &e) ||
          tw_module_new(e, bin, bin_len, &m, err, sizeof err))
        _exit(2);
      if (tw_module_tier(m) != 1) _exit(3);
      if (tw_store_new(e, &s) ||
          tw_instance_new(s, m, NULL, &in, err, sizeof err) ||
          tw_instance_call(in, "f", &a, 1, &r, 1, err, sizeof err) ||
          r.of.i32 != 385)
        _exit(4);
      _exit(0);
    }
  }
  for (int i = 0; i < 2; i++) {
    int st;
    assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 0);
  }
  char p[600];
  entry(p, sizeof p);
  load_and_run();
}

int main(void) {
  const char *tmp = getenv("TMPDIR");
  snprintf(dir, sizeof dir, "%s/tw-test-cache-XXXXXX",
           tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(dir)) return 1;
  char err[256];
  if (tw_wat_to_wasm(k_wat, strlen(k_wat), &bin, &bin_len, err, sizeof err))
    return 1;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hit_after_restart),
      cmocka_unit_test(corrupt),
      cmocka_unit_test(two_processes),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  tw_free(bin);
  char cmd[400];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0 && rc == 0) rc = 1;
  return rc;
}
