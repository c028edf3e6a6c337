/* Asynchronous invocations. A job is a row in the database first (state
 * queued), then an entry in the in-memory queue that the worker threads
 * drain in order. Transitions are written through: queued -> running ->
 * succeeded | failed | cancelled. At start-up, rows left running by a
 * previous process are failed with the reason, and queued rows are queued
 * again. At shutdown, queued jobs simply stay queued in the database.
 * Cancelling a running job interrupts its guest: jobs_mu guards each
 * job's state, the store its call runs in (ctl.store) and who cancelled
 * it, so a store is never interrupted after its call gave it back.
 */
#include "svc/svc_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct svc_job {
  struct svc_job *qnext; /* queue */
  struct svc_job *anext; /* active list (queued or running) */
  char id[TW_ID_MAX + 1];
  char tenant[TW_ID_MAX + 1];
  char function[TW_ID_MAX + 1];
  char trace[56];
  uint8_t *request;
  size_t len;
  int64_t created_at;
  bool running;
  struct tw__run_ctl ctl;
  char cancel_by[TW_ID_MAX + 1]; /* token id, once cancelled */
};

static void job_free(struct svc_job *j) {
  tw__free(j->request);
  tw__free(j);
}

static struct svc_job *job_make(const char *id, const char *tenant,
                                 const char *function, const char *trace,
                                 const uint8_t *req, size_t len,
                                 int64_t created_at) {
  struct svc_job *j = tw__calloc(1, sizeof *j);
  if (!j) return NULL;
  snprintf(j->id, sizeof j->id, "%s", id);
  snprintf(j->tenant, sizeof j->tenant, "%s", tenant);
  snprintf(j->function, sizeof j->function, "%s", function);
  snprintf(j->trace, sizeof j->trace, "%s", trace);
  j->created_at = created_at;
  atomic_init(&j->ctl.cancel, false);
  j->ctl.store = NULL;
  if (len) {
    j->request = tw__malloc(len);
    if (!j->request) {
      tw__free(j);
      return NULL;
    }
    memcpy(j->request, req, len);
    j->len = len;
  }
  return j;
}

/* Appends to the queue and the active list (jobs_mu held). */
static void enqueue_locked(struct tw__svc *svc, struct svc_job *j) {
  j->qnext = NULL;
  if (svc->queue_tail)
    svc->queue_tail->qnext = j;
  else
    svc->queue_head = j;
  svc->queue_tail = j;
  j->anext = svc->active;
  svc->active = j;
  svc->nqueued++;
  pthread_cond_signal(&svc->jobs_cv);
}

static void unlink_active_locked(struct tw__svc *svc, struct svc_job *j) {
  for (struct svc_job **pp = &svc->active; *pp; pp = &(*pp)->anext)
    if (*pp == j) {
      *pp = j->anext;
      return;
    }
}

static void unlink_queue_locked(struct tw__svc *svc, struct svc_job *j) {
  struct svc_job *prev = NULL;
  for (struct svc_job *q = svc->queue_head; q; prev = q, q = q->qnext) {
    if (q != j) continue;
    if (prev)
      prev->qnext = q->qnext;
    else
      svc->queue_head = q->qnext;
    if (svc->queue_tail == q) svc->queue_tail = prev;
    return;
  }
}

/* Fills a reqctx from a job's stored traceparent so that its logs carry
 * the submitter's trace. */
static void job_ctx(const struct svc_job *j, struct tw__reqctx *rc) {
  memset(rc, 0, sizeof *rc);
  snprintf(rc->request_id, sizeof rc->request_id, "%.39s", j->id);
  if (strlen(j->trace) >= 55 && j->trace[2] == '-') {
    memcpy(rc->trace_id, j->trace + 3, 32);
    rc->trace_id[32] = '\0';
  }
  tw__random_hex(rc->span_id, 8);
  snprintf(rc->tenant, sizeof rc->tenant, "%s", j->tenant);
  snprintf(rc->who, sizeof rc->who, "job");
}

static void run_job(struct tw__svc *svc, struct svc_job *sj) {
  struct tw__job rec;
  memset(&rec, 0, sizeof rec);
  snprintf(rec.id, sizeof rec.id, "%s", sj->id);
  rec.state = TW_JOB_RUNNING;
  rec.started_at = svc_now_ms();
  tw__db_job_update(svc->db, &rec);

  struct tw__reqctx rc;
  job_ctx(sj, &rc);
  struct tw__reply reply;
  tw__svc_invoke(svc, &rc, sj->tenant, sj->function, sj->request, sj->len,
                 &sj->ctl, &reply);
  rec.finished_at = svc_now_ms();
  rec.status = reply.status;
  char why[TW_ID_MAX + 64];
  pthread_mutex_lock(&svc->jobs_mu);
  bool cancelled = atomic_load(&sj->ctl.cancel);
  snprintf(why, sizeof why, "cancelled by %s while running",
           sj->cancel_by[0] ? sj->cancel_by : "an operator");
  pthread_mutex_unlock(&svc->jobs_mu);
  /* A call that completed although a cancel came in keeps its result;
   * one that failed (interrupted, or never started) reads cancelled. */
  if (cancelled && reply.status >= 400) {
    rec.state = TW_JOB_CANCELLED;
    rec.error = why;
  } else if (reply.status < 400) {
    rec.state = TW_JOB_SUCCEEDED;
    rec.result = (uint8_t *)reply.body;
    rec.result_len = reply.len;
  } else {
    rec.state = TW_JOB_FAILED;
    rec.result = (uint8_t *)reply.body; /* the error JSON */
    rec.result_len = reply.len;
    rec.error = (char *)"the invocation failed";
  }
  if (tw__db_job_update(svc->db, &rec) != 0)
    tw__log(TW_LOG_ERROR, &rc, "job %s: cannot record its result", sj->id);
  tw__log(TW_LOG_INFO, &rc, "job %s %s (status %d)", sj->id,
          tw__job_state_name(rec.state), reply.status);
  free(reply.body);
}

static void *worker(void *arg) {
  struct tw__svc *svc = arg;
  pthread_mutex_lock(&svc->jobs_mu);
  for (;;) {
    while (!svc->jobs_stop && !svc->queue_head)
      pthread_cond_wait(&svc->jobs_cv, &svc->jobs_mu);
    if (svc->jobs_stop) break;
    struct svc_job *j = svc->queue_head;
    svc->queue_head = j->qnext;
    if (!svc->queue_head) svc->queue_tail = NULL;
    svc->nqueued--;
    svc->nrunning++;
    j->running = true;
    pthread_mutex_unlock(&svc->jobs_mu);
    run_job(svc, j);
    pthread_mutex_lock(&svc->jobs_mu);
    unlink_active_locked(svc, j);
    svc->nrunning--;
    pthread_cond_broadcast(&svc->jobs_idle_cv);
    job_free(j);
  }
  pthread_mutex_unlock(&svc->jobs_mu);
  return NULL;
}

static int requeue_one(void *ctx, const struct tw__job *j) {
  struct tw__svc *svc = ctx;
  struct svc_job *sj = job_make(j->id, j->tenant, j->function, j->trace,
                                j->request, j->request_len, j->created_at);
  if (!sj) return TW_ENOMEM;
  pthread_mutex_lock(&svc->jobs_mu);
  enqueue_locked(svc, sj);
  pthread_mutex_unlock(&svc->jobs_mu);
  return 0;
}

int svc_jobs_start(struct tw__svc *svc) {
  int failed = 0;
  tw__db_job_fail_running(svc->db,
                          "the server stopped while the job was running",
                          &failed);
  if (failed)
    tw__log(TW_LOG_WARN, NULL,
            "%d job(s) were running when the server last stopped: marked "
            "failed",
            failed);
  int rc = tw__db_job_each_queued(svc->db, requeue_one, svc);
  if (rc) return rc;
  if (svc->nqueued)
    tw__log(TW_LOG_INFO, NULL, "%u queued job(s) resumed", svc->nqueued);
  uint32_t n = svc->cfg.job_workers ? svc->cfg.job_workers : 1;
  svc->workers = tw__calloc(n, sizeof *svc->workers);
  if (!svc->workers) return TW_ENOMEM;
  for (uint32_t i = 0; i < n; i++) {
    if (pthread_create(&svc->workers[i], NULL, worker, svc) != 0) break;
    svc->nworkers++;
  }
  return svc->nworkers ? 0 : TW_ENOMEM;
}

bool svc_jobs_stop(struct tw__svc *svc) {
  pthread_mutex_lock(&svc->jobs_mu);
  svc->jobs_stop = true;
  pthread_cond_broadcast(&svc->jobs_cv);
  /* Wait (bounded) for running jobs to finish. */
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  uint64_t ns = (uint64_t)until.tv_nsec +
                (uint64_t)svc->cfg.drain_ms % 1000 * 1000000u;
  until.tv_sec += svc->cfg.drain_ms / 1000 + (time_t)(ns / 1000000000u);
  until.tv_nsec = (long)(ns % 1000000000u);
  while (svc->nrunning &&
         pthread_cond_timedwait(&svc->jobs_idle_cv, &svc->jobs_mu, &until) !=
             ETIMEDOUT) {
  }
  bool clean = svc->nrunning == 0;
  pthread_mutex_unlock(&svc->jobs_mu);
  if (!clean) return false;
  for (uint32_t i = 0; i < svc->nworkers; i++)
    pthread_join(svc->workers[i], NULL);
  svc->nworkers = 0;
  /* What is still queued stays queued in the database. */
  struct svc_job *j = svc->queue_head;
  while (j) {
    struct svc_job *next = j->qnext;
    job_free(j);
    j = next;
  }
  svc->queue_head = svc->queue_tail = NULL;
  svc->active = NULL;
  svc->nqueued = 0;
  return true;
}

int tw__svc_job_submit(struct tw__svc *svc, const struct tw__reqctx *rc,
                       const char *tenant, const char *name,
                       const uint8_t *body, size_t len, char *id,
                       struct tw__status *st) {
  if (atomic_load(&svc->draining)) {
    svc_status(st, 503, "unavailable", "the server is shutting down");
    return -1;
  }
  struct svc_fn *fn = svc_fn_get(svc, tenant, name);
  if (!fn) {
    svc_status(st, 404, "not_found", "no function '%s'", name);
    return -1;
  }
  svc_fn_put(fn);
  pthread_mutex_lock(&svc->jobs_mu);
  bool full = svc->nqueued >= svc->cfg.job_queue_limit;
  pthread_mutex_unlock(&svc->jobs_mu);
  if (full) {
    svc_status(st, 429, "queue_full", "the job queue is full; retry later");
    return -1;
  }
  uint8_t rnd[12];
  char hex[25];
  if (tw__rand_bytes(rnd, sizeof rnd)) {
    svc_status(st, 503, "unavailable", "no randomness");
    return -1;
  }
  tw__hex(rnd, sizeof rnd, hex);
  struct tw__job rec;
  memset(&rec, 0, sizeof rec);
  snprintf(rec.id, sizeof rec.id, "job_%s", hex);
  snprintf(rec.tenant, sizeof rec.tenant, "%s", tenant);
  snprintf(rec.function, sizeof rec.function, "%s", name);
  snprintf(rec.trace, sizeof rec.trace, "%s", rc ? rc->traceparent : "");
  rec.state = TW_JOB_QUEUED;
  rec.request = (uint8_t *)body;
  rec.request_len = len;
  rec.created_at = svc_now_ms();
  struct svc_job *sj = job_make(rec.id, tenant, name, rec.trace, body, len,
                                rec.created_at);
  if (!sj) {
    svc_status(st, 503, "unavailable", "out of memory");
    return -1;
  }
  if (tw__db_job_insert(svc->db, &rec) != 0) {
    job_free(sj);
    svc_status(st, 503, "unavailable", "cannot record the job");
    return -1;
  }
  pthread_mutex_lock(&svc->jobs_mu);
  enqueue_locked(svc, sj);
  pthread_mutex_unlock(&svc->jobs_mu);
  snprintf(id, TW_ID_MAX + 1, "%s", rec.id);
  return 0;
}

int tw__svc_job_get(struct tw__svc *svc, const char *id, struct tw__job *j) {
  return tw__db_job_get(svc->db, id, j);
}

bool svc_job_bind(struct tw__svc *svc, struct tw__run_ctl *ctl,
                  tw_store_t *store) {
  if (!ctl) return false;
  pthread_mutex_lock(&svc->jobs_mu);
  ctl->store = store;
  bool cancelled = store && atomic_load(&ctl->cancel);
  pthread_mutex_unlock(&svc->jobs_mu);
  return cancelled;
}

static struct svc_job *active_find_locked(struct tw__svc *svc,
                                          const char *id) {
  struct svc_job *j;
  for (j = svc->active; j; j = j->anext)
    if (strcmp(j->id, id) == 0) break;
  return j;
}

/* How long a cancel waits for a running job to stop, and how often it
 * interrupts the guest again meanwhile: an interrupt that lands just
 * before the guest call starts is forgotten by design (tw.h), so one is
 * not enough. */
#define CANCEL_WAIT_MS 1000
#define CANCEL_RETRY_MS 10

/* Interrupts running job j (jobs_mu held) until it leaves the active
 * list or CANCEL_WAIT_MS pass; j may be freed meanwhile, so it is looked
 * up again by id. Returns with jobs_mu held. */
static void cancel_running_locked(struct tw__svc *svc, struct svc_job *j) {
  char id[TW_ID_MAX + 1];
  snprintf(id, sizeof id, "%s", j->id);
  uint64_t until = tw__now_ns() + (uint64_t)CANCEL_WAIT_MS * 1000000u;
  for (;;) {
    if (j->ctl.store) tw_store_interrupt(j->ctl.store);
    uint64_t now = tw__now_ns();
    if (now >= until) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t ns = (uint64_t)ts.tv_nsec + (uint64_t)CANCEL_RETRY_MS * 1000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u);
    ts.tv_nsec = (long)(ns % 1000000000u);
    pthread_cond_timedwait(&svc->jobs_idle_cv, &svc->jobs_mu, &ts);
    if (!(j = active_find_locked(svc, id))) return;
  }
}

int tw__svc_job_cancel(struct tw__svc *svc, const char *id, const char *by,
                       bool *was_running) {
  *was_running = false;
  pthread_mutex_lock(&svc->jobs_mu);
  struct svc_job *j = active_find_locked(svc, id);
  if (j && j->running) {
    if (!atomic_load(&j->ctl.cancel))
      snprintf(j->cancel_by, sizeof j->cancel_by, "%s", by);
    atomic_store(&j->ctl.cancel, true);
    cancel_running_locked(svc, j);
    /* If it still runs after the wait, the worker records the cancel when
     * the call returns. */
    *was_running = true;
    pthread_mutex_unlock(&svc->jobs_mu);
    return 0;
  }
  if (j) {
    unlink_queue_locked(svc, j);
    unlink_active_locked(svc, j);
    svc->nqueued--;
  }
  pthread_mutex_unlock(&svc->jobs_mu);
  struct tw__job rec;
  int rc = tw__db_job_get(svc->db, id, &rec);
  if (rc) {
    if (j) job_free(j);
    return rc;
  }
  if (!j && rec.state != TW_JOB_QUEUED) {
    tw__job_clear(&rec);
    return TW_EEXISTS;
  }
  tw__job_clear(&rec);
  char why[TW_ID_MAX + 64];
  snprintf(why, sizeof why, "cancelled by %s before it ran",
           by[0] ? by : "an operator");
  rec.state = TW_JOB_CANCELLED;
  rec.finished_at = svc_now_ms();
  rec.error = why;
  rc = tw__db_job_update(svc->db, &rec);
  rec.error = NULL;
  if (j) job_free(j);
  return rc;
}

int tw__svc_job_each(struct tw__svc *svc, const char *tenant, int limit,
                     int (*fn)(void *ctx, const struct tw__job *j),
                     void *ctx) {
  return tw__db_job_each(svc->db, tenant, limit, fn, ctx);
}
