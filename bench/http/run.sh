#!/bin/sh
# HTTP load test on loopback, bounded in time: wrk against nginx serving a
# static 200 (the reference) and against tensor-wasm's /healthz in the same
# run, then a trivial typed invoke, then a soak of SOAK_SECONDS (default
# 180) on invoke with the server's RSS sampled every 10 s. Writes
# bench/results/http-YYYY-MM-DD.md. Usage: bench/http/run.sh TENSOR_WASM
# Knobs: DURATION (s per measurement, default 10), CONNECTIONS (64),
# WRK_THREADS (1: wrk shares the 2 cores with the server), SERVER_THREADS
# (event threads; unset: the server's default, one per CPU; 0: a thread
# per connection), SERVER_WORKERS (unset: the server's default).
set -eu
TW=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-64}
WRK_THREADS=${WRK_THREADS:-1}
SERVER_THREADS=${SERVER_THREADS:-}
SERVER_WORKERS=${SERVER_WORKERS:-}
SOAK_SECONDS=${SOAK_SECONDS:-180}
for t in wrk nginx curl python3; do
  command -v $t >/dev/null || { echo "bench: $t is missing (scripts/install-deps)"; exit 2; }
done
TMP=$(mktemp -d)
ADMIN=bench-admin-token-0123456789abcdef
cleanup() {
  [ -n "${TWPID:-}" ] && kill "$TWPID" 2>/dev/null
  [ -n "${NGPID:-}" ] && kill "$NGPID" 2>/dev/null
  wait 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT INT TERM
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# nginx: a static 200 from memory, same number of workers as cores.
NGPORT=$(free_port)
mkdir -p "$TMP/nginx/logs"
cat > "$TMP/nginx/nginx.conf" <<NG
worker_processes auto;
error_log $TMP/nginx/logs/error.log;
pid $TMP/nginx/nginx.pid;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  server {
    listen 127.0.0.1:$NGPORT;
    location / { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
NG
nginx -p "$TMP/nginx" -c "$TMP/nginx/nginx.conf" -g 'daemon off;' &
NGPID=$!

# tensor-wasm with quiet logs (access logs off) and add deployed.
TENSOR_WASM_LOG=warn TENSOR_WASM_API_TOKENS=$ADMIN \
TENSOR_WASM_API_AUDIT_LOG=$TMP/audit.log \
  "$TW" serve --addr 127.0.0.1:0 --data "$TMP/data" \
  ${SERVER_THREADS:+--threads "$SERVER_THREADS"} \
  ${SERVER_WORKERS:+--workers "$SERVER_WORKERS"} \
  --port-file "$TMP/port" 2>"$TMP/server.log" &
TWPID=$!
i=0; while [ ! -s "$TMP/port" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
PORT=$(cat "$TMP/port")
URL=http://127.0.0.1:$PORT
TOKEN=$(curl -s -X POST -H "Authorization: Bearer $ADMIN" \
  -d '{"tenant":"bench","scopes":["deploy","invoke","read"]}' "$URL/v1/tokens" |
  sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
curl -s -o /dev/null -X PUT -H "Authorization: Bearer $TOKEN" \
  --data-binary @"$ROOT/examples/add.wat" "$URL/v1/functions/add"
export TW_BENCH_TOKEN=$TOKEN
sleep 0.5

# run NAME URL [SCRIPT]: wrk with latency percentiles; prints one table row
# and keeps the raw output.
run() {
  name=$1; url=$2; script=${3:-}
  if [ -n "$script" ]; then
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -s "$script" "$url" > "$TMP/$name.txt"
  else
    wrk -t"$WRK_THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$url" > "$TMP/$name.txt"
  fi
  rps=$(awk '/Requests\/sec/ {print $2}' "$TMP/$name.txt")
  p50=$(awk '$1=="50%" {print $2}' "$TMP/$name.txt")
  p99=$(awk '$1=="99%" {print $2}' "$TMP/$name.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$TMP/$name.txt")
  serr=$(awk '/Socket errors/ {print $0}' "$TMP/$name.txt")
  echo "| $name | $rps | $p50 | $p99 | ${non2xx:-0} | ${serr:-none} |"
  eval "RPS_$(echo "$name" | tr -c 'a-z0-9\n' '_')=$rps"
}

rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$TWPID/status"; }

OUT="$ROOT/bench/results/http-$(date +%Y-%m-%d).md"
{
  echo "# HTTP load test, $(date -u +%Y-%m-%dT%H:%MZ)"
  echo
  echo "Machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(uname -r)."
  echo "wrk $WRK_THREADS thread(s), $CONNECTIONS connections, ${DURATION} s each, on loopback;"
  echo "wrk, nginx and tensor-wasm share the same cores. tensor-wasm: $(case "$SERVER_THREADS" in
    0) echo 'a thread per connection' ;;
    '') echo 'default threads (event threads: one per CPU)' ;;
    *) echo "$SERVER_THREADS event threads" ;;
  esac)$([ -n "$SERVER_WORKERS" ] && echo ", $SERVER_WORKERS workers"), logs at warn."
  echo "nginx: $(nginx -v 2>&1 | sed 's/.*: //'), worker_processes auto, \`return 200\` from memory."
  echo
  echo "| target | req/s | p50 | p99 | non-2xx | socket errors |"
  echo "| --- | ---: | ---: | ---: | ---: | --- |"
  run nginx_static "http://127.0.0.1:$NGPORT/"
  run tw_healthz "$URL/healthz"
  run tw_invoke_add "$URL/v1/functions/add/invoke" "$ROOT/bench/http/invoke.lua"
  echo
  echo "/healthz against nginx: $(awk -v a="$RPS_tw_healthz" -v b="$RPS_nginx_static" 'BEGIN {printf "%.2f", a/b}')x (goal >= 0.7x)."
  echo "Trivial invoke: $RPS_tw_invoke_add req/s (goal >= 50000 on 2 cores)."
  echo
  echo "## Soak: invoke for ${SOAK_SECONDS} s"
  echo
  rss0=$(rss_kib)
  wrk -t"$WRK_THREADS" -c32 -d"${SOAK_SECONDS}s" --latency -s "$ROOT/bench/http/invoke.lua" \
    "$URL/v1/functions/add/invoke" > "$TMP/soak.txt" &
  WRKPID=$!
  samples=""
  while kill -0 $WRKPID 2>/dev/null; do
    sleep 10
    samples="$samples $(rss_kib)"
  done
  wait $WRKPID || true
  rss1=$(rss_kib)
  total=$(awk '/requests in/ {print $1}' "$TMP/soak.txt")
  non2xx=$(awk '/Non-2xx/ {print $5}' "$TMP/soak.txt")
  serr=$(awk '/Socket errors/ {print $0}' "$TMP/soak.txt")
  echo "Requests: $total; req/s $(awk '/Requests\/sec/ {print $2}' "$TMP/soak.txt"); p50 $(awk '$1=="50%" {print $2}' "$TMP/soak.txt"), p99 $(awk '$1=="99%" {print $2}' "$TMP/soak.txt")."
  echo "Errors: non-2xx ${non2xx:-0}; socket errors: ${serr:-none}."
  echo "Server RSS (KiB): start $rss0, every 10 s:$samples, end $rss1."
  echo
  echo "Raw wrk output:"
  echo
  for f in nginx_static tw_healthz tw_invoke_add soak; do
    echo "### $f"; echo; echo '```'; cat "$TMP/$f.txt"; echo '```'; echo
  done
} | tee "$OUT.tmp"
mv "$OUT.tmp" "$OUT"
echo "bench: wrote $OUT"
