/* A tight integer loop: one serial chain of multiply/add/xor/shift per
 * iteration on 32-bit values, n iterations (n = 500M in the suite). Tests
 * the loop overhead an engine adds (back-edge checks, bounds of nothing). */
#include "bench.h"

int64_t run(int32_t n) {
  uint32_t a = 1, b = 2, c = 3;
  for (int32_t i = 0; i < n; i++) {
    a = a * 1664525u + 1013904223u;
    b ^= a >> 13;
    c += (b << 3) ^ (uint32_t)i;
  }
  return (int64_t)(((uint64_t)(a ^ c) << 32) | b);
}
