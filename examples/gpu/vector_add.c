/* vector_add over guest memory (zero-copy pointers): c[i] = a[i] + b[i],
 * checked on every element. run(n) returns the number of mismatches (0),
 * or a negative wasi:cuda error code. */
#include "common.h"

#define MAX_N (1u << 20)
static float a[MAX_N], b[MAX_N], c[MAX_N];

__attribute__((export_name("run"))) int32_t run(uint32_t n) {
  if (n > MAX_N) n = MAX_N;
  for (uint32_t i = 0; i < n; i++) {
    a[i] = (float)i * 0.5f;
    b[i] = (float)(n - i) * 0.25f;
    c[i] = -1.0f;
  }
  int32_t k = load_kernel("vector_add");
  if (k < 0) return k;
  struct cuda_argv av = {.n = 0};
  argv_ptr(&av, a, n * 4);
  argv_ptr(&av, b, n * 4);
  argv_ptr(&av, c, n * 4);
  argv_u32(&av, n);
  int32_t rc = wasi_cuda_launch(k, (n + 255) / 256, 1, 1, 256, 1, 1, 0, av.b,
                                av.n);
  if (rc) return rc;
  if ((rc = wasi_cuda_sync()) != 0) return rc;
  int32_t bad = 0;
  for (uint32_t i = 0; i < n; i++)
    if (c[i] != a[i] + b[i]) bad++;
  return bad;
}
