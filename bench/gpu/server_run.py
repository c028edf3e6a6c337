#!/usr/bin/env python3
"""The GPU proof of issue 6 through the HTTP service: `tensor-wasm serve`
on 127.0.0.1 with a throw-away data directory and a bootstrap admin token,
two tenants with their own tokens, the example guests deployed for both,
everything over HTTP (Python's standard library only: nothing to install
on the device).

  server_run.py TENSOR_WASM GUESTS_DIR

Checks (printed as "CHECK name PASS|FAIL detail", like gpu_bench):
vector_add correctness for both tenants; A over its GPU memory quota
refused (403 gpu_quota_exceeded) while B runs; A's wild read of B's
buffer address and A's faulting kernel leave B's results correct and its
data unread; A recovers on its next call; the GPU metrics. Measures
(key=value): a new tenant's first request to its first kernel result,
without and with a pre-warmed spare worker (median of 3), and a warm call.
TW_GPU_MOCK=1 runs it on the mock backend (CI runs it that way). Exit
status 1 when a check failed.
"""
import http.client
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TW, GUESTS = sys.argv[1], sys.argv[2]
MOCK = os.environ.get("TW_GPU_MOCK") == "1"
ADMIN = "device-run-admin-token-0123456789abcdef"
QUOTA = 256 << 20
SECRET = 0x5EC2E7
# B keeps its secret through this many launch+sync rounds while A
# misbehaves (the mock launches ~10x faster than the H100 round trip).
HOLD_ITERS = int(os.environ.get("HOLD_ITERS", "500000" if MOCK else "200000"))
failures = 0


def check(name, ok, detail=""):
    global failures
    print(f"CHECK {name} {'PASS' if ok else 'FAIL'} {detail}", flush=True)
    if not ok:
        failures += 1


class Server:
    def __init__(self, tmp, name, gpu):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        cfg = os.path.join(self.dir, "config.json")
        with open(cfg, "w") as f:
            json.dump({"connection_timeout_s": 120,
                       "audit_log": os.path.join(self.dir, "audit.log"),
                       "gpu": gpu}, f)
        self.port_file = os.path.join(self.dir, "port")
        self.log_path = os.path.join(self.dir, "server.log")
        self.log = open(self.log_path, "wb")
        env = dict(os.environ, TENSOR_WASM_API_TOKENS=ADMIN,
                   TENSOR_WASM_LOG="info")
        self.p = subprocess.Popen(
            [TW, "serve", "--addr", "127.0.0.1:0", "--data",
             os.path.join(self.dir, "data"), "--config", cfg,
             "--port-file", self.port_file],
            env=env, stdout=self.log, stderr=self.log)
        for _ in range(600):
            if os.path.exists(self.port_file) or self.p.poll() is not None:
                break
            time.sleep(0.05)
        if not os.path.exists(self.port_file):
            self.dump()
            raise RuntimeError("the server did not start")
        with open(self.port_file) as f:
            self.port = int(f.read())
        self.tokens = {}

    def dump(self):
        self.log.flush()
        with open(self.log_path, "rb") as f:
            tail = f.read()[-4000:].decode(errors="replace")
        print(f"--- {self.log_path} (tail)\n{tail}---", flush=True)

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(30)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.log.close()
        return rc

    def req(self, method, path, body=None, token=ADMIN, headers=None,
            timeout=180):
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=timeout)
        h = dict(headers or {})
        h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            obj = json.loads(data)
        except ValueError:
            obj = None
        return r.status, obj, data

    def tenant(self, name):
        st, o, raw = self.req("POST", "/v1/tokens", {
            "tenant": name, "scopes": ["deploy", "invoke", "read"]})
        if st != 201:
            raise RuntimeError(f"token for {name}: {st} {raw[:200]}")
        self.tokens[name] = o["token"]

    def deploy(self, tenant, name, guest):
        with open(os.path.join(GUESTS, guest + ".wasm"), "rb") as f:
            wasm = f.read()
        st, _, raw = self.req("PUT", f"/v1/functions/{name}", wasm,
                              self.tokens[tenant])
        if st not in (200, 201):
            raise RuntimeError(f"deploy {tenant}/{name}: {st} {raw[:300]}")

    def call(self, tenant, name, export, *args):
        """(status, result or None, error code or None, message, ms)"""
        t0 = time.perf_counter()
        st, o, raw = self.req("POST", f"/v1/functions/{name}/invoke",
                              {"export": export, "args": list(args)},
                              self.tokens[tenant])
        ms = (time.perf_counter() - t0) * 1e3
        if st == 200 and o and o.get("results"):
            return st, o["results"][0], None, "", ms
        err = (o or {}).get("error") or {}
        return st, None, err.get("code"), err.get("message",
                                                  raw[:200].decode(
                                                      errors="replace")), ms

    def metrics(self):
        st, _, raw = self.req("GET", "/metrics")
        return raw.decode() if st == 200 else ""


def metric(text, name):
    m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
    return float(m.group(1)) if m else None


def isolation(s):
    A, B = "tenant-a", "tenant-b"
    for t in (A, B):
        s.tenant(t)
        s.deploy(t, "vadd", "vector_add")
        s.deploy(t, "iso", "isolation")
    n = 1 << 20
    for t in (A, B):
        st, v, code, msg, ms = s.call(t, "vadd", "run", n)
        check(f"server.vector_add_{t[-1]}", st == 200 and v == 0,
              f"{t}: run({n}) -> {st} mismatches={v} {code or ''} {msg} "
              f"({ms:.0f} ms, first call)")

    st, addr, code, msg, _ = s.call(B, "iso", "leak", SECRET)
    check("server.b_leak", st == 200 and isinstance(addr, int) and addr > 0,
          f"B's buffer at {hex(addr) if isinstance(addr, int) else addr} "
          f"{code or ''} {msg}")
    if not isinstance(addr, int):
        addr = 0x10

    # B holds its secret in a device buffer while A misbehaves.
    hold = {}

    def run_hold():
        hold["r"] = s.call(B, "iso", "hold", SECRET, HOLD_ITERS)
    th = threading.Thread(target=run_hold)
    th.start()
    time.sleep(0.05)

    st, v, code, msg, _ = s.call(A, "iso", "hog", 512)
    check("server.a_over_quota", st == 403 and code == "gpu_quota_exceeded",
          f"A allocating 512 MiB with a {QUOTA >> 20} MiB quota -> {st} "
          f"{code} {msg}")
    st, v, code, msg, _ = s.call(A, "iso", "hog", 64)
    check("server.a_within_quota", st == 200 and v == 0,
          f"A allocating 64 MiB -> {st} {v} {code or ''} {msg}")
    st, v, code, msg, _ = s.call(A, "iso", "wild_read", addr)
    check("server.a_wild_read",
          (st == 200 and v != SECRET) or
          (st == 502 and code == "gpu_worker_failed"),
          f"A read B's address {hex(addr)} -> {st} "
          + (f"0x{v & 0xffffffff:x} (B's secret is {SECRET:x})"
             if st == 200 and isinstance(v, int) else f"{code} {msg}"))
    st, v, code, msg, _ = s.call(A, "iso", "wild_write", addr)
    print(f"server.a_wild_write_b_addr_status={st}")
    print(f"A wrote 0xDEADBEEF at B's address: {st} {v} {code or ''} {msg} "
          "(it hits A's own memory or faults A's worker)")
    st, v, code, msg, _ = s.call(A, "iso", "wild_write", 0x10)
    check("server.a_fault", st == 502 and code == "gpu_worker_failed",
          f"A's wild write to 0x10 -> {st} {code} {msg}")

    th.join()
    st, v, code, msg, ms = hold["r"]
    check("server.b_intact", st == 200 and v == 0,
          f"B's secret after {HOLD_ITERS} launches next to A's faults: "
          f"{v} words changed ({ms:.0f} ms) {code or ''} {msg}")
    st, v, code, msg, _ = s.call(B, "vadd", "run", n)
    check("server.b_results", st == 200 and v == 0,
          f"B vector_add({n}) mismatches={v} {code or ''} {msg}")
    st, v, code, msg, ms = s.call(A, "vadd", "run", n)
    check("server.a_recovers", st == 200 and v == 0,
          f"A's next call: {st} mismatches={v} {code or ''} {msg} "
          f"({ms:.0f} ms, new worker)")

    m = s.metrics()
    crashes = metric(m, "tensor_wasm_gpu_worker_crashes_total")
    check("server.metrics",
          'tensor_wasm_gpu_memory_bytes_per_tenant{tenant="tenant-b"' in m
          and 'tensor_wasm_gpu_launches_total{tenant="tenant-a"' in m
          and crashes is not None and crashes >= 1,
          f"per-tenant GPU metrics present, worker crashes={crashes}")
    gpu_lines = [l for l in m.splitlines() if l.startswith("tensor_wasm_gpu")]
    print("--- GPU metrics\n" + "\n".join(gpu_lines) + "\n---")


def coldstart(s, prefix, spare):
    times = []
    for i in range(3):
        t = f"{prefix}-{i}"
        s.tenant(t)
        s.deploy(t, "vadd", "vector_add")
        taken0 = None
        if spare:
            deadline = time.time() + 60
            while True:
                m = s.metrics()
                if (metric(m, "tensor_wasm_gpu_spares_ready") or 0) >= 1:
                    break
                if time.time() > deadline:
                    check(f"server.coldstart_{prefix}", False,
                          "no spare ready after 60 s")
                    return None
                time.sleep(0.1)
            taken0 = metric(m, "tensor_wasm_gpu_spares_taken_total")
        st, v, code, msg, ms = s.call(t, "vadd", "run", 1024)
        if st != 200 or v != 0:
            check(f"server.coldstart_{prefix}", False,
                  f"{t}: {st} {v} {code} {msg}")
            return None
        if spare:
            taken = metric(s.metrics(), "tensor_wasm_gpu_spares_taken_total")
            if taken != (taken0 or 0) + 1:
                check(f"server.coldstart_{prefix}", False,
                      f"{t}'s first call did not take the spare "
                      f"({taken0} -> {taken})")
                return None
        times.append(ms)
    print(f"{prefix} first-call ms: " + ", ".join(f"{x:.1f}" for x in times))
    return statistics.median(times)


def main():
    tmp = tempfile.mkdtemp(prefix="tw-gpu-server-")
    servers = []
    try:
        # Isolation, and cold starts without a spare.
        s = Server(tmp, "main", {"tenant_memory_quota": QUOTA,
                                 "spares_per_device": 0})
        servers.append(s)
        isolation(s)
        cold = coldstart(s, "cold", False)
        warm_calls = [s.call("cold-0", "vadd", "run", 1024)[4]
                      for _ in range(3)] if cold is not None else []
        if s.stop() != 0:
            check("server.shutdown", False, "the server did not exit cleanly")
        servers.remove(s)
        # Cold starts with one pre-warmed spare per device.
        s = Server(tmp, "spare", {"tenant_memory_quota": QUOTA,
                                  "spares_per_device": 1})
        servers.append(s)
        spare = coldstart(s, "spare", True)
        s.stop()
        servers.remove(s)
        ok = cold is not None and spare is not None
        check("server.coldstart", ok,
              f"new tenant's first request -> first kernel result, median "
              f"of 3: {cold and round(cold, 1)} ms without a spare, "
              f"{spare and round(spare, 1)} ms with one")
        if cold is not None:
            print(f"server.coldstart_no_spare_ms={cold:.1f}")
        if spare is not None:
            print(f"server.coldstart_spare_ms={spare:.1f}")
        if warm_calls:
            print(f"server.warm_call_ms={statistics.median(warm_calls):.1f}")
    except Exception as e:  # report, with the server's log, and fail
        check("server.run", False, f"{type(e).__name__}: {e}")
        for s in servers:
            s.dump()
    finally:
        for s in servers:
            s.stop()
        if failures:
            print(f"(server data kept in {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
