/* Internals of the GPU subsystem (src/gpu/): the driver table, the mock's
 * test controls, the PTX signature reader, argv lowering, the worker wire
 * protocol. Nothing outside src/gpu/ and tests/gpu/ includes this.
 */
#ifndef TW_GPU_GPU_INT_H
#define TW_GPU_GPU_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/base.h"
#include "gpu/cuda_api.h"
#include "tw/gpu.h"

/* ---- Guest-visible error codes (docs/CUDA-KERNELS.md) ----
 * X(NAME, value, meaning). Every wasi:cuda function returns one of these
 * (negative) on failure and leaves a message for last_error. */
#define TW_CUDA_ERRORS(X)                                                   \
  X(INVAL, -1, "invalid argument")                                          \
  X(BOUNDS, -2, "pointer or length outside guest memory")                   \
  X(PTX, -3, "PTX rejected")                                                \
  X(NOTFOUND, -4, "no such kernel entry")                                   \
  X(BADID, -5, "unknown kernel or buffer id")                               \
  X(LIMIT, -6, "limit exceeded")                                            \
  X(QUOTA, -7, "GPU memory quota exceeded")                                 \
  X(ARGV, -8, "malformed kernel arguments")                                 \
  X(DIMS, -9, "grid, block or shared memory out of range")                  \
  X(DEVICE, -10, "device error")                                            \
  X(LOST, -11, "GPU context lost after a fault")                            \
  X(NODEV, -12, "no GPU available")                                         \
  X(BUSY, -13, "too many launches in flight")                               \
  X(DEADLINE, -14, "deadline exceeded while waiting for the GPU")

enum tw__cuda_err {
#define TW_CUDA_ERR_ENUM_(name, value, msg) TW_CUDA_E##name = value,
  TW_CUDA_ERRORS(TW_CUDA_ERR_ENUM_)
#undef TW_CUDA_ERR_ENUM_
};
const char *tw__cuda_strerror(int code);

/* ---- driver.c ---- */

/* The process-wide driver table for `backend` (AUTO: mock when
 * TW_GPU_MOCK=1), loaded once and kept for the process's life; cuInit has
 * been called. NULL with a message when the driver cannot be loaded or
 * initialised. */
const struct tw__cuda *tw__gpu_driver(tw_gpu_backend_t backend, char *err,
                                      size_t errlen);
/* "CUDA_ERROR_ILLEGAL_ADDRESS (700): an illegal memory access..." */
void tw__gpu_cuda_msg(const struct tw__cuda *cu, CUresult r, char *out,
                      size_t len);
/* Errors after which the context is unusable (700, 719, ...). */
bool tw__gpu_cuda_sticky(CUresult r);
/* Compiles PTX for sm_<cc> with nvJitLink (when loaded) to check it.
 * Returns 0, 1 when nvJitLink is absent, or -1 with the log in `log`. */
int tw__gpu_jitlink_check(const struct tw__cuda *cu, const char *ptx,
                          size_t len, int cc, char *log, size_t loglen);

/* ---- mock.c ---- */

/* Fills t with the fake driver. */
void tw__gpu_mock_fill(struct tw__cuda *t);

enum tw__gpu_mock_fault {
  TW__MOCK_FAULT_NONE = 0,
  TW__MOCK_FAULT_OOM,      /* next cuMemAlloc: CUDA_ERROR_OUT_OF_MEMORY */
  TW__MOCK_FAULT_LAUNCH,   /* next cuLaunchKernel: CUDA_ERROR_LAUNCH_FAILED */
  TW__MOCK_FAULT_ILLEGAL,  /* next launch faults at sync: 700, sticky */
  TW__MOCK_FAULT_REGISTER, /* next cuMemHostRegister fails */
};
/* Test controls. The mock is process-wide state. */
void tw__gpu_mock_inject(enum tw__gpu_mock_fault fault);
void tw__gpu_mock_reset(void); /* clears faults, poison, counters */
struct tw__gpu_mock_counters {
  uint64_t launches, allocs, frees, registers, unregisters, modules_loaded;
  uint64_t live_allocs, live_registered, live_modules;
  uint64_t registered_bytes;
  unsigned last_grid[3], last_block[3], last_shared;
  char last_entry[64];
  /* Order log of register (R) / unregister (U) calls, oldest first. */
  char reg_log[64];
};
void tw__gpu_mock_counters(struct tw__gpu_mock_counters *out);

/* ---- ptx.c ---- */

#define TW__GPU_MAX_PARAMS 64
struct tw__gpu_param {
  uint32_t size;  /* bytes: 4 or 8 */
  char type[8];   /* ".u32", ".u64", ".f32" ... or ".b8" for arrays */
};

/* Checks PTX superficially (a .version and a .target directive, no NUL)
 * and reads the parameter list of `.entry NAME(...)`: TW_ENOTFOUND
 * (message lists the entries there are), TW_EINVAL for a PTX we cannot
 * read, TW_EUNSUPPORTED for parameters other than 4/8-byte scalars. */
int tw__gpu_ptx_entry(const char *ptx, size_t len, const char *entry,
                      struct tw__gpu_param *params, uint32_t *nparams,
                      char *err, size_t errlen);
/* Whether s[0..n) is a PTX identifier ([A-Za-z_$][A-Za-z0-9_$]*). */
bool tw__gpu_ptx_ident(const char *s, size_t n);

/* ---- argv.c ---- */

/* argv tags (docs/CUDA-KERNELS.md has the byte table). */
enum {
  TW_CUDA_ARG_I32 = 0x01,
  TW_CUDA_ARG_I64 = 0x02,
  TW_CUDA_ARG_F32 = 0x03,
  TW_CUDA_ARG_F64 = 0x04,
  TW_CUDA_ARG_U32 = 0x05,
  TW_CUDA_ARG_U64 = 0x06,
  TW_CUDA_ARG_GUEST_PTR = 0x07, /* u32 offset, u32 length */
  TW_CUDA_ARG_BUFFER = 0x08,    /* u64 handle, u64 byte offset */
};
#define TW__GPU_MAX_ARGV_BYTES 4096

/* One decoded argv record. */
struct tw__gpu_arg {
  uint8_t tag;
  uint32_t at; /* byte offset of the record in argv */
  uint64_t a;  /* the value, or the offset / the handle */
  uint64_t b;  /* pointer length / buffer offset */
};

/* Decodes argv into at most `max` records, checking it against the
 * kernel's parameters (count, sizes). TW_CUDA_EARGV with a message that
 * names the record and byte on failure. */
int tw__gpu_argv_decode(const uint8_t *argv, size_t len,
                        const struct tw__gpu_param *params, uint32_t nparams,
                        struct tw__gpu_arg *out, char *err, size_t errlen);


/* ---- context.c: one tenant's GPU state (struct tw_gpu) ---- */

struct tw__gpu_module {
  uint8_t digest[32]; /* BLAKE3 of the PTX: the cache key */
  size_t len;
  CUmodule mod;
  uint32_t refs;   /* kernels using it */
  uint64_t last_use;
  uint64_t charge; /* bytes counted against the quota */
  struct tw__gpu_module *next;
};

struct tw__gpu_kernel {
  struct tw__gpu_module *mod;
  CUfunction fn;
  struct tw__gpu_param params[TW__GPU_MAX_PARAMS];
  uint32_t nparams;
  int max_threads, static_shared, dyn_shared_max;
  char name[64]; /* for messages (truncated) */
};

struct tw__gpu_buffer {
  CUdeviceptr d;
  uint64_t size; /* 0: free slot */
};

/* A registered (pinned) piece of guest memory [off, off+len). */
struct tw__gpu_range {
  uint64_t off, len;
  CUdeviceptr dptr;
};
#define TW__GPU_MAX_RANGES 32

struct tw__gpu_inst {
  tw_instance_t *inst;
  uint32_t serial; /* 23 bits: kernel ids and buffer handles carry it */
  CUstream stream;
  struct tw__gpu_kernel **kernels; /* [cfg.max_kernels] */
  uint32_t nkernels;
  struct tw__gpu_buffer *bufs;
  uint32_t nbufs, bufs_cap;
  uint8_t *mem_base; /* guest memory the ranges belong to */
  struct tw__gpu_range ranges[TW__GPU_MAX_RANGES];
  uint32_t nranges;
  uint64_t registered_len;
  uint32_t inflight; /* permits held (launches since the last sync) */
  char *last_error;
  size_t last_error_len;
  struct tw__gpu_inst *next;
};

struct tw_gpu {
  const struct tw__cuda *cu;
  tw_gpu_config_t cfg;
  CUdevice dev;
  CUcontext ctx;
  int cc; /* 90 for sm_90 */
  int lim_threads, lim_block[3], lim_grid[3], lim_shared, lim_shared_optin;
  pthread_mutex_t mu; /* everything below */
  pthread_cond_t cv;  /* permits */
  tw_gpu_stats_t st;
  struct tw__gpu_module *modules;
  struct tw__gpu_inst *insts;
  uint32_t serial_next;
  uint64_t clock; /* LRU ticks */
  bool poisoned;
  char poison_msg[256];
  char refusal_msg[256]; /* the last quota refusal's message */
};

/* Makes gpu's context current on this thread (cheap when it is). */
int tw__gpu_make_current(tw_gpu_t *gpu);
/* The instance's state, created on first use (NULL: out of memory). */
struct tw__gpu_inst *tw__gpu_inst_get(tw_gpu_t *gpu, tw_instance_t *inst);
/* Charges n bytes against the quota (evicting unused modules first);
 * TW_CUDA_EQUOTA with a message when it does not fit. Locks gpu->mu. */
int tw__gpu_charge(tw_gpu_t *gpu, uint64_t n, uint64_t *counter,
                   const char *what, char *err, size_t errlen);
void tw__gpu_uncharge(tw_gpu_t *gpu, uint64_t n, uint64_t *counter);
/* Counts a refused allocation (quota, or the device out of memory) and
 * keeps its message for the worker's reply. Locks gpu->mu. */
void tw__gpu_note_refusal(tw_gpu_t *gpu, const char *msg);
/* The cached module for ptx (a reference for the caller), loading it on a
 * miss. TW_CUDA_EPTX with the JIT log, TW_CUDA_EQUOTA, TW_CUDA_ELOST. */
int tw__gpu_module_get(tw_gpu_t *gpu, const char *ptx, size_t len,
                       struct tw__gpu_module **out, char *err, size_t errlen);
void tw__gpu_module_put(tw_gpu_t *gpu, struct tw__gpu_module *m);
/* Records a driver error: poisons the context when it is sticky, and
 * formats the message. Returns TW_CUDA_ELOST or TW_CUDA_EDEVICE. */
int tw__gpu_fail(tw_gpu_t *gpu, CUresult r, const char *what, char *err,
                 size_t errlen);
/* Waits for the instance's stream (until deadline_ns, UINT64_MAX none)
 * and returns its permits. 0, TW_CUDA_EDEADLINE, or a driver failure. */
int tw__gpu_inst_sync(tw_gpu_t *gpu, struct tw__gpu_inst *gi,
                      uint64_t deadline_ns, char *err, size_t errlen);
/* Takes one launch permit (waiting, or syncing the instance's own stream
 * when it holds some). */
int tw__gpu_permit_take(tw_gpu_t *gpu, struct tw__gpu_inst *gi,
                        uint64_t deadline_ns, char *err, size_t errlen);
/* Unregisters the instance's pinned ranges (after its stream is idle). */
void tw__gpu_inst_unpin(tw_gpu_t *gpu, struct tw__gpu_inst *gi);

/* ---- worker protocol (proto.c) ----
 * Messages are SOCK_SEQPACKET datagrams: a fixed header, optionally one
 * memfd with the body (SCM_RIGHTS). Byte tables in docs/GPU.md. */
#define TW__GPU_PROTO_MAGIC 0x54574750u /* "PGWT" little-endian */
#define TW__GPU_PROTO_VERSION 2

enum tw__gpu_op {
  TW__GPU_OP_HELLO = 1,  /* worker -> parent once CUDA is up */
  TW__GPU_OP_ASSIGN = 2, /* bind the worker to a tenant, for life */
  TW__GPU_OP_INVOKE = 3, /* typed export call */
  TW__GPU_OP_RUN = 4,    /* WASI _start with buffers */
  TW__GPU_OP_STATS = 5,
  TW__GPU_OP_PROBE = 6,  /* report what the sandbox allows (tests) */
  TW__GPU_OP_REPLY = 0x80,
};

struct tw__gpu_msg {
  uint32_t magic, version, op, seq;
  int32_t status; /* replies: 0 or TW_E* */
  int32_t exit_code;
  uint32_t timeout_ms;
  uint32_t nvals;         /* typed args or results */
  uint64_t quota;         /* ASSIGN */
  uint32_t max_inflight;  /* ASSIGN */
  uint32_t flags;         /* reply: 1 = context poisoned, worker exits;
                             2 = an allocation hit the quota */
  /* Body layout (in the memfd): module bytes, name, stdin, argv strings
   * (NUL-separated), for replies stdout then stderr. */
  uint64_t module_len, name_len, stdin_len, argv_len;
  uint64_t out_len, err_len;
  uint32_t argc, pad_;
  int32_t pid; /* HELLO */
  int32_t device;
  tw_gpu_stats_t stats;
  uint8_t val_types[TW_GPU_MAX_RESULTS];
  uint64_t vals[TW_GPU_MAX_RESULTS];
  char tenant[72];
  char message[512];
};

/* Sends msg with an optional fd (-1 none). 0 or -errno. */
int tw__gpu_msg_send(int sock, const struct tw__gpu_msg *msg, int fd);
/* Receives one message and its fd (*fd = -1 if none). Waits at most
 * timeout_ms (0: forever). 0, -ETIMEDOUT, -EPIPE (peer gone), -EPROTO. */
int tw__gpu_msg_recv(int sock, struct tw__gpu_msg *msg, int *fd,
                     uint32_t timeout_ms);
/* A sealed memfd holding the concatenation of parts; -errno on failure. */
int tw__gpu_memfd_from(const void *const *parts, const size_t *lens,
                       size_t nparts);
/* Maps a received memfd read-only: *out (munmap with len) */
int tw__gpu_memfd_map(int fd, size_t need, const uint8_t **out, size_t *len);

/* supervisor.c, for tests: asks the tenant's worker what its sandbox
 * lets through; *socket_errno is socket(AF_INET)'s errno (0: allowed). */
int tw__gpu_supervisor_probe(tw_gpu_supervisor_t *sup, const char *tenant,
                             int *socket_errno);

/* ---- seccomp.c ---- */
/* Installs the worker's filter (docs/GPU.md). 0 or -errno. */
int tw__gpu_seccomp_install(void);
/* Applies the worker's rlimits. */
void tw__gpu_worker_rlimits(void);

#endif
