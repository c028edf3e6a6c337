/* The worker wire protocol's transport: one fixed-size header per
 * SOCK_SEQPACKET datagram (so message boundaries are the kernel's), with
 * at most one memfd attached through SCM_RIGHTS for the body. Bodies are
 * sealed memfds, so the receiver maps exactly what the sender wrote and
 * the sender cannot change it afterwards. Layout in docs/GPU.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gpu/gpu_int.h"

int tw__gpu_msg_send(int sock, const struct tw__gpu_msg *msg, int fd) {
  struct iovec iov = {(void *)msg, sizeof *msg};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } c;
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  memset(&c, 0, sizeof c);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (fd >= 0) {
    mh.msg_control = c.buf;
    mh.msg_controllen = sizeof c.buf;
    struct cmsghdr *ch = CMSG_FIRSTHDR(&mh);
    ch->cmsg_level = SOL_SOCKET;
    ch->cmsg_type = SCM_RIGHTS;
    ch->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(ch), &fd, sizeof fd);
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
    if (n == (ssize_t)sizeof *msg) return 0;
    if (n < 0 && errno == EINTR) continue;
    return n < 0 ? -errno : -EPROTO;
  }
}

int tw__gpu_msg_recv(int sock, struct tw__gpu_msg *msg, int *fd,
                     uint32_t timeout_ms) {
  *fd = -1;
  if (timeout_ms) {
    struct pollfd p = {sock, POLLIN, 0};
    uint64_t end = tw__now_ns() + (uint64_t)timeout_ms * 1000000u;
    for (;;) {
      uint64_t now = tw__now_ns();
      if (now >= end) return -ETIMEDOUT;
      int r = poll(&p, 1, (int)((end - now) / 1000000u) + 1);
      if (r > 0) break;
      if (r == 0) return -ETIMEDOUT;
      if (errno != EINTR) return -errno;
    }
  }
  struct iovec iov = {msg, sizeof *msg};
  union {
    struct cmsghdr h;
    char buf[CMSG_SPACE(sizeof(int))];
  } c;
  struct msghdr mh;
  memset(&mh, 0, sizeof mh);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  mh.msg_control = c.buf;
  mh.msg_controllen = sizeof c.buf;
  ssize_t n;
  do {
    n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
  } while (n < 0 && errno == EINTR);
  if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE)))
    return -EPIPE;
  if (n < 0) return -errno;
  for (struct cmsghdr *ch = CMSG_FIRSTHDR(&mh); ch; ch = CMSG_NXTHDR(&mh, ch))
    if (ch->cmsg_level == SOL_SOCKET && ch->cmsg_type == SCM_RIGHTS &&
        ch->cmsg_len >= CMSG_LEN(sizeof(int)))
      memcpy(fd, CMSG_DATA(ch), sizeof *fd);
  if (n != (ssize_t)sizeof *msg || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
      msg->magic != TW__GPU_PROTO_MAGIC ||
      msg->version != TW__GPU_PROTO_VERSION) {
    if (*fd >= 0) close(*fd);
    *fd = -1;
    return -EPROTO;
  }
  msg->tenant[sizeof msg->tenant - 1] = '\0';
  msg->message[sizeof msg->message - 1] = '\0';
  return 0;
}

int tw__gpu_memfd_from(const void *const *parts, const size_t *lens,
                       size_t nparts) {
  int fd = memfd_create("tw-gpu-body", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return -errno;
  for (size_t i = 0; i < nparts; i++) {
    const uint8_t *p = parts[i];
    size_t left = lens[i];
    while (left) {
      ssize_t n = write(fd, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        int e = n < 0 ? errno : EIO;
        close(fd);
        return -e;
      }
      p += n;
      left -= (size_t)n;
    }
  }
  fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
                             F_SEAL_SEAL);
  return fd;
}

int tw__gpu_memfd_map(int fd, size_t need, const uint8_t **out, size_t *len) {
  struct stat st;
  *out = NULL;
  *len = 0;
  if (fstat(fd, &st) != 0) return -errno;
  if ((uint64_t)st.st_size < need) return -EPROTO;
  if (st.st_size == 0) return 0;
  void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
  if (p == MAP_FAILED) return -errno;
  *out = p;
  *len = (size_t)st.st_size;
  return 0;
}
