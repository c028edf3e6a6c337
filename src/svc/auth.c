/* Tokens, scopes, rate limits and tenants' run-time counters.
 * Secrets: a token is "twk_" + 43 base64url characters (32 random bytes);
 * only HMAC-SHA256(pepper, token) is stored or kept in memory, looked up
 * by its leading bytes and confirmed with a constant-time comparison.
 * Nothing here logs a secret.
 */
#include "svc/svc_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SHA256_Init/Update/Final: see token_mac_new. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>

#define TOKEN_PREFIX "twk_"
/* Longest bearer value looked at; anything longer is not a token. */
#define TOKEN_MAX 256

/* HMAC-SHA256 keyed with the pepper (RFC 2104), as the two SHA-256
 * states after the padded key blocks, computed once: a token's hash is
 * then two struct copies and three compression rounds, with no allocation
 * and no lock. The result is the same HMAC as tw__hmac_sha256 (the
 * offline `token create` uses that). Copying the keyed EVP_MAC context
 * per request, as before, cost ~2.5 us in allocations and frees, 6% of the
 * CPU of a trivial invoke. The low-level SHA256_* calls are deprecated in
 * OpenSSL 3 but kept (3.x), and are the only way to copy a digest state
 * without an allocation; the states are only read after start-up, so any
 * thread may copy them. */
struct tok_mac {
  SHA256_CTX inner, outer;
};

static struct tok_mac *token_mac_new(const uint8_t pepper[32]) {
  struct tok_mac *m = tw__malloc(sizeof *m);
  if (!m) return NULL;
  uint8_t pad[SHA256_CBLOCK];
  memset(pad, 0, sizeof pad);
  memcpy(pad, pepper, 32);
  for (size_t i = 0; i < sizeof pad; i++) pad[i] ^= 0x36;
  SHA256_Init(&m->inner);
  SHA256_Update(&m->inner, pad, sizeof pad);
  for (size_t i = 0; i < sizeof pad; i++) pad[i] ^= 0x36 ^ 0x5c;
  SHA256_Init(&m->outer);
  SHA256_Update(&m->outer, pad, sizeof pad);
  OPENSSL_cleanse(pad, sizeof pad);
  return m;
}

static void token_hash(const struct tw__svc *svc, const char *secret,
                       size_t len, uint8_t out[32]) {
  const struct tok_mac *m = svc->tok_mac;
  if (!m) {
    tw__hmac_sha256(svc->pepper, sizeof svc->pepper, secret, len, out);
    return;
  }
  uint8_t inner[SHA256_DIGEST_LENGTH];
  SHA256_CTX c = m->inner;
  SHA256_Update(&c, secret, len);
  SHA256_Final(inner, &c);
  c = m->outer;
  SHA256_Update(&c, inner, sizeof inner);
  SHA256_Final(out, &c);
  OPENSSL_cleanse(&c, sizeof c);
  OPENSSL_cleanse(inner, sizeof inner);
}

static size_t bucket_of(const uint8_t hash[32]) {
  return ((size_t)hash[0] | (size_t)hash[1] << 8) % SVC_BUCKETS;
}

/* Adds a token to the cache (caller holds toks_mu for writing). */
static struct tw__tok *cache_add(struct tw__svc *svc,
                                 const struct tw__token *rec) {
  struct tw__tok *t = tw__calloc(1, sizeof *t);
  if (!t) return NULL;
  t->rec = *rec;
  atomic_store(&t->revoked, rec->revoked);
  pthread_mutex_init(&t->mu, NULL);
  t->tokens = rec->rate_burst > 0 ? rec->rate_burst : rec->rate_qps;
  t->last_ns = tw__now_ns();
  size_t b = bucket_of(rec->hash);
  t->next = svc->toks[b];
  svc->toks[b] = t;
  return t;
}

static struct tw__tok *cache_find(struct tw__svc *svc,
                                  const uint8_t hash[32]) {
  for (struct tw__tok *t = svc->toks[bucket_of(hash)]; t; t = t->next)
    if (tw__ct_equal(t->rec.hash, hash, 32)) return t;
  return NULL;
}

int svc_tokens_bootstrap(struct tw__svc *svc) {
  /* TENSOR_WASM_API_TOKENS: comma-separated admin tokens; the tokens
   * file: one per line ('#' comments). Neither is stored anywhere. */
  if (!svc->tok_mac) svc->tok_mac = token_mac_new(svc->pepper);
  char *list = NULL;
  const char *env = getenv("TENSOR_WASM_API_TOKENS");
  size_t cap = (env ? strlen(env) : 0) + 2;
  FILE *f = NULL;
  if (svc->cfg.tokens_file[0]) {
    f = fopen(svc->cfg.tokens_file, "r");
    if (!f) return TW_EIO;
    cap += 65536;
  }
  list = tw__calloc(1, cap);
  if (!list) {
    if (f) fclose(f);
    return TW_ENOMEM;
  }
  size_t o = 0;
  if (env) o += (size_t)snprintf(list, cap, "%s,", env);
  if (f) {
    char line[TOKEN_MAX + 8];
    while (fgets(line, sizeof line, f)) {
      size_t n = strcspn(line, "\r\n");
      line[n] = '\0';
      if (line[0] == '#' || n == 0) continue;
      if (o + n + 2 > cap) break;
      memcpy(list + o, line, n);
      o += n;
      list[o++] = ',';
    }
    fclose(f);
  }
  list[o] = '\0';
  int count = 0;
  pthread_rwlock_wrlock(&svc->toks_mu);
  for (char *save = NULL, *tok = strtok_r(list, ", \t", &save); tok;
       tok = strtok_r(NULL, ", \t", &save)) {
    size_t n = strlen(tok);
    if (n < 16 || n > TOKEN_MAX) {
      tw__log(TW_LOG_WARN, NULL,
              "bootstrap token %d ignored: it must have 16 to %d characters",
              count + 1, TOKEN_MAX);
      continue;
    }
    struct tw__token rec;
    memset(&rec, 0, sizeof rec);
    snprintf(rec.id, sizeof rec.id, "bootstrap-%d", ++count);
    token_hash(svc, tok, n, rec.hash);
    rec.scopes = TW_SCOPE_ADMIN;
    if (!cache_find(svc, rec.hash)) cache_add(svc, &rec);
  }
  pthread_rwlock_unlock(&svc->toks_mu);
  memset(list, 0, cap);
  tw__free(list);
  if (count)
    tw__log(TW_LOG_INFO, NULL, "%d bootstrap admin token(s) loaded", count);
  return 0;
}

void svc_tokens_free(struct tw__svc *svc) {
  if (svc->tok_mac) {
    OPENSSL_cleanse(svc->tok_mac, sizeof(struct tok_mac));
    tw__free(svc->tok_mac);
    svc->tok_mac = NULL;
  }
  for (size_t b = 0; b < SVC_BUCKETS; b++) {
    struct tw__tok *t = svc->toks[b];
    while (t) {
      struct tw__tok *next = t->next;
      pthread_mutex_destroy(&t->mu);
      memset(t, 0, sizeof *t);
      tw__free(t);
      t = next;
    }
    svc->toks[b] = NULL;
  }
}

int tw__svc_authenticate(struct tw__svc *svc, const char *secret,
                         size_t len, struct tw__principal *p) {
  if (len < 16 || len > TOKEN_MAX) return TW_ENOTFOUND;
  uint8_t hash[32];
  token_hash(svc, secret, len, hash);
  pthread_rwlock_rdlock(&svc->toks_mu);
  struct tw__tok *t = cache_find(svc, hash);
  pthread_rwlock_unlock(&svc->toks_mu);
  if (!t) {
    /* Not seen yet (created by another process, e.g. the offline `token
     * create`): ask the database once, then cache. */
    struct tw__token rec;
    if (tw__db_token_find(svc->db, hash, &rec) != 0) return TW_ENOTFOUND;
    pthread_rwlock_wrlock(&svc->toks_mu);
    t = cache_find(svc, hash);
    if (!t) t = cache_add(svc, &rec);
    pthread_rwlock_unlock(&svc->toks_mu);
    if (!t) return TW_ENOMEM;
  }
  if (atomic_load(&t->revoked)) return TW_ENOTFOUND;
  p->tok = t;
  p->id = t->rec.id;
  p->tenant = t->rec.tenant;
  p->scopes = t->rec.scopes;
  return 0;
}

int tw__svc_rate_take(struct tw__svc *svc, const struct tw__principal *p,
                      uint32_t *retry_after) {
  (void)svc;
  struct tw__tok *t = p->tok;
  double qps = t->rec.rate_qps;
  if (qps <= 0) return 0;
  double burst = t->rec.rate_burst > 0 ? t->rec.rate_burst : qps;
  int rc = 0;
  pthread_mutex_lock(&t->mu);
  uint64_t now = tw__now_ns();
  t->tokens += (double)(now - t->last_ns) * 1e-9 * qps;
  if (t->tokens > burst) t->tokens = burst;
  t->last_ns = now;
  if (t->tokens >= 1) {
    t->tokens -= 1;
  } else {
    double wait = (1 - t->tokens) / qps;
    *retry_after = (uint32_t)ceil(wait < 1 ? 1 : wait > 3600 ? 3600 : wait);
    rc = TW_ELIMIT;
  }
  pthread_mutex_unlock(&t->mu);
  return rc;
}

bool tw__svc_allowed(const struct tw__principal *p, uint32_t scope,
                     const char *tenant) {
  if (p->scopes & TW_SCOPE_ADMIN) return true;
  if (!(p->scopes & scope)) return false;
  return tenant && p->tenant[0] && strcmp(p->tenant, tenant) == 0;
}

/* ---- Token creation ---- */

static void base64url(const uint8_t *in, size_t n, char *out) {
  static const char a[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    acc = (acc << 8) | in[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out[o++] = a[(acc >> bits) & 63];
    }
  }
  if (bits) out[o++] = a[(acc << (6 - bits)) & 63];
  out[o] = '\0';
}

/* Makes a token record and secret; fills rec (not stored). */
static int make_token(const uint8_t pepper[32], const char *tenant,
                      uint32_t scopes, double qps, double burst,
                      struct tw__token *rec, char secret[64], char *err,
                      size_t errlen) {
  uint8_t raw[32], idb[6];
  if (tw__rand_bytes(raw, sizeof raw) || tw__rand_bytes(idb, sizeof idb))
    return tw__err(TW_EIO, err, errlen, "no randomness");
  memcpy(secret, TOKEN_PREFIX, 4);
  base64url(raw, sizeof raw, secret + 4);
  memset(raw, 0, sizeof raw);
  memset(rec, 0, sizeof *rec);
  char idhex[13];
  tw__hex(idb, sizeof idb, idhex);
  snprintf(rec->id, sizeof rec->id, "tok_%s", idhex);
  tw__hmac_sha256(pepper, 32, secret, strlen(secret), rec->hash);
  snprintf(rec->tenant, sizeof rec->tenant, "%s", tenant ? tenant : "");
  rec->scopes = scopes;
  rec->rate_qps = qps;
  rec->rate_burst = burst;
  rec->created_at = svc_now_ms();
  return 0;
}

static int check_token_args(const char *tenant, uint32_t scopes, char *err,
                            size_t errlen) {
  if (scopes & TW_SCOPE_ADMIN) {
    if (tenant && tenant[0])
      return tw__err(TW_EINVAL, err, errlen,
                     "admin tokens belong to no tenant");
    return 0;
  }
  if (!tenant || !tw__svc_valid_name(tenant, strlen(tenant)))
    return tw__err(TW_EINVAL, err, errlen,
                   "a tenant name is required: 1 to 64 of [A-Za-z0-9_.-], "
                   "starting with a letter or digit");
  return 0;
}

static void default_tenant(struct tw__tenant *t, const char *id,
                           const struct tw__svc_config *cfg) {
  memset(t, 0, sizeof *t);
  snprintf(t->id, sizeof t->id, "%s", id);
  t->max_functions = cfg->tenant_max_functions;
  t->max_instances = cfg->tenant_max_instances;
  t->max_memory_bytes = cfg->tenant_max_memory_bytes;
  t->created_at = svc_now_ms();
}

int tw__svc_token_create(struct tw__svc *svc, const char *tenant,
                         uint32_t scopes, double qps, double burst,
                         struct tw__token *rec, char secret[64], char *err,
                         size_t errlen) {
  int rc = check_token_args(tenant, scopes, err, errlen);
  if (rc) return rc;
  if (qps < 0) qps = svc->cfg.token_rate_qps;
  if (burst < 0) burst = svc->cfg.token_rate_burst;
  if (!(scopes & TW_SCOPE_ADMIN)) {
    struct tw__tenant t;
    if (tw__db_tenant_get(svc->db, tenant, &t) == TW_ENOTFOUND) {
      default_tenant(&t, tenant, &svc->cfg);
      bool created;
      if ((rc = tw__svc_tenant_put(svc, &t, &created)) != 0)
        return tw__err(rc, err, errlen, "cannot create tenant");
    }
  }
  rc = make_token(svc->pepper, tenant, scopes, qps, burst, rec, secret, err,
                  errlen);
  if (rc) return rc;
  rc = tw__db_token_insert(svc->db, rec);
  if (rc) return tw__err(rc, err, errlen, "cannot store the token");
  pthread_rwlock_wrlock(&svc->toks_mu);
  if (!cache_find(svc, rec->hash)) cache_add(svc, rec);
  pthread_rwlock_unlock(&svc->toks_mu);
  return 0;
}

int tw__svc_token_revoke(struct tw__svc *svc, const char *id) {
  int rc = tw__db_token_revoke(svc->db, id);
  if (rc) return rc;
  pthread_rwlock_rdlock(&svc->toks_mu);
  for (size_t b = 0; b < SVC_BUCKETS; b++)
    for (struct tw__tok *t = svc->toks[b]; t; t = t->next)
      if (strcmp(t->rec.id, id) == 0) atomic_store(&t->revoked, true);
  pthread_rwlock_unlock(&svc->toks_mu);
  return 0;
}

int tw__token_create_offline(const char *data_dir, const char *tenant,
                             uint32_t scopes, double qps, double burst,
                             struct tw__token *rec, char secret[64],
                             char *err, size_t errlen) {
  int rc = check_token_args(tenant, scopes, err, errlen);
  if (rc) return rc;
  struct tw__svc_config cfg;
  tw__svc_config_default(&cfg);
  if (qps < 0) qps = cfg.token_rate_qps;
  if (burst < 0) burst = cfg.token_rate_burst;
  uint8_t s[32], pepper[32];
  rc = tw__secret_load(data_dir, s, err, errlen);
  if (rc) return rc;
  tw__secret_derive(s, "tensor-wasm token pepper v1", pepper);
  memset(s, 0, sizeof s);
  char path[1200];
  snprintf(path, sizeof path, "%s/tensor-wasm.db", data_dir);
  struct tw__db *db;
  rc = tw__db_open(path, &db, err, errlen);
  if (rc) goto done;
  if (!(scopes & TW_SCOPE_ADMIN)) {
    struct tw__tenant t;
    if (tw__db_tenant_get(db, tenant, &t) == TW_ENOTFOUND) {
      default_tenant(&t, tenant, &cfg);
      rc = tw__db_tenant_put(db, &t);
    }
  }
  if (!rc)
    rc = make_token(pepper, tenant, scopes, qps, burst, rec, secret, err,
                    errlen);
  if (!rc && (rc = tw__db_token_insert(db, rec)) != 0)
    tw__err(rc, err, errlen, "cannot store the token");
  tw__db_close(db);
done:
  memset(pepper, 0, sizeof pepper);
  return rc;
}

/* ---- Tenants ---- */

struct svc_tenant *svc_tenant_rt(struct tw__svc *svc, const char *id) {
  pthread_mutex_lock(&svc->tenants_mu);
  struct svc_tenant *t;
  for (t = svc->tenants; t; t = t->next)
    if (strcmp(t->rec.id, id) == 0) break;
  if (!t) {
    struct tw__tenant rec;
    if (tw__db_tenant_get(svc->db, id, &rec) != 0)
      default_tenant(&rec, id, &svc->cfg);
    t = tw__calloc(1, sizeof *t);
    if (t) {
      t->rec = rec;
      t->next = svc->tenants;
      svc->tenants = t;
    }
  }
  pthread_mutex_unlock(&svc->tenants_mu);
  return t;
}

void svc_tenants_free(struct tw__svc *svc) {
  struct svc_tenant *t = svc->tenants;
  while (t) {
    struct svc_tenant *next = t->next;
    tw__free(t);
    t = next;
  }
  svc->tenants = NULL;
}

int tw__svc_tenant_get(struct tw__svc *svc, const char *id,
                       struct tw__tenant *t) {
  return tw__db_tenant_get(svc->db, id, t);
}

int tw__svc_tenant_put(struct tw__svc *svc, const struct tw__tenant *t,
                       bool *created) {
  struct tw__tenant old;
  *created = tw__db_tenant_get(svc->db, t->id, &old) == TW_ENOTFOUND;
  struct tw__tenant rec = *t;
  rec.created_at = *created ? svc_now_ms() : old.created_at;
  int rc = tw__db_tenant_put(svc->db, &rec);
  if (rc) return rc;
  /* Update the run-time copy's quotas (counters stay). */
  pthread_mutex_lock(&svc->tenants_mu);
  for (struct svc_tenant *r = svc->tenants; r; r = r->next)
    if (strcmp(r->rec.id, rec.id) == 0) r->rec = rec;
  pthread_mutex_unlock(&svc->tenants_mu);
  return 0;
}

int tw__svc_tenant_each(struct tw__svc *svc,
                        int (*fn)(void *ctx, const struct tw__tenant *t),
                        void *ctx) {
  return tw__db_tenant_each(svc->db, fn, ctx);
}
