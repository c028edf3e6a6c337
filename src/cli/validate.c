/* `tensor-wasm validate`: decode and validate a module without compiling
 * it. Exit status 0 when valid, 2 otherwise (the decoder's message, which
 * names the section and byte offset, goes to stderr).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const char validate_usage[] =
    "Usage: tensor-wasm validate FILE\n"
    "\n"
    "Decodes and validates FILE (.wasm binary or .wat text) without\n"
    "compiling it. Prints \"FILE: valid\" and exits 0 when it is a valid\n"
    "WebAssembly 2.0 module; otherwise prints where it is malformed or\n"
    "invalid and exits 2.\n"
    "\n"
    "Options:\n"
    "  -h, --help   show this help\n";

int tw_cli_cmd_validate(int argc, char **argv) {
  const char *file = NULL;
  int only_files = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!only_files && strcmp(a, "--") == 0) {
      only_files = 1;
    } else if (!only_files && tw_cli_is_help(a)) {
      fputs(validate_usage, stdout);
      return TW_CLI_OK;
    } else if (!only_files && a[0] == '-' && a[1] != '\0') {
      return tw_cli_usage_error("validate", "unknown option '%s'", a);
    } else if (file) {
      return tw_cli_usage_error("validate", "unexpected argument '%s'", a);
    } else {
      file = a;
    }
  }
  if (!file) return tw_cli_usage_error("validate", "missing FILE");

  struct tw_cli_bytes bytes;
  int status = tw_cli_load_module(file, &bytes);
  if (status) return status;

  status = TW_CLI_USAGE;
  tw_engine_t *engine = NULL;
  char err[1024] = "";
  int rc = tw_engine_new(NULL, &engine);
  if (rc) {
    fprintf(stderr, "tensor-wasm validate: cannot create engine: %s\n",
            tw_strerror(rc));
    goto done;
  }
  rc = tw_module_validate(engine, bytes.data, bytes.size, err, sizeof err);
  if (rc) {
    fprintf(stderr, "tensor-wasm: %s: %s\n", file,
            err[0] ? err : tw_strerror(rc));
    goto done;
  }
  printf("%s: valid\n", file);
  status = TW_CLI_OK;

done:
  if (engine) tw_engine_free(engine);
  tw_cli_bytes_free(&bytes);
  return status;
}
