#!/bin/bash
# The GPU proof of issue 6, in one run on a GPU host, from binaries built
# elsewhere by scripts/device-bundle (carried as .devbundle/). Read-only
# towards the GPU: it changes no setting (no nvidia-smi -r/-pm/-pl...).
#
#   bench/gpu/device-run.sh            # real GPU
#   TW_GPU_MOCK=1 bench/gpu/device-run.sh   # the same on the mock backend
#
# Writes $OUT/device-run.log (everything) and $OUT/gpu-results.md, prints a
# summary table last. Each step has its own time limit; the whole run
# takes a few minutes at most. The `server` step runs the isolation and
# cold-start checks again through `tensor-wasm serve` over HTTP
# (bench/gpu/server_run.py: python3's standard library only).
set -u
cd "$(dirname "$0")/../.."
B=${BUNDLE:-$PWD/.devbundle}
OUT=${OUT:-/tmp/tw-gpu-out}
mkdir -p "$OUT"
LOG=$OUT/device-run.log
MD=$OUT/gpu-results.md
# Step outputs go to a scratch folder: $OUT keeps only the log and the
# results file (the device tool returns at most 8 files).
W=$(mktemp -d)
KV=$W/kv.txt
: > "$KV"
exec > >(tee "$LOG") 2>&1

if [ ! -x "$B/bin/tensor-wasm" ]; then
  echo "no bundle at $B: run scripts/device-bundle on the build host"
  exit 2
fi
export LD_LIBRARY_PATH="$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TW_TCC_LIB_PATH="$B/tcc"
export TW_WORKER_BIN="$B/bin/tensor-wasm"
export TW_CACHE_DIR="$W/cache"
TW="$B/bin/tensor-wasm"
G="$B/guests"
if [ "${TW_GPU_MOCK:-0}" = 1 ]; then
  # The mock emulates SGEMM on the CPU: keep it small.
  ITERS=${ITERS:-2000}; SGEMM_N=${SGEMM_N:-128}; REPS=${REPS:-2}
else
  ITERS=${ITERS:-10000}; SGEMM_N=${SGEMM_N:-1024}; REPS=${REPS:-20}
fi
FAILED=""

echo "== TensorWasm GPU device run: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "host: $(uname -srm); mock=${TW_GPU_MOCK:-0}"
if [ "${TW_GPU_MOCK:-0}" != 1 ] && command -v nvidia-smi >/dev/null; then
  # Queries only.
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_mode \
    --format=csv,noheader 2>&1 | sed 's/^/nvidia-smi: /'
fi

# step NAME LIMIT_S CMD...: runs CMD, keeps its key=value lines in $KV.
step() {
  local name=$1 limit=$2
  shift 2
  echo
  echo "== $name"
  local t0=$(date +%s.%N)
  timeout -k 5 "$limit" "$@" > "$W/$name.out" 2>&1
  local rc=$?
  cat "$W/$name.out"
  grep -E '^[a-z0-9_.]+=' "$W/$name.out" | grep -v ' ' >> "$KV" || true
  grep -E '^CHECK ' "$W/$name.out" >> "$W/checks.txt" || true
  local t=$(echo "$(date +%s.%N) - $t0" | bc 2>/dev/null || echo "?")
  echo "-- $name: exit $rc (${t}s)"
  [ $rc -eq 0 ] || FAILED="$FAILED $name"
  return $rc
}
: > "$W/checks.txt"

step gpu_info 60 "$TW" gpu info

# The example guests through the CLI: in this process, then in a worker.
cli_check() {
  local name=$1 want=$2
  shift 2
  local got
  got=$("$@" 2>&1)
  echo "$got"
  if [ "$got" = "$want" ]; then echo "CHECK $name PASS $got"
  else echo "CHECK $name FAIL got '$got' want '$want'"; return 1; fi
}
export -f cli_check
step cli_vector_add 120 bash -c 'cli_check "$@"' _ cli.vector_add "[0]" \
  "$TW" run "$G/vector_add.wasm" --invoke run --args '[1048576]'
step cli_vector_add_worker 120 bash -c 'cli_check "$@"' _ cli.vector_add_worker "[0]" \
  "$TW" run "$G/vector_add.wasm" --invoke run --args '[1048576]' --gpu-worker
step examples 180 "$B/bin/gpu_bench" examples "$G"
step isolation 180 "$B/bin/gpu_bench" isolation "$G"
if [[ " $FAILED " == *" isolation "* ]]; then
  # Diagnosis: is it the seccomp filter?
  TW_WORKER_NO_SECCOMP=1 step isolation_noseccomp 180 \
    "$B/bin/gpu_bench" isolation "$G"
fi
step coldstart 180 "$B/bin/gpu_bench" coldstart "$G"
# The same isolation and cold start through the HTTP service: `serve` on
# 127.0.0.1, two tenants with their own tokens, over HTTP (python3).
if command -v python3 >/dev/null; then
  step server 300 python3 bench/gpu/server_run.py "$TW" "$G"
else
  echo "CHECK server.run FAIL python3 is not installed" >> "$W/checks.txt"
  FAILED="$FAILED server"
fi
step native 120 "$B/bin/native_launch" "$B/kernels.ptx" "$ITERS" "$SGEMM_N" "$REPS"
step bench 180 "$B/bin/gpu_bench" bench "$G" "$ITERS" "$SGEMM_N" "$REPS"

# ---- summary ----
kv() { grep -m1 "^$1=" "$KV" | cut -d= -f2; }
ratio() { # a b -> a/b with 2 decimals, or "n/a"
  if [ -n "$1" ] && [ -n "$2" ]; then
    awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "n/a" }'
  else echo "n/a"; fi
}
gp50=$(kv guest.dispatch_p50_us); np50=$(kv native.dispatch_p50_us)
gp99=$(kv guest.dispatch_p99_us); np99=$(kv native.dispatch_p99_us)
gsg=$(kv guest.sgemm_gflops); nsg=$(kv native.sgemm_gflops)
zc=$(kv guest.zerocopy_gbps); buf=$(kv guest.buffer_gbps)
disp_ratio=$(ratio "$gp50" "$np50")
sgemm_ratio=$(ratio "$gsg" "$nsg")
npass=$(grep -c ' PASS ' "$W/checks.txt"); nfail=$(grep -c ' FAIL ' "$W/checks.txt")
dev=$(grep -m1 '^device 0:' "$W/gpu_info.out" | cut -d: -f2- | sed 's/^ //')
{
  echo "# GPU results (issue 6)"
  echo
  echo "- date: $(date -u +%Y-%m-%d), device: ${dev:-none}, mock: ${TW_GPU_MOCK:-0}"
  echo "- checks: $npass passed, $nfail failed${FAILED:+; failed steps:$FAILED}"
  echo
  echo "| measure | guest (wasi:cuda) | native driver API | ratio | goal |"
  echo "| --- | --- | --- | --- | --- |"
  echo "| empty kernel launch+sync p50 (µs) | $gp50 | $np50 | $disp_ratio | ≤ 1.2 |"
  echo "| empty kernel launch+sync p99 (µs) | $gp99 | $np99 | $(ratio "$gp99" "$np99") | |"
  echo "| async launch issue rate (/s) | $(kv guest.issue_rate_per_s) | $(kv native.issue_rate_per_s) | $(ratio "$(kv guest.issue_rate_per_s)" "$(kv native.issue_rate_per_s)") | |"
  echo "| SGEMM ${SGEMM_N}² (GFLOP/s) | $gsg | $nsg | $sgemm_ratio | ≥ 0.95 |"
  echo "| saxpy zero-copy vs device buffer (GB/s) | $zc | $buf | $(ratio "$zc" "$buf") | |"
  echo "| register 16 MiB memfd-CoW (ms) | | $(kv native.register_16mib_ms) | | ~9.5 (DESIGN §3) |"
  echo "| unregister 16 MiB (ms) | | $(kv native.unregister_16mib_ms) | | ~0.5 |"
  echo "| CoW map 16 MiB (µs) | | $(kv native.cow_map_16mib_us) | | ~15 |"
  echo "| cold start, no spare (ms) | $(kv coldstart.no_spare_ms) | | | |"
  echo "| cold start, pre-warmed spare (ms) | $(kv coldstart.spare_ms) | | | |"
  echo "| cold start through the server, no spare (ms) | $(kv server.coldstart_no_spare_ms) | | | |"
  echo "| cold start through the server, pre-warmed spare (ms) | $(kv server.coldstart_spare_ms) | | | |"
  echo "| warm call through the server, vector_add 1024 (ms) | $(kv server.warm_call_ms) | | | |"
  echo
  echo "## Checks"
  echo
  sed 's/^CHECK /- /' "$W/checks.txt"
} > "$MD"
echo
echo "================ SUMMARY ================"
cat "$MD"
[ -z "$FAILED" ] && [ "$nfail" -eq 0 ]
