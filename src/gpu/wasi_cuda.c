/* The wasi:cuda/host@0.2.0 host functions (docs/CUDA-KERNELS.md). Every
 * guest pointer, length, id and dimension is checked before anything
 * reaches the driver; a bad one returns a negative TW_CUDA_E* code and
 * leaves a message for wasi_cuda_last_error_*, never a launch. Kernel ids
 * and buffer handles carry their instance's serial, so an id from another
 * instance is refused. Guest memory is pinned lazily, on the first launch
 * that passes a guest pointer, one range per growth of the memory.
 */
#include <stdio.h>
#include <string.h>

#include "gpu/gpu_int.h"

#define CUDA_MODULE "wasi:cuda/host@0.2.0"
#define MAX_ERROR_BYTES 16384

const char *tw__cuda_strerror(int code) {
  switch (code) {
#define TW_CUDA_ERR_CASE_(name, value, msg)                                 \
  case value:                                                               \
    return msg;
    TW_CUDA_ERRORS(TW_CUDA_ERR_CASE_)
#undef TW_CUDA_ERR_CASE_
  default:
    return "unknown error";
  }
}

/* Keeps msg as the instance's last error; returns code. */
static int fail(struct tw__gpu_inst *gi, int code, const char *msg) {
  size_t n = strnlen(msg, MAX_ERROR_BYTES);
  char *p = tw__realloc(gi->last_error, n + 1);
  if (p) {
    memcpy(p, msg, n);
    p[n] = '\0';
    gi->last_error = p;
    gi->last_error_len = n;
  }
  return code;
}

static int ok(struct tw__gpu_inst *gi) {
  gi->last_error_len = 0;
  return 0;
}

/* Checks [ptr, ptr+len) against guest memory; its address or NULL. */
static uint8_t *guest_range(tw_caller_t *caller, uint64_t ptr, uint64_t len) {
  uint64_t size = 0;
  uint8_t *base = tw_caller_memory(caller, &size);
  if (!base || ptr > size || len > size - ptr) return NULL;
  return base + ptr;
}

static int setup(tw_gpu_t *gpu, struct tw__gpu_inst *gi, char *err,
                 size_t errlen) {
  if (tw__gpu_make_current(gpu) != 0)
    return tw__err(TW_CUDA_EDEVICE, err, errlen,
                   "cannot make the GPU context current");
  if (tw_gpu_poisoned(gpu))
    return tw__err(TW_CUDA_ELOST, err, errlen,
                   "the GPU context is lost after an earlier fault (%s); "
                   "this tenant's worker restarts",
                   gpu->poison_msg);
  if (!gi->stream) {
    /* A blocking stream: the synchronous copies of copy_in/copy_out on
     * the legacy stream wait for its kernels. */
    CUresult r = gpu->cu->cuStreamCreate(&gi->stream, 0);
    if (r != CUDA_SUCCESS) {
      gi->stream = NULL;
      return tw__gpu_fail(gpu, r, "cuStreamCreate", err, errlen);
    }
  }
  return 0;
}

/* Common prologue: the instance's state, a current context, a stream. */
#define PROLOGUE(RES)                                                          \
  tw_gpu_t *gpu = user;                                                     \
  char err[1024];                                                           \
  struct tw__gpu_inst *gi =                                                 \
      tw__gpu_inst_get(gpu, tw_caller_instance(caller));                    \
  if (!gi) return tw_caller_trap(caller, "wasi:cuda: out of host memory");  \
  int rc_ = setup(gpu, gi, err, sizeof err);                                \
  if (rc_) {                                                                \
    results[0] = RES(rc_);                                                  \
    fail(gi, rc_, err);                                                     \
    return 0;                                                               \
  }

/* Result values: wasi_cuda_load_ptx and wasi_cuda_alloc return i64, the
 * others i32. */
static tw_val_t res_i32(int32_t v) {
  tw_val_t r;
  memset(&r, 0, sizeof r);
  r.type = TW_I32;
  r.of.i32 = (uint32_t)v;
  return r;
}
static tw_val_t res_i64(int64_t v) {
  tw_val_t r;
  memset(&r, 0, sizeof r);
  r.type = TW_I64;
  r.of.i64 = (uint64_t)v;
  return r;
}

/* ---- wasi_cuda_load_ptx(ptx_ptr, ptx_len, entry_ptr, entry_len) -> i64 */

static int h_load_ptx(tw_caller_t *caller, void *user, const tw_val_t *args,
                      tw_val_t *results) {
  PROLOGUE(res_i64);
  uint32_t ptx_ptr = args[0].of.i32, ptx_len = args[1].of.i32;
  uint32_t entry_ptr = args[2].of.i32, entry_len = args[3].of.i32;
  int rc = 0;
  if (ptx_len > gpu->cfg.max_ptx_bytes) {
    snprintf(err, sizeof err,
             "PTX is %u bytes; the limit is %u bytes per call", ptx_len,
             gpu->cfg.max_ptx_bytes);
    rc = TW_CUDA_ELIMIT;
  } else if (ptx_len == 0) {
    snprintf(err, sizeof err, "empty PTX");
    rc = TW_CUDA_EPTX;
  } else if (entry_len == 0 || entry_len > 255) {
    snprintf(err, sizeof err, "entry name of %u bytes (1 to 255 allowed)",
             entry_len);
    rc = TW_CUDA_EINVAL;
  }
  const uint8_t *ptx = NULL, *entry = NULL;
  if (!rc && !(ptx = guest_range(caller, ptx_ptr, ptx_len))) {
    snprintf(err, sizeof err,
             "PTX [%u, %u+%u) is outside guest memory", ptx_ptr, ptx_ptr,
             ptx_len);
    rc = TW_CUDA_EBOUNDS;
  }
  if (!rc && !(entry = guest_range(caller, entry_ptr, entry_len))) {
    snprintf(err, sizeof err,
             "entry name [%u, %u+%u) is outside guest memory", entry_ptr,
             entry_ptr, entry_len);
    rc = TW_CUDA_EBOUNDS;
  }
  char name[256];
  if (!rc) {
    memcpy(name, entry, entry_len);
    name[entry_len] = '\0';
    if (!tw__gpu_ptx_ident(name, entry_len)) {
      snprintf(err, sizeof err, "entry name is not a PTX identifier");
      rc = TW_CUDA_EINVAL;
    }
  }
  if (!rc && gi->nkernels >= gpu->cfg.max_kernels) {
    snprintf(err, sizeof err,
             "this instance has loaded %u kernels, the limit over its life",
             gpu->cfg.max_kernels);
    rc = TW_CUDA_ELIMIT;
  }
  struct tw__gpu_kernel *k = NULL;
  if (!rc && !(k = tw__calloc(1, sizeof *k))) {
    snprintf(err, sizeof err, "out of host memory");
    rc = TW_CUDA_ELIMIT;
  }
  if (!rc) {
    /* Parameters first: the message names the entries when it is
     * missing, and unsupported parameter kinds are refused before the
     * (costly) JIT. */
    int prc = tw__gpu_ptx_entry((const char *)ptx, ptx_len, name, k->params,
                                &k->nparams, err, sizeof err);
    if (prc)
      rc = prc == TW_ENOTFOUND ? TW_CUDA_ENOTFOUND
           : prc == TW_EUNSUPPORTED ? TW_CUDA_EARGV
                                    : TW_CUDA_EPTX;
  }
  if (!rc)
    rc = tw__gpu_module_get(gpu, (const char *)ptx, ptx_len, &k->mod, err,
                            sizeof err);
  if (!rc) {
    CUresult r = gpu->cu->cuModuleGetFunction(&k->fn, k->mod->mod, name);
    if (r == CUDA_ERROR_NOT_FOUND) {
      snprintf(err, sizeof err, "the compiled PTX has no entry '%s'", name);
      rc = TW_CUDA_ENOTFOUND;
    } else if (r != CUDA_SUCCESS) {
      rc = tw__gpu_fail(gpu, r, "cuModuleGetFunction", err, sizeof err);
    }
    if (rc) tw__gpu_module_put(gpu, k->mod);
  }
  if (!rc) {
    const struct tw__cuda *cu = gpu->cu;
    if (cu->cuFuncGetAttribute(&k->max_threads,
                               CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
                               k->fn) != CUDA_SUCCESS)
      k->max_threads = gpu->lim_threads;
    if (cu->cuFuncGetAttribute(&k->static_shared,
                               CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES,
                               k->fn) != CUDA_SUCCESS)
      k->static_shared = 0;
    if (cu->cuFuncGetAttribute(&k->dyn_shared_max,
                               CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES,
                               k->fn) != CUDA_SUCCESS)
      k->dyn_shared_max = gpu->lim_shared - k->static_shared;
    /* Cross-check our reading of the signature with the driver's, where
     * it can tell: a mismatch would make the driver read past argv. */
    if (cu->cuFuncGetParamInfo) {
      size_t off, size;
      uint32_t n = 0;
      while (n <= TW__GPU_MAX_PARAMS &&
             cu->cuFuncGetParamInfo(k->fn, n, &off, &size) == CUDA_SUCCESS) {
        if (n >= k->nparams || size != k->params[n].size) break;
        n++;
      }
      if (n != k->nparams ||
          cu->cuFuncGetParamInfo(k->fn, n, &off, &size) == CUDA_SUCCESS) {
        snprintf(err, sizeof err,
                 "cannot establish the parameters of '%s' (PTX and driver "
                 "disagree)",
                 name);
        rc = TW_CUDA_EPTX;
        tw__gpu_module_put(gpu, k->mod);
      }
    }
  }
  if (rc) {
    tw__free(k);
    results[0] = res_i64(rc);
    fail(gi, rc, err);
    return 0;
  }
  snprintf(k->name, sizeof k->name, "%.63s", name);
  uint32_t idx = gi->nkernels++;
  gi->kernels[idx] = k;
  results[0] = res_i64((int64_t)(((uint64_t)gi->serial << 8) | idx));
  ok(gi);
  return 0;
}

/* ---- zero-copy ---- */

/* Pins the committed guest memory not pinned yet (one new range). */
static int ensure_pinned(tw_gpu_t *gpu, struct tw__gpu_inst *gi,
                         uint8_t *base, uint64_t size, char *err,
                         size_t errlen) {
  if (!gpu->cfg.zero_copy)
    return tw__err(TW_CUDA_EINVAL, err, errlen,
                   "guest pointers are disabled on this host (zero_copy = "
                   "0): use device buffers");
  if (gi->mem_base != base || size < gi->registered_len) {
    /* Another memory, or one remapped smaller: start over. */
    tw__gpu_inst_unpin(gpu, gi);
    gi->mem_base = base;
  }
  if (size == gi->registered_len) return 0;
  if (gi->nranges == TW__GPU_MAX_RANGES) {
    tw__gpu_inst_unpin(gpu, gi);
    gi->mem_base = base;
  }
  uint64_t off = gi->registered_len, len = size - off;
  int rc = tw__gpu_charge(gpu, len, &gpu->st.pinned_bytes,
                          "pinning guest memory", err, errlen);
  if (rc) return rc;
  const struct tw__cuda *cu = gpu->cu;
  CUresult r = cu->cuMemHostRegister_v2(
      base + off, len, CU_MEMHOSTREGISTER_DEVICEMAP | CU_MEMHOSTREGISTER_PORTABLE);
  CUdeviceptr dptr = 0;
  if (r == CUDA_SUCCESS) {
    r = cu->cuMemHostGetDevicePointer_v2(&dptr, base + off, 0);
    if (r != CUDA_SUCCESS) cu->cuMemHostUnregister(base + off);
  }
  if (r != CUDA_SUCCESS) {
    tw__gpu_uncharge(gpu, len, &gpu->st.pinned_bytes);
    if (r == CUDA_ERROR_OUT_OF_MEMORY) {
      char msg[128];
      snprintf(msg, sizeof msg, "cannot pin %llu bytes of guest memory",
               (unsigned long long)len);
      tw__gpu_note_refusal(gpu, msg);
      return tw__err(TW_CUDA_EQUOTA, err, errlen, "%s", msg);
    }
    return tw__gpu_fail(gpu, r, "cuMemHostRegister", err, errlen);
  }
  gi->ranges[gi->nranges].off = off;
  gi->ranges[gi->nranges].len = len;
  gi->ranges[gi->nranges].dptr = dptr;
  gi->nranges++;
  gi->registered_len = size;
  pthread_mutex_lock(&gpu->mu);
  gpu->st.registrations++;
  pthread_mutex_unlock(&gpu->mu);
  return 0;
}

/* Device address of guest bytes [off, off+len) (pinned). */
static int guest_dptr(struct tw__gpu_inst *gi, uint64_t off, uint64_t len,
                      CUdeviceptr *out) {
  for (uint32_t i = 0; i < gi->nranges; i++) {
    const struct tw__gpu_range *g = &gi->ranges[i];
    if (off < g->off || off - g->off > g->len) continue;
    if (off - g->off == g->len && i + 1 < gi->nranges) continue;
    *out = g->dptr + (off - g->off);
    /* A pointer spanning ranges needs them contiguous on the device
     * (they are where device pointers equal host pointers). */
    uint64_t end = off + len;
    for (uint32_t j = i; end > gi->ranges[j].off + gi->ranges[j].len; j++) {
      if (j + 1 >= gi->nranges ||
          gi->ranges[j].dptr + gi->ranges[j].len != gi->ranges[j + 1].dptr)
        return -1;
    }
    return 0;
  }
  return -1;
}

/* ---- wasi_cuda_launch(kernel, gx, gy, gz, bx, by, bz, shared, argv_ptr,
 *                       argv_len) -> i32 ---- */

static int h_launch(tw_caller_t *caller, void *user, const tw_val_t *args,
                    tw_val_t *results) {
  PROLOGUE(res_i32);
  uint32_t id = args[0].of.i32;
  uint32_t g[3] = {args[1].of.i32, args[2].of.i32, args[3].of.i32};
  uint32_t b[3] = {args[4].of.i32, args[5].of.i32, args[6].of.i32};
  uint32_t shared = args[7].of.i32;
  uint32_t argv_ptr = args[8].of.i32, argv_len = args[9].of.i32;
  int rc = 0;
  struct tw__gpu_kernel *k = NULL;
  if ((id >> 8) != gi->serial) {
    snprintf(err, sizeof err,
             (id >> 8) && (int32_t)id > 0
                 ? "kernel id %u belongs to another instance"
                 : "unknown kernel id %u",
             id);
    rc = TW_CUDA_EBADID;
  } else if ((id & 0xff) >= gi->nkernels) {
    snprintf(err, sizeof err, "unknown kernel id %u", id);
    rc = TW_CUDA_EBADID;
  } else {
    k = gi->kernels[id & 0xff];
  }
  static const char axis[] = "xyz";
  for (int i = 0; !rc && i < 3; i++) {
    if (g[i] == 0 || (gpu->lim_grid[i] > 0 && g[i] > (uint32_t)gpu->lim_grid[i])) {
      snprintf(err, sizeof err, "grid %c = %u: the device allows 1..%d",
               axis[i], g[i], gpu->lim_grid[i]);
      rc = TW_CUDA_EDIMS;
    } else if (b[i] == 0 ||
               (gpu->lim_block[i] > 0 && b[i] > (uint32_t)gpu->lim_block[i])) {
      snprintf(err, sizeof err, "block %c = %u: the device allows 1..%d",
               axis[i], b[i], gpu->lim_block[i]);
      rc = TW_CUDA_EDIMS;
    }
  }
  if (!rc) {
    uint64_t threads = (uint64_t)b[0] * b[1] * b[2];
    uint64_t lim = (uint64_t)(k->max_threads > 0 ? k->max_threads
                                                 : gpu->lim_threads);
    if (threads > lim) {
      snprintf(err, sizeof err,
               "block of %llu threads: '%s' allows at most %llu",
               (unsigned long long)threads, k->name, (unsigned long long)lim);
      rc = TW_CUDA_EDIMS;
    }
  }
  if (!rc) {
    uint64_t total = (uint64_t)shared + (uint64_t)k->static_shared;
    if (total > (uint64_t)gpu->lim_shared_optin) {
      snprintf(err, sizeof err,
               "%u bytes of dynamic shared memory (+%d static): the device "
               "allows %d per block",
               shared, k->static_shared, gpu->lim_shared_optin);
      rc = TW_CUDA_EDIMS;
    } else if (shared > (uint32_t)(k->dyn_shared_max > 0 ? k->dyn_shared_max
                                                         : 0)) {
      /* Past the default 48 KiB: opt in for this function. */
      CUresult r = gpu->cu->cuFuncSetAttribute(
          k->fn, CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES, (int)shared);
      if (r != CUDA_SUCCESS)
        rc = tw__gpu_fail(gpu, r, "raising the shared memory limit", err,
                          sizeof err);
      else
        k->dyn_shared_max = (int)shared;
    }
  }
  uint8_t argv[TW__GPU_MAX_ARGV_BYTES];
  struct tw__gpu_arg recs[TW__GPU_MAX_PARAMS];
  if (!rc && argv_len > sizeof argv) {
    snprintf(err, sizeof err, "argv of %u bytes; the limit is %zu", argv_len,
             sizeof argv);
    rc = TW_CUDA_EARGV;
  }
  if (!rc && argv_len &&
      tw_caller_read(caller, argv_ptr, argv, argv_len) != 0) {
    snprintf(err, sizeof err, "argv [%u, %u+%u) is outside guest memory",
             argv_ptr, argv_ptr, argv_len);
    rc = TW_CUDA_EBOUNDS;
  }
  if (!rc)
    rc = tw__gpu_argv_decode(argv, argv_len, k->params, k->nparams, recs, err,
                             sizeof err);
  /* Lower each record to the value the kernel receives. */
  uint64_t vals[TW__GPU_MAX_PARAMS];
  void *ptrs[TW__GPU_MAX_PARAMS];
  for (uint32_t i = 0; !rc && i < (k ? k->nparams : 0); i++) {
    struct tw__gpu_arg *a = &recs[i];
    ptrs[i] = &vals[i];
    if (a->tag == TW_CUDA_ARG_GUEST_PTR) {
      uint64_t size = 0;
      uint8_t *base = tw_caller_memory(caller, &size);
      if (!base || a->a > size || a->b > size - a->a) {
        snprintf(err, sizeof err,
                 "argv record %u at byte %u: guest pointer [%llu, %llu+%llu) "
                 "is past the end of guest memory (%llu bytes)",
                 i, a->at, (unsigned long long)a->a, (unsigned long long)a->a,
                 (unsigned long long)a->b, (unsigned long long)size);
        rc = TW_CUDA_EBOUNDS;
        break;
      }
      rc = ensure_pinned(gpu, gi, base, size, err, sizeof err);
      if (rc) break;
      CUdeviceptr d;
      if (guest_dptr(gi, a->a, a->b, &d) != 0) {
        snprintf(err, sizeof err,
                 "argv record %u at byte %u: guest pointer spans memory "
                 "registered in pieces that are not contiguous on the device",
                 i, a->at);
        rc = TW_CUDA_EBOUNDS;
        break;
      }
      vals[i] = d;
    } else if (a->tag == TW_CUDA_ARG_BUFFER) {
      uint64_t h = a->a;
      uint32_t slot = (uint32_t)h;
      if ((h >> 32) != gi->serial || slot == 0 || slot > gi->nbufs ||
          !gi->bufs[slot - 1].size) {
        snprintf(err, sizeof err,
                 "argv record %u at byte %u: unknown device buffer %llu%s", i,
                 a->at, (unsigned long long)h,
                 (h >> 32) != gi->serial && (h >> 32)
                     ? " (from another instance)"
                     : "");
        rc = TW_CUDA_EBADID;
        break;
      }
      if (a->b > gi->bufs[slot - 1].size) {
        snprintf(err, sizeof err,
                 "argv record %u at byte %u: offset %llu past the end of "
                 "buffer %llu (%llu bytes)",
                 i, a->at, (unsigned long long)a->b, (unsigned long long)h,
                 (unsigned long long)gi->bufs[slot - 1].size);
        rc = TW_CUDA_EBOUNDS;
        break;
      }
      vals[i] = gi->bufs[slot - 1].d + a->b;
    } else {
      vals[i] = a->a; /* little-endian: the low bytes are the 4-byte value */
    }
  }
  if (!rc)
    rc = tw__gpu_permit_take(gpu, gi, tw_caller_deadline_ns(caller), err,
                             sizeof err);
  if (!rc) {
    CUresult r = gpu->cu->cuLaunchKernel(k->fn, g[0], g[1], g[2], b[0], b[1],
                                         b[2], shared, gi->stream,
                                         k->nparams ? ptrs : NULL, NULL);
    if (r != CUDA_SUCCESS) {
      pthread_mutex_lock(&gpu->mu);
      gpu->st.permits_in_use--;
      gi->inflight--;
      pthread_cond_broadcast(&gpu->cv);
      pthread_mutex_unlock(&gpu->mu);
      rc = tw__gpu_fail(gpu, r, "cuLaunchKernel", err, sizeof err);
    }
  }
  pthread_mutex_lock(&gpu->mu);
  if (rc)
    gpu->st.launch_errors++;
  else
    gpu->st.launches++;
  pthread_mutex_unlock(&gpu->mu);
  results[0] = res_i32(rc);
  if (rc) fail(gi, rc, err);
  else ok(gi);
  return 0;
}

/* ---- wasi_cuda_sync() -> i32 ---- */

static int h_sync(tw_caller_t *caller, void *user, const tw_val_t *args,
                  tw_val_t *results) {
  PROLOGUE(res_i32);
  int rc = tw__gpu_inst_sync(gpu, gi, tw_caller_deadline_ns(caller), err,
                             sizeof err);
  if (rc == TW_CUDA_EDEADLINE) return tw_caller_deadline_trap(caller);
  results[0] = res_i32(rc);
  if (rc) fail(gi, rc, err);
  else ok(gi);
  return 0;
}

/* ---- last error ---- */

static int h_last_error_len(tw_caller_t *caller, void *user,
                            const tw_val_t *args, tw_val_t *results) {
  tw_gpu_t *gpu = user;
  struct tw__gpu_inst *gi = tw__gpu_inst_get(gpu, tw_caller_instance(caller));
  if (!gi) return tw_caller_trap(caller, "wasi:cuda: out of host memory");
  results[0] = res_i32((int32_t)gi->last_error_len);
  return 0;
}

static int h_last_error_copy(tw_caller_t *caller, void *user,
                             const tw_val_t *args, tw_val_t *results) {
  tw_gpu_t *gpu = user;
  struct tw__gpu_inst *gi = tw__gpu_inst_get(gpu, tw_caller_instance(caller));
  if (!gi) return tw_caller_trap(caller, "wasi:cuda: out of host memory");
  uint32_t ptr = args[0].of.i32, len = args[1].of.i32;
  size_t n = gi->last_error_len < len ? gi->last_error_len : len;
  if (!guest_range(caller, ptr, len)) {
    results[0] = res_i32(TW_CUDA_EBOUNDS);
    return 0;
  }
  if (n) tw_caller_write(caller, ptr, gi->last_error, n);
  results[0] = res_i32((int32_t)n);
  return 0;
}

/* ---- device buffers ---- */

static int64_t buf_find(struct tw__gpu_inst *gi, uint64_t h, char *err,
                        size_t errlen) {
  uint32_t slot = (uint32_t)h;
  if ((h >> 32) != gi->serial || slot == 0 || slot > gi->nbufs ||
      !gi->bufs[slot - 1].size)
    return tw__err(TW_CUDA_EBADID, err, errlen, "unknown device buffer %llu%s",
                   (unsigned long long)h,
                   (h >> 32) != gi->serial && (h >> 32) && (h >> 32) < 0x800000
                       ? " (from another instance)"
                       : "");
  return slot - 1;
}

/* wasi_cuda_alloc(size i64) -> i64 handle */
static int h_alloc(tw_caller_t *caller, void *user, const tw_val_t *args,
                   tw_val_t *results) {
  PROLOGUE(res_i64);
  uint64_t size = args[0].of.i64;
  int rc = 0;
  uint32_t slot = 0;
  if (size == 0 || size > (1ull << 40)) {
    snprintf(err, sizeof err, "buffer size %llu (1 byte to 1 TiB allowed)",
             (unsigned long long)size);
    rc = TW_CUDA_EINVAL;
  }
  if (!rc) {
    while (slot < gi->nbufs && gi->bufs[slot].size) slot++;
    if (slot == gi->nbufs) {
      if (gi->nbufs >= gpu->cfg.max_buffers) {
        snprintf(err, sizeof err, "%u device buffers is the limit",
                 gpu->cfg.max_buffers);
        rc = TW_CUDA_ELIMIT;
      } else if (gi->nbufs == gi->bufs_cap) {
        uint32_t cap = gi->bufs_cap ? gi->bufs_cap * 2 : 16;
        void *p = tw__reallocarray(gi->bufs, cap, sizeof gi->bufs[0]);
        if (!p) {
          snprintf(err, sizeof err, "out of host memory");
          rc = TW_CUDA_ELIMIT;
        } else {
          gi->bufs = p;
          gi->bufs_cap = cap;
        }
      }
    }
  }
  if (!rc)
    rc = tw__gpu_charge(gpu, size, &gpu->st.buffer_bytes, "wasi_cuda_alloc",
                        err, sizeof err);
  if (!rc) {
    CUdeviceptr d;
    CUresult r = gpu->cu->cuMemAlloc_v2(&d, size);
    if (r != CUDA_SUCCESS) {
      tw__gpu_uncharge(gpu, size, &gpu->st.buffer_bytes);
      if (r == CUDA_ERROR_OUT_OF_MEMORY) {
        snprintf(err, sizeof err,
                 "the device is out of memory (%llu bytes requested)",
                 (unsigned long long)size);
        rc = TW_CUDA_EQUOTA;
        tw__gpu_note_refusal(gpu, err);
      } else {
        rc = tw__gpu_fail(gpu, r, "cuMemAlloc", err, sizeof err);
      }
    } else {
      if (slot == gi->nbufs) gi->nbufs++;
      gi->bufs[slot].d = d;
      gi->bufs[slot].size = size;
    }
  }
  if (rc) {
    results[0] = res_i64(rc);
    fail(gi, rc, err);
    return 0;
  }
  results[0] = res_i64((int64_t)(((uint64_t)gi->serial << 32) | (slot + 1)));
  ok(gi);
  return 0;
}

/* wasi_cuda_free(handle i64) -> i32 */
static int h_free(tw_caller_t *caller, void *user, const tw_val_t *args,
                  tw_val_t *results) {
  PROLOGUE(res_i32);
  int64_t s = buf_find(gi, args[0].of.i64, err, sizeof err);
  int rc = s < 0 ? (int)s : 0;
  if (!rc) {
    /* Kernels in flight may use it: wait for them first. */
    rc = tw__gpu_inst_sync(gpu, gi, tw_caller_deadline_ns(caller), err,
                           sizeof err);
    if (!rc || rc == TW_CUDA_EDEVICE || rc == TW_CUDA_ELOST) {
      gpu->cu->cuMemFree_v2(gi->bufs[s].d);
      tw__gpu_uncharge(gpu, gi->bufs[s].size, &gpu->st.buffer_bytes);
      gi->bufs[s].size = 0;
      gi->bufs[s].d = 0;
    }
  }
  results[0] = res_i32(rc);
  if (rc) fail(gi, rc, err);
  else ok(gi);
  return 0;
}

/* copy_in(handle i64, dst_off i64, src_ptr i32, len i32) -> i32 and
 * copy_out(handle i64, src_off i64, dst_ptr i32, len i32) -> i32 */
static int copy(tw_caller_t *caller, void *user, const tw_val_t *args,
                tw_val_t *results, bool in) {
  PROLOGUE(res_i32);
  uint64_t off = args[1].of.i64;
  uint32_t ptr = args[2].of.i32, len = args[3].of.i32;
  int64_t s = buf_find(gi, args[0].of.i64, err, sizeof err);
  int rc = s < 0 ? (int)s : 0;
  uint8_t *g = NULL;
  if (!rc && (off > gi->bufs[s].size || len > gi->bufs[s].size - off)) {
    snprintf(err, sizeof err,
             "[%llu, %llu+%u) is outside buffer %llu (%llu bytes)",
             (unsigned long long)off, (unsigned long long)off, len,
             (unsigned long long)args[0].of.i64,
             (unsigned long long)gi->bufs[s].size);
    rc = TW_CUDA_EBOUNDS;
  }
  if (!rc && !(g = guest_range(caller, ptr, len))) {
    snprintf(err, sizeof err, "guest range [%u, %u+%u) is outside memory",
             ptr, ptr, len);
    rc = TW_CUDA_EBOUNDS;
  }
  if (!rc && len) {
    /* Synchronous copies on the legacy stream, which waits for this
     * instance's blocking stream: results of earlier kernels are seen. */
    CUresult r = in ? gpu->cu->cuMemcpyHtoD_v2(gi->bufs[s].d + off, g, len)
                    : gpu->cu->cuMemcpyDtoH_v2(g, gi->bufs[s].d + off, len);
    if (r != CUDA_SUCCESS)
      rc = tw__gpu_fail(gpu, r, in ? "copy_in" : "copy_out", err, sizeof err);
  }
  results[0] = res_i32(rc);
  if (rc) fail(gi, rc, err);
  else ok(gi);
  return 0;
}
static int h_copy_in(tw_caller_t *caller, void *user, const tw_val_t *args,
                     tw_val_t *results) {
  return copy(caller, user, args, results, true);
}
static int h_copy_out(tw_caller_t *caller, void *user, const tw_val_t *args,
                      tw_val_t *results) {
  return copy(caller, user, args, results, false);
}

/* ---- registration ---- */

#define I32 TW_I32
#define I64 TW_I64
static const struct {
  const char *name;
  tw_host_fn fn;
  uint8_t np, nr;
  uint8_t types[12]; /* params then results */
} funcs[] = {
    {"wasi_cuda_load_ptx", h_load_ptx, 4, 1, {I32, I32, I32, I32, I64}},
    {"wasi_cuda_launch",
     h_launch,
     10,
     1,
     {I32, I32, I32, I32, I32, I32, I32, I32, I32, I32, I32}},
    {"wasi_cuda_sync", h_sync, 0, 1, {I32}},
    {"wasi_cuda_last_error_len", h_last_error_len, 0, 1, {I32}},
    {"wasi_cuda_last_error_copy", h_last_error_copy, 2, 1, {I32, I32, I32}},
    {"wasi_cuda_alloc", h_alloc, 1, 1, {I64, I64}},
    {"wasi_cuda_free", h_free, 1, 1, {I64, I32}},
    {"wasi_cuda_copy_in", h_copy_in, 4, 1, {I64, I64, I32, I32, I32}},
    {"wasi_cuda_copy_out", h_copy_out, 4, 1, {I64, I64, I32, I32, I32}},
};

int tw_linker_define_cuda(tw_linker_t *linker, tw_gpu_t *gpu) {
  if (!linker || !gpu) return TW_EINVAL;
  for (size_t i = 0; i < sizeof funcs / sizeof funcs[0]; i++) {
    tw_functype_t t = {funcs[i].np, funcs[i].nr, funcs[i].types,
                       funcs[i].types + funcs[i].np};
    int rc = tw_linker_define_func(linker, CUDA_MODULE, funcs[i].name, &t,
                                   funcs[i].fn, gpu);
    if (rc) return rc;
  }
  return 0;
}

bool tw_module_imports_cuda(const tw_module_t *module) {
  uint32_t n = tw_module_import_count(module);
  for (uint32_t i = 0; i < n; i++) {
    const char *mod, *name;
    size_t ml, nl;
    tw_extern_kind_t kind;
    if (tw_module_import_info(module, i, &mod, &ml, &name, &nl, &kind) == 0 &&
        ml == strlen(CUDA_MODULE) && memcmp(mod, CUDA_MODULE, ml) == 0)
      return true;
  }
  return false;
}
