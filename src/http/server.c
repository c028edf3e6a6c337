/* libmicrohttpd glue: one struct http_req per request, built on the first
 * callback (ids, trace context, route, size checks), fed body bytes up to
 * the cap, dispatched once the body is complete, and accounted (metrics,
 * access log, in-flight count) in the completion callback. By default MHD
 * runs a pool of epoll event threads, one per CPU; requests that can block
 * are handed to the worker pool (workers.c) with their connection
 * suspended, and answered when it resumes.
 * Invariants: every size from the network is capped before allocation
 * (URL, head via MHD's memory limit, body); every answer goes through
 * tw__http_respond, which adds X-Request-Id and traceparent; no suspended
 * connection is left when MHD_stop_daemon runs.
 */
#include "http/http_int.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

const char *const tw__http_route_names[ROUTE_COUNT_] = {
#define HTTP_ROUTE_NAME_(n, s) s,
    HTTP_ROUTES(HTTP_ROUTE_NAME_)
#undef HTTP_ROUTE_NAME_
};
const char *const tw__http_method_names[M_COUNT_] = {"GET",    "POST",
                                                     "PUT",    "DELETE",
                                                     "HEAD",   "OTHER"};

/* ---- Helpers ---- */

const char *tw__http_arg(struct http_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

const char *tw__http_header(struct http_req *r, const char *name) {
  return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

static bool is_hex(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
  return true;
}

static bool all_zero(const char *s, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (s[i] != '0') return false;
  return true;
}

/* W3C trace context: accepts "00-<32 hex>-<16 hex>-<2 hex>" (and longer
 * future versions' prefix), keeps the trace id and flags, and makes our
 * own span id; anything else starts a new trace. */
static void trace_context(struct http_req *r) {
  const char *tp = tw__http_header(r, "traceparent");
  char flags[3] = "01";
  bool ok = false;
  if (tp) {
    size_t n = strlen(tp);
    ok = n >= 55 && is_hex(tp, 2) && !(tp[0] == 'f' && tp[1] == 'f') &&
         tp[2] == '-' && is_hex(tp + 3, 32) && !all_zero(tp + 3, 32) &&
         tp[35] == '-' && is_hex(tp + 36, 16) && !all_zero(tp + 36, 16) &&
         tp[52] == '-' && is_hex(tp + 53, 2) &&
         (n == 55 ? memcmp(tp, "00", 2) == 0 : tp[55] == '-' &&
                                                   memcmp(tp, "00", 2) != 0);
  }
  if (ok) {
    memcpy(r->rc.trace_id, tp + 3, 32);
    r->rc.trace_id[32] = '\0';
    memcpy(flags, tp + 53, 2);
  } else {
    tw__random_hex(r->rc.trace_id, 16);
  }
  tw__random_hex(r->rc.span_id, 8);
  /* "00-<32 hex>-<16 hex>-<2 hex>", 55 characters */
  char *tpo = r->rc.traceparent;
  memcpy(tpo, "00-", 3);
  memcpy(tpo + 3, r->rc.trace_id, 32);
  tpo[35] = '-';
  memcpy(tpo + 36, r->rc.span_id, 16);
  tpo[52] = '-';
  memcpy(tpo + 53, flags, 2);
  tpo[55] = '\0';
  const char *rid = tw__http_header(r, "X-Request-Id");
  if (rid && tw__svc_valid_name(rid, strlen(rid)) && strlen(rid) < 40)
    tw__http_copy(r->rc.request_id, sizeof r->rc.request_id, rid);
  else
    tw__random_hex(r->rc.request_id, 8);
}

static enum http_method method_of(const char *m) {
  if (strcmp(m, "GET") == 0) return M_GET;
  if (strcmp(m, "POST") == 0) return M_POST;
  if (strcmp(m, "PUT") == 0) return M_PUT;
  if (strcmp(m, "DELETE") == 0) return M_DELETE;
  if (strcmp(m, "HEAD") == 0) return M_HEAD;
  return M_OTHER;
}

/* Splits the path into at most 5 segments; false when there are more or
 * one is empty (except a trailing slash is not accepted either). */
static int segments(const char *url, const char *seg[5], size_t len[5]) {
  if (url[0] != '/') return -1;
  int n = 0;
  const char *p = url + 1;
  if (!*p) return 0;
  for (;;) {
    const char *e = strchr(p, '/');
    size_t l = e ? (size_t)(e - p) : strlen(p);
    if (l == 0 || n == 5) return -1;
    seg[n] = p;
    len[n] = l;
    n++;
    if (!e) return n;
    p = e + 1;
  }
}

static bool seg_is(const char *s, size_t n, const char *lit) {
  return strlen(lit) == n && memcmp(s, lit, n) == 0;
}

static void route_of(struct http_req *r, const char *url) {
  const char *s[5];
  size_t n[5];
  int k = segments(url, s, n);
  r->route = ROUTE_UNKNOWN;
  if (k == 1) {
    if (seg_is(s[0], n[0], "healthz")) r->route = ROUTE_HEALTHZ;
    if (seg_is(s[0], n[0], "readyz")) r->route = ROUTE_READYZ;
    if (seg_is(s[0], n[0], "metrics")) r->route = ROUTE_METRICS;
    return;
  }
  if (k < 2 || !seg_is(s[0], n[0], "v1")) return;
  enum http_route list = ROUTE_UNKNOWN, item = ROUTE_UNKNOWN;
  if (seg_is(s[1], n[1], "functions")) {
    list = ROUTE_FUNCTIONS;
    item = ROUTE_FUNCTION;
  } else if (seg_is(s[1], n[1], "jobs")) {
    list = ROUTE_JOBS;
    item = ROUTE_JOB;
  } else if (seg_is(s[1], n[1], "tokens")) {
    list = ROUTE_TOKENS;
    item = ROUTE_TOKEN;
  } else if (seg_is(s[1], n[1], "tenants")) {
    list = ROUTE_TENANTS;
    item = ROUTE_TENANT;
  } else {
    return;
  }
  if (k == 2) {
    r->route = list;
    return;
  }
  if (k == 4 && item == ROUTE_FUNCTION && seg_is(s[3], n[3], "invoke"))
    item = ROUTE_INVOKE;
  else if (k != 3)
    return;
  r->route = item;
  if (!tw__svc_valid_name(s[2], n[2])) {
    r->param_bad = true;
    return;
  }
  memcpy(r->param, s[2], n[2]);
  r->param[n[2]] = '\0';
}

/* Routes that take a request body; others are refused one (413 past the
 * small limit below: there is nothing to read). */
static bool takes_body(enum http_route route) {
  return route == ROUTE_FUNCTION || route == ROUTE_INVOKE ||
         route == ROUTE_TOKENS || route == ROUTE_TENANT;
}

#define SMALL_BODY_LIMIT (64 * 1024)

static uint64_t body_cap(const struct http_req *r) {
  return takes_body(r->route) ? tw__svc_config(r->h->svc)->body_limit
                              : SMALL_BODY_LIMIT;
}

/* ---- Responses ---- */

/* Builds the response; queues it, or on a worker stores it in r (one
 * answer per request: a second one is dropped). `mem` tells whether body
 * is malloc'd (MUST_FREE) or static (PERSISTENT). */
static enum MHD_Result queue(struct http_req *r, int status,
                             const char *ctype, char *body, size_t len,
                             enum MHD_ResponseMemoryMode mem, va_list ap) {
  struct MHD_Response *resp;
  if (body)
    resp = MHD_create_response_from_buffer(len, body, mem);
  else
    resp = MHD_create_response_from_buffer(0, (void *)"",
                                           MHD_RESPMEM_PERSISTENT);
  if (!resp) {
    if (mem == MHD_RESPMEM_MUST_FREE) free(body);
    return MHD_NO;
  }
  if (ctype) MHD_add_response_header(resp, "Content-Type", ctype);
  MHD_add_response_header(resp, "X-Request-Id", r->rc.request_id);
  MHD_add_response_header(resp, "traceparent", r->rc.traceparent);
  for (;;) {
    const char *k = va_arg(ap, const char *);
    if (!k) break;
    const char *v = va_arg(ap, const char *);
    if (v) MHD_add_response_header(resp, k, v);
  }
  /* A request whose body was not read (early refusal) cannot keep its
   * connection: the unread bytes would be taken as the next request.
   * While draining, connections are closed after their answer so that
   * keep-alive clients go elsewhere. */
  if (r->early_status || r->too_large ||
      atomic_load_explicit(&r->h->draining, memory_order_relaxed))
    MHD_add_response_header(resp, "Connection", "close");
  r->status = status;
  if (atomic_load_explicit(&r->stage, memory_order_relaxed) ==
      STAGE_RUNNING) {
    if (r->resp)
      MHD_destroy_response(resp);
    else
      r->resp = resp;
    return MHD_YES;
  }
  r->responded = true;
  enum MHD_Result ret = MHD_queue_response(r->conn, (unsigned)status, resp);
  MHD_destroy_response(resp);
  return ret;
}

enum MHD_Result tw__http_respond(struct http_req *r, int status,
                                 const char *ctype, char *body, size_t len,
                                 ...) {
  va_list ap;
  va_start(ap, len);
  enum MHD_Result ret =
      queue(r, status, ctype, body, len, MHD_RESPMEM_MUST_FREE, ap);
  va_end(ap);
  return ret;
}

/* tw__http_respond with a static body (the probes' constant answers:
 * no copy, nothing to free). */
static enum MHD_Result respond_static(struct http_req *r, int status,
                                      const char *body, size_t len, ...) {
  va_list ap;
  va_start(ap, len);
  enum MHD_Result ret = queue(r, status, "application/json", (char *)body,
                              len, MHD_RESPMEM_PERSISTENT, ap);
  va_end(ap);
  return ret;
}

static enum MHD_Result error_with(struct http_req *r, int status,
                                  const char *code, const char *msg,
                                  const char *hk, const char *hv) {
  size_t len;
  char *body = tw__error_json(code, msg, &len);
  return tw__http_respond(r, status, "application/json", body, len, hk, hv,
                          (const char *)NULL);
}

enum MHD_Result tw__http_error(struct http_req *r, int status,
                               const char *code, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return error_with(r, status, code, msg, NULL, NULL);
}

enum MHD_Result tw__http_json(struct http_req *r, int status,
                              struct json_t *v, const char *location) {
  char *s = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
  json_decref(v);
  if (!s) return tw__http_error(r, 503, "unavailable", "out of memory");
  return tw__http_respond(r, status, "application/json", s, strlen(s),
                          "Location", location, (const char *)NULL);
}

/* ---- Request lifecycle ---- */

static enum MHD_Result answer(struct http_req *r) {
  struct tw__http *h = r->h;
  switch (r->early_status) {
  case 413:
    return tw__http_error(r, 413, "payload_too_large",
                          "the request body is over the limit of %llu bytes",
                          (unsigned long long)body_cap(r));
  case 414:
    return tw__http_error(r, 414, "uri_too_long",
                          "the request target is over %u bytes",
                          tw__svc_config(h->svc)->url_limit);
  default:
    break;
  }
  if (r->too_large)
    return tw__http_error(r, 413, "payload_too_large",
                          "the request body is over the limit of %llu bytes",
                          (unsigned long long)body_cap(r));
  switch (r->route) {
  case ROUTE_HEALTHZ:
    if (r->method != M_GET && r->method != M_HEAD) break;
    return respond_static(r, 200, "{\"status\":\"ok\"}", 15,
                          (const char *)NULL);
  case ROUTE_READYZ:
    if (r->method != M_GET && r->method != M_HEAD) break;
    if (!tw__svc_ready(h->svc))
      return tw__http_error(r, 503, "unavailable",
                            "the server is starting or shutting down");
    return respond_static(r, 200, "{\"status\":\"ready\"}", 18,
                          (const char *)NULL);
  case ROUTE_UNKNOWN:
    return tw__http_error(r, 404, "not_found", "no such route");
  default:
    return tw__http_dispatch_api(r);
  }
  return error_with(r, 405, "method_not_allowed",
                    "this route answers GET only", "Allow", "GET, HEAD");
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
                                  const char *url, const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size, void **con_cls) {
  (void)version;
  struct tw__http *h = cls;
  struct http_req *r = *con_cls;
  if (!r) {
    r = calloc(1, sizeof *r);
    if (!r) return MHD_NO;
    r->h = h;
    r->conn = conn;
    r->start_ns = tw__now_ns();
    r->method = method_of(method);
    atomic_fetch_add(&h->inflight, 1);
    *con_cls = r;
    trace_context(r);
    const struct tw__svc_config *cfg = tw__svc_config(h->svc);
    if (strlen(url) > cfg->url_limit) {
      r->route = ROUTE_UNKNOWN;
      r->early_status = 414;
    } else {
      route_of(r, url);
    }
    const char *cl = tw__http_header(r, "Content-Length");
    r->declared = UINT64_MAX;
    if (cl) {
      char *end;
      errno = 0;
      unsigned long long v = strtoull(cl, &end, 10);
      if (!errno && *end == '\0' && cl[0] >= '0' && cl[0] <= '9')
        r->declared = v;
    }
    if (!r->early_status && r->declared != UINT64_MAX &&
        r->declared > body_cap(r))
      r->early_status = 413;
    if (r->early_status) return answer(r);
    return MHD_YES;
  }
  if (*upload_data_size) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    uint64_t cap = body_cap(r);
    if (r->too_large || r->len + n > cap) {
      /* Chunked body past the cap: discard what comes (bounded), answer
       * 413 at the end. */
      r->too_large = true;
      r->discarded += n;
      return r->discarded > cap ? MHD_NO : MHD_YES;
    }
    if (r->len + n > r->cap) {
      size_t ncap = r->cap ? r->cap : 4096;
      if (r->declared != UINT64_MAX && r->declared <= cap &&
          r->declared >= r->len + n)
        ncap = (size_t)r->declared;
      while (ncap < r->len + n) ncap *= 2;
      if (ncap > cap) ncap = (size_t)cap;
      uint8_t *nb = realloc(r->body, ncap);
      if (!nb) return MHD_NO;
      r->body = nb;
      r->cap = ncap;
    }
    memcpy(r->body + r->len, upload_data, n);
    r->len += n;
    return MHD_YES;
  }
  if (r->responded) return MHD_YES;
  if (atomic_load(&r->stage) == STAGE_ANSWERED) {
    /* Resumed: a worker made the answer. None (out of memory): close. */
    struct MHD_Response *resp = r->resp;
    if (!resp) return MHD_NO;
    r->resp = NULL;
    r->responded = true;
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, resp);
    MHD_destroy_response(resp);
    return ret;
  }
  return answer(r);
}

static void req_free(struct http_req *r) {
  if (r->resp) MHD_destroy_response(r->resp);
  free(r->body);
  free(r);
}

/* A worker's turn with a deferred request: the route's handler stores the
 * answer (queue() sees STAGE_RUNNING), then the connection is resumed and
 * MHD calls on_request, which queues it. Nothing here touches r after
 * MHD_resume_connection: from then on on_completed may free it. */
static void run_deferred(struct http_req *r) {
  int stage = STAGE_QUEUED;
  if (!atomic_compare_exchange_strong(&r->stage, &stage, STAGE_RUNNING)) {
    req_free(r); /* abandoned by on_completed */
    return;
  }
  (void)tw__http_route(r);
  struct MHD_Connection *conn = r->conn;
  stage = STAGE_RUNNING;
  if (!atomic_compare_exchange_strong(&r->stage, &stage, STAGE_ANSWERED)) {
    req_free(r);
    return;
  }
  MHD_resume_connection(conn);
}

enum MHD_Result tw__http_defer(struct http_req *r) {
  struct tw__http *h = r->h;
  /* Draining takes no new work in either mode (what runs finishes). */
  bool draining = atomic_load(&h->draining);
  if (!draining) {
    if (!h->workers.threads) return tw__http_route(r);
    if (tw__http_workers_push(&h->workers, r) == 0) return MHD_YES;
    draining = atomic_load(&h->draining); /* closed meanwhile? */
  }
  /* Refused inline, without suspending: the client may retry. */
  size_t len;
  char *body = tw__error_json(
      "unavailable",
      draining ? "the server is shutting down"
               : "every worker is busy and the queue is full; retry later",
      &len);
  return tw__http_respond(r, 503, "application/json", body, len,
                          "Retry-After", "1", (const char *)NULL);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe) {
  (void)conn;
  struct tw__http *h = cls;
  struct http_req *r = *con_cls;
  if (!r) return;
  *con_cls = NULL;
  int stage = atomic_load(&r->stage);
  bool abandoned = (stage == STAGE_QUEUED || stage == STAGE_RUNNING) &&
                   atomic_compare_exchange_strong(&r->stage, &stage,
                                                  STAGE_ABANDONED);
  if (abandoned) /* not expected: see enum http_stage */
    tw__log(TW_LOG_WARN, &r->rc,
            "http: connection completed while its request was on a worker");
  uint64_t ns = tw__now_ns() - r->start_ns;
  int status = r->responded ? r->status : 499; /* client went away */
  if (status < 100 || status > 599) status = 599;
  atomic_fetch_add_explicit(&h->requests[r->route][r->method][status], 1,
                            memory_order_relaxed);
  tw__hist_observe(&h->latency[r->route], ns);
  if (tw__log_enabled(TW_LOG_INFO))
    tw__log(TW_LOG_INFO, &r->rc, "%s %s%s%s %d %.3fms%s",
            tw__http_method_names[r->method], tw__http_route_names[r->route],
            r->param[0] ? " " : "", r->param, status, (double)ns / 1e6,
            toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
                                                       : " (connection ended)");
  /* An abandoned request is the worker's to free. Otherwise a stored
   * answer not sent (the client left before the resume) is freed here. */
  if (!abandoned) req_free(r);
  atomic_fetch_sub(&h->inflight, 1);
}

/* ---- Daemon ---- */

static int parse_addr(const char *addr, struct sockaddr_in *sa) {
  char host[128];
  const char *colon = strrchr(addr, ':');
  if (!colon || (size_t)(colon - addr) >= sizeof host) return -1;
  memcpy(host, addr, (size_t)(colon - addr));
  host[colon - addr] = '\0';
  char *end;
  unsigned long port = strtoul(colon + 1, &end, 10);
  if (*end || port > 65535 || colon[1] == '\0') return -1;
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)port);
  if (strcmp(host, "") == 0 || strcmp(host, "*") == 0)
    sa->sin_addr.s_addr = htonl(INADDR_ANY);
  else if (strcmp(host, "localhost") == 0)
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  else if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
    return -1;
  return 0;
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char msg[512];
  vsnprintf(msg, sizeof msg, fmt, ap);
  size_t n = strlen(msg);
  while (n && msg[n - 1] == '\n') msg[--n] = '\0';
  tw__log(TW_LOG_DEBUG, NULL, "http: %s", msg);
}

/* Each worker reserves an 8 MiB stack; past this, a typo. */
#define MAX_WORKERS 4096u

int tw__http_start(struct tw__svc *svc, struct tw__http **out,
                   uint16_t *port, char *err, size_t errlen) {
  *out = NULL;
  const struct tw__svc_config *cfg = tw__svc_config(svc);
  struct sockaddr_in sa;
  if (parse_addr(cfg->addr, &sa))
    return tw__err(TW_EINVAL, err, errlen,
                   "--addr: expected HOST:PORT with an IPv4 host, got '%s'",
                   cfg->addr);
  struct tw__http *h = calloc(1, sizeof *h);
  if (!h) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  h->svc = svc;
  h->started_ns = tw__now_ns();
  int rc;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                   MHD_USE_ERROR_LOG | MHD_USE_TURBO;
  /* Thread per connection: guests run on the connection's thread, which
   * needs their stack. Event threads only run cheap handlers and keep the
   * default stack; guests run on the workers' 8 MiB stacks. */
  size_t stack = 0;
  if (cfg->threads == 0) {
    flags |= MHD_USE_THREAD_PER_CONNECTION;
    stack = (size_t)8 << 20;
  } else {
    flags |= MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME;
    if (cfg->invoke_workers < 1 || cfg->invoke_workers > MAX_WORKERS) {
      rc = tw__err(TW_EINVAL, err, errlen,
                   "invoke_workers must be from 1 to %u, got %u",
                   MAX_WORKERS, cfg->invoke_workers);
      goto fail_workers;
    }
    if ((rc = tw__http_workers_start(&h->workers, cfg->invoke_workers,
                                     cfg->invoke_queue_limit, run_deferred,
                                     err, errlen)) != 0)
      goto fail_workers;
  }
  struct MHD_OptionItem opts[] = {
      {MHD_OPTION_THREAD_STACK_SIZE, (intptr_t)stack, NULL},
      {cfg->threads > 1 ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_END,
       (intptr_t)cfg->threads, NULL},
      {MHD_OPTION_END, 0, NULL},
  };
  h->d = MHD_start_daemon(
      flags, 0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR,
      (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)cfg->connection_timeout_s,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->connection_limit,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->header_limit,
      MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u, MHD_OPTION_LISTEN_BACKLOG_SIZE,
      1024u, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_ARRAY,
      opts, MHD_OPTION_END);
  if (!h->d) {
    rc = tw__err(TW_EIO, err, errlen, "cannot listen on %s: %s", cfg->addr,
                 errno ? strerror(errno) : "libmicrohttpd refused");
    goto fail_daemon;
  }
  const union MHD_DaemonInfo *info =
      MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
  if (port) *port = info ? info->port : ntohs(sa.sin_port);
  *out = h;
  return 0;

fail_daemon:
  tw__http_workers_stop(&h->workers);
fail_workers:
  free(h);
  return rc;
}

void tw__http_quiesce(struct tw__http *h) {
  /* New work for the pool is refused from here on (503, Connection:
   * close); what is queued or running finishes. */
  atomic_store(&h->draining, true);
  tw__http_workers_close(&h->workers);
  MHD_socket fd = MHD_quiesce_daemon(h->d);
  if (fd != MHD_INVALID_SOCKET) close(fd);
}

bool tw__http_drain(struct tw__http *h, uint32_t ms) {
  uint64_t until = tw__now_ns() + (uint64_t)ms * 1000000u;
  while (atomic_load(&h->inflight) > 0) {
    if (tw__now_ns() >= until) return false;
    struct timespec ts = {0, 10 * 1000000};
    nanosleep(&ts, NULL);
  }
  return true;
}

void tw__http_stop(struct tw__http *h, bool wait) {
  if (!h) return;
  atomic_store(&h->draining, true);
  tw__http_workers_close(&h->workers);
  /* A worker may be inside a guest, its connection suspended: stopping
   * the daemon now would be an API violation (MHD panics) and freeing h a
   * use-after-free. Leave the workers, the daemon and h to exit(). */
  if (!wait) return;
  /* Every connection handed to a worker is resumed before the worker goes
   * back to the FIFO, so once they are joined none is suspended (MHD
   * itself takes in resumes still pending when it stops). */
  tw__http_workers_stop(&h->workers);
  MHD_stop_daemon(h->d);
  free(h);
}
