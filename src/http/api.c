/* The /v1 routes and /metrics: authentication (bearer token), the rate
 * limit, scope and tenant checks, then one handler per route. JSON in and
 * out with jansson; the shapes are the schemas of docs/openapi.yaml.
 * A tenant token only ever names its own tenant: ?tenant= naming another
 * is refused (403), and jobs of other tenants read as absent (404).
 */
#include "http/http_int.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#ifndef TW_VERSION_STRING
#define TW_VERSION_STRING "0.1.0"
#endif

/* How long a synchronous invocation may run on an event thread before it
 * is run again on a worker (tw__svc_invoke_inline). */
#define INLINE_BUDGET_MS 1

/* ---- Small helpers ---- */

static json_t *time_json(int64_t ms) {
  if (ms <= 0) return json_null();
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  char buf[40];
  gmtime_r(&s, &tm);
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof buf - n, ".%03dZ", (int)(ms % 1000));
  return json_string(buf);
}

/* Strict decimal in [0, max]; false on anything else. */
static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
  if (!s || !*s || strlen(s) > 20) return false;
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9') return false;
  errno = 0;
  unsigned long long v = strtoull(s, NULL, 10);
  if (errno || v > max) return false;
  *out = v;
  return true;
}

static bool same_route_method(struct http_req *r, enum http_method m) {
  return r->method == m || (m == M_GET && r->method == M_HEAD);
}

static enum MHD_Result not_allowed(struct http_req *r, const char *allow) {
  size_t len;
  char msg[96];
  snprintf(msg, sizeof msg, "allowed methods: %s", allow);
  char *body = tw__error_json("method_not_allowed", msg, &len);
  return tw__http_respond(r, 405, "application/json", body, len, "Allow",
                          allow, (const char *)NULL);
}

static enum MHD_Result forbidden(struct http_req *r) {
  return tw__http_error(r, 403, "forbidden",
                        "the token does not allow this on this tenant");
}

/* The tenant a request acts on: ?tenant= or the token's own. For tenant
 * tokens naming another tenant, answers 403 and returns NULL; for admin
 * tokens without ?tenant=, returns "" (meaning all, where that makes
 * sense). Invalid names get 400. */
static const char *tenant_of(struct http_req *r, bool *answered,
                             enum MHD_Result *ret) {
  *answered = false;
  const char *q = tw__http_arg(r, "tenant");
  if (q) {
    if (!tw__svc_valid_name(q, strlen(q))) {
      *answered = true;
      *ret = tw__http_error(r, 400, "bad_request",
                            "tenant must be 1 to 64 of [A-Za-z0-9_.-]");
      return NULL;
    }
    if (!(r->who.scopes & TW_SCOPE_ADMIN) && strcmp(q, r->who.tenant) != 0) {
      *answered = true;
      *ret = forbidden(r);
      return NULL;
    }
    return q;
  }
  return r->who.tenant;
}

/* As tenant_of, but an admin must name the tenant. */
static const char *tenant_required(struct http_req *r, bool *answered,
                                   enum MHD_Result *ret) {
  const char *t = tenant_of(r, answered, ret);
  if (t && !t[0]) {
    *answered = true;
    *ret = tw__http_error(r, 400, "bad_request",
                          "admin tokens must name the tenant: ?tenant=NAME");
    return NULL;
  }
  return t;
}

static bool need(struct http_req *r, uint32_t scope, const char *tenant) {
  return tw__svc_allowed(&r->who, scope, tenant);
}

static void audit(struct http_req *r, const char *action, const char *target,
                  const char *outcome) {
  tw__audit(r->h->svc, &r->rc, action, target, outcome);
}

/* ---- Functions ---- */

static json_t *function_json(const struct tw__function *f) {
  return json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:o,s:o}", "tenant",
                   f->tenant, "name", f->name, "digest", f->digest, "mode",
                   f->mode, "deadline_ms", (json_int_t)f->deadline_ms,
                   "memory_bytes", (json_int_t)f->memory_bytes, "pool_size",
                   (json_int_t)f->pool_size, "size", (json_int_t)f->size,
                   "created_at", time_json(f->created_at), "updated_at",
                   time_json(f->updated_at));
}

static int add_function(void *ctx, const struct tw__function *f) {
  json_array_append_new(ctx, function_json(f));
  return 0;
}

static enum MHD_Result functions_list(struct http_req *r) {
  bool done;
  enum MHD_Result ret = MHD_NO;
  const char *t = tenant_of(r, &done, &ret);
  if (done) return ret;
  if (!need(r, TW_SCOPE_READ, t)) return forbidden(r);
  json_t *arr = json_array();
  tw__svc_function_each(r->h->svc, t[0] ? t : NULL, add_function, arr);
  return tw__http_json(r, 200, json_pack("{s:o}", "functions", arr), NULL);
}

static enum MHD_Result function_get(struct http_req *r, const char *t) {
  struct tw__function f;
  if (tw__svc_function_get(r->h->svc, t, r->param, &f) != 0)
    return tw__http_error(r, 404, "not_found", "no function '%s'", r->param);
  json_t *o = function_json(&f);
  char *ex = tw__svc_function_exports_json(r->h->svc, t, r->param);
  json_t *exj = ex ? json_loads(ex, 0, NULL) : NULL;
  free(ex);
  json_object_set_new(o, "exports", exj ? exj : json_array());
  return tw__http_json(r, 200, o, NULL);
}

static enum MHD_Result function_deploy(struct http_req *r, const char *t) {
  struct tw__deploy d;
  memset(&d, 0, sizeof d);
  d.tenant = t;
  d.name = r->param;
  d.bytes = r->body;
  d.len = r->len;
  d.mode = tw__http_arg(r, "mode");
  d.pool_size = -1;
  uint64_t v;
  const char *s;
  if ((s = tw__http_arg(r, "deadline_ms"))) {
    if (!parse_u64(s, UINT32_MAX, &v) || v == 0)
      return tw__http_error(r, 400, "bad_request",
                            "deadline_ms must be a positive integer");
    d.deadline_ms = (uint32_t)v;
  }
  if ((s = tw__http_arg(r, "memory_bytes"))) {
    if (!parse_u64(s, UINT64_MAX / 2, &v) || v == 0)
      return tw__http_error(r, 400, "bad_request",
                            "memory_bytes must be a positive integer");
    d.memory_bytes = v;
  }
  if ((s = tw__http_arg(r, "pool_size"))) {
    if (!parse_u64(s, 1u << 20, &v))
      return tw__http_error(r, 400, "bad_request",
                            "pool_size must be a non-negative integer");
    d.pool_size = (int64_t)v;
  }
  struct tw__function f;
  struct tw__status st;
  bool created = false;
  char target[2 * TW_ID_MAX + 2];
  snprintf(target, sizeof target, "%s/%s", t, r->param);
  if (tw__svc_deploy(r->h->svc, &d, &f, &created, &st) != 0) {
    audit(r, "function.deploy", target, "refused");
    return tw__http_error(r, st.http, st.code, "%s", st.message);
  }
  audit(r, "function.deploy", target, created ? "created" : "replaced");
  char loc[128];
  snprintf(loc, sizeof loc, "/v1/functions/%s", f.name);
  return tw__http_json(r, created ? 201 : 200, function_json(&f), loc);
}

static enum MHD_Result function_delete(struct http_req *r, const char *t) {
  struct tw__status st;
  char target[2 * TW_ID_MAX + 2];
  snprintf(target, sizeof target, "%s/%s", t, r->param);
  if (tw__svc_undeploy(r->h->svc, t, r->param, &st) != 0) {
    audit(r, "function.delete", target, "refused");
    return tw__http_error(r, st.http, st.code, "%s", st.message);
  }
  audit(r, "function.delete", target, "deleted");
  return tw__http_respond(r, 204, NULL, NULL, 0, (const char *)NULL);
}

static enum MHD_Result function_route(struct http_req *r) {
  bool done;
  enum MHD_Result ret = MHD_NO;
  uint32_t scope = r->method == M_PUT || r->method == M_DELETE
                       ? TW_SCOPE_DEPLOY
                       : TW_SCOPE_READ;
  if (!same_route_method(r, M_GET) && r->method != M_PUT &&
      r->method != M_DELETE)
    return not_allowed(r, "GET, PUT, DELETE");
  const char *t = tenant_required(r, &done, &ret);
  if (done) return ret;
  if (!need(r, scope, t)) return forbidden(r);
  if (r->param_bad)
    return tw__http_error(r, r->method == M_PUT ? 400 : 404,
                          r->method == M_PUT ? "bad_request" : "not_found",
                          "function names are 1 to 64 of [A-Za-z0-9_.-]");
  tw__http_copy(r->rc.tenant, sizeof r->rc.tenant, t);
  if (r->method == M_PUT) return function_deploy(r, t);
  if (r->method == M_DELETE) return function_delete(r, t);
  return function_get(r, t);
}

/* ---- Invoke ---- */

static bool prefers_async(struct http_req *r) {
  const char *p = tw__http_header(r, "Prefer");
  return p && strstr(p, "respond-async") != NULL;
}

static enum MHD_Result invoke(struct http_req *r) {
  bool done;
  enum MHD_Result ret = MHD_NO;
  if (r->method != M_POST) return not_allowed(r, "POST");
  const char *t = tenant_required(r, &done, &ret);
  if (done) return ret;
  if (!need(r, TW_SCOPE_INVOKE, t)) return forbidden(r);
  if (r->param_bad)
    return tw__http_error(r, 404, "not_found", "no such function");
  tw__http_copy(r->rc.tenant, sizeof r->rc.tenant, t);
  /* On an event thread (the epoll pool), a synchronous call of a pure
   * function is tried here within a small budget; everything else, and a
   * call that declines or overruns, goes to a worker. */
  bool on_event_thread =
      r->h->workers.threads && atomic_load(&r->stage) == STAGE_INLINE;
  struct tw__reply rep;
  if (on_event_thread) {
    if (prefers_async(r) || atomic_load(&r->h->draining) ||
        !tw__svc_invoke_inline(r->h->svc, &r->rc, t, r->param, r->body,
                               r->len, INLINE_BUDGET_MS, &rep))
      return tw__http_defer(r);
  } else if (prefers_async(r)) {
    char id[TW_ID_MAX + 1];
    struct tw__status st;
    char target[2 * TW_ID_MAX + 2];
    snprintf(target, sizeof target, "%s/%s", t, r->param);
    if (tw__svc_job_submit(r->h->svc, &r->rc, t, r->param, r->body, r->len,
                           id, &st) != 0) {
      if (st.http != 404) audit(r, "job.submit", target, "refused");
      return tw__http_error(r, st.http, st.code, "%s", st.message);
    }
    audit(r, "job.submit", id, "queued");
    char loc[128];
    snprintf(loc, sizeof loc, "/v1/jobs/%s", id);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s}", "id", id, "state", "queued",
                          "function", r->param, "href", loc);
    char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!s) return tw__http_error(r, 503, "unavailable", "out of memory");
    return tw__http_respond(r, 202, "application/json", s, strlen(s),
                            "Location", loc, "Preference-Applied",
                            "respond-async", (const char *)NULL);
  }
  if (!on_event_thread)
    tw__svc_invoke(r->h->svc, &r->rc, t, r->param, r->body, r->len, NULL,
                   &rep);
  char retry[16], exitc[16];
  if (rep.retry_after) snprintf(retry, sizeof retry, "%u", rep.retry_after);
  if (rep.exit_code >= 0) snprintf(exitc, sizeof exitc, "%d", rep.exit_code);
  if (!rep.body) return tw__http_error(r, 503, "unavailable", "no reply");
  return tw__http_respond(r, rep.status, rep.content_type, rep.body, rep.len,
                          "Retry-After", rep.retry_after ? retry : NULL,
                          "X-Exit-Code", rep.exit_code >= 0 ? exitc : NULL,
                          (const char *)NULL);
}

/* ---- Jobs ---- */

static json_t *job_json(const struct tw__job *j, bool full) {
  json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "id", j->id,
                        "tenant", j->tenant, "function", j->function,
                        "state", tw__job_state_name(j->state), "created_at",
                        time_json(j->created_at), "started_at",
                        time_json(j->started_at), "finished_at",
                        time_json(j->finished_at));
  if (!o) return NULL;
  if (j->status) json_object_set_new(o, "status", json_integer(j->status));
  if (!full) return o;
  if (j->result && j->result_len) {
    /* Typed results and error bodies are JSON objects; handler output is
     * whatever the guest wrote: a string when it is UTF-8. */
    json_t *v = json_loadb((const char *)j->result, j->result_len, 0, NULL);
    if (v && json_is_object(v) && json_object_get(v, "error")) {
      json_object_set(o, "error", json_object_get(v, "error"));
      json_decref(v);
    } else if (v && json_is_object(v)) {
      json_object_set_new(o, "result", v);
    } else {
      json_decref(v);
      json_t *s = json_stringn((const char *)j->result, j->result_len);
      if (s) json_object_set_new(o, "output", s);
    }
  }
  if (!json_object_get(o, "error") && j->error)
    json_object_set_new(o, "error",
                        json_pack("{s:s,s:s}", "code",
                                  j->state == TW_JOB_CANCELLED ? "cancelled"
                                                               : "failed",
                                  "message", j->error));
  return o;
}

struct job_list {
  json_t *arr;
};

static int add_job(void *ctx, const struct tw__job *j) {
  json_array_append_new(((struct job_list *)ctx)->arr, job_json(j, false));
  return 0;
}

static enum MHD_Result jobs_list(struct http_req *r) {
  bool done;
  enum MHD_Result ret = MHD_NO;
  if (!same_route_method(r, M_GET)) return not_allowed(r, "GET");
  const char *t = tenant_of(r, &done, &ret);
  if (done) return ret;
  if (!need(r, TW_SCOPE_READ, t)) return forbidden(r);
  uint64_t limit = 100;
  const char *s = tw__http_arg(r, "limit");
  if (s && (!parse_u64(s, 1000, &limit) || limit == 0))
    return tw__http_error(r, 400, "bad_request",
                          "limit must be an integer from 1 to 1000");
  struct job_list l = {json_array()};
  tw__svc_job_each(r->h->svc, t[0] ? t : NULL, (int)limit, add_job, &l);
  return tw__http_json(r, 200, json_pack("{s:o}", "jobs", l.arr), NULL);
}

static enum MHD_Result job_route(struct http_req *r) {
  if (!same_route_method(r, M_GET) && r->method != M_DELETE)
    return not_allowed(r, "GET, DELETE");
  if (r->param_bad)
    return tw__http_error(r, 404, "not_found", "no such job");
  struct tw__job j;
  if (tw__svc_job_get(r->h->svc, r->param, &j) != 0)
    return tw__http_error(r, 404, "not_found", "no job '%s'", r->param);
  uint32_t scope = r->method == M_DELETE ? TW_SCOPE_INVOKE : TW_SCOPE_READ;
  if (!need(r, scope, j.tenant)) {
    bool own = (r->who.scopes & TW_SCOPE_ADMIN) ||
               strcmp(j.tenant, r->who.tenant) == 0;
    tw__job_clear(&j);
    /* Another tenant's job reads as absent. */
    if (!own)
      return tw__http_error(r, 404, "not_found", "no job '%s'", r->param);
    return forbidden(r);
  }
  if (r->method == M_DELETE) {
    tw__http_copy(r->rc.tenant, sizeof r->rc.tenant, j.tenant);
    tw__job_clear(&j);
    bool running;
    int rc = tw__svc_job_cancel(r->h->svc, r->param,
                                r->who.id ? r->who.id : "", &running);
    if (rc == TW_EEXISTS) {
      audit(r, "job.cancel", r->param, "already_finished");
      return tw__http_error(r, 409, "conflict", "job '%s' has already finished",
                            r->param);
    }
    if (rc) {
      audit(r, "job.cancel", r->param, "failed");
      return tw__http_error(r, rc == TW_ENOTFOUND ? 404 : 503,
                            rc == TW_ENOTFOUND ? "not_found" : "unavailable",
                            "cannot cancel job '%s'", r->param);
    }
    audit(r, "job.cancel", r->param,
          running ? "cancel_requested" : "cancelled");
    if (tw__svc_job_get(r->h->svc, r->param, &j) != 0)
      return tw__http_error(r, 404, "not_found", "no job '%s'", r->param);
    json_t *o = job_json(&j, true);
    if (running) json_object_set_new(o, "cancel_requested", json_true());
    tw__job_clear(&j);
    return tw__http_json(r, 200, o, NULL);
  }
  json_t *o = job_json(&j, true);
  tw__job_clear(&j);
  return tw__http_json(r, 200, o, NULL);
}

/* ---- Tokens and tenants (admin) ---- */

static json_t *scopes_json(uint32_t scopes) {
  char buf[64];
  tw__scopes_format(scopes, buf, sizeof buf);
  json_t *a = json_array();
  for (char *save = NULL, *p = strtok_r(buf, ",", &save); p;
       p = strtok_r(NULL, ",", &save))
    json_array_append_new(a, json_string(p));
  return a;
}

/* Parses a JSON object body; answers 400 itself when it is not one. */
static json_t *body_object(struct http_req *r, enum MHD_Result *ret) {
  json_error_t jerr;
  json_t *o = r->len ? json_loadb((const char *)r->body, r->len,
                                  JSON_REJECT_DUPLICATES, &jerr)
                     : NULL;
  if (!o || !json_is_object(o)) {
    json_decref(o);
    *ret = tw__http_error(r, 400, "bad_request",
                          "the body must be a JSON object");
    return NULL;
  }
  return o;
}

static bool only_keys(json_t *o, const char *const *keys) {
  const char *k;
  json_t *v;
  json_object_foreach(o, k, v) {
    bool known = false;
    for (const char *const *p = keys; *p; p++)
      if (strcmp(*p, k) == 0) known = true;
    if (!known) return false;
  }
  return true;
}

static enum MHD_Result token_create(struct http_req *r) {
  enum MHD_Result ret = MHD_NO;
  json_t *o = body_object(r, &ret);
  if (!o) return ret;
  static const char *const keys[] = {"tenant", "scopes", "rate_qps",
                                     "rate_burst", NULL};
  json_t *jt = json_object_get(o, "tenant"), *js = json_object_get(o, "scopes");
  json_t *jq = json_object_get(o, "rate_qps"),
         *jb = json_object_get(o, "rate_burst");
  char scopes_s[256] = "";
  bool bad = !only_keys(o, keys) || (jt && !json_is_string(jt)) ||
             !json_is_array(js) || json_array_size(js) == 0 ||
             json_array_size(js) > 4 || (jq && !json_is_number(jq)) ||
             (jb && !json_is_number(jb)) ||
             (jq && json_number_value(jq) < 0) ||
             (jb && json_number_value(jb) < 0);
  for (size_t i = 0; !bad && i < json_array_size(js); i++) {
    json_t *s = json_array_get(js, i);
    if (!json_is_string(s) || json_string_length(s) > 16 ||
        strchr(json_string_value(s), ',')) {
      bad = true;
      break;
    }
    strcat(scopes_s, json_string_value(s));
    strcat(scopes_s, ",");
  }
  uint32_t scopes = 0;
  char err[256] = "";
  if (bad || tw__scopes_parse(scopes_s, &scopes, err, sizeof err) != 0) {
    json_decref(o);
    return tw__http_error(r, 400, "bad_request", "%s",
                          err[0] ? err
                                 : "expected {\"tenant\": NAME, \"scopes\": "
                                   "[\"deploy\"|\"invoke\"|\"read\"|"
                                   "\"admin\", ...], \"rate_qps\": n, "
                                   "\"rate_burst\": n}");
  }
  const char *tenant = jt ? json_string_value(jt) : "";
  struct tw__token rec;
  char secret[64];
  int rc = tw__svc_token_create(r->h->svc, tenant, scopes,
                                jq ? json_number_value(jq) : -1,
                                jb ? json_number_value(jb) : -1, &rec, secret,
                                err, sizeof err);
  if (rc) {
    json_decref(o);
    audit(r, "token.create", tenant, "refused");
    return tw__http_error(r, rc == TW_EINVAL ? 400 : 503,
                          rc == TW_EINVAL ? "bad_request" : "unavailable",
                          "%s", err);
  }
  json_decref(o);
  tw__http_copy(r->rc.tenant, sizeof r->rc.tenant, rec.tenant);
  audit(r, "token.create", rec.id, "created");
  json_t *out = json_pack("{s:s,s:s,s:s,s:o,s:f,s:f,s:o}", "id", rec.id,
                          "token", secret, "tenant", rec.tenant, "scopes",
                          scopes_json(rec.scopes), "rate_qps", rec.rate_qps,
                          "rate_burst", rec.rate_burst, "created_at",
                          time_json(rec.created_at));
  memset(secret, 0, sizeof secret);
  return tw__http_json(r, 201, out, NULL);
}

static enum MHD_Result token_route(struct http_req *r, bool item) {
  if (!(r->who.scopes & TW_SCOPE_ADMIN)) return forbidden(r);
  if (!item) {
    if (r->method != M_POST) return not_allowed(r, "POST");
    return token_create(r);
  }
  if (r->method != M_DELETE) return not_allowed(r, "DELETE");
  if (r->param_bad) return tw__http_error(r, 404, "not_found", "no such token");
  int rc = tw__svc_token_revoke(r->h->svc, r->param);
  if (rc == TW_ENOTFOUND)
    return tw__http_error(r, 404, "not_found", "no token '%s'", r->param);
  if (rc) return tw__http_error(r, 503, "unavailable", "database error");
  audit(r, "token.revoke", r->param, "revoked");
  return tw__http_respond(r, 204, NULL, NULL, 0, (const char *)NULL);
}

static json_t *tenant_json(const struct tw__tenant *t) {
  return json_pack("{s:s,s:I,s:I,s:I,s:o}", "id", t->id, "max_functions",
                   (json_int_t)t->max_functions, "max_instances",
                   (json_int_t)t->max_instances, "max_memory_bytes",
                   (json_int_t)t->max_memory_bytes, "created_at",
                   time_json(t->created_at));
}

static int add_tenant(void *ctx, const struct tw__tenant *t) {
  json_array_append_new(ctx, tenant_json(t));
  return 0;
}

static enum MHD_Result tenant_put(struct http_req *r) {
  enum MHD_Result ret = MHD_NO;
  json_t *o = body_object(r, &ret);
  if (!o) return ret;
  static const char *const keys[] = {"max_functions", "max_instances",
                                     "max_memory_bytes", NULL};
  const struct tw__svc_config *cfg = tw__svc_config(r->h->svc);
  struct tw__tenant t;
  memset(&t, 0, sizeof t);
  bool exists = tw__svc_tenant_get(r->h->svc, r->param, &t) == 0;
  if (!exists) {
    tw__http_copy(t.id, sizeof t.id, r->param);
    t.max_functions = cfg->tenant_max_functions;
    t.max_instances = cfg->tenant_max_instances;
    t.max_memory_bytes = cfg->tenant_max_memory_bytes;
  }
  bool bad = !only_keys(o, keys);
  const char *names[] = {"max_functions", "max_instances", "max_memory_bytes"};
  int64_t *fields[] = {&t.max_functions, &t.max_instances,
                       &t.max_memory_bytes};
  for (int i = 0; !bad && i < 3; i++) {
    json_t *v = json_object_get(o, names[i]);
    if (!v) continue;
    if (!json_is_integer(v) || json_integer_value(v) < 0)
      bad = true;
    else
      *fields[i] = json_integer_value(v);
  }
  json_decref(o);
  if (bad)
    return tw__http_error(r, 400, "bad_request",
                          "expected {\"max_functions\": n, \"max_instances\": "
                          "n, \"max_memory_bytes\": n} (non-negative "
                          "integers, all optional)");
  bool created;
  if (tw__svc_tenant_put(r->h->svc, &t, &created) != 0)
    return tw__http_error(r, 503, "unavailable", "database error");
  tw__svc_tenant_get(r->h->svc, r->param, &t);
  tw__http_copy(r->rc.tenant, sizeof r->rc.tenant, t.id);
  audit(r, "tenant.put", t.id, created ? "created" : "updated");
  return tw__http_json(r, created ? 201 : 200, tenant_json(&t), NULL);
}

static enum MHD_Result tenant_route(struct http_req *r, bool item) {
  if (!item) {
    if (!same_route_method(r, M_GET)) return not_allowed(r, "GET");
    if (!(r->who.scopes & TW_SCOPE_ADMIN)) return forbidden(r);
    json_t *arr = json_array();
    tw__svc_tenant_each(r->h->svc, add_tenant, arr);
    return tw__http_json(r, 200, json_pack("{s:o}", "tenants", arr), NULL);
  }
  if (!same_route_method(r, M_GET) && r->method != M_PUT)
    return not_allowed(r, "GET, PUT");
  if (r->param_bad)
    return tw__http_error(r, r->method == M_PUT ? 400 : 404,
                          r->method == M_PUT ? "bad_request" : "not_found",
                          "tenant names are 1 to 64 of [A-Za-z0-9_.-]");
  if (r->method == M_PUT) {
    if (!(r->who.scopes & TW_SCOPE_ADMIN)) return forbidden(r);
    return tenant_put(r);
  }
  if (!need(r, TW_SCOPE_READ, r->param)) return forbidden(r);
  struct tw__tenant t;
  if (tw__svc_tenant_get(r->h->svc, r->param, &t) != 0)
    return tw__http_error(r, 404, "not_found", "no tenant '%s'", r->param);
  return tw__http_json(r, 200, tenant_json(&t), NULL);
}

/* ---- Metrics ---- */

static uint64_t rss_bytes(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  unsigned long long size = 0, rss = 0;
  if (f) {
    if (fscanf(f, "%llu %llu", &size, &rss) != 2) rss = 0;
    fclose(f);
  }
  return (uint64_t)rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

void tw__http_render_metrics(struct tw__http *h, struct tw__buf *b) {
  tw__buf_puts(b, "# HELP tensor_wasm_http_requests_total HTTP requests "
                  "answered, by route, method and status code.\n"
                  "# TYPE tensor_wasm_http_requests_total counter\n");
  for (int rt = 0; rt < ROUTE_COUNT_; rt++)
    for (int m = 0; m < M_COUNT_; m++)
      for (int c = 0; c < 600; c++) {
        uint64_t n = atomic_load_explicit(&h->requests[rt][m][c],
                                          memory_order_relaxed);
        if (n)
          tw__buf_printf(b,
                         "tensor_wasm_http_requests_total{route=\"%s\","
                         "method=\"%s\",code=\"%d\"} %llu\n",
                         tw__http_route_names[rt], tw__http_method_names[m],
                         c, (unsigned long long)n);
      }
  tw__buf_puts(b, "# HELP tensor_wasm_http_request_duration_seconds Time "
                  "from the request head to the response sent, by route.\n"
                  "# TYPE tensor_wasm_http_request_duration_seconds "
                  "histogram\n");
  for (int rt = 0; rt < ROUTE_COUNT_; rt++) {
    if (!atomic_load(&h->latency[rt].count)) continue;
    char labels[64];
    snprintf(labels, sizeof labels, "route=\"%s\"", tw__http_route_names[rt]);
    tw__hist_render(&h->latency[rt], b,
                    "tensor_wasm_http_request_duration_seconds", labels);
  }
  tw__buf_printf(b,
                 "# HELP tensor_wasm_http_requests_in_flight Requests being "
                 "handled.\n"
                 "# TYPE tensor_wasm_http_requests_in_flight gauge\n"
                 "tensor_wasm_http_requests_in_flight %lld\n",
                 (long long)atomic_load(&h->inflight));
  uint32_t nthreads, busy, queued;
  if (tw__http_workers_stats(&h->workers, &nthreads, &busy, &queued))
    tw__buf_printf(b,
                   "# HELP tensor_wasm_http_workers Worker threads for "
                   "requests that can block, by state.\n"
                   "# TYPE tensor_wasm_http_workers gauge\n"
                   "tensor_wasm_http_workers{state=\"busy\"} %u\n"
                   "tensor_wasm_http_workers{state=\"idle\"} %u\n"
                   "# HELP tensor_wasm_http_worker_queue Requests waiting "
                   "for a worker.\n"
                   "# TYPE tensor_wasm_http_worker_queue gauge\n"
                   "tensor_wasm_http_worker_queue %u\n",
                   busy, nthreads - busy, queued);
  tw__svc_metrics(h->svc, b);
  tw__buf_printf(b,
                 "# HELP tensor_wasm_build_info Version of this build.\n"
                 "# TYPE tensor_wasm_build_info gauge\n"
                 "tensor_wasm_build_info{version=\"%s\"} 1\n"
                 "# HELP tensor_wasm_uptime_seconds Seconds since the server "
                 "started.\n"
                 "# TYPE tensor_wasm_uptime_seconds gauge\n"
                 "tensor_wasm_uptime_seconds %.3f\n"
                 "# HELP process_resident_memory_bytes Resident memory size "
                 "in bytes.\n"
                 "# TYPE process_resident_memory_bytes gauge\n"
                 "process_resident_memory_bytes %llu\n",
                 TW_VERSION_STRING,
                 (double)(tw__now_ns() - h->started_ns) * 1e-9,
                 (unsigned long long)rss_bytes());
}

static enum MHD_Result metrics(struct http_req *r) {
  if (!same_route_method(r, M_GET)) return not_allowed(r, "GET");
  struct tw__buf b;
  tw__buf_init(&b, (size_t)64 << 20);
  tw__http_render_metrics(r->h, &b);
  if (b.error || tw__buf_cstr(&b)) {
    tw__buf_free(&b);
    return tw__http_error(r, 503, "unavailable", "out of memory");
  }
  /* The buffer's memory passes to the response. */
  return tw__http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8",
                          b.data, b.len, (const char *)NULL);
}

/* ---- Dispatch ---- */

static enum MHD_Result unauthorized(struct http_req *r, const char *msg) {
  size_t len;
  char *body = tw__error_json("unauthorized", msg, &len);
  return tw__http_respond(r, 401, "application/json", body, len,
                          "WWW-Authenticate", "Bearer realm=\"tensor-wasm\"",
                          (const char *)NULL);
}

/* Whether answering r can run guest code or wait: invocations (also
 * async ones: the job is written to the database), deploys (a compile),
 * deletes and the other writes (a database commit, a deploy in progress,
 * a cancel's wait for the guest to stop). These go to the worker pool;
 * reads of records, /metrics and refusals stay on the event thread. */
static bool may_block(const struct http_req *r) {
  switch (r->route) {
  case ROUTE_INVOKE: /* unless it can run inline: invoke() decides */
    return r->method == M_POST && !r->h->workers.threads;
  case ROUTE_TOKENS:
    return r->method == M_POST;
  case ROUTE_FUNCTION:
    return r->method == M_PUT || r->method == M_DELETE;
  case ROUTE_TENANT:
    return r->method == M_PUT;
  case ROUTE_JOB:
  case ROUTE_TOKEN:
    return r->method == M_DELETE;
  default:
    return false;
  }
}

enum MHD_Result tw__http_dispatch_api(struct http_req *r) {
  struct tw__svc *svc = r->h->svc;
  bool metrics_route = r->route == ROUTE_METRICS;
  if (!(metrics_route && tw__svc_config(svc)->metrics_public)) {
    const char *auth = tw__http_header(r, "Authorization");
    if (!auth)
      return unauthorized(r, "this route needs 'Authorization: Bearer TOKEN'");
    if (strncasecmp(auth, "Bearer ", 7) != 0)
      return unauthorized(r, "expected 'Authorization: Bearer TOKEN'");
    const char *tok = auth + 7;
    while (*tok == ' ') tok++;
    if (tw__svc_authenticate(svc, tok, strlen(tok), &r->who) != 0)
      return unauthorized(r, "unknown or revoked token");
    r->authed = true;
    tw__http_copy(r->rc.who, sizeof r->rc.who, r->who.id);
    tw__http_copy(r->rc.tenant, sizeof r->rc.tenant, r->who.tenant);
    uint32_t retry = 1;
    if (tw__svc_rate_take(svc, &r->who, &retry) != 0) {
      char s[16];
      snprintf(s, sizeof s, "%u", retry);
      size_t len;
      char *body = tw__error_json("rate_limited",
                                  "too many requests for this token", &len);
      return tw__http_respond(r, 429, "application/json", body, len,
                              "Retry-After", s, (const char *)NULL);
    }
  }
  if (may_block(r)) return tw__http_defer(r);
  return tw__http_route(r);
}

enum MHD_Result tw__http_route(struct http_req *r) {
  switch (r->route) {
  case ROUTE_METRICS:
    if (r->authed && !(r->who.scopes & TW_SCOPE_ADMIN)) return forbidden(r);
    return metrics(r);
  case ROUTE_FUNCTIONS:
    if (!same_route_method(r, M_GET)) return not_allowed(r, "GET");
    return functions_list(r);
  case ROUTE_FUNCTION:
    return function_route(r);
  case ROUTE_INVOKE:
    return invoke(r);
  case ROUTE_JOBS:
    return jobs_list(r);
  case ROUTE_JOB:
    return job_route(r);
  case ROUTE_TOKENS:
    return token_route(r, false);
  case ROUTE_TOKEN:
    return token_route(r, true);
  case ROUTE_TENANTS:
    return tenant_route(r, false);
  case ROUTE_TENANT:
    return tenant_route(r, true);
  default:
    return tw__http_error(r, 404, "not_found", "no such route");
  }
}
