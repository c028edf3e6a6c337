/* Tiled SGEMM on device buffers: C = A * B (n x n), checked against a CPU
 * reference by relative error. run(n, reps) returns the max relative
 * error times 1e6 (as i32; small is good) or a negative error code. */
#include "common.h"

#define MAX_N 1024
static float A[MAX_N * MAX_N], B[MAX_N * MAX_N], C[MAX_N * MAX_N];

static uint32_t seed = 12345;
static float rnd(void) {
  seed = seed * 1664525u + 1013904223u;
  return (float)(seed >> 8) / 16777216.0f - 0.5f;
}

__attribute__((export_name("run"))) int32_t run(uint32_t n, uint32_t reps) {
  if (n > MAX_N) n = MAX_N;
  if (reps == 0) reps = 1;
  uint32_t bytes = n * n * 4;
  for (uint32_t i = 0; i < n * n; i++) {
    A[i] = rnd();
    B[i] = rnd();
  }
  int32_t k = load_kernel("sgemm_tiled");
  if (k < 0) return k;
  int64_t da = wasi_cuda_alloc(bytes), db = wasi_cuda_alloc(bytes),
          dc = wasi_cuda_alloc(bytes);
  if (da < 0) return (int32_t)da;
  if (db < 0) return (int32_t)db;
  if (dc < 0) return (int32_t)dc;
  int32_t rc;
  if ((rc = wasi_cuda_copy_in(da, 0, A, bytes)) != 0) return rc;
  if ((rc = wasi_cuda_copy_in(db, 0, B, bytes)) != 0) return rc;
  /* Poison the output with NaN: a kernel that leaves elements unwritten
   * (or a buffer still holding an earlier run's result) must fail. */
  for (uint32_t i = 0; i < n * n; i++) C[i] = __builtin_nanf("");
  if ((rc = wasi_cuda_copy_in(dc, 0, C, bytes)) != 0) return rc;
  struct cuda_argv av = {.n = 0};
  argv_buf(&av, da, 0);
  argv_buf(&av, db, 0);
  argv_buf(&av, dc, 0);
  argv_u32(&av, n);
  argv_u32(&av, n);
  argv_u32(&av, n);
  for (uint32_t r = 0; r < reps; r++)
    if ((rc = wasi_cuda_launch(k, (n + 15) / 16, (n + 15) / 16, 1, 16, 16, 1,
                               0, av.b, av.n)) != 0)
      return rc;
  if ((rc = wasi_cuda_sync()) != 0) return rc;
  if ((rc = wasi_cuda_copy_out(dc, 0, C, bytes)) != 0) return rc;
  wasi_cuda_free(da);
  wasi_cuda_free(db);
  wasi_cuda_free(dc);
  /* CPU reference on a sample of rows (all of them for small n). */
  float worst = 0.0f;
  uint32_t step = n > 128 ? n / 64 : 1;
  for (uint32_t i = 0; i < n; i += step)
    for (uint32_t j = 0; j < n; j++) {
      float s = 0.0f, mag = 0.0f;
      for (uint32_t q = 0; q < n; q++) {
        s += A[i * n + q] * B[q * n + j];
        float t = A[i * n + q] * B[q * n + j];
        mag += t < 0 ? -t : t;
      }
      float d = C[i * n + j] - s;
      if (d < 0) d = -d;
      float rel = d / (mag > 1e-20f ? mag : 1e-20f);
      /* NaN compares false with everything: score it (and anything
       * absurd) as the worst error, so it cannot pass. */
      if (!(rel <= 1.0f)) rel = 1.0f;
      if (rel > worst) worst = rel;
    }
  return (int32_t)(worst * 1e6f);
}
