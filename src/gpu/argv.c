/* Typed argv: a flat little-endian sequence of (tag u8, value) records
 * with no padding (byte table in docs/CUDA-KERNELS.md). Decoding checks
 * every record against the kernel's declared parameters before anything
 * reaches the driver: the count must match, and each value's size must
 * equal its parameter's size. Bounds of guest pointers and buffer handles
 * are checked by the caller (wasi_cuda.c), which knows the memory.
 */
#include <string.h>

#include "gpu/gpu_int.h"

static uint64_t rd_le(const uint8_t *p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
  return v;
}

static const char *tag_name(uint8_t tag) {
  switch (tag) {
  case TW_CUDA_ARG_I32: return "i32";
  case TW_CUDA_ARG_I64: return "i64";
  case TW_CUDA_ARG_F32: return "f32";
  case TW_CUDA_ARG_F64: return "f64";
  case TW_CUDA_ARG_U32: return "u32";
  case TW_CUDA_ARG_U64: return "u64";
  case TW_CUDA_ARG_GUEST_PTR: return "guest pointer";
  case TW_CUDA_ARG_BUFFER: return "device buffer";
  default: return "?";
  }
}

int tw__gpu_argv_decode(const uint8_t *argv, size_t len,
                        const struct tw__gpu_param *params, uint32_t nparams,
                        struct tw__gpu_arg *out, char *err, size_t errlen) {
  size_t at = 0;
  uint32_t n = 0;
  while (at < len) {
    uint8_t tag = argv[at];
    unsigned vlen; /* bytes of value in argv */
    unsigned psize; /* bytes the kernel receives */
    switch (tag) {
    case TW_CUDA_ARG_I32:
    case TW_CUDA_ARG_F32:
    case TW_CUDA_ARG_U32: vlen = 4; psize = 4; break;
    case TW_CUDA_ARG_I64:
    case TW_CUDA_ARG_F64:
    case TW_CUDA_ARG_U64: vlen = 8; psize = 8; break;
    case TW_CUDA_ARG_GUEST_PTR: vlen = 8; psize = 8; break;
    case TW_CUDA_ARG_BUFFER: vlen = 16; psize = 8; break;
    default:
      return tw__err(TW_CUDA_EARGV, err, errlen,
                     "argv record %u at byte %zu: unknown tag 0x%02x", n, at,
                     tag);
    }
    if (len - at - 1 < vlen)
      return tw__err(TW_CUDA_EARGV, err, errlen,
                     "argv record %u at byte %zu: truncated: tag 0x%02x (%s) "
                     "needs %u value bytes, %zu left",
                     n, at, tag, tag_name(tag), vlen, len - at - 1);
    if (n >= nparams)
      return tw__err(TW_CUDA_EARGV, err, errlen,
                     "argv record %u at byte %zu: the kernel takes only %u "
                     "parameter%s",
                     n, at, nparams, nparams == 1 ? "" : "s");
    if (params[n].size != psize)
      return tw__err(TW_CUDA_EARGV, err, errlen,
                     "argv record %u at byte %zu: %s (%u bytes) for "
                     "parameter %u of type %s (%u bytes)",
                     n, at, tag_name(tag), psize, n, params[n].type,
                     params[n].size);
    const uint8_t *v = argv + at + 1;
    out[n].tag = tag;
    out[n].at = (uint32_t)at;
    if (tag == TW_CUDA_ARG_GUEST_PTR) {
      out[n].a = rd_le(v, 4);
      out[n].b = rd_le(v + 4, 4);
    } else if (tag == TW_CUDA_ARG_BUFFER) {
      out[n].a = rd_le(v, 8);
      out[n].b = rd_le(v + 8, 8);
    } else {
      out[n].a = rd_le(v, vlen);
      out[n].b = 0;
    }
    n++;
    at += 1 + vlen;
  }
  if (n != nparams)
    return tw__err(TW_CUDA_EARGV, err, errlen,
                   "argv has %u record%s; the kernel takes %u parameter%s", n,
                   n == 1 ? "" : "s", nparams, nparams == 1 ? "" : "s");
  return 0;
}
