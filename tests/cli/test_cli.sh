#!/bin/sh
# Behaviour of the tensor-wasm command line, through the real binary: exit
# statuses (0 ok, 1 trap, 2 usage or module error), results on stdout, and
# the messages on stderr. Usage: test_cli.sh PATH/TO/tensor-wasm FIXTURE_DIR
# Binary fixtures are generated into a temporary directory from hex below,
# so the repository holds only text. Prints "N passed, M failed".
set -u

if [ $# -ne 2 ]; then
  echo "usage: $0 PATH/TO/tensor-wasm FIXTURE_DIR" >&2
  exit 2
fi
TW=$1
FX=$2
if [ ! -x "$TW" ]; then
  echo "test_cli: $TW is not executable" >&2
  exit 2
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/tw-cli-test.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT INT TERM

# A hung guest must not hang the suite: every command gets a time limit
# where coreutils' timeout is available.
LIMIT=""
if command -v timeout >/dev/null 2>&1; then LIMIT="timeout 60"; fi

passed=0
failed=0

# hex2bin HEX FILE: writes the bytes spelled by HEX into FILE.
hex2bin() {
  h=$1
  : >"$2"
  while [ -n "$h" ]; do
    rest=${h#??}
    pair=${h%"$rest"}
    h=$rest
    # shellcheck disable=SC2059 # the format is the escape we build
    printf "\\$(printf '%03o' "0x$pair")" >>"$2"
  done
}

# check NAME STATUS STDOUT STDERR_SUBSTRING -- ARGS...
#   STATUS: expected exit status. STDOUT: expected stdout exactly ("*":
#   anything). STDERR_SUBSTRING: a fixed string stderr must contain ("":
#   anything).
check() {
  name=$1
  want_status=$2
  want_out=$3
  want_err=$4
  shift 5
  # shellcheck disable=SC2086 # LIMIT is a command prefix or empty
  $LIMIT "$TW" "$@" >"$TMP/out" 2>"$TMP/err"
  status=$?
  why=""
  if [ "$status" -ne "$want_status" ]; then
    why="exit status $status, expected $want_status"
  elif [ "$want_out" != "*" ] && [ "$(cat "$TMP/out")" != "$want_out" ]; then
    why="stdout '$(cat "$TMP/out")', expected '$want_out'"
  elif [ -n "$want_err" ] && ! grep -qF -- "$want_err" "$TMP/err"; then
    why="stderr lacks '$want_err'"
  fi
  if [ -z "$why" ]; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1))
    echo "FAIL: $name: $why"
    echo "  command: tensor-wasm $*"
    sed 's/^/  stderr: /' "$TMP/err" | head -n 5
  fi
}

OK="$FX/ok.wat"

# ---- Binary fixtures ----
# add(i32, i32) -> i32, as wat2wasm writes it.
ADD_HEX=0061736d0100000001070160027f7f017f030201000707010361646400000a09010700200020016a0b
hex2bin "$ADD_HEX" "$TMP/add.wasm"
hex2bin "$ADD_HEX" "$TMP/add.bin"          # no extension: sniffed as binary
cp "$FX/start.wat" "$TMP/start.txt"        # no extension: sniffed as text
hex2bin 0061735801000000 "$TMP/badmagic.wasm"
hex2bin 0061736d02000000 "$TMP/badversion.wasm"
hex2bin 0061736d01000000010501 "$TMP/truncated.wasm"
: >"$TMP/empty.wasm"

# ---- Help, version, usage errors ----
check "help" 0 "*" "" -- help
check "--help" 0 "*" "" -- --help
check "help run" 0 "*" "" -- help run
check "run --help" 0 "*" "" -- run --help
check "run -h" 0 "*" "" -- run -h
check "validate --help" 0 "*" "" -- validate --help
check "version --help" 0 "*" "" -- version --help
check "help --help" 0 "*" "" -- help --help
check "version" 0 "*" "" -- version
if ! "$TW" run --help | grep -q -- "--invoke"; then
  failed=$((failed + 1))
  echo "FAIL: run --help does not list --invoke"
else
  passed=$((passed + 1))
fi
check "no command" 2 "*" "Usage" --
check "unknown command" 2 "" "unknown command 'frobnicate'" -- frobnicate
check "help unknown" 2 "" "unknown command" -- help frobnicate
check "unknown option" 2 "" "unknown option '--bogus'" -- run "$OK" --bogus
check "unknown validate option" 2 "" "unknown option" -- validate --bogus "$OK"
check "missing FILE" 2 "" "missing FILE" -- run
check "two files" 2 "" "unexpected argument" -- run "$OK" "$OK"
check "option without value" 2 "" "--invoke needs a value" -- run "$OK" --invoke
check "bad --max-memory" 2 "" "--max-memory" -- run "$OK" --invoke noop --max-memory 12x
check "bad --timeout" 2 "" "--timeout" -- run "$OK" --invoke noop --timeout -5
check "missing file" 2 "" "No such file" -- run "$TMP/nope.wasm"
check "missing file (validate)" 2 "" "No such file" -- validate "$TMP/nope.wasm"

# ---- Text conversion and module errors ----
check "syntax error line:col" 2 "" "syntax.wat:4:5:" -- run "$FX/syntax.wat"
check "syntax error (validate)" 2 "" "syntax.wat:4:5:" -- validate "$FX/syntax.wat"
check "bad magic" 2 "" "byte" -- run "$TMP/badmagic.wasm"
check "bad magic (validate)" 2 "" "byte" -- validate "$TMP/badmagic.wasm"
check "bad version" 2 "" "byte" -- validate "$TMP/badversion.wasm"
check "truncated" 2 "" "byte" -- run "$TMP/truncated.wasm"
check "truncated (validate)" 2 "" "byte" -- validate "$TMP/truncated.wasm"
check "empty file" 2 "" "" -- validate "$TMP/empty.wasm"
check "invalid module" 2 "" "" -- validate "$FX/invalid.wat"
check "invalid module (run)" 2 "" "" -- run "$FX/invalid.wat" --invoke f
check "valid text" 0 "$FX/ok.wat: valid" "" -- validate "$OK"
check "valid binary" 0 "$TMP/add.wasm: valid" "" -- validate "$TMP/add.wasm"

# ---- Calls and results ----
check "add" 0 "[5]" "" -- run "$OK" --invoke add --args '[2,3]'
check "add, --opt=value" 0 "[5]" "" -- run --invoke=add --args='[2, 3]' "$OK"
check "add binary" 0 "[5]" "" -- run "$TMP/add.wasm" --invoke add --args '[2,3]'
check "add sniffed binary" 0 "[42]" "" -- run "$TMP/add.bin" --invoke add --args '[40,2]'
check "i32 wraps" 0 "[-2147483648]" "" -- run "$OK" --invoke add --args '[2147483647,1]'
check "i32 unsigned input" 0 "[-2]" "" -- run "$OK" --invoke add --args '[4294967295,-1]'
check "i32 min" 0 "[-2147483648]" "" -- run "$OK" --invoke id_i32 --args '[-2147483648]'
check "no results" 0 "[]" "" -- run "$OK" --invoke noop
check "no results, empty args" 0 "[]" "" -- run "$OK" --invoke noop --args '[]'
check "i64 u64 string" 0 "[-1]" "" -- run "$OK" --invoke id_i64 --args '["18446744073709551615"]'
check "i64 min" 0 "[-9223372036854775808]" "" -- run "$OK" --invoke id_i64 --args '[-9223372036854775808]'
check "i64 negative string" 0 "[-5]" "" -- run "$OK" --invoke id_i64 --args '["-5"]'
check "f64 round-trip" 0 "[0.10000000000000001]" "" -- run "$OK" --invoke id_f64 --args '[0.1]'
check "f32 round-trip" 0 "[0.100000001]" "" -- run "$OK" --invoke id_f32 --args '[0.1]'
check "f64 from integer" 0 "[3]" "" -- run "$OK" --invoke id_f64 --args '[3]'
check "f64 inf" 0 '["inf"]' "" -- run "$OK" --invoke id_f64 --args '["inf"]'
check "f32 -inf" 0 '["-inf"]' "" -- run "$OK" --invoke id_f32 --args '["-inf"]'
check "f64 nan" 0 '["nan"]' "" -- run "$OK" --invoke id_f64 --args '["nan"]'
check "multi-value" 0 "[-1,9007199254740993]" "" -- run "$OK" --invoke pair
check "_start default" 0 "[]" "" -- run "$FX/start.wat"
check "sniffed text" 0 "[]" "" -- run "$TMP/start.txt"
check "no _start" 2 "" "_start" -- run "$OK"
check "no such export" 2 "" "no exported function 'nope'" -- run "$OK" --invoke nope
check "reactor _initialize once" 0 "[1]" "" -- run "$FX/reactor.wat" --invoke get
check "memory.grow under cap" 0 "[1]" "" -- run "$OK" --invoke grow --args '[1]' --max-memory 131072
check "memory.grow past cap" 0 "[-1]" "" -- run "$OK" --invoke grow --args '[2]' --max-memory 131072

# ---- Traps ----
check "divide by zero" 1 "" "trap: integer divide by zero" -- run "$OK" --invoke div --args '[7,0]'
check "overflow" 1 "" "trap: integer overflow" -- run "$OK" --invoke div --args '[-2147483648,-1]'
check "unreachable" 1 "" "trap: unreachable" -- run "$OK" --invoke unreachable
check "out of bounds" 1 "" "trap: out of bounds memory access" -- run "$OK" --invoke oob
check "deadline" 1 "" "trap: deadline exceeded" -- run "$OK" --invoke forever --timeout 200

# ---- Bad --args ----
check "string for i32" 2 "" "argument 1: expected i32, got string" -- run "$OK" --invoke add --args '["2",3]'
check "boolean" 2 "" "argument 2: expected i32, got boolean" -- run "$OK" --invoke add --args '[2,true]'
check "null" 2 "" "argument 2: expected i32, got null" -- run "$OK" --invoke add --args '[2,null]'
check "real for i32" 2 "" "argument 1: expected i32, got real" -- run "$OK" --invoke add --args '[1.5,3]'
check "array" 2 "" "argument 1: expected i32, got array" -- run "$OK" --invoke add --args '[[1],3]'
check "object" 2 "" "argument 2: expected i32, got object" -- run "$OK" --invoke add --args '[1,{}]'
check "too few" 2 "" "expected 2 arguments" -- run "$OK" --invoke add --args '[1]'
check "too many" 2 "" "expected 2 arguments" -- run "$OK" --invoke add --args '[1,2,3]'
check "args for none" 2 "" "expected 0 arguments" -- run "$OK" --invoke noop --args '[1]'
check "i32 too big" 2 "" "argument 1: 4294967296 is out of range for i32" -- run "$OK" --invoke add --args '[4294967296,1]'
check "i32 too small" 2 "" "argument 2: -2147483649 is out of range for i32" -- run "$OK" --invoke add --args '[1,-2147483649]'
check "not an array" 2 "" "expected a JSON array" -- run "$OK" --invoke add --args '{"a":1}'
check "bad JSON" 2 "" "invalid JSON" -- run "$OK" --invoke add --args '[1,'
check "u64 as number" 2 "" "string of digits" -- run "$OK" --invoke id_i64 --args '[18446744073709551615]'
check "i64 string too big" 2 "" "argument 1" -- run "$OK" --invoke id_i64 --args '["18446744073709551616"]'
check "i64 string junk" 2 "" "argument 1" -- run "$OK" --invoke id_i64 --args '["12a"]'
check "f32 out of range" 2 "" "out of range for f32" -- run "$OK" --invoke id_f32 --args '[1e39]'
check "f64 bad string" 2 "" "argument 1: expected f64, got string" -- run "$OK" --invoke id_f64 --args '["hello"]'

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
