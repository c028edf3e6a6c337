/* Internals of src/http: one request's state, the routes, and the helpers
 * the route handlers (api.c) use to answer.
 */
#ifndef TW_HTTP_INT_H
#define TW_HTTP_INT_H

#include <microhttpd.h>

#include "http/http.h"

#define HTTP_ROUTES(X)                                                      \
  X(HEALTHZ, "/healthz")                                                    \
  X(READYZ, "/readyz")                                                      \
  X(METRICS, "/metrics")                                                    \
  X(FUNCTIONS, "/v1/functions")                                             \
  X(FUNCTION, "/v1/functions/{name}")                                       \
  X(INVOKE, "/v1/functions/{name}/invoke")                                  \
  X(JOBS, "/v1/jobs")                                                       \
  X(JOB, "/v1/jobs/{id}")                                                   \
  X(TOKENS, "/v1/tokens")                                                   \
  X(TOKEN, "/v1/tokens/{id}")                                               \
  X(TENANTS, "/v1/tenants")                                                 \
  X(TENANT, "/v1/tenants/{id}")                                             \
  X(UNKNOWN, "other")

enum http_route {
#define HTTP_ROUTE_ENUM_(n, s) ROUTE_##n,
  HTTP_ROUTES(HTTP_ROUTE_ENUM_)
#undef HTTP_ROUTE_ENUM_
  ROUTE_COUNT_
};

enum http_method { M_GET, M_POST, M_PUT, M_DELETE, M_HEAD, M_OTHER,
                   M_COUNT_ };

struct http_req {
  struct tw__http *h;
  struct MHD_Connection *conn;
  enum http_route route;
  enum http_method method;
  char param[TW_ID_MAX + 1]; /* {name} or {id} */
  bool param_bad;            /* the path segment is not a valid name */
  uint64_t start_ns;
  struct tw__reqctx rc;
  struct tw__principal who;
  bool authed;
  /* body */
  uint8_t *body;
  size_t len, cap;
  uint64_t declared; /* Content-Length, or UINT64_MAX */
  bool too_large;
  uint64_t discarded;
  int early_status; /* set on the first call, answered at the end */
  int status;       /* what was sent */
  bool responded;
};

struct tw__http {
  struct tw__svc *svc;
  struct MHD_Daemon *d;
  _Atomic int64_t inflight;
  uint64_t started_ns;
  /* metrics: requests by route, method and status; latency by route */
  _Atomic uint64_t requests[ROUTE_COUNT_][M_COUNT_][600];
  struct tw__hist latency[ROUTE_COUNT_];
};

extern const char *const tw__http_route_names[ROUTE_COUNT_];
extern const char *const tw__http_method_names[M_COUNT_];

/* Answers with a body (ownership of `body`, malloc'd, passes to the
 * response; NULL with len 0 for none). Extra headers as name/value pairs
 * ending with NULL. Always returns MHD_YES or MHD_NO for MHD. */
enum MHD_Result tw__http_respond(struct http_req *r, int status,
                                 const char *ctype, char *body, size_t len,
                                 ...);
/* {"error":{"code","message"}} with status. */
enum MHD_Result tw__http_error(struct http_req *r, int status,
                               const char *code, const char *fmt, ...)
    TW_PRINTF(4, 5);
/* JSON text of a jansson value (stolen) with status. */
struct json_t;
enum MHD_Result tw__http_json(struct http_req *r, int status,
                              struct json_t *v, const char *location);
/* A query argument or header (NULL when absent). */
const char *tw__http_arg(struct http_req *r, const char *name);
const char *tw__http_header(struct http_req *r, const char *name);

/* api.c: handles an authenticated /v1 request. */
enum MHD_Result tw__http_dispatch_api(struct http_req *r);
/* api.c: /metrics body (HTTP and service metrics). */
void tw__http_render_metrics(struct tw__http *h, struct tw__buf *b);

#endif
