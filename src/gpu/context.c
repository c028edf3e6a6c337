/* One tenant's GPU state on one device (tw_gpu_t): the primary context,
 * the device limits launches are checked against, the quota that every
 * one of our allocation points charges (device buffers, pinned guest
 * memory, loaded modules), the launch permits, the PTX module cache, and
 * the per-instance states. Invariants: st.memory_bytes is the sum of the
 * three charged counters and never exceeds the quota; a module is
 * unloaded only when no kernel refers to it; pinned ranges are
 * unregistered only after their instance's stream is idle.
 */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/hash.h"
#include "gpu/gpu_int.h"

static _Thread_local CUcontext current_ctx;

void tw_gpu_config_default(tw_gpu_config_t *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->backend = TW_GPU_BACKEND_AUTO;
  cfg->device = 0;
  cfg->memory_quota = 4ull << 30;
  cfg->max_inflight = 64;
  cfg->max_kernels = 256;
  cfg->max_ptx_bytes = 8u << 20;
  cfg->max_buffers = 4096;
  cfg->module_cache = 32;
  cfg->zero_copy = 1;
}

int tw__gpu_make_current(tw_gpu_t *gpu) {
  if (current_ctx == gpu->ctx) return 0;
  if (gpu->cu->cuCtxSetCurrent(gpu->ctx) != CUDA_SUCCESS) return -1;
  current_ctx = gpu->ctx;
  return 0;
}

int tw_gpu_open(const tw_gpu_config_t *cfg_in, tw_gpu_t **out, char *err,
                size_t errlen) {
  tw_gpu_config_t cfg;
  if (!out) return TW_EINVAL;
  *out = NULL;
  if (cfg_in)
    cfg = *cfg_in;
  else
    tw_gpu_config_default(&cfg);
  if (!cfg.max_inflight || !cfg.max_kernels || !cfg.max_ptx_bytes ||
      cfg.max_kernels > 255 * 256 || !cfg.max_buffers)
    return tw__err(TW_EINVAL, err, errlen, "invalid GPU configuration");
  if (cfg.max_kernels > 256) cfg.max_kernels = 256; /* ids carry 8 bits */
  const struct tw__cuda *cu = tw__gpu_driver(cfg.backend, err, errlen);
  if (!cu) return TW_EUNSUPPORTED;
  int n = 0;
  CUresult r = cu->cuDeviceGetCount(&n);
  if (r != CUDA_SUCCESS || n == 0)
    return tw__err(TW_EUNSUPPORTED, err, errlen, "no CUDA device");
  if (cfg.device < 0 || cfg.device >= n)
    return tw__err(TW_EINVAL, err, errlen,
                   "GPU %d does not exist (%d device%s)", cfg.device, n,
                   n == 1 ? "" : "s");
  tw_gpu_t *g = tw__calloc(1, sizeof *g);
  if (!g) return TW_ENOMEM;
  g->cu = cu;
  g->cfg = cfg;
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  char m[200];
  if ((r = cu->cuDeviceGet(&g->dev, cfg.device)) != CUDA_SUCCESS ||
      (r = cu->cuDevicePrimaryCtxRetain(&g->ctx, g->dev)) != CUDA_SUCCESS) {
    tw__gpu_cuda_msg(cu, r, m, sizeof m);
    tw__err(TW_EUNSUPPORTED, err, errlen, "cannot open GPU %d: %s",
            cfg.device, m);
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    tw__free(g);
    return TW_EUNSUPPORTED;
  }
  int major = 0, minor = 0;
  cu->cuDeviceGetAttribute(&major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR,
                           g->dev);
  cu->cuDeviceGetAttribute(&minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR,
                           g->dev);
  g->cc = major * 10 + minor;
  static const int attrs[] = {
      CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK,
      CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X, CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y,
      CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X,
      CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y, CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z,
      CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK,
      CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN};
  int *dst[] = {&g->lim_threads,  &g->lim_block[0], &g->lim_block[1],
                &g->lim_block[2], &g->lim_grid[0],  &g->lim_grid[1],
                &g->lim_grid[2],  &g->lim_shared,   &g->lim_shared_optin};
  for (size_t i = 0; i < sizeof attrs / sizeof attrs[0]; i++)
    if (cu->cuDeviceGetAttribute(dst[i], attrs[i], g->dev) != CUDA_SUCCESS)
      *dst[i] = 0;
  if (g->lim_shared_optin < g->lim_shared) g->lim_shared_optin = g->lim_shared;
  tw__gpu_make_current(g);
  /* Instance serials start at a per-context random-ish point so ids of a
   * previous context (a restarted worker) are unlikely to be accepted. */
  g->serial_next = (uint32_t)(tw__now_ns() >> 10) & 0x3fffff;
  g->st.memory_quota = cfg.memory_quota;
  g->st.permits_max = cfg.max_inflight;
  g->st.device = cfg.device;
  *out = g;
  return 0;
}

static void inst_free(tw_gpu_t *gpu, struct tw__gpu_inst *gi);

void tw_gpu_close(tw_gpu_t *gpu) {
  if (!gpu) return;
  tw__gpu_make_current(gpu);
  while (gpu->insts) {
    struct tw__gpu_inst *gi = gpu->insts;
    gpu->insts = gi->next;
    inst_free(gpu, gi);
  }
  while (gpu->modules) {
    struct tw__gpu_module *m = gpu->modules;
    gpu->modules = m->next;
    gpu->cu->cuModuleUnload(m->mod);
    tw__free(m);
  }
  gpu->cu->cuDevicePrimaryCtxRelease_v2(gpu->dev);
  if (current_ctx == gpu->ctx) current_ctx = NULL;
  pthread_cond_destroy(&gpu->cv);
  pthread_mutex_destroy(&gpu->mu);
  tw__free(gpu);
}

void tw_gpu_get_stats(tw_gpu_t *gpu, tw_gpu_stats_t *out) {
  pthread_mutex_lock(&gpu->mu);
  *out = gpu->st;
  out->poisoned = gpu->poisoned;
  pthread_mutex_unlock(&gpu->mu);
}

bool tw_gpu_poisoned(tw_gpu_t *gpu) {
  pthread_mutex_lock(&gpu->mu);
  bool p = gpu->poisoned;
  pthread_mutex_unlock(&gpu->mu);
  return p;
}

int tw__gpu_fail(tw_gpu_t *gpu, CUresult r, const char *what, char *err,
                 size_t errlen) {
  char m[200];
  tw__gpu_cuda_msg(gpu->cu, r, m, sizeof m);
  if (tw__gpu_cuda_sticky(r)) {
    pthread_mutex_lock(&gpu->mu);
    if (!gpu->poisoned) {
      gpu->poisoned = true;
      snprintf(gpu->poison_msg, sizeof gpu->poison_msg, "%s", m);
    }
    pthread_mutex_unlock(&gpu->mu);
    return tw__err(TW_CUDA_ELOST, err, errlen,
                   "%s: %s; the GPU context is lost (a kernel of this "
                   "tenant faulted)",
                   what, m);
  }
  return tw__err(TW_CUDA_EDEVICE, err, errlen, "%s: %s", what, m);
}

/* ---- quota ---- */

/* Unloads the least recently used unreferenced module; false if none.
 * Called with gpu->mu held. */
static bool evict_one(tw_gpu_t *gpu) {
  struct tw__gpu_module **best = NULL;
  for (struct tw__gpu_module **pp = &gpu->modules; *pp; pp = &(*pp)->next)
    if ((*pp)->refs == 0 && (!best || (*pp)->last_use < (*best)->last_use))
      best = pp;
  if (!best) return false;
  struct tw__gpu_module *m = *best;
  *best = m->next;
  gpu->cu->cuModuleUnload(m->mod);
  gpu->st.module_bytes -= m->charge;
  gpu->st.memory_bytes -= m->charge;
  gpu->st.modules_cached--;
  tw__free(m);
  return true;
}

int tw__gpu_charge(tw_gpu_t *gpu, uint64_t n, uint64_t *counter,
                   const char *what, char *err, size_t errlen) {
  pthread_mutex_lock(&gpu->mu);
  while (gpu->st.memory_bytes + n > gpu->cfg.memory_quota ||
         gpu->st.memory_bytes + n < n) {
    if (!evict_one(gpu)) {
      uint64_t used = gpu->st.memory_bytes;
      pthread_mutex_unlock(&gpu->mu);
      char msg[256];
      snprintf(msg, sizeof msg,
               "GPU memory quota exceeded: %s needs %llu bytes; the tenant "
               "uses %llu of %llu",
               what, (unsigned long long)n, (unsigned long long)used,
               (unsigned long long)gpu->cfg.memory_quota);
      tw__gpu_note_refusal(gpu, msg);
      return tw__err(TW_CUDA_EQUOTA, err, errlen, "%s", msg);
    }
  }
  gpu->st.memory_bytes += n;
  *counter += n;
  pthread_mutex_unlock(&gpu->mu);
  return 0;
}

void tw__gpu_note_refusal(tw_gpu_t *gpu, const char *msg) {
  pthread_mutex_lock(&gpu->mu);
  gpu->st.quota_refusals++;
  snprintf(gpu->refusal_msg, sizeof gpu->refusal_msg, "%s",
           msg && msg[0] ? msg : "GPU memory quota exceeded");
  pthread_mutex_unlock(&gpu->mu);
}

void tw__gpu_uncharge(tw_gpu_t *gpu, uint64_t n, uint64_t *counter) {
  pthread_mutex_lock(&gpu->mu);
  gpu->st.memory_bytes -= n;
  *counter -= n;
  pthread_mutex_unlock(&gpu->mu);
}

/* ---- module cache ---- */

int tw__gpu_module_get(tw_gpu_t *gpu, const char *ptx, size_t len,
                       struct tw__gpu_module **out, char *err,
                       size_t errlen) {
  uint8_t d[TW_HASH_LEN];
  tw__blake3(ptx, len, d);
  pthread_mutex_lock(&gpu->mu);
  if (gpu->poisoned) {
    pthread_mutex_unlock(&gpu->mu);
    return tw__err(TW_CUDA_ELOST, err, errlen,
                   "the GPU context is lost after an earlier fault (%s)",
                   gpu->poison_msg);
  }
  for (struct tw__gpu_module *m = gpu->modules; m; m = m->next) {
    if (m->len == len && memcmp(m->digest, d, sizeof d) == 0) {
      m->refs++;
      m->last_use = ++gpu->clock;
      gpu->st.module_cache_hits++;
      pthread_mutex_unlock(&gpu->mu);
      *out = m;
      return 0;
    }
  }
  pthread_mutex_unlock(&gpu->mu);

  /* A module's device footprint is not reported by the driver; charge
   * its PTX size plus a page as a stand-in (docs/GPU.md). */
  uint64_t charge = (uint64_t)len + 4096;
  struct tw__gpu_module *m = tw__calloc(1, sizeof *m);
  char *text = tw__malloc(len + 1); /* the driver wants a C string */
  if (!m || !text) {
    tw__free(m);
    tw__free(text);
    return tw__err(TW_CUDA_ELIMIT, err, errlen, "out of host memory");
  }
  memcpy(text, ptx, len);
  text[len] = '\0';
  m->len = len;
  memcpy(m->digest, d, sizeof d);
  int rc = tw__gpu_charge(gpu, charge, &gpu->st.module_bytes, "loading PTX",
                          err, errlen);
  if (rc) {
    tw__free(text);
    tw__free(m);
    return rc;
  }
  m->charge = charge;
  char *log = tw__calloc(1, 16384);
  CUjit_option opts[2] = {CU_JIT_ERROR_LOG_BUFFER,
                          CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES};
  void *vals[2] = {log, (void *)(uintptr_t)(log ? 16384 : 0)};
  CUresult r = gpu->cu->cuModuleLoadDataEx(&m->mod, text, log ? 2 : 0,
                                           opts, vals);
  if (r != CUDA_SUCCESS) {
    if (r == CUDA_ERROR_INVALID_PTX || r == CUDA_ERROR_INVALID_IMAGE ||
        r == 222 /* UNSUPPORTED_PTX_VERSION */ || r == 209 /* NO_BINARY */) {
      char m2[160];
      tw__gpu_cuda_msg(gpu->cu, r, m2, sizeof m2);
      rc = tw__err(TW_CUDA_EPTX, err, errlen, "PTX rejected: %s%s%s", m2,
                   log && log[0] ? "\n" : "", log ? log : "");
    } else {
      rc = tw__gpu_fail(gpu, r, "cuModuleLoadDataEx", err, errlen);
    }
    tw__free(log);
    tw__gpu_uncharge(gpu, charge, &gpu->st.module_bytes);
    tw__free(text);
    tw__free(m);
    return rc;
  }
  tw__free(text);
  tw__free(log);
  pthread_mutex_lock(&gpu->mu);
  m->refs = 1;
  m->last_use = ++gpu->clock;
  m->next = gpu->modules;
  gpu->modules = m;
  gpu->st.modules_loaded++;
  gpu->st.modules_cached++;
  pthread_mutex_unlock(&gpu->mu);
  *out = m;
  return 0;
}

void tw__gpu_module_put(tw_gpu_t *gpu, struct tw__gpu_module *m) {
  pthread_mutex_lock(&gpu->mu);
  m->refs--;
  uint32_t unused = 0;
  for (struct tw__gpu_module *x = gpu->modules; x; x = x->next)
    unused += x->refs == 0;
  while (unused-- > gpu->cfg.module_cache && evict_one(gpu)) {
  }
  pthread_mutex_unlock(&gpu->mu);
}

/* ---- instances ---- */

struct tw__gpu_inst *tw__gpu_inst_get(tw_gpu_t *gpu, tw_instance_t *inst) {
  pthread_mutex_lock(&gpu->mu);
  /* O(instances of this tenant) with move-to-front: a handful live at a
   * time in a worker. */
  struct tw__gpu_inst **pp = &gpu->insts;
  for (; *pp; pp = &(*pp)->next) {
    if ((*pp)->inst != inst) continue;
    struct tw__gpu_inst *gi = *pp;
    *pp = gi->next;
    gi->next = gpu->insts;
    gpu->insts = gi;
    pthread_mutex_unlock(&gpu->mu);
    return gi;
  }
  struct tw__gpu_inst *gi = tw__calloc(1, sizeof *gi);
  if (gi) gi->kernels = tw__calloc(gpu->cfg.max_kernels, sizeof gi->kernels[0]);
  if (!gi || !gi->kernels) {
    if (gi) tw__free(gi);
    pthread_mutex_unlock(&gpu->mu);
    return NULL;
  }
  gi->inst = inst;
  gi->serial = gpu->serial_next++ & 0x7fffff;
  if (gi->serial == 0) gi->serial = gpu->serial_next++ & 0x7fffff;
  gi->next = gpu->insts;
  gpu->insts = gi;
  gpu->st.instances++;
  pthread_mutex_unlock(&gpu->mu);
  return gi;
}

int tw__gpu_inst_sync(tw_gpu_t *gpu, struct tw__gpu_inst *gi,
                      uint64_t deadline_ns, char *err, size_t errlen) {
  int rc = 0;
  if (gi->stream) {
    const struct tw__cuda *cu = gpu->cu;
    CUresult r;
    if (deadline_ns == UINT64_MAX) {
      r = cu->cuStreamSynchronize(gi->stream);
    } else {
      /* Poll so that a kernel running past the call's deadline does not
       * hold the host function: spin briefly (launch latency matters),
       * then yield, then sleep. */
      uint64_t start = tw__now_ns();
      for (;;) {
        r = cu->cuStreamQuery(gi->stream);
        if (r != CUDA_ERROR_NOT_READY) break;
        uint64_t now = tw__now_ns();
        if (now >= deadline_ns) break;
        if (now - start > 2000000) {
          struct timespec ts = {0, 50000};
          nanosleep(&ts, NULL);
        } else if (now - start > 100000) {
          sched_yield();
        }
      }
    }
    if (r == CUDA_ERROR_NOT_READY) {
      /* The kernel keeps running: the context cannot be reused safely. */
      pthread_mutex_lock(&gpu->mu);
      gpu->poisoned = true;
      snprintf(gpu->poison_msg, sizeof gpu->poison_msg,
               "a kernel ran past the call's deadline");
      pthread_mutex_unlock(&gpu->mu);
      rc = tw__err(TW_CUDA_EDEADLINE, err, errlen,
                   "deadline exceeded while waiting for the GPU");
    } else if (r != CUDA_SUCCESS) {
      rc = tw__gpu_fail(gpu, r, "kernel execution", err, errlen);
    }
  }
  pthread_mutex_lock(&gpu->mu);
  gpu->st.permits_in_use -= gi->inflight;
  gi->inflight = 0;
  gpu->st.syncs++;
  pthread_cond_broadcast(&gpu->cv);
  pthread_mutex_unlock(&gpu->mu);
  return rc;
}

int tw__gpu_permit_take(tw_gpu_t *gpu, struct tw__gpu_inst *gi,
                        uint64_t deadline_ns, char *err, size_t errlen) {
  pthread_mutex_lock(&gpu->mu);
  while (gpu->st.permits_in_use >= gpu->cfg.max_inflight) {
    if (gi->inflight > 0) {
      /* Back-pressure on our own stream: wait for our launches. */
      pthread_mutex_unlock(&gpu->mu);
      int rc = tw__gpu_inst_sync(gpu, gi, deadline_ns, err, errlen);
      if (rc) return rc;
      pthread_mutex_lock(&gpu->mu);
      continue;
    }
    if (deadline_ns == UINT64_MAX) {
      pthread_cond_wait(&gpu->cv, &gpu->mu);
    } else {
      uint64_t now = tw__now_ns();
      if (now >= deadline_ns) {
        pthread_mutex_unlock(&gpu->mu);
        return tw__err(TW_CUDA_EBUSY, err, errlen,
                       "%u launches of this tenant are in flight (the "
                       "limit); none finished before the deadline",
                       gpu->cfg.max_inflight);
      }
      /* tw__now_ns is CLOCK_MONOTONIC; the condvar waits on REALTIME:
       * wait in slices of at most 10 ms and re-check. */
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      uint64_t slice = deadline_ns - now;
      if (slice > 10000000) slice = 10000000;
      ts.tv_nsec += (long)slice;
      if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
      }
      pthread_cond_timedwait(&gpu->cv, &gpu->mu, &ts);
    }
  }
  gpu->st.permits_in_use++;
  gi->inflight++;
  pthread_mutex_unlock(&gpu->mu);
  return 0;
}

void tw__gpu_inst_unpin(tw_gpu_t *gpu, struct tw__gpu_inst *gi) {
  if (!gi->nranges) return;
  tw__gpu_make_current(gpu);
  /* Kernels may still read the pages: wait for them first (errors were
   * or will be reported by sync; here only the order matters). */
  tw__gpu_inst_sync(gpu, gi, UINT64_MAX, NULL, 0);
  for (uint32_t i = gi->nranges; i-- > 0;) {
    gpu->cu->cuMemHostUnregister(gi->mem_base + gi->ranges[i].off);
    tw__gpu_uncharge(gpu, gi->ranges[i].len, &gpu->st.pinned_bytes);
    pthread_mutex_lock(&gpu->mu);
    gpu->st.unregistrations++;
    pthread_mutex_unlock(&gpu->mu);
  }
  gi->nranges = 0;
  gi->registered_len = 0;
}

static void inst_free(tw_gpu_t *gpu, struct tw__gpu_inst *gi) {
  tw__gpu_inst_sync(gpu, gi, UINT64_MAX, NULL, 0);
  tw__gpu_inst_unpin(gpu, gi);
  for (uint32_t i = 0; i < gi->nbufs; i++)
    if (gi->bufs[i].size) {
      gpu->cu->cuMemFree_v2(gi->bufs[i].d);
      tw__gpu_uncharge(gpu, gi->bufs[i].size, &gpu->st.buffer_bytes);
    }
  for (uint32_t i = 0; i < gi->nkernels; i++) {
    tw__gpu_module_put(gpu, gi->kernels[i]->mod);
    tw__free(gi->kernels[i]);
  }
  if (gi->stream) gpu->cu->cuStreamDestroy_v2(gi->stream);
  pthread_mutex_lock(&gpu->mu);
  gpu->st.instances--;
  pthread_mutex_unlock(&gpu->mu);
  tw__free(gi->kernels);
  tw__free(gi->bufs);
  tw__free(gi->last_error);
  tw__free(gi);
}

static struct tw__gpu_inst *inst_unlink(tw_gpu_t *gpu, tw_instance_t *inst) {
  pthread_mutex_lock(&gpu->mu);
  for (struct tw__gpu_inst **pp = &gpu->insts; *pp; pp = &(*pp)->next) {
    if ((*pp)->inst != inst) continue;
    struct tw__gpu_inst *gi = *pp;
    *pp = gi->next;
    pthread_mutex_unlock(&gpu->mu);
    return gi;
  }
  pthread_mutex_unlock(&gpu->mu);
  return NULL;
}

void tw_gpu_instance_release(tw_gpu_t *gpu, tw_instance_t *inst) {
  if (!gpu || !inst) return;
  struct tw__gpu_inst *gi = inst_unlink(gpu, inst);
  if (!gi) return;
  tw__gpu_make_current(gpu);
  inst_free(gpu, gi);
}

void tw_gpu_instance_unpin(tw_gpu_t *gpu, tw_instance_t *inst) {
  if (!gpu || !inst) return;
  pthread_mutex_lock(&gpu->mu);
  struct tw__gpu_inst *gi = gpu->insts;
  while (gi && gi->inst != inst) gi = gi->next;
  pthread_mutex_unlock(&gpu->mu);
  if (gi) tw__gpu_inst_unpin(gpu, gi);
}
