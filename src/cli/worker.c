/* `tensor-wasm worker`: the GPU worker process, started by a supervisor
 * (tw_gpu_supervisor_*) with its end of a socketpair as an inherited fd.
 * Not meant to be run by hand.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tw/gpu.h>

#include "cli/cli.h"

static const char worker_usage[] =
    "Usage: tensor-wasm worker --fd N [--device D]\n"
    "\n"
    "Serves one tenant's GPU work for a supervisor over the inherited Unix\n"
    "socket N (started by the server or `run --gpu-worker`; not for manual\n"
    "use). TW_WORKER_NO_SECCOMP=1 leaves the seccomp filter off (debugging).\n";

static int parse_int(const char *s, int *out) {
  char *end;
  long v = strtol(s, &end, 10);
  if (!*s || *end || v < 0 || v > 1 << 20) return -1;
  *out = (int)v;
  return 0;
}

int tw_cli_cmd_worker(int argc, char **argv) {
  int fd = -1, device = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int m;
    if (tw_cli_is_help(argv[i])) {
      fputs(worker_usage, stdout);
      return TW_CLI_OK;
    }
    if ((m = tw_cli_option(argc, argv, &i, "--fd", &v)) != 0) {
      if (m < 0 || parse_int(v, &fd))
        return tw_cli_usage_error("worker", "--fd expects a descriptor");
    } else if ((m = tw_cli_option(argc, argv, &i, "--device", &v)) != 0) {
      if (m < 0 || parse_int(v, &device))
        return tw_cli_usage_error("worker", "--device expects an ordinal");
    } else {
      return tw_cli_usage_error("worker", "unexpected argument '%s'", argv[i]);
    }
  }
  if (fd < 0) return tw_cli_usage_error("worker", "missing --fd");
  return tw_gpu_worker_main(fd, device, TW_GPU_BACKEND_AUTO);
}
