#!/bin/sh
# Smoke check of the CPU benchmarks (bench/cpu), so the programs cannot rot:
# builds one of them for wasm32-wasi (clang) and natively (cc), runs it
# through tensor-wasm tier 0 with a small n and compares the checksum with
# native's. Exit 77 (skipped) when the wasm toolchain is missing.
# Usage: test_bench_smoke.sh TENSOR_WASM SOURCE_DIR
set -eu
TW=$1
SRC=$2/bench/cpu
PROG=compress
N=200000

command -v clang >/dev/null 2>&1 || { echo "clang not found: skipped"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if ! clang --target=wasm32-wasi -O2 -std=c11 -mexec-model=reactor \
    -Wl,--export=run -I"$SRC/src" -o "$tmp/$PROG.wasm" "$SRC/src/$PROG.c" \
    2>"$tmp/clang.log"; then
  cat "$tmp/clang.log"
  if grep -q -e "wasi" -e "wasm-ld" -e "crt1" "$tmp/clang.log"; then
    echo "no wasm32-wasi toolchain (clang, lld, wasi-libc): skipped"
    exit 77
  fi
  exit 1
fi
cc -O2 -std=c11 -I"$SRC/src" -o "$tmp/$PROG.native" "$SRC/native_main.c" \
  "$SRC/src/$PROG.c" -lm

native=$("$tmp/$PROG.native" "$N" | sed 's/^{"result":\(-\{0,1\}[0-9]*\),.*/\1/')
# Tier 0 only: --tier 0 where the CLI has it, else no C compiler for tier 1.
if "$TW" run --help | grep -q -- "--tier"; then
  wasm=$("$TW" run "$tmp/$PROG.wasm" --invoke run --args "[$N]" --tier 0)
else
  wasm=$(TW_CC=/nonexistent "$TW" run "$tmp/$PROG.wasm" --invoke run --args "[$N]")
fi
if [ "$wasm" != "[$native]" ]; then
  echo "MISMATCH: $PROG($N): tensor-wasm $wasm, native [$native]"
  exit 1
fi
echo "ok: $PROG($N) = $native on tensor-wasm tier 0 and native"
