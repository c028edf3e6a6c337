/* `tensor-wasm observe`: a one-screen live status board of a server,
 * computed from two successive scrapes of /metrics (rates and latency
 * percentiles over the interval) and /healthz. --once prints a single
 * board with rates averaged since the server started.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/client.h"

#define MAX_FNS 64
#define NB 17 /* latency buckets incl. +Inf */

struct sample {
  double requests, err4, err5;
  double le[NB], bucket[NB];
  int nb;
  double jobs_active, jobs_queued, inst_active, pooled, functions, rss,
      uptime;
  struct {
    char name[140];
    double ok, failed;
  } fns[MAX_FNS];
  int nfns;
  bool healthy;
};

static const char observe_usage[] =
    "Usage: tensor-wasm observe [--interval SECONDS] [--once]\n"
    "                           [--server URL] [--token TOKEN]\n"
    "\n"
    "Shows request rate, errors, latency percentiles, jobs and instances,\n"
    "refreshed every interval (default 2 s) until interrupted. Reading\n"
    "/metrics needs an admin token unless the server makes it public.\n";

/* Value of label `key` in a metric line's {...}; copies into out. */
static bool label(const char *line, const char *key, char *out, size_t cap) {
  char pat[64];
  snprintf(pat, sizeof pat, "%s=\"", key);
  const char *p = strstr(line, pat);
  if (!p) return false;
  p += strlen(pat);
  const char *e = strchr(p, '"');
  if (!e || (size_t)(e - p) >= cap) return false;
  memcpy(out, p, (size_t)(e - p));
  out[e - p] = '\0';
  return true;
}

static double value_of(const char *line) {
  const char *sp = strrchr(line, ' ');
  return sp ? strtod(sp + 1, NULL) : 0;
}

static bool starts(const char *s, const char *p) {
  return strncmp(s, p, strlen(p)) == 0;
}

static void parse(char *text, struct sample *s) {
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
       line = strtok_r(NULL, "\n", &save)) {
    if (line[0] == '#') continue;
    double v = value_of(line);
    char buf[140];
    if (starts(line, "tensor_wasm_http_requests_total{")) {
      s->requests += v;
      if (label(line, "code", buf, sizeof buf)) {
        int code = atoi(buf);
        if (code >= 500) s->err5 += v;
        else if (code >= 400) s->err4 += v;
      }
    } else if (starts(line, "tensor_wasm_http_request_duration_seconds_bucket{")) {
      if (!label(line, "le", buf, sizeof buf)) continue;
      double le = strcmp(buf, "+Inf") == 0 ? INFINITY : strtod(buf, NULL);
      int i;
      for (i = 0; i < s->nb; i++)
        if (s->le[i] == le) break;
      if (i == s->nb && s->nb < NB) s->le[s->nb++] = le;
      if (i < NB) s->bucket[i] += v;
    } else if (starts(line, "tensor_wasm_invocations_total{")) {
      char fn[140], out[32];
      if (!label(line, "function", fn, sizeof fn) ||
          !label(line, "outcome", out, sizeof out))
        continue;
      int i;
      for (i = 0; i < s->nfns; i++)
        if (strcmp(s->fns[i].name, fn) == 0) break;
      if (i == s->nfns) {
        if (s->nfns == MAX_FNS) continue;
        snprintf(s->fns[s->nfns++].name, sizeof s->fns[0].name, "%s", fn);
      }
      if (strcmp(out, "success") == 0)
        s->fns[i].ok += v;
      else
        s->fns[i].failed += v;
    } else if (starts(line, "tensor_wasm_jobs_active ")) {
      s->jobs_active = v;
    } else if (starts(line, "tensor_wasm_jobs_queued ")) {
      s->jobs_queued = v;
    } else if (starts(line, "tensor_wasm_instances_active ")) {
      s->inst_active = v;
    } else if (starts(line, "tensor_wasm_pooled_instances ")) {
      s->pooled = v;
    } else if (starts(line, "tensor_wasm_functions ")) {
      s->functions = v;
    } else if (starts(line, "process_resident_memory_bytes ")) {
      s->rss = v;
    } else if (starts(line, "tensor_wasm_uptime_seconds ")) {
      s->uptime = v;
    }
  }
}

static int scrape(const struct tw_cli_conn *c, struct sample *s) {
  memset(s, 0, sizeof *s);
  struct tw_cli_resp r;
  tw_cli_request(c, "GET", "/healthz", NULL, NULL, 0, NULL, &r);
  s->healthy = r.status == 200;
  tw_cli_resp_free(&r);
  tw_cli_request(c, "GET", "/metrics", NULL, NULL, 0, NULL, &r);
  if (r.status != 200) {
    int st = tw_cli_report("observe", &r);
    tw_cli_resp_free(&r);
    return st;
  }
  /* Buckets appear in increasing le order per route; sort is not needed
   * since every route uses the same bounds. */
  parse(r.body, s);
  tw_cli_resp_free(&r);
  return 0;
}

/* Percentile q from cumulative bucket deltas (linear within a bucket). */
static double percentile(const struct sample *a, const struct sample *b,
                         double q) {
  double total = b->bucket[b->nb - 1] - (a ? a->bucket[b->nb - 1] : 0);
  if (b->nb == 0 || total <= 0) return NAN;
  double want = q * total, prev_le = 0, prev_c = 0;
  for (int i = 0; i < b->nb; i++) {
    double c = b->bucket[i] - (a ? a->bucket[i] : 0);
    if (c >= want) {
      if (isinf(b->le[i])) return prev_le;
      double frac = c > prev_c ? (want - prev_c) / (c - prev_c) : 1;
      return prev_le + (b->le[i] - prev_le) * frac;
    }
    prev_le = b->le[i];
    prev_c = c;
  }
  return prev_le;
}

static void fmt_ms(double s, char *buf, size_t n) {
  if (isnan(s))
    snprintf(buf, n, "-");
  else
    snprintf(buf, n, "%.2f ms", s * 1e3);
}

static void board(const struct tw_cli_conn *c, const struct sample *a,
                  const struct sample *b, double dt, bool clear) {
  if (clear) fputs("\033[H\033[2J", stdout);
  double span = a ? dt : (b->uptime > 0 ? b->uptime : 1);
  double req = (b->requests - (a ? a->requests : 0)) / span;
  double e4 = (b->err4 - (a ? a->err4 : 0)) / span;
  double e5 = (b->err5 - (a ? a->err5 : 0)) / span;
  char p50[32], p90[32], p99[32];
  fmt_ms(percentile(a, b, 0.50), p50, sizeof p50);
  fmt_ms(percentile(a, b, 0.90), p90, sizeof p90);
  fmt_ms(percentile(a, b, 0.99), p99, sizeof p99);
  printf("tensor-wasm observe  %s  %s  up %.0fs  rss %.1f MiB\n", c->server,
         b->healthy ? "HEALTHY" : "UNHEALTHY", b->uptime, b->rss / 1048576.0);
  printf("%s\n", a ? "(rates over the last interval)"
                   : "(rates averaged since start)");
  printf("\n  requests   %10.1f /s    4xx %8.1f /s    5xx %8.1f /s\n", req, e4,
         e5);
  printf("  latency    p50 %-12s p90 %-12s p99 %-12s\n", p50, p90, p99);
  printf("  functions  %10.0f       instances running %4.0f   pooled %5.0f\n",
         b->functions, b->inst_active, b->pooled);
  printf("  jobs       running %6.0f   queued %6.0f\n", b->jobs_active,
         b->jobs_queued);
  printf("\n  %-40s %12s %12s\n", "FUNCTION", "OK /s", "FAILED /s");
  int shown = 0;
  for (int i = 0; i < b->nfns && shown < 12; i++) {
    double ok = b->fns[i].ok, bad = b->fns[i].failed;
    if (a)
      for (int k = 0; k < a->nfns; k++)
        if (strcmp(a->fns[k].name, b->fns[i].name) == 0) {
          ok -= a->fns[k].ok;
          bad -= a->fns[k].failed;
        }
    printf("  %-40s %12.1f %12.1f\n", b->fns[i].name, ok / span, bad / span);
    shown++;
  }
  fflush(stdout);
}

int tw_cli_cmd_observe(int argc, char **argv) {
  struct tw_cli_conn conn = {0};
  double interval = 2;
  bool once = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int m;
    if (tw_cli_is_help(argv[i])) {
      fputs(observe_usage, stdout);
      return TW_CLI_OK;
    }
    if ((m = tw_cli_conn_option(argc, argv, &i, &conn)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
    } else if ((m = tw_cli_option(argc, argv, &i, "--interval", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      interval = strtod(v, NULL);
      if (!(interval >= 0.2 && interval <= 3600))
        return tw_cli_usage_error("observe",
                                  "--interval must be 0.2 to 3600 seconds");
    } else if (strcmp(argv[i], "--once") == 0) {
      once = true;
    } else {
      return tw_cli_usage_error("observe", "unexpected argument '%s'",
                                argv[i]);
    }
  }
  tw_cli_conn_defaults(&conn);
  struct sample *prev = calloc(1, sizeof *prev),
                *cur = calloc(1, sizeof *cur);
  if (!prev || !cur) return TW_CLI_USAGE;
  int st = scrape(&conn, prev);
  if (st || once) {
    if (!st) board(&conn, NULL, prev, 0, false);
    free(prev);
    free(cur);
    return st;
  }
  board(&conn, NULL, prev, 0, true);
  for (;;) {
    struct timespec ts = {(time_t)interval,
                          (long)((interval - (double)(time_t)interval) * 1e9)};
    nanosleep(&ts, NULL);
    if ((st = scrape(&conn, cur)) != 0) break;
    board(&conn, prev, cur, interval, true);
    struct sample *t = prev;
    prev = cur;
    cur = t;
  }
  free(prev);
  free(cur);
  return st;
}
