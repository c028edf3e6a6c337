"""Shared pieces of the HTTP end-to-end tests: the pass/fail tally, a
`tensor-wasm serve` started on an ephemeral port of 127.0.0.1 with its own
config and data directory, and requests to it."""
import http.client
import json
import os
import signal
import subprocess
import time

counts = {"passed": 0, "failed": 0}


def check(name, cond, detail=""):
    if cond:
        counts["passed"] += 1
    else:
        counts["failed"] += 1
        print(f"FAIL {name} {detail}", flush=True)


def summary():
    """Prints the closing line CTest reads; returns the exit status."""
    print(f"{counts['passed']} passed, {counts['failed']} failed")
    return 1 if counts["failed"] else 0


def js(b):
    try:
        return json.loads(b)
    except Exception:
        return None


class Server:
    """A server process. `home` holds its config, log and port file;
    `data` (default: home) is its --data directory; `args` are more
    command-line options."""

    def __init__(self, tw, admin, home, config, data=None, env=None,
                 start_s=10, args=()):
        self.home = home
        os.makedirs(home, exist_ok=True)
        self.port_file = os.path.join(home, "port")
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        cfg = {"audit_log": os.path.join(home, "audit.log")}
        cfg.update(config)
        self.cfg_path = os.path.join(home, "config.json")
        with open(self.cfg_path, "w") as f:
            json.dump(cfg, f)
        e = dict(os.environ, TENSOR_WASM_API_TOKENS=admin,
                 TENSOR_WASM_LOG="info")
        e.update(env or {})
        e = {k: v for k, v in e.items() if v is not None}
        self.log = open(os.path.join(home, "server.log"), "ab")
        self.p = subprocess.Popen(
            [tw, "serve", "--addr", "127.0.0.1:0", "--data", data or home,
             "--config", self.cfg_path, "--port-file", self.port_file,
             *args],
            env=e, stdout=self.log, stderr=self.log)
        deadline = time.time() + start_s
        while not os.path.exists(self.port_file):
            if self.p.poll() is not None:
                raise RuntimeError("server exited at start")
            if time.time() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.05)
        with open(self.port_file) as f:
            self.port = int(f.read())

    def stop(self, timeout=15):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        try:
            rc = self.p.wait(timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        self.log.close()
        return rc

    def req(self, method, path, body=None, token=None, headers=None,
            timeout=20):
        c = http.client.HTTPConnection("127.0.0.1", self.port,
                                       timeout=timeout)
        h = dict(headers or {})
        if token:
            h["Authorization"] = "Bearer " + token
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", "application/json")
        elif isinstance(body, str):
            body = body.encode()
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        hdrs = {k.lower(): v for k, v in r.getheaders()}
        c.close()
        return r.status, hdrs, data
