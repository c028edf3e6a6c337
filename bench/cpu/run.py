#!/usr/bin/env python3
"""CPU benchmarks of TensorWasm against native code and other engines.

One run does everything: builds the programs of bench/cpu/src natively
(gcc -O2) and for wasm32-wasi (clang -O2, reactor, no imports), builds
tensor-wasm, runs every program on every engine, checks every result
against native's (MISMATCH: exit status 1), prints a table of median call
times and ratios to native, a table of compile times, and writes both to
bench/results/cpu-YYYY-MM-DD.md.

    python3 bench/cpu/run.py [--quick] [--runs R] [--only a,b] [--engines ...]

Engines: native, tw-t0 (tensor-wasm --tier 0), tw-t1 (--tier 1, waits for
tier 1 before the call), tw-t1-nochk (tier 1 built with --no-interrupt:
no deadline checks at loop headers, to measure what they cost), wasmtime and wasm3 (Python packages, see
bench/requirements.txt), node (V8, TurboFan only: --no-liftoff, because V8
does not tier up a function while it runs a loop). Each engine times only
the call of run(n): compile and instantiation are measured separately.
"""
import argparse
import datetime
import json
import math
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "bench", "cpu")
SRC = os.path.join(HERE, "src")

# name, n (sized for ~0.3-1.5 s native on the reference machine), summary
PROGRAMS = [
    ("loop", 500_000_000, "integer loop, 500M iterations"),
    ("matmul", 1000, "f64 matrix multiply, 1000^3"),
    ("heapsort", 3_000_000, "heapsort of 3M ints"),
    ("sha256", 128, "SHA-256 of 128 x 1 MiB"),
    ("nbody", 5_000_000, "n-body, 5 bodies, 5M steps"),
    ("compress", 16_000_000, "LZ77 + Huffman sizes over 16 MB text"),
    ("fib", 42, "recursive fib(42)"),
    ("hashtab", 1_000_000, "string hash table, 1M inserts + 2M lookups"),
    ("big", 1000, "generated 1.2 MB module, 1300 functions x 1000"),
]
# Programs whose compile time is tabled (big is the >= 1 MB module).
COMPILE_PROGRAMS = ["big", "compress", "sha256", "nbody"]
ENGINES = ["native", "tw-t0", "tw-t1", "tw-t1-nochk", "wasmtime", "node",
           "wasm3"]
ENGINE_TITLES = {
    "native": "native gcc -O2", "tw-t0": "tensor-wasm tier 0",
    "tw-t1": "tensor-wasm tier 1",
    "tw-t1-nochk": "tier 1, no loop checks", "wasmtime": "Wasmtime",
    "node": "node (V8 TurboFan)", "wasm3": "wasm3 (interp.)",
}
WASM3_TIMEOUT_S = 60      # a wasm3 run past this is "skipped (too slow)"
WASM3_REPEAT_BELOW_S = 10  # wasm3 runs longer than this are not repeated
NODE_FLAGS = ["--no-liftoff", "--no-wasm-lazy-compilation"]
NODE_LIFTOFF_FLAGS = ["--no-wasm-lazy-compilation"]

WASM_CFLAGS = ["--target=wasm32-wasi", "-O2", "-std=c11", "-mexec-model=reactor",
               "-Wl,--export=run", "-I" + SRC]
NATIVE_CFLAGS = ["-O2", "-std=c11", "-I" + SRC]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def out_of(cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True,
                              timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


def stale(target, deps):
    if not os.path.exists(target):
        return True
    t = os.path.getmtime(target)
    return any(os.path.getmtime(d) > t for d in deps)


# ---- building ----

def wasm_imports(path):
    """The (module, name) imports of a .wasm binary (section 2), read here
    so that the check needs no tool."""
    data = open(path, "rb").read()

    def leb(i):
        v = shift = 0
        while True:
            b = data[i]
            i += 1
            v |= (b & 0x7F) << shift
            shift += 7
            if b < 0x80:
                return v, i

    def name(i):
        n, i = leb(i)
        return data[i:i + n].decode("utf-8", "replace"), i + n

    i, out = 8, []
    while i < len(data):
        sid = data[i]
        size, j = leb(i + 1)
        if sid == 2:
            count, k = leb(j)
            for _ in range(count):
                mod, k = name(k)
                nm, k = name(k)
                out.append((mod, nm))
                kind = data[k]
                k += 1
                if kind == 0:
                    _, k = leb(k)
                elif kind == 1:
                    k += 1  # reference type
                    flags, k = leb(k)
                    _, k = leb(k)
                    if flags & 1:
                        _, k = leb(k)
                elif kind == 2:
                    flags, k = leb(k)
                    _, k = leb(k)
                    if flags & 1:
                        _, k = leb(k)
                else:
                    k += 2
        i = j + size
    return out


def build_programs(bdir, names):
    os.makedirs(bdir, exist_ok=True)
    common = [os.path.join(SRC, "bench.h")]
    for name in names:
        if name == "big":
            src = os.path.join(bdir, "big.c")
            gen = os.path.join(HERE, "gen_big.py")
            if stale(src, [gen]):
                log("generating big.c")
                sh([sys.executable, gen, src])
            extra = ["-w"]  # generated code: self-comparisons and the like
        else:
            src = os.path.join(SRC, name + ".c")
            extra = ["-Wall", "-Wextra"]
        wasm = os.path.join(bdir, name + ".wasm")
        native = os.path.join(bdir, name + ".native")
        if stale(wasm, [src] + common):
            log("building %s.wasm (clang -O2)" % name)
            sh(["clang"] + WASM_CFLAGS + extra + ["-o", wasm, src])
        if stale(native, [src, os.path.join(HERE, "native_main.c")] + common):
            log("building %s.native (gcc -O2)" % name)
            sh(["gcc"] + NATIVE_CFLAGS + extra +
               ["-o", native, os.path.join(HERE, "native_main.c"), src, "-lm"])
        imports = wasm_imports(wasm)
        if imports:
            sys.exit("%s imports %s: the programs must be self-contained"
                     % (wasm, imports))


def build_tensor_wasm(bdir):
    log("building tensor-wasm (cmake, %s)" % bdir)
    sh(["cmake", "-S", ROOT, "-B", bdir, "-DCMAKE_BUILD_TYPE=Release"],
       stdout=subprocess.DEVNULL)
    sh(["cmake", "--build", bdir, "-j2", "--target", "tensor-wasm"],
       stdout=subprocess.DEVNULL)
    return os.path.join(bdir, "tensor-wasm")


# ---- engines ----

class Skip(Exception):
    pass


def as_i64(v):
    v = int(v) & (2**64 - 1)
    return v - 2**64 if v >= 2**63 else v


def run_json(cmd, timeout=None, env=None):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        raise Skip("skipped (too slow: > %d s)" % timeout)
    if p.returncode != 0:
        raise RuntimeError("%s failed (%d): %s" % (shlex.join(cmd), p.returncode,
                                                  (p.stderr or p.stdout)[-2000:]))
    return p


def tw_run(cmd, env, tier):
    """Runs a `tensor-wasm run ... --timing` command: its --timing record
    with the call's result added, checked to have run at `tier` when that
    is 1 (a failed tier 1 leaves tier 0 serving, which must not pass for
    tier 1's time)."""
    p = run_json(cmd, env=env)
    timing = None
    for line in p.stderr.splitlines():
        if line.startswith('{"decode_validate_ms"'):
            timing = json.loads(line)
    if timing is None:
        raise RuntimeError("no --timing line from %s: %s"
                           % (shlex.join(cmd), p.stderr[-500:]))
    timing["result"] = json.loads(p.stdout)[0]
    if tier == 1 and timing["tier"] != 1:
        raise RuntimeError("%s: the call ran at tier %s, not 1 (stderr: %s)"
                           % (shlex.join(cmd), timing["tier"], p.stderr[-500:]))
    return timing


class Runner:
    def __init__(self, args, tw):
        self.args = args
        self.tw = tw
        self.bdir = args.build_dir
        self.cache = os.path.join(self.bdir, "tw-cache")
        self.env = dict(os.environ, TW_CACHE_DIR=self.cache,
                        TW_CC_TIMEOUT_MS="900000")
        help_text = out_of([tw, "run", "--help"])
        self.has_tier = "--tier" in help_text
        self.has_timing = "--timing" in help_text
        self.py = args.python

    def wasm(self, name):
        return os.path.join(self.bdir, name + ".wasm")

    def tw_cmd(self, name, n, tier):
        cmd = [self.tw, "run", self.wasm(name), "--invoke", "run",
               "--args", "[%d]" % n, "--timeout", "0", "--timing"]
        env = dict(self.env)
        if tier is not None:
            if self.has_tier:
                cmd += ["--tier", str(tier)]
            elif tier == 0:
                # Without --tier the default (auto) would compile tier 1 in
                # the background during the call: a compiler that cannot be
                # found keeps it at tier 0.
                env["TW_CC"] = "/nonexistent/tw-bench-no-cc"
            else:
                raise Skip("skipped (no --tier option yet)")
        return cmd, env

    def tw_timing(self, name, n, tier, env_extra=None):
        cmd, env = self.tw_cmd(name, n, tier)
        if env_extra:
            env.update(env_extra)
        return tw_run(cmd, env, tier)

    def once(self, engine, name, n, timeout=None):
        """One run: {"result": int, "call_ms": float}."""
        if engine == "native":
            p = run_json([os.path.join(self.bdir, name + ".native"), str(n)])
            return json.loads(p.stdout)
        if engine in ("tw-t0", "tw-t1"):
            return self.tw_timing(name, n, 0 if engine == "tw-t0" else 1)
        if engine == "tw-t1-nochk":
            return self.tw_timing(name, n, 1, {"TW_NO_EPOCH": "1"})
        if engine in ("wasmtime", "wasm3"):
            p = run_json([self.py, os.path.join(HERE, "py_runner.py"), engine,
                          self.wasm(name), str(n)], timeout=timeout)
            return json.loads(p.stdout)
        if engine == "node":
            p = run_json(["node"] + NODE_FLAGS +
                         [os.path.join(HERE, "node_runner.cjs"), self.wasm(name), str(n)])
            return json.loads(p.stdout)
        raise ValueError(engine)

    def available(self, engine):
        """None if the engine can run, else why not."""
        if engine in ("tw-t1", "tw-t1-nochk") and not self.has_tier:
            return "skipped: tensor-wasm run has no --tier option yet"
        if engine in ("wasmtime", "wasm3"):
            mod = "wasmtime" if engine == "wasmtime" else "wasm3"
            if subprocess.run([self.py, "-c", "import " + mod],
                              capture_output=True).returncode != 0:
                return ("skipped: Python package missing "
                        "(pip install -r bench/requirements.txt)")
        if engine == "node" and not shutil.which("node"):
            return "skipped: node not found"
        return None

    # ---- compile times ----

    def compile_times(self, name, runs):
        out = {}
        wasm = self.wasm(name)
        t0 = [self.tw_timing(name, 1, 0) for _ in range(runs)]
        out["tw-t0"] = statistics.median(t["module_new_ms"] for t in t0)
        out["tw-t0-split"] = {
            k: statistics.median(t[k] for t in t0)
            for k in ("decode_validate_ms", "codegen_ms", "compile_ms")}
        if self.has_tier:
            big = os.path.getsize(wasm) > 100_000
            vals = []
            for _ in range(1 if big else runs):
                with tempfile.TemporaryDirectory(prefix="tw-bench-cache-") as d:
                    t = self.tw_timing(name, 1, 1, {"TW_CACHE_DIR": d})
                vals.append(t["compile_ms"])
            out["tw-t1"] = statistics.median(vals)
            out["tw-t1-runs"] = len(vals)
        if self.available("wasmtime") is None:
            out["wasmtime"] = statistics.median(
                json.loads(run_json([self.py, os.path.join(HERE, "py_runner.py"),
                                     "wasmtime", wasm, "1", "--compile-only"]).stdout)
                ["compile_ms"] for _ in range(runs))
        if self.available("node") is None:
            for key, flags in (("node", NODE_FLAGS), ("node-liftoff", NODE_LIFTOFF_FLAGS)):
                out[key] = statistics.median(
                    json.loads(run_json(["node"] + flags + [
                        os.path.join(HERE, "node_runner.cjs"), wasm, "1",
                        "compile"]).stdout)["compile_ms"] for _ in range(runs))
        return out


# ---- reporting ----

def fmt_ms(v):
    return "%.0f" % v if v >= 100 else "%.1f" % v if v >= 1 else "%.2f" % v


def geomean(xs):
    xs = [x for x in xs if x and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else None


def environment(args, tw):
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    def first(cmd):
        return (out_of(cmd).splitlines() or ["?"])[0]
    pkg = lambda m: out_of([args.python, "-c",
                            "import importlib.metadata as m; print(m.version(%r))" % m])
    commit = out_of(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"])
    dirty = out_of(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"])
    tcc = out_of(["dpkg-query", "-W", "-f=${Version}", "libtcc-dev"])
    return [
        ("date", datetime.datetime.now().strftime("%Y-%m-%d %H:%M")),
        ("CPU", "%s, %d cores online (os.cpu_count)" % (cpu, os.cpu_count() or 0)),
        ("kernel", platform.release()),
        ("native / tier-1 C compiler", first(["gcc", "--version"]) + " (cc -> " +
         os.path.realpath(shutil.which("cc") or "?") + ")"),
        ("wasm compiler", first(["clang", "--version"]) + ", wasi-libc " +
         out_of(["dpkg-query", "-W", "-f=${Version}", "wasi-libc"])),
        ("tier 0", "libtcc " + tcc),
        ("tensor-wasm", "%s at %s%s" % (tw, commit, " (with uncommitted changes)" if dirty else "")),
        ("Wasmtime", "wasmtime (PyPI) " + pkg("wasmtime")),
        ("node", out_of(["node", "--version"]) + " (V8 " +
         out_of(["node", "-p", "process.versions.v8"]) + "), flags " + " ".join(NODE_FLAGS)),
        ("wasm3", "pywasm3 (PyPI) " + pkg("pywasm3")),
        ("load", "loadavg before the run: " + " ".join(
            open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "?"),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", "-R", type=int, default=5, help="runs per measurement (median)")
    ap.add_argument("--quick", action="store_true", help="one run each (R=1)")
    ap.add_argument("--only", help="comma-separated program names")
    ap.add_argument("--engines", default=",".join(ENGINES),
                    help="comma-separated subset of " + ",".join(ENGINES))
    ap.add_argument("--no-compile-table", action="store_true")
    ap.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench", "cpu"))
    ap.add_argument("--tw", help="prebuilt tensor-wasm (default: build it in build-bench/)")
    ap.add_argument("--no-build", action="store_true",
                    help="use the programs already in --build-dir as they are")
    ap.add_argument("--python", default=None,
                    help="Python with wasmtime and pywasm3 (default: build-bench/venv "
                         "if present, else this one)")
    ap.add_argument("--out", help="results file (default bench/results/cpu-DATE.md)")
    args = ap.parse_args()
    runs = 1 if args.quick else max(1, args.runs)
    if args.python is None:
        venv = os.path.join(ROOT, "build-bench", "venv", "bin", "python")
        args.python = venv if os.path.exists(venv) else sys.executable
    programs = [p for p in PROGRAMS if not args.only or p[0] in args.only.split(",")]
    engines = [e for e in ENGINES if e in args.engines.split(",")]
    if "native" not in engines:
        engines.insert(0, "native")  # the reference of every check

    if not args.no_build:
        build_programs(args.build_dir, [p[0] for p in programs])
    tw = args.tw or build_tensor_wasm(os.path.join(ROOT, "build-bench"))
    r = Runner(args, tw)
    if not r.has_timing:
        sys.exit("%s has no --timing option" % tw)
    env_rows = environment(args, tw)
    skipped = {e: r.available(e) for e in engines}
    for e, why in skipped.items():
        if why:
            log("%s: %s" % (e, why))

    times = {}      # (program, engine) -> list of call_ms
    notes = {}      # (program, engine) -> text instead of a time
    mismatches = []
    for name, n, _ in programs:
        log("== %s (n=%d)" % (name, n))
        expect = None
        for rep in range(runs):
            for e in engines:
                if skipped[e] or (name, e) in notes or e == "wasm3":
                    continue
                res = r.once(e, name, n)
                got = as_i64(res["result"])
                if e == "native":
                    if expect is not None and got != expect:
                        sys.exit("native result of %s is not deterministic" % name)
                    expect = got
                elif got != expect:
                    msg = "MISMATCH %s on %s: %d, native %d" % (name, e, got, expect)
                    print(msg, flush=True)
                    mismatches.append(msg)
                    notes[(name, e)] = "MISMATCH"
                    continue
                times.setdefault((name, e), []).append(res["call_ms"])
                log("  %-9s %10.1f ms" % (e, res["call_ms"]))
        if "wasm3" in engines and not skipped["wasm3"]:
            for rep in range(runs):
                try:
                    res = r.once("wasm3", name, n, timeout=WASM3_TIMEOUT_S)
                except Skip as s:
                    notes[(name, "wasm3")] = str(s)
                    log("  wasm3     %s" % s)
                    break
                got = as_i64(res["result"])
                if got != expect:
                    msg = "MISMATCH %s on wasm3: %d, native %d" % (name, got, expect)
                    print(msg, flush=True)
                    mismatches.append(msg)
                    notes[(name, "wasm3")] = "MISMATCH"
                    break
                times.setdefault((name, "wasm3"), []).append(res["call_ms"])
                log("  wasm3     %10.1f ms" % res["call_ms"])
                if res["call_ms"] > WASM3_REPEAT_BELOW_S * 1e3:
                    break

    # Call-time table.
    cols = [e for e in engines]
    lines = ["| program | " + " | ".join(ENGINE_TITLES[e] for e in cols) + " |",
             "|---|" + "---:|" * len(cols)]
    ratios = {e: [] for e in cols}
    spread_max = {e: 0.0 for e in cols}
    for name, n, _ in programs:
        base = statistics.median(times[(name, "native")])
        cells = []
        for e in cols:
            if skipped[e]:
                cells.append("—")
                continue
            if (name, e) in notes and (name, e) not in times:
                cells.append(notes[(name, e)])
                continue
            ts = times[(name, e)]
            med = statistics.median(ts)
            if len(ts) > 1:
                spread_max[e] = max(spread_max[e], (max(ts) - min(ts)) / med)
            ratio = med / base
            ratios[e].append(ratio)
            cell = "%s ms" % fmt_ms(med)
            if e != "native":
                cell += " (%.2f×)" % ratio
            if len(ts) < runs:
                cell += " [%d run%s]" % (len(ts), "s" if len(ts) > 1 else "")
            cells.append(cell)
        lines.append("| %s | %s |" % (name, " | ".join(cells)))
    gm = {e: geomean(ratios[e]) for e in cols}
    lines.append("| **geomean vs native** | " + " | ".join(
        "—" if skipped[e] or gm[e] is None else
        ("%.2f×" % gm[e]) + ("" if len(ratios[e]) == len(programs) else
                             " (%d of %d)" % (len(ratios[e]), len(programs)))
        for e in cols) + " |")
    lines.append("| max spread (max−min)/median | " + " | ".join(
        "—" if skipped[e] else "%.0f%%" % (100 * spread_max[e]) for e in cols) + " |")
    call_table = "\n".join(lines)

    summary = []
    if gm.get("tw-t1"):
        summary.append("tier 1 geomean vs native: %.2f× (goal ≤ 1.05×)" % gm["tw-t1"])
        if gm.get("wasmtime"):
            # Geomean over the same programs of t1/wasmtime.
            both = [statistics.median(times[(p, "tw-t1")]) / statistics.median(times[(p, "wasmtime")])
                    for p, _, _ in programs if (p, "tw-t1") in times and (p, "wasmtime") in times]
            summary.append("tier 1 geomean vs Wasmtime: %.2f×" % geomean(both))
    if gm.get("tw-t1") and gm.get("tw-t1-nochk"):
        both = [statistics.median(times[(p, "tw-t1")]) /
                statistics.median(times[(p, "tw-t1-nochk")])
                for p, _, _ in programs
                if (p, "tw-t1") in times and (p, "tw-t1-nochk") in times]
        summary.append("deadline checks at loop headers cost %+.1f%% geomean "
                       "(tier 1 against tier 1 without them; goal ≤ 5%%)"
                       % (100 * (geomean(both) - 1)))
    if gm.get("tw-t0"):
        summary.append("tier 0 geomean vs native: %.2f×" % gm["tw-t0"])
    if runs > 1:
        # Interference from other work on a shared host only ever adds
        # time: the fastest of R runs is the least disturbed estimate.
        # Reported beside the medians, never instead of them.
        def best_ratio(a, b):
            rs = [min(times[(p, a)]) / min(times[(p, b)]) for p, _, _ in programs
                  if (p, a) in times and (p, b) in times]
            return geomean(rs) if len(rs) == len(programs) else None
        best = [(what, best_ratio(a, b)) for what, a, b in (
            ("tier 1 vs native", "tw-t1", "native"),
            ("tier 1 vs Wasmtime", "tw-t1", "wasmtime"),
            ("tier 1 vs tier 1 without loop checks", "tw-t1", "tw-t1-nochk"))]
        best = ["%s %.2f×" % (w, g) for w, g in best if g]
        if best:
            summary.append("fastest of %d runs each, geomean: %s"
                           % (runs, "; ".join(best)))

    compile_table = ""
    if not args.no_compile_table:
        crows = []
        for name in COMPILE_PROGRAMS:
            if name not in [p[0] for p in programs]:
                continue
            log("== compile times: %s" % name)
            crows.append((name, r.compile_times(name, runs)))
        if crows:
            hdr = ["module", "size", "tier 0 (decode+validate+codegen+tcc)",
                   "  of which codegen / tcc", "tier 1 (cc -O2)",
                   "Wasmtime Module()", "node TurboFan", "node Liftoff",
                   "tier 0 / Wasmtime"]
            cl = ["| " + " | ".join(hdr) + " |", "|---|" + "---:|" * (len(hdr) - 1)]
            for name, c in crows:
                size = os.path.getsize(r.wasm(name))
                t1 = ("%s ms" % fmt_ms(c["tw-t1"]) +
                      (" [1 run]" if c.get("tw-t1-runs") == 1 and runs > 1 else "")) \
                    if "tw-t1" in c else "—"
                cl.append("| %s | %s | %s ms | %s / %s ms | %s | %s | %s | %s | %s |" % (
                    name, "%.1f KB" % (size / 1024) if size < 1 << 20 else "%.2f MB" % (size / 2**20),
                    fmt_ms(c["tw-t0"]), fmt_ms(c["tw-t0-split"]["codegen_ms"]),
                    fmt_ms(c["tw-t0-split"]["compile_ms"]), t1,
                    "%s ms" % fmt_ms(c["wasmtime"]) if "wasmtime" in c else "—",
                    "%s ms" % fmt_ms(c["node"]) if "node" in c else "—",
                    "%s ms" % fmt_ms(c["node-liftoff"]) if "node-liftoff" in c else "—",
                    "%.2f×" % (c["tw-t0"] / c["wasmtime"]) if "wasmtime" in c else "—"))
                if name == "big" and "wasmtime" in c:
                    summary.append("tier 0 compile of the %.2f MB module vs Wasmtime: %.2f× "
                                   "(goal ≤ 0.5×)" % (size / 2**20, c["tw-t0"] / c["wasmtime"]))
            compile_table = "\n".join(cl)

    command = "python3 bench/cpu/run.py " + shlex.join(sys.argv[1:])
    skip_notes = ["* %s: %s" % (ENGINE_TITLES[e], why) for e, why in skipped.items() if why]
    report = ["# CPU benchmarks, %s" % datetime.date.today().isoformat(), "",
              "Command: `%s` (R = %d, medians)" % (command.strip(), runs), ""]
    report += ["* %s: %s" % (k, v) for k, v in env_rows]
    report += ["", "## Call time of run(n) (median), ratio to native", "", call_table, ""]
    if summary:
        report += ["## Summary", ""] + ["* " + s for s in summary] + [""]
    if compile_table:
        report += ["## Compile time (median)", "", compile_table, "",
                   "tier 0 and tier 1 come from `tensor-wasm run --timing`; tier 1 is "
                   "`compile_ms` under `--tier 1` with an empty code cache (the wait "
                   "for tier-1 code after tier 0 is ready). Wasmtime is "
                   "`wasmtime.Module(engine, bytes)`, node is `new WebAssembly.Module` "
                   "with eager compilation. Wasmtime, V8 and tier 1 may use both "
                   "cores; tier 0 uses one.", ""]
    report += ["## Notes", "",
               "* Each engine runs in its own process per run and times only the call; "
               "the program sizes (n) are in bench/cpu/run.py.",
               "* Every result equals native's (checked on every run)."
               if not mismatches else "* MISMATCHES: " + "; ".join(mismatches),
               "* wasm3 runs over %d s are skipped and runs over %d s are not repeated."
               % (WASM3_TIMEOUT_S, WASM3_REPEAT_BELOW_S)] + skip_notes + [""]
    text = "\n".join(report)
    print(text)
    out = args.out or os.path.join(ROOT, "bench", "results",
                                   "cpu-%s.md" % datetime.date.today().isoformat())
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write(text)
    log("wrote %s" % out)
    sys.exit(1 if mismatches else 0)


if __name__ == "__main__":
    main()
