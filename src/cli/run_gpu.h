/* wasi:cuda for `tensor-wasm run` (src/cli/gpu.c): in this process for a
 * single local user, or through a GPU worker with --gpu-worker.
 */
#ifndef TW_CLI_RUN_GPU_H
#define TW_CLI_RUN_GPU_H

#include <stddef.h>
#include <stdint.h>

#include <tw/gpu.h>

/* Opens the GPU (device 0, or $TW_GPU_DEVICE) and defines wasi:cuda in
 * linker. Prints the reason and returns TW_CLI_USAGE when there is no
 * GPU; 0 on success (*gpu to close after the run). */
int tw_cli_gpu_setup(const char *file, tw_linker_t *linker, tw_gpu_t **gpu);

/* Runs the module through a worker (supervisor with one tenant,
 * "local"): the export `invoke` with args, or the WASI _start when invoke
 * is NULL. Prints the results like `run`; returns the exit status. */
int tw_cli_run_gpu_worker(const char *file, const uint8_t *bytes, size_t size,
                          const char *invoke, const tw_val_t *args,
                          size_t nargs, size_t nresults);

#endif
