/* The CLI's HTTP client (libcurl) for the service's API: connection
 * options shared by every client command, one request function, and
 * the shape of a response.
 */
#ifndef TW_CLI_CLIENT_H
#define TW_CLI_CLIENT_H

#include <stddef.h>

/* Server URL and token: --server/--token, else TENSOR_WASM_URL and
 * TENSOR_WASM_TOKEN, else http://127.0.0.1:8080 and none. */
struct tw_cli_conn {
  const char *server;
  const char *token;
};

/* Matches --server/--token at argv[*i] (as tw_cli_option). */
int tw_cli_conn_option(int argc, char **argv, int *i, struct tw_cli_conn *c);
void tw_cli_conn_defaults(struct tw_cli_conn *c);

struct tw_cli_resp {
  long status; /* 0 when no response came */
  char *body;  /* NUL-terminated, malloc'd */
  size_t len;
  char error[256]; /* transport error when status is 0 */
};

/* Sends METHOD path (with query) and an optional body. Response bodies
 * are capped at 64 MiB. extra: NULL-terminated "Name: value" headers. */
int tw_cli_request(const struct tw_cli_conn *c, const char *method,
                   const char *path, const char *ctype, const void *body,
                   size_t len, const char *const *extra,
                   struct tw_cli_resp *out);
void tw_cli_resp_free(struct tw_cli_resp *r);
/* Prints a failed response's error message to stderr; returns the exit
 * status for it (1 guest failure 422, 2 otherwise). */
int tw_cli_report(const char *cmd, const struct tw_cli_resp *r);
/* Percent-encodes s for a URL path segment or query value. */
char *tw_cli_escape(const char *s);

#endif
