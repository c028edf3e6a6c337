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
#include <time.h>

#include "cli/args.h"
#include "cli/cli.h"
#include "cli/run_wasi.h"
#include "cli/run_gpu.h"

static const char run_usage[] =
    "Usage: tensor-wasm run FILE [options] [-- ARGS...]\n"
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
    "  --tier 0|1|auto      compiled code to run: 0 = libtcc only, 1 = wait\n"
    "                       for cc -O2 (cached on disk), auto = tier 0 now and\n"
    "                       tier 1 when ready (default auto)\n"
    "  --no-interrupt       leave out the deadline checks in generated code\n"
    "                       (faster loops; --timeout can then not stop it;\n"
    "                       also TW_NO_EPOCH=1)\n"
    "  --timing             print one JSON line of phase times to stderr:\n"
    "                       decode_validate_ms, codegen_ms, compile_ms (of\n"
    "                       the tier the call used), instantiate_ms (with\n"
    "                       _initialize), call_ms, tier\n"
    "  --gpu-worker         run a module that imports wasi:cuda in a GPU\n"
    "                       worker process (as the server does) instead of\n"
    "                       in this process\n"
    "  -h, --help           show this help\n"
    "\n"
    "%s"
    "\n"
    "Exit status: 0 success, 1 trap, 2 usage error or invalid module; a\n"
    "guest that exits (proc_exit) ends with its own code.\n";

struct run_opts {
  const char *file;
  const char *invoke; /* NULL: _start */
  const char *args;   /* NULL: [] */
  tw_engine_config_t cfg;
  int timing; /* --timing */
  int gpu_worker; /* --gpu-worker */
  struct tw_cli_wasi wasi; /* WASI options and program arguments */
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
  const char *no_epoch = getenv("TW_NO_EPOCH");
  if (no_epoch && strcmp(no_epoch, "1") == 0) o->cfg.interruptible = false;
  int only_files = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v;
    int m;
    if (only_files || a[0] != '-' || strcmp(a, "-") == 0) {
      if (o->file && only_files) {
        /* After "--": the WASI program's arguments. */
        if (tw_cli_wasi_arg(&o->wasi, argv[i]))
          return tw_cli_usage_error("run", "out of memory");
        continue;
      }
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
      printf(run_usage, tw_cli_wasi_usage);
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
    } else if ((m = tw_cli_option(argc, argv, &i, "--tier", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      if (strcmp(v, "0") == 0)
        o->cfg.tier = TW_TIER_0;
      else if (strcmp(v, "1") == 0)
        o->cfg.tier = TW_TIER_1;
      else if (strcmp(v, "auto") == 0)
        o->cfg.tier = TW_TIER_AUTO;
      else
        return tw_cli_usage_error("run", "--tier expects 0, 1 or auto, got "
                                         "'%s'", v);
    } else if (strcmp(a, "--no-interrupt") == 0) {
      o->cfg.interruptible = false;
    } else if (strcmp(a, "--timing") == 0) {
      o->timing = 1;
    } else if (strcmp(a, "--gpu-worker") == 0) {
      o->gpu_worker = 1;
    } else if ((m = tw_cli_wasi_option(argc, argv, &i, &o->wasi)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
    } else {
      return tw_cli_usage_error("run", "unknown option '%s'", a);
    }
  }
  if (!o->file) return tw_cli_usage_error("run", "missing FILE");
  return 0;
}

/* --timing: phase times in milliseconds (CLOCK_MONOTONIC). */
struct run_times {
  double decode_validate, module_new, instantiate, call;
};

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Prints the --timing line. decode+validate is timed on its own (one
 * extra pass, only under --timing). compile_ms is the compile time of the
 * tier the call used: tier 0's libtcc time, or for tier 1 the rest of
 * tw_module_new, i.e. the wait for tier-1 code (cc -O2 or a cache hit). */
static void print_times(const struct run_times *t, const tw_module_t *module,
                        int tier) {
  double codegen = tw_module_codegen_ms(module);
  double compile0 = tw_module_compile_ms(module);
  double compile = compile0;
  if (tier == 1) {
    compile = t->module_new - t->decode_validate - codegen - compile0;
    if (compile < 0) compile = 0;
  }
  fprintf(stderr,
          "{\"decode_validate_ms\":%.3f,\"codegen_ms\":%.3f,"
          "\"compile_ms\":%.3f,\"instantiate_ms\":%.3f,\"call_ms\":%.3f,"
          "\"tier\":%d,\"module_new_ms\":%.3f,\"tier0_compile_ms\":%.3f}\n",
          t->decode_validate, codegen, compile, t->instantiate, t->call, tier,
          t->module_new, compile0);
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
  if (status) {
    tw_cli_wasi_free(&o.wasi);
    return status < 0 ? TW_CLI_OK : status;
  }

  const char *name = o.invoke ? o.invoke : "_start";
  char err[1024] = "";
  struct tw_cli_bytes bytes;
  tw_engine_t *engine = NULL;
  tw_module_t *module = NULL;
  tw_store_t *store = NULL;
  tw_linker_t *linker = NULL;
  tw_instance_t *inst = NULL;
  tw_wasi_t *wasi = NULL;
  tw_gpu_t *gpu = NULL; /* wasi:cuda in this process */
  tw_val_t *args = NULL, *results = NULL;
  struct run_times times = {0, 0, 0, 0};
  double t0;
  int rc;

  status = tw_cli_load_module(o.file, &bytes);
  if (status) {
    tw_cli_wasi_free(&o.wasi);
    return status;
  }

  status = TW_CLI_USAGE;
  rc = tw_engine_new(&o.cfg, &engine);
  if (rc) {
    fprintf(stderr, "tensor-wasm run: cannot create engine: %s\n",
            tw_strerror(rc));
    goto done;
  }
  if (o.timing) {
    t0 = now_ms();
    tw_module_validate(engine, bytes.data, bytes.size, NULL, 0);
    times.decode_validate = now_ms() - t0;
  }
  t0 = now_ms();
  rc = tw_module_new(engine, bytes.data, bytes.size, &module, err,
                     sizeof err);
  times.module_new = now_ms() - t0;
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

  if (o.gpu_worker) {
    status = tw_cli_run_gpu_worker(o.file, bytes.data, bytes.size, o.invoke,
                                   args, type.nparams, type.nresults);
    goto done;
  }
  if ((rc = tw_store_new(engine, &store)) != 0 ||
      (rc = tw_linker_new(engine, &linker)) != 0) {
    fprintf(stderr, "tensor-wasm run: %s\n", tw_strerror(rc));
    goto done;
  }
  if (tw_module_imports_cuda(module) &&
      tw_cli_gpu_setup(o.file, linker, &gpu) != 0)
    goto done;
  if (tw_cli_wasi_imported(module)) {
    if (tw_cli_wasi_setup(&o.wasi, o.file, linker, &wasi)) goto done;
  } else if (o.wasi.any || o.wasi.nargs) {
    fprintf(stderr, "tensor-wasm run: warning: %s does not import "
            "wasi_snapshot_preview1; WASI options ignored\n", o.file);
  }
  err[0] = '\0';
  t0 = now_ms();
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

  times.instantiate = now_ms() - t0;
  int tier = tw_module_tier(module); /* calls rebind at their start */
  err[0] = '\0';
  t0 = now_ms();
  if (wasi && !o.invoke) {
    /* A WASI command: its exit status is ours (0..255; others and
     * traps exit 1). */
    int32_t code;
    rc = tw_wasi_run_start(inst, &code, err, sizeof err);
    times.call = now_ms() - t0;
    if (rc) {
      status = report_failure(store, rc, name, err);
      goto done;
    }
    fflush(stdout);
    if (o.timing) print_times(&times, module, tier);
    status = code >= 0 && code <= 255 ? code : TW_CLI_TRAP;
    goto done;
  }
  rc = tw_instance_call(inst, name, args, type.nparams, results,
                        type.nresults, err, sizeof err);
  times.call = now_ms() - t0;
  if (rc) {
    status = report_failure(store, rc, name, err);
    goto done;
  }
  tw_cli_print_results(stdout, results, type.nresults);
  if (o.timing) print_times(&times, module, tier);
  status = fflush(stdout) == 0 ? TW_CLI_OK : TW_CLI_USAGE;

done:
  free(results);
  free(args);
  /* Releases every instance's GPU state (unpinning guest memory) while the
   * store's memories are still mapped. */
  if (gpu) tw_gpu_close(gpu);
  if (linker) tw_linker_free(linker);
  if (store) tw_store_free(store);
  if (wasi) tw_wasi_free(wasi);
  if (module) tw_module_free(module);
  if (engine) tw_engine_free(engine);
  tw_cli_bytes_free(&bytes);
  tw_cli_wasi_free(&o.wasi);
  return status;
}
