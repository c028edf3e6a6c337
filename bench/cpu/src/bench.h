/* Shared helpers of the CPU benchmark programs: fixed-width types and a
 * small deterministic PRNG (xorshift32 / splitmix64), so every engine
 * sees exactly the same input. Everything is static inline: each program
 * is one translation unit, built both for wasm32-wasi and natively.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The one entry point every program exports: does work scaled by n and
 * returns a checksum that depends on all of it. */
int64_t run(int32_t n);

static inline uint32_t xs32(uint32_t *s) {
  uint32_t x = *s;
  x ^= x << 13;
  x ^= x >> 17;
  x ^= x << 5;
  return *s = x;
}

static inline uint64_t sm64(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* The IEEE bit pattern of a double: checksums over floats compare bits,
 * so any rounding difference between engines shows as a mismatch. */
static inline uint64_t f64_bits(double d) {
  uint64_t u;
  memcpy(&u, &d, sizeof u);
  return u;
}

#endif
