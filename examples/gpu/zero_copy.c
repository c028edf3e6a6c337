/* A kernel working in place on guest memory (zero-copy): x = 2x + 1 over a
 * buffer that also spans memory grown after the first launch, so it runs
 * across two registered ranges. run(n) returns mismatches (0) or a
 * negative error code. */
#include <stdlib.h>

#include "common.h"

static float small[4096];

static int32_t saxpy(int32_t k, float *x, uint32_t n) {
  struct cuda_argv av = {.n = 0};
  argv_ptr(&av, x, n * 4);
  argv_u32(&av, n);
  argv_f32(&av, 2.0f);
  argv_f32(&av, 1.0f);
  int32_t rc = wasi_cuda_launch(k, (n + 255) / 256, 1, 1, 256, 1, 1, 0, av.b,
                                av.n);
  return rc ? rc : wasi_cuda_sync();
}

__attribute__((export_name("run"))) int32_t run(uint32_t n) {
  int32_t k = load_kernel("saxpy_inplace");
  if (k < 0) return k;
  /* First launch: registers the memory as it is now. */
  for (uint32_t i = 0; i < 4096; i++) small[i] = (float)i;
  int32_t rc = saxpy(k, small, 4096);
  if (rc) return rc;
  int32_t bad = 0;
  for (uint32_t i = 0; i < 4096; i++)
    if (small[i] != 2.0f * (float)i + 1.0f) bad++;
  /* Then grow the memory (malloc of n floats) and work on the new part:
   * the host registers the grown range as a second range. */
  float *x = malloc((size_t)n * 4);
  if (!x) return -1000;
  for (uint32_t i = 0; i < n; i++) x[i] = (float)(i % 1000);
  if ((rc = saxpy(k, x, n)) != 0) return rc;
  for (uint32_t i = 0; i < n; i++)
    if (x[i] != 2.0f * (float)(i % 1000) + 1.0f) bad++;
  free(x);
  return bad;
}
