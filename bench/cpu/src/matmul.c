/* Dense f64 matrix multiply C = A * B of n x n matrices (i-k-j order, so
 * the inner loop streams rows), inputs from a PRNG. The checksum hashes
 * the bit patterns of C: every engine must round exactly like native. */
#include "bench.h"

int64_t run(int32_t n) {
  size_t nn = (size_t)n * (size_t)n;
  double *a = malloc(nn * sizeof *a);
  double *b = malloc(nn * sizeof *b);
  double *c = calloc(nn, sizeof *c);
  if (!a || !b || !c) return -1;
  uint32_t s = 12345;
  for (size_t i = 0; i < nn; i++) a[i] = (double)(xs32(&s) % 2001) / 1000.0 - 1.0;
  for (size_t i = 0; i < nn; i++) b[i] = (double)(xs32(&s) % 2001) / 1000.0 - 1.0;
  for (int32_t i = 0; i < n; i++) {
    double *ci = c + (size_t)i * n;
    for (int32_t k = 0; k < n; k++) {
      double aik = a[(size_t)i * n + k];
      const double *bk = b + (size_t)k * n;
      for (int32_t j = 0; j < n; j++) ci[j] += aik * bk[j];
    }
  }
  uint64_t h = 0;
  for (size_t i = 0; i < nn; i++) h = h * 1099511628211ull + f64_bits(c[i]);
  free(c);
  free(b);
  free(a);
  return (int64_t)h;
}
