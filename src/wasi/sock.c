/* WASI socket calls on sockets the embedder preopened (tw_wasi_config_t
 * `sockets`) and on the connections accepted from them. Preview 1 has no
 * way to create or bind sockets; these four are the whole surface.
 * Sends never raise SIGPIPE (MSG_NOSIGNAL); waits honour the call's
 * deadline.
 */
#include "wasi/wasi_int.h"

#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

/* The socket behind guest fd: WE_BADF, WE_NOTSOCK, or WE_NOTCAPABLE
 * (checked in that order, so a file gives `notsock`). */
static struct wasi_fd *sock_fd(struct tw_wasi *w, uint32_t fd, uint64_t need,
                               int *e) {
  struct wasi_fd *f = tw__wasi_fd(w, fd, 0, e);
  if (!f) return NULL;
  if (f->kind != FD_HOST ||
      (f->filetype != WFT_SOCK_STREAM && f->filetype != WFT_SOCK_DGRAM)) {
    *e = WE_NOTSOCK;
    return NULL;
  }
  if ((f->rights & need) != need) {
    *e = WE_NOTCAPABLE;
    return NULL;
  }
  return f;
}

TW__WASI_DECL(sock_accept) {
  int e;
  struct wasi_fd *f = sock_fd(w, A32(0), WR_SOCK_ACCEPT, &e);
  if (!f) return e;
  uint32_t flags = A32(1);
  if (flags & ~(uint32_t)WFD_NONBLOCK) return WE_INVAL;
  if (!wmem_range(m, A32(2), 4)) return WE_FAULT;
  int slot = tw__wasi_fd_alloc(w);
  if (slot < 0) return WE_MFILE;
  if (tw__wasi_wait_fd(caller, f->host, POLLIN))
    return tw_caller_deadline_trap(caller);
  int c = accept4(f->host, NULL, NULL,
                  SOCK_CLOEXEC | ((flags & WFD_NONBLOCK) ? SOCK_NONBLOCK : 0));
  if (c < 0) return tw__wasi_errno(errno);
  struct wasi_fd *n = &w->fds[slot];
  memset(n, 0, sizeof *n);
  n->kind = FD_HOST;
  n->host = c;
  n->owned = true;
  n->filetype = f->filetype;
  n->rights = WR_SOCK_ALL & ~WR_SOCK_ACCEPT;
  n->inheriting = 0;
  st32(m->base + A32(2), (uint32_t)slot);
  return 0;
}

TW__WASI_DECL(sock_recv) {
  int e;
  struct wasi_fd *f = sock_fd(w, A32(0), WR_FD_READ, &e);
  if (!f) return e;
  uint32_t riflags = A32(3);
  if (riflags & ~3u) return WE_INVAL;
  if (!wmem_range(m, A32(4), 4) || !wmem_range(m, A32(5), 2))
    return WE_FAULT;
  struct iovec *iov;
  size_t total;
  e = tw__wasi_iovecs(m, A32(1), A32(2), &iov, &total);
  if (e) return e;
  if (tw__wasi_wait_fd(caller, f->host, POLLIN)) {
    tw__free(iov);
    return tw_caller_deadline_trap(caller);
  }
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = iov;
  msg.msg_iovlen = A32(2);
  int fl = ((riflags & 1) ? MSG_PEEK : 0) | ((riflags & 2) ? MSG_WAITALL : 0);
  ssize_t r = recvmsg(f->host, &msg, fl);
  int saved = errno;
  tw__free(iov);
  if (r < 0) return tw__wasi_errno(saved);
  st32(m->base + A32(4), (uint32_t)r);
  st16(m->base + A32(5), (msg.msg_flags & MSG_TRUNC) ? 1 : 0);
  return 0;
}

TW__WASI_DECL(sock_send) {
  int e;
  struct wasi_fd *f = sock_fd(w, A32(0), WR_FD_WRITE, &e);
  if (!f) return e;
  if (A32(3) != 0) return WE_INVAL; /* siflags: none defined */
  if (!wmem_range(m, A32(4), 4)) return WE_FAULT;
  struct iovec *iov;
  size_t total;
  e = tw__wasi_iovecs(m, A32(1), A32(2), &iov, &total);
  if (e) return e;
  if (tw__wasi_wait_fd(caller, f->host, POLLOUT)) {
    tw__free(iov);
    return tw_caller_deadline_trap(caller);
  }
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = iov;
  msg.msg_iovlen = A32(2);
  ssize_t r = sendmsg(f->host, &msg, MSG_NOSIGNAL);
  int saved = errno;
  tw__free(iov);
  if (r < 0) return tw__wasi_errno(saved);
  st32(m->base + A32(4), (uint32_t)r);
  return 0;
}

TW__WASI_DECL(sock_shutdown) {
  int e;
  struct wasi_fd *f = sock_fd(w, A32(0), WR_SOCK_SHUTDOWN, &e);
  if (!f) return e;
  int how;
  switch (A32(1)) {
  case 1: how = SHUT_RD; break;
  case 2: how = SHUT_WR; break;
  case 3: how = SHUT_RDWR; break;
  default: return WE_INVAL;
  }
  if (shutdown(f->host, how) != 0) return tw__wasi_errno(errno);
  return 0;
}
