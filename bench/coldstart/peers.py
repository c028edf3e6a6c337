#!/usr/bin/env python3
"""Peer measurement: Wasmtime (Python bindings) instantiating the same
modules as coldstart.c. Python's per-call overhead is inside every number:
we time Store() alone, then Store() + Instance(), in the same loop shape,
and report both; the difference estimates instantiation itself. Prints
Markdown table rows."""
import sys, time
try:
    import wasmtime
except ImportError:
    print("| wasmtime (Python) | - | - | - | not installed (pip install wasmtime) |")
    sys.exit(0)

RUNS = int(sys.argv[3]) if len(sys.argv) > 3 else 1000

def pct(v):
    v = sorted(v)
    return v[len(v) // 2] / 1e3, v[len(v) * 99 // 100] / 1e3

try:
    from importlib.metadata import version
    VERSION = version("wasmtime")
except Exception:
    VERSION = getattr(wasmtime, "__version__", "?")
engine = wasmtime.Engine()
for label, path in (("small module", sys.argv[2]), ("1 MiB module", sys.argv[1])):
    module = wasmtime.Module.from_file(engine, path)
    wasmtime.Instance(wasmtime.Store(engine), module, [])  # warm up
    only_store, full = [], []
    for _ in range(RUNS):
        t0 = time.perf_counter_ns()
        wasmtime.Store(engine)
        only_store.append(time.perf_counter_ns() - t0)
    for _ in range(RUNS):
        t0 = time.perf_counter_ns()
        s = wasmtime.Store(engine)
        wasmtime.Instance(s, module, [])
        full.append(time.perf_counter_ns() - t0)
    a, b = pct(only_store), pct(full)
    print(f"| wasmtime {VERSION} (Python): Store() only, {label} | {RUNS} | {a[0]:.1f} | {a[1]:.1f} | Python overhead reference |")
    print(f"| wasmtime {VERSION} (Python): Store() + Instance(), {label} | {RUNS} | {b[0]:.1f} | {b[1]:.1f} | includes Python call overhead |")
