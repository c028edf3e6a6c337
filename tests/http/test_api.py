#!/usr/bin/env python3
"""End-to-end tests of `tensor-wasm serve` and its client commands.

Starts real servers on 127.0.0.1 with ephemeral ports and throw-away data
directories, and checks the API, auth, limits, jobs, persistence across a
restart, the worker pool (looping guests do not hold up other connections,
a full queue answers 503, clients may leave mid-call), graceful shutdown in
both threading modes, metrics (promtool), the audit log and the CLI
clients. Usage: test_api.py TENSOR_WASM_BINARY SOURCE_DIR
Ends with "N passed, N failed"; exit status 1 on any failure.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import harness
from harness import check, js

TW, SRC = sys.argv[1], sys.argv[2]
ADMIN = "admin-test-token-0123456789abcdef"
WAT = os.path.join(SRC, "tests", "http", "wat")
EXAMPLES = os.path.join(SRC, "examples")
TMP = tempfile.mkdtemp(prefix="tw-http-test-")


class Server(harness.Server):
    def __init__(self, data, config=None, env=None, args=()):
        cfg = {"connection_timeout_s": 2, "drain_ms": 3000}
        cfg.update(config or {})
        super().__init__(TW, ADMIN, data, cfg, env=env, args=args)
        self.data = data


def is_error(status, body, code=None):
    o = js(body)
    ok = isinstance(o, dict) and isinstance(o.get("error"), dict) and \
        isinstance(o["error"].get("code"), str) and \
        isinstance(o["error"].get("message"), str)
    return ok and (code is None or o["error"]["code"] == code)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def wait_job(s, tok, jid, states=("succeeded", "failed", "cancelled"),
             limit=15):
    t0 = time.time()
    while time.time() - t0 < limit:
        st, _, b = s.req("GET", "/v1/jobs/" + jid, token=tok)
        o = js(b) or {}
        if o.get("state") in states:
            return o
        time.sleep(0.05)
    return o


def make_token(s, tenant, scopes, **kw):
    body = {"tenant": tenant, "scopes": scopes}
    body.update(kw)
    st, _, b = s.req("POST", "/v1/tokens", body, token=ADMIN)
    check("token create " + tenant, st == 201, f"{st} {b[:200]}")
    return js(b)["token"]


def main():
    data = os.path.join(TMP, "data")
    s = Server(data, {"job_workers": 2})
    try:
        run_basic(s)
    finally:
        s.stop()
    run_restart(os.path.join(TMP, "restart"))
    run_pool(os.path.join(TMP, "pool"))
    run_pool_full(os.path.join(TMP, "pool-full"))
    run_drain(os.path.join(TMP, "drain"), {"threads": 0})
    run_drain(os.path.join(TMP, "drain-pool"), {})
    run_drain_timeout(os.path.join(TMP, "drain-timeout"))
    run_cli(os.path.join(TMP, "cli"))


def run_basic(s):
    # ---- health, ids, trace context
    st, h, b = s.req("GET", "/healthz")
    check("healthz", st == 200 and js(b) == {"status": "ok"})
    st, _, b = s.req("GET", "/readyz")
    check("readyz", st == 200)
    tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    st, h, b = s.req("GET", "/healthz",
                     headers={"traceparent": tp, "X-Request-Id": "req-42"})
    out = h.get("traceparent", "")
    check("traceparent propagated",
          out.startswith("00-4bf92f3577b34da6a3ce929d0e0e4736-") and
          out.endswith("-01") and "00f067aa0ba902b7" not in out, out)
    check("request id echoed", h.get("x-request-id") == "req-42")
    st, h, b = s.req("GET", "/healthz", headers={"traceparent": "garbage"})
    check("bad traceparent replaced",
          len(h.get("traceparent", "")) == 55)
    st, _, b = s.req("GET", "/nope")
    check("unknown route 404", st == 404 and is_error(st, b, "not_found"))
    st, h, b = s.req("POST", "/healthz")
    check("405 with Allow", st == 405 and "allow" in h and is_error(st, b))

    # ---- auth
    st, h, b = s.req("GET", "/v1/functions")
    check("no token 401", st == 401 and is_error(st, b, "unauthorized") and
          "www-authenticate" in h)
    st, _, b = s.req("GET", "/v1/functions", token="twk_not-a-real-token-xx")
    check("bad token 401", st == 401)
    st, _, b = s.req("GET", "/v1/functions",
                     headers={"Authorization": "Basic Zm9vOmJhcg=="})
    check("basic auth 401", st == 401)
    a = make_token(s, "alpha", ["deploy", "invoke", "read"])
    b_tok = make_token(s, "beta", ["deploy", "invoke", "read"])
    ro = make_token(s, "alpha", ["read"])
    st, _, body = s.req("POST", "/v1/tokens", {"tenant": "x",
                                               "scopes": ["root"]},
                        token=ADMIN)
    check("bad scope 400", st == 400 and is_error(st, body, "bad_request"))
    st, _, body = s.req("POST", "/v1/tokens", {"tenant": "x",
                                               "scopes": ["read"]}, token=a)
    check("tenant token cannot make tokens", st == 403)

    # ---- deploy
    add = read(os.path.join(EXAMPLES, "add.wat"))
    st, h, body = s.req("PUT", "/v1/functions/add", add, token=a)
    check("deploy 201", st == 201 and js(body)["name"] == "add" and
          h.get("location") == "/v1/functions/add", f"{st} {body[:300]}")
    st, _, body = s.req("PUT", "/v1/functions/add", add, token=a)
    check("redeploy 200", st == 200)
    st, _, body = s.req("PUT", "/v1/functions/add", add, token=ro)
    check("read-only deploy 403", st == 403 and is_error(st, body, "forbidden"))
    st, _, body = s.req("PUT", "/v1/functions/add?tenant=beta", add, token=a)
    check("cross-tenant deploy 403", st == 403)
    st, _, body = s.req("PUT", "/v1/functions/bad", b"\0asm\1\0\0\0\xff",
                        token=a)
    check("invalid wasm 422", st == 422 and
          is_error(st, body, "invalid_module"), body[:200])
    st, _, body = s.req("PUT", "/v1/functions/bad", b"(module (func", token=a)
    check("bad wat 422", st == 422 and is_error(st, body, "invalid_module"))
    st, _, body = s.req("PUT", "/v1/functions/bad?deadline_ms=abc", add,
                        token=a)
    check("bad query 400", st == 400 and is_error(st, body, "bad_request"))
    st, _, body = s.req("PUT", "/v1/functions/bad?mode=weird", add, token=a)
    check("bad mode 400", st == 400)
    st, _, body = s.req("PUT", "/v1/functions/..x", add, token=a)
    check("bad name 400", st == 400)
    st, _, body = s.req("PUT", "/v1/functions/empty", b"", token=a)
    check("empty module 400", st == 400)
    loop = read(os.path.join(WAT, "loop.wat"))
    st, _, body = s.req("PUT", "/v1/functions/loop?deadline_ms=300&"
                        "memory_bytes=1048576&pool_size=2", loop, token=a)
    check("deploy loop", st == 201, body[:300])
    echo = read(os.path.join(WAT, "echo.wat"))
    st, _, body = s.req("PUT", "/v1/functions/echo?mode=handler", echo,
                        token=a)
    check("deploy handler", st == 201, body[:300])
    st, _, body = s.req("PUT", "/v1/functions/noentry?mode=handler", add,
                        token=a)
    check("handler without _start 422", st == 422)

    # ---- get / list
    st, _, body = s.req("GET", "/v1/functions/add", token=ro)
    o = js(body)
    check("get function", st == 200 and o["exports"][0]["name"] == "add" and
          o["exports"][0]["params"] == ["i32", "i32"], body[:300])
    st, _, body = s.req("GET", "/v1/functions", token=a)
    names = sorted(f["name"] for f in js(body)["functions"])
    check("list functions", names == ["add", "echo", "loop"], names)
    st, _, body = s.req("GET", "/v1/functions", token=b_tok)
    check("other tenant sees none", js(body)["functions"] == [])
    st, _, body = s.req("GET", "/v1/functions/add", token=b_tok)
    check("other tenant get 404", st == 404)
    st, _, body = s.req("GET", "/v1/functions/add", token=ADMIN)
    check("admin needs tenant", st == 400)
    st, _, body = s.req("GET", "/v1/functions/add?tenant=alpha", token=ADMIN)
    check("admin get with tenant", st == 200)

    # ---- typed invoke
    inv = "/v1/functions/add/invoke"
    st, _, body = s.req("POST", inv, {"export": "add", "args": [1, 2]},
                        token=a)
    check("invoke add", st == 200 and js(body) == {"results": [3]}, body)
    st, _, body = s.req("POST", inv, {"export": "add", "args": [1, "x"]},
                        token=a)
    check("wrong type 400", st == 400 and is_error(st, body, "bad_request"))
    st, _, body = s.req("POST", inv, b"{not json", token=a)
    check("malformed json 400", st == 400 and is_error(st, body))
    st, _, body = s.req("POST", inv, {"export": "add", "args": [1]}, token=a)
    check("arity 400", st == 400)
    st, _, body = s.req("POST", inv, {"export": "add", "args": [1, 2],
                                      "x": 1}, token=a)
    check("extra field 400", st == 400)
    st, _, body = s.req("POST", inv, {"export": 5}, token=a)
    check("export not string 400", st == 400)
    st, _, body = s.req("POST", inv, [1, 2], token=a)
    check("array body 400", st == 400)
    st, _, body = s.req("POST", inv, {"export": "sub", "args": []}, token=a)
    check("unknown export 404", st == 404 and
          is_error(st, body, "unknown_export"))
    st, _, body = s.req("POST", "/v1/functions/nope/invoke",
                        {"export": "x"}, token=a)
    check("unknown function 404", st == 404)
    st, _, body = s.req("POST", inv, {"export": "add", "args": [1, 2]},
                        token=b_tok)
    check("other tenant invoke 404", st == 404)
    st, _, body = s.req("POST", inv, {"export": "add", "args": [1, 2]},
                        token=ro)
    check("read-only invoke 403", st == 403)
    lp = "/v1/functions/loop/invoke"
    st, _, body = s.req("POST", lp, {"export": "div", "args": [1, 0]},
                        token=a)
    check("trap 422", st == 422 and is_error(st, body, "trap") and
          b"divide by zero" in body, body)
    t0 = time.time()
    st, _, body = s.req("POST", lp, {"export": "spin"}, token=a)
    check("loop hits deadline", st == 422 and
          is_error(st, body, "deadline_exceeded") and time.time() - t0 < 5,
          body)
    st, _, body = s.req("POST", lp, {"export": "hog"}, token=a)
    check("memory exhaustion traps", st == 422 and is_error(st, body, "trap"),
          body)
    counts = [js(s.req("POST", lp, {"export": "count"}, token=a)[2])
              for _ in range(4)]
    check("instances reset between calls",
          counts == [{"results": [1]}] * 4, counts)
    st, _, body = s.req("POST", inv, {"export": "add", "args": [40, 2]},
                        token=a)
    check("still serving after bad guests", js(body) == {"results": [42]})

    # A pure call that overruns the event thread's inline budget runs again
    # on a worker: one right answer, counted once; the function's later
    # calls skip the inline attempt.
    st, _, body = s.req("PUT", "/v1/functions/pure?deadline_ms=5000&"
                        "pool_size=1", loop, token=a)
    check("deploy pure", st == 201, body[:300])
    pp = "/v1/functions/pure/invoke"

    def pure_counts():
        text = s.req("GET", "/metrics", token=ADMIN)[2].decode()
        m = re.findall(r'tensor_wasm_invocations_total\{function="alpha/pure",'
                       r'outcome="(\w+)"\} (\d+)', text)
        return {k: int(v) for k, v in m if int(v)}

    def overruns():
        log = read(os.path.join(s.home, "server.log")).decode()
        return log.count("alpha/pure: over the inline budget")
    st, _, body = s.req("POST", pp, {"export": "slow", "args": [10]},
                        token=a)
    check("fast pure call", js(body) == {"results": [45]})
    check("fast pure call ran inline", overruns() == 0, overruns())
    n = 20_000_000
    want = (n * (n - 1) // 2) % 2**32
    want = want - 2**32 if want >= 2**31 else want
    for _ in range(2):
        st, _, body = s.req("POST", pp, {"export": "slow", "args": [n]},
                            token=a)
        check("slow pure call: one right answer",
              st == 200 and js(body) == {"results": [want]}, body[:200])
    check("the slow call overran the inline budget once", overruns() == 1,
          overruns())
    check("pure calls counted once each", pure_counts() == {"success": 3},
          pure_counts())

    # ---- handler mode
    st, h, body = s.req("POST", "/v1/functions/echo/invoke", b"hello world",
                        token=a)
    check("handler echo", st == 200 and body == b"hello world",
          f"{st} {body[:200]}")
    st, h, body = s.req("POST", "/v1/functions/echo/invoke", b"", token=a)
    check("handler exit code -> status", st == 404 and body == b"empty" and
          h.get("x-exit-code") == "404", f"{st} {body[:200]}")

    # ---- jobs
    st, h, body = s.req("POST", inv, {"export": "add", "args": [20, 22]},
                        token=a, headers={"Prefer": "respond-async"})
    o = js(body)
    check("async 202", st == 202 and o["state"] == "queued" and
          h.get("location") == "/v1/jobs/" + o["id"], body)
    job = wait_job(s, a, o["id"])
    check("job succeeded", job.get("state") == "succeeded" and
          job.get("result") == {"results": [42]}, job)
    st, _, body = s.req("GET", "/v1/jobs/" + o["id"], token=b_tok)
    check("other tenant job 404", st == 404)
    st, _, body = s.req("DELETE", "/v1/jobs/" + o["id"], token=a)
    check("cancel finished 409", st == 409 and is_error(st, body, "conflict"))
    st, _, body = s.req("POST", lp, {"export": "div", "args": [1, 0]},
                        token=a, headers={"Prefer": "respond-async"})
    job = wait_job(s, a, js(body)["id"])
    check("failed job has error", job.get("state") == "failed" and
          job.get("error", {}).get("code") == "trap", job)
    ids = []
    for _ in range(3):   # two workers: the third waits in the queue
        st, _, body = s.req("POST", lp, {"export": "spin"}, token=a,
                            headers={"Prefer": "respond-async"})
        ids.append(js(body)["id"])
    time.sleep(0.1)
    st, _, body = s.req("DELETE", "/v1/jobs/" + ids[2], token=a)
    check("cancel queued", st == 200 and js(body)["state"] == "cancelled",
          body)
    st, _, body = s.req("DELETE", "/v1/jobs/" + ids[0], token=a)
    check("cancel running", st == 200 and js(body).get("cancel_requested"),
          body)
    job = wait_job(s, a, ids[0])
    check("running job ends cancelled", job.get("state") == "cancelled", job)
    st, _, body = s.req("GET", "/v1/jobs?limit=2", token=a)
    check("list jobs", st == 200 and len(js(body)["jobs"]) == 2)
    st, _, body = s.req("GET", "/v1/jobs/job_nope", token=a)
    check("unknown job 404", st == 404)
    wait_job(s, a, ids[1])

    # ---- cancelling a running job stops its guest (tw_store_interrupt)
    st, _, body = s.req("PUT", "/v1/functions/loop60?deadline_ms=60000&"
                        "memory_bytes=1048576&pool_size=2", loop, token=a)
    check("deploy loop60", st in (200, 201), body)
    lp60 = "/v1/functions/loop60/invoke"
    ids = []
    for _ in range(2):   # both workers spin (60 s deadline)
        st, _, body = s.req("POST", lp60, {"export": "spin"}, token=a,
                            headers={"Prefer": "respond-async"})
        ids.append(js(body)["id"])
    for jid in ids:
        wait_job(s, a, jid, states=("running",), limit=5)
    for jid in ids:
        t0 = time.time()
        st, _, body = s.req("DELETE", "/v1/jobs/" + jid, token=a)
        check("cancel spinning job", st == 200, body)
        job = wait_job(s, a, jid, limit=2)
        took = time.time() - t0
        err = job.get("error") or {}
        check("spinning job cancelled within 2 s",
              job.get("state") == "cancelled" and took < 2 and
              err.get("code") == "cancelled" and
              re.match(r"cancelled by \S+ while running",
                       err.get("message", "")), f"{took:.2f}s {job}")
    # The workers are free again: a job and a call on the same pool run
    # at once, and the pool's instances were reset.
    t0 = time.time()
    st, _, body = s.req("POST", lp60, {"export": "div", "args": [84, 2]},
                        token=a, headers={"Prefer": "respond-async"})
    job = wait_job(s, a, js(body)["id"], limit=5)
    check("worker free after cancel", job.get("state") == "succeeded" and
          job.get("result") == {"results": [42]} and time.time() - t0 < 2,
          f"{time.time() - t0:.2f}s {job}")
    counts = [js(s.req("POST", lp60, {"export": "count"}, token=a)[2])
              for _ in range(3)]
    check("pool instances reset after cancel",
          counts == [{"results": [1]}] * 3, counts)
    st, _, body = s.req("GET", "/metrics", token=ADMIN)
    check("cancelled calls counted",
          b'tensor_wasm_invocations_total{function="alpha/loop60",'
          b'outcome="cancelled"} 2' in body, body[-2000:])

    # ---- limits
    c = socket.create_connection(("127.0.0.1", s.port))
    c.sendall(b"PUT /v1/functions/big HTTP/1.1\r\nHost: x\r\n"
              b"Authorization: Bearer " + a.encode() +
              b"\r\nContent-Length: 70000000\r\n\r\n" + b"x" * 1000)
    resp = c.recv(65536)
    c.close()
    check("body over 64 MiB -> 413", resp.startswith(b"HTTP/1.1 413") and
          b"payload_too_large" in resp, resp[:100])
    st, _, body = s.req("GET", "/v1/functions/" + "a" * 5000, token=a)
    check("long URL -> 414", st == 414 and is_error(st, body), st)
    # past the head's memory (header_limit): libmicrohttpd's own answer
    try:
        st, _, body = s.req("GET", "/v1/functions/" + "a" * 9000, token=a)
        check("URL over the head limit refused", st in (414, 431), st)
    except (ConnectionError, http.client.HTTPException):
        check("URL over the head limit refused", True)
    try:
        st, _, body = s.req("GET", "/healthz",
                            headers={"X-Big": "y" * 100000})
        check("oversized headers refused", st in (413, 431), st)
    except (ConnectionError, http.client.HTTPException):
        check("oversized headers refused", True)
    # slowloris: a client that never finishes its head is cut off, and
    # others are served meanwhile
    slow = socket.create_connection(("127.0.0.1", s.port))
    slow.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    st, _, _ = s.req("GET", "/healthz")
    check("served during slowloris", st == 200)
    slow.settimeout(8)
    t0 = time.time()
    try:
        got = slow.recv(100)
    except socket.timeout:
        got = b"timeout"
    check("slow client cut off", got != b"timeout" and time.time() - t0 < 8,
          got)
    slow.close()

    # ---- rate limits and quotas
    rl = make_token(s, "alpha", ["read"], rate_qps=1, rate_burst=2)
    sts = [s.req("GET", "/v1/functions", token=rl) for _ in range(3)]
    check("rate limit 429", sts[0][0] == 200 and sts[1][0] == 200 and
          sts[2][0] == 429 and int(sts[2][1].get("retry-after", "0")) >= 1 and
          is_error(429, sts[2][2], "rate_limited"), [x[0] for x in sts])
    st, _, body = s.req("PUT", "/v1/tenants/gamma",
                        {"max_functions": 1, "max_instances": 0},
                        token=ADMIN)
    check("tenant put", st == 201, body)
    g = make_token(s, "gamma", ["deploy", "invoke", "read"])
    s.req("PUT", "/v1/functions/one", add, token=g)
    st, _, body = s.req("PUT", "/v1/functions/two", add, token=g)
    check("function quota 403", st == 403 and
          is_error(st, body, "quota_exceeded"))
    st, h, body = s.req("POST", "/v1/functions/one/invoke",
                        {"export": "add", "args": [1, 1]}, token=g)
    check("instance quota 429", st == 429 and "retry-after" in h, body)
    st, _, body = s.req("GET", "/v1/tenants", token=ADMIN)
    check("tenant list", st == 200 and any(t["id"] == "gamma"
                                           for t in js(body)["tenants"]))

    # ---- delete
    st, _, body = s.req("DELETE", "/v1/functions/one", token=g)
    check("delete 204", st == 204)
    st, _, body = s.req("DELETE", "/v1/functions/one", token=g)
    check("delete again 404", st == 404)

    # ---- metrics
    st, h, body = s.req("GET", "/metrics", token=a)
    check("metrics need admin", st == 403)
    st, h, body = s.req("GET", "/metrics", token=ADMIN)
    text = body.decode()
    for name in ["tensor_wasm_http_requests_total",
                 "tensor_wasm_http_request_duration_seconds_bucket",
                 "tensor_wasm_jobs_active", "tensor_wasm_invocations_total",
                 "tensor_wasm_compile_duration_seconds",
                 "tensor_wasm_instantiate_duration_seconds",
                 "tensor_wasm_pooled_instances", "tensor_wasm_build_info",
                 "tensor_wasm_http_workers", "tensor_wasm_http_worker_queue"]:
        check("metric " + name, name in text)
    check("invocation outcome label",
          re.search(r'tensor_wasm_invocations_total\{function="alpha/loop",'
                    r'outcome="deadline"\} [1-9]', text) is not None)
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=body,
                           capture_output=True)
        check("promtool check metrics", p.returncode == 0,
              p.stdout.decode() + p.stderr.decode())
    else:
        check("promtool installed", False, "promtool not found")

    # ---- token revoke, audit log, secrets
    st, _, body = s.req("POST", "/v1/tokens", {"tenant": "alpha",
                                               "scopes": ["read"]},
                        token=ADMIN)
    victim = js(body)
    st, _, _ = s.req("DELETE", "/v1/tokens/" + victim["id"], token=ADMIN)
    check("revoke 204", st == 204)
    st, _, _ = s.req("GET", "/v1/functions", token=victim["token"])
    check("revoked token 401", st == 401)
    audit = read(os.path.join(s.data, "audit.log")).decode()
    lines = [json.loads(x) for x in audit.splitlines()]
    acts = {x["action"] for x in lines}
    check("audit actions", {"token.create", "token.revoke", "function.deploy",
                            "function.delete", "job.cancel",
                            "job.submit"} <= acts, acts)
    check("audit fields", all({"ts", "who", "action", "target", "outcome",
                               "request_id", "trace_id"} <= set(x)
                              for x in lines))
    log = read(os.path.join(s.data, "server.log")).decode()
    for secret in [a, b_tok, ro, ADMIN, victim["token"]]:
        check("secret never logged", secret not in audit and secret not in log)


def run_restart(data):
    """Jobs survive a restart: running ones fail with the reason, queued
    ones run after it."""
    s = Server(data, {"job_workers": 1, "drain_ms": 300})
    tok = make_token(s, "alpha", ["deploy", "invoke", "read"])
    loop = read(os.path.join(WAT, "loop.wat"))
    s.req("PUT", "/v1/functions/loop?deadline_ms=4000", loop, token=tok)
    hdr = {"Prefer": "respond-async"}
    _, _, b1 = s.req("POST", "/v1/functions/loop/invoke",
                     {"export": "spin"}, token=tok, headers=hdr)
    time.sleep(0.2)
    _, _, b2 = s.req("POST", "/v1/functions/loop/invoke",
                     {"export": "count"}, token=tok, headers=hdr)
    running, queued = js(b1)["id"], js(b2)["id"]
    rc = s.stop()
    check("stopped with a job still running", rc == 0, rc)
    s = Server(data, {"job_workers": 1})
    try:
        j = wait_job(s, tok, running)
        check("running job failed after restart", j.get("state") == "failed"
              and "stopped" in json.dumps(j), j)
        j = wait_job(s, tok, queued)
        check("queued job ran after restart", j.get("state") == "succeeded"
              and j.get("result") == {"results": [1]}, j)
        st, _, body = s.req("POST", "/v1/functions/loop/invoke",
                            {"export": "count"}, token=tok)
        check("function reloaded from the database", st == 200, body)
    finally:
        s.stop()


def invoke_later(s, tok, name, body):
    """Sends an invocation on its own connection and returns the
    connection; its answer is read later with answer()."""
    c = http.client.HTTPConnection("127.0.0.1", s.port, timeout=20)
    c.request("POST", f"/v1/functions/{name}/invoke", body=json.dumps(body),
              headers={"Authorization": "Bearer " + tok})
    return c


def answer(c):
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, {k.lower(): v for k, v in r.getheaders()}, body


def timed(f):
    t0 = time.time()
    out = f()
    return out, time.time() - t0


def run_pool(home):
    """The worker pool: while looping guests hold workers, the event
    threads go on answering other connections at once (probes, reads,
    and trivial invocations on the other workers), with the default
    threads and with a single event thread."""
    loop = read(os.path.join(WAT, "loop.wat"))
    add = read(os.path.join(EXAMPLES, "add.wat"))
    for name, args in (("default", ()), ("threads1", ("--threads", "1"))):
        s = Server(os.path.join(home, name), args=args)
        try:
            tok = make_token(s, "alpha", ["deploy", "invoke", "read"])
            st, _, body = s.req("PUT", "/v1/functions/loop?deadline_ms=2500&"
                                "memory_bytes=1048576&pool_size=2", loop,
                                token=tok)
            check(f"{name}: deploy loop", st == 201, body)
            s.req("PUT", "/v1/functions/add", add, token=tok)
            spinners = [invoke_later(s, tok, "loop", {"export": "spin"})
                        for _ in range(2)]
            time.sleep(0.3)  # both guests are spinning now
            (st, _, body), took = timed(lambda: s.req("GET", "/healthz"))
            check(f"{name}: /healthz while guests loop", st == 200 and
                  took < 0.5, f"{st} {took:.3f}s")
            (st, _, body), took = timed(lambda: s.req(
                "GET", "/v1/functions/add", token=tok))
            check(f"{name}: a read while guests loop", st == 200 and
                  took < 0.5, f"{st} {took:.3f}s")
            for i in range(3):
                (st, _, body), took = timed(lambda: s.req(
                    "POST", "/v1/functions/add/invoke",
                    {"export": "add", "args": [i, 1]}, token=tok))
                check(f"{name}: trivial invoke while guests loop",
                      st == 200 and js(body) == {"results": [i + 1]} and
                      took < 0.5, f"{st} {body[:100]} {took:.3f}s")
            for c in spinners:
                st, _, body = answer(c)
                check(f"{name}: looping guest stopped at its deadline",
                      st == 422 and is_error(st, body, "deadline_exceeded"),
                      f"{st} {body[:200]}")
        finally:
            rc = s.stop()
        check(f"{name}: clean exit", rc == 0, rc)


def run_pool_full(home):
    """One worker and room for one waiting request: the next gets 503
    with Retry-After at once; clients that leave while their request is
    running or queued do not disturb the server."""
    s = Server(home, {"invoke_queue_limit": 1}, args=("--workers", "1"))
    try:
        tok = make_token(s, "alpha", ["deploy", "invoke", "read"])
        loop = read(os.path.join(WAT, "loop.wat"))
        s.req("PUT", "/v1/functions/loop?deadline_ms=1500&"
              "memory_bytes=1048576&pool_size=1", loop, token=tok)
        s.req("PUT", "/v1/functions/quick?pool_size=1", loop, token=tok)
        spin = invoke_later(s, tok, "loop", {"export": "spin"})
        time.sleep(0.3)  # the only worker runs it
        queued = invoke_later(s, tok, "loop", {"export": "div",
                                               "args": [84, 2]})
        time.sleep(0.1)
        (st, h, body), took = timed(lambda: s.req(
            "POST", "/v1/functions/loop/invoke",
            {"export": "div", "args": [1, 1]}, token=tok))
        check("full queue -> 503", st == 503 and
              is_error(st, body, "unavailable") and
              h.get("retry-after") == "1" and took < 0.5,
              f"{st} {h} {body[:200]} {took:.3f}s")
        st, _, _ = s.req("GET", "/healthz")
        check("probes answered with the pool full", st == 200)
        # Neither the worker nor the queue can take it: only the inline
        # path on the event thread answers this.
        (st, _, body), took = timed(lambda: s.req(
            "POST", "/v1/functions/quick/invoke",
            {"export": "div", "args": [6, 3]}, token=tok))
        check("pure call answered inline with the pool full",
              st == 200 and js(body) == {"results": [2]} and took < 0.5,
              f"{st} {body[:200]} {took:.3f}s")
        st, _, body = answer(spin)
        check("running request answered", st == 422 and
              is_error(st, body, "deadline_exceeded"), body[:200])
        st, _, body = answer(queued)
        check("queued request answered", st == 200 and
              js(body) == {"results": [42]}, f"{st} {body[:200]}")

        # Clients that go away: one while its guest runs (then reset),
        # one while its request waits in the queue.
        gone = []
        for export, linger in (("spin", True), ("div", False)):
            c = socket.create_connection(("127.0.0.1", s.port))
            b = json.dumps({"export": export, "args": [] if export == "spin"
                            else [9, 3]}).encode()
            c.sendall(b"POST /v1/functions/loop/invoke HTTP/1.1\r\n"
                      b"Host: x\r\nAuthorization: Bearer " + tok.encode() +
                      b"\r\nContent-Length: " + str(len(b)).encode() +
                      b"\r\n\r\n" + b)
            if linger:  # close with a reset
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                             b"\x01\x00\x00\x00\x00\x00\x00\x00")
            time.sleep(0.2)
            gone.append(c)
        for c in gone:
            c.close()
        time.sleep(1.8)  # the guest reaches its deadline, the queue runs
        check("server alive after clients left", s.p.poll() is None)
        st, _, body = s.req("POST", "/v1/functions/loop/invoke",
                            {"export": "div", "args": [10, 5]}, token=tok)
        check("serving after clients left", st == 200 and
              js(body) == {"results": [2]}, f"{st} {body[:200]}")
        st, _, body = s.req("GET", "/metrics", token=ADMIN)
        check("nothing left in flight",
              b"tensor_wasm_http_requests_in_flight 1\n" in body, body[-300:])
    finally:
        rc = s.stop()
    check("pool-full: clean exit", rc == 0, rc)
    log = read(os.path.join(home, "server.log")).decode()
    check("no request abandoned on a worker",
          "while its request was on a worker" not in log)


def run_drain(data, config):
    """SIGTERM: stop accepting, let an in-flight request finish; new work
    on open connections is refused (503, Connection: close)."""
    cfg = {"drain_ms": 5000}
    cfg.update(config)
    mode = "threads 0" if config.get("threads") == 0 else "pool"
    s = Server(data, cfg)
    tok = make_token(s, "alpha", ["deploy", "invoke", "read"])
    loop = read(os.path.join(WAT, "loop.wat"))
    s.req("PUT", "/v1/functions/loop?deadline_ms=800", loop, token=tok)
    idle = http.client.HTTPConnection("127.0.0.1", s.port, timeout=10)
    idle.request("GET", "/healthz")
    idle.getresponse().read()  # a keep-alive connection, open
    c = invoke_later(s, tok, "loop", {"export": "spin"})
    time.sleep(0.2)
    s.p.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    idle.request("POST", "/v1/functions/loop/invoke",
                 body=json.dumps({"export": "div", "args": [4, 2]}),
                 headers={"Authorization": "Bearer " + tok})
    r = idle.getresponse()
    body = r.read()
    check(f"{mode}: new work refused while draining", r.status == 503 and
          is_error(r.status, body, "unavailable") and
          r.getheader("Connection", "").lower() == "close",
          f"{r.status} {body}")
    idle.close()
    st, _, body = answer(c)
    check(f"{mode}: in-flight request finished during drain", st == 422 and
          b"deadline" in body, f"{st} {body}")
    rc = s.p.wait(10)
    check(f"{mode}: clean exit after drain", rc == 0, rc)
    try:
        socket.create_connection(("127.0.0.1", s.port), timeout=1).close()
        check("no longer listening", False)
    except OSError:
        check("no longer listening", True)
    s.log.close()


def run_drain_timeout(data):
    """SIGTERM while a guest outlives the drain bound: the process still
    exits 0 at the bound (no stop of the HTTP daemon under a suspended
    connection)."""
    s = Server(data, {"drain_ms": 300})
    tok = make_token(s, "alpha", ["deploy", "invoke", "read"])
    loop = read(os.path.join(WAT, "loop.wat"))
    s.req("PUT", "/v1/functions/loop?deadline_ms=10000", loop, token=tok)
    c = invoke_later(s, tok, "loop", {"export": "spin"})
    time.sleep(0.2)
    t0 = time.time()
    s.p.send_signal(signal.SIGTERM)
    rc = s.p.wait(10)
    check("drain bound: exit 0 with a guest still running",
          rc == 0 and time.time() - t0 < 3, f"{rc} {time.time() - t0:.2f}s")
    c.close()
    s.log.close()


def run_cli(data):
    """The client commands against a live server."""
    os.makedirs(data, exist_ok=True)
    tok = subprocess.run([TW, "token", "create", "--tenant", "cli",
                          "--scope", "deploy,invoke,read", "--data", data],
                         capture_output=True, text=True)
    check("offline token create", tok.returncode == 0 and
          tok.stdout.startswith("twk_"), tok.stderr)
    token = tok.stdout.strip()
    s = Server(data)
    env = dict(os.environ, TENSOR_WASM_URL=f"http://127.0.0.1:{s.port}",
               TENSOR_WASM_TOKEN=token)

    def cli(*args):
        return subprocess.run([TW, *args], capture_output=True, text=True,
                              env=env, timeout=30)
    try:
        p = cli("deploy", os.path.join(EXAMPLES, "add.wat"), "--name", "add")
        check("cli deploy", p.returncode == 0 and '"name":"add"' in p.stdout,
              p.stderr)
        p = cli("invoke", "add", "--export", "add", "--args", "[2,3]")
        check("cli invoke", p.returncode == 0 and
              json.loads(p.stdout) == {"results": [5]}, p.stdout + p.stderr)
        p = cli("invoke", "add", "--export", "add", "--args", "[2,\"x\"]")
        check("cli invoke bad args", p.returncode == 2 and
              "bad_request" in p.stderr, p.stderr)
        p = cli("invoke", "add", "--export", "add", "--args", "[1,1]",
                "--async")
        jid = json.loads(p.stdout)["id"]
        time.sleep(0.3)
        p = cli("jobs")
        check("cli jobs list", p.returncode == 0 and jid in p.stdout,
              p.stdout)
        p = cli("jobs", "get", jid)
        check("cli jobs get", p.returncode == 0 and
              json.loads(p.stdout)["state"] == "succeeded", p.stdout)
        p = cli("functions")
        check("cli functions list", p.returncode == 0 and "add" in p.stdout)
        p = cli("functions", "get", "add")
        check("cli functions get", p.returncode == 0 and '"exports"' in p.stdout)
        env["TENSOR_WASM_TOKEN"] = ADMIN
        p = cli("observe", "--once")
        check("cli observe", p.returncode == 0 and "requests" in p.stdout and
              "p99" in p.stdout and "cli/add" in p.stdout,
              p.stdout + p.stderr)
        p = cli("token", "create", "--tenant", "cli", "--scope", "read")
        check("cli token create online", p.returncode == 0 and
              p.stdout.startswith("twk_"), p.stderr)
        env["TENSOR_WASM_TOKEN"] = token
        p = cli("functions", "delete", "add")
        check("cli functions delete", p.returncode == 0, p.stderr)
    finally:
        s.stop()


try:
    main()
except Exception as e:  # a crash of the harness is a failure, not a pass
    import traceback
    traceback.print_exc()
    check("test run", False, f"{type(e).__name__}: {e}")
finally:
    shutil.rmtree(TMP, ignore_errors=True)
sys.exit(harness.summary())
