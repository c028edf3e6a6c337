/* The isolation guest: run by two tenants' workers at once. A tenant's
 * secret lives in a device buffer; the other tenant tries to read and
 * overwrite it by address, and to allocate past its quota. */
#include "common.h"

#define WORDS 1024
static uint32_t words[WORDS];
static uint64_t addr_out;

static int64_t fill_buffer(uint32_t pattern) {
  int64_t buf = wasi_cuda_alloc(WORDS * 4);
  if (buf < 0) return buf;
  for (uint32_t i = 0; i < WORDS; i++) words[i] = pattern;
  int32_t rc = wasi_cuda_copy_in(buf, 0, words, WORDS * 4);
  return rc ? rc : buf;
}

/* Device address of a fresh buffer holding `pattern` (learnt through the
 * leak_addr kernel: guests never see addresses otherwise). */
__attribute__((export_name("leak"))) int64_t leak(uint32_t pattern) {
  int32_t k = load_kernel("leak_addr");
  if (k < 0) return k;
  int64_t buf = fill_buffer(pattern);
  if (buf < 0) return buf;
  struct cuda_argv av = {.n = 0};
  argv_buf(&av, buf, 0);
  argv_ptr(&av, &addr_out, 8);
  int32_t rc = wasi_cuda_launch(k, 1, 1, 1, 1, 1, 1, 0, av.b, av.n);
  if (rc || (rc = wasi_cuda_sync())) return rc;
  return (int64_t)addr_out;
}

/* Keeps `pattern` in a buffer while running iters launch+sync rounds,
 * then checks it: returns the number of words changed (0), or an error. */
__attribute__((export_name("hold"))) int64_t hold(uint32_t pattern,
                                                  uint32_t iters) {
  int32_t k = load_kernel("empty");
  if (k < 0) return k;
  int64_t buf = fill_buffer(pattern);
  if (buf < 0) return buf;
  for (uint32_t i = 0; i < iters; i++) {
    int32_t rc = wasi_cuda_launch(k, 1, 1, 1, 1, 1, 1, 0, 0, 0);
    if (rc || (rc = wasi_cuda_sync())) return rc;
  }
  for (uint32_t i = 0; i < WORDS; i++) words[i] = 0;
  int32_t rc = wasi_cuda_copy_out(buf, 0, words, WORDS * 4);
  if (rc) return rc;
  int64_t bad = 0;
  for (uint32_t i = 0; i < WORDS; i++) bad += words[i] != pattern;
  return bad;
}

/* Reads the word at a device address (its own buffer sits there first,
 * filled with 0xA5A5A5A5). Returns the word, or a negative error. */
__attribute__((export_name("wild_read"))) int64_t wild_read(int64_t addr) {
  int32_t k = load_kernel("wild_read");
  if (k < 0) return k;
  int64_t own = fill_buffer(0xA5A5A5A5u);
  if (own < 0) return own;
  static uint32_t out;
  out = 0;
  struct cuda_argv av = {.n = 0};
  argv_u64(&av, (uint64_t)addr);
  argv_ptr(&av, &out, 4);
  int32_t rc = wasi_cuda_launch(k, 1, 1, 1, 1, 1, 1, 0, av.b, av.n);
  if (rc || (rc = wasi_cuda_sync())) return rc;
  return out;
}

/* Writes 0xDEADBEEF at a device address (a fault unless it is ours). */
__attribute__((export_name("wild_write"))) int32_t wild_write(int64_t addr) {
  int32_t k = load_kernel("wild_write");
  if (k < 0) return k;
  struct cuda_argv av = {.n = 0};
  argv_u64(&av, (uint64_t)addr);
  argv_u32(&av, 0xDEADBEEFu);
  int32_t rc = wasi_cuda_launch(k, 1, 1, 1, 1, 1, 1, 0, av.b, av.n);
  return rc ? rc : wasi_cuda_sync();
}

/* Allocates `mib` MiB of device memory: 0, or the error (quota: -7). */
__attribute__((export_name("hog"))) int32_t hog(uint32_t mib) {
  int64_t b = wasi_cuda_alloc((uint64_t)mib << 20);
  return b < 0 ? (int32_t)b : 0;
}
