/* Native harness of the CPU benchmarks: linked with one program built by
 * gcc -O2, calls run(n) once and prints {"result":R,"call_ms":T} on
 * stdout, where T times only the call (CLOCK_MONOTONIC), as the Wasm
 * runners do. Usage: NAME N
 */
#define _POSIX_C_SOURCE 199309L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int64_t run(int32_t n);

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s N\n", argv[0]);
    return 2;
  }
  char *end;
  long n = strtol(argv[1], &end, 10);
  if (*end != '\0' || n < 0 || n > INT32_MAX) {
    fprintf(stderr, "%s: N must be an integer in 0..2147483647\n", argv[0]);
    return 2;
  }
  double t0 = now_ms();
  int64_t r = run((int32_t)n);
  double t1 = now_ms();
  printf("{\"result\":%" PRId64 ",\"call_ms\":%.3f}\n", r, t1 - t0);
  return 0;
}
