/* WASI calls on descriptors: reads and writes (host descriptors, stdio
 * buffers with caps), seeking, descriptor and file status, sizes and
 * times, preopen names, directory listing (fd_readdir with the kernel's
 * d_off as the cookie), closing and renumbering.
 *
 * Reads and writes go straight between host descriptors and guest memory
 * through iovecs that tw__wasi_iovecs has bounds-checked.
 */
#include "wasi/wasi_int.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FD(fdnum, need)                                                     \
  int err_;                                                                 \
  struct wasi_fd *f = tw__wasi_fd(w, (fdnum), (need), &err_);               \
  if (!f) return err_

/* ---- Shared with path.c ---- */

int tw__wasi_put_filestat(const struct wmem *m, uint32_t ptr,
                          const struct stat *st, uint8_t filetype) {
  if (!wmem_range(m, ptr, 64)) return WE_FAULT;
  uint8_t *p = m->base + ptr;
  memset(p, 0, 64);
  if (st) {
    st64(p + 0, (uint64_t)st->st_dev);
    st64(p + 8, (uint64_t)st->st_ino);
    st64(p + 24, (uint64_t)st->st_nlink);
    st64(p + 32, (uint64_t)st->st_size);
    const struct timespec *t[3] = {&st->st_atim, &st->st_mtim, &st->st_ctim};
    for (int i = 0; i < 3; i++)
      st64(p + 40 + 8 * i,
           t[i]->tv_sec < 0 ? 0
                            : (uint64_t)t[i]->tv_sec * 1000000000u +
                                  (uint64_t)t[i]->tv_nsec);
  }
  st8(p + 16, filetype);
  return 0;
}

int tw__wasi_times(uint64_t atim, uint64_t mtim, uint32_t flags,
                   struct timespec ts[2]) {
  if (flags & ~(uint32_t)(WST_ATIM | WST_ATIM_NOW | WST_MTIM | WST_MTIM_NOW))
    return WE_INVAL;
  if ((flags & WST_ATIM) && (flags & WST_ATIM_NOW)) return WE_INVAL;
  if ((flags & WST_MTIM) && (flags & WST_MTIM_NOW)) return WE_INVAL;
  uint64_t v[2] = {atim, mtim};
  uint32_t set[2] = {WST_ATIM, WST_MTIM}, now[2] = {WST_ATIM_NOW,
                                                    WST_MTIM_NOW};
  for (int i = 0; i < 2; i++) {
    ts[i].tv_sec = 0;
    if (flags & set[i]) {
      ts[i].tv_sec = (time_t)(v[i] / 1000000000u);
      ts[i].tv_nsec = (long)(v[i] % 1000000000u);
    } else if (flags & now[i]) {
      ts[i].tv_nsec = UTIME_NOW;
    } else {
      ts[i].tv_nsec = UTIME_OMIT;
    }
  }
  return 0;
}

/* A host descriptor's filetype, telling socket kinds apart. */
static uint8_t host_filetype(const struct wasi_fd *f, const struct stat *st) {
  if (S_ISSOCK(st->st_mode)) return f->filetype;
  return tw__wasi_filetype(st->st_mode);
}

/* ---- Writes ---- */

/* writev that turns SIGPIPE into EPIPE for this thread: a guest writing
 * to a closed pipe or socket must not kill the host. */
static ssize_t writev_nosigpipe(int fd, const struct iovec *iov, int n) {
  sigset_t pipe, old, pending;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  sigpending(&pending);
  bool was_pending = sigismember(&pending, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, &old);
  ssize_t r = writev(fd, iov, n);
  int saved = errno;
  if (r < 0 && errno == EPIPE && !was_pending) {
    struct timespec zero = {0, 0};
    while (sigtimedwait(&pipe, NULL, &zero) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
  errno = saved;
  return r;
}

#ifndef RWF_NOAPPEND
#define RWF_NOAPPEND 0x00000020
#endif

/* pwrite at `off` even when the descriptor is in append mode (POSIX
 * semantics; Linux would append). RWF_NOAPPEND needs Linux 6.9; before
 * that, append mode is lifted around the write (guest descriptors are
 * used by one thread at a time). */
static ssize_t pwrite_at(int fd, const struct iovec *iov, int n, off_t off) {
  ssize_t r = pwritev2(fd, iov, n, off, RWF_NOAPPEND);
  if (r >= 0 || (errno != EINVAL && errno != EOPNOTSUPP)) return r;
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || !(fl & O_APPEND)) return pwritev(fd, iov, n, off);
  if (fcntl(fd, F_SETFL, fl & ~O_APPEND) != 0) return -1;
  r = pwritev(fd, iov, n, off);
  int saved = errno;
  fcntl(fd, F_SETFL, fl);
  errno = saved;
  return r;
}

/* Appends to a capped capture buffer: as much as fits; WE_NOSPC once
 * nothing fits. */
static int outbuf_write(struct wasi_outbuf *o, const struct iovec *iov,
                        uint32_t n, size_t total, size_t *written) {
  *written = 0;
  size_t room = o->limit - o->len;
  if (total && room == 0) return WE_NOSPC;
  size_t want = total < room ? total : room;
  if (o->len + want > o->cap) {
    size_t ncap = o->cap ? o->cap : 4096;
    while (ncap < o->len + want) ncap = ncap > o->limit / 2 ? o->limit : ncap * 2;
    uint8_t *p = tw__realloc(o->data, ncap);
    if (!p) return WE_NOMEM;
    o->data = p;
    o->cap = ncap;
  }
  for (uint32_t i = 0; i < n && *written < want; i++) {
    size_t k = iov[i].iov_len;
    if (k > want - *written) k = want - *written;
    memcpy(o->data + o->len, iov[i].iov_base, k);
    o->len += k;
    *written += k;
  }
  return 0;
}

static int do_write(tw_caller_t *caller, struct tw_wasi *w,
                    const struct wmem *m, const tw_val_t *a, bool positional) {
  uint64_t need = WR_FD_WRITE | (positional ? WR_FD_SEEK : 0);
  FD(A32(0), need);
  uint32_t nptr = positional ? A32(4) : A32(3);
  if (f->read_only) return WE_NOTCAPABLE;
  if (positional && A64(3) > INT64_MAX) return WE_INVAL;
  if (!wmem_range(m, nptr, 4)) return WE_FAULT;
  struct iovec *iov;
  size_t total;
  int e = tw__wasi_iovecs(m, A32(1), A32(2), &iov, &total);
  if (e) return e;
  size_t done = 0;
  switch (f->kind) {
  case FD_NULL:
    if (positional) e = WE_SPIPE;
    done = total;
    break;
  case FD_OUTBUF:
    if (positional) e = WE_SPIPE;
    else e = outbuf_write(&w->out[f->buf], iov, A32(2), total, &done);
    break;
  case FD_INBUF:
    e = WE_BADF;
    break;
  default: {
    ssize_t r;
    if (positional) {
      r = pwrite_at(f->host, iov, (int)A32(2), (off_t)A64(3));
    } else {
      if (tw__wasi_wait_fd(caller, f->host, POLLOUT)) {
        tw__free(iov);
        return tw_caller_deadline_trap(caller);
      }
      r = writev_nosigpipe(f->host, iov, (int)A32(2));
    }
    if (r < 0) e = tw__wasi_errno(errno);
    else done = (size_t)r;
  }
  }
  tw__free(iov);
  if (e) return e;
  st32(m->base + nptr, (uint32_t)done);
  return 0;
}

TW__WASI_DECL(fd_write) { return do_write(caller, w, m, a, false); }
TW__WASI_DECL(fd_pwrite) { return do_write(caller, w, m, a, true); }

/* ---- Reads ---- */

static int do_read(tw_caller_t *caller, struct tw_wasi *w,
                   const struct wmem *m, const tw_val_t *a, bool positional) {
  uint64_t need = WR_FD_READ | (positional ? WR_FD_SEEK : 0);
  FD(A32(0), need);
  uint32_t nptr = positional ? A32(4) : A32(3);
  if (positional && A64(3) > INT64_MAX) return WE_INVAL;
  if (!wmem_range(m, nptr, 4)) return WE_FAULT;
  struct iovec *iov;
  size_t total;
  int e = tw__wasi_iovecs(m, A32(1), A32(2), &iov, &total);
  if (e) return e;
  size_t done = 0;
  switch (f->kind) {
  case FD_NULL:
    if (positional) e = WE_SPIPE;
    break;
  case FD_OUTBUF:
    e = WE_BADF;
    break;
  case FD_INBUF:
    if (positional) {
      e = WE_SPIPE;
      break;
    }
    for (uint32_t i = 0; i < A32(2) && w->in_pos < w->in_len; i++) {
      size_t k = w->in_len - w->in_pos;
      if (k > iov[i].iov_len) k = iov[i].iov_len;
      memcpy(iov[i].iov_base, w->in_data + w->in_pos, k);
      w->in_pos += k;
      done += k;
    }
    break;
  default: {
    ssize_t r;
    if (positional) {
      r = preadv(f->host, iov, (int)A32(2), (off_t)A64(3));
    } else {
      if (tw__wasi_wait_fd(caller, f->host, POLLIN)) {
        tw__free(iov);
        return tw_caller_deadline_trap(caller);
      }
      r = readv(f->host, iov, (int)A32(2));
    }
    if (r < 0) e = tw__wasi_errno(errno);
    else done = (size_t)r;
  }
  }
  tw__free(iov);
  if (e) return e;
  st32(m->base + nptr, (uint32_t)done);
  return 0;
}

TW__WASI_DECL(fd_read) { return do_read(caller, w, m, a, false); }
TW__WASI_DECL(fd_pread) { return do_read(caller, w, m, a, true); }

/* ---- Position ---- */

TW__WASI_DECL(fd_seek) {
  int64_t off = (int64_t)A64(1);
  uint32_t whence = A32(2);
  uint64_t need = (whence == 1 && off == 0) ? WR_FD_TELL : WR_FD_SEEK;
  FD(A32(0), 0);
  if ((f->rights & need) != need) {
    /* A directory has no position a guest may move. */
    return f->filetype == WFT_DIR ? WE_BADF : WE_NOTCAPABLE;
  }
  if (!wmem_range(m, A32(3), 8)) return WE_FAULT;
  int how;
  switch (whence) {
  case 0: how = SEEK_SET; break;
  case 1: how = SEEK_CUR; break;
  case 2: how = SEEK_END; break;
  default: return WE_INVAL;
  }
  if (f->kind != FD_HOST) return WE_SPIPE;
  off_t r = lseek(f->host, (off_t)off, how);
  if (r < 0) return tw__wasi_errno(errno);
  st64(m->base + A32(3), (uint64_t)r);
  return 0;
}

TW__WASI_DECL(fd_tell) {
  FD(A32(0), WR_FD_TELL);
  if (!wmem_range(m, A32(1), 8)) return WE_FAULT;
  if (f->kind != FD_HOST) return WE_SPIPE;
  off_t r = lseek(f->host, 0, SEEK_CUR);
  if (r < 0) return tw__wasi_errno(errno);
  st64(m->base + A32(1), (uint64_t)r);
  return 0;
}

/* ---- Descriptor status ---- */

static uint16_t host_fdflags(int fd) {
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0) return 0;
  uint16_t r = 0;
  if (fl & O_APPEND) r |= WFD_APPEND;
  if (fl & O_NONBLOCK) r |= WFD_NONBLOCK;
  if ((fl & O_SYNC) == O_SYNC) r |= WFD_SYNC;
  else if (fl & O_DSYNC) r |= WFD_DSYNC;
  return r;
}

TW__WASI_DECL(fd_fdstat_get) {
  FD(A32(0), 0);
  if (!wmem_range(m, A32(1), 24)) return WE_FAULT;
  uint8_t *p = m->base + A32(1);
  memset(p, 0, 24);
  st8(p, f->filetype);
  st16(p + 2, f->kind == FD_HOST ? host_fdflags(f->host) : f->fdflags);
  st64(p + 8, f->rights);
  st64(p + 16, f->inheriting);
  return 0;
}

TW__WASI_DECL(fd_fdstat_set_flags) {
  FD(A32(0), WR_FD_FDSTAT_SET_FLAGS);
  uint32_t fl = A32(1);
  if (fl & ~(uint32_t)(WFD_APPEND | WFD_DSYNC | WFD_NONBLOCK | WFD_RSYNC |
                       WFD_SYNC))
    return WE_INVAL;
  /* Linux cannot change O_DSYNC/O_SYNC after open (F_SETFL ignores
   * them): refuse rather than pretend. */
  if (fl & (WFD_DSYNC | WFD_RSYNC | WFD_SYNC)) return WE_NOTSUP;
  if ((fl & WFD_APPEND) && f->read_only) return WE_NOTCAPABLE;
  if (f->kind != FD_HOST) {
    f->fdflags = (uint16_t)fl;
    return 0;
  }
  int cur = fcntl(f->host, F_GETFL);
  if (cur < 0) return tw__wasi_errno(errno);
  cur &= ~(O_APPEND | O_NONBLOCK);
  if (fl & WFD_APPEND) cur |= O_APPEND;
  if (fl & WFD_NONBLOCK) cur |= O_NONBLOCK;
  if (fcntl(f->host, F_SETFL, cur) != 0) return tw__wasi_errno(errno);
  return 0;
}

TW__WASI_DECL(fd_fdstat_set_rights) {
  FD(A32(0), 0);
  uint64_t base = A64(1), inh = A64(2);
  /* Rights only ever shrink. */
  if ((base & ~f->rights) || (inh & ~f->inheriting)) return WE_NOTCAPABLE;
  f->rights = base;
  f->inheriting = inh;
  return 0;
}

/* ---- File status ---- */

TW__WASI_DECL(fd_filestat_get) {
  FD(A32(0), WR_FD_FILESTAT_GET);
  if (f->kind != FD_HOST) return tw__wasi_put_filestat(m, A32(1), NULL,
                                                       f->filetype);
  struct stat st;
  if (fstat(f->host, &st) != 0) return tw__wasi_errno(errno);
  return tw__wasi_put_filestat(m, A32(1), &st, host_filetype(f, &st));
}

TW__WASI_DECL(fd_filestat_set_size) {
  FD(A32(0), WR_FD_FILESTAT_SET_SIZE);
  if (f->read_only) return WE_NOTCAPABLE;
  if (A64(1) > INT64_MAX) return WE_INVAL;
  if (f->kind != FD_HOST) return WE_INVAL;
  if (ftruncate(f->host, (off_t)A64(1)) != 0) return tw__wasi_errno(errno);
  return 0;
}

TW__WASI_DECL(fd_filestat_set_times) {
  FD(A32(0), WR_FD_FILESTAT_SET_TIMES);
  if (f->read_only) return WE_NOTCAPABLE;
  struct timespec ts[2];
  int e = tw__wasi_times(A64(1), A64(2), A32(3), ts);
  if (e) return e;
  if (f->kind != FD_HOST) return WE_INVAL;
  if (futimens(f->host, ts) != 0) return tw__wasi_errno(errno);
  return 0;
}

TW__WASI_DECL(fd_advise) {
  FD(A32(0), WR_FD_ADVISE);
  static const int adv[] = {POSIX_FADV_NORMAL,   POSIX_FADV_SEQUENTIAL,
                            POSIX_FADV_RANDOM,   POSIX_FADV_WILLNEED,
                            POSIX_FADV_DONTNEED, POSIX_FADV_NOREUSE};
  if (A32(3) > 5 || A64(1) > INT64_MAX || A64(2) > INT64_MAX) return WE_INVAL;
  if (f->kind != FD_HOST) return WE_SPIPE;
  if (f->filetype == WFT_DIR) return WE_BADF;
  int r = posix_fadvise(f->host, (off_t)A64(1), (off_t)A64(2), adv[A32(3)]);
  return r ? tw__wasi_errno(r) : 0;
}

TW__WASI_DECL(fd_allocate) {
  FD(A32(0), WR_FD_ALLOCATE);
  if (f->read_only) return WE_NOTCAPABLE;
  uint64_t off = A64(1), len = A64(2);
  if (off > INT64_MAX || len > INT64_MAX || len > INT64_MAX - off)
    return WE_INVAL;
  if (f->kind != FD_HOST) return WE_SPIPE;
  if (f->filetype == WFT_DIR) return WE_BADF;
  int r = posix_fallocate(f->host, (off_t)off, (off_t)len);
  return r ? tw__wasi_errno(r) : 0;
}

static int do_sync(struct tw_wasi *w, uint32_t fd, uint64_t need, bool data) {
  FD(fd, need);
  if (f->kind != FD_HOST) return 0;
  if ((data ? fdatasync(f->host) : fsync(f->host)) != 0)
    return tw__wasi_errno(errno);
  return 0;
}

TW__WASI_DECL(fd_sync) { return do_sync(w, A32(0), WR_FD_SYNC, false); }
TW__WASI_DECL(fd_datasync) {
  return do_sync(w, A32(0), WR_FD_DATASYNC, true);
}

/* ---- Preopens ---- */

TW__WASI_DECL(fd_prestat_get) {
  FD(A32(0), 0);
  if (!f->preopen) return WE_BADF;
  if (!wmem_range(m, A32(1), 8)) return WE_FAULT;
  uint8_t *p = m->base + A32(1);
  memset(p, 0, 8);
  st32(p + 4, (uint32_t)f->preopen_len);
  return 0;
}

TW__WASI_DECL(fd_prestat_dir_name) {
  FD(A32(0), 0);
  if (!f->preopen) return WE_BADF;
  uint32_t ptr = A32(1), len = A32(2);
  if (len < f->preopen_len) return WE_NAMETOOLONG;
  if (!wmem_range(m, ptr, f->preopen_len)) return WE_FAULT;
  memcpy(m->base + ptr, f->preopen, f->preopen_len);
  return 0;
}

/* ---- Closing ---- */

TW__WASI_DECL(fd_close) {
  FD(A32(0), 0);
  tw__wasi_fd_release(f);
  return 0;
}

TW__WASI_DECL(fd_renumber) {
  int e;
  struct wasi_fd *from = tw__wasi_fd(w, A32(0), 0, &e);
  if (!from) return e;
  struct wasi_fd *to = tw__wasi_fd(w, A32(1), 0, &e);
  if (!to) return e;
  if (from == to) return 0;
  tw__wasi_fd_release(to);
  *to = *from;
  memset(from, 0, sizeof *from);
  from->host = -1;
  return 0;
}

/* ---- Directories ---- */

/* The kernel's record (struct linux_dirent64); declared here because
 * glibc exposes getdents64 only from 2.30 and not its struct. */
struct kdirent {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static uint8_t dt_filetype(unsigned char t) {
  switch (t) {
  case DT_BLK: return WFT_BLOCK;
  case DT_CHR: return WFT_CHAR;
  case DT_DIR: return WFT_DIR;
  case DT_REG: return WFT_REG;
  case DT_LNK: return WFT_SYMLINK;
  case DT_SOCK: return WFT_SOCK_STREAM;
  default: return WFT_UNKNOWN;
  }
}

/* Cookies are the kernel's d_off values: the position after an entry,
 * which lseek on the directory accepts to continue from there. Cookie 0
 * is the start. Each call seeks, so calls are independent. */
TW__WASI_DECL(fd_readdir) {
  FD(A32(0), WR_FD_READDIR);
  uint32_t buf = A32(1), buflen = A32(2), usedp = A32(4);
  uint64_t cookie = A64(3);
  if (f->kind != FD_HOST || f->filetype != WFT_DIR) return WE_NOTDIR;
  if (!wmem_range(m, buf, buflen) || !wmem_range(m, usedp, 4))
    return WE_FAULT;
  if (cookie > INT64_MAX) return WE_INVAL;
  if (lseek(f->host, (off_t)cookie, SEEK_SET) < 0)
    return tw__wasi_errno(errno);
  enum { KBUF = 32 * 1024 };
  char *kbuf = tw__malloc(KBUF);
  if (!kbuf) return WE_NOMEM;
  uint8_t *out = m->base + buf;
  uint32_t used = 0;
  int e = 0;
  while (used < buflen) {
    long n = syscall(SYS_getdents64, f->host, kbuf, (unsigned)KBUF);
    if (n < 0) {
      e = tw__wasi_errno(errno);
      break;
    }
    if (n == 0) break;
    for (long off = 0; off < n && used < buflen;) {
      struct kdirent *d = (struct kdirent *)(void *)(kbuf + off);
      off += d->d_reclen;
      size_t namelen = strlen(d->d_name);
      uint8_t type = dt_filetype(d->d_type);
      if (d->d_type == DT_UNKNOWN) {
        struct stat st;
        if (fstatat(f->host, d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
          type = tw__wasi_filetype(st.st_mode);
      }
      uint8_t hdr[24] = {0};
      st64(hdr, (uint64_t)d->d_off);
      st64(hdr + 8, d->d_ino);
      st32(hdr + 16, (uint32_t)namelen);
      st8(hdr + 20, type);
      /* Entries that do not fit are cut short: the guest sees a full
       * buffer and asks again from the last whole entry's cookie. */
      uint32_t k = buflen - used < 24 ? buflen - used : 24;
      memcpy(out + used, hdr, k);
      used += k;
      k = buflen - used < namelen ? buflen - used : (uint32_t)namelen;
      memcpy(out + used, d->d_name, k);
      used += k;
    }
  }
  tw__free(kbuf);
  if (e) return e;
  st32(m->base + usedp, used);
  return 0;
}
