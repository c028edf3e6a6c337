/* The HTTP worker pool: the requests whose handling can block (guest
 * code, compiles, database writes, a job cancel's wait) run here, off
 * MHD's event threads, so that a guest looping until its deadline stalls
 * one worker, not every connection of an event thread.
 * Invariants: a pushed request has its connection suspended before any
 * worker can see it; with no worker idle the FIFO holds at most `limit`;
 * a request waits in the FIFO while a worker is idle only until the
 * monitor's next pass after STALL_MS; the pool's lock is never held while
 * a request runs or MHD is called. Why requests wait at all: see struct
 * http_workers in http_int.h.
 */
#include "http/http_int.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Guests run on these threads: they need the stack a CLI run gets. */
#define WORKER_STACK ((size_t)8 << 20)
/* How long a request may wait for a busy worker while another is idle. */
#define STALL_MS 1
/* How long the monitor keeps polling after the last queued request. */
#define GRACE_MS 100
#define MS ((uint64_t)1000000)

static struct http_req *fifo_pop(struct http_workers *w) {
  struct http_req *r = w->head;
  w->head = r->next;
  if (!w->head) w->tail = NULL;
  w->nqueued--;
  r->next = NULL;
  return r;
}

/* Next request for `self`: from the FIFO, else by hand-over after
 * waiting idle. NULL: the pool stops. */
static struct http_req *next_job(struct http_worker *self) {
  struct http_workers *w = self->pool;
  pthread_mutex_lock(&w->mu);
  if (w->head) {
    struct http_req *r = fifo_pop(w);
    pthread_mutex_unlock(&w->mu);
    return r;
  }
  atomic_fetch_sub_explicit(&w->nbusy, 1, memory_order_relaxed);
  if (w->stop) {
    pthread_mutex_unlock(&w->mu);
    return NULL;
  }
  self->job = NULL;
  self->next = w->idle;
  w->idle = self;
  pthread_mutex_unlock(&w->mu);
  while (sem_wait(&self->wake) != 0 && errno == EINTR) {
  }
  return self->job; /* written, and nbusy raised, before the post */
}

static void *worker_main(void *arg) {
  struct http_worker *self = arg;
  struct http_workers *w = self->pool;
#ifdef SCHED_BATCH
  /* No wakeup preemption: a push that wakes this worker lets the event
   * thread finish its round of ready connections first (queuing more for
   * this worker) instead of being switched out at once. Fairness is
   * CFS's as before; failure only costs speed. */
  struct sched_param sp = {0};
  pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
#endif
  atomic_fetch_add_explicit(&w->nbusy, 1, memory_order_relaxed);
  struct http_req *r;
  while ((r = next_job(self)) != NULL) w->run(r);
  return NULL;
}

/* Gives r to the most recently idle worker; the caller holds the lock
 * and posts the returned worker's semaphore (after unlocking, where it
 * can). */
static struct http_worker *hand_over(struct http_workers *w,
                                     struct http_req *r) {
  struct http_worker *wk = w->idle;
  w->idle = wk->next;
  wk->job = r;
  atomic_fetch_add_explicit(&w->nbusy, 1, memory_order_relaxed);
  return wk;
}

static void *monitor_main(void *arg) {
  struct http_workers *w = arg;
  pthread_mutex_lock(&w->mu);
  while (!w->stop) {
    uint64_t now = tw__now_ns();
    while (w->head && w->idle && now - w->head->queued_ns >= STALL_MS * MS)
      sem_post(&hand_over(w, fifo_pop(w))->wake);
    if (w->head || now - w->last_queued_ns < GRACE_MS * MS) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts.tv_nsec += (long)MS;
      if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
      }
      pthread_cond_timedwait(&w->monitor_cv, &w->mu, &ts);
    } else {
      w->monitor_waiting = true;
      pthread_cond_wait(&w->monitor_cv, &w->mu);
      w->monitor_waiting = false;
    }
  }
  pthread_mutex_unlock(&w->mu);
  return NULL;
}

int tw__http_workers_start(struct http_workers *w, uint32_t n, uint32_t limit,
                           void (*run)(struct http_req *r), char *err,
                           size_t errlen) {
  memset(w, 0, sizeof *w);
  w->limit = limit;
  w->run = run;
  w->threads = tw__calloc(n, sizeof *w->threads);
  if (!w->threads) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  pthread_mutex_init(&w->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&w->monitor_cv, &ca);
  pthread_condattr_destroy(&ca);
  int rc = 0;
  if (pthread_create(&w->monitor, NULL, monitor_main, w) == 0)
    w->monitor_started = true;
  else
    rc = tw__err(TW_ENOMEM, err, errlen, "cannot start the HTTP monitor");
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, WORKER_STACK);
  while (!rc && w->nthreads < n) {
    struct http_worker *wk = &w->threads[w->nthreads];
    wk->pool = w;
    sem_init(&wk->wake, 0, 0);
    if (pthread_create(&wk->thread, &attr, worker_main, wk)) {
      sem_destroy(&wk->wake);
      rc = tw__err(TW_ENOMEM, err, errlen,
                   "cannot start HTTP worker thread %u of %u", w->nthreads + 1,
                   n);
    } else {
      w->nthreads++;
    }
  }
  pthread_attr_destroy(&attr);
  if (rc) tw__http_workers_stop(w);
  return rc;
}

int tw__http_workers_push(struct http_workers *w, struct http_req *r) {
  /* Take a place first, then suspend without the lock (it costs an
   * epoll_ctl, and MHD's own lock), then hand over or queue. */
  pthread_mutex_lock(&w->mu);
  if (w->closed || (!w->idle && w->nqueued + w->nreserved >= w->limit)) {
    pthread_mutex_unlock(&w->mu);
    return TW_ELIMIT;
  }
  w->nreserved++;
  pthread_mutex_unlock(&w->mu);
  atomic_store_explicit(&r->stage, STAGE_QUEUED, memory_order_relaxed);
  MHD_suspend_connection(r->conn);
  r->next = NULL;
  struct http_worker *wk = NULL;
  pthread_mutex_lock(&w->mu);
  w->nreserved--;
  /* Wake an idle worker only when every busy one already has a request
   * waiting for it; else the next to finish takes this one. */
  if (w->idle &&
      atomic_load_explicit(&w->nbusy, memory_order_relaxed) <= w->nqueued) {
    wk = hand_over(w, r);
  } else {
    r->queued_ns = tw__now_ns();
    w->last_queued_ns = r->queued_ns;
    if (w->tail)
      w->tail->next = r;
    else
      w->head = r;
    w->tail = r;
    w->nqueued++;
    if (w->monitor_waiting) pthread_cond_signal(&w->monitor_cv);
  }
  pthread_mutex_unlock(&w->mu);
  if (wk) sem_post(&wk->wake); /* after the unlock: it needs no lock */
  return 0;
}

bool tw__http_workers_stats(struct http_workers *w, uint32_t *nthreads,
                            uint32_t *busy, uint32_t *queued) {
  if (!w->threads) return false;
  pthread_mutex_lock(&w->mu);
  *nthreads = w->nthreads;
  *busy = atomic_load_explicit(&w->nbusy, memory_order_relaxed);
  *queued = w->nqueued;
  pthread_mutex_unlock(&w->mu);
  if (*busy > *nthreads) *busy = *nthreads;
  return true;
}

void tw__http_workers_close(struct http_workers *w) {
  if (!w->threads) return;
  pthread_mutex_lock(&w->mu);
  w->closed = true;
  pthread_mutex_unlock(&w->mu);
}

void tw__http_workers_stop(struct http_workers *w) {
  if (!w->threads) return;
  pthread_mutex_lock(&w->mu);
  w->closed = true;
  w->stop = true;
  /* Idle workers get a NULL job; busy ones see `stop` once the FIFO is
   * empty (the monitor stops at once: busy workers empty the FIFO). */
  struct http_worker *idle = w->idle;
  w->idle = NULL;
  pthread_cond_signal(&w->monitor_cv);
  pthread_mutex_unlock(&w->mu);
  while (idle) {
    struct http_worker *next = idle->next;
    sem_post(&idle->wake);
    idle = next;
  }
  for (uint32_t i = 0; i < w->nthreads; i++) {
    pthread_join(w->threads[i].thread, NULL);
    sem_destroy(&w->threads[i].wake);
  }
  if (w->monitor_started) pthread_join(w->monitor, NULL);
  pthread_cond_destroy(&w->monitor_cv);
  pthread_mutex_destroy(&w->mu);
  tw__free(w->threads);
  w->threads = NULL;
  w->nthreads = 0;
}
