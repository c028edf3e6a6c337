#!/usr/bin/env python3
"""Functions that import wasi:cuda through `tensor-wasm serve`, on the mock
GPU backend (TW_GPU_MOCK=1, set by CTest): deploy the example guests for
two tenants, invoke them (typed, handler, asynchronous jobs), quota and
faults of one tenant with the other unaffected, a worker killed mid-call,
the errors' JSON, the GPU metrics (promtool), the "gpu" config section,
and a server without a GPU (deploy allowed, invoke 503). Then runs
bench/gpu/server_run.py (the device run's server step) on the mock.

Usage: test_gpu_api.py TENSOR_WASM SOURCE_DIR GUESTS_DIR
Ends with "N passed, N failed"; exit status 1 on any failure, 77 (skip)
when the example guests were not built (no clang/wasi-libc).
"""
import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

import harness
from harness import check, js

TW, SRC, GUESTS = sys.argv[1], sys.argv[2], sys.argv[3]
ADMIN = "admin-gpu-test-token-0123456789abcdef"
TMP = tempfile.mkdtemp(prefix="tw-gpu-api-test-")
QUOTA = 256 << 20


class Server(harness.Server):
    def __init__(self, name, config=None, mock=True):
        cfg = {"connection_timeout_s": 10, "drain_ms": 5000}
        cfg.update(config or {})
        home = os.path.join(TMP, name)
        os.makedirs(home)
        super().__init__(TW, ADMIN, home, cfg,
                         data=os.path.join(home, "d"),
                         env={"TW_GPU_MOCK": "1" if mock else None},
                         start_s=20)
        self.data = home
        self.tokens = {}

    def stop(self, timeout=20):
        return super().stop(timeout)

    def req(self, method, path, body=None, token=ADMIN, headers=None):
        return super().req(method, path, body, token, headers, timeout=60)

    def tenant(self, t):
        st, _, b = self.req("POST", "/v1/tokens", {
            "tenant": t, "scopes": ["deploy", "invoke", "read"]})
        assert st == 201, (st, b)
        self.tokens[t] = json.loads(b)["token"]

    def deploy(self, t, name, path, mode=None):
        with open(path, "rb") as f:
            body = f.read()
        q = f"?mode={mode}" if mode else ""
        return self.req("PUT", f"/v1/functions/{name}{q}", body,
                        self.tokens[t])

    def call(self, t, name, export, *args, headers=None):
        st, h, b = self.req("POST", f"/v1/functions/{name}/invoke",
                            {"export": export, "args": list(args)},
                            self.tokens[t], headers)
        return st, h, js(b)


def err_code(o):
    if isinstance(o, dict) and isinstance(o.get("error"), dict) and \
            isinstance(o["error"].get("message"), str):
        return o["error"].get("code")
    return None


def result(o):
    return o["results"][0] if isinstance(o, dict) and o.get("results") \
        else None


def guest(name):
    return os.path.join(GUESTS, name + ".wasm")


def wait_job(s, tok, jid):
    for _ in range(400):
        st, _, b = s.req("GET", f"/v1/jobs/{jid}", token=tok)
        o = js(b)
        if st == 200 and o["state"] in ("succeeded", "failed", "cancelled"):
            return o
        time.sleep(0.05)
    return None


def worker_pids(server_pid):
    """The server's child processes running `worker`."""
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except (OSError, ValueError, IndexError):
            continue
        if ppid == server_pid and len(argv) > 1 and argv[1] == b"worker":
            pids.append(int(d))
    return pids


def run_gpu(s):
    A, B = "gpu-a", "gpu-b"
    for t in (A, B):
        s.tenant(t)
        for name, g in (("vadd", "vector_add"), ("iso", "isolation")):
            st, _, b = s.deploy(t, name, guest(g))
            check(f"deploy {t}/{name}", st == 201, f"{st} {b[:300]}")
    st, _, b = s.req("GET", "/v1/functions/vadd", token=s.tokens[A])
    o = js(b)
    check("function get lists exports",
          st == 200 and any(e["name"] == "run" for e in o["exports"]), b)

    for t in (A, B):
        st, _, o = s.call(t, "vadd", "run", 65536)
        check(f"vector_add {t}", st == 200 and result(o) == 0, f"{st} {o}")

    st, _, o = s.call(B, "iso", "leak", 0x5EC2E7)
    addr = result(o)
    check("B leaks its buffer address", st == 200 and addr and addr > 0,
          f"{st} {o}")

    # B holds a secret through many launches while A misbehaves.
    hold = {}

    def run_hold():
        hold["r"] = s.call(B, "iso", "hold", 0x5EC2E7, 500000)
    th = threading.Thread(target=run_hold)
    th.start()
    st, h, o = s.call(A, "iso", "hog", 512)
    check("A over its GPU quota: 403 gpu_quota_exceeded",
          st == 403 and err_code(o) == "gpu_quota_exceeded" and
          "quota" in o["error"]["message"], f"{st} {o}")
    st, _, o = s.call(A, "iso", "hog", 16)
    check("A within its GPU quota", st == 200 and result(o) == 0,
          f"{st} {o}")
    st, _, o = s.call(A, "iso", "wild_read", addr or 16)
    check("A's wild read does not read B's secret",
          (st == 200 and result(o) != 0x5EC2E7) or
          (st == 502 and err_code(o) == "gpu_worker_failed"), f"{st} {o}")
    st, _, o = s.call(A, "iso", "wild_write", 16)
    check("A's faulting kernel: 502 gpu_worker_failed",
          st == 502 and err_code(o) == "gpu_worker_failed" and
          "faulted" in o["error"]["message"], f"{st} {o}")
    th.join()
    st, _, o = hold["r"]
    check("B unaffected by A's faults", st == 200 and result(o) == 0,
          f"{st} {o}")
    st, _, o = s.call(B, "vadd", "run", 65536)
    check("B's results correct", st == 200 and result(o) == 0, f"{st} {o}")
    st, _, o = s.call(A, "vadd", "run", 65536)
    check("A recovers on its next call", st == 200 and result(o) == 0,
          f"{st} {o}")

    # Request errors are checked before the worker.
    st, _, o = s.call(A, "vadd", "nope")
    check("unknown export: 404", st == 404 and
          err_code(o) == "unknown_export", f"{st} {o}")
    st, _, o = s.call(A, "vadd", "run", "x")
    check("bad argument: 400", st == 400 and err_code(o) == "bad_request",
          f"{st} {o}")
    st, _, b = s.req("POST", "/v1/functions/vadd/invoke", "{", s.tokens[A])
    check("bad JSON: 400", st == 400 and err_code(js(b)) == "bad_request",
          f"{st} {b}")

    # Asynchronous jobs run the same way.
    for export, args, want_state, want in (
            ("run", [4096], "succeeded", None),
            ("wild_write", [16], "failed", "gpu_worker_failed")):
        fn = "vadd" if export == "run" else "iso"
        st, _, b = s.req("POST", f"/v1/functions/{fn}/invoke",
                         {"export": export, "args": args}, s.tokens[A],
                         {"Prefer": "respond-async"})
        o = js(b)
        check(f"job {export} accepted", st == 202, f"{st} {b}")
        j = wait_job(s, s.tokens[A], o["id"]) if st == 202 else None
        if want is None:
            check("job on the GPU succeeds", j and j["state"] == want_state
                  and j.get("result") == {"results": [0]}, j)
        else:
            check("job with a faulting kernel fails cleanly",
                  j and j["state"] == want_state and j.get("status") == 502
                  and j["error"]["code"] == want, j)

    # Handler mode: the body is stdin, stdout the reply.
    st, _, b = s.deploy(A, "h", os.path.join(SRC, "tests", "http", "wat",
                                             "gpu_handler.wat"), "handler")
    check("deploy a wasi:cuda handler", st == 201, f"{st} {b}")
    st, h, b = s.req("POST", "/v1/functions/h/invoke", b"hello",
                     s.tokens[A])
    check("handler on the GPU", st == 200 and b == b"gpu ok: hello" and
          h.get("x-exit-code") == "0", f"{st} {b} {h}")

    # A worker killed mid-call: 502, then a new worker.
    done = {}

    def long_call():
        done["r"] = s.call(B, "iso", "hold", 7, 50000000)
    th = threading.Thread(target=long_call)
    th.start()
    time.sleep(0.5)
    before = worker_pids(s.p.pid)
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    th.join(60)
    st, _, o = done.get("r", (None, None, None))
    check("worker killed mid-call: 502 gpu_worker_failed",
          len(before) >= 1 and st == 502 and
          err_code(o) == "gpu_worker_failed" and
          "died during the call" in o["error"]["message"], f"{st} {o}")
    st, _, o = s.call(B, "vadd", "run", 1024)
    check("B's next call starts a new worker", st == 200 and result(o) == 0,
          f"{st} {o}")

    # Metrics: the supervisor's, in a valid exposition.
    st, _, b = s.req("GET", "/metrics")
    m = b.decode()
    for needle in ('tensor_wasm_gpu_available 1',
                   'tensor_wasm_gpu_memory_bytes_per_tenant{tenant="gpu-b"',
                   f'tensor_wasm_gpu_memory_quota_bytes{{tenant="gpu-a",'
                   f'device="0"}} {QUOTA}',
                   'tensor_wasm_gpu_launches_total{tenant="gpu-b"',
                   'tensor_wasm_gpu_permits_in_use{tenant="gpu-a"',
                   'tensor_wasm_gpu_workers{kind="tenant"}',
                   'tensor_wasm_invocations_total{function="gpu-a/iso",'
                   'outcome="rejected"} 1'):
        check(f"metrics has {needle}", needle in m)
    crashes = [l for l in m.splitlines()
               if l.startswith("tensor_wasm_gpu_worker_crashes_total ")]
    check("metrics count worker crashes",
          crashes and int(crashes[0].split()[1]) >= 3, crashes)
    promtool = shutil.which("promtool")
    if promtool:
        p = subprocess.run([promtool, "check", "metrics"], input=b,
                           capture_output=True, timeout=30)
        check("promtool check metrics", p.returncode == 0,
              p.stdout.decode() + p.stderr.decode())
    else:
        check("promtool installed", False, "promtool not found")


def run_spares():
    s = Server("spares", {"gpu": {"spares_per_device": 1,
                                  "pins": {"pinned": 0}}})
    try:
        ready = 0
        for _ in range(200):
            _, _, b = s.req("GET", "/metrics")
            for l in b.decode().splitlines():
                if l.startswith("tensor_wasm_gpu_spares_ready "):
                    ready = int(l.split()[1])
            if ready:
                break
            time.sleep(0.05)
        check("a spare worker is ready", ready == 1)
        s.tenant("pinned")
        st, _, _ = s.deploy("pinned", "vadd", guest("vector_add"))
        st, _, o = s.call("pinned", "vadd", "run", 1024)
        check("first call on a spare", st == 200 and result(o) == 0,
              f"{st} {o}")
        _, _, b = s.req("GET", "/metrics")
        check("the spare was taken",
              "tensor_wasm_gpu_spares_taken_total 1" in b.decode())
    finally:
        check("spares server stops cleanly", s.stop() == 0)


def run_no_gpu():
    # GPU support off (the same path as a host without a GPU).
    for name, cfg, mock in (("off", {"gpu": {"enabled": False}}, True),
                            ("nogpu", {}, False)):
        s = Server(name, cfg, mock=mock)
        try:
            _, _, b = s.req("GET", "/metrics")
            if "tensor_wasm_gpu_available 1" in b.decode():
                continue  # this host has a real GPU: nothing to check
            check(f"{name}: metrics say no GPU",
                  "tensor_wasm_gpu_available 0" in b.decode())
            s.tenant("t")
            st, _, b = s.deploy("t", "vadd", guest("vector_add"))
            check(f"{name}: deploy of a wasi:cuda module allowed", st == 201,
                  f"{st} {b}")
            st, _, o = s.call("t", "vadd", "run", 1024)
            check(f"{name}: invoke answers 503 gpu_unavailable",
                  st == 503 and err_code(o) == "gpu_unavailable" and
                  "wasi:cuda" in o["error"]["message"], f"{st} {o}")
        finally:
            s.stop()


def run_bad_config():
    for cfg, want in (({"gpu": {"bogus": 1}}, "gpu.bogus"),
                      ({"gpu": {"spares_per_device": -1}},
                       "gpu.spares_per_device"),
                      ({"gpu": {"pins": {"t": 99}}}, "gpu.pins"),
                      ({"gpu": 3}, "\"gpu\"")):
        path = os.path.join(TMP, "bad.json")
        with open(path, "w") as f:
            json.dump(cfg, f)
        p = subprocess.run([TW, "serve", "--addr", "127.0.0.1:0", "--data",
                            os.path.join(TMP, "bad"), "--config", path],
                           capture_output=True, timeout=30)
        check(f"bad config {cfg} refused", p.returncode != 0 and
              want in p.stderr.decode(), p.stderr.decode())


def main():
    if not os.path.exists(guest("vector_add")):
        print(f"the example guests are not built in {GUESTS}: skipped")
        return 77
    try:
        s = Server("main", {"gpu": {"tenant_memory_quota": QUOTA}})
        try:
            run_gpu(s)
        finally:
            check("server stops cleanly", s.stop() == 0)
        run_spares()
        run_no_gpu()
        run_bad_config()
        env = dict(os.environ, TW_GPU_MOCK="1")
        p = subprocess.run([sys.executable,
                            os.path.join(SRC, "bench", "gpu",
                                         "server_run.py"), TW, GUESTS],
                           env=env, capture_output=True, timeout=240)
        out = p.stdout.decode() + p.stderr.decode()
        check("bench/gpu/server_run.py on the mock", p.returncode == 0 and
              " FAIL " not in out, out)
    except Exception as e:
        check("test run", False, f"{type(e).__name__}: {e}")
    rc = harness.summary()
    if rc:
        print(f"(data kept in {TMP})")
    else:
        shutil.rmtree(TMP, ignore_errors=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
