/* `tensor-wasm gpu info`: what the GPU layer sees on this host — driver,
 * devices with compute capability and memory, nvJitLink/NVRTC, MPS and
 * MIG state — and says plainly when there is no GPU. Exit 0 either way
 * (there being no GPU is an answer, not an error); 2 on usage errors.
 */
#include <stdio.h>
#include <string.h>

#include <tw/gpu.h>

#include "cli/cli.h"

static const char gpu_usage[] =
    "Usage: tensor-wasm gpu info [--mock]\n"
    "\n"
    "Describes the GPUs this host offers to wasi:cuda guests: driver\n"
    "version, devices (compute capability, memory, limits), nvJitLink and\n"
    "NVRTC, whether MPS or MIG is on. Without an NVIDIA driver it says so.\n"
    "\n"
    "Options:\n"
    "  --mock       describe the mock backend (as TW_GPU_MOCK=1 does)\n"
    "  -h, --help   show this help\n";

static const char *tri(int v) { return v < 0 ? "unknown" : v ? "on" : "off"; }

int tw_cli_cmd_gpu(int argc, char **argv) {
  tw_gpu_backend_t backend = TW_GPU_BACKEND_AUTO;
  int info = 0;
  for (int i = 1; i < argc; i++) {
    if (tw_cli_is_help(argv[i])) {
      fputs(gpu_usage, stdout);
      return TW_CLI_OK;
    }
    if (strcmp(argv[i], "info") == 0 && !info)
      info = 1;
    else if (strcmp(argv[i], "--mock") == 0)
      backend = TW_GPU_BACKEND_MOCK;
    else
      return tw_cli_usage_error("gpu", "unexpected argument '%s'", argv[i]);
  }
  if (!info) return tw_cli_usage_error("gpu", "missing subcommand 'info'");
  tw_gpu_system_info_t s;
  tw_gpu_probe(backend, &s);
  printf("backend: %s\n",
         s.backend == TW_GPU_BACKEND_MOCK ? "mock (TW_GPU_MOCK)" : "cuda");
  if (!s.driver_loaded) {
    printf("GPU: none — %s\n", s.driver_error);
    printf("wasi:cuda guests cannot run on this host.\n");
  } else {
    printf("driver: CUDA %d.%d\n", s.driver_version / 1000,
           (s.driver_version % 1000) / 10);
    if (s.ndevices == 0) printf("GPU: none — %s\n", s.driver_error);
  }
  for (int i = 0; i < s.ndevices; i++) {
    const tw_gpu_device_info_t *d = &s.devices[i];
    printf("device %d: %s\n", d->ordinal, d->name);
    printf("  compute capability: %d.%d (sm_%d%d), %d multiprocessors\n",
           d->cc_major, d->cc_minor, d->cc_major, d->cc_minor,
           d->multiprocessors);
    printf("  memory: %.1f GiB\n", (double)d->total_memory / (1u << 30));
    printf("  limits: %d threads/block, shared %d B/block (%d opt-in)\n",
           d->max_threads_per_block, d->max_shared_per_block,
           d->max_shared_per_block_optin);
    printf("  host memory: map %s, unified addressing %s, pageable access %s\n",
           tri(d->can_map_host_memory), tri(d->unified_addressing),
           tri(d->pageable_memory_access));
    printf("  compute mode: %d; MPS: %s; PCI bus 0x%02x\n", d->compute_mode,
           tri(d->mps_enabled), d->pci_bus);
  }
  if (s.nvjitlink_major)
    printf("nvJitLink: %d.%d (PTX checked without a GPU)\n", s.nvjitlink_major,
           s.nvjitlink_minor);
  else
    printf("nvJitLink: not found\n");
  if (s.nvrtc_major)
    printf("NVRTC: %d.%d\n", s.nvrtc_major, s.nvrtc_minor);
  else
    printf("NVRTC: not found\n");
  printf("MPS control pipe: %s (%s/control)\n",
         s.mps_pipe_present ? "present — an MPS daemon runs: one client's "
                              "fault reaches all clients"
                            : "absent (MPS off)",
         s.mps_pipe_dir);
  printf("MIG: %s\n", tri(s.mig_enabled));
  return TW_CLI_OK;
}

/* ---- wasi:cuda for `run` ---- */

#include <stdlib.h>

#include "cli/args.h"
#include "cli/run_gpu.h"

int tw_cli_gpu_setup(const char *file, tw_linker_t *linker, tw_gpu_t **gpu) {
  tw_gpu_config_t cfg;
  tw_gpu_config_default(&cfg);
  const char *d = getenv("TW_GPU_DEVICE");
  if (d && *d) cfg.device = atoi(d);
  char err[512] = "";
  int rc = tw_gpu_open(&cfg, gpu, err, sizeof err);
  if (rc) {
    fprintf(stderr,
            "tensor-wasm run: %s imports wasi:cuda but no GPU can be used: "
            "%s\n",
            file, err[0] ? err : tw_strerror(rc));
    return TW_CLI_USAGE;
  }
  rc = tw_linker_define_cuda(linker, *gpu);
  if (rc) {
    fprintf(stderr, "tensor-wasm run: %s\n", tw_strerror(rc));
    tw_gpu_close(*gpu);
    *gpu = NULL;
    return TW_CLI_USAGE;
  }
  return 0;
}

int tw_cli_run_gpu_worker(const char *file, const uint8_t *bytes, size_t size,
                          const char *invoke, const tw_val_t *args,
                          size_t nargs, size_t nresults) {
  tw_gpu_supervisor_config_t sc;
  tw_gpu_supervisor_config_default(&sc);
  tw_gpu_supervisor_t *sup = NULL;
  char err[512] = "";
  int rc = tw_gpu_supervisor_new(&sc, &sup, err, sizeof err);
  if (rc) {
    fprintf(stderr, "tensor-wasm run: --gpu-worker: %s\n",
            err[0] ? err : tw_strerror(rc));
    return TW_CLI_USAGE;
  }
  const char *argv0[] = {file};
  tw_gpu_request_t req;
  memset(&req, 0, sizeof req);
  req.tenant = "local";
  req.module = bytes;
  req.module_len = size;
  req.export_name = invoke;
  req.args = args;
  req.nargs = nargs;
  req.argv = argv0;
  req.argc = 1;
  req.device = -1;
  tw_gpu_result_t res;
  rc = tw_gpu_supervisor_invoke(sup, &req, &res);
  int status = TW_CLI_OK;
  if (rc) {
    fprintf(stderr, "tensor-wasm run: %s\n", res.message);
    status = TW_CLI_TRAP;
  } else if (!invoke) {
    fwrite(res.stdout_data, 1, res.stdout_len, stdout);
    fwrite(res.stderr_data, 1, res.stderr_len, stderr);
    if (res.status && res.status != TW_EEXIT) {
      fprintf(stderr, "%s\n", res.message);
      status = TW_CLI_TRAP;
    } else {
      status = res.exit_code >= 0 && res.exit_code <= 255 ? res.exit_code
                                                          : TW_CLI_TRAP;
    }
  } else if (res.status) {
    fprintf(stderr, "%s\n", res.message);
    status = res.status == TW_EEXIT ? (res.exit_code & 0xff) : TW_CLI_TRAP;
  } else {
    tw_cli_print_results(stdout, res.results,
                         res.nresults < nresults ? res.nresults : nresults);
  }
  tw_gpu_result_free(&res);
  tw_gpu_supervisor_free(sup);
  fflush(stdout);
  return status;
}
