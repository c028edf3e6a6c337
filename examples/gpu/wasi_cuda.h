/* wasi:cuda/host@0.2.0 for C guests (wasm32-wasi): the imports and small
 * helpers that build typed argv (docs/CUDA-KERNELS.md has the byte table).
 */
#ifndef WASI_CUDA_H
#define WASI_CUDA_H

#include <stdint.h>
#include <string.h>

#define WASI_CUDA_IMPORT(name)                                              \
  __attribute__((import_module("wasi:cuda/host@0.2.0"), import_name(name)))

WASI_CUDA_IMPORT("wasi_cuda_load_ptx")
int64_t wasi_cuda_load_ptx(const char *ptx, uint32_t ptx_len,
                           const char *entry, uint32_t entry_len);
WASI_CUDA_IMPORT("wasi_cuda_launch")
int32_t wasi_cuda_launch(int32_t kernel, uint32_t gx, uint32_t gy,
                         uint32_t gz, uint32_t bx, uint32_t by, uint32_t bz,
                         uint32_t shared_mem, const uint8_t *argv,
                         uint32_t argv_len);
WASI_CUDA_IMPORT("wasi_cuda_sync") int32_t wasi_cuda_sync(void);
WASI_CUDA_IMPORT("wasi_cuda_last_error_len")
int32_t wasi_cuda_last_error_len(void);
WASI_CUDA_IMPORT("wasi_cuda_last_error_copy")
int32_t wasi_cuda_last_error_copy(char *buf, uint32_t len);
WASI_CUDA_IMPORT("wasi_cuda_alloc") int64_t wasi_cuda_alloc(uint64_t size);
WASI_CUDA_IMPORT("wasi_cuda_free") int32_t wasi_cuda_free(int64_t buf);
WASI_CUDA_IMPORT("wasi_cuda_copy_in")
int32_t wasi_cuda_copy_in(int64_t buf, uint64_t offset, const void *src,
                          uint32_t len);
WASI_CUDA_IMPORT("wasi_cuda_copy_out")
int32_t wasi_cuda_copy_out(int64_t buf, uint64_t offset, void *dst,
                           uint32_t len);

/* Typed argv builder. */
struct cuda_argv {
  uint8_t b[512];
  uint32_t n;
};
static inline void argv_put(struct cuda_argv *a, uint8_t tag, uint64_t v,
                            unsigned bytes) {
  a->b[a->n++] = tag;
  for (unsigned i = 0; i < bytes; i++) a->b[a->n++] = (uint8_t)(v >> (8 * i));
}
static inline void argv_u32(struct cuda_argv *a, uint32_t v) {
  argv_put(a, 0x05, v, 4);
}
static inline void argv_u64(struct cuda_argv *a, uint64_t v) {
  argv_put(a, 0x06, v, 8);
}
static inline void argv_f32(struct cuda_argv *a, float f) {
  uint32_t v;
  memcpy(&v, &f, 4);
  argv_put(a, 0x03, v, 4);
}
/* A pointer into this guest's memory (zero-copy). */
static inline void argv_ptr(struct cuda_argv *a, const void *p, uint32_t len) {
  uint32_t off = (uint32_t)(uintptr_t)p;
  a->b[a->n++] = 0x07;
  for (unsigned i = 0; i < 4; i++) a->b[a->n++] = (uint8_t)(off >> (8 * i));
  for (unsigned i = 0; i < 4; i++) a->b[a->n++] = (uint8_t)(len >> (8 * i));
}
/* A device buffer handle plus byte offset. */
static inline void argv_buf(struct cuda_argv *a, int64_t buf, uint64_t off) {
  argv_put(a, 0x08, (uint64_t)buf, 8);
  for (unsigned i = 0; i < 8; i++) a->b[a->n++] = (uint8_t)(off >> (8 * i));
}

#endif
