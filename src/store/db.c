/* The service's SQLite database: one connection in WAL mode behind one
 * mutex, schema migrations applied in order inside transactions (the
 * version lives in PRAGMA user_version), and the record functions the
 * service needs. Writes are rare (deploys, tokens, job transitions), so
 * statements are prepared per call; nothing here is on the invoke path.
 */
#include "store/store.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "base/base.h"

struct tw__db {
  sqlite3 *h;
  pthread_mutex_t mu;
  int version;
};

/* Migrations: entry i takes a database from version i to i+1. Append
 * only; TW_DB_SCHEMA_VERSION must equal the number of entries. */
static const char *const migrations[] = {
    /* 0 -> 1: the first schema. */
    "CREATE TABLE tenants("
    "  id TEXT PRIMARY KEY,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE tokens("
    "  id TEXT PRIMARY KEY,"
    "  hash BLOB NOT NULL UNIQUE,"
    "  tenant TEXT,"
    "  scopes TEXT NOT NULL,"
    "  revoked INTEGER NOT NULL DEFAULT 0,"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE functions("
    "  tenant TEXT NOT NULL,"
    "  name TEXT NOT NULL,"
    "  digest TEXT NOT NULL,"
    "  mode TEXT NOT NULL,"
    "  deadline_ms INTEGER NOT NULL,"
    "  memory_bytes INTEGER NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY(tenant, name));"
    "CREATE TABLE jobs("
    "  id TEXT PRIMARY KEY,"
    "  tenant TEXT NOT NULL,"
    "  function TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  request BLOB,"
    "  result BLOB,"
    "  error TEXT,"
    "  created_at INTEGER NOT NULL,"
    "  started_at INTEGER,"
    "  finished_at INTEGER);",
    /* 1 -> 2: tenant quotas, token rate limits, pool sizes, job status and
     * trace context, and an index for recovery at start-up. */
    "ALTER TABLE tenants ADD COLUMN max_functions INTEGER NOT NULL"
    "  DEFAULT 100;"
    "ALTER TABLE tenants ADD COLUMN max_instances INTEGER NOT NULL"
    "  DEFAULT 64;"
    "ALTER TABLE tenants ADD COLUMN max_memory_bytes INTEGER NOT NULL"
    "  DEFAULT 4294967296;"
    "ALTER TABLE tokens ADD COLUMN rate_qps REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE tokens ADD COLUMN rate_burst REAL NOT NULL DEFAULT 0;"
    "ALTER TABLE functions ADD COLUMN pool_size INTEGER NOT NULL DEFAULT 4;"
    "ALTER TABLE jobs ADD COLUMN status INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE jobs ADD COLUMN trace TEXT NOT NULL DEFAULT '';"
    "CREATE INDEX jobs_by_state ON jobs(state, created_at);"
    "CREATE INDEX jobs_by_tenant ON jobs(tenant, created_at);",
};

_Static_assert(sizeof migrations / sizeof migrations[0] ==
                   TW_DB_SCHEMA_VERSION,
               "one migration per schema version");

static int db_err(struct tw__db *db, int code, char *err, size_t errlen,
                  const char *what) {
  return tw__err(code, err, errlen, "%s: %s", what,
                 db && db->h ? sqlite3_errmsg(db->h) : "sqlite error");
}

static int exec(sqlite3 *h, const char *sql, char *err, size_t errlen) {
  char *msg = NULL;
  if (sqlite3_exec(h, sql, NULL, NULL, &msg) == SQLITE_OK) return 0;
  tw__err(TW_EIO, err, errlen, "database: %s", msg ? msg : "error");
  sqlite3_free(msg);
  return TW_EIO;
}

static int user_version(sqlite3 *h, int *v) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(h, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
    return TW_EIO;
  int rc = TW_EIO;
  if (sqlite3_step(st) == SQLITE_ROW) {
    *v = sqlite3_column_int(st, 0);
    rc = 0;
  }
  sqlite3_finalize(st);
  return rc;
}

static int migrate(struct tw__db *db, int target, char *err, size_t errlen) {
  int v;
  if (user_version(db->h, &v)) return db_err(db, TW_EIO, err, errlen, "schema");
  if (v > TW_DB_SCHEMA_VERSION)
    return tw__err(TW_EUNSUPPORTED, err, errlen,
                   "database schema version %d is newer than this build's %d",
                   v, TW_DB_SCHEMA_VERSION);
  while (v < target) {
    char sql[64];
    int rc = exec(db->h, "BEGIN IMMEDIATE", err, errlen);
    if (rc) return rc;
    rc = exec(db->h, migrations[v], err, errlen);
    snprintf(sql, sizeof sql, "PRAGMA user_version=%d", v + 1);
    if (!rc) rc = exec(db->h, sql, err, errlen);
    if (!rc) rc = exec(db->h, "COMMIT", err, errlen);
    if (rc) {
      char ignore[8];
      exec(db->h, "ROLLBACK", ignore, sizeof ignore);
      return rc;
    }
    v++;
  }
  db->version = v;
  return 0;
}

int tw__db_open_at(const char *path, int version, struct tw__db **out,
                   char *err, size_t errlen) {
  *out = NULL;
  if (version < 0 || version > TW_DB_SCHEMA_VERSION)
    return tw__err(TW_EINVAL, err, errlen, "no schema version %d", version);
  struct tw__db *db = tw__calloc(1, sizeof *db);
  if (!db) return tw__err(TW_ENOMEM, err, errlen, "out of memory");
  pthread_mutex_init(&db->mu, NULL);
  int rc;
  if (sqlite3_open_v2(path, &db->h,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                          SQLITE_OPEN_NOMUTEX,
                      NULL) != SQLITE_OK) {
    rc = tw__err(TW_EIO, err, errlen, "%s: %s", path,
                 db->h ? sqlite3_errmsg(db->h) : "cannot open");
    goto fail;
  }
  sqlite3_busy_timeout(db->h, 5000);
  /* WAL: readers never block the writer; NORMAL sync is durable across
   * process crashes (the service's failure mode) and cheap. */
  rc = exec(db->h,
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
            "PRAGMA foreign_keys=ON;",
            err, errlen);
  if (rc) goto fail;
  rc = migrate(db, version, err, errlen);
  if (rc) goto fail;
  *out = db;
  return 0;

fail:
  if (db->h) sqlite3_close(db->h);
  pthread_mutex_destroy(&db->mu);
  tw__free(db);
  return rc;
}

int tw__db_open(const char *path, struct tw__db **out, char *err,
                size_t errlen) {
  return tw__db_open_at(path, TW_DB_SCHEMA_VERSION, out, err, errlen);
}

void tw__db_close(struct tw__db *db) {
  if (!db) return;
  sqlite3_close(db->h);
  pthread_mutex_destroy(&db->mu);
  tw__free(db);
}

int tw__db_version(struct tw__db *db) { return db->version; }

/* ---- Small statement helpers (call with db->mu held) ---- */

static sqlite3_stmt *prep(struct tw__db *db, const char *sql) {
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v2(db->h, sql, -1, &st, NULL) != SQLITE_OK) return NULL;
  return st;
}

static void text_at(sqlite3_stmt *st, int col, char *dst, size_t cap) {
  const unsigned char *s = sqlite3_column_text(st, col);
  snprintf(dst, cap, "%s", s ? (const char *)s : "");
}

static uint8_t *blob_at(sqlite3_stmt *st, int col, size_t *len) {
  const void *p = sqlite3_column_blob(st, col);
  int n = sqlite3_column_bytes(st, col);
  *len = 0;
  if (!p || n <= 0) return NULL;
  uint8_t *b = tw__malloc((size_t)n);
  if (!b) return NULL;
  memcpy(b, p, (size_t)n);
  *len = (size_t)n;
  return b;
}

/* Runs a statement that returns no rows; 0 or TW_EIO. */
static int step_done(sqlite3_stmt *st) {
  int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : TW_EIO;
  sqlite3_finalize(st);
  return rc;
}

#define LOCK(db) pthread_mutex_lock(&(db)->mu)
#define UNLOCK(db) pthread_mutex_unlock(&(db)->mu)

/* ---- Tenants ---- */

int tw__db_tenant_put(struct tw__db *db, const struct tw__tenant *t) {
  LOCK(db);
  sqlite3_stmt *st = prep(
      db,
      "INSERT INTO tenants(id, created_at, max_functions, max_instances,"
      " max_memory_bytes) VALUES(?1, ?2, ?3, ?4, ?5)"
      " ON CONFLICT(id) DO UPDATE SET max_functions=?3, max_instances=?4,"
      " max_memory_bytes=?5");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_text(st, 1, t->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, t->created_at);
    sqlite3_bind_int64(st, 3, t->max_functions);
    sqlite3_bind_int64(st, 4, t->max_instances);
    sqlite3_bind_int64(st, 5, t->max_memory_bytes);
    rc = step_done(st);
  }
  UNLOCK(db);
  return rc;
}

static void tenant_row(sqlite3_stmt *st, struct tw__tenant *t) {
  text_at(st, 0, t->id, sizeof t->id);
  t->created_at = sqlite3_column_int64(st, 1);
  t->max_functions = sqlite3_column_int64(st, 2);
  t->max_instances = sqlite3_column_int64(st, 3);
  t->max_memory_bytes = sqlite3_column_int64(st, 4);
}

#define TENANT_COLS "id, created_at, max_functions, max_instances, " \
                    "max_memory_bytes"

int tw__db_tenant_get(struct tw__db *db, const char *id,
                      struct tw__tenant *t) {
  LOCK(db);
  sqlite3_stmt *st = prep(db, "SELECT " TENANT_COLS " FROM tenants WHERE id=?");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
      tenant_row(st, t);
      rc = 0;
    } else if (s == SQLITE_DONE) {
      rc = TW_ENOTFOUND;
    }
    sqlite3_finalize(st);
  }
  UNLOCK(db);
  return rc;
}

int tw__db_tenant_each(struct tw__db *db,
                       int (*fn)(void *ctx, const struct tw__tenant *t),
                       void *ctx) {
  LOCK(db);
  sqlite3_stmt *st = prep(db, "SELECT " TENANT_COLS " FROM tenants ORDER BY id");
  int rc = st ? 0 : TW_EIO;
  while (st) {
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
      if (s != SQLITE_DONE) rc = TW_EIO;
      break;
    }
    struct tw__tenant t;
    tenant_row(st, &t);
    if ((rc = fn(ctx, &t)) != 0) break;
  }
  sqlite3_finalize(st);
  UNLOCK(db);
  return rc;
}

/* ---- Scopes and tokens ---- */

static const struct {
  const char *name;
  uint32_t bit;
} scope_names[] = {
    {"read", TW_SCOPE_READ},
    {"invoke", TW_SCOPE_INVOKE},
    {"deploy", TW_SCOPE_DEPLOY},
    {"admin", TW_SCOPE_ADMIN},
};

int tw__scopes_parse(const char *s, uint32_t *out, char *err, size_t errlen) {
  *out = 0;
  while (*s) {
    while (*s == ' ' || *s == ',') s++;
    if (!*s) break;
    const char *e = s;
    while (*e && *e != ',' && *e != ' ') e++;
    size_t n = (size_t)(e - s);
    uint32_t bit = 0;
    for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++)
      if (strlen(scope_names[i].name) == n &&
          memcmp(scope_names[i].name, s, n) == 0)
        bit = scope_names[i].bit;
    if (!bit)
      return tw__err(TW_EINVAL, err, errlen,
                     "unknown scope '%.*s' (use admin, or any of deploy, "
                     "invoke, read)",
                     (int)(n > 32 ? 32 : n), s);
    *out |= bit;
    s = e;
  }
  if (!*out)
    return tw__err(TW_EINVAL, err, errlen, "no scope given");
  return 0;
}

void tw__scopes_format(uint32_t scopes, char *buf, size_t len) {
  size_t o = 0;
  buf[0] = '\0';
  if (scopes & TW_SCOPE_ADMIN) {
    snprintf(buf, len, "admin");
    return;
  }
  for (size_t i = 0; i < sizeof scope_names / sizeof scope_names[0]; i++) {
    if (!(scopes & scope_names[i].bit)) continue;
    int n = snprintf(buf + o, len - o, "%s%s", o ? "," : "",
                     scope_names[i].name);
    if (n < 0 || (size_t)n >= len - o) break;
    o += (size_t)n;
  }
}

int tw__db_token_insert(struct tw__db *db, const struct tw__token *t) {
  char scopes[40];
  tw__scopes_format(t->scopes, scopes, sizeof scopes);
  LOCK(db);
  sqlite3_stmt *st = prep(db,
                          "INSERT INTO tokens(id, hash, tenant, scopes, "
                          "revoked, created_at, rate_qps, rate_burst) "
                          "VALUES(?, ?, ?, ?, 0, ?, ?, ?)");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_text(st, 1, t->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 2, t->hash, 32, SQLITE_TRANSIENT);
    if (t->tenant[0])
      sqlite3_bind_text(st, 3, t->tenant, -1, SQLITE_TRANSIENT);
    else
      sqlite3_bind_null(st, 3);
    sqlite3_bind_text(st, 4, scopes, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, t->created_at);
    sqlite3_bind_double(st, 6, t->rate_qps);
    sqlite3_bind_double(st, 7, t->rate_burst);
    int s = sqlite3_step(st);
    rc = s == SQLITE_DONE ? 0 : s == SQLITE_CONSTRAINT ? TW_EEXISTS : TW_EIO;
    sqlite3_finalize(st);
  }
  UNLOCK(db);
  return rc;
}

int tw__db_token_find(struct tw__db *db, const uint8_t hash[32],
                      struct tw__token *t) {
  LOCK(db);
  sqlite3_stmt *st = prep(db,
                          "SELECT id, hash, tenant, scopes, revoked, "
                          "created_at, rate_qps, rate_burst FROM tokens "
                          "WHERE hash=? AND revoked=0");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_blob(st, 1, hash, 32, SQLITE_TRANSIENT);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW && sqlite3_column_bytes(st, 1) == 32) {
      memset(t, 0, sizeof *t);
      text_at(st, 0, t->id, sizeof t->id);
      memcpy(t->hash, sqlite3_column_blob(st, 1), 32);
      text_at(st, 2, t->tenant, sizeof t->tenant);
      char scopes[64], ignore[8];
      text_at(st, 3, scopes, sizeof scopes);
      if (tw__scopes_parse(scopes, &t->scopes, ignore, sizeof ignore))
        t->scopes = 0;
      t->revoked = sqlite3_column_int(st, 4) != 0;
      t->created_at = sqlite3_column_int64(st, 5);
      t->rate_qps = sqlite3_column_double(st, 6);
      t->rate_burst = sqlite3_column_double(st, 7);
      rc = 0;
    } else if (s == SQLITE_DONE || s == SQLITE_ROW) {
      rc = TW_ENOTFOUND;
    }
    sqlite3_finalize(st);
  }
  UNLOCK(db);
  return rc;
}

int tw__db_token_revoke(struct tw__db *db, const char *id) {
  LOCK(db);
  sqlite3_stmt *st = prep(db, "UPDATE tokens SET revoked=1 WHERE id=?");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : TW_EIO;
    if (!rc && sqlite3_changes(db->h) == 0) rc = TW_ENOTFOUND;
    sqlite3_finalize(st);
  }
  UNLOCK(db);
  return rc;
}

/* ---- Functions ---- */

#define FUNCTION_COLS                                                   \
  "tenant, name, digest, mode, deadline_ms, memory_bytes, pool_size, " \
  "size, created_at, updated_at"

static void function_row(sqlite3_stmt *st, struct tw__function *f) {
  memset(f, 0, sizeof *f);
  text_at(st, 0, f->tenant, sizeof f->tenant);
  text_at(st, 1, f->name, sizeof f->name);
  text_at(st, 2, f->digest, sizeof f->digest);
  text_at(st, 3, f->mode, sizeof f->mode);
  f->deadline_ms = (uint32_t)sqlite3_column_int64(st, 4);
  f->memory_bytes = (uint64_t)sqlite3_column_int64(st, 5);
  f->pool_size = (uint32_t)sqlite3_column_int64(st, 6);
  f->size = (uint64_t)sqlite3_column_int64(st, 7);
  f->created_at = sqlite3_column_int64(st, 8);
  f->updated_at = sqlite3_column_int64(st, 9);
}

int tw__db_function_put(struct tw__db *db, const struct tw__function *f,
                        bool *created) {
  LOCK(db);
  int rc = TW_EIO;
  *created = false;
  sqlite3_stmt *st =
      prep(db, "SELECT 1 FROM functions WHERE tenant=? AND name=?");
  if (st) {
    sqlite3_bind_text(st, 1, f->tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, f->name, -1, SQLITE_TRANSIENT);
    *created = sqlite3_step(st) == SQLITE_DONE;
    sqlite3_finalize(st);
  }
  st = prep(db,
            "INSERT INTO functions(" FUNCTION_COLS ") "
            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) "
            "ON CONFLICT(tenant, name) DO UPDATE SET digest=?3, mode=?4, "
            "deadline_ms=?5, memory_bytes=?6, pool_size=?7, size=?8, "
            "updated_at=?10");
  if (st) {
    sqlite3_bind_text(st, 1, f->tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, f->name, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, f->digest, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, f->mode, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 5, f->deadline_ms);
    sqlite3_bind_int64(st, 6, (sqlite3_int64)f->memory_bytes);
    sqlite3_bind_int64(st, 7, f->pool_size);
    sqlite3_bind_int64(st, 8, (sqlite3_int64)f->size);
    sqlite3_bind_int64(st, 9, f->created_at);
    sqlite3_bind_int64(st, 10, f->updated_at);
    rc = step_done(st);
  }
  UNLOCK(db);
  return rc;
}

int tw__db_function_get(struct tw__db *db, const char *tenant,
                        const char *name, struct tw__function *f) {
  LOCK(db);
  sqlite3_stmt *st = prep(db, "SELECT " FUNCTION_COLS
                              " FROM functions WHERE tenant=? AND name=?");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
      function_row(st, f);
      rc = 0;
    } else if (s == SQLITE_DONE) {
      rc = TW_ENOTFOUND;
    }
    sqlite3_finalize(st);
  }
  UNLOCK(db);
  return rc;
}

int tw__db_function_delete(struct tw__db *db, const char *tenant,
                           const char *name) {
  LOCK(db);
  sqlite3_stmt *st =
      prep(db, "DELETE FROM functions WHERE tenant=? AND name=?");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : TW_EIO;
    if (!rc && sqlite3_changes(db->h) == 0) rc = TW_ENOTFOUND;
    sqlite3_finalize(st);
  }
  UNLOCK(db);
  return rc;
}

int tw__db_function_each(struct tw__db *db, const char *tenant,
                         int (*fn)(void *ctx, const struct tw__function *f),
                         void *ctx) {
  LOCK(db);
  sqlite3_stmt *st = prep(
      db, tenant ? "SELECT " FUNCTION_COLS
                   " FROM functions WHERE tenant=? ORDER BY tenant, name"
                 : "SELECT " FUNCTION_COLS
                   " FROM functions ORDER BY tenant, name");
  int rc = st ? 0 : TW_EIO;
  if (st && tenant) sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
  while (st) {
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
      if (s != SQLITE_DONE) rc = TW_EIO;
      break;
    }
    struct tw__function f;
    function_row(st, &f);
    if ((rc = fn(ctx, &f)) != 0) break;
  }
  sqlite3_finalize(st);
  UNLOCK(db);
  return rc;
}

int tw__db_function_count(struct tw__db *db, const char *tenant,
                          int64_t *out) {
  LOCK(db);
  sqlite3_stmt *st = prep(db, "SELECT count(*) FROM functions WHERE tenant=?");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    if (sqlite3_step(st) == SQLITE_ROW) {
      *out = sqlite3_column_int64(st, 0);
      rc = 0;
    }
    sqlite3_finalize(st);
  }
  UNLOCK(db);
  return rc;
}

bool tw__db_digest_in_use(struct tw__db *db, const char *digest) {
  LOCK(db);
  sqlite3_stmt *st = prep(db, "SELECT 1 FROM functions WHERE digest=? LIMIT 1");
  bool used = true; /* on error, keep the artifact */
  if (st) {
    sqlite3_bind_text(st, 1, digest, -1, SQLITE_TRANSIENT);
    used = sqlite3_step(st) != SQLITE_DONE;
    sqlite3_finalize(st);
  }
  UNLOCK(db);
  return used;
}

/* ---- Jobs ---- */

static const char *const job_states[] = {"queued", "running", "succeeded",
                                         "failed", "cancelled"};

const char *tw__job_state_name(tw__job_state_t s) {
  return (unsigned)s < sizeof job_states / sizeof job_states[0]
             ? job_states[s]
             : "unknown";
}

static tw__job_state_t job_state_parse(const char *s) {
  for (size_t i = 0; i < sizeof job_states / sizeof job_states[0]; i++)
    if (strcmp(s, job_states[i]) == 0) return (tw__job_state_t)i;
  return TW_JOB_FAILED;
}

void tw__job_clear(struct tw__job *j) {
  tw__free(j->request);
  tw__free(j->result);
  tw__free(j->error);
  j->request = j->result = NULL;
  j->error = NULL;
  j->request_len = j->result_len = 0;
}

static void bind_blob_or_null(sqlite3_stmt *st, int i, const uint8_t *p,
                              size_t n) {
  if (p && n)
    sqlite3_bind_blob64(st, i, p, n, SQLITE_TRANSIENT);
  else
    sqlite3_bind_null(st, i);
}

int tw__db_job_insert(struct tw__db *db, const struct tw__job *j) {
  LOCK(db);
  sqlite3_stmt *st =
      prep(db,
           "INSERT INTO jobs(id, tenant, function, state, request, "
           "created_at, trace) VALUES(?, ?, ?, ?, ?, ?, ?)");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_text(st, 1, j->id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, j->tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 3, j->function, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 4, tw__job_state_name(j->state), -1, SQLITE_STATIC);
    bind_blob_or_null(st, 5, j->request, j->request_len);
    sqlite3_bind_int64(st, 6, j->created_at);
    sqlite3_bind_text(st, 7, j->trace, -1, SQLITE_TRANSIENT);
    rc = step_done(st);
  }
  UNLOCK(db);
  return rc;
}

int tw__db_job_update(struct tw__db *db, const struct tw__job *j) {
  LOCK(db);
  sqlite3_stmt *st = prep(db,
                          "UPDATE jobs SET state=?, result=?, error=?, "
                          "status=?, started_at=?, finished_at=? WHERE id=?");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_text(st, 1, tw__job_state_name(j->state), -1, SQLITE_STATIC);
    bind_blob_or_null(st, 2, j->result, j->result_len);
    if (j->error)
      sqlite3_bind_text(st, 3, j->error, -1, SQLITE_TRANSIENT);
    else
      sqlite3_bind_null(st, 3);
    sqlite3_bind_int(st, 4, j->status);
    sqlite3_bind_int64(st, 5, j->started_at);
    sqlite3_bind_int64(st, 6, j->finished_at);
    sqlite3_bind_text(st, 7, j->id, -1, SQLITE_TRANSIENT);
    rc = step_done(st);
  }
  UNLOCK(db);
  return rc;
}

#define JOB_COLS                                                        \
  "id, tenant, function, state, status, trace, error, created_at, "     \
  "started_at, finished_at"

static void job_row(sqlite3_stmt *st, struct tw__job *j) {
  char state[16];
  memset(j, 0, sizeof *j);
  text_at(st, 0, j->id, sizeof j->id);
  text_at(st, 1, j->tenant, sizeof j->tenant);
  text_at(st, 2, j->function, sizeof j->function);
  text_at(st, 3, state, sizeof state);
  j->state = job_state_parse(state);
  j->status = sqlite3_column_int(st, 4);
  text_at(st, 5, j->trace, sizeof j->trace);
  const unsigned char *e = sqlite3_column_text(st, 6);
  j->error = e ? tw__strndup((const char *)e, strlen((const char *)e)) : NULL;
  j->created_at = sqlite3_column_int64(st, 7);
  j->started_at = sqlite3_column_int64(st, 8);
  j->finished_at = sqlite3_column_int64(st, 9);
}

int tw__db_job_get(struct tw__db *db, const char *id, struct tw__job *j) {
  LOCK(db);
  sqlite3_stmt *st = prep(db, "SELECT " JOB_COLS
                              ", request, result FROM jobs WHERE id=?");
  int rc = TW_EIO;
  if (st) {
    sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
      job_row(st, j);
      j->request = blob_at(st, 10, &j->request_len);
      j->result = blob_at(st, 11, &j->result_len);
      rc = 0;
    } else if (s == SQLITE_DONE) {
      rc = TW_ENOTFOUND;
    }
    sqlite3_finalize(st);
  }
  UNLOCK(db);
  return rc;
}

int tw__db_job_each(struct tw__db *db, const char *tenant, int limit,
                    int (*fn)(void *ctx, const struct tw__job *j),
                    void *ctx) {
  LOCK(db);
  sqlite3_stmt *st = prep(
      db, tenant ? "SELECT " JOB_COLS " FROM jobs WHERE tenant=?1 "
                   "ORDER BY created_at DESC, id LIMIT ?2"
                 : "SELECT " JOB_COLS " FROM jobs "
                   "ORDER BY created_at DESC, id LIMIT ?2");
  int rc = st ? 0 : TW_EIO;
  if (st) {
    if (tenant) sqlite3_bind_text(st, 1, tenant, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(st, 2, limit);
  }
  while (st) {
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
      if (s != SQLITE_DONE) rc = TW_EIO;
      break;
    }
    struct tw__job j;
    job_row(st, &j);
    rc = fn(ctx, &j);
    tw__job_clear(&j);
    if (rc) break;
  }
  sqlite3_finalize(st);
  UNLOCK(db);
  return rc;
}

int tw__db_job_fail_running(struct tw__db *db, const char *reason, int *n) {
  LOCK(db);
  sqlite3_stmt *st = prep(db,
                          "UPDATE jobs SET state='failed', error=?, "
                          "finished_at=? WHERE state='running'");
  int rc = TW_EIO;
  *n = 0;
  if (st) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    sqlite3_bind_text(st, 1, reason, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2,
                       (sqlite3_int64)ts.tv_sec * 1000 + ts.tv_nsec / 1000000);
    rc = sqlite3_step(st) == SQLITE_DONE ? 0 : TW_EIO;
    if (!rc) *n = sqlite3_changes(db->h);
    sqlite3_finalize(st);
  }
  UNLOCK(db);
  return rc;
}

int tw__db_job_each_queued(struct tw__db *db,
                           int (*fn)(void *ctx, const struct tw__job *j),
                           void *ctx) {
  LOCK(db);
  sqlite3_stmt *st = prep(db, "SELECT " JOB_COLS ", request FROM jobs "
                              "WHERE state='queued' ORDER BY created_at, id");
  int rc = st ? 0 : TW_EIO;
  while (st) {
    int s = sqlite3_step(st);
    if (s != SQLITE_ROW) {
      if (s != SQLITE_DONE) rc = TW_EIO;
      break;
    }
    struct tw__job j;
    job_row(st, &j);
    j.request = blob_at(st, 10, &j.request_len);
    rc = fn(ctx, &j);
    tw__job_clear(&j);
    if (rc) break;
  }
  sqlite3_finalize(st);
  UNLOCK(db);
  return rc;
}
