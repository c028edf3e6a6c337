/* The slice of the CUDA driver API (and nvJitLink, NVRTC) that TensorWasm
 * uses, declared here so that nothing CUDA is needed to build: the types
 * and constants are copied by value from the public documentation, the
 * functions are loaded at run time by driver.c into a table of pointers.
 *
 * Each symbol is listed once, in TW_CUDA_SYMBOLS; the list generates the
 * table's members and the names driver.c passes to dlsym. Where cuda.h
 * maps a name to a versioned one (cuMemAlloc -> cuMemAlloc_v2) the list
 * spells the versioned symbol, which is what the library exports.
 */
#ifndef TW_GPU_CUDA_API_H
#define TW_GPU_CUDA_API_H

#include <stddef.h>
#include <stdint.h>

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef int CUjit_option;
typedef int CUdevice_attribute;
typedef int CUfunction_attribute;

enum {
  CUDA_SUCCESS = 0,
  CUDA_ERROR_INVALID_VALUE = 1,
  CUDA_ERROR_OUT_OF_MEMORY = 2,
  CUDA_ERROR_NOT_INITIALIZED = 3,
  CUDA_ERROR_NO_DEVICE = 100,
  CUDA_ERROR_INVALID_DEVICE = 101,
  CUDA_ERROR_INVALID_IMAGE = 200,
  CUDA_ERROR_INVALID_PTX = 218,
  CUDA_ERROR_INVALID_HANDLE = 400,
  CUDA_ERROR_NOT_FOUND = 500,
  CUDA_ERROR_NOT_READY = 600,
  CUDA_ERROR_ILLEGAL_ADDRESS = 700,
  CUDA_ERROR_LAUNCH_OUT_OF_RESOURCES = 701,
  CUDA_ERROR_LAUNCH_TIMEOUT = 702,
  CUDA_ERROR_HOST_MEMORY_ALREADY_REGISTERED = 712,
  CUDA_ERROR_HOST_MEMORY_NOT_REGISTERED = 713,
  CUDA_ERROR_LAUNCH_FAILED = 719,
  CUDA_ERROR_UNKNOWN = 999,
};

enum {
  CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 1,
  CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_X = 2,
  CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Y = 3,
  CU_DEVICE_ATTRIBUTE_MAX_BLOCK_DIM_Z = 4,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_X = 5,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Y = 6,
  CU_DEVICE_ATTRIBUTE_MAX_GRID_DIM_Z = 7,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK = 8,
  CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT = 16,
  CU_DEVICE_ATTRIBUTE_CAN_MAP_HOST_MEMORY = 19,
  CU_DEVICE_ATTRIBUTE_COMPUTE_MODE = 20,
  CU_DEVICE_ATTRIBUTE_PCI_BUS_ID = 33,
  CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID = 34,
  CU_DEVICE_ATTRIBUTE_UNIFIED_ADDRESSING = 41,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75,
  CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR = 76,
  CU_DEVICE_ATTRIBUTE_PAGEABLE_MEMORY_ACCESS = 88,
  CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN = 97,
  CU_DEVICE_ATTRIBUTE_MPS_ENABLED = 133,
};

enum {
  CU_FUNC_ATTRIBUTE_MAX_THREADS_PER_BLOCK = 0,
  CU_FUNC_ATTRIBUTE_SHARED_SIZE_BYTES = 1,
  CU_FUNC_ATTRIBUTE_NUM_REGS = 4,
  CU_FUNC_ATTRIBUTE_MAX_DYNAMIC_SHARED_SIZE_BYTES = 8,
};

enum {
  CU_JIT_INFO_LOG_BUFFER = 3,
  CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES = 4,
  CU_JIT_ERROR_LOG_BUFFER = 5,
  CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES = 6,
};

#define CU_MEMHOSTREGISTER_PORTABLE 0x01
#define CU_MEMHOSTREGISTER_DEVICEMAP 0x02
#define CU_STREAM_NON_BLOCKING 0x1

/* X(return type, name, parameter list). Required symbols: the table is
 * unusable if one is missing. */
#define TW_CUDA_SYMBOLS(X)                                                  \
  X(CUresult, cuInit, (unsigned int flags))                                 \
  X(CUresult, cuDriverGetVersion, (int *version))                           \
  X(CUresult, cuDeviceGetCount, (int *count))                               \
  X(CUresult, cuDeviceGet, (CUdevice * dev, int ordinal))                   \
  X(CUresult, cuDeviceGetName, (char *name, int len, CUdevice dev))         \
  X(CUresult, cuDeviceGetAttribute,                                         \
    (int *value, CUdevice_attribute attr, CUdevice dev))                    \
  X(CUresult, cuDeviceTotalMem_v2, (size_t * bytes, CUdevice dev))          \
  X(CUresult, cuDevicePrimaryCtxRetain, (CUcontext * ctx, CUdevice dev))    \
  X(CUresult, cuDevicePrimaryCtxRelease_v2, (CUdevice dev))                 \
  X(CUresult, cuCtxSetCurrent, (CUcontext ctx))                             \
  X(CUresult, cuModuleLoadDataEx,                                           \
    (CUmodule * mod, const void *image, unsigned int nopts,                 \
     CUjit_option *opts, void **optvals))                                   \
  X(CUresult, cuModuleGetFunction,                                          \
    (CUfunction * fn, CUmodule mod, const char *name))                      \
  X(CUresult, cuModuleUnload, (CUmodule mod))                               \
  X(CUresult, cuFuncGetAttribute,                                           \
    (int *value, CUfunction_attribute attr, CUfunction fn))                 \
  X(CUresult, cuFuncSetAttribute,                                           \
    (CUfunction fn, CUfunction_attribute attr, int value))                  \
  X(CUresult, cuLaunchKernel,                                               \
    (CUfunction fn, unsigned gx, unsigned gy, unsigned gz, unsigned bx,     \
     unsigned by, unsigned bz, unsigned shared, CUstream stream,            \
     void **params, void **extra))                                          \
  X(CUresult, cuStreamCreate, (CUstream * stream, unsigned int flags))      \
  X(CUresult, cuStreamDestroy_v2, (CUstream stream))                        \
  X(CUresult, cuStreamSynchronize, (CUstream stream))                       \
  X(CUresult, cuStreamQuery, (CUstream stream))                             \
  X(CUresult, cuMemAlloc_v2, (CUdeviceptr * dptr, size_t bytes))            \
  X(CUresult, cuMemFree_v2, (CUdeviceptr dptr))                             \
  X(CUresult, cuMemcpyHtoD_v2,                                              \
    (CUdeviceptr dst, const void *src, size_t bytes))                       \
  X(CUresult, cuMemcpyDtoH_v2,                                              \
    (void *dst, CUdeviceptr src, size_t bytes))                             \
  X(CUresult, cuMemsetD8_v2,                                                \
    (CUdeviceptr dst, unsigned char value, size_t n))                       \
  X(CUresult, cuMemHostRegister_v2,                                         \
    (void *p, size_t bytes, unsigned int flags))                            \
  X(CUresult, cuMemHostUnregister, (void *p))                               \
  X(CUresult, cuMemHostGetDevicePointer_v2,                                 \
    (CUdeviceptr * dptr, void *p, unsigned int flags))                      \
  X(CUresult, cuGetErrorString, (CUresult err, const char **str))           \
  X(CUresult, cuGetErrorName, (CUresult err, const char **str))

/* Optional driver symbols: NULL when the driver is older. */
#define TW_CUDA_OPTIONAL_SYMBOLS(X)                                         \
  X(CUresult, cuFuncGetParamInfo,                                           \
    (CUfunction fn, size_t index, size_t *offset, size_t *size))

/* nvJitLink: checks PTX without a GPU (compile for a named sm_XX). */
typedef struct nvJitLink *nvJitLinkHandle;
typedef int nvJitLinkResult;
#define TW_NVJITLINK_INPUT_PTX 2
#define TW_NVJITLINK_SYMBOLS(X)                                             \
  X(nvJitLinkResult, nvJitLinkCreate,                                       \
    (nvJitLinkHandle * h, uint32_t nopts, const char **opts))               \
  X(nvJitLinkResult, nvJitLinkAddData,                                      \
    (nvJitLinkHandle h, int type, const void *data, size_t size,            \
     const char *name))                                                     \
  X(nvJitLinkResult, nvJitLinkComplete, (nvJitLinkHandle h))                \
  X(nvJitLinkResult, nvJitLinkGetErrorLogSize,                              \
    (nvJitLinkHandle h, size_t * size))                                     \
  X(nvJitLinkResult, nvJitLinkGetErrorLog, (nvJitLinkHandle h, char *log))  \
  X(nvJitLinkResult, nvJitLinkDestroy, (nvJitLinkHandle * h))               \
  X(nvJitLinkResult, nvJitLinkVersion, (unsigned *major, unsigned *minor))

/* NVRTC: only its version is reported (guests bring PTX, not CUDA C). */
#define TW_NVRTC_SYMBOLS(X)                                                 \
  X(int, nvrtcVersion, (int *major, int *minor))

/* The driver table. Members are function pointers named as the symbols. */
struct tw__cuda {
#define TW_CUDA_MEMBER_(ret, name, params) ret(*name) params;
  TW_CUDA_SYMBOLS(TW_CUDA_MEMBER_)
  TW_CUDA_OPTIONAL_SYMBOLS(TW_CUDA_MEMBER_)
  TW_NVJITLINK_SYMBOLS(TW_CUDA_MEMBER_)
  TW_NVRTC_SYMBOLS(TW_CUDA_MEMBER_)
#undef TW_CUDA_MEMBER_
  int is_mock;       /* the table is mock.c's fakes */
  int has_jitlink;   /* nvJitLink symbols loaded */
  int has_nvrtc;     /* NVRTC symbols loaded */
  void *lib_cuda, *lib_jitlink, *lib_nvrtc; /* dlopen handles or NULL */
};

#endif
