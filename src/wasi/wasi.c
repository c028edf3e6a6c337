/* WASI state and its binding to the linker: creating and freeing a
 * tw_wasi_t (arguments, environment, preopens, stdio), the descriptor
 * table, errno mapping, checked guest-memory helpers, and the trampoline
 * every wasi_snapshot_preview1 import goes through.
 *
 * Invariants: a tw_wasi_t owns copies of everything in its config; every
 * guest-visible host descriptor is FD_CLOEXEC and closed by tw_wasi_free
 * (inherited stdio excepted: that belongs to the process).
 */
#include "wasi/wasi_int.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "rt/rt.h"

/* ---- Guest memory ---- */

struct wmem tw__wasi_mem(tw_caller_t *caller) {
  struct wmem m;
  m.base = tw_caller_memory(caller, &m.size);
  return m;
}

int tw__wasi_put32(const struct wmem *m, uint32_t ptr, uint32_t v) {
  if (!wmem_range(m, ptr, 4)) return WE_FAULT;
  st32(m->base + ptr, v);
  return 0;
}

int tw__wasi_put64(const struct wmem *m, uint32_t ptr, uint64_t v) {
  if (!wmem_range(m, ptr, 8)) return WE_FAULT;
  st64(m->base + ptr, v);
  return 0;
}

int tw__wasi_iovecs(const struct wmem *m, uint32_t ptr, uint32_t n,
                    struct iovec **out, size_t *total) {
  *out = NULL;
  *total = 0;
  if (n > TW__WASI_MAX_IOVS) return WE_INVAL;
  if (!wmem_range(m, ptr, (uint64_t)n * 8)) return WE_FAULT;
  struct iovec *iov = tw__calloc(n ? n : 1, sizeof *iov);
  if (!iov) return WE_NOMEM;
  uint64_t sum = 0;
  for (uint32_t i = 0; i < n; i++) {
    const uint8_t *e = m->base + ptr + (uint64_t)i * 8;
    uint32_t p = ld32(e), len = ld32(e + 4);
    if (!wmem_range(m, p, len)) {
      tw__free(iov);
      return WE_FAULT;
    }
    uint64_t room = (uint64_t)INT32_MAX - sum;
    if (len > room) len = (uint32_t)room;
    iov[i].iov_base = m->base + p;
    iov[i].iov_len = len;
    sum += len;
  }
  *out = iov;
  *total = (size_t)sum;
  return 0;
}

/* ---- Errors ---- */

int tw__wasi_errno(int e) {
  switch (e) {
  case 0: return WE_SUCCESS;
  case E2BIG: return WE_2BIG;
  case EACCES: return WE_ACCES;
  case EADDRINUSE: return WE_ADDRINUSE;
  case EADDRNOTAVAIL: return WE_ADDRNOTAVAIL;
  case EAFNOSUPPORT: return WE_AFNOSUPPORT;
  case EAGAIN: return WE_AGAIN;
  case EALREADY: return WE_ALREADY;
  case EBADF: return WE_BADF;
  case EBADMSG: return WE_BADMSG;
  case EBUSY: return WE_BUSY;
  case ECANCELED: return WE_CANCELED;
  case ECHILD: return WE_CHILD;
  case ECONNABORTED: return WE_CONNABORTED;
  case ECONNREFUSED: return WE_CONNREFUSED;
  case ECONNRESET: return WE_CONNRESET;
  case EDEADLK: return WE_DEADLK;
  case EDESTADDRREQ: return WE_DESTADDRREQ;
  case EDOM: return WE_DOM;
  case EDQUOT: return WE_DQUOT;
  case EEXIST: return WE_EXIST;
  case EFAULT: return WE_FAULT;
  case EFBIG: return WE_FBIG;
  case EHOSTUNREACH: return WE_HOSTUNREACH;
  case EIDRM: return WE_IDRM;
  case EILSEQ: return WE_ILSEQ;
  case EINPROGRESS: return WE_INPROGRESS;
  case EINTR: return WE_INTR;
  case EINVAL: return WE_INVAL;
  case EIO: return WE_IO;
  case EISCONN: return WE_ISCONN;
  case EISDIR: return WE_ISDIR;
  case ELOOP: return WE_LOOP;
  case EMFILE: return WE_MFILE;
  case EMLINK: return WE_MLINK;
  case EMSGSIZE: return WE_MSGSIZE;
  case EMULTIHOP: return WE_MULTIHOP;
  case ENAMETOOLONG: return WE_NAMETOOLONG;
  case ENETDOWN: return WE_NETDOWN;
  case ENETRESET: return WE_NETRESET;
  case ENETUNREACH: return WE_NETUNREACH;
  case ENFILE: return WE_NFILE;
  case ENOBUFS: return WE_NOBUFS;
  case ENODEV: return WE_NODEV;
  case ENOENT: return WE_NOENT;
  case ENOEXEC: return WE_NOEXEC;
  case ENOLCK: return WE_NOLCK;
  case ENOLINK: return WE_NOLINK;
  case ENOMEM: return WE_NOMEM;
  case ENOMSG: return WE_NOMSG;
  case ENOPROTOOPT: return WE_NOPROTOOPT;
  case ENOSPC: return WE_NOSPC;
  case ENOSYS: return WE_NOSYS;
  case ENOTCONN: return WE_NOTCONN;
  case ENOTDIR: return WE_NOTDIR;
  case ENOTEMPTY: return WE_NOTEMPTY;
  case ENOTRECOVERABLE: return WE_NOTRECOVERABLE;
  case ENOTSOCK: return WE_NOTSOCK;
  case EOPNOTSUPP: return WE_NOTSUP; /* == ENOTSUP on Linux */
  case ENOTTY: return WE_NOTTY;
  case ENXIO: return WE_NXIO;
  case EOVERFLOW: return WE_OVERFLOW;
  case EOWNERDEAD: return WE_OWNERDEAD;
  case EPERM: return WE_PERM;
  case EPIPE: return WE_PIPE;
  case EPROTO: return WE_PROTO;
  case EPROTONOSUPPORT: return WE_PROTONOSUPPORT;
  case EPROTOTYPE: return WE_PROTOTYPE;
  case ERANGE: return WE_RANGE;
  case EROFS: return WE_ROFS;
  case ESPIPE: return WE_SPIPE;
  case ESRCH: return WE_SRCH;
  case ESTALE: return WE_STALE;
  case ETIMEDOUT: return WE_TIMEDOUT;
  case ETXTBSY: return WE_TXTBSY;
  case EXDEV: return WE_XDEV;
  default: return WE_IO;
  }
}

/* ---- Descriptors ---- */

struct wasi_fd *tw__wasi_fd(struct tw_wasi *w, uint32_t fd, uint64_t need,
                            int *err) {
  if (fd >= TW__WASI_MAX_FDS || w->fds[fd].kind == FD_FREE) {
    *err = WE_BADF;
    return NULL;
  }
  struct wasi_fd *f = &w->fds[fd];
  if ((f->rights & need) != need) {
    *err = WE_NOTCAPABLE;
    return NULL;
  }
  *err = 0;
  return f;
}

int tw__wasi_fd_alloc(struct tw_wasi *w) {
  for (uint32_t i = 0; i < TW__WASI_MAX_FDS; i++)
    if (w->fds[i].kind == FD_FREE) return (int)i;
  return -1;
}

void tw__wasi_fd_release(struct wasi_fd *f) {
  if (f->kind == FD_HOST && f->owned && f->host >= 0) close(f->host);
  tw__free(f->preopen);
  memset(f, 0, sizeof *f);
  f->host = -1;
}

uint8_t tw__wasi_filetype(unsigned mode) {
  switch (mode & S_IFMT) {
  case S_IFBLK: return WFT_BLOCK;
  case S_IFCHR: return WFT_CHAR;
  case S_IFDIR: return WFT_DIR;
  case S_IFREG: return WFT_REG;
  case S_IFLNK: return WFT_SYMLINK;
  case S_IFSOCK: return WFT_SOCK_STREAM; /* refined by callers that care */
  default: return WFT_UNKNOWN;
  }
}

uint64_t tw__wasi_rights_for(uint8_t ft) {
  switch (ft) {
  case WFT_DIR: return WR_DIR_ALL;
  case WFT_REG:
  case WFT_BLOCK: return WR_FILE_ALL;
  case WFT_SOCK_STREAM:
  case WFT_SOCK_DGRAM: return WR_SOCK_ALL;
  default: return WR_TTY_ALL; /* char devices, pipes */
  }
}

int tw__wasi_wait_fd(tw_caller_t *caller, int fd, short events) {
  /* Also without a deadline: the wait must stay interruptible. */
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || (fl & O_NONBLOCK)) return 0;
  struct stat st;
  if (fstat(fd, &st) != 0 || S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) ||
      S_ISBLK(st.st_mode))
    return 0;
  for (;;) {
    uint64_t deadline = tw_caller_deadline_ns(caller);
    uint64_t now = tw__now_ns();
    if (now >= deadline) return 1;
    uint64_t left = deadline - now;
    if (left > TW__WASI_WAIT_SLICE_NS) left = TW__WASI_WAIT_SLICE_NS;
    struct timespec ts = {(time_t)(left / 1000000000u),
                          (long)(left % 1000000000u)};
    struct pollfd p = {fd, events, 0};
    int r = ppoll(&p, 1, &ts, NULL);
    if (r > 0) return 0; /* ready, or an error the I/O call will report */
    if (r < 0 && errno != EINTR) return 0;
  }
}

/* ---- Creation ---- */

/* Packs n strings, NUL-terminated each, into *out. */
static int pack_strings(const char *const *v, size_t n, char **out,
                        size_t *bytes, uint32_t *count, const char *what,
                        char *err, size_t errlen) {
  *out = NULL;
  *bytes = 0;
  *count = 0;
  if (n && !v) return tw__err(TW_EINVAL, err, errlen, "%s: NULL array", what);
  if (n > TW__WASI_MAX_ARGS)
    return tw__err(TW_ELIMIT, err, errlen, "%s: more than %u entries", what,
                   TW__WASI_MAX_ARGS);
  size_t total = 0;
  for (size_t i = 0; i < n; i++) {
    if (!v[i])
      return tw__err(TW_EINVAL, err, errlen, "%s[%zu] is NULL", what, i);
    total += strlen(v[i]) + 1;
    if (total > TW__WASI_MAX_ARGS_BYTES)
      return tw__err(TW_ELIMIT, err, errlen, "%s: more than %u bytes", what,
                     TW__WASI_MAX_ARGS_BYTES);
  }
  char *p = tw__malloc(total ? total : 1);
  if (!p) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  size_t off = 0;
  for (size_t i = 0; i < n; i++) {
    size_t l = strlen(v[i]) + 1;
    memcpy(p + off, v[i], l);
    off += l;
  }
  *out = p;
  *bytes = total;
  *count = (uint32_t)n;
  return 0;
}

static int setup_stdio(struct tw_wasi *w, int fd, const tw_wasi_stdio_t *s,
                       char *err, size_t errlen) {
  struct wasi_fd *f = &w->fds[fd];
  f->host = -1;
  f->buf = fd;
  switch (s->mode) {
  case TW_WASI_STDIO_NULL:
    f->kind = FD_NULL;
    f->filetype = WFT_CHAR;
    break;
  case TW_WASI_STDIO_INHERIT: {
    struct stat st;
    if (fstat(fd, &st) != 0)
      return tw__err(TW_EIO, err, errlen, "stdio: descriptor %d is not open",
                     fd);
    f->kind = FD_HOST;
    f->host = fd;
    f->owned = false;
    f->filetype = tw__wasi_filetype(st.st_mode);
    f->rights = tw__wasi_rights_for(f->filetype);
    f->inheriting = 0;
    return 0;
  }
  case TW_WASI_STDIO_BUFFER:
    if (fd == 0) {
      f->kind = FD_INBUF;
      if (s->len) {
        if (!s->data)
          return tw__err(TW_EINVAL, err, errlen, "stdin: NULL data");
        w->in_data = tw__malloc(s->len);
        if (!w->in_data)
          return tw__err(TW_ENOMEM, err, errlen, "out of memory");
        memcpy(w->in_data, s->data, s->len);
        w->in_len = s->len;
      }
    } else {
      f->kind = FD_OUTBUF;
      w->out[fd].limit = s->cap ? s->cap : TW__WASI_DEFAULT_CAP;
    }
    /* Neither a terminal nor seekable: libc buffers fully. */
    f->filetype = WFT_UNKNOWN;
    break;
  default:
    return tw__err(TW_EINVAL, err, errlen, "stdio %d: unknown mode %d", fd,
                   (int)s->mode);
  }
  f->rights = WR_TTY_ALL;
  f->inheriting = 0;
  return 0;
}

static int add_preopen(struct tw_wasi *w, int slot, const tw_wasi_preopen_t *p,
                       char *err, size_t errlen) {
  if (!p->host_path)
    return tw__err(TW_EINVAL, err, errlen, "preopen %d: NULL host path",
                   slot);
  const char *guest = p->guest_path ? p->guest_path : p->host_path;
  int fd = open(p->host_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return tw__err(TW_EIO, err, errlen, "%s: cannot open as a directory: %s",
                   p->host_path, strerror(errno));
  int rc = tw__wasi_check_openat2(fd);
  if (rc) {
    close(fd);
    return tw__err(TW_EUNSUPPORTED, err, errlen,
                   "%s: the kernel lacks openat2 (Linux 5.6 or later is "
                   "needed to confine preopened directories)",
                   p->host_path);
  }
  struct wasi_fd *f = &w->fds[slot];
  f->preopen = tw__strndup(guest, strlen(guest));
  if (!f->preopen) {
    close(fd);
    return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  }
  f->preopen_len = strlen(guest);
  f->kind = FD_HOST;
  f->host = fd;
  f->owned = true;
  f->filetype = WFT_DIR;
  f->read_only = p->read_only;
  f->rights = WR_DIR_ALL;
  f->inheriting = WR_DIR_ALL | WR_FILE_ALL;
  if (p->read_only) {
    f->rights &= ~WR_WRITES;
    f->inheriting &= ~WR_WRITES;
  }
  return 0;
}

static int add_socket(struct tw_wasi *w, int slot, int sock, char *err,
                      size_t errlen) {
  struct stat st;
  int type = 0;
  socklen_t len = sizeof type;
  if (fstat(sock, &st) != 0 || !S_ISSOCK(st.st_mode) ||
      getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len) != 0)
    return tw__err(TW_EINVAL, err, errlen, "descriptor %d is not a socket",
                   sock);
  int fd = fcntl(sock, F_DUPFD_CLOEXEC, 3);
  if (fd < 0)
    return tw__err(TW_EIO, err, errlen, "socket %d: %s", sock,
                   strerror(errno));
  struct wasi_fd *f = &w->fds[slot];
  f->kind = FD_HOST;
  f->host = fd;
  f->owned = true;
  f->filetype = type == SOCK_DGRAM ? WFT_SOCK_DGRAM : WFT_SOCK_STREAM;
  f->rights = WR_SOCK_ALL;
  f->inheriting = WR_SOCK_ALL;
  return 0;
}

int tw_wasi_new(const tw_wasi_config_t *cfg, tw_wasi_t **out, char *err,
                size_t errlen) {
  if (!out) return tw__err(TW_EINVAL, err, errlen, "NULL out");
  *out = NULL;
  if (!cfg) return tw__err(TW_EINVAL, err, errlen, "NULL config");
  if (cfg->npreopens && !cfg->preopens)
    return tw__err(TW_EINVAL, err, errlen, "NULL preopens");
  if (cfg->nsockets && !cfg->sockets)
    return tw__err(TW_EINVAL, err, errlen, "NULL sockets");
  if (cfg->npreopens + cfg->nsockets > TW__WASI_MAX_FDS - 3 ||
      cfg->npreopens > TW__WASI_MAX_FDS)
    return tw__err(TW_ELIMIT, err, errlen,
                   "more than %u preopened descriptors",
                   TW__WASI_MAX_FDS - 3);
  struct tw_wasi *w = tw__calloc(1, sizeof *w);
  if (!w) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  for (uint32_t i = 0; i < TW__WASI_MAX_FDS; i++) w->fds[i].host = -1;

  int rc = pack_strings(cfg->argv, cfg->argc, &w->args, &w->args_bytes,
                        &w->argc, "argv", err, errlen);
  if (!rc)
    rc = pack_strings(cfg->env, cfg->envc, &w->env, &w->env_bytes, &w->envc,
                      "env", err, errlen);
  if (!rc) rc = setup_stdio(w, 0, &cfg->stdin_, err, errlen);
  if (!rc) rc = setup_stdio(w, 1, &cfg->stdout_, err, errlen);
  if (!rc) rc = setup_stdio(w, 2, &cfg->stderr_, err, errlen);
  int slot = 3;
  for (size_t i = 0; !rc && i < cfg->npreopens; i++)
    rc = add_preopen(w, slot++, &cfg->preopens[i], err, errlen);
  for (size_t i = 0; !rc && i < cfg->nsockets; i++)
    rc = add_socket(w, slot++, cfg->sockets[i], err, errlen);
  if (rc) {
    tw_wasi_free(w);
    return rc;
  }
  *out = w;
  return 0;
}

void tw_wasi_free(tw_wasi_t *w) {
  if (!w) return;
  for (uint32_t i = 0; i < TW__WASI_MAX_FDS; i++)
    if (w->fds[i].kind != FD_FREE) tw__wasi_fd_release(&w->fds[i]);
  for (int i = 1; i <= 2; i++) tw__free(w->out[i].data);
  tw__free(w->in_data);
  tw__free(w->bindings);
  tw__free(w->args);
  tw__free(w->env);
  tw__free(w);
}

int tw_wasi_output(const tw_wasi_t *w, int fd, const uint8_t **data,
                   size_t *len) {
  if (!w || !data || !len || (fd != 1 && fd != 2)) return TW_EINVAL;
  /* Whatever the guest did with its descriptors since, the capture
   * belongs to stream fd. */
  *data = w->out[fd].data;
  *len = w->out[fd].len;
  if (!w->out[fd].limit) return TW_EINVAL; /* not in BUFFER mode */
  return 0;
}

/* ---- Linking ---- */

struct wasi_func {
  const char *name;
  const char *params;
  tw__wasi_fn fn;
};

static const struct wasi_func wasi_funcs[] = {
#define TW__WASI_ENTRY_(name, params) {#name, params, tw__wasi_##name},
    TW__WASI_FUNCS(TW__WASI_ENTRY_)
#undef TW__WASI_ENTRY_
};
#define NFUNCS (sizeof wasi_funcs / sizeof wasi_funcs[0])

/* What each linker entry's user pointer refers to. Allocated per
 * tw_wasi_t (the table is small) so that one trampoline serves all. */
struct wasi_binding {
  struct tw_wasi *w;
  const struct wasi_func *f;
};

static int trampoline(tw_caller_t *caller, void *user, const tw_val_t *args,
                      tw_val_t *results) {
  const struct wasi_binding *b = user;
  struct wmem m = tw__wasi_mem(caller);
  int rc = b->f->fn(caller, b->w, &m, args);
  if (rc < 0) return rc; /* TW_ETRAP / TW_EEXIT: the guest stops */
  if (b->f->fn != tw__wasi_proc_exit) {
    results[0].type = TW_I32;
    results[0].of.i32 = (uint32_t)rc;
  }
  return 0;
}

/* Bindings live as long as the tw_wasi_t: one array per wasi, allocated
 * on first use and freed with it (kept in a static side table would not
 * be thread-safe). */
struct wasi_bindings_block {
  struct wasi_binding b[NFUNCS];
};

int tw_linker_define_wasi(tw_linker_t *linker, tw_wasi_t *w) {
  if (!linker || !w) return TW_EINVAL;
  if (!w->bindings) {
    struct wasi_bindings_block *blk = tw__calloc(1, sizeof *blk);
    if (!blk) return TW_ENOMEM;
    for (size_t i = 0; i < NFUNCS; i++) {
      blk->b[i].w = w;
      blk->b[i].f = &wasi_funcs[i];
    }
    w->bindings = blk;
  }
  struct wasi_bindings_block *blk = w->bindings;
  static const uint8_t i32_result[1] = {TW_I32};
  for (size_t i = 0; i < NFUNCS; i++) {
    const struct wasi_func *f = &wasi_funcs[i];
    uint8_t params[16];
    uint32_t np = 0;
    for (const char *p = f->params; *p; p++)
      params[np++] = *p == 'I' ? TW_I64 : TW_I32;
    tw_functype_t type = {np, f->fn == tw__wasi_proc_exit ? 0u : 1u, params,
                          i32_result};
    int rc = tw_linker_define_func(linker, "wasi_snapshot_preview1", f->name,
                                   &type, trampoline, &blk->b[i]);
    if (rc) return rc;
  }
  return 0;
}

/* ---- Running a command ---- */

int tw_wasi_run_start(tw_instance_t *instance, int32_t *exit_code, char *err,
                      size_t errlen) {
  if (!instance || !exit_code)
    return tw__err(TW_EINVAL, err, errlen, "invalid argument");
  *exit_code = 0;
  int rc = tw_instance_call(instance, "_start", NULL, 0, NULL, 0, err,
                            errlen);
  if (rc == 0) return 0;
  if (rc == TW_EEXIT || rc == TW_ETRAP) {
    tw_trap_info_t trap;
    tw_store_last_trap(instance->store, &trap);
    if (trap.kind == TW_TRAP_EXIT) {
      *exit_code = trap.exit_code;
      if (err && errlen) err[0] = '\0';
      return 0;
    }
  }
  return rc;
}
