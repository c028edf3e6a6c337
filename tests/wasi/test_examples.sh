#!/bin/sh
# The WASI example guests through the CLI: output, arguments, environment,
# preopened directories (read-only too), stdin from a file and a pipe,
# exit statuses, and a path that tries to leave its directory.
# Usage: test_examples.sh TENSOR_WASM WASM_DIR EXAMPLES_SRC_DIR
set -u
abspath() { (cd "$(dirname "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename "$1")"); }
TW=$(abspath "$1")
W=$(cd "$2" && pwd)
SRC=$3
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
fails=0
n=0

# check NAME WANT_STATUS WANT_STDOUT_FILE -- ARGS...  (stdin from $IN)
check() {
  name=$1 want=$2 expect=$3
  shift 4
  n=$((n + 1))
  "$TW" "$@" <"${IN:-/dev/null}" >"$TMP/out" 2>"$TMP/err"
  got=$?
  if [ "$got" -ne "$want" ]; then
    echo "FAIL $name: exit $got, expected $want"; sed 's/^/  /' "$TMP/err"
    fails=$((fails + 1))
  elif [ "$expect" != "-" ] && ! cmp -s "$TMP/out" "$expect"; then
    echo "FAIL $name: stdout differs"; diff "$expect" "$TMP/out" | head -20
    fails=$((fails + 1))
  else
    echo "ok   $name"
  fi
}

cd "$SRC" || exit 1

printf 'Hello from WebAssembly, TensorWasm!\narg 1: one\narg 2: two words\n' >"$TMP/hello"
check hello 0 "$TMP/hello" -- run "$W/hello.wasm" --env GREETING=TensorWasm -- one "two words"
printf 'Hello from WebAssembly!\n' >"$TMP/hello0"
check "hello, no env" 0 "$TMP/hello0" -- run "$W/hello.wasm"

check "cat file" 0 data/fox.txt -- run "$W/cat.wasm" --dir data::/data:ro -- /data/fox.txt
cat data/fox.txt data/poem.txt >"$TMP/both"
check "cat two files" 0 "$TMP/both" -- run "$W/cat.wasm" --dir data::/data -- /data/fox.txt /data/poem.txt
check "cat --stdin" 0 data/poem.txt -- run "$W/cat.wasm" --stdin data/poem.txt
IN=data/fox.txt check "cat stdin" 0 data/fox.txt -- run "$W/cat.wasm"
check "cat outside" 1 - -- run "$W/cat.wasm" --dir data::/data -- /data/../../CMakeLists.txt
grep -q "cat: /data/../../CMakeLists.txt" "$TMP/err" || { echo "FAIL cat outside: no message"; fails=$((fails + 1)); }
check "cat absolute" 1 - -- run "$W/cat.wasm" --dir data::/data -- /etc/passwd

cat >"$TMP/wc" <<'OUT'
      2       9      45 fox.txt
      3      11      78 poem.txt
      5      20     123 total
OUT
check wc 0 "$TMP/wc" -- run "$W/wc.wasm" --dir data::/data:ro -- /data
check "wc, guest name ." 0 "$TMP/wc" -- run "$W/wc.wasm" --dir data::.

check "exit 7" 7 - -- run "$W/exit.wasm" -- 7
check "exit 0" 0 - -- run "$W/exit.wasm" -- 0
check "exit default" 3 - -- run "$W/exit.wasm"
check "bad --dir" 2 - -- run "$W/wc.wasm" --dir "$TMP/missing" -- /x

echo "$((n - fails)) passed, $fails failed"
[ "$fails" -eq 0 ]
