/* WASI for `tensor-wasm run`: the options that shape a WASI program
 * (--dir, --env, --inherit-env, --stdin, --sock-fd, arguments after --)
 * and turning them into a tw_wasi_t linked into the run. Kept out of
 * run.c so that the command's own flow stays readable.
 */
#ifndef TW_CLI_RUN_WASI_H
#define TW_CLI_RUN_WASI_H

#include <stdbool.h>
#include <stddef.h>

#include <tw/tw.h>
#include <tw/wasi.h>

struct tw_cli_wasi {
  tw_wasi_preopen_t *dirs; /* host/guest strings point into argv or
                              into dir_text */
  char **dir_text;         /* per --dir: the copy split in place */
  size_t ndirs;
  const char **env; /* "K=V" from --env, pointing into argv */
  size_t nenv;
  bool inherit_env;
  const char *stdin_file;
  int *socks;
  size_t nsocks;
  char **args; /* guest arguments after FILE (pointing into argv) */
  size_t nargs;
  bool any; /* some WASI option was given */
};

/* Matches a WASI option at argv[*i] (advancing *i past its value):
 * 1 when it was one, 0 when argv[*i] is something else, or -1 after
 * printing a usage error. */
int tw_cli_wasi_option(int argc, char **argv, int *i, struct tw_cli_wasi *o);

/* Records a guest argument (one after FILE, or anything after "--"). */
int tw_cli_wasi_arg(struct tw_cli_wasi *o, char *arg);

/* Whether the module imports anything from wasi_snapshot_preview1. */
bool tw_cli_wasi_imported(const tw_module_t *module);

/* Creates the WASI state for program `file` (argv[0]) with stdio
 * inherited, and defines it in linker. Prints a message and returns
 * non-zero on failure. *out is freed with tw_wasi_free after the store. */
int tw_cli_wasi_setup(struct tw_cli_wasi *o, const char *file,
                      tw_linker_t *linker, tw_wasi_t **out);

void tw_cli_wasi_free(struct tw_cli_wasi *o);

/* The help text of the options above, for run's --help. */
extern const char tw_cli_wasi_usage[];

#endif
