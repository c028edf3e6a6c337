/* TensorWasm WASI preview 1 (wasi_snapshot_preview1) for embedders.
 *
 * A tw_wasi_t is the state of one WASI program: arguments, environment,
 * preopened directories (confined by the kernel with openat2 and
 * RESOLVE_BENEATH), and the three standard streams, each either the
 * process's own descriptor or an in-memory buffer with a size cap (for
 * services: request body in, response out).
 *
 * Ownership: tw_wasi_new copies everything it is given. The tw_wasi_t
 * must outlive every instance linked against it and is freed with
 * tw_wasi_free (which closes every descriptor the guest opened).
 */
#ifndef TW_WASI_H
#define TW_WASI_H

#include "tw/tw.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tw_wasi tw_wasi_t;

typedef enum tw_wasi_stdio_mode {
  TW_WASI_STDIO_NULL = 0,    /* reads see EOF, writes are discarded */
  TW_WASI_STDIO_INHERIT = 1, /* the host process's fd 0/1/2 */
  TW_WASI_STDIO_BUFFER = 2,  /* in memory: input from `data`, output
                                captured up to `cap` bytes */
} tw_wasi_stdio_mode_t;

typedef struct tw_wasi_stdio {
  tw_wasi_stdio_mode_t mode;
  const uint8_t *data; /* BUFFER stdin: the bytes to read (copied) */
  size_t len;
  size_t cap; /* BUFFER stdout/stderr: most bytes kept; a write past it
                 fails with ENOSPC (the guest sees an error, the host's
                 memory is safe). 0 means the default, 16 MiB. */
} tw_wasi_stdio_t;

typedef struct tw_wasi_preopen {
  const char *host_path;  /* directory on the host */
  const char *guest_path; /* name the guest sees (e.g. "/data" or ".") */
  bool read_only;
} tw_wasi_preopen_t;

typedef struct tw_wasi_config {
  const char *const *argv; /* argv[0] is the program name */
  size_t argc;
  const char *const *env; /* "KEY=VALUE" strings */
  size_t envc;
  const tw_wasi_preopen_t *preopens;
  size_t npreopens;
  tw_wasi_stdio_t stdin_, stdout_, stderr_;
  /* Host sockets (listening or connected) handed to the guest as
   * preopened descriptors, numbered after the preopened directories, for
   * sock_accept/sock_recv/sock_send/sock_shutdown. Each is duplicated:
   * the caller keeps and closes its own. (Added after the first version:
   * zero-initialised configs get none.) */
  const int *sockets;
  size_t nsockets;
} tw_wasi_config_t;

/* Creates WASI state from cfg. Fails with TW_EIO (message names the path)
 * when a preopen cannot be opened as a directory, TW_EINVAL for bad
 * arguments, TW_ELIMIT when args/env exceed the limits. */
TW_API int tw_wasi_new(const tw_wasi_config_t *cfg, tw_wasi_t **out,
                       char *err, size_t errlen);
TW_API void tw_wasi_free(tw_wasi_t *wasi);

/* Defines every wasi_snapshot_preview1 function in linker, bound to wasi. */
TW_API int tw_linker_define_wasi(tw_linker_t *linker, tw_wasi_t *wasi);

/* The bytes captured so far from a BUFFER stdout (fd 1) or stderr (fd 2);
 * owned by wasi, valid until the next guest call or tw_wasi_free. */
TW_API int tw_wasi_output(const tw_wasi_t *wasi, int fd,
                          const uint8_t **data, size_t *len);

/* Runs the command's `_start` with WASI: returns 0 when it returns or
 * calls proc_exit; *exit_code is the guest's status (0 when _start
 * returned). A trap returns TW_ETRAP (details in tw_store_last_trap). */
TW_API int tw_wasi_run_start(tw_instance_t *instance, int32_t *exit_code,
                             char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
