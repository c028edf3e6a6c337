/* libFuzzer target for the JSON value codec (src/codec): arbitrary bytes
 * as the arguments text of a call, against a signature chosen by the
 * first byte; on success the values are formatted back as results and the
 * text must be valid JSON. Finds crashes, leaks, UB and bad output.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "codec/codec.h"

static const uint8_t sig_types[] = {TW_I32, TW_I64, TW_F32, TW_F64,
                                    TW_FUNCREF, TW_EXTERNREF, TW_V128};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  /* Byte 0: arity (0..7) and a type seed. */
  uint32_t n = data[0] & 7;
  uint8_t params[8];
  for (uint32_t i = 0; i < n; i++)
    params[i] = sig_types[(data[0] >> 3 ^ i * 5) % sizeof sig_types];
  tw_functype_t ft = {n, 0, params, NULL};
  tw_val_t vals[8];
  char err[256];
  int rc = tw__codec_args_from_text((const char *)data + 1, size - 1,
                                    "args", &ft, vals, err, sizeof err);
  if (rc != 0) {
    if (rc != TW_EINVAL || !err[0] || !memchr(err, '\0', sizeof err))
      abort();
    return 0;
  }
  size_t cap = tw__codec_results_size(n);
  char *buf = malloc(cap);
  if (!buf) return 0;
  size_t len = tw__codec_results_format(vals, n, buf, cap);
  if (len == 0 || len >= cap || buf[len] != '\0') abort();
  json_t *back = json_loadb(buf, len, 0, NULL);
  if (!back || !json_is_array(back) || json_array_size(back) != n) abort();
  json_decref(back);
  free(buf);
  return 0;
}
