/* Internals of src/http: one request's state, the routes, the worker
 * pool, and the helpers the route handlers (api.c) use to answer.
 */
#ifndef TW_HTTP_INT_H
#define TW_HTTP_INT_H

#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <string.h>

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

/* Where a request's handling is. Requests answered on the event thread
 * stay INLINE. A request handed to the worker pool goes QUEUED -> RUNNING
 * -> ANSWERED; its connection is suspended from QUEUED until the worker,
 * after ANSWERED, resumes it, and MHD neither times out nor completes a
 * suspended connection, so on_completed never meets QUEUED or RUNNING.
 * Should it anyway, it marks the request ABANDONED instead of freeing it
 * and the worker frees it (see on_completed). */
enum http_stage { STAGE_INLINE, STAGE_QUEUED, STAGE_RUNNING, STAGE_ANSWERED,
                  STAGE_ABANDONED };

/* One request: allocated by the first on_request call, freed with its
 * body and any stored response not sent by on_completed (or, ABANDONED,
 * by the worker holding it). */
struct http_req {
  struct tw__http *h;
  struct MHD_Connection *conn;
  struct http_req *next; /* worker queue link */
  uint64_t queued_ns;    /* when it entered the FIFO */
  _Atomic int stage;     /* enum http_stage */
  /* The answer a worker made (MHD_queue_response only works inside the
   * access handler): queued by on_request once the connection resumes. */
  struct MHD_Response *resp;
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

/* The worker pool (workers.c): a fixed set of threads with 8 MiB stacks,
 * a bounded FIFO of requests (linked through http_req.next) and a monitor
 * thread. Waking a sleeping worker costs two context switches, as much
 * as a trivial invocation itself on a small machine, so a push wakes one
 * (the most recently idle, by its own semaphore) only when the busy
 * workers already have a queued request each; otherwise the request waits
 * in the FIFO for the next busy worker to finish. Since that worker may be
 * inside a guest that runs for minutes, the monitor hands a request that
 * has waited STALL_MS to an idle worker: no request waits behind a long
 * one while a worker is idle for more than a few milliseconds. */
struct http_worker {
  struct http_workers *pool;
  pthread_t thread;
  sem_t wake;
  struct http_req *job;     /* handed over by a push; NULL: exit */
  struct http_worker *next; /* idle stack link */
};

struct http_workers {
  pthread_mutex_t mu;
  struct http_req *head, *tail;
  uint32_t nqueued;         /* in the FIFO */
  uint32_t nreserved;       /* pushes between their check and the FIFO */
  _Atomic uint32_t nbusy;   /* workers inside a request */
  uint32_t limit;           /* most requests waiting with no worker idle */
  struct http_worker *idle; /* waiting on their semaphore, LIFO */
  bool closed;              /* pushes are refused */
  bool stop;                /* workers exit once the FIFO is empty */
  struct http_worker *threads;
  uint32_t nthreads;
  void (*run)(struct http_req *r);
  /* the monitor: polls every millisecond while requests were queued in
   * the last GRACE_MS, else sleeps on monitor_cv until a push queues one */
  pthread_t monitor;
  bool monitor_started, monitor_waiting;
  pthread_cond_t monitor_cv;
  uint64_t last_queued_ns;
};

/* Starts n threads that call run(r) for each pushed request. */
int tw__http_workers_start(struct http_workers *w, uint32_t n, uint32_t limit,
                           void (*run)(struct http_req *r), char *err,
                           size_t errlen);
/* Hands r to a worker or queues it, calling MHD_suspend_connection(r->conn)
 * before any worker can see it (so none resumes it first). 0, or
 * TW_ELIMIT when the pool is closed, or no worker is idle and `limit`
 * requests already wait (then nothing happened). */
int tw__http_workers_push(struct http_workers *w, struct http_req *r);
/* Threads, those inside a request, and requests waiting; false when the
 * pool is not running (thread-per-connection mode). */
bool tw__http_workers_stats(struct http_workers *w, uint32_t *nthreads,
                            uint32_t *busy, uint32_t *queued);
/* Refuses further pushes; what is queued still runs. */
void tw__http_workers_close(struct http_workers *w);
/* Closes, lets the workers empty the FIFO and joins them; frees the pool's
 * resources. Blocks while a worker is inside a request. No push may be in
 * progress (the server stops the pool once drained: every push belongs to
 * a request in flight). */
void tw__http_workers_stop(struct http_workers *w);

struct tw__http {
  struct tw__svc *svc;
  struct MHD_Daemon *d;
  /* Requests that can block go to the pool; not started (nthreads 0) in
   * thread-per-connection mode, where they run on their connection's
   * thread as everything else does. */
  struct http_workers workers;
  _Atomic bool draining; /* quiesced: no new work for the pool */
  _Atomic int64_t inflight;
  uint64_t started_ns;
  /* metrics: requests by route, method and status; latency by route */
  _Atomic uint64_t requests[ROUTE_COUNT_][M_COUNT_][600];
  struct tw__hist latency[ROUTE_COUNT_];
};

/* Copies the string s into dst (n bytes), truncating: snprintf's "%s"
 * without the formatter, for the copies every request makes. */
static inline void tw__http_copy(char *dst, size_t n, const char *s) {
  size_t len = strnlen(s, n - 1);
  memcpy(dst, s, len);
  dst[len] = '\0';
}

extern const char *const tw__http_route_names[ROUTE_COUNT_];
extern const char *const tw__http_method_names[M_COUNT_];

/* Answers with a body (ownership of `body`, malloc'd, passes to the
 * response, also on failure; NULL with len 0 for none). Extra headers as
 * name/value pairs ending with NULL. On the event thread the response is
 * queued at once; on a worker it is stored in r and queued when MHD
 * resumes the connection. Always returns MHD_YES or MHD_NO for MHD. */
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

/* api.c: handles a /v1 request (and /metrics): authenticates it, then
 * answers it, or hands it to tw__http_defer when handling can block. */
enum MHD_Result tw__http_dispatch_api(struct http_req *r);
/* api.c: answers an authenticated request by its route (what a worker
 * runs for a deferred one). */
enum MHD_Result tw__http_route(struct http_req *r);
/* server.c: runs tw__http_route(r) on a worker (suspending the
 * connection), or at once in thread-per-connection mode; answers 503
 * itself when the pool is full or the server is draining. */
enum MHD_Result tw__http_defer(struct http_req *r);
/* api.c: /metrics body (HTTP and service metrics). */
void tw__http_render_metrics(struct tw__http *h, struct tw__buf *b);

#endif
