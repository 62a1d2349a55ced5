#!/usr/bin/env bash
# Load against one or several Gatehouse instances sharing one store, for the
# scale-out figures of bench/README.md. Loopback only.
#
#   STORE=sqlite   INSTANCES=1 MODE=refresh bench/scale.sh
#   STORE=postgres INSTANCES=3 MODE=cc      bench/scale.sh
#
# MODE=refresh rotates refresh tokens (one write transaction per request);
# MODE=cc is client_credentials (no store write). Requests are spread
# round-robin over the instances by bench/loadgen, which also reports the
# servers' summed CPU per request and each one's peak RSS.
set -euo pipefail
cd "$(dirname "$0")/.."
STORE=${STORE:-sqlite}
INSTANCES=${INSTANCES:-1}
MODE=${MODE:-refresh}
CONC=${CONC:-32}
DURATION=${DURATION:-15s}
PG=${PG:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
OUT=bench/out; mkdir -p "$OUT"
go build -o "$OUT/gatehouse" ./cmd/gatehouse
go build -o "$OUT/loadgen" ./bench/loadgen

case $STORE in
  sqlite) rm -f "$OUT"/scale.db*; storage="sqlite:$OUT/scale.db" ;;
  postgres)
    psql -q "$PG" -c 'DROP SCHEMA IF EXISTS gh_bench CASCADE' -c 'CREATE SCHEMA gh_bench' >/dev/null
    storage="$PG&search_path=gh_bench" ;;
  *) echo "STORE must be sqlite or postgres" >&2; exit 2 ;;
esac
cat >"$OUT/scale.yaml" <<'YAML'
issuer: http://127.0.0.1:18080
listen: ${GH_LISTEN}
storage: ${GH_STORAGE}
access_token_ttl: 1h
clients:
  - id: bench-client
    secret: bench-secret-2f7c9e1a4b6d8f0e
    grant_types: [client_credentials]
    audience: [https://api.example.com]
  - id: bench-web
    first_party: true
    secret: bench-web-secret-123456
    grant_types: [authorization_code, refresh_token]
    redirect_uris: [http://127.0.0.1:3000/callback]
    audience: [https://api.example.com]
    scopes: [openid, offline_access]
external_audiences: [https://api.example.com]
users:
  - username: bench
    password: bench-password
YAML

pids=(); targets=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
for i in $(seq 0 $((INSTANCES - 1))); do
  port=$((18080 + i))
  GH_LISTEN=127.0.0.1:$port GH_STORAGE=$storage GATEHOUSE_SECRET=bench-secret-bench-secret-bench-secret \
    "$OUT/gatehouse" serve --config "$OUT/scale.yaml" --log-format json 2>"$OUT/scale-$i.log" &
  pids+=($!); targets+=("http://127.0.0.1:$port")
  for _ in $(seq 100); do curl -sf -o /dev/null "http://127.0.0.1:$port/readyz" && break; sleep 0.1; done
done
IFS=,; t="${targets[*]}"; p="${pids[*]}"; unset IFS
if [[ $MODE == refresh ]]; then
  "$OUT/loadgen" -mode refresh -targets "$t" -c "$CONC" -d 2s -client bench-web -secret bench-web-secret-123456 >/dev/null # warm-up
  "$OUT/loadgen" -mode refresh -targets "$t" -c "$CONC" -d "$DURATION" -pids "$p" -client bench-web -secret bench-web-secret-123456 -label "$STORE"
else
  "$OUT/loadgen" -mode cc -targets "$t" -c "$CONC" -d 2s -client bench-client -secret bench-secret-2f7c9e1a4b6d8f0e >/dev/null
  "$OUT/loadgen" -mode cc -targets "$t" -c "$CONC" -d "$DURATION" -pids "$p" -client bench-client -secret bench-secret-2f7c9e1a4b6d8f0e -label "$STORE"
fi
