#!/bin/sh
# Instructions executed by run(n) of the CPU benchmark programs, natively
# and as tier-1 code, counted by callgrind: a deterministic measure for
# codegen changes on hosts whose timings are too noisy (it says nothing
# about stalls, so confirm a gain in time with run.py or ab.py).
#
# Usage: bench/cpu/icount.sh TENSOR_WASM [PROGRAM...]
# Needs valgrind and the programs of build-bench/cpu (run.py builds
# them). Prints "program native tier1 ratio" per line. Sizes are small
# (callgrind runs code ~50x slower); TW_CC is honoured.
set -eu
tw=$1
shift
dir=$(cd "$(dirname "$0")/../.." && pwd)/build-bench/cpu
[ $# -gt 0 ] || set -- loop matmul heapsort sha256 nbody compress fib hashtab
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
count() { # out-file: the total of the events collected
  awk '/^(summary|totals):/ {print $2; exit}' "$1"
}
for p in "$@"; do
  case $p in
  loop) n=20000000 ;; matmul) n=200 ;; heapsort) n=300000 ;;
  sha256) n=4 ;; nbody) n=500000 ;; compress) n=1000000 ;; fib) n=31 ;;
  hashtab) n=100000 ;; *) echo "unknown program $p" >&2; exit 2 ;;
  esac
  valgrind --tool=callgrind --callgrind-out-file="$tmp/n.out" \
    --toggle-collect=run "$dir/$p.native" "$n" >/dev/null 2>"$tmp/err" ||
    { cat "$tmp/err" >&2; exit 1; }
  # The first run fills the code cache, so the counted one loads tier 1
  # (and says which tier ran: a failed tier 1 leaves tier 0 serving).
  TW_CACHE_DIR="$tmp/cache" "$tw" run "$dir/$p.wasm" --tier 1 --invoke run \
    --args "[$n]" --timing >/dev/null 2>"$tmp/err"
  grep -q '"tier":1' "$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  TW_CACHE_DIR="$tmp/cache" valgrind --tool=callgrind \
    --callgrind-out-file="$tmp/t.out" --toggle-collect='twm_invoke_*' \
    "$tw" run "$dir/$p.wasm" --tier 1 --invoke run --args "[$n]" \
    >/dev/null 2>"$tmp/err" || { cat "$tmp/err" >&2; exit 1; }
  a=$(count "$tmp/n.out")
  b=$(count "$tmp/t.out")
  awk -v p="$p" -v a="$a" -v b="$b" \
    'BEGIN { printf "%-9s %12d %12d %6.3f\n", p, a, b, b / a }'
done
