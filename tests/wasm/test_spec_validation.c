/* The judge for the decoder and validator: every binary module of the
 * WebAssembly 2.0 spec tests (wast2json output, read from the shared
 * conformance folder, never copied here) must decode and validate when the
 * tests say it is a module, and be refused when they say it is invalid or
 * (binary) malformed. Text-format assertions are skipped.
 *
 * Usage: test_spec_validation [-v] [NAME.json ...]   (default: all files)
 * Exit 0 when everything passes, 1 otherwise, 77 if the data is absent.
 */
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "wasm/wasm.h"

struct counts {
  unsigned pass, fail, skip;
};

static int verbose;

static uint8_t *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  uint8_t *buf = NULL;
  size_t n = 0, cap = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 65536;
      uint8_t *b = realloc(buf, cap);
      if (!b) {
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = b;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  fclose(f);
  *size = n;
  return buf;
}

/* Decodes and validates; returns 0 or the first error code, message in
 * err. */
static int load(const char *path, char *err, size_t errlen) {
  size_t size;
  uint8_t *bytes = read_file(path, &size);
  if (!bytes) {
    snprintf(err, errlen, "cannot read the file");
    return -1000;
  }
  struct tw__module *m = NULL;
  int rc = tw__module_decode(bytes, size, &m, err, errlen);
  if (rc == 0) {
    rc = tw__module_validate(m, err, errlen);
    tw__module_free(m);
  }
  free(bytes);
  return rc;
}

static void run_file(const char *dir, const char *name, struct counts *total) {
  char path[8192];
  json_error_t jerr;
  struct counts c = {0, 0, 0};

  snprintf(path, sizeof path, "%s/%s", dir, name);
  json_t *root = json_load_file(path, JSON_ALLOW_NUL, &jerr);
  if (!root) {
    printf("%s: cannot parse: %s\n", name, jerr.text);
    total->fail++;
    return;
  }
  json_t *cmds = json_object_get(root, "commands");
  size_t i;
  json_t *cmd;
  json_array_foreach(cmds, i, cmd) {
    const char *type = json_string_value(json_object_get(cmd, "type"));
    const char *file = json_string_value(json_object_get(cmd, "filename"));
    const char *mtype =
        json_string_value(json_object_get(cmd, "module_type"));
    const char *text = json_string_value(json_object_get(cmd, "text"));
    long line = (long)json_integer_value(json_object_get(cmd, "line"));
    int want_ok;
    if (!type || !file) continue;
    if (!strcmp(type, "module") || !strcmp(type, "assert_unlinkable") ||
        !strcmp(type, "assert_uninstantiable")) {
      want_ok = 1; /* valid modules; linking and running are not ours */
    } else if (!strcmp(type, "assert_invalid") ||
               !strcmp(type, "assert_malformed")) {
      want_ok = 0;
    } else {
      continue;
    }
    if (mtype && strcmp(mtype, "binary") != 0) {
      c.skip++;
      continue;
    }
    char err[1024] = "";
    snprintf(path, sizeof path, "%s/%s", dir, file);
    int rc = load(path, err, sizeof err);
    if ((rc == 0) == want_ok) {
      c.pass++;
      if (verbose && !want_ok)
        printf("  ok %s:%ld %s [%s] -> %s: %s\n", name, line, type,
               text ? text : "", tw_strerror(rc), err);
    } else {
      c.fail++;
      if (want_ok)
        printf("  FAIL %s:%ld %s %s: refused: %s: %s\n", name, line, type,
               file, tw_strerror(rc), err);
      else
        printf("  FAIL %s:%ld %s %s: expected \"%s\", but accepted\n", name,
               line, type, file, text ? text : "");
    }
  }
  json_decref(root);
  printf("%-40s pass %5u  fail %4u  skip %4u\n", name, c.pass, c.fail,
         c.skip);
  total->pass += c.pass;
  total->fail += c.fail;
  total->skip += c.skip;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
  const char *base = getenv("TW_CONFORMANCE_DIR");
  char dir[4096];
  struct counts total = {0, 0, 0};
  int argi = 1;

  if (argi < argc && !strcmp(argv[argi], "-v")) {
    verbose = 1;
    argi++;
  }
  snprintf(dir, sizeof dir, "%s/spec/json",
           base && *base ? base : "/work/shared/conformance");
  DIR *d = opendir(dir);
  if (!d) {
    printf("SKIP: no spec tests at %s (set TW_CONFORMANCE_DIR)\n", dir);
    return 77;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  if (argi < argc) {
    for (; argi < argc; argi++) {
      if (n == cap) {
        cap = cap ? cap * 2 : 16;
        names = realloc(names, cap * sizeof *names);
        if (!names) return 1;
      }
      names[n++] = strdup(argv[argi]);
    }
  } else {
    struct dirent *e;
    while ((e = readdir(d))) {
      size_t len = strlen(e->d_name);
      if (len < 5 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
      if (n == cap) {
        cap = cap ? cap * 2 : 256;
        names = realloc(names, cap * sizeof *names);
        if (!names) return 1;
      }
      names[n++] = strdup(e->d_name);
    }
  }
  closedir(d);
  if (n == 0) {
    printf("SKIP: no .json files in %s\n", dir);
    return 77;
  }
  qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    run_file(dir, names[i], &total);
    free(names[i]);
  }
  free(names);
  printf("TOTAL: %zu files, pass %u, fail %u, skip %u (text format)\n", n,
         total.pass, total.fail, total.skip);
  return total.fail ? 1 : 0;
}
