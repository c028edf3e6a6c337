/* The benchmark guest (bench/gpu/gpu_bench runs it in-process): dispatch
 * latency of the empty kernel, async issue rate, zero-copy vs device
 * buffer bandwidth, SGEMM timing. It imports tw:bench now_ns (a clock the
 * bench harness provides) to time from inside the guest. */
#include "common.h"

__attribute__((import_module("tw:bench"), import_name("now_ns")))
int64_t now_ns(void);

#define MAX_ITERS 20000
static uint32_t times[MAX_ITERS];

/* launch+sync of the empty kernel, iters times; per-iteration ns go to
 * times[] (address returned). */
__attribute__((export_name("dispatch"))) uint32_t *dispatch(uint32_t iters) {
  if (iters > MAX_ITERS) iters = MAX_ITERS;
  int32_t k = load_kernel("empty");
  if (k < 0) return 0;
  for (uint32_t i = 0; i < iters; i++) {
    int64_t t0 = now_ns();
    if (wasi_cuda_launch(k, 1, 1, 1, 1, 1, 1, 0, 0, 0) ||
        wasi_cuda_sync())
      return 0;
    times[i] = (uint32_t)(now_ns() - t0);
  }
  return times;
}

/* iters async launches of the empty kernel then one sync: ns total. */
__attribute__((export_name("issue"))) int64_t issue(uint32_t iters) {
  int32_t k = load_kernel("empty");
  if (k < 0) return k;
  int64_t t0 = now_ns();
  for (uint32_t i = 0; i < iters; i++)
    if (wasi_cuda_launch(k, 1, 1, 1, 1, 1, 1, 0, 0, 0)) return -1;
  int32_t rc = wasi_cuda_sync();
  return rc ? rc : now_ns() - t0;
}

#define BW_MAX (32u << 20) /* floats: 128 MiB */
static float bw_data[BW_MAX / 8]; /* 16 MiB in the data segment */

/* saxpy over n floats, reps times: mode 0 on guest memory (zero-copy),
 * mode 1 on a device buffer. Returns ns for the reps (after one warm-up
 * launch). */
__attribute__((export_name("bandwidth")))
int64_t bandwidth(uint32_t n, uint32_t mode, uint32_t reps) {
  if (n > BW_MAX / 8) n = BW_MAX / 8;
  int32_t k = load_kernel("saxpy_inplace");
  if (k < 0) return k;
  struct cuda_argv av = {.n = 0};
  int64_t buf = -1;
  if (mode == 0) {
    argv_ptr(&av, bw_data, n * 4);
  } else {
    buf = wasi_cuda_alloc((uint64_t)n * 4);
    if (buf < 0) return buf;
    argv_buf(&av, buf, 0);
  }
  argv_u32(&av, n);
  argv_f32(&av, 1.0f);
  argv_f32(&av, 0.0f);
  int32_t rc = wasi_cuda_launch(k, (n + 255) / 256, 1, 1, 256, 1, 1, 0, av.b,
                                av.n);
  if (rc || (rc = wasi_cuda_sync())) return rc;
  int64_t t0 = now_ns();
  for (uint32_t r = 0; r < reps; r++)
    if ((rc = wasi_cuda_launch(k, (n + 255) / 256, 1, 1, 256, 1, 1, 0, av.b,
                               av.n)))
      return rc;
  if ((rc = wasi_cuda_sync())) return rc;
  int64_t t = now_ns() - t0;
  if (buf >= 0) wasi_cuda_free(buf);
  return t;
}

/* SGEMM n x n on device buffers (random data), reps launches after one
 * warm-up: ns for the reps. */
__attribute__((export_name("sgemm"))) int64_t sgemm(uint32_t n, uint32_t reps) {
  int32_t k = load_kernel("sgemm_tiled");
  if (k < 0) return k;
  uint64_t bytes = (uint64_t)n * n * 4;
  int64_t da = wasi_cuda_alloc(bytes), db = wasi_cuda_alloc(bytes),
          dc = wasi_cuda_alloc(bytes);
  if (da < 0 || db < 0 || dc < 0) return -7;
  struct cuda_argv av = {.n = 0};
  argv_buf(&av, da, 0);
  argv_buf(&av, db, 0);
  argv_buf(&av, dc, 0);
  argv_u32(&av, n);
  argv_u32(&av, n);
  argv_u32(&av, n);
  int32_t rc = wasi_cuda_launch(k, (n + 15) / 16, (n + 15) / 16, 1, 16, 16, 1,
                                0, av.b, av.n);
  if (rc || (rc = wasi_cuda_sync())) return rc;
  int64_t t0 = now_ns();
  for (uint32_t r = 0; r < reps; r++)
    if ((rc = wasi_cuda_launch(k, (n + 15) / 16, (n + 15) / 16, 1, 16, 16, 1,
                               0, av.b, av.n)))
      return rc;
  if ((rc = wasi_cuda_sync())) return rc;
  int64_t t = now_ns() - t0;
  wasi_cuda_free(da);
  wasi_cuda_free(db);
  wasi_cuda_free(dc);
  return t;
}
