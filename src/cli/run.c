/* `tensor-wasm run`: load, compile, instantiate and call one export,
 * printing its results as a JSON array. Exit status: 0 ok, 1 trap, 2 usage
 * or module error, or the guest's own code when it exits. Every object
 * created here is released on every path (reverse order, goto labels).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/args.h"
#include "cli/cli.h"

static const char run_usage[] =
    "Usage: tensor-wasm run FILE [options]\n"
    "\n"
    "Compiles FILE (.wasm binary or .wat text), instantiates it and calls\n"
    "one exported function, printing its results as a JSON array.\n"
    "\n"
    "Options:\n"
    "  --invoke NAME        call export NAME (default: _start, the WASI\n"
    "                       command entry point); a reactor's _initialize\n"
    "                       runs first either way\n"
    "  --args JSON          arguments as a JSON array, e.g. '[2, 3]' (default\n"
    "                       []): integers for i32/i64 (i64 above 2^63-1 as a\n"
    "                       string of digits), numbers or \"nan\"/\"inf\"/\"-inf\"\n"
    "                       for f32/f64, null for references\n"
    "  --max-memory BYTES   cap on the instance's linear memory (default\n"
    "                       256 MiB); memory.grow beyond it returns -1\n"
    "  --timeout MS         wall-clock limit of the call in milliseconds\n"
    "                       (default 30000; 0 = none)\n"
    "  -h, --help           show this help\n"
    "\n"
    "Exit status: 0 success, 1 trap, 2 usage error or invalid module; a\n"
    "guest that exits (proc_exit) ends with its own code.\n";

struct run_opts {
  const char *file;
  const char *invoke; /* NULL: _start */
  const char *args;   /* NULL: [] */
  tw_engine_config_t cfg;
};

/* Strict decimal u64: digits only, no sign, no junk, no overflow. */
static int parse_u64(const char *s, uint64_t *out) {
  if (*s < '0' || *s > '9') return -1;
  errno = 0;
  char *end;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end != '\0') return -1;
  *out = v;
  return 0;
}

/* Returns 0, a usage exit status, or -1 when --help was shown. */
static int parse_opts(int argc, char **argv, struct run_opts *o) {
  tw_engine_config_default(&o->cfg);
  int only_files = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v;
    int m;
    if (only_files || a[0] != '-' || strcmp(a, "-") == 0) {
      if (o->file)
        return tw_cli_usage_error("run", "unexpected argument '%s'", a);
      o->file = a;
      continue;
    }
    if (strcmp(a, "--") == 0) {
      only_files = 1;
      continue;
    }
    if (tw_cli_is_help(a)) {
      fputs(run_usage, stdout);
      return -1;
    }
    if ((m = tw_cli_option(argc, argv, &i, "--invoke", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      o->invoke = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--args", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      o->args = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--max-memory", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      uint64_t n;
      if (parse_u64(v, &n) != 0)
        return tw_cli_usage_error(
            "run", "--max-memory expects a number of bytes, got '%s'", v);
      o->cfg.max_memory_bytes = n;
    } else if ((m = tw_cli_option(argc, argv, &i, "--timeout", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      uint64_t n;
      if (parse_u64(v, &n) != 0 || n > UINT32_MAX)
        return tw_cli_usage_error(
            "run", "--timeout expects milliseconds (0..%" PRIu32 "), got '%s'",
            UINT32_MAX, v);
      o->cfg.deadline_ms = (uint32_t)n;
    } else {
      return tw_cli_usage_error("run", "unknown option '%s'", a);
    }
  }
  if (!o->file) return tw_cli_usage_error("run", "missing FILE");
  return 0;
}

/* Lists the module's function exports on stderr (to help a user who named
 * one that does not exist). */
static void list_exports(const tw_module_t *module) {
  uint32_t n = tw_module_export_count(module);
  uint32_t shown = 0;
  fputs("tensor-wasm run: exported functions:", stderr);
  for (uint32_t i = 0; i < n; i++) {
    const char *name;
    size_t len;
    tw_extern_kind_t kind;
    if (tw_module_export_info(module, i, &name, &len, &kind) != 0 ||
        kind != TW_EXTERN_KIND_FUNC)
      continue;
    if (shown == 20) {
      fputs(" ...", stderr);
      break;
    }
    /* Names may hold any bytes: print printable ASCII only. */
    fputc(' ', stderr);
    for (size_t k = 0; k < len; k++) {
      unsigned char c = (unsigned char)name[k];
      if (c >= 0x20 && c < 0x7f)
        fputc(c, stderr);
      else
        fprintf(stderr, "\\x%02x", c);
    }
    shown++;
  }
  if (shown == 0) fputs(" (none)", stderr);
  fputc('\n', stderr);
}

/* Turns a failed call or instantiation into a message and exit status. */
static int report_failure(tw_store_t *store, int rc, const char *what,
                          const char *err) {
  if (rc == TW_ETRAP || rc == TW_EEXIT) {
    tw_trap_info_t trap;
    tw_store_last_trap(store, &trap);
    if (rc == TW_EEXIT || trap.kind == TW_TRAP_EXIT) {
      fflush(stdout);
      return trap.exit_code >= 0 && trap.exit_code <= 255 ? trap.exit_code
                                                          : TW_CLI_TRAP;
    }
    const char *msg =
        trap.message[0] ? trap.message : tw_trap_message(trap.kind);
    fprintf(stderr, "trap: %s\n", msg);
    return TW_CLI_TRAP;
  }
  fprintf(stderr, "tensor-wasm run: %s: %s\n", what,
          err && err[0] ? err : tw_strerror(rc));
  return TW_CLI_USAGE;
}

int tw_cli_cmd_run(int argc, char **argv) {
  struct run_opts o;
  memset(&o, 0, sizeof o);
  int status = parse_opts(argc, argv, &o);
  if (status < 0) return TW_CLI_OK;
  if (status) return status;

  const char *name = o.invoke ? o.invoke : "_start";
  char err[1024] = "";
  struct tw_cli_bytes bytes;
  tw_engine_t *engine = NULL;
  tw_module_t *module = NULL;
  tw_store_t *store = NULL;
  tw_linker_t *linker = NULL;
  tw_instance_t *inst = NULL;
  tw_val_t *args = NULL, *results = NULL;
  int rc;

  status = tw_cli_load_module(o.file, &bytes);
  if (status) return status;

  status = TW_CLI_USAGE;
  rc = tw_engine_new(&o.cfg, &engine);
  if (rc) {
    fprintf(stderr, "tensor-wasm run: cannot create engine: %s\n",
            tw_strerror(rc));
    goto done;
  }
  rc = tw_module_new(engine, bytes.data, bytes.size, &module, err,
                     sizeof err);
  if (rc) {
    fprintf(stderr, "tensor-wasm: %s: %s\n", o.file,
            err[0] ? err : tw_strerror(rc));
    goto done;
  }

  tw_functype_t type;
  rc = tw_module_export_functype(module, name, &type);
  if (rc) {
    if (o.invoke)
      fprintf(stderr, "tensor-wasm run: %s: no exported function '%s'\n",
              o.file, name);
    else
      fprintf(stderr,
              "tensor-wasm run: %s: module exports no '_start' function; "
              "choose one with --invoke NAME\n",
              o.file);
    list_exports(module);
    goto done;
  }

  args = calloc(type.nparams ? type.nparams : 1, sizeof *args);
  results = calloc(type.nresults ? type.nresults : 1, sizeof *results);
  if (!args || !results) {
    fprintf(stderr, "tensor-wasm run: out of memory\n");
    goto done;
  }
  rc = tw_cli_args_from_json(o.args ? o.args : "[]", &type, args, err,
                             sizeof err);
  if (rc) {
    fprintf(stderr, "tensor-wasm run: %s: %s\n", name, err);
    goto done;
  }

  if ((rc = tw_store_new(engine, &store)) != 0 ||
      (rc = tw_linker_new(engine, &linker)) != 0) {
    fprintf(stderr, "tensor-wasm run: %s\n", tw_strerror(rc));
    goto done;
  }
  err[0] = '\0';
  rc = tw_instance_new(store, module, linker, &inst, err, sizeof err);
  if (rc) {
    status = report_failure(store, rc, "instantiation failed", err);
    goto done;
  }
  if (strcmp(name, "_initialize") != 0) {
    err[0] = '\0';
    rc = tw_instance_initialize(inst, err, sizeof err);
    if (rc) {
      status = report_failure(store, rc, "_initialize failed", err);
      goto done;
    }
  }

  err[0] = '\0';
  rc = tw_instance_call(inst, name, args, type.nparams, results,
                        type.nresults, err, sizeof err);
  if (rc) {
    status = report_failure(store, rc, name, err);
    goto done;
  }
  tw_cli_print_results(stdout, results, type.nresults);
  status = fflush(stdout) == 0 ? TW_CLI_OK : TW_CLI_USAGE;

done:
  free(results);
  free(args);
  if (linker) tw_linker_free(linker);
  if (store) tw_store_free(store);
  if (module) tw_module_free(module);
  if (engine) tw_engine_free(engine);
  tw_cli_bytes_free(&bytes);
  return status;
}
