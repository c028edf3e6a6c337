/* WASI options of `tensor-wasm run` and the WASI state built from them.
 * Everything parsed here points into argv or into copies this file owns
 * and frees in tw_cli_wasi_free; tw_wasi_new copies what it keeps.
 */
#include "cli/run_wasi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

extern char **environ;

const char tw_cli_wasi_usage[] =
    "WASI (modules importing wasi_snapshot_preview1):\n"
    "  --dir HOST[::GUEST][:ro]\n"
    "                       preopen directory HOST, seen by the guest as\n"
    "                       GUEST (default: HOST); ':ro' refuses every\n"
    "                       write under it. Repeatable. Paths are confined\n"
    "                       by the kernel (openat2 RESOLVE_BENEATH)\n"
    "  --env K=V            set an environment variable (repeatable)\n"
    "  --inherit-env        pass this process's environment (--env wins)\n"
    "  --stdin FILE         read the guest's standard input from FILE\n"
    "  --sock-fd N          hand inherited host socket N to the guest\n"
    "                       (repeatable; for sock_accept/recv/send)\n"
    "  -- ARGS...           program arguments (argv[0] is FILE)\n"
    "Without --invoke a WASI command runs _start; its exit status (from\n"
    "proc_exit, 0 when _start returns) becomes this command's. A trap\n"
    "also exits 1, so a guest exiting 1 looks the same: the 'trap:' line\n"
    "on stderr tells them apart.\n";

static int grow(void **p, size_t n, size_t size) {
  void *q = realloc(*p, (n + 1) * size);
  if (!q) return -1;
  *p = q;
  return 0;
}

static int add_dir(struct tw_cli_wasi *o, const char *spec) {
  if (grow((void **)&o->dirs, o->ndirs, sizeof *o->dirs) ||
      grow((void **)&o->dir_text, o->ndirs, sizeof *o->dir_text))
    return tw_cli_usage_error("run", "out of memory");
  char *t = strdup(spec);
  if (!t) return tw_cli_usage_error("run", "out of memory");
  o->dir_text[o->ndirs] = t;
  tw_wasi_preopen_t *d = &o->dirs[o->ndirs++];
  memset(d, 0, sizeof *d);
  size_t n = strlen(t);
  if (n > 3 && strcmp(t + n - 3, ":ro") == 0) {
    d->read_only = true;
    t[n - 3] = '\0';
  }
  char *sep = strstr(t, "::");
  d->host_path = t;
  d->guest_path = t;
  if (sep) {
    *sep = '\0';
    d->guest_path = sep + 2;
  }
  if (!d->host_path[0] || !d->guest_path[0])
    return tw_cli_usage_error("run", "--dir expects HOST[::GUEST][:ro], "
                              "got '%s'", spec);
  return 0;
}

int tw_cli_wasi_option(int argc, char **argv, int *i, struct tw_cli_wasi *o) {
  const char *v;
  int m;
  if (strcmp(argv[*i], "--inherit-env") == 0) {
    o->inherit_env = o->any = true;
    return 1;
  }
  if ((m = tw_cli_option(argc, argv, i, "--dir", &v)) != 0) {
    if (m < 0) return -1;
    o->any = true;
    return add_dir(o, v) ? -1 : 1;
  }
  if ((m = tw_cli_option(argc, argv, i, "--env", &v)) != 0) {
    if (m < 0) return -1;
    if (!strchr(v, '=') || v[0] == '=') {
      tw_cli_usage_error("run", "--env expects KEY=VALUE, got '%s'", v);
      return -1;
    }
    if (grow((void **)&o->env, o->nenv, sizeof *o->env)) return -1;
    o->env[o->nenv++] = v;
    o->any = true;
    return 1;
  }
  if ((m = tw_cli_option(argc, argv, i, "--stdin", &v)) != 0) {
    if (m < 0) return -1;
    o->stdin_file = v;
    o->any = true;
    return 1;
  }
  if ((m = tw_cli_option(argc, argv, i, "--sock-fd", &v)) != 0) {
    if (m < 0) return -1;
    char *end;
    errno = 0;
    long fd = strtol(v, &end, 10);
    if (errno || *end || end == v || fd < 0 || fd > 1 << 20) {
      tw_cli_usage_error("run", "--sock-fd expects a descriptor number, "
                         "got '%s'", v);
      return -1;
    }
    if (grow((void **)&o->socks, o->nsocks, sizeof *o->socks)) return -1;
    o->socks[o->nsocks++] = (int)fd;
    o->any = true;
    return 1;
  }
  return 0;
}

int tw_cli_wasi_arg(struct tw_cli_wasi *o, char *arg) {
  if (grow((void **)&o->args, o->nargs, sizeof *o->args)) return -1;
  o->args[o->nargs++] = arg;
  return 0;
}

bool tw_cli_wasi_imported(const tw_module_t *module) {
  uint32_t n = tw_module_import_count(module);
  for (uint32_t i = 0; i < n; i++) {
    const char *mod, *name;
    size_t mlen, nlen;
    tw_extern_kind_t kind;
    if (tw_module_import_info(module, i, &mod, &mlen, &name, &nlen, &kind))
      continue;
    if (mlen == 22 && memcmp(mod, "wasi_snapshot_preview1", 22) == 0)
      return true;
  }
  return false;
}

/* Whether "K=..." sets a key that an --env option sets too. */
static bool overridden(const struct tw_cli_wasi *o, const char *kv) {
  size_t k = strcspn(kv, "=");
  for (size_t i = 0; i < o->nenv; i++)
    if (strncmp(o->env[i], kv, k) == 0 && o->env[i][k] == '=') return true;
  return false;
}

int tw_cli_wasi_setup(struct tw_cli_wasi *o, const char *file,
                      tw_linker_t *linker, tw_wasi_t **out) {
  *out = NULL;
  int status = TW_CLI_USAGE;
  const char **argv = calloc(o->nargs + 1, sizeof *argv);
  size_t nenv = o->nenv;
  if (o->inherit_env)
    for (char **e = environ; *e; e++) nenv++;
  const char **env = calloc(nenv + 1, sizeof *env);
  if (!argv || !env) {
    fprintf(stderr, "tensor-wasm run: out of memory\n");
    goto done;
  }
  argv[0] = file;
  for (size_t i = 0; i < o->nargs; i++) argv[i + 1] = o->args[i];
  nenv = 0;
  if (o->inherit_env)
    for (char **e = environ; *e; e++)
      if (!overridden(o, *e)) env[nenv++] = *e;
  for (size_t i = 0; i < o->nenv; i++) env[nenv++] = o->env[i];

  if (o->stdin_file) {
    int fd = open(o->stdin_file, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || (fd != 0 && dup2(fd, 0) < 0)) {
      fprintf(stderr, "tensor-wasm run: --stdin %s: %s\n", o->stdin_file,
              strerror(errno));
      if (fd > 0) close(fd);
      goto done;
    }
    if (fd != 0) close(fd);
  }

  tw_wasi_config_t cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.argv = argv;
  cfg.argc = o->nargs + 1;
  cfg.env = env;
  cfg.envc = nenv;
  cfg.preopens = o->dirs;
  cfg.npreopens = o->ndirs;
  cfg.sockets = o->socks;
  cfg.nsockets = o->nsocks;
  cfg.stdin_.mode = TW_WASI_STDIO_INHERIT;
  cfg.stdout_.mode = TW_WASI_STDIO_INHERIT;
  cfg.stderr_.mode = TW_WASI_STDIO_INHERIT;
  char err[512] = "";
  int rc = tw_wasi_new(&cfg, out, err, sizeof err);
  if (rc) {
    fprintf(stderr, "tensor-wasm run: %s\n", err[0] ? err : tw_strerror(rc));
    goto done;
  }
  rc = tw_linker_define_wasi(linker, *out);
  if (rc) {
    fprintf(stderr, "tensor-wasm run: cannot link WASI: %s\n",
            tw_strerror(rc));
    tw_wasi_free(*out);
    *out = NULL;
    goto done;
  }
  status = 0;
done:
  free(env);
  free(argv);
  return status;
}

void tw_cli_wasi_free(struct tw_cli_wasi *o) {
  for (size_t i = 0; i < o->ndirs; i++) free(o->dir_text[i]);
  free(o->dir_text);
  free(o->dirs);
  free(o->env);
  free(o->socks);
  free(o->args);
  memset(o, 0, sizeof *o);
}
