#!/bin/sh
# Runs the cold-start benchmark and its peers (Wasmtime through Python,
# V8 through node), writing bench/results/coldstart-YYYY-MM-DD.md.
# Usage: bench/coldstart/run.sh [BUILD_DIR] [RUNS] [COMPILE_RUNS]
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}
runs=${2:-1000}
cruns=${3:-20}
bin=$build/bench/coldstart/coldstart
[ -x "$bin" ] || cmake --build "$build" --target coldstart -j2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$bin" --write-modules "$tmp/big.wasm" "$tmp/small.wasm"
out=$root/bench/results/coldstart-$(date +%Y-%m-%d).md
table=$("$bin" --runs "$runs" --compile-runs "$cruns")
peers=""
if command -v python3 >/dev/null; then
  peers=$(python3 "$root/bench/coldstart/peers.py" "$tmp/big.wasm" "$tmp/small.wasm" "$runs" || true)
fi
if command -v node >/dev/null; then
  peers="$peers
$(node "$root/bench/coldstart/peers.js" "$tmp/big.wasm" "$tmp/small.wasm" "$runs" || true)"
fi
{
  echo "# Cold start, $(date +%Y-%m-%d)"
  echo
  echo "- Machine: $(uname -n), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) CPUs, Linux $(uname -r)"
  echo "- Command: \`bench/coldstart/run.sh $build $runs $cruns\`"
  echo "- Each step timed on its own; instantiate and restore include no store"
  echo "  creation or teardown; the first call runs on a fresh instance."
  echo
  echo "$table"
  echo
  echo "## Peers (same modules, same run)"
  echo
  echo "| peer | runs | p50 (us) | p99 (us) | note |"
  echo "| --- | ---: | ---: | ---: | --- |"
  echo "$peers" | sed '/^$/d'
} >"$out"
cat "$out"
