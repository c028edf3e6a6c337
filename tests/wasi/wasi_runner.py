#!/usr/bin/env python3
"""WASI conformance runner: runs the wasi-testsuite programs in
$TW_CONFORMANCE_DIR/wasi (assemblyscript, c, rust) through
`tensor-wasm run` and compares exit status and stdout with each test's
.json (see the conformance README, "Running the WASI tests").

Works on a temporary copy of the suite (the tests write into it), deletes
every *.cleanup entry before each test, runs each test with its suite
folder as the working directory. Exclusions (tests/wasi/exclusions.txt,
one "suite/name  reason" a line; reasons in docs/WASI.md) are run too but
do not fail the suite. Exits 77 when the suite folder is absent.

Usage: wasi_runner.py TENSOR_WASM [--suite DIR] [--only NAME] [-v]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SUITES = ("assemblyscript", "c", "rust")


def default_suite_dir():
    base = os.environ.get("TW_CONFORMANCE_DIR")
    if not base:
        base = os.path.join(HERE, "..", "..", "..", "shared", "conformance")
    return os.path.normpath(os.path.join(base, "wasi"))


def load_exclusions():
    out = {}
    path = os.path.join(HERE, "exclusions.txt")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line and not line.startswith("#"):
                    name, _, why = line.partition(" ")
                    out[name] = why.strip()
    return out


def remove_cleanups(folder):
    for root, dirs, files in os.walk(folder, topdown=False):
        for name in files + dirs:
            if name.endswith(".cleanup"):
                p = os.path.join(root, name)
                if os.path.isdir(p) and not os.path.islink(p):
                    shutil.rmtree(p, ignore_errors=True)
                else:
                    try:
                        os.unlink(p)
                    except OSError:
                        pass


def run_test(tw, suite_dir, wasm, verbose):
    spec = {}
    js = wasm[:-5] + ".json"
    if os.path.exists(js):
        with open(js) as f:
            spec = json.load(f)
    remove_cleanups(suite_dir)
    cmd = [tw, "run", os.path.abspath(wasm)]
    for d in spec.get("dirs", []):
        cmd += ["--dir", d]
    for k, v in spec.get("env", {}).items():
        cmd += ["--env", "%s=%s" % (k, v)]
    cmd.append("--")
    cmd += spec.get("args", [])
    try:
        p = subprocess.run(cmd, cwd=suite_dir, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        return "timed out"
    why = []
    want = spec.get("exit_code", 0)
    if p.returncode != want:
        why.append("exit %d, expected %d" % (p.returncode, want))
    if "stdout" in spec and p.stdout.decode(errors="replace") != spec["stdout"]:
        why.append("stdout %r, expected %r" % (p.stdout[:200], spec["stdout"]))
    if "stderr" in spec and p.stderr.decode(errors="replace") != spec["stderr"]:
        why.append("stderr differs")
    if why and (verbose or True):
        err = p.stderr.decode(errors="replace").strip().splitlines()
        why.append("stderr: " + " | ".join(err[-6:]))
    return "; ".join(why)


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if args else 2
    tw = os.path.abspath(args[0])
    src = default_suite_dir()
    only = None
    verbose = False
    i = 1
    while i < len(args):
        if args[i] == "--suite":
            src = args[i + 1]
            i += 1
        elif args[i] == "--only":
            only = args[i + 1]
            i += 1
        elif args[i] == "-v":
            verbose = True
        i += 1
    if not os.path.isdir(src):
        print("wasi_runner: conformance suite not found at %s (set "
              "TW_CONFORMANCE_DIR); skipping" % src)
        return 77
    excl = load_exclusions()
    passed = failed = excused = 0
    with tempfile.TemporaryDirectory(prefix="tw-wasi-") as tmp:
        copy = os.path.join(tmp, "wasi")
        shutil.copytree(src, copy, symlinks=True)
        for suite in SUITES:
            sdir = os.path.join(copy, suite)
            if not os.path.isdir(sdir):
                continue
            sp = st = 0
            for name in sorted(os.listdir(sdir)):
                if not name.endswith(".wasm"):
                    continue
                test = "%s/%s" % (suite, name[:-5])
                if only and only not in test:
                    continue
                st += 1
                why = run_test(tw, sdir, os.path.join(sdir, name), verbose)
                if not why:
                    sp += 1
                    passed += 1
                    if verbose:
                        print("PASS %s" % test)
                elif test in excl:
                    excused += 1
                    print("XFAIL %s (excluded: %s)" % (test, excl[test]))
                else:
                    failed += 1
                    print("FAIL %s: %s" % (test, why))
            print("%s: %d/%d passed" % (suite, sp, st))
    if excused:
        print("%d excluded (see docs/WASI.md)" % excused)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
