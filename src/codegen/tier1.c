/* Tier 1: the generated C compiled by the system C compiler into a shared
 * object in the background, cached on disk, loaded with dlopen.
 *
 * Threads: a pool of as many threads as online CPUs (each runs one
 * compiler process at a time, so a process never runs more compilers than
 * CPUs). A job's thread (its coordinator) probes the compiler, looks the
 * cache up, and on a miss splits the module into translation units that
 * any idle pool thread may claim; it never waits for a unit nobody has
 * claimed, so the pool cannot deadlock. Then it links, stores the entry
 * in the cache and loads it.
 * Invariants: everything shared is under t->mu; a job is freed only by
 * its owner (tw__tier1_job_free), after it has stopped; a cache entry is
 * loaded only after its trailer and checksum have been verified on the
 * same open file.
 *
 * Cache entry (file <cache_dir>/t1/<64 hex digits of the key>.so): the
 * shared object, byte for byte, followed by a trailer, so the file is
 * still a loadable ELF object (the loader maps only what the ELF headers
 * name and ignores trailing bytes). Trailer, TRAILER_LEN bytes at the end
 * of the file, integers little-endian:
 *
 *   offset size  meaning
 *   0      8     magic "TWT1CODE"
 *   8      4     format version (CACHE_VERSION)
 *   12     4     zero
 *   16     8     payload length = file size - TRAILER_LEN
 *   24     32    key: BLAKE3 of the inputs (see cache_key)
 *   56     32    BLAKE3 of the payload
 *
 * Bump CACHE_VERSION when this layout changes (old entries are then
 * rejected and rebuilt). Entries are written to a temporary file in the
 * same folder, fsync'd, renamed over the final name, and the folder is
 * fsync'd: readers see a whole entry or none, across processes and
 * crashes. An entry that fails verification is deleted and rebuilt.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/hash.h"
#include "codegen/codegen.h"
#include "rt/abi.h"

extern char **environ;

#define CACHE_MAGIC "TWT1CODE"
#define CACHE_VERSION 1u
#define TRAILER_LEN 88u

/* Generated C of one translation unit may not exceed this. */
#define UNIT_LIMIT_BYTES (512ull << 20)
/* WebAssembly code bytes per translation unit: gcc -O2 compiles the C of
 * about 100 KB of code in ~3 s; smaller units spread better over CPUs. */
#define UNIT_TARGET_BYTES (48u << 10)
#define MAX_UNITS 64u
/* Modules tier 1 declines (tier 0 keeps serving): the C compiler's time
 * and memory grow faster than linearly with one function's size, and a
 * whole module must compile within the time cap. */
#define T1_MAX_FUNC_BYTES (1u << 20)
#define T1_MAX_FUNC_LOCALS 20000u
#define T1_MAX_CODE_BYTES (32u << 20)
/* Address-space cap of each compiler process (via `ulimit -v`, KiB). */
#define CC_MEMORY_KIB (4u << 20)
/* Default cap on one compiler run. */
#define CC_TIMEOUT_MS 120000u
/* Shared objects read back for the cache may not exceed this. */
#define SO_LIMIT_BYTES (1ull << 30)

/* Flags that keep the WebAssembly semantics: sNaN payloads survive
 * (-fsignaling-nans), no fused multiply-add (-ffp-contract=off), errno is
 * not part of libm calls, and recursion stays recursion so stack
 * exhaustion still traps (-fno-optimize-sibling-calls). clang has no
 * -fsignaling-nans; -ffp-exception-behavior=maytrap keeps it from folding
 * operations on signalling NaNs away. */
static const char *const k_gcc_flags[] = {
    "-O2", "-fPIC", "-fno-math-errno", "-fsignaling-nans",
    "-fno-optimize-sibling-calls", "-ffp-contract=off",
    "-fvisibility=hidden", "-w", NULL};
static const char *const k_clang_flags[] = {
    "-O2", "-fPIC", "-fno-math-errno", "-ffp-exception-behavior=maytrap",
    "-fno-optimize-sibling-calls", "-ffp-contract=off",
    "-fvisibility=hidden", "-w", NULL};

struct tw__tier1_code {
  void *dl;
  void *entry;
};

enum job_state { JOB_QUEUED, JOB_RUNNING, JOB_DONE };

struct tw__tier1_job {
  struct tw__tier1 *t;
  const struct tw__module *m;
  tw__tier1_done_fn done;
  void *arg;
  int state;         /* enum job_state, under t->mu */
  atomic_bool cancel;
  struct tw__tier1_job *next; /* queue or active list, under t->mu */
  /* Units, once the coordinator has split the module (under t->mu). */
  uint32_t ntus, claimed, finished;
  uint32_t *tu_of;
  uint8_t *calls; /* tw__codegen_calls of m, shared by the units */
  int unit_rc;
  char unit_err[512];
  char dir[PATH_MAX]; /* build folder */
};

struct tw__tier1 {
  char *cache_dir; /* NULL: no cache */
  bool interruptible;
  pthread_mutex_t mu;
  pthread_cond_t cv; /* job state, unit completion, new work */
  pthread_t *threads;
  unsigned nthreads;
  bool started, stop;
  struct tw__tier1_job *queue, *queue_tail; /* not started yet */
  struct tw__tier1_job *active; /* with units to claim or finishing */
  /* Compiler, probed once by the first job (under mu). */
  bool probed, probe_ok;
  char cc_path[PATH_MAX];
  char cc_ident[2560]; /* first line of --version + resolved path */
  bool clang;
  char probe_err[512];
  unsigned timeout_ms;
};

/* ---- small helpers ---- */

static void log_line(const char *fmt, ...) TW_PRINTF(1, 2);
static void log_line(const char *fmt, ...) {
  char line[768];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  /* One write, so lines from several threads never interleave. */
  char out[800];
  int n = snprintf(out, sizeof out, "tensor-wasm: %s\n", line);
  if (n > 0) {
    ssize_t w = write(2, out, (size_t)n < sizeof out ? (size_t)n : sizeof out);
    (void)w;
  }
}

static void put_u32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}
static uint64_t get_u64(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) {
    ssize_t w = write(fd, c, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    c += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads a whole (small) file into a NUL-terminated buffer; NULL on error. */
static char *read_file(const char *path, size_t limit, size_t *len) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return NULL;
  struct stat st;
  char *buf = NULL;
  if (fstat(fd, &st) || (uint64_t)st.st_size > limit) goto out;
  size_t n = (size_t)st.st_size;
  if (!(buf = tw__malloc(n + 1))) goto out;
  size_t got = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  buf[got] = '\0';
  if (len) *len = got;
out:
  close(fd);
  return buf;
}

/* Creates dir and its parents (mode 0700 for new ones). */
static int mkdir_p(const char *dir) {
  char tmp[PATH_MAX];
  if (snprintf(tmp, sizeof tmp, "%s", dir) >= (int)sizeof tmp) return -1;
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
    *p = '/';
  }
  if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
  return 0;
}

/* Removes the files in a build folder (no subfolders) and the folder. */
static void rm_build_dir(const char *dir) {
  DIR *d = opendir(dir);
  if (d) {
    struct dirent *e;
    char p[PATH_MAX + 256];
    while ((e = readdir(d))) {
      if (e->d_name[0] == '.' &&
          (!e->d_name[1] || (e->d_name[1] == '.' && !e->d_name[2])))
        continue;
      snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
      unlink(p);
    }
    closedir(d);
  }
  rmdir(dir);
}

/* ---- running the compiler ---- */

/* Runs argv (argv[0] a path) with stdout and stderr to log_path, in its
 * own process group; kills the group past timeout_ms or when *cancel is
 * set. Returns 0 on exit status 0, else TW_ECOMPILE with a message (the
 * log's first line). */
static int run_cc(char *const argv[], const char *log_path,
                  unsigned timeout_ms, atomic_bool *cancel, char *err,
                  size_t errlen) {
  int logfd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (logfd < 0)
    return tw__err(TW_EIO, err, errlen, "cannot create %s: %s", log_path,
                   strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t sa;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&sa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, logfd, 1);
  posix_spawn_file_actions_adddup2(&fa, logfd, 2);
  sigset_t none, all;
  sigemptyset(&none);
  sigfillset(&all);
  posix_spawnattr_setsigmask(&sa, &none);
  posix_spawnattr_setsigdefault(&sa, &all);
  posix_spawnattr_setpgroup(&sa, 0);
  posix_spawnattr_setflags(&sa, POSIX_SPAWN_SETPGROUP |
                                    POSIX_SPAWN_SETSIGMASK |
                                    POSIX_SPAWN_SETSIGDEF);
  /* Through /bin/sh when there is one, to cap the compiler's address
   * space (`ulimit -v`; inherited by cc1 and as). The compiler's path and
   * arguments travel as positional parameters, never through the shell's
   * parser. */
  size_t argc = 0;
  while (argv[argc]) argc++;
  char **sh = NULL;
  char script[96];
  if (access("/bin/sh", X_OK) == 0 &&
      (sh = tw__calloc(argc + 5, sizeof *sh))) {
    snprintf(script, sizeof script, "ulimit -v %u 2>/dev/null; exec \"$@\"",
             CC_MEMORY_KIB);
    sh[0] = (char *)"/bin/sh";
    sh[1] = (char *)"-c";
    sh[2] = script;
    sh[3] = (char *)"sh";
    for (size_t i = 0; i < argc; i++) sh[4 + i] = argv[i];
    sh[argc + 4] = NULL;
  }
  pid_t pid;
  int src = sh ? posix_spawn(&pid, "/bin/sh", &fa, &sa, sh, environ)
               : posix_spawn(&pid, argv[0], &fa, &sa, argv, environ);
  tw__free(sh);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&sa);
  close(logfd);
  if (src)
    return tw__err(TW_ECOMPILE, err, errlen, "cannot run %s: %s", argv[0],
                   strerror(src));

  uint64_t t0 = tw__now_ns();
  int status = 0;
  bool killed = false, timed_out = false;
  long sleep_us = 200;
  for (;;) {
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) {
      status = -1;
      break;
    }
    if (!killed) {
      bool over = (tw__now_ns() - t0) / 1000000u >= timeout_ms;
      if (over || atomic_load(cancel)) {
        timed_out = over;
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL);
        killed = true;
      }
    }
    struct timespec ts = {0, sleep_us * 1000};
    nanosleep(&ts, NULL);
    if (sleep_us < 10000) sleep_us *= 2;
  }
  if (killed) {
    kill(-pid, SIGKILL); /* stragglers of the group (cc1, as) */
    if (timed_out)
      return tw__err(TW_ECOMPILE, err, errlen,
                     "%s killed after %u ms (time limit)", argv[0],
                     timeout_ms);
    return tw__err(TW_ECOMPILE, err, errlen, "cancelled");
  }
  if (status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
    return 0;
  char *log = read_file(log_path, 1u << 20, NULL);
  const char *first = "";
  if (log) {
    /* The first line that says "error", else the first line. */
    char *e = strstr(log, "error");
    char *line = log;
    if (e) {
      line = e;
      while (line > log && line[-1] != '\n') line--;
    }
    char *nl = strchr(line, '\n');
    if (nl) *nl = '\0';
    first = line;
  }
  if (status != -1 && WIFSIGNALED(status))
    tw__err(TW_ECOMPILE, err, errlen, "%s killed by signal %d: %.300s",
            argv[0], WTERMSIG(status), first);
  else
    tw__err(TW_ECOMPILE, err, errlen, "%s failed (status %d): %.300s",
            argv[0], status != -1 && WIFEXITED(status) ? WEXITSTATUS(status)
                                                      : -1,
            first);
  tw__free(log);
  return TW_ECOMPILE;
}

/* Resolves a program name through $PATH. */
static int find_program(const char *name, char *out, size_t outlen) {
  if (strchr(name, '/')) {
    if (snprintf(out, outlen, "%s", name) >= (int)outlen) return -1;
    return access(out, X_OK) == 0 ? 0 : -1;
  }
  const char *path = getenv("PATH");
  if (!path || !*path) path = "/usr/local/bin:/usr/bin:/bin";
  while (*path) {
    const char *c = strchr(path, ':');
    size_t n = c ? (size_t)(c - path) : strlen(path);
    if (n &&
        snprintf(out, outlen, "%.*s/%s", (int)n, path, name) < (int)outlen &&
        access(out, X_OK) == 0)
      return 0;
    path += n + (c ? 1 : 0);
  }
  return -1;
}

/* Finds the compiler and its identity; under t->mu, once. */
static void probe_compiler(struct tw__tier1 *t, atomic_bool *cancel) {
  if (t->probed) return;
  t->probed = true;
  const char *cc = getenv("TW_CC");
  if (!cc || !*cc) cc = "cc";
  const char *to = getenv("TW_CC_TIMEOUT_MS");
  t->timeout_ms = CC_TIMEOUT_MS;
  if (to && *to) {
    char *end;
    unsigned long v = strtoul(to, &end, 10);
    if (!*end && v > 0 && v <= UINT_MAX) t->timeout_ms = (unsigned)v;
  }
  if (find_program(cc, t->cc_path, sizeof t->cc_path)) {
    snprintf(t->probe_err, sizeof t->probe_err,
             "C compiler \"%.300s\" not found (set TW_CC)", cc);
    return;
  }
  char tmpl[] = "/tmp/tw-cc-probe-XXXXXX";
  const char *tmpdir = getenv("TMPDIR");
  char dir[PATH_MAX];
  if (tmpdir && *tmpdir &&
      snprintf(dir, sizeof dir, "%s/tw-cc-probe-XXXXXX", tmpdir) <
          (int)sizeof dir)
    ;
  else
    snprintf(dir, sizeof dir, "%s", tmpl);
  if (!mkdtemp(dir)) {
    snprintf(t->probe_err, sizeof t->probe_err,
             "cannot create a temporary folder: %s", strerror(errno));
    return;
  }
  char log[PATH_MAX + 16];
  snprintf(log, sizeof log, "%s/version", dir);
  char *argv[] = {t->cc_path, (char *)"--version", NULL};
  char err[256];
  int rc = run_cc(argv, log, 30000, cancel, err, sizeof err);
  char *out = rc ? NULL : read_file(log, 1u << 16, NULL);
  rm_build_dir(dir);
  if (!out) {
    snprintf(t->probe_err, sizeof t->probe_err, "%.300s --version: %.190s",
             t->cc_path, rc ? err : "no output");
    return;
  }
  char *nl = strchr(out, '\n');
  if (nl) *nl = '\0';
  char real[PATH_MAX];
  if (!realpath(t->cc_path, real)) snprintf(real, sizeof real, "%s", t->cc_path);
  snprintf(t->cc_ident, sizeof t->cc_ident, "%.400s|%.1000s|%.1000s", out,
           t->cc_path, real);
  t->clang = strstr(out, "clang") != NULL;
  tw__free(out);
  t->probe_ok = true;
}

static const char *const *cc_flags(const struct tw__tier1 *t) {
  return t->clang ? k_clang_flags : k_gcc_flags;
}

/* ---- the cache ---- */

/* Key: BLAKE3 over length-prefixed fields, so no two inputs collide by
 * concatenation. */
static void cache_key(const struct tw__tier1 *t, const struct tw__module *m,
                      uint8_t key[TW_HASH_LEN]) {
  struct tw__hasher h;
  char v[64];
  tw__hasher_init(&h);
  tw__hasher_field(&h, "tensorwasm tier1", 16);
  tw__hasher_field(&h, m->bytes, m->size);
  int n = snprintf(v, sizeof v, "codegen %d abi %d cache %u poll %d",
                   TW_CODEGEN_VERSION, TWR_ABI_VERSION, CACHE_VERSION,
                   t->interruptible ? 1 : 0);
  tw__hasher_field(&h, v, (size_t)n);
  tw__hasher_field(&h, t->cc_ident, strlen(t->cc_ident));
  for (const char *const *f = cc_flags(t); *f; f++)
    tw__hasher_field(&h, *f, strlen(*f));
  tw__hasher_final(&h, key);
}

static void entry_path(const struct tw__tier1 *t, const uint8_t *key,
                       char *out, size_t outlen) {
  char hex[2 * TW_HASH_LEN + 1];
  tw__hash_hex(key, hex);
  snprintf(out, outlen, "%s/t1/%s.so", t->cache_dir, hex);
}

static int load_so(const char *path, struct tw__tier1_code **out, char *err,
                   size_t errlen) {
  struct tw__tier1_code *c = tw__calloc(1, sizeof *c);
  if (!c) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  c->dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!c->dl) {
    const char *e = dlerror();
    tw__free(c);
    return tw__err(TW_ECOMPILE, err, errlen, "dlopen: %s", e ? e : "?");
  }
  c->entry = dlsym(c->dl, TWR_ENTRY_SYMBOL);
  if (!c->entry) {
    dlclose(c->dl);
    tw__free(c);
    return tw__err(TW_ECOMPILE, err, errlen, "no %s in the shared object",
                   TWR_ENTRY_SYMBOL);
  }
  *out = c;
  return 0;
}

/* Verifies the open entry fd against key; returns a static reason on
 * failure, NULL if good. */
static const char *verify_entry(int fd, const uint8_t *key) {
  struct stat st;
  if (fstat(fd, &st)) return "unreadable";
  if ((uint64_t)st.st_size < TRAILER_LEN + 64) return "truncated";
  uint64_t len = (uint64_t)st.st_size - TRAILER_LEN;
  uint8_t tr[TRAILER_LEN];
  if (pread(fd, tr, TRAILER_LEN, (off_t)len) != TRAILER_LEN)
    return "unreadable trailer";
  if (memcmp(tr, CACHE_MAGIC, 8)) return "bad magic (truncated or corrupt)";
  if (get_u32(tr + 8) != CACHE_VERSION) return "other format version";
  if (get_u64(tr + 16) != len) return "length mismatch (truncated)";
  if (memcmp(tr + 24, key, TW_HASH_LEN)) return "key mismatch";
  void *p = mmap(NULL, len, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return "cannot map";
  uint8_t h[TW_HASH_LEN];
  tw__blake3(p, len, h);
  munmap(p, len);
  if (memcmp(tr + 56, h, TW_HASH_LEN)) return "checksum mismatch (corrupt)";
  return NULL;
}

/* Looks the key up. Returns 0 with *out loaded, or TW_ENOTFOUND on a
 * miss (corrupt entries are deleted and count as misses). */
static int cache_load(const struct tw__tier1 *t, const uint8_t *key,
                      struct tw__tier1_code **out) {
  char path[PATH_MAX + 128];
  entry_path(t, key, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return TW_ENOTFOUND;
  const char *bad = verify_entry(fd, key);
  int rc = TW_ENOTFOUND;
  if (!bad) {
    /* Load by the entry's own name, never by an alias such as
     * /proc/self/fd/N: the loader treats an object whose name it has seen
     * as the same object, and that name must mean this key only. (If the
     * name was replaced meanwhile, it was by a whole entry of the same
     * key.) */
    char err[256];
    rc = load_so(path, out, err, sizeof err);
    if (rc) bad = "not loadable";
  }
  if (bad) {
    log_line("tier 1: code cache entry %s: %s; deleting and rebuilding",
             path, bad);
    /* Delete it only if the name still points at what we checked. */
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
        a.st_dev == b.st_dev)
      unlink(path);
    rc = TW_ENOTFOUND;
  }
  close(fd);
  return rc;
}

/* Writes so_path's bytes plus a trailer as the entry for key, atomically.
 * On success *final receives the entry's path. */
static int cache_store(const struct tw__tier1 *t, const uint8_t *key,
                       const char *so_path, char *final, size_t finallen,
                       char *err, size_t errlen) {
  char dir[PATH_MAX + 8];
  snprintf(dir, sizeof dir, "%s/t1", t->cache_dir);
  if (mkdir_p(dir))
    return tw__err(TW_EIO, err, errlen, "cannot create %s: %s", dir,
                   strerror(errno));
  size_t len;
  char *so = read_file(so_path, SO_LIMIT_BYTES, &len);
  if (!so) return tw__err(TW_EIO, err, errlen, "cannot read %s", so_path);
  uint8_t tr[TRAILER_LEN];
  memset(tr, 0, sizeof tr);
  memcpy(tr, CACHE_MAGIC, 8);
  put_u32(tr + 8, CACHE_VERSION);
  put_u64(tr + 16, len);
  memcpy(tr + 24, key, TW_HASH_LEN);
  tw__blake3(so, len, tr + 56);

  entry_path(t, key, final, finallen);
  char tmp[PATH_MAX + 160];
  snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", final);
  int rc = 0;
  int fd = mkostemp(tmp, O_CLOEXEC);
  if (fd < 0) {
    rc = tw__err(TW_EIO, err, errlen, "cannot create %s: %s", tmp,
                 strerror(errno));
    goto out;
  }
  if (fchmod(fd, 0644) || write_all(fd, so, len) ||
      write_all(fd, tr, sizeof tr) || fsync(fd)) {
    rc = tw__err(TW_EIO, err, errlen, "cannot write %s: %s", tmp,
                 strerror(errno));
    close(fd);
    unlink(tmp);
    goto out;
  }
  close(fd);
  if (rename(tmp, final)) {
    rc = tw__err(TW_EIO, err, errlen, "cannot rename %s: %s", tmp,
                 strerror(errno));
    unlink(tmp);
    goto out;
  }
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
out:
  tw__free(so);
  return rc;
}

/* ---- compiling ---- */

/* Builds argv: cc flags... extra... NULL. argv must have room. */
static int make_argv(const struct tw__tier1 *t, char **argv, size_t cap,
                     const char *const *extra) {
  size_t n = 0;
  argv[n++] = (char *)t->cc_path;
  for (const char *const *f = cc_flags(t); *f && n + 1 < cap; f++)
    argv[n++] = (char *)*f;
  for (; *extra && n + 1 < cap; extra++) argv[n++] = (char *)*extra;
  argv[n] = NULL;
  return 0;
}

/* Generates and compiles unit u of job j (to an object file, or straight
 * to the shared object when there is one unit). */
static int compile_unit(struct tw__tier1_job *j, uint32_t u, char *err,
                        size_t errlen) {
  struct tw__tier1 *t = j->t;
  struct tw__codegen_opts o;
  tw__codegen_opts_default(&o);
  o.interruptible = t->interruptible;
  o.cover_loads = true;
  o.ntus = j->ntus;
  o.tu = u;
  o.tu_of = j->tu_of;
  o.calls = j->calls;
  struct tw__buf src;
  tw__buf_init(&src, UNIT_LIMIT_BYTES);
  int rc = tw__codegen_c_ex(j->m, &o, &src, err, errlen);
  if (rc) goto out;
  char cpath[PATH_MAX + 32], opath[PATH_MAX + 32], lpath[PATH_MAX + 32];
  snprintf(cpath, sizeof cpath, "%s/u%" PRIu32 ".c", j->dir, u);
  snprintf(lpath, sizeof lpath, "%s/u%" PRIu32 ".log", j->dir, u);
  if (j->ntus > 1)
    snprintf(opath, sizeof opath, "%s/u%" PRIu32 ".o", j->dir, u);
  else
    snprintf(opath, sizeof opath, "%s/out.so", j->dir);
  int fd = open(cpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0 || write_all(fd, src.data, src.len)) {
    rc = tw__err(TW_EIO, err, errlen, "cannot write %s: %s", cpath,
                 strerror(errno));
    if (fd >= 0) close(fd);
    goto out;
  }
  close(fd);
  tw__buf_free(&src);
  char *argv[32];
  if (j->ntus > 1) {
    const char *extra[] = {"-c", cpath, "-o", opath, NULL};
    make_argv(t, argv, 32, extra);
  } else {
    const char *extra[] = {"-shared", cpath, "-o", opath, "-lm", NULL};
    make_argv(t, argv, 32, extra);
  }
  rc = run_cc(argv, lpath, t->timeout_ms, &j->cancel, err, errlen);
out:
  tw__buf_free(&src);
  return rc;
}

/* Links the unit objects into out.so. */
static int link_units(struct tw__tier1_job *j, char *err, size_t errlen) {
  uint32_t n = j->ntus;
  char **paths = tw__calloc(n, sizeof *paths);
  const char **argv = tw__calloc((size_t)n + 8, sizeof *argv);
  int rc = TW_ENOMEM;
  if (!paths || !argv) {
    tw__err(rc, err, errlen, "out of memory");
    goto out;
  }
  size_t k = 0;
  argv[k++] = j->t->cc_path;
  argv[k++] = "-shared";
  char so[PATH_MAX + 16], log[PATH_MAX + 16];
  snprintf(so, sizeof so, "%s/out.so", j->dir);
  snprintf(log, sizeof log, "%s/link.log", j->dir);
  argv[k++] = "-o";
  argv[k++] = so;
  for (uint32_t u = 0; u < n; u++) {
    paths[u] = tw__malloc(PATH_MAX + 32);
    if (!paths[u]) {
      tw__err(rc, err, errlen, "out of memory");
      goto out;
    }
    snprintf(paths[u], PATH_MAX + 32, "%s/u%" PRIu32 ".o", j->dir, u);
    argv[k++] = paths[u];
  }
  argv[k++] = "-lm";
  argv[k] = NULL;
  rc = run_cc((char *const *)argv, log, j->t->timeout_ms, &j->cancel, err,
              errlen);
out:
  if (paths)
    for (uint32_t u = 0; u < n; u++) tw__free(paths[u]);
  tw__free(paths);
  tw__free(argv);
  return rc;
}

/* Claims and compiles units of j until none is left; t->mu held on entry
 * and exit. */
static void help_units(struct tw__tier1 *t, struct tw__tier1_job *j) {
  while (j->claimed < j->ntus) {
    uint32_t u = j->claimed++;
    bool skip = j->unit_rc != 0 || atomic_load(&j->cancel);
    pthread_mutex_unlock(&t->mu);
    char err[512] = "";
    int rc = skip ? 0 : compile_unit(j, u, err, sizeof err);
    pthread_mutex_lock(&t->mu);
    if (rc && !j->unit_rc) {
      j->unit_rc = rc;
      snprintf(j->unit_err, sizeof j->unit_err, "%s", err);
    }
    j->finished++;
    pthread_cond_broadcast(&t->cv);
  }
}

/* The compile path of a cache miss: split, compile units (helped by idle
 * threads), link. Leaves dir/out.so. t->mu not held. */
static int build(struct tw__tier1_job *j, char *err, size_t errlen) {
  struct tw__tier1 *t = j->t;
  const struct tw__module *m = j->m;
  j->tu_of = tw__calloc(m->nfuncs ? m->nfuncs : 1, sizeof *j->tu_of);
  j->calls = tw__malloc(m->nfuncs ? m->nfuncs : 1);
  if (!j->tu_of || !j->calls)
    return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  int crc = tw__codegen_calls(m, j->calls, err, errlen);
  if (crc) return crc;
  uint32_t n = tw__codegen_split(m, UNIT_TARGET_BYTES, MAX_UNITS, j->tu_of);
  if (n == 0) n = 1;
  pthread_mutex_lock(&t->mu);
  j->ntus = n;
  j->claimed = j->finished = 0;
  j->unit_rc = 0;
  if (n > 1) {
    j->next = t->active;
    t->active = j;
    pthread_cond_broadcast(&t->cv);
  }
  help_units(t, j);
  while (j->finished < j->ntus) pthread_cond_wait(&t->cv, &t->mu);
  if (n > 1) {
    struct tw__tier1_job **pp = &t->active;
    while (*pp && *pp != j) pp = &(*pp)->next;
    if (*pp) *pp = j->next;
    j->next = NULL;
  }
  int rc = j->unit_rc;
  if (rc) tw__err(rc, err, errlen, "%s", j->unit_err);
  pthread_mutex_unlock(&t->mu);
  if (!rc && atomic_load(&j->cancel))
    rc = tw__err(TW_ECOMPILE, err, errlen, "cancelled");
  if (!rc && n > 1) rc = link_units(j, err, errlen);
  return rc;
}

static int make_build_dir(struct tw__tier1_job *j, char *err, size_t errlen) {
  const char *tmp = getenv("TMPDIR");
  if (!tmp || !*tmp) tmp = "/tmp";
  if (snprintf(j->dir, sizeof j->dir, "%s/tw-t1-XXXXXX", tmp) >=
          (int)sizeof j->dir ||
      !mkdtemp(j->dir))
    return tw__err(TW_EIO, err, errlen, "cannot create a build folder in %s",
                   tmp);
  return 0;
}

/* Declines modules too big for the C compiler (see T1_MAX_*). */
static int check_size(const struct tw__module *m, char *err, size_t errlen) {
  uint64_t total = 0;
  for (uint32_t i = 0; i < m->nfuncs; i++) {
    const struct tw__func *f = &m->funcs[i];
    size_t n = (size_t)(f->end - f->code);
    total += n;
    if (n > T1_MAX_FUNC_BYTES || f->nlocals > T1_MAX_FUNC_LOCALS)
      return tw__err(TW_ELIMIT, err, errlen,
                     "function %" PRIu32 " is too large for tier 1 "
                     "(%zu code bytes, %" PRIu32 " locals; limits %u, %u)",
                     m->nfunc_imports + i, n, f->nlocals, T1_MAX_FUNC_BYTES,
                     T1_MAX_FUNC_LOCALS);
  }
  if (total > T1_MAX_CODE_BYTES)
    return tw__err(TW_ELIMIT, err, errlen,
                   "module too large for tier 1 (%" PRIu64 " code bytes, "
                   "limit %u)", total, T1_MAX_CODE_BYTES);
  return 0;
}

/* Runs a job on a pool thread; t->mu not held. */
static void run_job(struct tw__tier1_job *j) {
  struct tw__tier1 *t = j->t;
  char err[512] = "";
  struct tw__tier1_code *code = NULL;
  int rc;
  bool probe_ok;

  pthread_mutex_lock(&t->mu);
  bool first_probe = !t->probed;
  probe_compiler(t, &j->cancel);
  probe_ok = t->probe_ok;
  pthread_mutex_unlock(&t->mu);
  if (!probe_ok) {
    /* Once per engine: every later job fails the same way, silently. */
    if (first_probe)
      log_line("tier 1 unavailable, tier 0 keeps serving: %s", t->probe_err);
    snprintf(err, sizeof err, "%s", t->probe_err);
    rc = TW_ECOMPILE;
    goto done;
  }
  if ((rc = check_size(j->m, err, sizeof err))) goto log;
  uint8_t key[TW_HASH_LEN];
  cache_key(t, j->m, key);
  if (t->cache_dir && cache_load(t, key, &code) == 0) {
    rc = 0;
    goto done;
  }
  if ((rc = make_build_dir(j, err, sizeof err))) goto log;
  rc = build(j, err, sizeof err);
  if (!rc) {
    /* As in cache_load, the loaded name must stand for this key only:
     * the build folder's name may be reused by a later job. */
    char so[PATH_MAX + 16], final[PATH_MAX + 128], hex[2 * TW_HASH_LEN + 1];
    char keyed[PATH_MAX + 80];
    tw__hash_hex(key, hex);
    snprintf(so, sizeof so, "%s/out.so", j->dir);
    snprintf(keyed, sizeof keyed, "%s/%s.so", j->dir, hex);
    const char *load = keyed;
    if (rename(so, keyed)) {
      rc = tw__err(TW_EIO, err, sizeof err, "cannot rename %s: %s", so,
                   strerror(errno));
      goto cleanup;
    }
    if (t->cache_dir) {
      char cerr[512];
      if (cache_store(t, key, keyed, final, sizeof final, cerr, sizeof cerr))
        log_line("tier 1: code cache: %s", cerr);
      else
        load = final;
    }
    rc = load_so(load, &code, err, sizeof err);
  }
cleanup:
  rm_build_dir(j->dir);
log:
  if (rc && !atomic_load(&j->cancel))
    log_line("tier 1 compile failed, tier 0 keeps serving: %s", err);
done:
  if (atomic_load(&j->cancel)) {
    tw__tier1_code_free(code);
    return;
  }
  j->done(j->arg, rc ? NULL : code, rc ? err : NULL);
  if (rc) tw__tier1_code_free(code);
}

static void *pool_main(void *arg) {
  struct tw__tier1 *t = arg;
  pthread_mutex_lock(&t->mu);
  for (;;) {
    /* Help a running job's units first: it finishes sooner. */
    struct tw__tier1_job *a = t->active;
    while (a && a->claimed >= a->ntus) a = a->next;
    if (a) {
      help_units(t, a);
      continue;
    }
    if (t->stop) break;
    struct tw__tier1_job *j = t->queue;
    if (!j) {
      pthread_cond_wait(&t->cv, &t->mu);
      continue;
    }
    t->queue = j->next;
    if (!t->queue) t->queue_tail = NULL;
    j->next = NULL;
    j->state = JOB_RUNNING;
    pthread_mutex_unlock(&t->mu);
    run_job(j);
    pthread_mutex_lock(&t->mu);
    j->state = JOB_DONE;
    pthread_cond_broadcast(&t->cv);
  }
  pthread_mutex_unlock(&t->mu);
  return NULL;
}

/* ---- public internals ---- */

int tw__tier1_new(const struct tw__tier1_config *cfg,
                  struct tw__tier1 **out) {
  *out = NULL;
  struct tw__tier1 *t = tw__calloc(1, sizeof *t);
  if (!t) return TW_ENOMEM;
  t->interruptible = cfg->interruptible;
  if (cfg->cache_dir && *cfg->cache_dir &&
      !(t->cache_dir = tw__strndup(cfg->cache_dir, strlen(cfg->cache_dir))))
    goto fail;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  t->nthreads = n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
  if (!(t->threads = tw__calloc(t->nthreads, sizeof *t->threads))) goto fail;
  if (pthread_mutex_init(&t->mu, NULL)) goto fail;
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  int crc = pthread_cond_init(&t->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (crc) {
    pthread_mutex_destroy(&t->mu);
    goto fail;
  }
  *out = t;
  return 0;
fail:
  tw__free(t->threads);
  tw__free(t->cache_dir);
  tw__free(t);
  return TW_ENOMEM;
}

void tw__tier1_free(struct tw__tier1 *t) {
  if (!t) return;
  pthread_mutex_lock(&t->mu);
  t->stop = true;
  for (struct tw__tier1_job *j = t->queue; j; j = j->next) {
    atomic_store(&j->cancel, true);
    j->state = JOB_DONE;
  }
  t->queue = t->queue_tail = NULL;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
  if (t->started)
    for (unsigned i = 0; i < t->nthreads; i++)
      pthread_join(t->threads[i], NULL);
  pthread_cond_destroy(&t->cv);
  pthread_mutex_destroy(&t->mu);
  tw__free(t->threads);
  tw__free(t->cache_dir);
  tw__free(t);
}

int tw__tier1_submit(struct tw__tier1 *t, const struct tw__module *m,
                     tw__tier1_done_fn done, void *arg,
                     struct tw__tier1_job **out) {
  *out = NULL;
  struct tw__tier1_job *j = tw__calloc(1, sizeof *j);
  if (!j) return TW_ENOMEM;
  j->t = t;
  j->m = m;
  j->done = done;
  j->arg = arg;
  atomic_init(&j->cancel, false);
  pthread_mutex_lock(&t->mu);
  if (t->stop) {
    pthread_mutex_unlock(&t->mu);
    tw__free(j);
    return TW_EINVAL;
  }
  if (!t->started) {
    /* Compiler threads need little stack: they generate C and wait. */
    unsigned ok = 0;
    for (unsigned i = 0; i < t->nthreads; i++)
      if (pthread_create(&t->threads[ok], NULL, pool_main, t) == 0) ok++;
    if (ok == 0) {
      pthread_mutex_unlock(&t->mu);
      tw__free(j);
      return TW_ENOMEM;
    }
    t->nthreads = ok;
    t->started = true;
  }
  j->state = JOB_QUEUED;
  if (t->queue_tail)
    t->queue_tail->next = j;
  else
    t->queue = j;
  t->queue_tail = j;
  pthread_cond_broadcast(&t->cv);
  pthread_mutex_unlock(&t->mu);
  *out = j;
  return 0;
}

bool tw__tier1_job_wait(struct tw__tier1_job *j, uint64_t timeout_ms) {
  struct tw__tier1 *t = j->t;
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  if (timeout_ms != UINT64_MAX) {
    uint64_t ns = (uint64_t)until.tv_nsec + (timeout_ms % 1000) * 1000000u;
    until.tv_sec += (time_t)(timeout_ms / 1000 + ns / 1000000000u);
    until.tv_nsec = (long)(ns % 1000000000u);
  }
  pthread_mutex_lock(&t->mu);
  while (j->state != JOB_DONE) {
    if (timeout_ms == UINT64_MAX)
      pthread_cond_wait(&t->cv, &t->mu);
    else if (pthread_cond_timedwait(&t->cv, &t->mu, &until) == ETIMEDOUT)
      break;
  }
  bool done = j->state == JOB_DONE;
  pthread_mutex_unlock(&t->mu);
  return done;
}

void tw__tier1_job_free(struct tw__tier1_job *j) {
  if (!j) return;
  struct tw__tier1 *t = j->t;
  pthread_mutex_lock(&t->mu);
  if (j->state == JOB_QUEUED) {
    struct tw__tier1_job **pp = &t->queue, *prev = NULL;
    while (*pp && *pp != j) {
      prev = *pp;
      pp = &(*pp)->next;
    }
    if (*pp) {
      *pp = j->next;
      if (t->queue_tail == j) t->queue_tail = prev;
    }
    j->state = JOB_DONE;
  }
  atomic_store(&j->cancel, true);
  while (j->state != JOB_DONE) pthread_cond_wait(&t->cv, &t->mu);
  pthread_mutex_unlock(&t->mu);
  tw__free(j->tu_of);
  tw__free(j->calls);
  tw__free(j);
}

void *tw__tier1_code_entry(struct tw__tier1_code *code) {
  return code ? code->entry : NULL;
}

void tw__tier1_code_free(struct tw__tier1_code *code) {
  if (!code) return;
  dlclose(code->dl);
  tw__free(code);
}
