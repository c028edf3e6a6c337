/* WASI path calls, confined by the kernel. Every lookup starts at a
 * preopened (or guest-opened) directory descriptor and goes through
 * openat2 with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS: absolute paths,
 * ".." above the start, symlinks leading out and /proc magic links all
 * fail inside the kernel, whatever the strings look like.
 *
 * Calls that are not opens (mkdir, unlink, rename, link, symlink) first
 * open the parent directory that way and then act on the final component
 * alone, which holds no '/' and is never "." or "..": an *at call with
 * such a name cannot leave the parent. Stat-like calls (filestat,
 * set_times, readlink) open the whole path with O_PATH and act on the
 * descriptor. Trailing slashes are stripped before splitting and their
 * meaning ("must be a directory") is checked here, because handing
 * "name/" to the kernel would make it follow a final symlink unconfined.
 */
#include "wasi/wasi_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437 /* the same on every Linux architecture */
#endif
#ifndef RESOLVE_NO_MAGICLINKS
#define RESOLVE_NO_MAGICLINKS 0x02
#endif
#ifndef RESOLVE_BENEATH
#define RESOLVE_BENEATH 0x08
#endif

/* struct open_how of <linux/openat2.h>, which older headers lack (glibc
 * 2.36 has no wrapper either). Layout fixed by the kernel ABI. */
struct tw_open_how {
  uint64_t flags;
  uint64_t mode;
  uint64_t resolve;
};

/* openat2 beneath dirfd: a descriptor, or -1 with errno. Retries the
 * EAGAIN the kernel returns when a concurrent rename races the lookup. */
static int open_beneath(int dirfd, const char *path, int flags, mode_t mode) {
  struct tw_open_how how = {(uint64_t)(unsigned)flags | O_CLOEXEC,
                            ((flags & O_CREAT) ||
                             (flags & O_TMPFILE) == O_TMPFILE)
                                ? mode
                                : 0,
                            RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
  for (int tries = 0;; tries++) {
    long fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
    if (fd >= 0) return (int)fd;
    if (errno != EAGAIN || tries == 8) return -1;
  }
}

int tw__wasi_check_openat2(int dirfd) {
  int fd = open_beneath(dirfd, ".", O_PATH | O_DIRECTORY, 0);
  if (fd >= 0) {
    close(fd);
    return 0;
  }
  return errno == ENOSYS ? -1 : 0;
}

/* errno of a failed confined lookup: EXDEV means the path tried to leave
 * the directory (absolute, "..", a symlink out): `notcapable`. */
static int lookup_errno(int e) {
  return e == EXDEV ? WE_NOTCAPABLE : tw__wasi_errno(e);
}

/* Copies a guest path into a NUL-terminated heap string. */
static int read_path(const struct wmem *m, uint32_t ptr, uint32_t len,
                     char **out) {
  *out = NULL;
  if (len > TW__WASI_MAX_PATH) return WE_NAMETOOLONG;
  if (!wmem_range(m, ptr, len)) return WE_FAULT;
  if (memchr(m->base + ptr, 0, len)) return WE_INVAL;
  char *s = tw__malloc((size_t)len + 1);
  if (!s) return WE_NOMEM;
  memcpy(s, m->base + ptr, len);
  s[len] = '\0';
  *out = s;
  return 0;
}

/* The directory descriptor a path call starts from. */
static int dir_fd(struct tw_wasi *w, uint32_t fd, uint64_t need,
                  struct wasi_fd **out) {
  int e;
  struct wasi_fd *f = tw__wasi_fd(w, fd, 0, &e);
  if (!f) return e;
  if (f->kind != FD_HOST || f->filetype != WFT_DIR) return WE_NOTDIR;
  if ((f->rights & need) != need) return WE_NOTCAPABLE;
  if (f->read_only && (need & WR_WRITES)) return WE_NOTCAPABLE;
  *out = f;
  return 0;
}

/* A path split into an opened parent directory and a final name. */
struct split {
  char *buf;      /* owns the strings */
  int parent;     /* O_PATH descriptor beneath the start, or -1 */
  const char *name;
  bool slash;     /* the path ended in '/' */
  bool dot;       /* name is "." or ".." */
};

static void split_free(struct split *s) {
  if (s->parent >= 0) close(s->parent);
  tw__free(s->buf);
}

/* Splits guest path (ptr, len) relative to dirfd. */
static int split_path(const struct wmem *m, uint32_t ptr, uint32_t len,
                      int dirfd, struct split *s) {
  memset(s, 0, sizeof *s);
  s->parent = -1;
  int e = read_path(m, ptr, len, &s->buf);
  if (e) return e;
  char *p = s->buf;
  size_t n = strlen(p);
  if (n == 0) return WE_NOENT;
  while (n > 1 && p[n - 1] == '/') {
    p[--n] = '\0';
    s->slash = true;
  }
  char *last = strrchr(p, '/');
  const char *parent = ".";
  if (!last) {
    s->name = p;
  } else {
    s->name = last + 1;
    if (last == p) return WE_NOTCAPABLE; /* "/name" or "/": absolute */
    *last = '\0';
    parent = p;
  }
  s->dot = strcmp(s->name, ".") == 0 || strcmp(s->name, "..") == 0;
  s->parent = open_beneath(dirfd, parent, O_PATH | O_DIRECTORY, 0);
  if (s->parent < 0) return lookup_errno(errno);
  return 0;
}

/* Whether the final component exists, and its mode (not following). */
static int final_mode(const struct split *s, mode_t *mode) {
  struct stat st;
  if (fstatat(s->parent, s->name, &st, AT_SYMLINK_NOFOLLOW) != 0)
    return tw__wasi_errno(errno);
  *mode = st.st_mode;
  return 0;
}

/* ---- path_open ---- */

#define READ_RIGHTS (WR_FD_READ | WR_FD_READDIR)
#define WRITE_RIGHTS                                                        \
  (WR_FD_DATASYNC | WR_FD_WRITE | WR_FD_ALLOCATE | WR_FD_FILESTAT_SET_SIZE)

TW__WASI_DECL(path_open) {
  uint32_t lookup = A32(1), oflags = A32(4), fdflags = A32(7);
  uint64_t base = A64(5), inh = A64(6);
  if (oflags & ~(uint32_t)(WO_CREAT | WO_DIRECTORY | WO_EXCL | WO_TRUNC))
    return WE_INVAL;
  if (fdflags & ~(uint32_t)(WFD_APPEND | WFD_DSYNC | WFD_NONBLOCK |
                            WFD_RSYNC | WFD_SYNC))
    return WE_INVAL;
  uint64_t need = WR_PATH_OPEN;
  if (oflags & WO_CREAT) need |= WR_PATH_CREATE_FILE;
  if (oflags & WO_TRUNC) need |= WR_PATH_FILESTAT_SET_SIZE;
  struct wasi_fd *d = NULL;
  int e = dir_fd(w, A32(0), need, &d);
  if (e) return e;
  bool wr = (base & WRITE_RIGHTS) || (fdflags & WFD_APPEND);
  bool rd = (base & READ_RIGHTS) != 0;
  if (d->read_only && wr) return WE_NOTCAPABLE;
  if (!wmem_range(m, A32(8), 4)) return WE_FAULT;
  char *path;
  e = read_path(m, A32(2), A32(3), &path);
  if (e) return e;

  int flags = O_NOCTTY | O_NONBLOCK; /* never block opening a FIFO */
  flags |= wr ? (rd ? O_RDWR : O_WRONLY) : O_RDONLY;
  if (oflags & WO_CREAT) flags |= O_CREAT;
  if (oflags & WO_EXCL) flags |= O_EXCL;
  if (oflags & WO_TRUNC) flags |= O_TRUNC;
  if (oflags & WO_DIRECTORY) flags |= O_DIRECTORY;
  if (fdflags & WFD_APPEND) flags |= O_APPEND;
  if (fdflags & WFD_DSYNC) flags |= O_DSYNC;
  if (fdflags & (WFD_SYNC | WFD_RSYNC)) flags |= O_SYNC;
  if (!(lookup & WL_SYMLINK_FOLLOW)) flags |= O_NOFOLLOW;
  int fd = open_beneath(d->host, path, flags, 0666);
  int saved = errno;
  tw__free(path);
  if (fd < 0) return lookup_errno(saved);
  struct stat st;
  int slot = tw__wasi_fd_alloc(w);
  if (slot < 0 || fstat(fd, &st) != 0) {
    e = slot < 0 ? WE_MFILE : tw__wasi_errno(errno);
    close(fd);
    return e;
  }
  if (!(fdflags & WFD_NONBLOCK)) {
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
  }
  struct wasi_fd *f = &w->fds[slot];
  memset(f, 0, sizeof *f);
  f->kind = FD_HOST;
  f->host = fd;
  f->owned = true;
  f->read_only = d->read_only;
  f->filetype = tw__wasi_filetype(st.st_mode);
  if (f->filetype == WFT_SOCK_STREAM) {
    int type = 0;
    socklen_t l = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) == 0 &&
        type == SOCK_DGRAM)
      f->filetype = WFT_SOCK_DGRAM;
  }
  uint64_t kind_rights = tw__wasi_rights_for(f->filetype);
  f->rights = base & d->inheriting & kind_rights;
  if (!rd) f->rights &= ~(uint64_t)READ_RIGHTS;
  if (!wr) f->rights &= ~(uint64_t)WRITE_RIGHTS;
  f->inheriting = inh & d->inheriting;
  st32(m->base + A32(8), (uint32_t)slot);
  return 0;
}

/* ---- Stat-like calls: act on an O_PATH descriptor of the whole path ---- */

/* Opens guest path (ptr, len) beneath dirfd with O_PATH, following a
 * final symlink only when asked. */
static int open_path(const struct wmem *m, uint32_t ptr, uint32_t len,
                     int dirfd, bool follow, int *out) {
  char *path;
  int e = read_path(m, ptr, len, &path);
  if (e) return e;
  if (!path[0]) {
    tw__free(path);
    return WE_NOENT;
  }
  int fd = open_beneath(dirfd, path, O_PATH | (follow ? 0 : O_NOFOLLOW), 0);
  int saved = errno;
  tw__free(path);
  if (fd < 0) return lookup_errno(saved);
  *out = fd;
  return 0;
}

TW__WASI_DECL(path_filestat_get) {
  struct wasi_fd *d = NULL;
  int e = dir_fd(w, A32(0), WR_PATH_FILESTAT_GET, &d);
  if (e) return e;
  if (!wmem_range(m, A32(4), 64)) return WE_FAULT;
  int fd;
  e = open_path(m, A32(2), A32(3), d->host, A32(1) & WL_SYMLINK_FOLLOW, &fd);
  if (e) return e;
  struct stat st;
  if (fstat(fd, &st) != 0) e = tw__wasi_errno(errno);
  close(fd);
  if (e) return e;
  return tw__wasi_put_filestat(m, A32(4), &st, tw__wasi_filetype(st.st_mode));
}

TW__WASI_DECL(path_filestat_set_times) {
  struct wasi_fd *d = NULL;
  int e = dir_fd(w, A32(0), WR_PATH_FILESTAT_SET_TIMES, &d);
  if (e) return e;
  struct timespec ts[2];
  e = tw__wasi_times(A64(4), A64(5), A32(6), ts);
  if (e) return e;
  int fd;
  e = open_path(m, A32(2), A32(3), d->host, A32(1) & WL_SYMLINK_FOLLOW, &fd);
  if (e) return e;
  /* AT_EMPTY_PATH on the O_PATH descriptor: the very inode found beneath
   * the directory, a symlink itself when not following. */
  if (utimensat(fd, "", ts, AT_EMPTY_PATH) != 0) e = tw__wasi_errno(errno);
  close(fd);
  return e;
}

TW__WASI_DECL(path_readlink) {
  struct wasi_fd *d = NULL;
  int e = dir_fd(w, A32(0), WR_PATH_READLINK, &d);
  if (e) return e;
  uint32_t buf = A32(3), buflen = A32(4), usedp = A32(5);
  if (!wmem_range(m, buf, buflen) || !wmem_range(m, usedp, 4))
    return WE_FAULT;
  int fd;
  e = open_path(m, A32(1), A32(2), d->host, false, &fd);
  if (e) return e;
  /* Read into a host buffer first: readlink truncates silently, and a
   * target longer than the guest's buffer is reported, not cut. */
  char tmp[TW__WASI_MAX_PATH + 1];
  ssize_t n = readlinkat(fd, "", tmp, sizeof tmp);
  int saved = errno;
  close(fd);
  if (n < 0) return saved == ENOENT ? WE_INVAL : tw__wasi_errno(saved);
  if ((size_t)n > buflen) n = buflen; /* POSIX: truncated to the buffer */
  memcpy(m->base + buf, tmp, (size_t)n);
  st32(m->base + usedp, (uint32_t)n);
  return 0;
}

/* ---- Calls on a final component ---- */

TW__WASI_DECL(path_create_directory) {
  struct wasi_fd *d = NULL;
  int e = dir_fd(w, A32(0), WR_PATH_CREATE_DIRECTORY, &d);
  if (e) return e;
  struct split s;
  e = split_path(m, A32(1), A32(2), d->host, &s);
  if (!e && s.dot) e = WE_EXIST;
  if (!e && mkdirat(s.parent, s.name, 0777) != 0) e = tw__wasi_errno(errno);
  split_free(&s);
  return e;
}

TW__WASI_DECL(path_remove_directory) {
  struct wasi_fd *d = NULL;
  int e = dir_fd(w, A32(0), WR_PATH_REMOVE_DIRECTORY, &d);
  if (e) return e;
  struct split s;
  e = split_path(m, A32(1), A32(2), d->host, &s);
  if (!e && s.dot) e = strcmp(s.name, ".") == 0 ? WE_INVAL : WE_NOTEMPTY;
  if (!e && unlinkat(s.parent, s.name, AT_REMOVEDIR) != 0)
    e = tw__wasi_errno(errno);
  split_free(&s);
  return e;
}

TW__WASI_DECL(path_unlink_file) {
  struct wasi_fd *d = NULL;
  int e = dir_fd(w, A32(0), WR_PATH_UNLINK_FILE, &d);
  if (e) return e;
  struct split s;
  e = split_path(m, A32(1), A32(2), d->host, &s);
  if (!e && s.dot) e = WE_ISDIR;
  if (!e && s.slash) {
    /* "name/" names a directory: never a file to unlink. */
    mode_t mode;
    e = final_mode(&s, &mode);
    if (!e) e = S_ISDIR(mode) ? WE_ISDIR : WE_NOTDIR;
  }
  if (!e && unlinkat(s.parent, s.name, 0) != 0) e = tw__wasi_errno(errno);
  split_free(&s);
  return e;
}

TW__WASI_DECL(path_rename) {
  struct wasi_fd *d1 = NULL, *d2 = NULL;
  int e = dir_fd(w, A32(0), WR_PATH_RENAME_SOURCE, &d1);
  if (e) return e;
  e = dir_fd(w, A32(3), WR_PATH_RENAME_TARGET, &d2);
  if (e) return e;
  struct split from, to;
  e = split_path(m, A32(1), A32(2), d1->host, &from);
  if (e) {
    split_free(&from);
    return e;
  }
  e = split_path(m, A32(4), A32(5), d2->host, &to);
  if (!e && (from.dot || to.dot)) e = WE_BUSY;
  if (!e && (from.slash || to.slash)) {
    /* A trailing slash on either side: the source must be a directory. */
    mode_t mode;
    e = final_mode(&from, &mode);
    if (!e && !S_ISDIR(mode)) e = WE_NOTDIR;
  }
  if (!e && renameat(from.parent, from.name, to.parent, to.name) != 0)
    e = tw__wasi_errno(errno);
  split_free(&to);
  split_free(&from);
  return e;
}

TW__WASI_DECL(path_link) {
  struct wasi_fd *d1 = NULL, *d2 = NULL;
  int e = dir_fd(w, A32(0), WR_PATH_LINK_SOURCE, &d1);
  if (e) return e;
  e = dir_fd(w, A32(4), WR_PATH_LINK_TARGET, &d2);
  if (e) return e;
  struct split from, to;
  int src = -1;
  if (A32(1) & WL_SYMLINK_FOLLOW) {
    /* Follow within the directory, then link the inode found. */
    memset(&from, 0, sizeof from);
    from.parent = -1;
    e = open_path(m, A32(2), A32(3), d1->host, true, &src);
  } else {
    e = split_path(m, A32(2), A32(3), d1->host, &from);
    if (!e && from.dot) e = WE_PERM;
    if (!e && from.slash) {
      mode_t mode;
      e = final_mode(&from, &mode);
      if (!e) e = S_ISDIR(mode) ? WE_PERM : WE_NOTDIR;
    }
  }
  if (e) {
    split_free(&from);
    if (src >= 0) close(src);
    return e;
  }
  e = split_path(m, A32(5), A32(6), d2->host, &to);
  if (!e && to.dot) e = WE_EXIST;
  if (!e && to.slash) {
    mode_t mode;
    e = final_mode(&to, &mode);
    e = e == WE_NOENT ? WE_NOENT : WE_EXIST;
  }
  if (!e) {
    int r = src >= 0 ? linkat(src, "", to.parent, to.name, AT_EMPTY_PATH)
                     : linkat(from.parent, from.name, to.parent, to.name, 0);
    if (r != 0) e = tw__wasi_errno(errno);
  }
  split_free(&to);
  split_free(&from);
  if (src >= 0) close(src);
  return e;
}

TW__WASI_DECL(path_symlink) {
  struct wasi_fd *d = NULL;
  int e = dir_fd(w, A32(2), WR_PATH_SYMLINK, &d);
  if (e) return e;
  char *target;
  e = read_path(m, A32(0), A32(1), &target);
  if (e) return e;
  /* Lookups by the guest are confined whatever a link says, but the host
   * and its other programs also walk these folders: never plant an
   * absolute link for them to follow. */
  if (target[0] == '/') e = WE_NOTCAPABLE;
  else if (!target[0]) e = WE_NOENT;
  struct split s;
  memset(&s, 0, sizeof s);
  s.parent = -1;
  if (!e) e = split_path(m, A32(3), A32(4), d->host, &s);
  if (!e && s.dot) e = WE_EXIST;
  if (!e && s.slash) {
    mode_t mode;
    e = final_mode(&s, &mode);
    e = e == WE_NOENT ? WE_NOENT : WE_EXIST;
  }
  if (!e && symlinkat(target, s.parent, s.name) != 0)
    e = tw__wasi_errno(errno);
  split_free(&s);
  tw__free(target);
  return e;
}
