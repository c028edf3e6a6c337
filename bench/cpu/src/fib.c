/* Doubly recursive Fibonacci: call overhead (entry checks, stack-depth
 * checks, argument passing) dominates. Checksum: fib(n) itself. */
#include "bench.h"

static int32_t fib(int32_t k) { return k < 2 ? k : fib(k - 1) + fib(k - 2); }

int64_t run(int32_t n) { return fib(n); }
