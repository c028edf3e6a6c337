/* The native baseline: the same PTX as the guests, driven straight through
 * the CUDA driver table (src/gpu/driver.c's dlopen'ed pointers; no runtime,
 * no guest, no checks) — launch+sync latency of the empty kernel, async
 * issue rate, SGEMM time — and the cost of registering memfd-CoW memory
 * (DESIGN.md §3: 16 MiB in ~9.5 ms, unregister ~0.5 ms on the H100).
 * Prints key=value lines. TW_GPU_MOCK=1 runs it on the mock.
 *
 *   native_launch PTX_FILE [iters] [sgemm_n] [sgemm_reps]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gpu/gpu_int.h"

static const struct tw__cuda *cu;

#define CK(x)                                                               \
  do {                                                                      \
    CUresult r_ = (x);                                                      \
    if (r_ != CUDA_SUCCESS) {                                               \
      char m_[200];                                                         \
      tw__gpu_cuda_msg(cu, r_, m_, sizeof m_);                              \
      fprintf(stderr, "native_launch: %s: %s\n", #x, m_);                   \
      exit(1);                                                              \
    }                                                                       \
  } while (0)

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}
static double pct(uint64_t *v, size_t n, double p) {
  qsort(v, n, sizeof v[0], cmp_u64);
  size_t i = (size_t)(p * (double)(n - 1) + 0.5);
  return (double)v[i] / 1000.0;
}

static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *p = malloc((size_t)n + 1);
  if (p && fread(p, 1, (size_t)n, f) != (size_t)n) {
    free(p);
    p = NULL;
  }
  if (p) p[n] = '\0';
  fclose(f);
  return p;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: native_launch PTX [iters] [sgemm_n] [reps]\n");
    return 2;
  }
  size_t iters = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
  unsigned n = argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 1024;
  unsigned reps = argc > 4 ? (unsigned)strtoul(argv[4], NULL, 10) : 20;
  char err[256];
  cu = tw__gpu_driver(TW_GPU_BACKEND_AUTO, err, sizeof err);
  if (!cu) {
    fprintf(stderr, "native_launch: %s\n", err);
    return 1;
  }
  char *ptx = read_file(argv[1]);
  if (!ptx) {
    perror(argv[1]);
    return 1;
  }
  CUdevice dev;
  CUcontext ctx;
  CUmodule mod;
  CUfunction empty, sgemm;
  CUstream s;
  CK(cu->cuDeviceGet(&dev, 0));
  CK(cu->cuDevicePrimaryCtxRetain(&ctx, dev));
  CK(cu->cuCtxSetCurrent(ctx));
  CK(cu->cuModuleLoadDataEx(&mod, ptx, 0, NULL, NULL));
  CK(cu->cuModuleGetFunction(&empty, mod, "empty"));
  CK(cu->cuModuleGetFunction(&sgemm, mod, "sgemm_tiled"));
  CK(cu->cuStreamCreate(&s, 0));
  printf("native.backend=%s\n", cu->is_mock ? "mock" : "cuda");

  /* launch + sync of the empty kernel */
  uint64_t *t = calloc(iters, sizeof *t);
  for (size_t i = 0; i < 200; i++) {
    CK(cu->cuLaunchKernel(empty, 1, 1, 1, 1, 1, 1, 0, s, NULL, NULL));
    CK(cu->cuStreamSynchronize(s));
  }
  for (size_t i = 0; i < iters; i++) {
    uint64_t t0 = tw__now_ns();
    CK(cu->cuLaunchKernel(empty, 1, 1, 1, 1, 1, 1, 0, s, NULL, NULL));
    CK(cu->cuStreamSynchronize(s));
    t[i] = tw__now_ns() - t0;
  }
  printf("native.dispatch_p50_us=%.2f\n", pct(t, iters, 0.50));
  printf("native.dispatch_p99_us=%.2f\n", pct(t, iters, 0.99));
  free(t);

  /* async issue: iters launches, one sync */
  uint64_t t0 = tw__now_ns();
  for (size_t i = 0; i < iters; i++)
    CK(cu->cuLaunchKernel(empty, 1, 1, 1, 1, 1, 1, 0, s, NULL, NULL));
  CK(cu->cuStreamSynchronize(s));
  double secs = (double)(tw__now_ns() - t0) / 1e9;
  printf("native.issue_rate_per_s=%.0f\n", (double)iters / secs);

  /* SGEMM n x n on device buffers, same launch shape as the guest */
  size_t bytes = (size_t)n * n * 4;
  CUdeviceptr a, b, c;
  CK(cu->cuMemAlloc_v2(&a, bytes));
  CK(cu->cuMemAlloc_v2(&b, bytes));
  CK(cu->cuMemAlloc_v2(&c, bytes));
  CK(cu->cuMemsetD8_v2(a, 0, bytes));
  CK(cu->cuMemsetD8_v2(b, 0, bytes));
  void *params[6] = {&a, &b, &c, &n, &n, &n};
  unsigned g = (n + 15) / 16;
  CK(cu->cuLaunchKernel(sgemm, g, g, 1, 16, 16, 1, 0, s, params, NULL));
  CK(cu->cuStreamSynchronize(s));
  t0 = tw__now_ns();
  for (unsigned r = 0; r < reps; r++)
    CK(cu->cuLaunchKernel(sgemm, g, g, 1, 16, 16, 1, 0, s, params, NULL));
  CK(cu->cuStreamSynchronize(s));
  secs = (double)(tw__now_ns() - t0) / 1e9;
  printf("native.sgemm_n=%u\nnative.sgemm_gflops=%.1f\n", n,
         2.0 * n * n * (double)n * reps / secs / 1e9);
  cu->cuMemFree_v2(a);
  cu->cuMemFree_v2(b);
  cu->cuMemFree_v2(c);

  /* Registration cost of 16 MiB of memfd-CoW memory, 5 rounds (median). */
  size_t len = 16u << 20;
  int fd = memfd_create("tw-reg", MFD_CLOEXEC);
  if (fd < 0 || ftruncate(fd, (off_t)len) != 0) {
    perror("memfd");
    return 1;
  }
  double map_us[5], reg_ms[5], unreg_ms[5];
  for (int r = 0; r < 5; r++) {
    t0 = tw__now_ns();
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    map_us[r] = (double)(tw__now_ns() - t0) / 1e3;
    if (p == MAP_FAILED) {
      perror("mmap");
      return 1;
    }
    t0 = tw__now_ns();
    CK(cu->cuMemHostRegister_v2(
        p, len, CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_PORTABLE));
    reg_ms[r] = (double)(tw__now_ns() - t0) / 1e6;
    t0 = tw__now_ns();
    CK(cu->cuMemHostUnregister(p));
    unreg_ms[r] = (double)(tw__now_ns() - t0) / 1e6;
    munmap(p, len);
  }
  for (int i = 0; i < 5; i++)
    for (int j = i + 1; j < 5; j++) {
      double *v[3] = {map_us, reg_ms, unreg_ms};
      for (int k = 0; k < 3; k++)
        if (v[k][j] < v[k][i]) {
          double x = v[k][i];
          v[k][i] = v[k][j];
          v[k][j] = x;
        }
    }
  printf("native.cow_map_16mib_us=%.1f\n", map_us[2]);
  printf("native.register_16mib_ms=%.2f\n", reg_ms[2]);
  printf("native.unregister_16mib_ms=%.2f\n", unreg_ms[2]);
  close(fd);
  cu->cuStreamDestroy_v2(s);
  cu->cuModuleUnload(mod);
  cu->cuDevicePrimaryCtxRelease_v2(dev);
  free(ptx);
  return 0;
}
