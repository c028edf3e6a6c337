/* The one file that owns dlopen/dlsym for CUDA: loads libcuda.so.1 (and
 * nvJitLink, NVRTC where present) into the table of cuda_api.h, or fills
 * it with the mock. Tables are loaded once per process and never
 * unloaded (the driver keeps threads and state of its own), so pointers
 * to them stay valid for the process's life.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gpu/gpu_int.h"

static pthread_mutex_t load_mu = PTHREAD_MUTEX_INITIALIZER;
static struct tw__cuda real_table, mock_table;
static int real_state, mock_state; /* 0 not tried, 1 ok, -1 failed */
static char real_error[256];

static void *open_first(const char *const *names) {
  for (size_t i = 0; names[i]; i++) {
    void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    if (h) return h;
  }
  return NULL;
}

/* Optional helper libraries: loaded whole or not at all. */
static void load_helpers(struct tw__cuda *t) {
  static const char *const jitlink_names[] = {
      "libnvJitLink.so.13", "libnvJitLink.so.12", "libnvJitLink.so",
      "/usr/local/cuda/lib64/libnvJitLink.so", NULL};
  static const char *const nvrtc_names[] = {
      "libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so",
      "/usr/local/cuda/lib64/libnvrtc.so", NULL};
  void *h = open_first(jitlink_names);
  if (h) {
    int ok = 1;
#define TW_LOAD_(ret, name, params)                                         \
  if (ok && !(*(void **)(&t->name) = dlsym(h, #name))) ok = 0;
    TW_NVJITLINK_SYMBOLS(TW_LOAD_)
#undef TW_LOAD_
    t->has_jitlink = ok;
    t->lib_jitlink = h;
  }
  h = open_first(nvrtc_names);
  if (h) {
    int ok = 1;
#define TW_LOAD_(ret, name, params)                                         \
  if (ok && !(*(void **)(&t->name) = dlsym(h, #name))) ok = 0;
    TW_NVRTC_SYMBOLS(TW_LOAD_)
#undef TW_LOAD_
    t->has_nvrtc = ok;
    t->lib_nvrtc = h;
  }
}

static int load_real(char *err, size_t errlen) {
  struct tw__cuda *t = &real_table;
  void *h = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *e = dlerror();
    return tw__err(TW_EUNSUPPORTED, err, errlen,
                   "no NVIDIA driver: cannot load libcuda.so.1 (%s)",
                   e ? e : "not found");
  }
  t->lib_cuda = h;
#define TW_LOAD_(ret, name, params)                                         \
  if (!(*(void **)(&t->name) = dlsym(h, #name)))                            \
    return tw__err(TW_EUNSUPPORTED, err, errlen,                            \
                   "libcuda.so.1 lacks %s: driver too old", #name);
  TW_CUDA_SYMBOLS(TW_LOAD_)
#undef TW_LOAD_
#define TW_LOAD_OPT_(ret, name, params) *(void **)(&t->name) = dlsym(h, #name);
  TW_CUDA_OPTIONAL_SYMBOLS(TW_LOAD_OPT_)
#undef TW_LOAD_OPT_
  CUresult r = t->cuInit(0);
  if (r != CUDA_SUCCESS) {
    char m[160];
    tw__gpu_cuda_msg(t, r, m, sizeof m);
    return tw__err(TW_EUNSUPPORTED, err, errlen, "cuInit failed: %s", m);
  }
  load_helpers(t);
  return 0;
}

const struct tw__cuda *tw__gpu_driver(tw_gpu_backend_t backend, char *err,
                                      size_t errlen) {
  if (backend == TW_GPU_BACKEND_AUTO) {
    const char *m = getenv("TW_GPU_MOCK");
    backend = m && m[0] == '1' ? TW_GPU_BACKEND_MOCK : TW_GPU_BACKEND_CUDA;
  }
  const struct tw__cuda *out = NULL;
  pthread_mutex_lock(&load_mu);
  if (backend == TW_GPU_BACKEND_MOCK) {
    if (mock_state == 0) {
      tw__gpu_mock_fill(&mock_table);
      load_helpers(&mock_table); /* nvJitLink checks PTX for the mock */
      mock_table.cuInit(0);
      mock_state = 1;
    }
    out = &mock_table;
  } else {
    if (real_state == 0)
      real_state =
          load_real(real_error, sizeof real_error) == 0 ? 1 : -1;
    if (real_state == 1)
      out = &real_table;
    else
      tw__err(TW_EUNSUPPORTED, err, errlen, "%s", real_error);
  }
  pthread_mutex_unlock(&load_mu);
  return out;
}

void tw__gpu_cuda_msg(const struct tw__cuda *cu, CUresult r, char *out,
                      size_t len) {
  const char *name = NULL, *str = NULL;
  if (cu && cu->cuGetErrorName) cu->cuGetErrorName(r, &name);
  if (cu && cu->cuGetErrorString) cu->cuGetErrorString(r, &str);
  snprintf(out, len, "%s (%d): %s", name ? name : "CUDA error", (int)r,
           str ? str : "unknown error");
}

bool tw__gpu_cuda_sticky(CUresult r) {
  /* The driver documents these as leaving the context unusable. */
  switch (r) {
  case CUDA_ERROR_ILLEGAL_ADDRESS:
  case CUDA_ERROR_LAUNCH_TIMEOUT:
  case CUDA_ERROR_LAUNCH_FAILED:
  case 714: /* HARDWARE_STACK_ERROR */
  case 715: /* ILLEGAL_INSTRUCTION */
  case 716: /* MISALIGNED_ADDRESS */
  case 717: /* INVALID_ADDRESS_SPACE */
  case 718: /* INVALID_PC */
  case 999: /* UNKNOWN */
    return true;
  default:
    return false;
  }
}

int tw__gpu_jitlink_check(const struct tw__cuda *cu, const char *ptx,
                          size_t len, int cc, char *log, size_t loglen) {
  if (!cu->has_jitlink) return 1;
  char arch[32];
  snprintf(arch, sizeof arch, "-arch=sm_%d", cc);
  const char *opts[] = {arch};
  nvJitLinkHandle h = NULL;
  if (cu->nvJitLinkCreate(&h, 1, opts) != 0) return 1;
  int rc = 0;
  if (cu->nvJitLinkAddData(h, TW_NVJITLINK_INPUT_PTX, ptx, len, "guest.ptx") !=
          0 ||
      cu->nvJitLinkComplete(h) != 0) {
    size_t n = 0;
    rc = -1;
    if (log && loglen) {
      log[0] = '\0';
      if (cu->nvJitLinkGetErrorLogSize(h, &n) == 0 && n > 0) {
        char *buf = malloc(n + 1);
        if (buf && cu->nvJitLinkGetErrorLog(h, buf) == 0) {
          buf[n] = '\0';
          snprintf(log, loglen, "%s", buf);
        }
        free(buf);
      }
      if (!log[0]) snprintf(log, loglen, "nvJitLink rejected the PTX");
    }
  }
  cu->nvJitLinkDestroy(&h);
  return rc;
}

/* ---- tw_gpu_probe ---- */

static void probe_mps(tw_gpu_system_info_t *o) {
  const char *dir = getenv("CUDA_MPS_PIPE_DIRECTORY");
  if (!dir || !*dir) dir = "/tmp/nvidia-mps";
  char path[300];
  snprintf(path, sizeof path, "%s/control", dir);
  FILE *f = fopen(path, "r");
  snprintf(o->mps_pipe_dir, sizeof o->mps_pipe_dir, "%s", dir);
  /* The control pipe is a FIFO: test for existence without opening it
   * for reading (which would block). */
  if (f) fclose(f);
  o->mps_pipe_present = access(path, F_OK) == 0;
}

static void probe_mig(tw_gpu_system_info_t *o) {
  /* The driver exposes MIG capabilities under /proc; their presence with
   * GPU instances means MIG mode is on. Unknown when unreadable. */
  o->mig_enabled = -1;
  if (access("/proc/driver/nvidia/capabilities/mig", F_OK) != 0) return;
  o->mig_enabled = access("/proc/driver/nvidia/capabilities/gpu0/mig/gi1",
                          F_OK) == 0
                       ? 1
                       : 0;
}

int tw_gpu_probe(tw_gpu_backend_t backend, tw_gpu_system_info_t *o) {
  if (!o) return TW_EINVAL;
  memset(o, 0, sizeof o[0]);
  probe_mps(o);
  probe_mig(o);
  const struct tw__cuda *cu =
      tw__gpu_driver(backend, o->driver_error, sizeof o->driver_error);
  if (!cu) {
    o->backend = TW_GPU_BACKEND_CUDA;
    return 0;
  }
  o->backend = cu->is_mock ? TW_GPU_BACKEND_MOCK : TW_GPU_BACKEND_CUDA;
  o->driver_loaded = 1;
  cu->cuDriverGetVersion(&o->driver_version);
  if (cu->has_jitlink) {
    unsigned a = 0, b = 0;
    if (cu->nvJitLinkVersion(&a, &b) == 0) {
      o->nvjitlink_major = (int)a;
      o->nvjitlink_minor = (int)b;
    }
  }
  if (cu->has_nvrtc) cu->nvrtcVersion(&o->nvrtc_major, &o->nvrtc_minor);
  int n = 0;
  CUresult r = cu->cuDeviceGetCount(&n);
  if (r != CUDA_SUCCESS || n <= 0) {
    if (r != CUDA_SUCCESS)
      tw__gpu_cuda_msg(cu, r, o->driver_error, sizeof o->driver_error);
    else
      snprintf(o->driver_error, sizeof o->driver_error,
               "the driver reports no CUDA device");
    return 0;
  }
  if (n > TW_GPU_MAX_DEVICES) n = TW_GPU_MAX_DEVICES;
  for (int i = 0; i < n; i++) {
    tw_gpu_device_info_t *d = &o->devices[o->ndevices];
    CUdevice dev;
    if (cu->cuDeviceGet(&dev, i) != CUDA_SUCCESS) continue;
    d->ordinal = i;
    if (cu->cuDeviceGetName(d->name, (int)sizeof d->name - 1, dev) !=
        CUDA_SUCCESS)
      snprintf(d->name, sizeof d->name, "device %d", i);
    size_t mem = 0;
    cu->cuDeviceTotalMem_v2(&mem, dev);
    d->total_memory = mem;
#define ATTR_(field, attr)                                                  \
  if (cu->cuDeviceGetAttribute(&d->field, attr, dev) != CUDA_SUCCESS)       \
    d->field = -1;
    ATTR_(cc_major, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR)
    ATTR_(cc_minor, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR)
    ATTR_(multiprocessors, CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT)
    ATTR_(max_threads_per_block, CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK)
    ATTR_(max_shared_per_block, CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK)
    ATTR_(max_shared_per_block_optin,
          CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN)
    ATTR_(unified_addressing, CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING)
    ATTR_(can_map_host_memory, CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY)
    ATTR_(pageable_memory_access, CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS)
    ATTR_(compute_mode, CU_DEVICE_ATTRIBUTE_COMPUTE_MODE)
    ATTR_(mps_enabled, CU_DEVICE_ATTRIBUTE_MPS_ENABLED)
    ATTR_(pci_bus, CU_DEVICE_ATTRIBUTE_PCI_BUS_ID)
    ATTR_(pci_device, CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID)
#undef ATTR_
    o->ndevices++;
  }
  return 0;
}
