/* Helpers every command shares: reading a module file (bounded), turning
 * text into binary, and option matching. Files are read whole, up to
 * READ_LIMIT bytes; anything larger is refused before it is all in memory.
 */
#include "cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Above the library's own module size limit (256 MiB), so that the
 * decoder, not the CLI, is the one to name it for binaries. */
#define READ_LIMIT ((size_t)257 << 20)

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Reads the whole file into a malloc'd buffer; 0 or an errno value (EFBIG
 * past READ_LIMIT). */
static int read_file(const char *path, uint8_t **data, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return errno ? errno : EIO;
  size_t cap = 64 * 1024, len = 0;
  uint8_t *buf = malloc(cap);
  int rc = 0;
  if (!buf) {
    rc = ENOMEM;
    goto fail_close;
  }
  for (;;) {
    if (len == cap) {
      if (cap >= READ_LIMIT) {
        rc = EFBIG;
        goto fail_free;
      }
      size_t ncap = cap * 2 > READ_LIMIT ? READ_LIMIT : cap * 2;
      uint8_t *nbuf = realloc(buf, ncap);
      if (!nbuf) {
        rc = ENOMEM;
        goto fail_free;
      }
      buf = nbuf;
      cap = ncap;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    len += got;
    if (got == 0) {
      if (ferror(f)) {
        rc = EIO;
        goto fail_free;
      }
      break;
    }
  }
  fclose(f);
  *data = buf;
  *size = len;
  return 0;

fail_free:
  free(buf);
fail_close:
  fclose(f);
  return rc;
}

int tw_cli_load_module(const char *path, struct tw_cli_bytes *out) {
  out->data = NULL;
  out->size = 0;
  out->from_api = 0;

  uint8_t *raw;
  size_t len;
  int e = read_file(path, &raw, &len);
  if (e) {
    if (e == EFBIG)
      fprintf(stderr, "tensor-wasm: %s: file is larger than %zu bytes\n",
              path, READ_LIMIT);
    else
      fprintf(stderr, "tensor-wasm: %s: %s\n", path, strerror(e));
    return TW_CLI_USAGE;
  }

  int is_text;
  if (ends_with(path, ".wasm"))
    is_text = 0;
  else if (ends_with(path, ".wat"))
    is_text = 1;
  else
    is_text = !(len >= 4 && memcmp(raw, "\0asm", 4) == 0);

  if (!is_text) {
    out->data = raw;
    out->size = len;
    return 0;
  }

  char err[512];
  uint8_t *bin = NULL;
  size_t bin_len = 0;
  int rc = tw_wat_to_wasm((const char *)raw, len, &bin, &bin_len, err,
                          sizeof err);
  free(raw);
  if (rc != 0) {
    /* Parser messages start with "line:col:", so "FILE:line:col: ..." reads
     * like a compiler's diagnostic. */
    if (rc == TW_EMALFORMED && err[0] >= '0' && err[0] <= '9')
      fprintf(stderr, "%s:%s\n", path, err);
    else
      fprintf(stderr, "tensor-wasm: %s: %s\n", path,
              err[0] ? err : tw_strerror(rc));
    return TW_CLI_USAGE;
  }
  out->data = bin;
  out->size = bin_len;
  out->from_api = 1;
  return 0;
}

void tw_cli_bytes_free(struct tw_cli_bytes *b) {
  if (b->from_api)
    tw_free(b->data);
  else
    free(b->data);
  b->data = NULL;
  b->size = 0;
  b->from_api = 0;
}

int tw_cli_is_help(const char *arg) {
  return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}

int tw_cli_option(int argc, char **argv, int *i, const char *name,
                  const char **value) {
  const char *a = argv[*i];
  size_t n = strlen(name);
  if (strncmp(a, name, n) != 0) return 0;
  if (a[n] == '=') {
    *value = a + n + 1;
    return 1;
  }
  if (a[n] != '\0') return 0;
  if (*i + 1 >= argc) {
    fprintf(stderr,
            "tensor-wasm %s: option %s needs a value\n"
            "Try 'tensor-wasm %s --help'.\n",
            argv[0], name, argv[0]);
    return -1;
  }
  *i += 1;
  *value = argv[*i];
  return 1;
}

int tw_cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  fprintf(stderr, "tensor-wasm %s: ", cmd);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\nTry 'tensor-wasm %s --help'.\n", cmd);
  return TW_CLI_USAGE;
}
