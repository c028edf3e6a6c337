/* The CLI's entry points to the library's JSON value codec
 * (src/codec/args.c): --args text in, one JSON result line out.
 */
#include "cli/args.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/codec.h"

int tw_cli_args_from_json(const char *json, const tw_functype_t *type,
                          tw_val_t *out, char *err, size_t errlen) {
  if (!json) {
    if (err && errlen) snprintf(err, errlen, "--args: NULL argument");
    return TW_EINVAL;
  }
  return tw__codec_args_from_text(json, strlen(json), "--args", type, out,
                                  err, errlen);
}

void tw_cli_print_results(FILE *f, const tw_val_t *vals, size_t n) {
  size_t cap = tw__codec_results_size(n);
  char *buf = cap == SIZE_MAX ? NULL : malloc(cap);
  if (!buf || tw__codec_results_format(vals, n, buf, cap) == 0) {
    fputs("[]\n", f); /* out of memory: nothing better to print */
    free(buf);
    return;
  }
  fputs(buf, f);
  fputc('\n', f);
  free(buf);
}
