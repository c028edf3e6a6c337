/* Compiles every valid module of the non-SIMD spec tests and of the WASI
 * test suite to C and through tier 0 (libtcc): every one must compile.
 * Reads the shared conformance folder ($TW_CONFORMANCE_DIR); skips (77)
 * when it is absent. Prints counts, failures, and the size, codegen time
 * and tcc time of the largest module.
 */
#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/base.h"
#include "codegen/codegen.h"
#include "wasm/wasm.h"

static const char *conf_dir;

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return p;
}

struct stats {
  unsigned modules, invalid, compiled, failed, unsupported;
  size_t largest_size, largest_c;
  double largest_gen_ms, largest_cc_ms;
  char largest[512];
};

/* Returns 0 compiled, 1 skipped (invalid/unsupported), -1 failure. */
static int compile_one(const char *path, struct stats *st) {
  size_t size;
  uint8_t *bytes = read_file(path, &size);
  char err[512];
  if (!bytes) {
    printf("FAIL %s: cannot read\n", path);
    st->failed++;
    return -1;
  }
  st->modules++;
  struct tw__module *m = NULL;
  if (tw__module_decode(bytes, size, &m, err, sizeof err) ||
      tw__module_validate(m, err, sizeof err)) {
    st->invalid++;
    tw__module_free(m);
    free(bytes);
    return 1;
  }
  struct tw__buf c;
  tw__buf_init(&c, (size_t)1 << 30);
  uint64_t t0 = tw__now_ns();
  int rc = tw__codegen_c(m, &c, err, sizeof err);
  uint64_t t1 = tw__now_ns();
  int res = 0;
  if (rc == TW_EUNSUPPORTED) {
    st->unsupported++;
    res = 1;
  } else if (rc) {
    printf("FAIL %s: codegen: %s\n", path, err);
    st->failed++;
    res = -1;
  } else {
    tw__buf_cstr(&c);
    struct tw__code *code = NULL;
    uint64_t t2 = tw__now_ns();
    rc = tw__tier0_compile(c.data, c.len, &code, err, sizeof err);
    uint64_t t3 = tw__now_ns();
    if (rc) {
      printf("FAIL %s: tier0: %s\n", path, err);
      st->failed++;
      res = -1;
    } else {
      st->compiled++;
      if (size > st->largest_size) {
        st->largest_size = size;
        st->largest_c = c.len;
        st->largest_gen_ms = (double)(t1 - t0) / 1e6;
        st->largest_cc_ms = (double)(t3 - t2) / 1e6;
        snprintf(st->largest, sizeof st->largest, "%s", path);
      }
    }
    tw__code_free(code);
  }
  tw__buf_free(&c);
  tw__module_free(m);
  free(bytes);
  return res;
}

static int has_suffix(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static void test_spec_modules(void **state) {
  (void)state;
  char dir[1024];
  snprintf(dir, sizeof dir, "%s/spec/json", conf_dir);
  DIR *d = opendir(dir);
  assert_non_null(d);
  struct stats st = {0};
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!has_suffix(e->d_name, ".json") || strncmp(e->d_name, "simd", 4) == 0)
      continue;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root) continue;
    json_t *cmds = json_object_get(root, "commands");
    size_t i;
    json_t *cmd;
    json_array_foreach(cmds, i, cmd) {
      const char *type = json_string_value(json_object_get(cmd, "type"));
      const char *fn = json_string_value(json_object_get(cmd, "filename"));
      if (!type || !fn || strcmp(type, "module") != 0) continue;
      if (!has_suffix(fn, ".wasm")) continue;
      char mp[2048];
      snprintf(mp, sizeof mp, "%s/%s", dir, fn);
      compile_one(mp, &st);
    }
    json_decref(root);
  }
  closedir(d);
  printf("spec: %u modules, %u not decoding/validating, %u compiled, "
         "%u unsupported, %u failed\n",
         st.modules, st.invalid, st.compiled, st.unsupported, st.failed);
  assert_int_equal(st.failed, 0);
  assert_int_equal(st.unsupported, 0);
  assert_true(st.compiled > 100);
}

static void test_wasi_modules(void **state) {
  (void)state;
  static const char *subs[] = {"c", "rust", "assemblyscript"};
  struct stats st = {0};
  for (size_t k = 0; k < 3; k++) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/wasi/%s", conf_dir, subs[k]);
    DIR *d = opendir(dir);
    if (!d) continue;
    struct dirent *e;
    while ((e = readdir(d))) {
      if (!has_suffix(e->d_name, ".wasm")) continue;
      char path[2048];
      snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
      compile_one(path, &st);
    }
    closedir(d);
  }
  printf("wasi: %u modules, %u not decoding/validating, %u compiled, "
         "%u unsupported, %u failed\n",
         st.modules, st.invalid, st.compiled, st.unsupported, st.failed);
  if (st.largest_size)
    printf("wasi largest: %s: %zu bytes of wasm -> %zu bytes of C, "
           "codegen %.1f ms, tcc %.1f ms\n",
           st.largest, st.largest_size, st.largest_c, st.largest_gen_ms,
           st.largest_cc_ms);
  assert_int_equal(st.failed, 0);
  assert_int_equal(st.invalid, 0);
}

int main(void) {
  conf_dir = getenv("TW_CONFORMANCE_DIR");
  char probe[1024];
  snprintf(probe, sizeof probe, "%s/spec/json", conf_dir ? conf_dir : "");
  DIR *d = conf_dir ? opendir(probe) : NULL;
  if (!d) {
    fprintf(stderr, "SKIP: conformance data not found: set "
                    "TW_CONFORMANCE_DIR to a folder with spec/json\n");
    return 77;
  }
  closedir(d);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_spec_modules),
      cmocka_unit_test(test_wasi_modules),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
