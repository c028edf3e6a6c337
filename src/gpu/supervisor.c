/* The parent side of the GPU workers: one worker process per (tenant,
 * device), started on demand or taken from a pool of pre-warmed spares
 * (a spare serves the first tenant it is given, for life), placed on the
 * least loaded device unless pinned, and replaced after it dies. A call
 * whose worker dies fails with a clear message; the next call starts a
 * new worker. Locking: sup->mu guards the worker list and counters; each
 * worker's call_mu serialises the calls to it (a worker serves one
 * request at a time); refs keep a worker alive while a caller uses it.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gpu/gpu_int.h"

extern char **environ;

/* W_STARTING: not assigned to its tenant yet (spares stay here). */
enum wstate { W_STARTING, W_READY, W_DEAD };

struct worker {
  char tenant[72]; /* "" for a spare */
  int device;
  pid_t pid;
  int sock;
  enum wstate state;
  bool hello; /* HELLO received */
  bool was_spare;
  int refs;
  pthread_mutex_t call_mu;
  tw_gpu_stats_t stats; /* from the last reply */
  uint32_t seq;
  struct worker *next;
};

/* A posix_spawn for the spawner thread to run. */
struct spawn_job {
  const char *path;
  const posix_spawn_file_actions_t *fa;
  const posix_spawnattr_t *attr;
  char *const *argv, *const *envp;
  pid_t pid;
  int rc;
  bool done;
};

struct tw_gpu_supervisor {
  tw_gpu_supervisor_config_t cfg;
  char *worker_path;
  tw_gpu_pin_t *pins;
  pthread_mutex_t mu;
  struct worker *workers;
  int ndevices;
  uint64_t started, crashes, spares_taken;
  /* Workers are started from one thread that lives as long as the
   * supervisor: their PR_SET_PDEATHSIG fires when the *thread* that
   * started them ends, and callers' threads (a server's per-connection
   * threads) come and go. */
  pthread_mutex_t spawn_mu;
  pthread_cond_t spawn_cv;
  struct spawn_job *job;
  bool spawn_stop, spawner_up;
  pthread_t spawner;
};

static void *spawner_main(void *arg) {
  tw_gpu_supervisor_t *sup = arg;
  pthread_mutex_lock(&sup->spawn_mu);
  for (;;) {
    while (!sup->job && !sup->spawn_stop)
      pthread_cond_wait(&sup->spawn_cv, &sup->spawn_mu);
    if (!sup->job) break;
    struct spawn_job *j = sup->job;
    j->rc = posix_spawn(&j->pid, j->path, j->fa, j->attr, j->argv, j->envp);
    j->done = true;
    sup->job = NULL;
    pthread_cond_broadcast(&sup->spawn_cv);
  }
  pthread_mutex_unlock(&sup->spawn_mu);
  return NULL;
}

/* posix_spawn on the spawner thread (on this one if there is none). */
static int spawn_on_thread(tw_gpu_supervisor_t *sup, struct spawn_job *j) {
  if (!sup->spawner_up)
    return posix_spawn(&j->pid, j->path, j->fa, j->attr, j->argv, j->envp);
  pthread_mutex_lock(&sup->spawn_mu);
  while (sup->job) pthread_cond_wait(&sup->spawn_cv, &sup->spawn_mu);
  sup->job = j;
  pthread_cond_broadcast(&sup->spawn_cv);
  while (!j->done) pthread_cond_wait(&sup->spawn_cv, &sup->spawn_mu);
  pthread_mutex_unlock(&sup->spawn_mu);
  return j->rc;
}

void tw_gpu_supervisor_config_default(tw_gpu_supervisor_config_t *c) {
  memset(c, 0, sizeof *c);
  c->backend = TW_GPU_BACKEND_AUTO;
  c->tenant_memory_quota = 4ull << 30;
  c->max_inflight = 64;
  c->call_timeout_ms = 60000;
  c->max_workers = 256;
}

static bool tenant_ok(const char *t) {
  size_t n = t ? strlen(t) : 0;
  if (n == 0 || n > 64) return false;
  for (size_t i = 0; i < n; i++) {
    char c = t[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
      return false;
  }
  return true;
}

/* Starts `worker_path worker --fd 3 --device N` with its end of a
 * socketpair as fd 3. The HELLO is read later (ensure_hello). */
static struct worker *spawn_worker(tw_gpu_supervisor_t *sup, int device,
                                   char *err, size_t errlen) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
    tw__err(TW_EIO, err, errlen, "socketpair: %s", strerror(errno));
    return NULL;
  }
  struct worker *w = tw__calloc(1, sizeof *w);
  if (!w) {
    close(sv[0]);
    close(sv[1]);
    return NULL;
  }
  char devstr[16];
  snprintf(devstr, sizeof devstr, "%d", device);
  char *argv[] = {sup->worker_path, "worker", "--fd", "3", "--device", devstr,
                  NULL};
  /* The environment, plus what the configuration asks the worker to do. */
  size_t n = 0;
  while (environ[n]) n++;
  char **envp = tw__calloc(n + 3, sizeof *envp);
  if (!envp) {
    tw__free(w);
    close(sv[0]);
    close(sv[1]);
    return NULL;
  }
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (strncmp(environ[i], "TW_GPU_MOCK=", 12) != 0 &&
        strncmp(environ[i], "TW_WORKER_NO_SECCOMP=", 21) != 0)
      envp[k++] = environ[i];
  if (sup->cfg.backend == TW_GPU_BACKEND_MOCK ||
      (sup->cfg.backend == TW_GPU_BACKEND_AUTO && getenv("TW_GPU_MOCK") &&
       getenv("TW_GPU_MOCK")[0] == '1'))
    envp[k++] = "TW_GPU_MOCK=1";
  const char *ns = getenv("TW_WORKER_NO_SECCOMP");
  if (sup->cfg.no_seccomp || (ns && ns[0] == '1'))
    envp[k++] = "TW_WORKER_NO_SECCOMP=1";
  envp[k] = NULL;
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
  /* No signal blocked in the worker, whatever the caller's mask (a
   * server blocks SIGTERM/SIGINT in every thread to sigwait them). */
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  struct spawn_job job = {.path = sup->worker_path, .fa = &fa, .attr = &attr,
                          .argv = argv, .envp = envp};
  int rc = spawn_on_thread(sup, &job);
  pid_t pid = job.pid;
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  tw__free(envp);
  close(sv[1]);
  if (rc != 0) {
    tw__err(TW_EIO, err, errlen, "cannot start %s worker: %s",
            sup->worker_path, strerror(rc));
    close(sv[0]);
    tw__free(w);
    return NULL;
  }
  w->pid = pid;
  w->sock = sv[0];
  w->device = device;
  w->state = W_STARTING;
  pthread_mutex_init(&w->call_mu, NULL);
  sup->started++;
  return w;
}

/* Why a worker process ended, reaping it (waiting up to wait_ms, then
 * killing it). */
static void reap(struct worker *w, uint32_t wait_ms, char *why, size_t len) {
  if (w->pid <= 0) {
    snprintf(why, len, "gone");
    return;
  }
  int status = 0;
  pid_t r = 0;
  for (uint32_t t = 0; t <= wait_ms; t += 5) {
    r = waitpid(w->pid, &status, WNOHANG);
    if (r != 0) break;
    struct timespec ts = {0, 5000000};
    nanosleep(&ts, NULL);
  }
  if (r == 0) {
    kill(w->pid, SIGKILL);
    r = waitpid(w->pid, &status, 0);
  }
  if (r == w->pid && WIFSIGNALED(status))
    snprintf(why, len, "killed by signal %d", WTERMSIG(status));
  else if (r == w->pid && WIFEXITED(status))
    snprintf(why, len, "exited with status %d", WEXITSTATUS(status));
  else
    snprintf(why, len, "ended");
  w->pid = 0;
}

static void worker_destroy(struct worker *w) {
  if (w->sock >= 0) close(w->sock);
  if (w->pid > 0) {
    char why[64];
    reap(w, 1000, why, sizeof why);
  }
  pthread_mutex_destroy(&w->call_mu);
  tw__free(w);
}

/* Reads the worker's HELLO (CUDA initialised). Called with call_mu held. */
static int ensure_hello(struct worker *w, uint32_t timeout_ms, char *err,
                        size_t errlen) {
  if (w->hello) return 0;
  struct tw__gpu_msg m;
  int fd;
  int e = tw__gpu_msg_recv(w->sock, &m, &fd, timeout_ms);
  if (fd >= 0) close(fd);
  if (e || m.op != TW__GPU_OP_HELLO) {
    char why[64] = "no answer";
    if (e != -ETIMEDOUT) reap(w, 200, why, sizeof why);
    w->state = W_DEAD;
    return tw__err(TW_EIO, err, errlen, "GPU worker did not start (%s)",
                   e == -ETIMEDOUT ? "timed out" : why);
  }
  if (m.status != 0) {
    w->state = W_DEAD;
    return tw__err(m.status, err, errlen, "GPU worker failed to start: %s",
                   m.message);
  }
  w->hello = true;
  w->stats = m.stats;
  return 0;
}

int tw_gpu_supervisor_new(const tw_gpu_supervisor_config_t *cfg,
                          tw_gpu_supervisor_t **out, char *err,
                          size_t errlen) {
  if (!out) return TW_EINVAL;
  *out = NULL;
  tw_gpu_supervisor_t *s = tw__calloc(1, sizeof *s);
  if (!s) return TW_ENOMEM;
  if (cfg)
    s->cfg = *cfg;
  else
    tw_gpu_supervisor_config_default(&s->cfg);
  const char *path = s->cfg.worker_path;
  if (!path || !*path) path = getenv("TW_WORKER_BIN");
  if (!path || !*path) path = "/proc/self/exe";
  s->worker_path = tw__strndup(path, strlen(path));
  if (s->cfg.npins) {
    s->pins = tw__calloc(s->cfg.npins, sizeof s->pins[0]);
    for (size_t i = 0; s->pins && i < s->cfg.npins; i++) {
      s->pins[i].device = s->cfg.pins[i].device;
      s->pins[i].tenant =
          tw__strndup(s->cfg.pins[i].tenant, strlen(s->cfg.pins[i].tenant));
    }
  }
  s->cfg.pins = NULL;
  if (!s->cfg.call_timeout_ms) s->cfg.call_timeout_ms = 60000;
  if (!s->cfg.max_workers) s->cfg.max_workers = 256;
  pthread_mutex_init(&s->mu, NULL);
  pthread_mutex_init(&s->spawn_mu, NULL);
  pthread_cond_init(&s->spawn_cv, NULL);
  s->spawner_up = pthread_create(&s->spawner, NULL, spawner_main, s) == 0;
  s->ndevices = s->cfg.ndevices;
  if (s->ndevices <= 0) {
    /* Probing loads the driver in this process but creates no context:
     * no GPU memory is touched here. */
    tw_gpu_system_info_t info;
    tw_gpu_probe(s->cfg.backend, &info);
    s->ndevices = info.ndevices;
    if (s->ndevices == 0) {
      tw__err(TW_EUNSUPPORTED, err, errlen, "no GPU: %s", info.driver_error);
      tw_gpu_supervisor_free(s);
      return TW_EUNSUPPORTED;
    }
  }
  for (int d = 0; d < s->ndevices; d++)
    for (uint32_t i = 0; i < s->cfg.spares_per_device; i++) {
      struct worker *w = spawn_worker(s, d, err, errlen);
      if (!w) {
        tw_gpu_supervisor_free(s);
        return TW_EIO;
      }
      w->next = s->workers;
      s->workers = w;
    }
  *out = s;
  return 0;
}

void tw_gpu_supervisor_free(tw_gpu_supervisor_t *sup) {
  if (!sup) return;
  /* Close every socket first so all workers exit together. */
  for (struct worker *w = sup->workers; w; w = w->next) {
    close(w->sock);
    w->sock = -1;
  }
  while (sup->workers) {
    struct worker *w = sup->workers;
    sup->workers = w->next;
    worker_destroy(w);
  }
  for (size_t i = 0; sup->pins && i < sup->cfg.npins; i++)
    tw__free((char *)sup->pins[i].tenant);
  tw__free(sup->pins);
  tw__free(sup->worker_path);
  if (sup->spawner_up) {
    pthread_mutex_lock(&sup->spawn_mu);
    sup->spawn_stop = true;
    pthread_cond_broadcast(&sup->spawn_cv);
    pthread_mutex_unlock(&sup->spawn_mu);
    pthread_join(sup->spawner, NULL);
  }
  pthread_cond_destroy(&sup->spawn_cv);
  pthread_mutex_destroy(&sup->spawn_mu);
  pthread_mutex_destroy(&sup->mu);
  tw__free(sup);
}

int tw_gpu_supervisor_wait_spares(tw_gpu_supervisor_t *sup,
                                  uint32_t timeout_ms) {
  int ready = 0;
  pthread_mutex_lock(&sup->mu);
  for (struct worker *w = sup->workers; w; w = w->next) {
    if (w->tenant[0] || w->state == W_DEAD) continue;
    pthread_mutex_lock(&w->call_mu);
    char err[128];
    /* Stays W_STARTING (unassigned) until a tenant takes it. */
    if (ensure_hello(w, timeout_ms, err, sizeof err) == 0) ready++;
    pthread_mutex_unlock(&w->call_mu);
  }
  pthread_mutex_unlock(&sup->mu);
  return ready;
}

/* Drops dead, unused workers from the list. Called with sup->mu held. */
static void prune(tw_gpu_supervisor_t *sup) {
  for (struct worker **pp = &sup->workers; *pp;) {
    struct worker *w = *pp;
    if (w->state == W_DEAD && w->refs == 0) {
      *pp = w->next;
      worker_destroy(w);
    } else {
      pp = &w->next;
    }
  }
}

static int place(tw_gpu_supervisor_t *sup, const char *tenant, int want) {
  if (want >= 0) return want < sup->ndevices ? want : -1;
  for (size_t i = 0; sup->pins && i < sup->cfg.npins; i++)
    if (strcmp(sup->pins[i].tenant, tenant) == 0)
      return sup->pins[i].device < sup->ndevices ? sup->pins[i].device : -1;
  /* The tenant's existing worker, else the device with fewest tenants. */
  int load[TW_GPU_MAX_DEVICES] = {0};
  for (struct worker *w = sup->workers; w; w = w->next) {
    if (w->state == W_DEAD || !w->tenant[0]) continue;
    if (strcmp(w->tenant, tenant) == 0) return w->device;
    if (w->device < TW_GPU_MAX_DEVICES) load[w->device]++;
  }
  int best = 0;
  for (int d = 1; d < sup->ndevices && d < TW_GPU_MAX_DEVICES; d++)
    if (load[d] < load[best]) best = d;
  return best;
}

/* The tenant's worker on `device`, with call_mu held and a reference. */
static struct worker *acquire(tw_gpu_supervisor_t *sup, const char *tenant,
                              int device, tw_gpu_result_t *res, char *err,
                              size_t errlen) {
  pthread_mutex_lock(&sup->mu);
  prune(sup);
  struct worker *w = sup->workers, *spare = NULL;
  size_t live = 0;
  for (; w; w = w->next) {
    if (w->state != W_DEAD) live++;
    if (w->state == W_DEAD || w->device != device) continue;
    if (strcmp(w->tenant, tenant) == 0) break;
    if (!w->tenant[0] && !spare) spare = w;
  }
  bool fresh = false;
  if (!w && spare) {
    w = spare;
    snprintf(w->tenant, sizeof w->tenant, "%s", tenant);
    w->was_spare = true;
    fresh = true;
    sup->spares_taken++;
    /* Refill the pool: the replacement initialises in the background. */
    struct worker *r = spawn_worker(sup, device, NULL, 0);
    if (r) {
      r->next = sup->workers;
      sup->workers = r;
    }
  } else if (!w) {
    if (live >= sup->cfg.max_workers) {
      pthread_mutex_unlock(&sup->mu);
      tw__err(TW_ELIMIT, err, errlen, "%u GPU workers is the limit",
              sup->cfg.max_workers);
      return NULL;
    }
    w = spawn_worker(sup, device, err, errlen);
    if (!w) {
      pthread_mutex_unlock(&sup->mu);
      return NULL;
    }
    snprintf(w->tenant, sizeof w->tenant, "%s", tenant);
    w->next = sup->workers;
    sup->workers = w;
    fresh = true;
  }
  w->refs++;
  pthread_mutex_unlock(&sup->mu);
  pthread_mutex_lock(&w->call_mu);
  if (w->state == W_STARTING) {
    res->new_worker = fresh;
    res->from_spare = w->was_spare;
    int rc = ensure_hello(w, 60000, err, errlen);
    if (!rc) {
      struct tw__gpu_msg m, r;
      memset(&m, 0, sizeof m);
      m.magic = TW__GPU_PROTO_MAGIC;
      m.version = TW__GPU_PROTO_VERSION;
      m.op = TW__GPU_OP_ASSIGN;
      m.seq = ++w->seq;
      m.quota = sup->cfg.tenant_memory_quota;
      m.max_inflight = sup->cfg.max_inflight;
      snprintf(m.tenant, sizeof m.tenant, "%s", tenant);
      int fd;
      rc = tw__gpu_msg_send(w->sock, &m, -1);
      if (!rc) rc = tw__gpu_msg_recv(w->sock, &r, &fd, 10000);
      if (!rc && fd >= 0) close(fd);
      if (rc || r.status) {
        rc = tw__err(TW_EIO, err, errlen, "cannot assign the GPU worker: %s",
                     rc ? strerror(-rc) : r.message);
        w->state = W_DEAD;
      } else {
        w->stats = r.stats;
        w->state = W_READY;
      }
    }
    if (rc) {
      pthread_mutex_unlock(&w->call_mu);
      pthread_mutex_lock(&sup->mu);
      w->refs--;
      pthread_mutex_unlock(&sup->mu);
      return NULL;
    }
  }
  if (w->state != W_READY) {
    tw__err(TW_EIO, err, errlen,
            "the GPU worker of tenant '%s' died; retry to start a new one",
            tenant);
    pthread_mutex_unlock(&w->call_mu);
    pthread_mutex_lock(&sup->mu);
    w->refs--;
    pthread_mutex_unlock(&sup->mu);
    return NULL;
  }
  return w;
}

static void release(tw_gpu_supervisor_t *sup, struct worker *w) {
  pthread_mutex_unlock(&w->call_mu);
  pthread_mutex_lock(&sup->mu);
  w->refs--;
  prune(sup);
  pthread_mutex_unlock(&sup->mu);
}

int tw_gpu_supervisor_invoke(tw_gpu_supervisor_t *sup,
                             const tw_gpu_request_t *req,
                             tw_gpu_result_t *res) {
  if (!res) return TW_EINVAL;
  memset(res, 0, sizeof *res);
  res->device = -1;
  char *err = res->message;
  size_t errlen = sizeof res->message;
  if (!sup || !req || !req->module)
    return tw__err(TW_EINVAL, err, errlen, "missing request or module");
  if (!tenant_ok(req->tenant))
    return tw__err(TW_EINVAL, err, errlen,
                   "tenant must be 1-64 characters of [A-Za-z0-9._-]");
  if (req->nargs > TW_GPU_MAX_RESULTS || req->argc > 64)
    return tw__err(TW_ELIMIT, err, errlen, "too many arguments");
  for (size_t i = 0; i < req->nargs; i++)
    if (req->args[i].type != TW_I32 && req->args[i].type != TW_I64 &&
        req->args[i].type != TW_F32 && req->args[i].type != TW_F64)
      return tw__err(TW_ETYPE, err, errlen,
                     "argument %zu: only numbers cross to a worker", i);
  pthread_mutex_lock(&sup->mu);
  int device = place(sup, req->tenant, req->device);
  pthread_mutex_unlock(&sup->mu);
  if (device < 0)
    return tw__err(TW_EINVAL, err, errlen, "no GPU %d", req->device);
  res->device = device;

  /* The body: module, export name, stdin, argv (NUL-separated). */
  size_t name_len = req->export_name ? strlen(req->export_name) : 0;
  size_t argv_len = 0;
  for (size_t i = 0; i < req->argc; i++) argv_len += strlen(req->argv[i]) + 1;
  char *argv_blob = tw__malloc(argv_len ? argv_len : 1);
  if (!argv_blob) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  for (size_t i = 0, at = 0; i < req->argc; i++) {
    size_t n = strlen(req->argv[i]) + 1;
    memcpy(argv_blob + at, req->argv[i], n);
    at += n;
  }
  const void *parts[4] = {req->module, req->export_name, req->stdin_data,
                          argv_blob};
  size_t lens[4] = {req->module_len, name_len, req->stdin_len, argv_len};
  int body = tw__gpu_memfd_from(parts, lens, 4);
  tw__free(argv_blob);
  if (body < 0)
    return tw__err(TW_EIO, err, errlen, "memfd: %s", strerror(-body));

  struct worker *w = acquire(sup, req->tenant, device, res, err, errlen);
  if (!w) {
    close(body);
    return TW_EIO;
  }
  struct tw__gpu_msg m, r;
  memset(&m, 0, sizeof m);
  m.magic = TW__GPU_PROTO_MAGIC;
  m.version = TW__GPU_PROTO_VERSION;
  m.op = req->export_name ? TW__GPU_OP_INVOKE : TW__GPU_OP_RUN;
  m.seq = ++w->seq;
  m.module_len = req->module_len;
  m.name_len = name_len;
  m.stdin_len = req->stdin_len;
  m.argv_len = argv_len;
  m.argc = (uint32_t)req->argc;
  m.nvals = (uint32_t)req->nargs;
  for (size_t i = 0; i < req->nargs; i++) {
    m.val_types[i] = req->args[i].type;
    m.vals[i] = req->args[i].type == TW_I32 || req->args[i].type == TW_F32
                    ? req->args[i].of.i32
                    : req->args[i].of.i64;
  }
  uint32_t timeout = req->timeout_ms ? req->timeout_ms : sup->cfg.call_timeout_ms;
  int fd = -1;
  int e = tw__gpu_msg_send(w->sock, &m, body);
  close(body);
  if (!e) {
    do {
      if (fd >= 0) close(fd);
      e = tw__gpu_msg_recv(w->sock, &r, &fd, timeout);
    } while (!e && r.seq != m.seq); /* a stale reply of a timed-out call */
  }
  int rc = 0;
  if (e) {
    /* The worker died, or overran the deadline and is killed. */
    if (e == -ETIMEDOUT) kill(w->pid, SIGKILL);
    char why[64];
    reap(w, e == -ETIMEDOUT ? 1000 : 200, why, sizeof why);
    w->state = W_DEAD;
    res->worker_crashed = 1;
    pthread_mutex_lock(&sup->mu);
    sup->crashes++;
    pthread_mutex_unlock(&sup->mu);
    if (e == -ETIMEDOUT)
      rc = tw__err(TW_EIO, err, errlen,
                   "the call to tenant '%s''s GPU worker ran past %u ms; the "
                   "worker was killed and restarts on the next call",
                   req->tenant, timeout);
    else
      rc = tw__err(TW_EIO, err, errlen,
                   "tenant '%s''s GPU worker died during the call (%s); it "
                   "restarts on the next call",
                   req->tenant, why);
    release(sup, w);
    return rc;
  }
  res->status = r.status;
  res->exit_code = r.exit_code;
  res->stats = r.stats;
  w->stats = r.stats;
  snprintf(res->message, sizeof res->message, "%s", r.message);
  res->nresults = r.nvals <= TW_GPU_MAX_RESULTS ? r.nvals : 0;
  for (size_t i = 0; i < res->nresults; i++) {
    res->results[i].type = r.val_types[i];
    if (r.val_types[i] == TW_I32 || r.val_types[i] == TW_F32)
      res->results[i].of.i32 = (uint32_t)r.vals[i];
    else
      res->results[i].of.i64 = r.vals[i];
  }
  if (fd >= 0) {
    const uint8_t *p;
    size_t len;
    if (tw__gpu_memfd_map(fd, 0, &p, &len) == 0 && p &&
        r.out_len <= len && r.err_len <= len - r.out_len) {
      res->stdout_data = tw__malloc(r.out_len + 1);
      res->stderr_data = tw__malloc(r.err_len + 1);
      if (res->stdout_data && res->stderr_data) {
        memcpy(res->stdout_data, p, r.out_len);
        memcpy(res->stderr_data, p + r.out_len, r.err_len);
        res->stdout_len = r.out_len;
        res->stderr_len = r.err_len;
      }
    }
    if (p) munmap((void *)p, len);
    close(fd);
  }
  res->quota_exceeded = (r.flags & 2) != 0;
  if (r.flags & 1) {
    /* The context is poisoned: the worker exits after this reply. */
    char why[64];
    reap(w, 2000, why, sizeof why);
    w->state = W_DEAD;
    pthread_mutex_lock(&sup->mu);
    sup->crashes++;
    pthread_mutex_unlock(&sup->mu);
    res->worker_crashed = 1;
  }
  release(sup, w);
  return 0;
}

void tw_gpu_result_free(tw_gpu_result_t *r) {
  if (!r) return;
  tw__free(r->stdout_data);
  tw__free(r->stderr_data);
  r->stdout_data = r->stderr_data = NULL;
  r->stdout_len = r->stderr_len = 0;
}

int tw_gpu_supervisor_worker_pid(tw_gpu_supervisor_t *sup, const char *tenant,
                                 int device) {
  int pid = 0;
  pthread_mutex_lock(&sup->mu);
  for (struct worker *w = sup->workers; w; w = w->next)
    if (w->state != W_DEAD && w->device == device && tenant &&
        strcmp(w->tenant, tenant) == 0)
      pid = w->pid;
  pthread_mutex_unlock(&sup->mu);
  return pid;
}

/* Whether a spare has initialised CUDA: its HELLO was read, or is
 * waiting on the socket (poll without reading: the caller holds only
 * sup->mu, not the worker's call_mu). */
static bool spare_ready(const struct worker *w) {
  if (w->hello) return true;
  struct pollfd p = {.fd = w->sock, .events = POLLIN};
  return w->sock >= 0 && poll(&p, 1, 0) == 1 && (p.revents & POLLIN) &&
         !(p.revents & (POLLHUP | POLLERR));
}

/* One per-tenant metric family: HELP, TYPE, then a line per worker. */
enum wfield { F_MEM, F_QUOTA, F_LAUNCHES, F_ERRORS, F_PERMITS, F_REFUSALS };
static void tenant_family(struct tw__buf *b, const tw_gpu_supervisor_t *sup,
                          const char *name, const char *type,
                          const char *help, enum wfield f) {
  tw__buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
  for (const struct worker *w = sup->workers; w; w = w->next) {
    if (w->state == W_DEAD || !w->tenant[0]) continue;
    const tw_gpu_stats_t *st = &w->stats;
    unsigned long long v = f == F_MEM        ? st->memory_bytes
                           : f == F_QUOTA    ? st->memory_quota
                           : f == F_LAUNCHES ? st->launches
                           : f == F_ERRORS   ? st->launch_errors
                           : f == F_PERMITS  ? st->permits_in_use
                                             : st->quota_refusals;
    /* Tenant names are [A-Za-z0-9._-]: no label escaping needed. */
    tw__buf_printf(b, "%s{tenant=\"%s\",device=\"%d\"} %llu\n", name,
                   w->tenant, w->device, v);
  }
}

size_t tw_gpu_supervisor_metrics(tw_gpu_supervisor_t *sup, char *buf,
                                 size_t len) {
  struct tw__buf b;
  tw__buf_init(&b, 1 << 20);
  pthread_mutex_lock(&sup->mu);
  unsigned spares = 0, ready = 0, tenants = 0;
  for (struct worker *w = sup->workers; w; w = w->next) {
    if (w->state == W_DEAD) continue;
    if (w->tenant[0]) {
      tenants++;
    } else {
      spares++;
      ready += spare_ready(w);
    }
  }
  tenant_family(&b, sup, "tensor_wasm_gpu_memory_bytes_per_tenant", "gauge",
                "GPU memory charged to the tenant (device buffers, pinned "
                "guest memory, loaded modules), as of its last call.",
                F_MEM);
  tenant_family(&b, sup, "tensor_wasm_gpu_memory_quota_bytes", "gauge",
                "The tenant's GPU memory quota.", F_QUOTA);
  tenant_family(&b, sup, "tensor_wasm_gpu_launches_total", "counter",
                "Kernel launches by the tenant's current worker.",
                F_LAUNCHES);
  tenant_family(&b, sup, "tensor_wasm_gpu_launch_errors_total", "counter",
                "Failed kernel launches and syncs by the tenant's current "
                "worker.",
                F_ERRORS);
  tenant_family(&b, sup, "tensor_wasm_gpu_permits_in_use", "gauge",
                "Launch permits held (launches in flight) after the "
                "tenant's last call.",
                F_PERMITS);
  tenant_family(&b, sup, "tensor_wasm_gpu_quota_refusals_total", "counter",
                "GPU allocations refused by the tenant's quota (or the "
                "device out of memory) in its current worker.",
                F_REFUSALS);
  tw__buf_printf(&b,
                 "# HELP tensor_wasm_gpu_workers GPU worker processes, by "
                 "kind (serving a tenant, or a pre-warmed spare).\n"
                 "# TYPE tensor_wasm_gpu_workers gauge\n"
                 "tensor_wasm_gpu_workers{kind=\"tenant\"} %u\n"
                 "tensor_wasm_gpu_workers{kind=\"spare\"} %u\n"
                 "# HELP tensor_wasm_gpu_spares_ready Pre-warmed spares "
                 "with CUDA initialised.\n"
                 "# TYPE tensor_wasm_gpu_spares_ready gauge\n"
                 "tensor_wasm_gpu_spares_ready %u\n"
                 "# HELP tensor_wasm_gpu_workers_started_total GPU worker "
                 "processes started.\n"
                 "# TYPE tensor_wasm_gpu_workers_started_total counter\n"
                 "tensor_wasm_gpu_workers_started_total %llu\n"
                 "# HELP tensor_wasm_gpu_worker_crashes_total GPU workers "
                 "that died or lost their context during a call.\n"
                 "# TYPE tensor_wasm_gpu_worker_crashes_total counter\n"
                 "tensor_wasm_gpu_worker_crashes_total %llu\n"
                 "# HELP tensor_wasm_gpu_spares_taken_total Spares given to "
                 "a tenant.\n"
                 "# TYPE tensor_wasm_gpu_spares_taken_total counter\n"
                 "tensor_wasm_gpu_spares_taken_total %llu\n",
                 tenants, spares, ready, (unsigned long long)sup->started,
                 (unsigned long long)sup->crashes,
                 (unsigned long long)sup->spares_taken);
  pthread_mutex_unlock(&sup->mu);
  size_t need = b.len;
  if (buf && len) {
    size_t n = need < len - 1 ? need : len - 1;
    if (n) memcpy(buf, b.data, n);
    buf[n] = '\0';
  }
  tw__buf_free(&b);
  return need;
}

int tw__gpu_supervisor_probe(tw_gpu_supervisor_t *sup, const char *tenant,
                             int *socket_errno) {
  tw_gpu_result_t res;
  memset(&res, 0, sizeof res);
  char err[256];
  pthread_mutex_lock(&sup->mu);
  int device = place(sup, tenant, -1);
  pthread_mutex_unlock(&sup->mu);
  struct worker *w = acquire(sup, tenant, device, &res, err, sizeof err);
  if (!w) return TW_EIO;
  struct tw__gpu_msg m, r;
  memset(&m, 0, sizeof m);
  m.magic = TW__GPU_PROTO_MAGIC;
  m.version = TW__GPU_PROTO_VERSION;
  m.op = TW__GPU_OP_PROBE;
  m.seq = ++w->seq;
  int fd = -1;
  int e = tw__gpu_msg_send(w->sock, &m, -1);
  if (!e) e = tw__gpu_msg_recv(w->sock, &r, &fd, 10000);
  if (fd >= 0) close(fd);
  if (!e) *socket_errno = r.exit_code;
  release(sup, w);
  return e ? TW_EIO : 0;
}
