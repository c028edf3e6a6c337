#!/bin/sh
# Regenerates kernels.ptx (sm_90, as measured on the H100) and the C
# header the guests embed it from. Needs nvcc; the outputs are committed.
set -eu
cd "$(dirname "$0")"
nvcc -ptx -arch=sm_90 -O3 -o kernels.ptx kernels.cu
../embed_ptx.sh kernels.ptx kernels_ptx.h tw_kernels_ptx
