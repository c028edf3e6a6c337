/* Shared parts of the `tensor-wasm` commands: exit codes, the command
 * table, and loading a module file (binary or text) into .wasm bytes.
 * The CLI uses only the public API <tw/tw.h>, never src/ internals, with
 * two exceptions: `serve` runs the service (src/http, src/svc) and the
 * offline `token create` opens its database (src/svc, src/store).
 */
#ifndef TW_CLI_H
#define TW_CLI_H

#include <stddef.h>
#include <stdint.h>

#include <tw/tw.h>

/* Must match project(... VERSION) in CMakeLists.txt. */
#ifndef TW_CLI_VERSION
#define TW_CLI_VERSION "0.1.0"
#endif

/* Exit statuses of every command. A guest that calls proc_exit ends the
 * process with its own code instead. */
enum {
  TW_CLI_OK = 0,
  TW_CLI_TRAP = 1,  /* the guest trapped */
  TW_CLI_USAGE = 2, /* bad command line, unreadable or invalid module */
};

/* Module bytes read from a file; release with tw_cli_bytes_free(). */
struct tw_cli_bytes {
  uint8_t *data;
  size_t size;
  int from_api; /* data came from tw_wat_to_wasm (tw_free), else malloc */
};

/* Reads FILE into out as .wasm bytes. "*.wasm" is always binary, "*.wat"
 * always text; any other name is binary when it starts with "\0asm" and
 * text otherwise. On failure prints "tensor-wasm: FILE: message" (for text,
 * "FILE:line:col: message") to stderr, leaves out empty and returns
 * TW_CLI_USAGE; 0 on success. */
int tw_cli_load_module(const char *path, struct tw_cli_bytes *out);
void tw_cli_bytes_free(struct tw_cli_bytes *b);

/* True when arg is -h or --help. */
int tw_cli_is_help(const char *arg);

/* Matches "--name VALUE" and "--name=VALUE" at argv[*i]: returns 1 and
 * sets *value (advancing *i past a separate value), 0 if argv[*i] is
 * another option, -1 (after printing an error) if the value is missing. */
int tw_cli_option(int argc, char **argv, int *i, const char *name,
                  const char **value);

/* Prints "tensor-wasm CMD: message" and the --help hint; returns
 * TW_CLI_USAGE. */
int tw_cli_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The commands. argv[0] is the command's name. */
int tw_cli_cmd_run(int argc, char **argv);
int tw_cli_cmd_validate(int argc, char **argv);
/* The service and its clients (serve.c, client.c, observe.c). */
int tw_cli_cmd_serve(int argc, char **argv);
int tw_cli_cmd_token(int argc, char **argv);
int tw_cli_cmd_deploy(int argc, char **argv);
int tw_cli_cmd_invoke(int argc, char **argv);
int tw_cli_cmd_functions(int argc, char **argv);
int tw_cli_cmd_jobs(int argc, char **argv);
int tw_cli_cmd_observe(int argc, char **argv);
int tw_cli_cmd_gpu(int argc, char **argv);
int tw_cli_cmd_worker(int argc, char **argv);
int tw_cli_cmd_snapshot(int argc, char **argv);

#endif
