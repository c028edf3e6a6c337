/* Durable state of the service: the SQLite database (tenants, tokens,
 * functions, jobs; versioned migrations) and the content-addressed
 * artifact store for module bytes, plus the small crypto helpers both use
 * (SHA-256, HMAC-SHA256, random bytes, hex). Used by src/svc and the CLI's
 * offline `token create`; depends only on base and the system libraries.
 *
 * Threads: a struct tw__db serialises its own use (one connection, one
 * mutex): every function here may be called from any thread.
 */
#ifndef TW_STORE_H
#define TW_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tw/tw.h"

/* ---- Crypto helpers (OpenSSL libcrypto) ---- */

/* Fills buf with n cryptographically random bytes; 0 or TW_EIO. */
int tw__rand_bytes(void *buf, size_t n);
void tw__sha256(const void *data, size_t len, uint8_t out[32]);
void tw__hmac_sha256(const uint8_t *key, size_t keylen, const void *data,
                     size_t len, uint8_t out[32]);
/* Lower-case hex of n bytes into out (room for 2n+1). */
void tw__hex(const uint8_t *in, size_t n, char *out);
/* Constant-time equality of n bytes. */
bool tw__ct_equal(const void *a, const void *b, size_t n);

/* ---- Database ---- */

/* The newest schema version this build writes. Bump it by appending one
 * migration to the table in db.c; never edit a released one (databases in
 * the field have already run it; tests/store keeps an old one). */
#define TW_DB_SCHEMA_VERSION 2

struct tw__db;

/* Opens (creating if needed) the database at path, in WAL mode, and
 * migrates it to TW_DB_SCHEMA_VERSION. Refuses a database newer than this
 * build (TW_EUNSUPPORTED). On failure *out is NULL and err says why. */
int tw__db_open(const char *path, struct tw__db **out, char *err,
                size_t errlen);
/* As tw__db_open, migrating only up to `version` (tests build old
 * databases this way). */
int tw__db_open_at(const char *path, int version, struct tw__db **out,
                   char *err, size_t errlen);
void tw__db_close(struct tw__db *db);
/* The schema version of the open database. */
int tw__db_version(struct tw__db *db);

/* Limits on identifiers kept in records (bytes, without the NUL). */
#define TW_ID_MAX 64

struct tw__tenant {
  char id[TW_ID_MAX + 1];
  int64_t max_functions;
  int64_t max_instances;    /* concurrent instances running */
  int64_t max_memory_bytes; /* sum of the memory caps of running ones */
  int64_t created_at;       /* Unix milliseconds */
};

/* Inserts or updates (by id). */
int tw__db_tenant_put(struct tw__db *db, const struct tw__tenant *t);
/* TW_ENOTFOUND when absent. */
int tw__db_tenant_get(struct tw__db *db, const char *id, struct tw__tenant *t);
/* Calls fn for every tenant, ordered by id; stops early when fn returns
 * non-zero (and returns that value). */
int tw__db_tenant_each(struct tw__db *db,
                       int (*fn)(void *ctx, const struct tw__tenant *t),
                       void *ctx);

/* Token scopes (bit set). */
enum {
  TW_SCOPE_READ = 1u << 0,
  TW_SCOPE_INVOKE = 1u << 1,
  TW_SCOPE_DEPLOY = 1u << 2,
  TW_SCOPE_ADMIN = 1u << 3,
};
/* Parses "deploy,invoke,read" / "admin" (any order, no spaces needed,
 * spaces tolerated); 0 or TW_EINVAL naming the unknown scope. */
int tw__scopes_parse(const char *s, uint32_t *out, char *err, size_t errlen);
/* "admin" or e.g. "read,invoke,deploy" into buf (room for 32). */
void tw__scopes_format(uint32_t scopes, char *buf, size_t len);

struct tw__token {
  char id[TW_ID_MAX + 1]; /* public name ("tok_..."), never the secret */
  uint8_t hash[32];       /* HMAC-SHA256(pepper, secret) */
  char tenant[TW_ID_MAX + 1]; /* "" for admin tokens */
  uint32_t scopes;
  double rate_qps; /* 0: unlimited */
  double rate_burst;
  bool revoked;
  int64_t created_at;
};

int tw__db_token_insert(struct tw__db *db, const struct tw__token *t);
/* Finds a live (not revoked) token by hash; TW_ENOTFOUND. */
int tw__db_token_find(struct tw__db *db, const uint8_t hash[32],
                      struct tw__token *t);
/* Marks a token revoked; TW_ENOTFOUND when no such id. */
int tw__db_token_revoke(struct tw__db *db, const char *id);

struct tw__function {
  char tenant[TW_ID_MAX + 1];
  char name[TW_ID_MAX + 1];
  char digest[65]; /* artifact: hex SHA-256 of the .wasm bytes */
  char mode[16];   /* "typed" or "handler" */
  uint32_t deadline_ms;
  uint64_t memory_bytes;
  uint32_t pool_size;
  uint64_t size; /* .wasm bytes */
  int64_t created_at, updated_at;
};

/* Inserts or replaces (tenant, name); *created tells which. */
int tw__db_function_put(struct tw__db *db, const struct tw__function *f,
                        bool *created);
int tw__db_function_get(struct tw__db *db, const char *tenant,
                        const char *name, struct tw__function *f);
int tw__db_function_delete(struct tw__db *db, const char *tenant,
                           const char *name);
/* Functions of one tenant (tenant NULL: all), ordered by tenant, name. */
int tw__db_function_each(struct tw__db *db, const char *tenant,
                         int (*fn)(void *ctx, const struct tw__function *f),
                         void *ctx);
int tw__db_function_count(struct tw__db *db, const char *tenant,
                          int64_t *out);
/* Whether any function still uses artifact `digest`. */
bool tw__db_digest_in_use(struct tw__db *db, const char *digest);

/* Job states, in the order a job moves through them. */
typedef enum tw__job_state {
  TW_JOB_QUEUED = 0,
  TW_JOB_RUNNING,
  TW_JOB_SUCCEEDED,
  TW_JOB_FAILED,
  TW_JOB_CANCELLED,
} tw__job_state_t;
const char *tw__job_state_name(tw__job_state_t s);

struct tw__job {
  char id[TW_ID_MAX + 1];
  char tenant[TW_ID_MAX + 1];
  char function[TW_ID_MAX + 1];
  tw__job_state_t state;
  uint8_t *request; /* what the invoke request carried (owned) */
  size_t request_len;
  uint8_t *result; /* results JSON text or handler output (owned) */
  size_t result_len;
  char *error; /* owned, NULL when none */
  int status;  /* HTTP status the synchronous call would have had */
  char trace[56]; /* traceparent of the submitting request */
  int64_t created_at, started_at, finished_at; /* 0 when not yet */
};

/* Frees what a job record owns (not the struct itself). */
void tw__job_clear(struct tw__job *j);
int tw__db_job_insert(struct tw__db *db, const struct tw__job *j);
/* Writes state, result, error, status, started/finished times. */
int tw__db_job_update(struct tw__db *db, const struct tw__job *j);
/* Loads a job (with request and result); TW_ENOTFOUND. */
int tw__db_job_get(struct tw__db *db, const char *id, struct tw__job *j);
/* Jobs of a tenant (NULL: all), newest first, at most `limit`; request
 * and result are not loaded. */
int tw__db_job_each(struct tw__db *db, const char *tenant, int limit,
                    int (*fn)(void *ctx, const struct tw__job *j), void *ctx);
/* At start-up: every job left running is marked failed with `reason`;
 * returns how many through *n. */
int tw__db_job_fail_running(struct tw__db *db, const char *reason, int *n);
/* Queued jobs, oldest first (with request). */
int tw__db_job_each_queued(struct tw__db *db,
                           int (*fn)(void *ctx, const struct tw__job *j),
                           void *ctx);

/* ---- Artifact store ----
 *
 * Content-addressed files under DIR/ab/<64 hex digits> (the SHA-256 of the
 * payload), written atomically (temporary file, fsync, rename, fsync of
 * the directory). Each file is the payload followed by a trailer:
 *
 *   offset      size  meaning
 *   0           n     payload
 *   n           4     magic "TWA\x01" (the last byte is the format version)
 *   n+4         4     reserved, 0
 *   n+8         8     n, little-endian
 *   n+16        32    HMAC-SHA256(key, payload || bytes n..n+15)
 *
 * Reads check the trailer, the length, the HMAC (constant time) and the
 * digest; a file that fails any check is reported as TW_EIO, never used.
 * Bump the version byte for any change of this layout.
 */
#define TW_ARTIFACT_TRAILER 48

struct tw__artifacts;

/* Opens (creating) the store in dir with a 32-byte HMAC key (copied). */
int tw__art_open(const char *dir, const uint8_t key[32],
                 struct tw__artifacts **out, char *err, size_t errlen);
void tw__art_close(struct tw__artifacts *a);
/* Stores len bytes; writes the hex digest into digest (room for 65). */
int tw__art_put(struct tw__artifacts *a, const uint8_t *data, size_t len,
                char digest[65], char *err, size_t errlen);
/* Reads and verifies artifact `digest` (at most max bytes of payload);
 * *data is malloc'd, free with free(). */
int tw__art_get(struct tw__artifacts *a, const char *digest, size_t max,
                uint8_t **data, size_t *len, char *err, size_t errlen);
/* Removes an artifact (ENOENT is not an error). */
int tw__art_remove(struct tw__artifacts *a, const char *digest);

/* ---- The data directory's secret ----
 * DIR/secret.key: 32 random bytes made on first use (mode 0600). The
 * artifact HMAC key and the token pepper are derived from it with
 * distinct labels, so neither is ever stored. */
int tw__secret_load(const char *data_dir, uint8_t secret[32], char *err,
                    size_t errlen);
/* HMAC-SHA256(secret, label) */
void tw__secret_derive(const uint8_t secret[32], const char *label,
                       uint8_t out[32]);

#endif
