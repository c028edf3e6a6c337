/* poll_oneoff: clock subscriptions (relative or absolute, realtime or
 * monotonic) and readiness of descriptors, waited for with one ppoll.
 * The wait never runs past the guest call's deadline: when the deadline
 * comes first the guest traps with "deadline exceeded" instead of
 * sleeping on. In-memory stdio and regular files are always ready.
 */
#include "wasi/wasi_int.h"

#include <errno.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct sub {
  uint64_t userdata;
  uint8_t type;      /* 0 clock, 1 fd_read, 2 fd_write */
  uint16_t error;    /* set: an event at once with this error */
  bool ready;        /* fd ready without waiting (nbytes known) */
  uint64_t nbytes;
  uint64_t deadline; /* clocks: CLOCK_MONOTONIC ns */
  int pfd;           /* index into the pollfd array, or -1 */
};

static uint64_t sat_add(uint64_t a, uint64_t b) {
  return b > UINT64_MAX - a ? UINT64_MAX : a + b;
}

static uint64_t now_real(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Reads subscription i into s (and, for host descriptors that need
 * waiting, a pollfd). */
static void parse_sub(struct tw_wasi *w, const uint8_t *p, struct sub *s,
                      struct pollfd *pfds, nfds_t *npfds) {
  memset(s, 0, sizeof *s);
  s->pfd = -1;
  s->userdata = ld64(p);
  s->type = p[8];
  if (s->type == 0) {
    uint32_t id = ld32(p + 16);
    uint64_t timeout = ld64(p + 24);
    bool abs = ld16(p + 40) & 1;
    uint64_t now = tw__now_ns();
    if (id == 1) {
      s->deadline = abs ? timeout : sat_add(now, timeout);
    } else if (id == 0) {
      uint64_t real = now_real();
      s->deadline = !abs ? sat_add(now, timeout)
                         : timeout <= real ? now : sat_add(now, timeout - real);
    } else if ((id == 2 || id == 3) && !abs) {
      /* CPU-time clocks advance no faster than wall time while the guest
       * waits: a relative timeout is waited as wall time. */
      s->deadline = sat_add(now, timeout);
    } else {
      s->error = WE_INVAL;
    }
    return;
  }
  if (s->type != 1 && s->type != 2) {
    s->type = 0;
    s->error = WE_INVAL;
    return;
  }
  int e;
  struct wasi_fd *f = tw__wasi_fd(w, ld32(p + 16), 0, &e);
  if (!f) {
    s->error = (uint16_t)e;
    return;
  }
  bool rd = s->type == 1;
  switch (f->kind) {
  case FD_NULL:
    s->ready = true;
    return;
  case FD_INBUF:
    if (!rd) s->error = WE_BADF;
    s->ready = true;
    s->nbytes = w->in_len - w->in_pos;
    return;
  case FD_OUTBUF:
    if (rd) s->error = WE_BADF;
    s->ready = true;
    s->nbytes = w->out[f->buf].limit - w->out[f->buf].len;
    return;
  default:
    break;
  }
  struct stat st;
  if (fstat(f->host, &st) == 0 && S_ISREG(st.st_mode)) {
    s->ready = true;
    if (rd) {
      off_t pos = lseek(f->host, 0, SEEK_CUR);
      s->nbytes = pos >= 0 && pos < st.st_size ? (uint64_t)(st.st_size - pos)
                                               : 0;
    }
    return;
  }
  s->pfd = (int)*npfds;
  pfds[*npfds].fd = f->host;
  pfds[*npfds].events = rd ? POLLIN : POLLOUT;
  pfds[*npfds].revents = 0;
  (*npfds)++;
}

static void put_event(uint8_t *o, const struct sub *s, uint16_t error,
                      uint64_t nbytes, uint16_t flags) {
  memset(o, 0, 32);
  st64(o, s->userdata);
  st16(o + 8, error);
  st8(o + 10, s->type);
  if (s->type != 0) {
    st64(o + 16, nbytes);
    st16(o + 24, flags);
  }
}

TW__WASI_DECL(poll_oneoff) {
  uint32_t in = A32(0), out = A32(1), n = A32(2), neventsp = A32(3);
  if (n == 0) return WE_INVAL;
  if (n > TW__WASI_MAX_SUBS) return WE_NOTSUP;
  if (!wmem_range(m, in, (uint64_t)n * 48) ||
      !wmem_range(m, out, (uint64_t)n * 32) || !wmem_range(m, neventsp, 4))
    return WE_FAULT;
  struct sub *subs = tw__calloc(n, sizeof *subs);
  struct pollfd *pfds = tw__calloc(n, sizeof *pfds);
  if (!subs || !pfds) {
    tw__free(subs);
    tw__free(pfds);
    return WE_NOMEM;
  }
  nfds_t npfds = 0;
  bool immediate = false;
  uint64_t first = UINT64_MAX; /* earliest clock */
  for (uint32_t i = 0; i < n; i++) {
    parse_sub(w, m->base + in + (uint64_t)i * 48, &subs[i], pfds, &npfds);
    if (subs[i].error || subs[i].ready) immediate = true;
    if (subs[i].type == 0 && !subs[i].error && subs[i].deadline < first)
      first = subs[i].deadline;
  }

  uint32_t nevents = 0;
  int rc = 0;
  for (;;) {
    /* Asked again each round: an interrupt makes it "now". */
    uint64_t limit = tw_caller_deadline_ns(caller);
    uint64_t now = tw__now_ns();
    uint64_t until = immediate ? now : first;
    bool capped = until > limit;
    if (capped) until = limit;
    /* Sleep in slices so that an interrupt is seen within one. */
    if (until > now && until - now > TW__WASI_WAIT_SLICE_NS) {
      until = now + TW__WASI_WAIT_SLICE_NS;
      capped = false;
    }
    uint64_t left = until > now ? until - now : 0;
    struct timespec ts = {(time_t)(left / 1000000000u),
                          (long)(left % 1000000000u)};
    int r = ppoll(npfds ? pfds : NULL, npfds, &ts, NULL);
    if (r < 0 && errno != EINTR) {
      rc = tw__wasi_errno(errno);
      break;
    }
    now = tw__now_ns();
    for (uint32_t i = 0; i < n; i++) {
      struct sub *s = &subs[i];
      uint8_t *o = m->base + out + (uint64_t)nevents * 32;
      if (s->error) {
        put_event(o, s, s->error, 0, 0);
      } else if (s->type == 0) {
        if (s->deadline > now) continue;
        put_event(o, s, 0, 0, 0);
      } else if (s->ready) {
        put_event(o, s, 0, s->nbytes, 0);
      } else {
        short re = pfds[s->pfd].revents;
        if (!re) continue;
        int avail = 0;
        if (s->type == 1 && ioctl(pfds[s->pfd].fd, FIONREAD, &avail) != 0)
          avail = 0;
        uint16_t err = (re & POLLNVAL) ? WE_BADF : 0;
        put_event(o, s, err, avail > 0 ? (uint64_t)avail : 0,
                  (re & POLLHUP) ? 1 : 0);
      }
      nevents++;
    }
    if (nevents) break;
    if (capped && now >= limit) {
      rc = -1;
      break;
    }
  }
  tw__free(pfds);
  tw__free(subs);
  if (rc < 0) return tw_caller_deadline_trap(caller);
  if (rc) return rc;
  st32(m->base + neventsp, nevents);
  return 0;
}
