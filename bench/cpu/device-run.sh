#!/bin/sh
# The CPU benchmark on a host that cannot build or install anything (the
# GPU machine of the device tool), from what the build host packed into
# .devbundle/: bin/tensor-wasm and its libraries (scripts/device-bundle),
# cpu/ (the .wasm programs and natives of build-bench/cpu) and whl/ (the
# Wasmtime wheel, `pip download wasmtime --only-binary=:all:`). Node and
# wasm3 are left out: the host has neither.
#
#   bench/cpu/device-run.sh [RUNS]      # writes $OUT/cpu-device.md
#
# The benchmark is pinned to two CPUs (taskset) so the host's other work
# moves less of it; the loadavg before the run goes into the table.
set -eu
cd "$(dirname "$0")/../.."
B=${BUNDLE:-$PWD/.devbundle}
OUT=${OUT:-/tmp/tw-cpu-out}
RUNS=${1:-5}
mkdir -p "$OUT"
for need in "$B/bin/tensor-wasm" "$B/cpu/sha256.wasm"; do
  [ -e "$need" ] || { echo "missing $need: see the header of $0" >&2; exit 2; }
done
export LD_LIBRARY_PATH="$B/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export TW_TCC_LIB_PATH="$B/tcc"
py=$(mktemp -d)
python3 -m pip install -q --no-index --target "$py" "$B"/whl/*.whl
export PYTHONPATH="$py"
cpus=$(nproc)
pin="taskset -c $((cpus / 2)),$((cpus / 2 + 1))"
$pin python3 bench/cpu/run.py --no-build --build-dir "$B/cpu" \
  --tw "$B/bin/tensor-wasm" --python python3 --runs "$RUNS" \
  --engines native,tw-t0,tw-t1,tw-t1-nochk,wasmtime \
  --out "$OUT/cpu-device.md"
