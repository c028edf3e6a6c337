/* TensorWasm GPU API for embedders: wasi:cuda/host@0.2.0 host functions,
 * device discovery, and the supervisor of per-tenant GPU worker processes.
 *
 * Objects and who owns them:
 *   tw_gpu_t            one tenant's GPU state on one device: the driver
 *                       (or the mock), the device's primary context, the
 *                       PTX module cache, the tenant's quota and counters.
 *                       Instances linked with tw_linker_define_cuda() get
 *                       per-instance state (kernels, device buffers, a
 *                       stream, registered guest memory) created on their
 *                       first wasi:cuda call and released by
 *                       tw_gpu_instance_release(). Used by one thread at a
 *                       time per instance; the tenant-wide parts (quota,
 *                       permits, module cache) are locked.
 *   tw_gpu_supervisor_t the parent side of the worker processes: one
 *                       worker per (tenant, device), spares, restarts.
 *                       Thread-safe.
 *
 * CUDA does not isolate contexts inside one process (docs/GPU.md), so a
 * tw_gpu_t must only ever serve one tenant, and a process must not hold
 * tw_gpu_t objects of two tenants: servers run guests that import
 * wasi:cuda through the supervisor. In-process use (tw_gpu_open in the
 * embedder's own process) is for a single local user, like the CLI's
 * `run`.
 *
 * Nothing CUDA is needed to build or run this: the driver is loaded with
 * dlopen at run time, and TW_GPU_MOCK=1 (or backend = TW_GPU_BACKEND_MOCK)
 * selects a fake driver that simulates devices for tests.
 */
#ifndef TW_GPU_H
#define TW_GPU_H

#include "tw/tw.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Devices ---- */

typedef enum tw_gpu_backend {
  TW_GPU_BACKEND_AUTO = 0, /* the mock if TW_GPU_MOCK=1, else libcuda */
  TW_GPU_BACKEND_CUDA = 1, /* libcuda.so.1 */
  TW_GPU_BACKEND_MOCK = 2, /* the fake driver (tests, CI) */
} tw_gpu_backend_t;

#define TW_GPU_MAX_DEVICES 16

typedef struct tw_gpu_device_info {
  int ordinal;
  char name[128];
  int cc_major, cc_minor;
  uint64_t total_memory;
  int multiprocessors;
  int max_threads_per_block;
  int max_shared_per_block, max_shared_per_block_optin;
  int unified_addressing, can_map_host_memory, pageable_memory_access;
  int compute_mode;
  int mps_enabled; /* -1 unknown (attribute absent), 0, 1 */
  int pci_bus, pci_device;
} tw_gpu_device_info_t;

typedef struct tw_gpu_system_info {
  int backend;        /* tw_gpu_backend_t actually used */
  int driver_loaded;  /* libcuda (or the mock) was loaded */
  int driver_version; /* e.g. 13000 for 13.0; 0 when unknown */
  char driver_error[256]; /* why there is no GPU, when ndevices == 0 */
  int ndevices;
  tw_gpu_device_info_t devices[TW_GPU_MAX_DEVICES];
  int nvjitlink_major, nvjitlink_minor; /* 0 when not present */
  int nvrtc_major, nvrtc_minor;         /* 0 when not present */
  int mps_pipe_present; /* an MPS control pipe exists (MPS daemon up) */
  char mps_pipe_dir[256];
  int mig_enabled; /* -1 unknown, 0, 1 (from /proc/driver/nvidia) */
} tw_gpu_system_info_t;

/* Loads the driver and describes the devices. Returns 0 also when there
 * is no GPU (ndevices == 0, driver_error says why); fails only on bad
 * arguments. */
TW_API int tw_gpu_probe(tw_gpu_backend_t backend, tw_gpu_system_info_t *out);

/* ---- One tenant's GPU context ---- */

typedef struct tw_gpu tw_gpu_t;

typedef struct tw_gpu_config {
  tw_gpu_backend_t backend;
  int device; /* ordinal (default 0) */
  /* Hard cap on the tenant's GPU memory at our allocation points: device
   * buffers + pinned (registered) guest memory + loaded modules (default
   * 4 GiB). */
  uint64_t memory_quota;
  uint32_t max_inflight;   /* launches in flight per tenant (default 64) */
  uint32_t max_kernels;    /* kernels per instance over its life (256) */
  uint32_t max_ptx_bytes;  /* one load_ptx call (default 8 MiB) */
  uint32_t max_buffers;    /* device buffers per instance (default 4096) */
  uint32_t module_cache;   /* unused modules kept loaded (default 32) */
  /* Register guest memory for zero-copy pointers (tag 0x07); when 0,
   * launches that pass guest pointers fail (default 1). */
  int zero_copy;
} tw_gpu_config_t;

TW_API void tw_gpu_config_default(tw_gpu_config_t *cfg);

/* Opens the driver (or the mock), retains the device's primary context.
 * TW_EUNSUPPORTED with a message when there is no usable GPU. */
TW_API int tw_gpu_open(const tw_gpu_config_t *cfg, tw_gpu_t **out,
                       char *err, size_t errlen);
/* Releases every instance's state still held, the module cache and the
 * primary context. Instances' stores may be freed afterwards. */
TW_API void tw_gpu_close(tw_gpu_t *gpu);

/* Defines the wasi:cuda/host@0.2.0 functions (docs/CUDA-KERNELS.md) in
 * linker, bound to gpu. gpu must outlive every instance that uses it. */
TW_API int tw_linker_define_cuda(tw_linker_t *linker, tw_gpu_t *gpu);

/* Whether the module imports anything from wasi:cuda/host@0.2.0. */
TW_API bool tw_module_imports_cuda(const tw_module_t *module);

/* Waits for the instance's launches, frees its device buffers, unloads
 * its kernels' references, destroys its stream and unregisters its guest
 * memory. Must be called before the instance's store is freed (pinned
 * pages must be unregistered while still mapped). No-op for an instance
 * that never called wasi:cuda. */
TW_API void tw_gpu_instance_release(tw_gpu_t *gpu, tw_instance_t *inst);
/* Unregisters the instance's guest memory only (it is registered again
 * lazily by the next launch that passes a guest pointer). Call before
 * anything remaps the memory: reset, snapshot restore. */
TW_API void tw_gpu_instance_unpin(tw_gpu_t *gpu, tw_instance_t *inst);

/* Counters of one tenant's GPU context (tensor_wasm_gpu_* metrics). */
typedef struct tw_gpu_stats {
  uint64_t memory_bytes; /* buffers + pinned + modules: against quota */
  uint64_t buffer_bytes, pinned_bytes, module_bytes;
  uint64_t memory_quota;
  uint64_t launches, launch_errors, syncs;
  uint64_t registrations, unregistrations;
  uint64_t modules_loaded, module_cache_hits;
  uint32_t permits_in_use, permits_max;
  uint32_t instances, modules_cached;
  int device;
  int poisoned; /* a sticky device error: the context is unusable */
  /* Allocations refused by the quota, or because the device was out of
   * memory (the guest got TW_CUDA_EQUOTA, -7). */
  uint64_t quota_refusals;
} tw_gpu_stats_t;

TW_API void tw_gpu_get_stats(tw_gpu_t *gpu, tw_gpu_stats_t *out);

/* Whether a sticky error (illegal address, launch failure...) has made
 * the context unusable. A worker exits after such an error so that its
 * supervisor restarts it; an in-process user should close the tw_gpu_t. */
TW_API bool tw_gpu_poisoned(tw_gpu_t *gpu);

/* ---- Worker processes ---- */

/* The body of `tensor-wasm worker`: serves requests from the supervisor
 * on the inherited Unix socket `fd` until it is closed. Applies rlimits
 * and (unless TW_WORKER_NO_SECCOMP=1) the seccomp filter of docs/GPU.md
 * after the driver is initialised. Returns the process exit status. */
TW_API int tw_gpu_worker_main(int fd, int device, tw_gpu_backend_t backend);

typedef struct tw_gpu_supervisor tw_gpu_supervisor_t;

/* A tenant pinned to a device. */
typedef struct tw_gpu_pin {
  const char *tenant;
  int device;
} tw_gpu_pin_t;

typedef struct tw_gpu_supervisor_config {
  /* The tensor-wasm binary to run as `BINARY worker` (default: the
   * environment's TW_WORKER_BIN, else /proc/self/exe). */
  const char *worker_path;
  tw_gpu_backend_t backend;
  int ndevices;             /* 0: probe */
  uint32_t spares_per_device; /* pre-warmed workers kept ready (0) */
  uint64_t tenant_memory_quota; /* default 4 GiB */
  uint32_t max_inflight;        /* default 64 */
  uint32_t call_timeout_ms;     /* worker killed past it (default 60000) */
  uint32_t max_workers;         /* all devices together (default 256) */
  const tw_gpu_pin_t *pins;     /* copied */
  size_t npins;
  int no_seccomp; /* start workers with TW_WORKER_NO_SECCOMP=1 */
} tw_gpu_supervisor_config_t;

TW_API void tw_gpu_supervisor_config_default(tw_gpu_supervisor_config_t *c);
/* Creates the supervisor and starts the spares (without waiting for them
 * to be ready: see tw_gpu_supervisor_wait_spares). */
TW_API int tw_gpu_supervisor_new(const tw_gpu_supervisor_config_t *cfg,
                                 tw_gpu_supervisor_t **out, char *err,
                                 size_t errlen);
/* Stops every worker (closing its socket, then SIGKILL after 1 s). */
TW_API void tw_gpu_supervisor_free(tw_gpu_supervisor_t *sup);
/* Waits until every spare has initialised CUDA (up to timeout_ms);
 * returns the number ready. */
TW_API int tw_gpu_supervisor_wait_spares(tw_gpu_supervisor_t *sup,
                                         uint32_t timeout_ms);

/* One invocation. Typed mode (export_name set): calls the export with
 * args, results come back typed. WASI command mode (export_name NULL):
 * runs _start with stdin/argv, stdout/stderr come back as buffers. */
typedef struct tw_gpu_request {
  const char *tenant;     /* required; [A-Za-z0-9._-], at most 64 bytes */
  const uint8_t *module;  /* .wasm bytes */
  size_t module_len;
  const char *export_name; /* NULL: WASI _start */
  const tw_val_t *args;    /* typed mode (numbers only, no references) */
  size_t nargs;
  const uint8_t *stdin_data; /* WASI mode */
  size_t stdin_len;
  const char *const *argv; /* WASI mode: argv[0] is the program name */
  size_t argc;
  uint32_t timeout_ms; /* 0: the supervisor's call_timeout_ms */
  int device;          /* -1: placement decides */
} tw_gpu_request_t;

#define TW_GPU_MAX_RESULTS 16

typedef struct tw_gpu_result {
  int status;        /* 0, or a TW_E* code (TW_ETRAP, TW_EEXIT, ...) */
  int32_t exit_code; /* WASI mode, or when status is TW_EEXIT */
  size_t nresults;
  tw_val_t results[TW_GPU_MAX_RESULTS];
  uint8_t *stdout_data, *stderr_data; /* WASI mode; tw_gpu_result_free */
  size_t stdout_len, stderr_len;
  char message[512]; /* what went wrong, when status != 0 */
  int worker_crashed; /* the worker died during the call (restarted on the
                         next one) */
  int device;         /* where it ran */
  int from_spare;     /* the tenant's worker was a pre-warmed spare */
  int new_worker;     /* this call started the tenant's worker */
  /* An allocation of this call was refused by the tenant's GPU memory
   * quota (or the device was out of memory); message says which, also
   * when the guest carried on and status is 0. */
  int quota_exceeded;
  tw_gpu_stats_t stats; /* the tenant's counters after the call */
} tw_gpu_result_t;

/* Runs one invocation in the tenant's worker (starting it, or taking a
 * spare, when there is none). Returns 0 when the call went through the
 * worker (result->status says how the guest did), or a negative TW_E*
 * code with result->message when it could not (bad request, worker could
 * not start, worker crashed: result->worker_crashed). Free the result
 * with tw_gpu_result_free. */
TW_API int tw_gpu_supervisor_invoke(tw_gpu_supervisor_t *sup,
                                    const tw_gpu_request_t *req,
                                    tw_gpu_result_t *result);
TW_API void tw_gpu_result_free(tw_gpu_result_t *result);

/* Supervisor-wide and per-tenant counters in Prometheus text format
 * (tensor_wasm_gpu_memory_bytes_per_tenant{tenant=..}, launches, permits
 * in use, workers, restarts), appended to buf (NUL-terminated, truncated
 * at len). Returns the length it needed. */
TW_API size_t tw_gpu_supervisor_metrics(tw_gpu_supervisor_t *sup, char *buf,
                                        size_t len);

/* The tenant's worker process id on `device` (0 when none): for tests and
 * operators. */
TW_API int tw_gpu_supervisor_worker_pid(tw_gpu_supervisor_t *sup,
                                        const char *tenant, int device);

#ifdef __cplusplus
}
#endif

#endif
