#!/usr/bin/env python3
"""A/B comparison of tier-1 code against native, for codegen changes.

Runs each program's native build and one or more tensor-wasm variants back
to back, REPS times, and prints per program the median of the per-round
ratios variant / native (with their range), then the geomean of those
medians. Pairing each variant with the native run of the same round
cancels slow drifts of a shared or throttled host, which a plain median
per engine does not; bench/cpu/run.py stays the reference table.

A variant is NAME=TW[,CC]: a tensor-wasm binary and, optionally, the C
compiler tier 1 uses (TW_CC: a wrapper script can add flags or edit the
generated C). Each variant has its own code cache, warmed before timing.

Usage:
  bench/cpu/ab.py [--reps 7] [--full] [--only P,Q] \\
      base=build-base/tensor-wasm new=build/tensor-wasm

Programs and natives come from build-bench/cpu (bench/cpu/run.py builds
them). Sizes are a quarter of run.py's unless --full.
"""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from run import PROGRAMS, tw_run  # noqa: E402

QUARTER = {"fib": 39}  # fib(n) grows by ~1.6x per n


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("variants", nargs="+", metavar="NAME=TW[,CC]")
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--full", action="store_true", help="run.py's sizes")
    ap.add_argument("--only", help="comma-separated programs")
    ap.add_argument("--bench-dir", default=os.path.join(
        os.path.dirname(os.path.dirname(HERE)), "build-bench", "cpu"))
    args = ap.parse_args()
    variants = []
    for v in args.variants:
        name, _, rest = v.partition("=")
        tw, _, cc = rest.partition(",")
        if not name or not tw:
            sys.exit("variant %r: want NAME=TW[,CC]" % v)
        variants.append((name, os.path.abspath(tw), cc or None))
    caches = tempfile.mkdtemp(prefix="tw-ab-")
    progs = [(p, n) for p, n, _ in PROGRAMS
             if not args.only or p in args.only.split(",")]

    def size(p, n):
        return n if args.full else QUARTER.get(p, max(1, n // 4))

    def native(p, n):
        out = subprocess.run([os.path.join(args.bench_dir, p + ".native"),
                              str(n)], capture_output=True, text=True,
                             check=True).stdout
        return json.loads(out)

    def tier1(v, p, n):
        name, tw, cc = v
        env = dict(os.environ, TW_CACHE_DIR=os.path.join(caches, name))
        if cc:
            env["TW_CC"] = cc
        try:
            t = tw_run([tw, "run", os.path.join(args.bench_dir, p + ".wasm"),
                        "--invoke", "run", "--args", "[%d]" % n,
                        "--timeout", "0", "--timing", "--tier", "1"], env, 1)
        except RuntimeError as e:
            sys.exit("%s on %s: %s" % (name, p, e))
        return t["call_ms"], t["result"]

    medians = {v[0]: [] for v in variants}
    for p, n in progs:
        n = size(p, n)
        expect = native(p, n)["result"]
        for v in variants:
            got = tier1(v, p, n)[1]  # warms the code cache
            if got & 0xFFFFFFFFFFFFFFFF != expect & 0xFFFFFFFFFFFFFFFF:
                sys.exit("%s: %s returned %d, native %d" % (p, v[0], got, expect))
        ratios = {v[0]: [] for v in variants}
        for _ in range(args.reps):
            base = native(p, n)["call_ms"]
            for v in variants:
                ratios[v[0]].append(tier1(v, p, n)[0] / base)
        line = "%-9s" % p
        for name, rs in ratios.items():
            m = statistics.median(rs)
            medians[name].append(m)
            line += "  %s %.3f [%.3f-%.3f]" % (name, m, min(rs), max(rs))
        print(line, flush=True)
    print("geomean  " + "  ".join(
        "%s %.3f" % (k, math.exp(sum(map(math.log, ms)) / len(ms)))
        for k, ms in medians.items() if ms))


if __name__ == "__main__":
    main()
