/* WASI preview 1 internals shared by the files of src/wasi/: the state of
 * one program (struct tw_wasi), its bounded descriptor table, the ABI
 * constants of wasi_snapshot_preview1 and checked access to guest memory.
 *
 * Invariants: every guest descriptor index is < TW__WASI_MAX_FDS; a slot
 * with kind FD_FREE owns nothing; every host descriptor the table owns has
 * FD_CLOEXEC; nothing here ever touches guest memory without a
 * wmem_range() check done with 64-bit arithmetic first.
 */
#ifndef TW_WASI_INT_H
#define TW_WASI_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "tw/wasi.h"

/* ---- Limits ---- */

#define TW__WASI_MAX_FDS 1024u       /* guest descriptor table size */
#define TW__WASI_MAX_IOVS 1024u      /* iovec entries per call (IOV_MAX) */
#define TW__WASI_MAX_PATH 4096u      /* bytes in one guest path */
#define TW__WASI_MAX_SUBS 4096u      /* poll_oneoff subscriptions */
#define TW__WASI_MAX_ARGS_BYTES (1u << 20) /* args (or env) strings total */
#define TW__WASI_MAX_ARGS 65536u     /* args (or env) entries */
#define TW__WASI_DEFAULT_CAP ((size_t)16 << 20) /* buffered stdout/stderr */
/* Longest single sleep of a waiting call: waits re-read the call's
 * deadline after each slice, so tw_store_interrupt is noticed within one
 * (about 100 wake-ups a second while a guest waits: negligible). */
#define TW__WASI_WAIT_SLICE_NS 10000000u

/* ---- ABI constants (witx: wasi_snapshot_preview1) ---- */

enum {
  WE_SUCCESS = 0, WE_2BIG = 1, WE_ACCES = 2, WE_ADDRINUSE = 3,
  WE_ADDRNOTAVAIL = 4, WE_AFNOSUPPORT = 5, WE_AGAIN = 6, WE_ALREADY = 7,
  WE_BADF = 8, WE_BADMSG = 9, WE_BUSY = 10, WE_CANCELED = 11, WE_CHILD = 12,
  WE_CONNABORTED = 13, WE_CONNREFUSED = 14, WE_CONNRESET = 15,
  WE_DEADLK = 16, WE_DESTADDRREQ = 17, WE_DOM = 18, WE_DQUOT = 19,
  WE_EXIST = 20, WE_FAULT = 21, WE_FBIG = 22, WE_HOSTUNREACH = 23,
  WE_IDRM = 24, WE_ILSEQ = 25, WE_INPROGRESS = 26, WE_INTR = 27,
  WE_INVAL = 28, WE_IO = 29, WE_ISCONN = 30, WE_ISDIR = 31, WE_LOOP = 32,
  WE_MFILE = 33, WE_MLINK = 34, WE_MSGSIZE = 35, WE_MULTIHOP = 36,
  WE_NAMETOOLONG = 37, WE_NETDOWN = 38, WE_NETRESET = 39,
  WE_NETUNREACH = 40, WE_NFILE = 41, WE_NOBUFS = 42, WE_NODEV = 43,
  WE_NOENT = 44, WE_NOEXEC = 45, WE_NOLCK = 46, WE_NOLINK = 47,
  WE_NOMEM = 48, WE_NOMSG = 49, WE_NOPROTOOPT = 50, WE_NOSPC = 51,
  WE_NOSYS = 52, WE_NOTCONN = 53, WE_NOTDIR = 54, WE_NOTEMPTY = 55,
  WE_NOTRECOVERABLE = 56, WE_NOTSOCK = 57, WE_NOTSUP = 58, WE_NOTTY = 59,
  WE_NXIO = 60, WE_OVERFLOW = 61, WE_OWNERDEAD = 62, WE_PERM = 63,
  WE_PIPE = 64, WE_PROTO = 65, WE_PROTONOSUPPORT = 66, WE_PROTOTYPE = 67,
  WE_RANGE = 68, WE_ROFS = 69, WE_SPIPE = 70, WE_SRCH = 71, WE_STALE = 72,
  WE_TIMEDOUT = 73, WE_TXTBSY = 74, WE_XDEV = 75, WE_NOTCAPABLE = 76,
};

enum {
  WFT_UNKNOWN = 0, WFT_BLOCK = 1, WFT_CHAR = 2, WFT_DIR = 3, WFT_REG = 4,
  WFT_SOCK_DGRAM = 5, WFT_SOCK_STREAM = 6, WFT_SYMLINK = 7,
};

/* fdflags, oflags, lookupflags, fstflags */
enum { WFD_APPEND = 1, WFD_DSYNC = 2, WFD_NONBLOCK = 4, WFD_RSYNC = 8,
       WFD_SYNC = 16 };
enum { WO_CREAT = 1, WO_DIRECTORY = 2, WO_EXCL = 4, WO_TRUNC = 8 };
enum { WL_SYMLINK_FOLLOW = 1 };
enum { WST_ATIM = 1, WST_ATIM_NOW = 2, WST_MTIM = 4, WST_MTIM_NOW = 8 };

/* rights */
#define WR(n) ((uint64_t)1 << (n))
#define WR_FD_DATASYNC WR(0)
#define WR_FD_READ WR(1)
#define WR_FD_SEEK WR(2)
#define WR_FD_FDSTAT_SET_FLAGS WR(3)
#define WR_FD_SYNC WR(4)
#define WR_FD_TELL WR(5)
#define WR_FD_WRITE WR(6)
#define WR_FD_ADVISE WR(7)
#define WR_FD_ALLOCATE WR(8)
#define WR_PATH_CREATE_DIRECTORY WR(9)
#define WR_PATH_CREATE_FILE WR(10)
#define WR_PATH_LINK_SOURCE WR(11)
#define WR_PATH_LINK_TARGET WR(12)
#define WR_PATH_OPEN WR(13)
#define WR_FD_READDIR WR(14)
#define WR_PATH_READLINK WR(15)
#define WR_PATH_RENAME_SOURCE WR(16)
#define WR_PATH_RENAME_TARGET WR(17)
#define WR_PATH_FILESTAT_GET WR(18)
#define WR_PATH_FILESTAT_SET_SIZE WR(19)
#define WR_PATH_FILESTAT_SET_TIMES WR(20)
#define WR_FD_FILESTAT_GET WR(21)
#define WR_FD_FILESTAT_SET_SIZE WR(22)
#define WR_FD_FILESTAT_SET_TIMES WR(23)
#define WR_PATH_SYMLINK WR(24)
#define WR_PATH_REMOVE_DIRECTORY WR(25)
#define WR_PATH_UNLINK_FILE WR(26)
#define WR_POLL_FD_READWRITE WR(27)
#define WR_SOCK_SHUTDOWN WR(28)
#define WR_SOCK_ACCEPT WR(29)

/* What a regular file, a directory, a character device (tty) or a socket
 * may ever do; a descriptor's rights are a subset of its kind's. */
#define WR_FILE_ALL                                                         \
  (WR_FD_DATASYNC | WR_FD_READ | WR_FD_SEEK | WR_FD_FDSTAT_SET_FLAGS |      \
   WR_FD_SYNC | WR_FD_TELL | WR_FD_WRITE | WR_FD_ADVISE | WR_FD_ALLOCATE |  \
   WR_FD_FILESTAT_GET | WR_FD_FILESTAT_SET_SIZE | WR_FD_FILESTAT_SET_TIMES | \
   WR_POLL_FD_READWRITE)
#define WR_DIR_ALL                                                          \
  (WR_FD_FDSTAT_SET_FLAGS | WR_FD_SYNC | WR_FD_ADVISE |                     \
   WR_PATH_CREATE_DIRECTORY | WR_PATH_CREATE_FILE | WR_PATH_LINK_SOURCE |   \
   WR_PATH_LINK_TARGET | WR_PATH_OPEN | WR_FD_READDIR | WR_PATH_READLINK |  \
   WR_PATH_RENAME_SOURCE | WR_PATH_RENAME_TARGET | WR_PATH_FILESTAT_GET |   \
   WR_PATH_FILESTAT_SET_SIZE | WR_PATH_FILESTAT_SET_TIMES |                 \
   WR_FD_FILESTAT_GET | WR_FD_FILESTAT_SET_TIMES | WR_PATH_SYMLINK |        \
   WR_PATH_REMOVE_DIRECTORY | WR_PATH_UNLINK_FILE | WR_POLL_FD_READWRITE)
#define WR_TTY_ALL                                                          \
  (WR_FD_READ | WR_FD_FDSTAT_SET_FLAGS | WR_FD_WRITE |                      \
   WR_FD_FILESTAT_GET | WR_POLL_FD_READWRITE)
#define WR_SOCK_ALL                                                         \
  (WR_FD_READ | WR_FD_FDSTAT_SET_FLAGS | WR_FD_WRITE | WR_FD_FILESTAT_GET | \
   WR_POLL_FD_READWRITE | WR_SOCK_SHUTDOWN | WR_SOCK_ACCEPT)
/* Everything that changes the file system: never granted under a
 * read-only preopen. */
#define WR_WRITES                                                           \
  (WR_FD_DATASYNC | WR_FD_WRITE | WR_FD_ALLOCATE |                          \
   WR_PATH_CREATE_DIRECTORY | WR_PATH_CREATE_FILE | WR_PATH_LINK_SOURCE |   \
   WR_PATH_LINK_TARGET | WR_PATH_RENAME_SOURCE | WR_PATH_RENAME_TARGET |    \
   WR_PATH_FILESTAT_SET_SIZE | WR_PATH_FILESTAT_SET_TIMES |                 \
   WR_FD_FILESTAT_SET_SIZE | WR_FD_FILESTAT_SET_TIMES | WR_PATH_SYMLINK |    \
   WR_PATH_REMOVE_DIRECTORY | WR_PATH_UNLINK_FILE)

/* ---- State ---- */

enum fd_kind {
  FD_FREE = 0,
  FD_HOST,   /* a host descriptor: file, directory, tty, pipe, socket */
  FD_NULL,   /* stdio NULL mode: reads see EOF, writes vanish */
  FD_INBUF,  /* stdin BUFFER mode */
  FD_OUTBUF, /* stdout/stderr BUFFER mode */
};

struct wasi_fd {
  uint8_t kind;     /* enum fd_kind */
  uint8_t filetype; /* WFT_* */
  bool owned;       /* host is ours to close (false for inherited stdio) */
  bool read_only;   /* opened under a read-only preopen */
  int host;         /* host descriptor, -1 for the in-memory kinds */
  uint16_t fdflags; /* kept for in-memory kinds (hosts ask fcntl) */
  uint64_t rights, inheriting;
  char *preopen;     /* guest name of a preopened directory, else NULL */
  size_t preopen_len;
  int buf;           /* in-memory kinds: 0 stdin, 1 stdout, 2 stderr */
};

struct wasi_outbuf {
  uint8_t *data;
  size_t len, cap, limit;
};

struct tw_wasi {
  /* args and env as the guest sees them: strings packed with NULs */
  char *args, *env;
  size_t args_bytes, env_bytes;
  uint32_t argc, envc;

  struct wasi_fd fds[TW__WASI_MAX_FDS];

  uint8_t *in_data; /* BUFFER stdin */
  size_t in_len, in_pos;
  struct wasi_outbuf out[3]; /* [1] stdout, [2] stderr */
  void *bindings; /* linker user data, made by tw_linker_define_wasi */
};

/* ---- Guest memory ---- */

/* Guest memory 0 as seen at the start of one host call. The base never
 * moves; the size is read once and cannot shrink during the call. */
struct wmem {
  uint8_t *base;
  uint64_t size;
};

static inline bool wmem_range(const struct wmem *m, uint64_t ptr,
                              uint64_t len) {
  return m->base && ptr <= m->size && len <= m->size - ptr;
}
/* Little-endian loads and stores: callers have checked the range. */
static inline uint16_t ld16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t ld32(const uint8_t *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
         (uint32_t)p[3] << 24;
}
static inline uint64_t ld64(const uint8_t *p) {
  return (uint64_t)ld32(p) | (uint64_t)ld32(p + 4) << 32;
}
static inline void st8(uint8_t *p, uint8_t v) { p[0] = v; }
static inline void st16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
}
static inline void st32(uint8_t *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void st64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
/* Checked stores of one result value: WE_FAULT when out of bounds. */
int tw__wasi_put32(const struct wmem *m, uint32_t ptr, uint32_t v);
int tw__wasi_put64(const struct wmem *m, uint32_t ptr, uint64_t v);

/* The calling host function's view of guest memory. */
struct wmem tw__wasi_mem(tw_caller_t *caller);

/* Host iovecs pointing into guest memory for the `n` guest (c)iovecs at
 * ptr: WE_FAULT for a bad range, WE_INVAL past TW__WASI_MAX_IOVS. The total
 * length is clamped to INT32_MAX bytes (later entries shortened) so that
 * results fit the guest's u32 size. *out is malloc'd (free it). */
struct iovec;
int tw__wasi_iovecs(const struct wmem *m, uint32_t ptr, uint32_t n,
                    struct iovec **out, size_t *total);

/* ---- Descriptors ---- */

/* The slot for guest descriptor fd, or NULL (and *err = WE_BADF). With
 * need != 0, also WE_NOTCAPABLE when any of those rights is missing. */
struct wasi_fd *tw__wasi_fd(struct tw_wasi *w, uint32_t fd, uint64_t need,
                            int *err);
/* A free slot, lowest first: its index, or -1 (table full). */
int tw__wasi_fd_alloc(struct tw_wasi *w);
/* Closes what the slot owns and marks it free. */
void tw__wasi_fd_release(struct wasi_fd *f);
/* WASI filetype of a host st_mode. */
uint8_t tw__wasi_filetype(unsigned mode);
/* Full rights for a host descriptor of filetype ft. */
uint64_t tw__wasi_rights_for(uint8_t ft);

/* 0 when openat2 with RESOLVE_BENEATH works on dirfd; -1 when the
 * kernel lacks it (ENOSYS): preopens are refused then, never unconfined. */
int tw__wasi_check_openat2(int dirfd);

/* Writes a 64-byte filestat at ptr from st (NULL: all zero but the
 * type). WE_FAULT when out of bounds. */
struct stat;
int tw__wasi_put_filestat(const struct wmem *m, uint32_t ptr,
                          const struct stat *st, uint8_t filetype);
/* fstflags and times to utimensat's ts[2]: WE_INVAL for bad flags. */

int tw__wasi_times(uint64_t atim, uint64_t mtim, uint32_t flags,
                   struct timespec ts[2]);

/* A host errno as a WASI errno. */
int tw__wasi_errno(int host_errno);

/* Waits until host fd is ready for events (POLLIN/POLLOUT) or the call's
 * deadline passes (or the store is interrupted): 0 ready, 1 deadline
 * passed; regular files are always ready. Only waits for descriptors in
 * blocking mode, in slices of TW__WASI_WAIT_SLICE_NS. */
int tw__wasi_wait_fd(tw_caller_t *caller, int fd, short events);

/* ---- Host functions, by area ---- */

/* A host function of WASI: the wrapper (wasi.c) stores its return value as
 * the guest's errno result, unless it is TW_ETRAP/TW_EEXIT (a stop). */
typedef int (*tw__wasi_fn)(tw_caller_t *caller, struct tw_wasi *w,
                           const struct wmem *m, const tw_val_t *a);

#define TW__WASI_DECL(name)                                                 \
  int tw__wasi_##name(tw_caller_t *caller, struct tw_wasi *w,               \
                      const struct wmem *m, const tw_val_t *a)

/* X(name, params) where params spells the parameter types: i = i32,
 * I = i64. Every function returns an i32 errno except proc_exit. */
#define TW__WASI_FUNCS(X)                                                   \
  X(args_get, "ii")                                                         \
  X(args_sizes_get, "ii")                                                   \
  X(environ_get, "ii")                                                      \
  X(environ_sizes_get, "ii")                                                \
  X(clock_res_get, "ii")                                                    \
  X(clock_time_get, "iIi")                                                  \
  X(fd_advise, "iIIi")                                                      \
  X(fd_allocate, "iII")                                                     \
  X(fd_close, "i")                                                          \
  X(fd_datasync, "i")                                                       \
  X(fd_fdstat_get, "ii")                                                    \
  X(fd_fdstat_set_flags, "ii")                                              \
  X(fd_fdstat_set_rights, "iII")                                            \
  X(fd_filestat_get, "ii")                                                  \
  X(fd_filestat_set_size, "iI")                                             \
  X(fd_filestat_set_times, "iIIi")                                          \
  X(fd_pread, "iiiIi")                                                      \
  X(fd_prestat_get, "ii")                                                   \
  X(fd_prestat_dir_name, "iii")                                             \
  X(fd_pwrite, "iiiIi")                                                     \
  X(fd_read, "iiii")                                                        \
  X(fd_readdir, "iiiIi")                                                    \
  X(fd_renumber, "ii")                                                      \
  X(fd_seek, "iIii")                                                        \
  X(fd_sync, "i")                                                           \
  X(fd_tell, "ii")                                                          \
  X(fd_write, "iiii")                                                       \
  X(path_create_directory, "iii")                                           \
  X(path_filestat_get, "iiiii")                                             \
  X(path_filestat_set_times, "iiiiIIi")                                     \
  X(path_link, "iiiiiii")                                                   \
  X(path_open, "iiiiiIIii")                                                 \
  X(path_readlink, "iiiiii")                                                \
  X(path_remove_directory, "iii")                                           \
  X(path_rename, "iiiiii")                                                  \
  X(path_symlink, "iiiii")                                                  \
  X(path_unlink_file, "iii")                                                \
  X(poll_oneoff, "iiii")                                                    \
  X(proc_exit, "i")                                                         \
  X(proc_raise, "i")                                                        \
  X(sched_yield, "")                                                        \
  X(random_get, "ii")                                                       \
  X(sock_accept, "iii")                                                     \
  X(sock_recv, "iiiiii")                                                    \
  X(sock_send, "iiiii")                                                     \
  X(sock_shutdown, "ii")

#define TW__WASI_DECL_ONE_(name, params) TW__WASI_DECL(name);
TW__WASI_FUNCS(TW__WASI_DECL_ONE_)
#undef TW__WASI_DECL_ONE_

/* Argument accessors for the functions above. */
#define A32(i) (a[i].of.i32)
#define A64(i) (a[i].of.i64)

#endif
