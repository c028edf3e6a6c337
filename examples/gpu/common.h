/* Shared by the example guests: the embedded PTX, kernel loading with the
 * host's message on failure, and a tiny exported error buffer. */
#ifndef GPU_EXAMPLE_COMMON_H
#define GPU_EXAMPLE_COMMON_H

#include "kernels/kernels_ptx.h"
#include "wasi_cuda.h"

/* The host's last message, readable by the embedder via last_error(). */
static char g_err[1024];
__attribute__((export_name("last_error"))) char *last_error(void) {
  int32_t n = wasi_cuda_last_error_len();
  if (n < 0) n = 0;
  if (n > (int32_t)sizeof g_err - 1) n = sizeof g_err - 1;
  n = wasi_cuda_last_error_copy(g_err, (uint32_t)n);
  g_err[n > 0 ? n : 0] = '\0';
  return g_err;
}

static int32_t load_kernel(const char *entry) {
  int64_t k = wasi_cuda_load_ptx(tw_kernels_ptx, tw_kernels_ptx_len, entry,
                                 (uint32_t)strlen(entry));
  return k < 0 ? (int32_t)k : (int32_t)k;
}

#endif
