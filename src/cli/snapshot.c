/* `tensor-wasm snapshot save|restore|inspect`: capture an instance after
 * an optional call, restore a snapshot and call into it, print a header.
 * Keys come from --key-file (hex text) or $TW_SNAPSHOT_KEY (hex); every
 * object is released on every path. Exit: 0 ok, 1 trap, 2 usage, module
 * or snapshot error (the message says which check refused it).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tw/snapshot.h>

#include "cli/args.h"
#include "cli/cli.h"

static const char snap_usage[] =
    "Usage: tensor-wasm snapshot save|restore|inspect [options]\n"
    "\n"
    "  save MODULE --out FILE [--invoke NAME [--args JSON]]\n"
    "          instantiate MODULE, optionally call NAME to set state, and\n"
    "          write a snapshot of the instance to FILE\n"
    "  restore FILE MODULE [--invoke NAME [--args JSON]]\n"
    "          restore FILE into a fresh instance of MODULE, call NAME and\n"
    "          print its results as a JSON array\n"
    "  inspect FILE\n"
    "          print FILE's header as JSON (checks the signature if a key\n"
    "          is given)\n"
    "\n"
    "Options:\n"
    "  --tenant ID        the tenant (save: recorded; restore: must match);\n"
    "                     default \"default\"\n"
    "  --epoch N          the tenant's epoch (save: recorded; restore: the\n"
    "                     current one, older snapshots are refused); default 0\n"
    "  --key-file FILE    HMAC key as hex text (else $TW_SNAPSHOT_KEY, hex);\n"
    "                     without a key, save writes an unsigned snapshot\n"
    "  --allow-unsigned   restore: accept unsigned (or unverifiable) snapshots\n"
    "  --max-payload BYTES restore: decompression cap (default 256 MiB)\n"
    "  -h, --help         show this help\n"
    "\n"
    "Example:\n"
    "  TW_SNAPSHOT_KEY=$(openssl rand -hex 32) \\\n"
    "  tensor-wasm snapshot save counter.wat --invoke bump --out c.twsnap\n";

struct snap_opts {
  const char *verb, *pos[2];
  int npos;
  const char *out, *invoke, *args, *tenant, *key_file;
  uint64_t epoch, max_payload;
  int allow_unsigned;
  uint8_t key[256];
  size_t key_len;
};

static int parse_u64(const char *s, uint64_t *v) {
  if (*s < '0' || *s > '9') return -1;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 10);
  if (errno || *end) return -1;
  *v = x;
  return 0;
}

static int parse_hex_key(const char *s, struct snap_opts *o, const char *src) {
  size_t n = 0;
  while (*s) {
    if (isspace((unsigned char)*s)) {
      s++;
      continue;
    }
    if (!isxdigit((unsigned char)s[0]) || !isxdigit((unsigned char)s[1]) ||
        n == sizeof o->key)
      return tw_cli_usage_error("snapshot", "%s: the key must be hex text of "
                                "at most %zu bytes", src, sizeof o->key);
    char b[3] = {s[0], s[1], 0};
    o->key[n++] = (uint8_t)strtoul(b, NULL, 16);
    s += 2;
  }
  if (n == 0) return tw_cli_usage_error("snapshot", "%s: empty key", src);
  o->key_len = n;
  return 0;
}

static int load_key(struct snap_opts *o) {
  if (o->key_file) {
    FILE *f = fopen(o->key_file, "r");
    if (!f) {
      fprintf(stderr, "tensor-wasm: %s: %s\n", o->key_file, strerror(errno));
      return TW_CLI_USAGE;
    }
    char text[1024];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    return parse_hex_key(text, o, o->key_file);
  }
  const char *env = getenv("TW_SNAPSHOT_KEY");
  if (env && *env) return parse_hex_key(env, o, "TW_SNAPSHOT_KEY");
  return 0;
}

static int parse(int argc, char **argv, struct snap_opts *o) {
  o->tenant = "default";
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v;
    int m = 0;
    if (tw_cli_is_help(a)) {
      fputs(snap_usage, stdout);
      return -1;
    }
    if (strcmp(a, "--allow-unsigned") == 0) {
      o->allow_unsigned = 1;
      continue;
    }
    struct {
      const char *name;
      const char **dst;
    } str[] = {{"--out", &o->out},       {"--invoke", &o->invoke},
               {"--args", &o->args},     {"--tenant", &o->tenant},
               {"--key-file", &o->key_file}};
    for (size_t k = 0; k < sizeof str / sizeof str[0] && !m; k++)
      if ((m = tw_cli_option(argc, argv, &i, str[k].name, &v)) > 0)
        *str[k].dst = v;
    if (m < 0) return TW_CLI_USAGE;
    if (m) continue;
    if ((m = tw_cli_option(argc, argv, &i, "--epoch", &v)) ||
        (m = tw_cli_option(argc, argv, &i, "--max-payload", &v) * 2)) {
      if (m < 0) return TW_CLI_USAGE;
      if (parse_u64(v, m == 1 ? &o->epoch : &o->max_payload))
        return tw_cli_usage_error("snapshot", "bad number '%s'", v);
      continue;
    }
    if (a[0] == '-' && a[1])
      return tw_cli_usage_error("snapshot", "unknown option '%s'", a);
    if (o->npos == 2)
      return tw_cli_usage_error("snapshot", "unexpected argument '%s'", a);
    o->pos[o->npos++] = a;
  }
  return load_key(o);
}

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "tensor-wasm: %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 1 << 16, n = 0;
  uint8_t *b = malloc(cap);
  size_t r;
  while (b && (r = fread(b + n, 1, cap - n, f)) > 0) {
    n += r;
    if (n == cap) {
      uint8_t *nb = realloc(b, cap *= 2);
      if (!nb) free(b);
      b = nb;
    }
  }
  fclose(f);
  if (!b) fprintf(stderr, "tensor-wasm: %s: out of memory\n", path);
  *len = n;
  return b;
}

/* Calls o->invoke (if any) and prints its results. */
static int invoke(tw_store_t *store, tw_instance_t *in, tw_module_t *mod,
                  const struct snap_opts *o, int print) {
  if (!o->invoke) return TW_CLI_OK;
  tw_functype_t type;
  char err[512] = "";
  if (tw_module_export_functype(mod, o->invoke, &type)) {
    fprintf(stderr, "tensor-wasm: no exported function '%s'\n", o->invoke);
    return TW_CLI_USAGE;
  }
  tw_val_t args[64], res[64];
  if (type.nparams > 64 || type.nresults > 64) {
    fprintf(stderr, "tensor-wasm: '%s' has too many parameters\n", o->invoke);
    return TW_CLI_USAGE;
  }
  if (tw_cli_args_from_json(o->args ? o->args : "[]", &type, args, err,
                            sizeof err)) {
    fprintf(stderr, "tensor-wasm: --args: %s\n", err);
    return TW_CLI_USAGE;
  }
  int rc = tw_instance_call(in, o->invoke, args, type.nparams, res,
                            type.nresults, err, sizeof err);
  if (rc) {
    tw_trap_info_t t;
    tw_store_last_trap(store, &t);
    fprintf(stderr, "tensor-wasm: %s: %s\n", o->invoke,
            rc == TW_ETRAP ? t.message : err);
    return TW_CLI_TRAP;
  }
  if (print) tw_cli_print_results(stdout, res, type.nresults);
  return TW_CLI_OK;
}

static void hex(const uint8_t *b, size_t n, char *out) {
  for (size_t i = 0; i < n; i++) sprintf(out + 2 * i, "%02x", b[i]);
}

static int cmd_inspect(struct snap_opts *o) {
  if (o->npos != 1)
    return tw_cli_usage_error("snapshot", "inspect takes one FILE");
  size_t n;
  uint8_t *b = read_all(o->pos[0], &n);
  if (!b) return TW_CLI_USAGE;
  tw_snapshot_info_t info;
  char err[512] = "";
  int rc = tw_snapshot_inspect(b, n, &info, err, sizeof err);
  if (rc) {
    fprintf(stderr, "tensor-wasm: %s: %s\n", o->pos[0], err);
    free(b);
    return TW_CLI_USAGE;
  }
  const char *sig = "unsigned";
  if (info.flags & TW_SNAPSHOT_FLAG_SIGNED)
    sig = !o->key_len ? "unchecked"
          : tw_snapshot_verify(b, n, o->key, o->key_len, err, sizeof err)
              ? "invalid"
              : "valid";
  char digest[65], nonce[33], tenant[2 * TW_SNAPSHOT_TENANT_MAX + 1];
  hex(info.module_digest, 32, digest);
  hex(info.nonce, 16, nonce);
  size_t k = 0;
  for (const char *t = info.tenant; *t; t++) { /* JSON-safe tenant */
    unsigned char c = (unsigned char)*t;
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') tenant[k++] = (char)c;
    else tenant[k++] = '?';
  }
  tenant[k] = '\0';
  printf("{\"format_version\": %u, \"flags\": %u, \"signature\": \"%s\", "
         "\"module_blake3\": \"%s\", \"tenant\": \"%s\", \"epoch\": %llu, "
         "\"nonce\": \"%s\", \"payload_bytes\": %llu, "
         "\"compressed_bytes\": %llu, \"payload_crc32\": \"%08x\", "
         "\"total_bytes\": %llu}\n",
         info.format_version, info.flags, sig, digest, tenant,
         (unsigned long long)info.epoch, nonce,
         (unsigned long long)info.payload_len,
         (unsigned long long)info.compressed_len, info.payload_crc32,
         (unsigned long long)info.total_len);
  free(b);
  return strcmp(sig, "invalid") == 0 ? TW_CLI_USAGE : TW_CLI_OK;
}

static int cmd_save_restore(struct snap_opts *o, int save) {
  if (o->npos != (save ? 1 : 2))
    return tw_cli_usage_error("snapshot", save ? "save takes one MODULE"
                                               : "restore takes FILE MODULE");
  if (save && !o->out)
    return tw_cli_usage_error("snapshot", "save needs --out FILE");
  int status = TW_CLI_USAGE, rc;
  char err[512] = "";
  struct tw_cli_bytes wasm = {0};
  tw_engine_t *engine = NULL;
  tw_module_t *mod = NULL;
  tw_store_t *store = NULL;
  tw_instance_t *in = NULL;
  uint8_t *snap = NULL;
  size_t snap_len = 0;
  if (tw_cli_load_module(o->pos[save ? 0 : 1], &wasm)) return TW_CLI_USAGE;
  if (tw_engine_new(NULL, &engine) ||
      (rc = tw_module_new(engine, wasm.data, wasm.size, &mod, err,
                          sizeof err)) ||
      tw_store_new(engine, &store)) {
    fprintf(stderr, "tensor-wasm: %s: %s\n", o->pos[save ? 0 : 1], err);
    goto done;
  }
  if (save) {
    if ((rc = tw_instance_new(store, mod, NULL, &in, err, sizeof err))) {
      fprintf(stderr, "tensor-wasm: instantiate: %s\n", err);
      status = rc == TW_ETRAP ? TW_CLI_TRAP : TW_CLI_USAGE;
      goto done;
    }
    if ((status = invoke(store, in, mod, o, 0))) goto done;
    tw_snapshot_save_opts_t so;
    tw_snapshot_save_opts_default(&so);
    so.tenant = o->tenant;
    so.epoch = o->epoch;
    so.key = o->key_len ? o->key : NULL;
    so.key_len = o->key_len;
    status = TW_CLI_USAGE;
    if ((rc = tw_snapshot_save(in, &so, &snap, &snap_len, err, sizeof err))) {
      fprintf(stderr, "tensor-wasm: snapshot: %s\n", err);
      goto done;
    }
    FILE *f = fopen(o->out, "wb");
    if (!f || fwrite(snap, 1, snap_len, f) != snap_len || fclose(f)) {
      fprintf(stderr, "tensor-wasm: %s: %s\n", o->out, strerror(errno));
      goto done;
    }
    fprintf(stderr, "tensor-wasm: wrote %zu bytes (%s) to %s\n", snap_len,
            so.key ? "signed" : "unsigned", o->out);
    status = TW_CLI_OK;
  } else {
    if (!(snap = read_all(o->pos[0], &snap_len))) goto done;
    tw_snapshot_restore_opts_t ro;
    tw_snapshot_restore_opts_default(&ro);
    ro.tenant = o->tenant;
    ro.epoch = o->epoch;
    ro.key = o->key_len ? o->key : NULL;
    ro.key_len = o->key_len;
    ro.allow_unsigned = o->allow_unsigned;
    ro.max_payload_bytes = o->max_payload;
    if ((rc = tw_snapshot_restore(store, mod, NULL, snap, snap_len, &ro, &in,
                                  err, sizeof err))) {
      fprintf(stderr, "tensor-wasm: %s: %s: %s\n", o->pos[0],
              tw_strerror(rc), err);
      goto done;
    }
    status = invoke(store, in, mod, o, 1);
  }
done:
  if (save) tw_free(snap);
  else free(snap);
  tw_store_free(store);
  tw_module_free(mod);
  tw_engine_free(engine);
  tw_cli_bytes_free(&wasm);
  return status;
}

int tw_cli_cmd_snapshot(int argc, char **argv) {
  if (argc < 2 || tw_cli_is_help(argv[1])) {
    fputs(snap_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? TW_CLI_USAGE : TW_CLI_OK;
  }
  struct snap_opts o;
  memset(&o, 0, sizeof o);
  o.verb = argv[1];
  int save = strcmp(o.verb, "save") == 0;
  if (!save && strcmp(o.verb, "restore") && strcmp(o.verb, "inspect"))
    return tw_cli_usage_error("snapshot", "unknown subcommand '%s'", o.verb);
  int rc = parse(argc, argv, &o);
  if (rc) return rc < 0 ? TW_CLI_OK : rc;
  return strcmp(o.verb, "inspect") == 0 ? cmd_inspect(&o)
                                        : cmd_save_restore(&o, save);
}
