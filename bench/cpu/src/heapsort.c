/* Heapsort (sift-down, in place) of n PRNG ints, then a check that the
 * result is sorted. Branchy, cache-unfriendly: tests loads/stores and
 * bounds handling. Checksum: position-weighted sum of the sorted array. */
#include "bench.h"

static void sift_down(int32_t *a, size_t root, size_t end) {
  int32_t v = a[root];
  for (;;) {
    size_t child = 2 * root + 1;
    if (child >= end) break;
    if (child + 1 < end && a[child + 1] > a[child]) child++;
    if (a[child] <= v) break;
    a[root] = a[child];
    root = child;
  }
  a[root] = v;
}

int64_t run(int32_t n) {
  size_t len = (size_t)n;
  int32_t *a = malloc(len * sizeof *a);
  if (!a) return -1;
  uint32_t s = 2463534242u;
  for (size_t i = 0; i < len; i++) a[i] = (int32_t)xs32(&s);
  for (size_t i = len / 2; i-- > 0;) sift_down(a, i, len);
  for (size_t end = len; end > 1; end--) {
    int32_t t = a[0];
    a[0] = a[end - 1];
    a[end - 1] = t;
    sift_down(a, 0, end - 1);
  }
  uint64_t sum = 0;
  for (size_t i = 0; i < len; i++) {
    if (i > 0 && a[i - 1] > a[i]) {
      free(a);
      return -2; /* not sorted */
    }
    sum += (uint64_t)(i + 1) * (uint32_t)a[i];
  }
  free(a);
  return (int64_t)sum;
}
