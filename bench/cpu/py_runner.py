#!/usr/bin/env python3
"""Wasmtime and wasm3 runner of the CPU benchmarks (through their Python
packages, see bench/requirements.txt):

    py_runner.py wasmtime|wasm3 FILE N [--compile-only]

Compiles FILE, instantiates it with no imports, runs a reactor's
_initialize, then times only run(N). Prints one JSON line:
{"result": R, "compile_ms": .., "instantiate_ms": .., "call_ms": ..}.
For wasm3, compile_ms is parse + load (it interprets; functions are
translated lazily on first call).
"""
import json
import sys
import time


def ms_since(t0):
    return (time.perf_counter() - t0) * 1e3


def run_wasmtime(data, n, compile_only):
    import wasmtime
    engine = wasmtime.Engine()  # default config: Cranelift, speed, no cache
    t0 = time.perf_counter()
    module = wasmtime.Module(engine, data)
    out = {"compile_ms": ms_since(t0)}
    if compile_only:
        return out
    t0 = time.perf_counter()
    store = wasmtime.Store(engine)
    instance = wasmtime.Instance(store, module, [])
    exports = instance.exports(store)
    if "_initialize" in exports:
        exports["_initialize"](store)
    out["instantiate_ms"] = ms_since(t0)
    run = exports["run"]
    t0 = time.perf_counter()
    out["result"] = run(store, n)
    out["call_ms"] = ms_since(t0)
    return out


def run_wasm3(data, n, compile_only):
    import wasm3
    env = wasm3.Environment()
    t0 = time.perf_counter()
    runtime = env.new_runtime(1 << 20)  # value stack, bytes
    module = env.parse_module(data)
    runtime.load(module)
    out = {"compile_ms": ms_since(t0)}
    if compile_only:
        return out
    t0 = time.perf_counter()
    try:
        init = runtime.find_function("_initialize")
    except RuntimeError:
        init = None
    if init is not None:
        init()
    out["instantiate_ms"] = ms_since(t0)
    run = runtime.find_function("run")
    t0 = time.perf_counter()
    out["result"] = run(n)
    out["call_ms"] = ms_since(t0)
    return out


def main():
    args = [a for a in sys.argv[1:] if a != "--compile-only"]
    compile_only = len(args) != len(sys.argv) - 1
    if len(args) != 3 or args[0] not in ("wasmtime", "wasm3"):
        sys.exit(__doc__)
    with open(args[1], "rb") as f:
        data = f.read()
    fn = run_wasmtime if args[0] == "wasmtime" else run_wasm3
    print(json.dumps(fn(data, int(args[2]), compile_only)))


if __name__ == "__main__":
    main()
