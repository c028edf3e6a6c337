/* The client commands: token, deploy, invoke, functions, jobs, over the
 * HTTP API with libcurl (observe.c is the status board). Output: JSON
 * bodies as the server sent them, tables for lists; exit status 0 on
 * success, 1 when the function failed (trap, exit, deadline), 2 for
 * usage, transport and other API errors.
 */
#include "cli/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <jansson.h>

#include "cli/cli.h"
#include "svc/svc.h"

#define RESPONSE_LIMIT ((size_t)64 << 20)

void tw_cli_conn_defaults(struct tw_cli_conn *c) {
  if (!c->server) c->server = getenv("TENSOR_WASM_URL");
  if (!c->server || !*c->server) c->server = "http://127.0.0.1:8080";
  if (!c->token) c->token = getenv("TENSOR_WASM_TOKEN");
}

int tw_cli_conn_option(int argc, char **argv, int *i,
                       struct tw_cli_conn *c) {
  const char *v;
  int m;
  if ((m = tw_cli_option(argc, argv, i, "--server", &v)) != 0) {
    if (m > 0) c->server = v;
    return m;
  }
  if ((m = tw_cli_option(argc, argv, i, "--token", &v)) != 0) {
    if (m > 0) c->token = v;
    return m;
  }
  return 0;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx) {
  struct tw_cli_resp *r = ctx;
  size_t k = size * n;
  if (r->len + k > RESPONSE_LIMIT) return 0;
  char *nb = realloc(r->body, r->len + k + 1);
  if (!nb) return 0;
  memcpy(nb + r->len, p, k);
  r->len += k;
  nb[r->len] = '\0';
  r->body = nb;
  return k;
}

int tw_cli_request(const struct tw_cli_conn *c, const char *method,
                   const char *path, const char *ctype, const void *body,
                   size_t len, const char *const *extra,
                   struct tw_cli_resp *out) {
  memset(out, 0, sizeof *out);
  CURL *h = curl_easy_init();
  if (!h) {
    snprintf(out->error, sizeof out->error, "cannot initialise libcurl");
    return -1;
  }
  size_t ulen = strlen(c->server) + strlen(path) + 1;
  char *url = malloc(ulen);
  struct curl_slist *hdrs = NULL;
  char auth[600], ct[160];
  if (!url) {
    curl_easy_cleanup(h);
    return -1;
  }
  snprintf(url, ulen, "%s%s", c->server, path);
  /* Avoid a double slash when the server URL ends with one. */
  size_t sl = strlen(c->server);
  if (sl && c->server[sl - 1] == '/' && path[0] == '/')
    snprintf(url, ulen, "%s%s", c->server, path + 1);
  if (c->token && *c->token) {
    snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->token);
    hdrs = curl_slist_append(hdrs, auth);
  }
  if (ctype) {
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    hdrs = curl_slist_append(hdrs, ct);
  }
  hdrs = curl_slist_append(hdrs, "Expect:");
  for (const char *const *e = extra; e && *e; e++)
    hdrs = curl_slist_append(hdrs, *e);
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, out);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 10L);
  if (body || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0) {
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  }
  if (strcmp(method, "HEAD") == 0) curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  CURLcode rc = curl_easy_perform(h);
  int ret = 0;
  if (rc != CURLE_OK) {
    snprintf(out->error, sizeof out->error, "%s: %s", c->server,
             curl_easy_strerror(rc));
    ret = -1;
  } else {
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &out->status);
  }
  if (!out->body) out->body = calloc(1, 1);
  curl_slist_free_all(hdrs);
  curl_easy_cleanup(h);
  free(url);
  return ret;
}

void tw_cli_resp_free(struct tw_cli_resp *r) {
  free(r->body);
  r->body = NULL;
  r->len = 0;
}

int tw_cli_report(const char *cmd, const struct tw_cli_resp *r) {
  if (r->status == 0) {
    fprintf(stderr, "tensor-wasm %s: %s\n", cmd, r->error);
    return TW_CLI_USAGE;
  }
  json_t *o = json_loadb(r->body, r->len, 0, NULL);
  json_t *e = o ? json_object_get(o, "error") : NULL;
  const char *code = json_string_value(json_object_get(e, "code"));
  const char *msg = json_string_value(json_object_get(e, "message"));
  if (code && msg)
    fprintf(stderr, "tensor-wasm %s: %ld %s: %s\n", cmd, r->status, code,
            msg);
  else
    fprintf(stderr, "tensor-wasm %s: HTTP %ld\n%.*s\n", cmd, r->status,
            (int)(r->len > 2000 ? 2000 : r->len), r->body);
  json_decref(o);
  return r->status == 422 ? TW_CLI_TRAP : TW_CLI_USAGE;
}

char *tw_cli_escape(const char *s) {
  char *e = curl_easy_escape(NULL, s, 0);
  char *copy = e ? strdup(e) : NULL;
  curl_free(e);
  return copy;
}

static int read_all(const char *path, char **data, size_t *len) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) return errno ? errno : EIO;
  size_t cap = 65536, n = 0;
  char *b = malloc(cap);
  while (b) {
    if (n == cap) {
      if (cap >= RESPONSE_LIMIT) {
        free(b);
        b = NULL;
        errno = EFBIG;
        break;
      }
      char *nb = realloc(b, cap * 2);
      if (!nb) {
        free(b);
        b = NULL;
        break;
      }
      b = nb;
      cap *= 2;
    }
    size_t got = fread(b + n, 1, cap - n, f);
    n += got;
    if (got == 0) break;
  }
  int e = b ? (ferror(f) ? EIO : 0) : (errno ? errno : ENOMEM);
  if (f != stdin) fclose(f);
  if (e) {
    free(b);
    return e;
  }
  *data = b;
  *len = n;
  return 0;
}

/* Prints a body followed by a newline. */
static void print_body(const struct tw_cli_resp *r) {
  fwrite(r->body, 1, r->len, stdout);
  if (r->len && r->body[r->len - 1] != '\n') fputc('\n', stdout);
}

/* ---- token ---- */

static const char token_usage[] =
    "Usage: tensor-wasm token create --tenant T --scope SCOPES [options]\n"
    "       tensor-wasm token create --admin [options]\n"
    "       tensor-wasm token revoke ID [options]\n"
    "\n"
    "Makes an API token: SCOPES is a comma-separated list of deploy,\n"
    "invoke, read (a tenant's token) or admin. The secret is printed once\n"
    "on stdout; only its hash is stored.\n"
    "\n"
    "Options:\n"
    "  --qps N, --burst N  rate limit of the token (default: unlimited)\n"
    "  --data DIR          write to a data directory directly (no server)\n"
    "  --server URL        the server (default $TENSOR_WASM_URL or\n"
    "                      http://127.0.0.1:8080)\n"
    "  --token TOKEN       an admin token (default $TENSOR_WASM_TOKEN)\n";

int tw_cli_cmd_token(int argc, char **argv) {
  if (argc < 2 || tw_cli_is_help(argv[1])) {
    fputs(token_usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? TW_CLI_USAGE : TW_CLI_OK;
  }
  bool create = strcmp(argv[1], "create") == 0;
  bool revoke = strcmp(argv[1], "revoke") == 0;
  if (!create && !revoke)
    return tw_cli_usage_error("token", "unknown subcommand '%s'", argv[1]);
  struct tw_cli_conn conn = {0};
  const char *tenant = NULL, *scope = NULL, *data = NULL, *id = NULL;
  double qps = -1, burst = -1;
  bool admin = false;
  for (int i = 2; i < argc; i++) {
    const char *v;
    int m;
    if (tw_cli_is_help(argv[i])) {
      fputs(token_usage, stdout);
      return TW_CLI_OK;
    }
    if ((m = tw_cli_conn_option(argc, argv, &i, &conn)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
    } else if ((m = tw_cli_option(argc, argv, &i, "--tenant", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      tenant = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--scope", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      scope = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--data", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      data = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--qps", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      qps = strtod(v, NULL);
    } else if ((m = tw_cli_option(argc, argv, &i, "--burst", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      burst = strtod(v, NULL);
    } else if (strcmp(argv[i], "--admin") == 0) {
      admin = true;
    } else if (argv[i][0] != '-' && revoke && !id) {
      id = argv[i];
    } else {
      return tw_cli_usage_error("token", "unexpected argument '%s'", argv[i]);
    }
  }
  tw_cli_conn_defaults(&conn);
  if (revoke) {
    if (!id) return tw_cli_usage_error("token", "revoke needs a token ID");
    char *eid = tw_cli_escape(id);
    char path[512];
    snprintf(path, sizeof path, "/v1/tokens/%s", eid ? eid : "");
    free(eid);
    struct tw_cli_resp r;
    tw_cli_request(&conn, "DELETE", path, NULL, NULL, 0, NULL, &r);
    int st = r.status == 204 ? TW_CLI_OK : tw_cli_report("token", &r);
    if (st == TW_CLI_OK) fprintf(stderr, "revoked %s\n", id);
    tw_cli_resp_free(&r);
    return st;
  }
  uint32_t scopes = 0;
  char err[256];
  if (admin) scope = "admin";
  if (!scope)
    return tw_cli_usage_error("token", "--scope (or --admin) is required");
  if (tw__scopes_parse(scope, &scopes, err, sizeof err) != 0)
    return tw_cli_usage_error("token", "--scope: %s", err);
  if (!(scopes & TW_SCOPE_ADMIN) && !tenant)
    return tw_cli_usage_error("token", "--tenant is required");
  if (data) {
    struct tw__token rec;
    char secret[64];
    if (tw__token_create_offline(data, tenant, scopes, qps, burst, &rec,
                                 secret, err, sizeof err) != 0) {
      fprintf(stderr, "tensor-wasm token: %s\n", err);
      return TW_CLI_USAGE;
    }
    char sc[64];
    tw__scopes_format(rec.scopes, sc, sizeof sc);
    printf("%s\n", secret);
    fprintf(stderr, "created token %s (tenant %s, scopes %s)\n", rec.id,
            rec.tenant[0] ? rec.tenant : "-", sc);
    return TW_CLI_OK;
  }
  json_t *body = json_object();
  json_t *arr = json_array();
  char sc[64];
  tw__scopes_format(scopes, sc, sizeof sc);
  for (char *save = NULL, *p = strtok_r(sc, ",", &save); p;
       p = strtok_r(NULL, ",", &save))
    json_array_append_new(arr, json_string(p));
  json_object_set_new(body, "scopes", arr);
  if (tenant) json_object_set_new(body, "tenant", json_string(tenant));
  if (qps >= 0) json_object_set_new(body, "rate_qps", json_real(qps));
  if (burst >= 0) json_object_set_new(body, "rate_burst", json_real(burst));
  char *s = json_dumps(body, JSON_COMPACT);
  json_decref(body);
  struct tw_cli_resp r;
  tw_cli_request(&conn, "POST", "/v1/tokens", "application/json", s,
                 s ? strlen(s) : 0, NULL, &r);
  free(s);
  int st = TW_CLI_OK;
  if (r.status == 201) {
    json_t *o = json_loadb(r.body, r.len, 0, NULL);
    printf("%s\n", json_string_value(json_object_get(o, "token")));
    fprintf(stderr, "created token %s\n",
            json_string_value(json_object_get(o, "id")));
    json_decref(o);
  } else {
    st = tw_cli_report("token", &r);
  }
  tw_cli_resp_free(&r);
  return st;
}

/* ---- deploy ---- */

static const char deploy_usage[] =
    "Usage: tensor-wasm deploy FILE --name NAME [options]\n"
    "\n"
    "Uploads a .wasm or .wat module as function NAME (replacing one of\n"
    "the same name).\n"
    "\n"
    "Options:\n"
    "  --mode typed|handler  typed: call exports with JSON arguments\n"
    "                        (default); handler: run _start with the\n"
    "                        request body on stdin, stdout as the response\n"
    "  --deadline MS         default deadline of a call\n"
    "  --memory BYTES        cap on the instance's linear memory\n"
    "  --pool N              ready instances kept\n"
    "  --tenant T            (admin tokens) the tenant to deploy to\n"
    "  --server URL, --token TOKEN\n";

/* Appends "&key=escaped(value)" when value is set. */
static void add_query(char *q, size_t cap, const char *key,
                      const char *value) {
  if (!value) return;
  char *e = tw_cli_escape(value);
  size_t n = strlen(q);
  snprintf(q + n, cap - n, "%c%s=%s", strchr(q, '?') ? '&' : '?', key,
           e ? e : "");
  free(e);
}

int tw_cli_cmd_deploy(int argc, char **argv) {
  struct tw_cli_conn conn = {0};
  const char *file = NULL, *name = NULL, *mode = NULL, *deadline = NULL,
             *memory = NULL, *pool = NULL, *tenant = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int m;
    if (tw_cli_is_help(argv[i])) {
      fputs(deploy_usage, stdout);
      return TW_CLI_OK;
    }
    if ((m = tw_cli_conn_option(argc, argv, &i, &conn)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
    } else if ((m = tw_cli_option(argc, argv, &i, "--name", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      name = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--mode", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      mode = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--deadline", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      deadline = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--memory", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      memory = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--pool", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      pool = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--tenant", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      tenant = v;
    } else if (argv[i][0] != '-' && !file) {
      file = argv[i];
    } else {
      return tw_cli_usage_error("deploy", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!file) return tw_cli_usage_error("deploy", "missing FILE");
  if (!name) return tw_cli_usage_error("deploy", "--name is required");
  tw_cli_conn_defaults(&conn);
  char *data;
  size_t len;
  int e = read_all(file, &data, &len);
  if (e) {
    fprintf(stderr, "tensor-wasm deploy: %s: %s\n", file, strerror(e));
    return TW_CLI_USAGE;
  }
  char path[1024];
  char *ename = tw_cli_escape(name);
  snprintf(path, sizeof path, "/v1/functions/%s", ename ? ename : "");
  free(ename);
  add_query(path, sizeof path, "mode", mode);
  add_query(path, sizeof path, "deadline_ms", deadline);
  add_query(path, sizeof path, "memory_bytes", memory);
  add_query(path, sizeof path, "pool_size", pool);
  add_query(path, sizeof path, "tenant", tenant);
  struct tw_cli_resp r;
  tw_cli_request(&conn, "PUT", path, "application/octet-stream", data, len,
                 NULL, &r);
  free(data);
  int st = TW_CLI_OK;
  if (r.status == 200 || r.status == 201)
    print_body(&r);
  else
    st = tw_cli_report("deploy", &r);
  tw_cli_resp_free(&r);
  return st;
}

/* ---- invoke ---- */

static const char invoke_usage[] =
    "Usage: tensor-wasm invoke NAME [--export E] [--args JSON] [options]\n"
    "\n"
    "Calls a deployed function: typed functions with --export and --args\n"
    "(a JSON array, converted by the export's signature), handler functions\n"
    "with --input FILE (or - for stdin) as the request body. Prints the\n"
    "response body.\n"
    "\n"
    "Options:\n"
    "  --async           queue it as a job and print the job (see `jobs`)\n"
    "  --tenant T        (admin tokens) the function's tenant\n"
    "  --server URL, --token TOKEN\n"
    "Exit status: 0 success, 1 the function failed (trap, exit, deadline),\n"
    "2 other errors.\n";

int tw_cli_cmd_invoke(int argc, char **argv) {
  struct tw_cli_conn conn = {0};
  const char *name = NULL, *export_ = NULL, *args = NULL, *input = NULL,
             *tenant = NULL;
  bool async = false;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int m;
    if (tw_cli_is_help(argv[i])) {
      fputs(invoke_usage, stdout);
      return TW_CLI_OK;
    }
    if ((m = tw_cli_conn_option(argc, argv, &i, &conn)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
    } else if ((m = tw_cli_option(argc, argv, &i, "--export", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      export_ = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--args", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      args = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--input", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      input = v;
    } else if ((m = tw_cli_option(argc, argv, &i, "--tenant", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      tenant = v;
    } else if (strcmp(argv[i], "--async") == 0) {
      async = true;
    } else if (argv[i][0] != '-' && !name) {
      name = argv[i];
    } else {
      return tw_cli_usage_error("invoke", "unexpected argument '%s'", argv[i]);
    }
  }
  if (!name) return tw_cli_usage_error("invoke", "missing NAME");
  if (input && (export_ || args))
    return tw_cli_usage_error("invoke",
                              "--input is for handlers; --export/--args for "
                              "typed functions");
  tw_cli_conn_defaults(&conn);
  char *body = NULL;
  size_t len = 0;
  const char *ctype = "application/json";
  if (input) {
    int e = read_all(input, &body, &len);
    if (e) {
      fprintf(stderr, "tensor-wasm invoke: %s: %s\n", input, strerror(e));
      return TW_CLI_USAGE;
    }
    ctype = "application/octet-stream";
  } else {
    json_error_t jerr;
    json_t *a = json_loads(args ? args : "[]", JSON_DECODE_ANY, &jerr);
    if (!a)
      return tw_cli_usage_error("invoke", "--args: invalid JSON: %s",
                                jerr.text);
    json_t *o = json_pack("{s:s,s:o}", "export", export_ ? export_ : name,
                          "args", a);
    body = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    len = body ? strlen(body) : 0;
  }
  char path[1024];
  char *ename = tw_cli_escape(name);
  snprintf(path, sizeof path, "/v1/functions/%s/invoke", ename ? ename : "");
  free(ename);
  add_query(path, sizeof path, "tenant", tenant);
  const char *async_hdr[] = {"Prefer: respond-async", NULL};
  struct tw_cli_resp r;
  tw_cli_request(&conn, "POST", path, ctype, body, len,
                 async ? async_hdr : NULL, &r);
  free(body);
  int st = TW_CLI_OK;
  if (r.status >= 200 && r.status < 300)
    print_body(&r);
  else
    st = tw_cli_report("invoke", &r);
  tw_cli_resp_free(&r);
  return st;
}

/* ---- functions and jobs ---- */

static const char functions_usage[] =
    "Usage: tensor-wasm functions [list] [--json]\n"
    "       tensor-wasm functions get NAME\n"
    "       tensor-wasm functions delete NAME\n"
    "Options: --tenant T (admin tokens), --server URL, --token TOKEN\n";

static const char jobs_usage[] =
    "Usage: tensor-wasm jobs [list] [--json]\n"
    "       tensor-wasm jobs get ID\n"
    "       tensor-wasm jobs cancel ID\n"
    "Options: --tenant T (admin tokens), --server URL, --token TOKEN\n";

static const char *jstr(json_t *o, const char *k) {
  const char *s = json_string_value(json_object_get(o, k));
  return s ? s : "-";
}

static void print_functions(const struct tw_cli_resp *r) {
  json_t *o = json_loadb(r->body, r->len, 0, NULL);
  json_t *a = json_object_get(o, "functions");
  printf("%-24s %-8s %-10s %12s %6s %10s  %s\n", "NAME", "MODE", "TENANT",
         "MEMORY", "POOL", "DEADLINE", "UPDATED");
  size_t i;
  json_t *f;
  json_array_foreach(a, i, f) {
    printf("%-24s %-8s %-10s %12lld %6lld %8lldms  %s\n", jstr(f, "name"),
           jstr(f, "mode"), jstr(f, "tenant"),
           (long long)json_integer_value(json_object_get(f, "memory_bytes")),
           (long long)json_integer_value(json_object_get(f, "pool_size")),
           (long long)json_integer_value(json_object_get(f, "deadline_ms")),
           jstr(f, "updated_at"));
  }
  json_decref(o);
}

static void print_jobs(const struct tw_cli_resp *r) {
  json_t *o = json_loadb(r->body, r->len, 0, NULL);
  json_t *a = json_object_get(o, "jobs");
  printf("%-28s %-20s %-10s %6s  %s\n", "ID", "FUNCTION", "STATE", "STATUS",
         "CREATED");
  size_t i;
  json_t *j;
  json_array_foreach(a, i, j) {
    printf("%-28s %-20s %-10s %6lld  %s\n", jstr(j, "id"),
           jstr(j, "function"), jstr(j, "state"),
           (long long)json_integer_value(json_object_get(j, "status")),
           jstr(j, "created_at"));
  }
  json_decref(o);
}

/* functions/jobs share one shape: list, get ID, and a DELETE verb. */
static int resource_cmd(int argc, char **argv, const char *cmd,
                        const char *usage, const char *base,
                        const char *del_verb,
                        void (*print_list)(const struct tw_cli_resp *)) {
  struct tw_cli_conn conn = {0};
  const char *verb = "list", *id = NULL, *tenant = NULL;
  bool json = false;
  int pos = 0;
  for (int i = 1; i < argc; i++) {
    const char *v;
    int m;
    if (tw_cli_is_help(argv[i])) {
      fputs(usage, stdout);
      return TW_CLI_OK;
    }
    if ((m = tw_cli_conn_option(argc, argv, &i, &conn)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
    } else if ((m = tw_cli_option(argc, argv, &i, "--tenant", &v)) != 0) {
      if (m < 0) return TW_CLI_USAGE;
      tenant = v;
    } else if (strcmp(argv[i], "--json") == 0) {
      json = true;
    } else if (argv[i][0] != '-' && pos == 0) {
      verb = argv[i];
      pos++;
    } else if (argv[i][0] != '-' && pos == 1) {
      id = argv[i];
      pos++;
    } else {
      return tw_cli_usage_error(cmd, "unexpected argument '%s'", argv[i]);
    }
  }
  bool list = strcmp(verb, "list") == 0, get = strcmp(verb, "get") == 0,
       del = strcmp(verb, del_verb) == 0;
  if (!list && !get && !del)
    return tw_cli_usage_error(cmd, "unknown subcommand '%s'", verb);
  if (!list && !id) return tw_cli_usage_error(cmd, "%s needs an argument", verb);
  tw_cli_conn_defaults(&conn);
  char path[1024];
  if (list) {
    snprintf(path, sizeof path, "%s", base);
  } else {
    char *e = tw_cli_escape(id);
    snprintf(path, sizeof path, "%s/%s", base, e ? e : "");
    free(e);
  }
  add_query(path, sizeof path, "tenant", tenant);
  struct tw_cli_resp r;
  tw_cli_request(&conn, del ? "DELETE" : "GET", path, NULL, NULL, 0, NULL,
                 &r);
  int st = TW_CLI_OK;
  if (r.status >= 200 && r.status < 300) {
    if (list && !json)
      print_list(&r);
    else if (r.len)
      print_body(&r);
    else
      fprintf(stderr, "%s %s: done\n", verb, id);
  } else {
    st = tw_cli_report(cmd, &r);
  }
  tw_cli_resp_free(&r);
  return st;
}

int tw_cli_cmd_functions(int argc, char **argv) {
  return resource_cmd(argc, argv, "functions", functions_usage,
                      "/v1/functions", "delete", print_functions);
}

int tw_cli_cmd_jobs(int argc, char **argv) {
  return resource_cmd(argc, argv, "jobs", jobs_usage, "/v1/jobs", "cancel",
                      print_jobs);
}
