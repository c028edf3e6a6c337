/* `tensor-wasm serve`: the HTTP service in the foreground. Signals are
 * blocked in every thread and taken by sigwait here, so shutdown runs in
 * one known place: stop accepting, drain in-flight requests (bounded),
 * let running jobs finish (bounded; the rest stay persisted), exit.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "http/http.h"
#include "svc/svc.h"

static const char serve_usage[] =
    "Usage: tensor-wasm serve [options]\n"
    "\n"
    "Runs the HTTP API in the foreground until SIGTERM or SIGINT.\n"
    "\n"
    "Options:\n"
    "  --addr HOST:PORT   where to listen (default 127.0.0.1:8080; port 0\n"
    "                     picks a free one)\n"
    "  --data DIR         database, artifacts and secret (default ./var)\n"
    "  --config FILE      JSON settings, e.g. {\"threads\": 2, \"job_workers\":\n"
    "                     4, \"metrics_public\": true} (keys: see\n"
    "                     docs/openapi.yaml's description)\n"
    "  --threads N        HTTP event threads (default: one per online CPU;\n"
    "                     0: a thread per connection, no worker pool)\n"
    "  --workers N        threads that run invocations, deploys and other\n"
    "                     writes off the event threads (default: 4 per\n"
    "                     online CPU, at least 8); when all are busy and\n"
    "                     invoke_queue_limit requests wait, 503\n"
    "  --port-file FILE   write the port listened on to FILE once ready\n"
    "  -h, --help         show this help\n"
    "\n"
    "Environment: TENSOR_WASM_API_TOKENS (comma-separated admin tokens),\n"
    "TENSOR_WASM_API_TOKENS_FILE, TENSOR_WASM_API_AUDIT_LOG (file, or - for\n"
    "stdout), TENSOR_WASM_LOG (error, warn, info, debug).\n";

static int parse_uint(const char *s, uint32_t *out) {
  if (*s < '0' || *s > '9') return -1;
  char *end;
  errno = 0;
  unsigned long v = strtoul(s, &end, 10);
  if (errno || *end || v > 1u << 20) return -1;
  *out = (uint32_t)v;
  return 0;
}

int tw_cli_cmd_serve(int argc, char **argv) {
  struct tw__svc_config cfg;
  tw__svc_config_default(&cfg);
  const char *addr = NULL, *data = NULL, *config = NULL, *port_file = NULL;
  const char *threads = NULL, *workers = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int m;
    if (tw_cli_is_help(argv[i])) {
      fputs(serve_usage, stdout);
      return TW_CLI_OK;
    }
    if ((m = tw_cli_option(argc, argv, &i, "--addr", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      addr = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--data", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      data = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--config", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      config = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--threads", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      threads = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--workers", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      workers = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--port-file", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      port_file = v;
    } else {
      return tw_cli_usage_error("serve", "unknown option '%s'", argv[i]);
    }
  }
  char err[1024] = "";
  /* The config file first; command-line options win over it. */
  if (config && tw__svc_config_load(&cfg, config, err, sizeof err) != 0)
    return tw_cli_usage_error("serve", "%s", err);
  if (addr) {
    if (strlen(addr) >= sizeof cfg.addr)
      return tw_cli_usage_error("serve", "--addr is too long");
    snprintf(cfg.addr, sizeof cfg.addr, "%s", addr);
  }
  if (data) {
    if (strlen(data) >= sizeof cfg.data_dir)
      return tw_cli_usage_error("serve", "--data is too long");
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data);
  }
  if (threads && parse_uint(threads, &cfg.threads) != 0)
    return tw_cli_usage_error("serve", "--threads expects a number, got '%s'",
                              threads);
  if (workers && (parse_uint(workers, &cfg.invoke_workers) != 0 ||
                  cfg.invoke_workers == 0))
    return tw_cli_usage_error(
        "serve", "--workers expects a number from 1, got '%s'", workers);

  /* Block the shutdown signals before any thread exists, so that every
   * thread inherits the mask and only sigwait below sees them. */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct tw__svc *svc;
  if (tw__svc_open(&cfg, &svc, err, sizeof err) != 0) {
    fprintf(stderr, "tensor-wasm serve: %s\n", err);
    return TW_CLI_USAGE;
  }
  struct tw__http *http;
  uint16_t port = 0;
  if (tw__http_start(svc, &http, &port, err, sizeof err) != 0) {
    fprintf(stderr, "tensor-wasm serve: %s\n", err);
    tw__svc_close(svc);
    return TW_CLI_USAGE;
  }
  char host[128];
  snprintf(host, sizeof host, "%s", cfg.addr);
  char *colon = strrchr(host, ':');
  if (colon) *colon = '\0';
  tw__log(TW_LOG_INFO, NULL, "listening on http://%s:%u (data in %s)", host,
          (unsigned)port, cfg.data_dir);
  if (port_file) {
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%u\n", (unsigned)port) < 0 || fclose(f) != 0 ||
        rename(tmp, port_file) != 0)
      fprintf(stderr, "tensor-wasm serve: cannot write %s\n", port_file);
  }

  int sig = 0;
  while (sigwait(&set, &sig) != 0) {
  }
  tw__log(TW_LOG_INFO, NULL, "%s: shutting down (drain up to %u ms)",
          sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg.drain_ms);
  tw__svc_set_draining(svc);
  tw__http_quiesce(http);
  bool drained = tw__http_drain(http, cfg.drain_ms);
  if (!drained) {
    /* Requests are still inside guests. Everything durable is already in
     * the database (job transitions are written through), so leave now
     * without touching what those threads use. */
    tw__log(TW_LOG_WARN, NULL,
            "shutdown: requests still in flight after %u ms; exiting",
            cfg.drain_ms);
    fflush(NULL);
    _exit(0);
  }
  tw__http_stop(http, true);
  if (!tw__svc_close(svc)) {
    /* A worker is still inside a guest; its job is failed at the next
     * start. Leave without unwinding what it uses. */
    fflush(NULL);
    _exit(0);
  }
  tw__log(TW_LOG_INFO, NULL, "stopped");
  return TW_CLI_OK;
}
