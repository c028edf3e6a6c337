#!/bin/sh
# embed_ptx.sh IN.ptx OUT.h NAME: writes a C header with
#   static const char NAME[] = "...";  and  NAME_len
# so that wasm guests carry the PTX as data (no .incbin).
set -eu
in=$1; out=$2; name=$3
{
  echo "/* Generated from $(basename "$in") by embed_ptx.sh: do not edit. */"
  echo "static const char ${name}[] ="
  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/  "/' -e 's/$/\\n"/' "$in"
  echo "  ;"
  echo "#define ${name}_len (sizeof ${name} - 1)"
} > "$out"
