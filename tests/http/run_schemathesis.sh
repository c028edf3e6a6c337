#!/bin/sh
# Runs schemathesis against a live `tensor-wasm serve` with docs/openapi.yaml:
# every check, a bounded number of examples per operation, 0 failures
# required. Usage: run_schemathesis.sh TENSOR_WASM_BINARY SOURCE_DIR
# Exit 77 (skip) only when schemathesis is not installed.
set -u
TW=$1
SRC=$2
ST=${TW_SCHEMATHESIS:-}
[ -z "$ST" ] && [ -x "$SRC/build/pyenv/bin/schemathesis" ] && ST="$SRC/build/pyenv/bin/schemathesis"
[ -z "$ST" ] && ST=$(command -v schemathesis || true)
if [ -z "$ST" ]; then
  echo "schemathesis is not installed (scripts/install-deps installs it)"
  exit 77
fi
TMP=$(mktemp -d)
ADMIN=schemathesis-admin-token-0123456789
cleanup() {
  [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
printf '{"connection_timeout_s": 10, "audit_log": "%s/audit.log"}\n' "$TMP" > "$TMP/config.json"
TENSOR_WASM_API_TOKENS=$ADMIN TENSOR_WASM_LOG=warn "$TW" serve --addr 127.0.0.1:0 \
  --data "$TMP/data" --config "$TMP/config.json" --port-file "$TMP/port" \
  2> "$TMP/server.log" &
PID=$!
i=0
while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
PORT=$(cat "$TMP/port")
URL=http://127.0.0.1:$PORT
# A tenant token with every tenant scope (admin routes then answer 403,
# as documented), and a function to find.
TOKEN=$(curl -s -X POST -H "Authorization: Bearer $ADMIN" \
  -d '{"tenant":"demo","scopes":["deploy","invoke","read"]}' \
  "$URL/v1/tokens" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" \
  --data-binary @"$SRC/examples/add.wat" "$URL/v1/functions/add"
# positive_data_acceptance is left out: a schema-valid body for a deploy
# is any byte string, and most byte strings are not WebAssembly modules
# (422 is the right answer); every other check runs.
# Run from the temporary folder: schemathesis keeps state in ./.schemathesis
(cd "$TMP" && "$ST" run "$SRC/docs/openapi.yaml" --url "$URL" \
  -H "Authorization: Bearer $TOKEN" \
  --checks all --exclude-checks positive_data_acceptance --max-examples "${TW_SCHEMATHESIS_EXAMPLES:-25}" \
  --seed 1 --generation-deterministic --no-color --request-timeout 40 \
  --max-response-time 40)
rc=$?
if ! kill -0 "$PID" 2>/dev/null; then
  echo "the server died during the run:"
  tail -20 "$TMP/server.log"
  rc=1
fi
[ $rc -eq 0 ] && echo "1 passed, 0 failed" || echo "0 passed, 1 failed"
exit $rc
