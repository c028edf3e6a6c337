/* The mock backend: a fake CUDA driver behind the same table as the real
 * one, so CI runs every host-side path without a GPU. It simulates device
 * memory with host allocations at fake device addresses, host
 * registration (device pointer == host pointer, as on the H100), PTX
 * checks (superficial, plus nvJitLink when present), asynchronous errors
 * that surface at the next synchronisation and poison the context (as the
 * real driver does), and injected faults. Kernels named like the ones in
 * examples/gpu/kernels/ are emulated on the simulated memory, so tests
 * see real results through the real argument path; any other kernel is a
 * recorded no-op. Process-wide state under one mutex.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu/gpu_int.h"

#define MOCK_DEV_BASE 0x7e0000000000ull

struct mock_alloc {
  CUdeviceptr addr;
  size_t size;
  uint8_t *host;
};
struct mock_reg {
  uint8_t *p;
  size_t size;
};
struct mock_func {
  char name[256];
  struct tw__gpu_param params[TW__GPU_MAX_PARAMS];
  uint32_t nparams;
  struct mock_func *next;
};
struct mock_module {
  char *ptx;
  size_t len;
  struct mock_func *funcs; /* freed with the module */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct mock_alloc *allocs;
static size_t nallocs, allocs_cap;
static struct mock_reg *regs;
static size_t nregs, regs_cap;
static CUdeviceptr next_addr = MOCK_DEV_BASE;
static uint64_t used_bytes;
static enum tw__gpu_mock_fault fault;
static CUresult pending;  /* asynchronous error, reported at next sync */
static bool poisoned;     /* sticky: every call fails */
static struct tw__gpu_mock_counters ctr;
static const struct tw__cuda *self_table; /* for nvJitLink */
static int primary_ctx_token;

static uint64_t mock_total_mem(void) {
  const char *e = getenv("TW_GPU_MOCK_MEM");
  if (e && *e) return strtoull(e, NULL, 10);
  return 80ull << 30;
}
static int mock_ndevices(void) {
  const char *e = getenv("TW_GPU_MOCK_DEVICES");
  int n = e && *e ? atoi(e) : 1;
  return n < 0 ? 0 : n > TW_GPU_MAX_DEVICES ? TW_GPU_MAX_DEVICES : n;
}

void tw__gpu_mock_inject(enum tw__gpu_mock_fault f) {
  pthread_mutex_lock(&mu);
  fault = f;
  pthread_mutex_unlock(&mu);
}

void tw__gpu_mock_reset(void) {
  pthread_mutex_lock(&mu);
  fault = TW__MOCK_FAULT_NONE;
  pending = CUDA_SUCCESS;
  poisoned = false;
  uint64_t la = ctr.live_allocs, lr = ctr.live_registered,
           lm = ctr.live_modules, rb = ctr.registered_bytes;
  memset(&ctr, 0, sizeof ctr);
  ctr.live_allocs = la;
  ctr.live_registered = lr;
  ctr.live_modules = lm;
  ctr.registered_bytes = rb;
  pthread_mutex_unlock(&mu);
}

void tw__gpu_mock_counters(struct tw__gpu_mock_counters *out) {
  pthread_mutex_lock(&mu);
  *out = ctr;
  pthread_mutex_unlock(&mu);
}

static void reg_log(char c) {
  size_t n = strlen(ctr.reg_log);
  if (n + 1 < sizeof ctr.reg_log) ctr.reg_log[n] = c;
}

#define GUARD()                                                             \
  do {                                                                      \
    if (poisoned) {                                                         \
      pthread_mutex_unlock(&mu);                                            \
      return CUDA_ERROR_ILLEGAL_ADDRESS;                                    \
    }                                                                       \
  } while (0)

static CUresult m_init(unsigned flags) { return CUDA_SUCCESS; }
static CUresult m_driver_version(int *v) {
  *v = 13000;
  return CUDA_SUCCESS;
}
static CUresult m_device_count(int *n) {
  *n = mock_ndevices();
  return CUDA_SUCCESS;
}
static CUresult m_device_get(CUdevice *d, int i) {
  if (i < 0 || i >= mock_ndevices()) return CUDA_ERROR_INVALID_DEVICE;
  *d = i;
  return CUDA_SUCCESS;
}
static CUresult m_device_name(char *name, int len, CUdevice d) {
  snprintf(name, (size_t)len, "TensorWasm mock GPU %d", d);
  return CUDA_SUCCESS;
}
static CUresult m_device_attr(int *v, CUdevice_attribute a, CUdevice d) {
  switch (a) {
  case CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X:
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y: *v = 1024; break;
  case CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z: *v = 64; break;
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X: *v = 2147483647; break;
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y:
  case CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z: *v = 65535; break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK: *v = 49152; break;
  case CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN:
    *v = 232448;
    break;
  case CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT: *v = 132; break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR: *v = 9; break;
  case CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR: *v = 0; break;
  case CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING:
  case CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY: *v = 1; break;
  case CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS:
  case CU_DEVICE_ATTRIBUTE_COMPUTE_MODE:
  case CU_DEVICE_ATTRIBUTE_MPS_ENABLED: *v = 0; break;
  case CU_DEVICE_ATTRIBUTE_PCI_BUS_ID: *v = 0x10 + d; break;
  case CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID: *v = 0; break;
  default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}
static CUresult m_total_mem(size_t *b, CUdevice d) {
  *b = (size_t)mock_total_mem();
  return CUDA_SUCCESS;
}
static CUresult m_ctx_retain(CUcontext *c, CUdevice d) {
  *c = (CUcontext)(void *)&primary_ctx_token;
  return CUDA_SUCCESS;
}
static CUresult m_ctx_release(CUdevice d) { return CUDA_SUCCESS; }
static CUresult m_ctx_set(CUcontext c) { return CUDA_SUCCESS; }

static void set_log(unsigned nopts, CUjit_option *opts, void **vals,
                    const char *msg) {
  char *buf = NULL;
  size_t cap = 0;
  for (unsigned i = 0; i < nopts; i++) {
    if (opts[i] == CU_JIT_ERROR_LOG_BUFFER) buf = vals[i];
    if (opts[i] == CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES)
      cap = (size_t)(uintptr_t)vals[i];
  }
  if (buf && cap) snprintf(buf, cap, "%s", msg);
}

static CUresult m_module_load(CUmodule *mod, const void *image,
                              unsigned nopts, CUjit_option *opts,
                              void **vals) {
  const char *ptx = image;
  size_t len = strlen(ptx);
  char log[2048] = "";
  pthread_mutex_lock(&mu);
  GUARD();
  pthread_mutex_unlock(&mu);
  /* The stand-in for the driver's JIT: nvJitLink for sm_90 when present,
   * else the superficial checks. */
  if (!strstr(ptx, ".version") || !strstr(ptx, ".target")) {
    set_log(nopts, opts, vals,
            "ptxas fatal   : not PTX (no .version/.target directive)");
    return CUDA_ERROR_INVALID_PTX;
  }
  if (self_table &&
      tw__gpu_jitlink_check(self_table, ptx, len, 90, log, sizeof log) < 0) {
    set_log(nopts, opts, vals, log);
    return CUDA_ERROR_INVALID_PTX;
  }
  struct mock_module *m = calloc(1, sizeof *m);
  if (!m || !(m->ptx = malloc(len + 1))) {
    free(m);
    return CUDA_ERROR_OUT_OF_MEMORY;
  }
  memcpy(m->ptx, ptx, len + 1);
  m->len = len;
  pthread_mutex_lock(&mu);
  ctr.modules_loaded++;
  ctr.live_modules++;
  pthread_mutex_unlock(&mu);
  *mod = (CUmodule)(void *)m;
  return CUDA_SUCCESS;
}

static CUresult m_module_func(CUfunction *fn, CUmodule mod, const char *name) {
  struct mock_module *m = (struct mock_module *)(void *)mod;
  struct mock_func *f = calloc(1, sizeof *f);
  if (!f) return CUDA_ERROR_OUT_OF_MEMORY;
  char err[256];
  if (strlen(name) >= sizeof f->name ||
      tw__gpu_ptx_entry(m->ptx, m->len, name, f->params, &f->nparams, err,
                        sizeof err) != 0) {
    free(f);
    return CUDA_ERROR_NOT_FOUND;
  }
  snprintf(f->name, sizeof f->name, "%s", name);
  f->next = m->funcs;
  m->funcs = f;
  *fn = (CUfunction)(void *)f;
  return CUDA_SUCCESS;
}

static CUresult m_module_unload(CUmodule mod) {
  struct mock_module *m = (struct mock_module *)(void *)mod;
  if (!m) return CUDA_ERROR_INVALID_HANDLE;
  while (m->funcs) {
    struct mock_func *f = m->funcs;
    m->funcs = f->next;
    free(f);
  }
  free(m->ptx);
  free(m);
  pthread_mutex_lock(&mu);
  ctr.live_modules--;
  pthread_mutex_unlock(&mu);
  return CUDA_SUCCESS;
}

static CUresult m_func_attr(int *v, CUfunction_attribute a, CUfunction fn) {
  switch (a) {
  case CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK: *v = 1024; break;
  case CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES: *v = 0; break;
  case CU_FUNC_ATTRIBUTE_NUM_REGS: *v = 16; break;
  case CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES: *v = 49152; break;
  default: return CUDA_ERROR_INVALID_VALUE;
  }
  return CUDA_SUCCESS;
}
static CUresult m_func_set_attr(CUfunction fn, CUfunction_attribute a,
                                int v) {
  return CUDA_SUCCESS;
}
static CUresult m_param_info(CUfunction fn, size_t i, size_t *off,
                             size_t *size) {
  struct mock_func *f = (struct mock_func *)(void *)fn;
  if (i >= f->nparams) return CUDA_ERROR_INVALID_VALUE;
  size_t o = 0;
  for (size_t k = 0; k < i; k++) o += f->params[k].size;
  *off = o;
  *size = f->params[i].size;
  return CUDA_SUCCESS;
}

/* Host bytes behind device range [addr, addr+n), or NULL (a fault). */
static uint8_t *resolve(CUdeviceptr addr, uint64_t n) {
  for (size_t i = 0; i < nallocs; i++) {
    struct mock_alloc *a = &allocs[i];
    if (addr >= a->addr && addr - a->addr <= a->size &&
        n <= a->size - (addr - a->addr))
      return a->host + (addr - a->addr);
  }
  for (size_t i = 0; i < nregs; i++) {
    uintptr_t p = (uintptr_t)regs[i].p;
    /* A range may continue into the next registered range (after
     * memory.grow): resolve piecewise. */
    if (addr >= p && addr - p < regs[i].size) {
      uint64_t avail = regs[i].size - (addr - p);
      if (n <= avail) return (uint8_t *)(uintptr_t)addr;
      uint8_t *rest = resolve(addr + avail, n - avail);
      return rest ? (uint8_t *)(uintptr_t)addr : NULL;
    }
  }
  return NULL;
}

static uint64_t pval(void **params, const struct mock_func *f, uint32_t i) {
  uint64_t v = 0;
  if (i < f->nparams) memcpy(&v, params[i], f->params[i].size);
  return v;
}
static float fval(void **params, uint32_t i) {
  float x;
  memcpy(&x, params[i], 4);
  return x;
}

/* Runs the emulated kernel; false on a simulated illegal address. */
static bool emulate(const struct mock_func *f, void **params,
                    uint64_t threads) {
  const char *n = f->name;
  if (strcmp(n, "vector_add") == 0 && f->nparams == 4) {
    uint64_t cnt = pval(params, f, 3);
    if (cnt > threads) cnt = threads;
    float *a = (float *)resolve(pval(params, f, 0), cnt * 4);
    float *b = (float *)resolve(pval(params, f, 1), cnt * 4);
    float *c = (float *)resolve(pval(params, f, 2), cnt * 4);
    if (cnt && (!a || !b || !c)) return false;
    for (uint64_t i = 0; i < cnt; i++) {
      float x, y, z;
      memcpy(&x, &a[i], 4);
      memcpy(&y, &b[i], 4);
      z = x + y;
      memcpy(&c[i], &z, 4);
    }
  } else if (strcmp(n, "sgemm_tiled") == 0 && f->nparams == 6) {
    uint64_t M = pval(params, f, 3), N = pval(params, f, 4),
             K = pval(params, f, 5);
    float *A = (float *)resolve(pval(params, f, 0), M * K * 4);
    float *B = (float *)resolve(pval(params, f, 1), K * N * 4);
    float *C = (float *)resolve(pval(params, f, 2), M * N * 4);
    if (M && N && (!A || !B || !C)) return false;
    for (uint64_t i = 0; i < M; i++)
      for (uint64_t j = 0; j < N; j++) {
        float s = 0, x, y;
        for (uint64_t k = 0; k < K; k++) {
          memcpy(&x, &A[i * K + k], 4);
          memcpy(&y, &B[k * N + j], 4);
          s += x * y;
        }
        memcpy(&C[i * N + j], &s, 4);
      }
  } else if (strcmp(n, "saxpy_inplace") == 0 && f->nparams == 4) {
    uint64_t cnt = pval(params, f, 1);
    if (cnt > threads) cnt = threads;
    float alpha = fval(params, 2), beta = fval(params, 3);
    float *x = (float *)resolve(pval(params, f, 0), cnt * 4);
    if (cnt && !x) return false;
    for (uint64_t i = 0; i < cnt; i++) {
      float v;
      memcpy(&v, &x[i], 4);
      v = alpha * v + beta;
      memcpy(&x[i], &v, 4);
    }
  } else if (strcmp(n, "leak_addr") == 0 && f->nparams == 2) {
    uint64_t p = pval(params, f, 0);
    uint8_t *out = resolve(pval(params, f, 1), 8);
    if (!out) return false;
    memcpy(out, &p, 8);
  } else if (strcmp(n, "wild_write") == 0 && f->nparams == 2) {
    uint8_t *dst = resolve(pval(params, f, 0), 4);
    if (!dst) return false;
    uint32_t v = (uint32_t)pval(params, f, 1);
    memcpy(dst, &v, 4);
  } else if (strcmp(n, "wild_read") == 0 && f->nparams == 2) {
    uint8_t *src = resolve(pval(params, f, 0), 4);
    uint8_t *out = resolve(pval(params, f, 1), 4);
    if (!src || !out) return false;
    memcpy(out, src, 4);
  }
  return true;
}

static CUresult m_launch(CUfunction fn, unsigned gx, unsigned gy, unsigned gz,
                         unsigned bx, unsigned by, unsigned bz,
                         unsigned shared, CUstream stream, void **params,
                         void **extra) {
  struct mock_func *f = (struct mock_func *)(void *)fn;
  pthread_mutex_lock(&mu);
  GUARD();
  if (!f || !gx || !gy || !gz || !bx || !by || !bz ||
      (f->nparams && !params)) {
    pthread_mutex_unlock(&mu);
    return CUDA_ERROR_INVALID_VALUE;
  }
  if (fault == TW__MOCK_FAULT_LAUNCH) {
    fault = TW__MOCK_FAULT_NONE;
    pthread_mutex_unlock(&mu);
    return CUDA_ERROR_LAUNCH_FAILED;
  }
  ctr.launches++;
  ctr.last_grid[0] = gx; ctr.last_grid[1] = gy; ctr.last_grid[2] = gz;
  ctr.last_block[0] = bx; ctr.last_block[1] = by; ctr.last_block[2] = bz;
  ctr.last_shared = shared;
  snprintf(ctr.last_entry, sizeof ctr.last_entry, "%.63s", f->name);
  bool ok = true;
  if (fault == TW__MOCK_FAULT_ILLEGAL) {
    fault = TW__MOCK_FAULT_NONE;
    ok = false;
  } else if (pending == CUDA_SUCCESS) {
    uint64_t threads = (uint64_t)gx * gy * gz * bx * by * bz;
    ok = emulate(f, params, threads);
  }
  if (!ok) pending = CUDA_ERROR_ILLEGAL_ADDRESS;
  pthread_mutex_unlock(&mu);
  return CUDA_SUCCESS;
}

static CUresult m_stream_create(CUstream *s, unsigned flags) {
  static int token;
  *s = (CUstream)(void *)&token;
  return CUDA_SUCCESS;
}
static CUresult m_stream_destroy(CUstream s) { return CUDA_SUCCESS; }

/* Delivers the pending asynchronous error, poisoning the context. */
static CUresult take_pending(void) {
  if (poisoned) return CUDA_ERROR_ILLEGAL_ADDRESS;
  if (pending != CUDA_SUCCESS) {
    CUresult r = pending;
    poisoned = tw__gpu_cuda_sticky(r);
    pending = CUDA_SUCCESS;
    return r;
  }
  return CUDA_SUCCESS;
}
static CUresult m_stream_sync(CUstream s) {
  pthread_mutex_lock(&mu);
  CUresult r = take_pending();
  pthread_mutex_unlock(&mu);
  return r;
}

static CUresult m_mem_alloc(CUdeviceptr *d, size_t n) {
  pthread_mutex_lock(&mu);
  GUARD();
  CUresult r = CUDA_SUCCESS;
  if (n == 0) {
    r = CUDA_ERROR_INVALID_VALUE;
  } else if (fault == TW__MOCK_FAULT_OOM || n > mock_total_mem() ||
             used_bytes > mock_total_mem() - n) {
    if (fault == TW__MOCK_FAULT_OOM) fault = TW__MOCK_FAULT_NONE;
    r = CUDA_ERROR_OUT_OF_MEMORY;
  } else if (nallocs == allocs_cap) {
    size_t cap = allocs_cap ? allocs_cap * 2 : 16;
    void *p = realloc(allocs, cap * sizeof *allocs);
    if (!p) r = CUDA_ERROR_OUT_OF_MEMORY;
    else {
      allocs = p;
      allocs_cap = cap;
    }
  }
  uint8_t *host = NULL;
  if (r == CUDA_SUCCESS && !(host = calloc(1, n)))
    r = CUDA_ERROR_OUT_OF_MEMORY;
  if (r == CUDA_SUCCESS) {
    allocs[nallocs].addr = next_addr;
    allocs[nallocs].size = n;
    allocs[nallocs].host = host;
    nallocs++;
    *d = next_addr;
    /* Page-aligned, with an unmapped gap between allocations. */
    next_addr += ((n + 4095) & ~(CUdeviceptr)4095) + 4096;
    used_bytes += n;
    ctr.allocs++;
    ctr.live_allocs++;
  }
  pthread_mutex_unlock(&mu);
  return r;
}

static CUresult m_mem_free(CUdeviceptr d) {
  pthread_mutex_lock(&mu);
  /* Freeing works in a poisoned context too (the real driver's does). */
  for (size_t i = 0; i < nallocs; i++) {
    if (allocs[i].addr != d) continue;
    free(allocs[i].host);
    used_bytes -= allocs[i].size;
    allocs[i] = allocs[--nallocs];
    ctr.frees++;
    ctr.live_allocs--;
    pthread_mutex_unlock(&mu);
    return CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&mu);
  return CUDA_ERROR_INVALID_VALUE;
}

static CUresult m_htod(CUdeviceptr dst, const void *src, size_t n) {
  pthread_mutex_lock(&mu);
  CUresult r = take_pending();
  uint8_t *p = r == CUDA_SUCCESS ? resolve(dst, n) : NULL;
  if (r == CUDA_SUCCESS && !p) r = CUDA_ERROR_INVALID_VALUE;
  if (p && n) memcpy(p, src, n);
  pthread_mutex_unlock(&mu);
  return r;
}
static CUresult m_dtoh(void *dst, CUdeviceptr src, size_t n) {
  pthread_mutex_lock(&mu);
  CUresult r = take_pending();
  uint8_t *p = r == CUDA_SUCCESS ? resolve(src, n) : NULL;
  if (r == CUDA_SUCCESS && !p) r = CUDA_ERROR_INVALID_VALUE;
  if (p && n) memcpy(dst, p, n);
  pthread_mutex_unlock(&mu);
  return r;
}
static CUresult m_memset(CUdeviceptr dst, unsigned char v, size_t n) {
  pthread_mutex_lock(&mu);
  GUARD();
  uint8_t *p = resolve(dst, n);
  if (p && n) memset(p, v, n);
  pthread_mutex_unlock(&mu);
  return p ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

static CUresult m_host_register(void *p, size_t n, unsigned flags) {
  pthread_mutex_lock(&mu);
  GUARD();
  CUresult r = CUDA_SUCCESS;
  if (fault == TW__MOCK_FAULT_REGISTER) {
    fault = TW__MOCK_FAULT_NONE;
    r = CUDA_ERROR_OUT_OF_MEMORY;
  } else if (!p || !n || ((uintptr_t)p & 4095) || (n & 4095)) {
    r = CUDA_ERROR_INVALID_VALUE;
  } else {
    for (size_t i = 0; i < nregs; i++) {
      uintptr_t a = (uintptr_t)regs[i].p, b = (uintptr_t)p;
      if (b < a + regs[i].size && a < b + n)
        r = CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED;
    }
  }
  if (r == CUDA_SUCCESS && nregs == regs_cap) {
    size_t cap = regs_cap ? regs_cap * 2 : 8;
    void *q = realloc(regs, cap * sizeof *regs);
    if (!q) r = CUDA_ERROR_OUT_OF_MEMORY;
    else {
      regs = q;
      regs_cap = cap;
    }
  }
  if (r == CUDA_SUCCESS) {
    regs[nregs].p = p;
    regs[nregs].size = n;
    nregs++;
    ctr.registers++;
    ctr.live_registered++;
    ctr.registered_bytes += n;
    reg_log('R');
  }
  pthread_mutex_unlock(&mu);
  return r;
}

static CUresult m_host_unregister(void *p) {
  pthread_mutex_lock(&mu);
  for (size_t i = 0; i < nregs; i++) {
    if (regs[i].p != p) continue;
    ctr.registered_bytes -= regs[i].size;
    regs[i] = regs[--nregs];
    ctr.unregisters++;
    ctr.live_registered--;
    reg_log('U');
    pthread_mutex_unlock(&mu);
    return CUDA_SUCCESS;
  }
  pthread_mutex_unlock(&mu);
  return CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED;
}

static CUresult m_host_devptr(CUdeviceptr *d, void *p, unsigned flags) {
  pthread_mutex_lock(&mu);
  CUresult r = CUDA_ERROR_INVALID_VALUE;
  for (size_t i = 0; i < nregs; i++) {
    uintptr_t a = (uintptr_t)regs[i].p;
    if ((uintptr_t)p >= a && (uintptr_t)p - a < regs[i].size) {
      *d = (CUdeviceptr)(uintptr_t)p;
      r = CUDA_SUCCESS;
    }
  }
  pthread_mutex_unlock(&mu);
  return r;
}

static CUresult m_err_string(CUresult e, const char **s) {
  switch (e) {
  case CUDA_SUCCESS: *s = "no error"; break;
  case CUDA_ERROR_INVALID_VALUE: *s = "invalid argument"; break;
  case CUDA_ERROR_OUT_OF_MEMORY: *s = "out of memory"; break;
  case CUDA_ERROR_INVALID_PTX: *s = "a PTX JIT compilation failed"; break;
  case CUDA_ERROR_NOT_FOUND: *s = "named symbol not found"; break;
  case CUDA_ERROR_ILLEGAL_ADDRESS:
    *s = "an illegal memory access was encountered";
    break;
  case CUDA_ERROR_LAUNCH_FAILED: *s = "unspecified launch failure"; break;
  default: *s = "unknown error"; break;
  }
  return CUDA_SUCCESS;
}
static CUresult m_err_name(CUresult e, const char **s) {
  switch (e) {
  case CUDA_SUCCESS: *s = "CUDA_SUCCESS"; break;
  case CUDA_ERROR_INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
  case CUDA_ERROR_OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
  case CUDA_ERROR_INVALID_PTX: *s = "CUDA_ERROR_INVALID_PTX"; break;
  case CUDA_ERROR_NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
  case CUDA_ERROR_ILLEGAL_ADDRESS: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; break;
  case CUDA_ERROR_LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; break;
  default: *s = "CUDA_ERROR_UNKNOWN"; break;
  }
  return CUDA_SUCCESS;
}

void tw__gpu_mock_fill(struct tw__cuda *t) {
  memset(t, 0, sizeof *t);
  t->is_mock = 1;
  t->cuInit = m_init;
  t->cuDriverGetVersion = m_driver_version;
  t->cuDeviceGetCount = m_device_count;
  t->cuDeviceGet = m_device_get;
  t->cuDeviceGetName = m_device_name;
  t->cuDeviceGetAttribute = m_device_attr;
  t->cuDeviceTotalMem_v2 = m_total_mem;
  t->cuDevicePrimaryCtxRetain = m_ctx_retain;
  t->cuDevicePrimaryCtxRelease_v2 = m_ctx_release;
  t->cuCtxSetCurrent = m_ctx_set;
  t->cuModuleLoadDataEx = m_module_load;
  t->cuModuleGetFunction = m_module_func;
  t->cuModuleUnload = m_module_unload;
  t->cuFuncGetAttribute = m_func_attr;
  t->cuFuncSetAttribute = m_func_set_attr;
  t->cuFuncGetParamInfo = m_param_info;
  t->cuLaunchKernel = m_launch;
  t->cuStreamCreate = m_stream_create;
  t->cuStreamDestroy_v2 = m_stream_destroy;
  t->cuStreamSynchronize = m_stream_sync;
  t->cuStreamQuery = m_stream_sync;
  t->cuMemAlloc_v2 = m_mem_alloc;
  t->cuMemFree_v2 = m_mem_free;
  t->cuMemcpyHtoD_v2 = m_htod;
  t->cuMemcpyDtoH_v2 = m_dtoh;
  t->cuMemsetD8_v2 = m_memset;
  t->cuMemHostRegister_v2 = m_host_register;
  t->cuMemHostUnregister = m_host_unregister;
  t->cuMemHostGetDevicePointer_v2 = m_host_devptr;
  t->cuGetErrorString = m_err_string;
  t->cuGetErrorName = m_err_name;
  self_table = t;
}
