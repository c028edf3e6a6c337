// Kernels of the wasi:cuda examples and benchmarks (examples/gpu/).
// Compiled to PTX at development time (see gen.sh); the generated
// kernels.ptx is committed so building needs no nvcc. Plain scalar and
// pointer parameters only: that is what typed argv passes.

extern "C" __global__ void empty() {}

extern "C" __global__ void vector_add(const float *a, const float *b,
                                      float *c, unsigned n) {
  unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) c[i] = a[i] + b[i];
}

// C = A (MxK) * B (KxN), row-major; 16x16 tiles in shared memory.
// Launch with block (16, 16) and grid (ceil(N/16), ceil(M/16)).
#define TILE 16
extern "C" __global__ void sgemm_tiled(const float *A, const float *B,
                                       float *C, unsigned M, unsigned N,
                                       unsigned K) {
  __shared__ float As[TILE][TILE];
  __shared__ float Bs[TILE][TILE];
  unsigned row = blockIdx.y * TILE + threadIdx.y;
  unsigned col = blockIdx.x * TILE + threadIdx.x;
  float acc = 0.0f;
  for (unsigned t = 0; t < (K + TILE - 1) / TILE; t++) {
    unsigned ka = t * TILE + threadIdx.x, kb = t * TILE + threadIdx.y;
    As[threadIdx.y][threadIdx.x] = row < M && ka < K ? A[row * K + ka] : 0.0f;
    Bs[threadIdx.y][threadIdx.x] = kb < K && col < N ? B[kb * N + col] : 0.0f;
    __syncthreads();
#pragma unroll
    for (unsigned k = 0; k < TILE; k++)
      acc += As[threadIdx.y][k] * Bs[k][threadIdx.x];
    __syncthreads();
  }
  if (row < M && col < N) C[row * N + col] = acc;
}

// In place over guest memory (zero-copy) or a device buffer:
// x[i] = alpha * x[i] + beta.
extern "C" __global__ void saxpy_inplace(float *x, unsigned n, float alpha,
                                         float beta) {
  unsigned i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) x[i] = alpha * x[i] + beta;
}

// Writes the device address it was given: lets an isolation test learn
// where another tenant's buffer lives.
extern "C" __global__ void leak_addr(const unsigned *p,
                                     unsigned long long *out) {
  if (blockIdx.x == 0 && threadIdx.x == 0)
    *out = (unsigned long long)(size_t)p;
}

// Faults on purpose: a store to an arbitrary address.
extern "C" __global__ void wild_write(unsigned long long addr, unsigned v) {
  if (blockIdx.x == 0 && threadIdx.x == 0)
    *(volatile unsigned *)(size_t)addr = v;
}

// Reads an arbitrary address (another tenant's buffer, say) into *out.
extern "C" __global__ void wild_read(unsigned long long addr, unsigned *out) {
  if (blockIdx.x == 0 && threadIdx.x == 0)
    *out = *(volatile const unsigned *)(size_t)addr;
}
