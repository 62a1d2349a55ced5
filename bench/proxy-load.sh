#!/usr/bin/env bash
# Same-run comparison of `gatehouse proxy` and the upstream it protects:
# wrk with a valid bearer token at CONC connections, alternating proxy and
# upstream ROUNDS times; reports requests/s, latency and each process's CPU
# per request. The proxy's added CPU per request is proxy CPU/req (the
# verification included); the upstream's own CPU is reported separately.
# Loopback only. Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
CONC=${CONC:-32}; DURATION=${DURATION:-10}; ROUNDS=${ROUNDS:-3}; CACHE=${CACHE:-10000}
OUT=bench/out; mkdir -p "$OUT"
go build -o "$OUT/gatehouse" ./cmd/gatehouse
go build -o "$OUT/upstream" ./bench/upstream
cat >"$OUT/proxy-idp.yaml" <<'YAML'
issuer: http://127.0.0.1:18070
listen: 127.0.0.1:18070
storage: sqlite:bench/out/proxy-idp.db
access_token_ttl: 1h
clients:
  - id: caller
    secret: caller-secret-123456789
    grant_types: [client_credentials]
    audience: [orders-api]
    scopes: [orders:read]
  - id: orders-api
    secret: orders-api-secret-123456
    grant_types: [client_credentials]
YAML
rm -f "$OUT"/proxy-idp.db*
pids=(); cleanup() { kill "${pids[@]}" 2>/dev/null || true; }; trap cleanup EXIT
"$OUT/gatehouse" serve --config "$OUT/proxy-idp.yaml" --access-log=false 2>"$OUT/proxy-idp.log" & pids+=($!)
"$OUT/upstream" -addr 127.0.0.1:18090 & pids+=($!); UP_PID=$!
for _ in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:18070/readyz && break; sleep 0.1; done
"$OUT/gatehouse" proxy --issuer http://127.0.0.1:18070 --audience orders-api --upstream http://127.0.0.1:18090 \
  --listen 127.0.0.1:18091 --scope orders:read --token-cache "$CACHE" 2>"$OUT/proxy.log" & pids+=($!); PX_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null http://127.0.0.1:18091/ && break; sleep 0.1; done
TOKEN=$(curl -s -u caller:caller-secret-123456789 -d grant_type=client_credentials -d resource=orders-api http://127.0.0.1:18070/token | jq -r .access_token)
[[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" http://127.0.0.1:18091/orders/42) == 200 ]] || { echo "proxy refused the token" >&2; exit 1; }
ticks() { awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"; }
run() { # label url
  local t0p t0u t1p t1u out n
  t0p=$(ticks $PX_PID); t0u=$(ticks $UP_PID)
  out=$(wrk -t1 -c"$CONC" -d"${DURATION}s" -H "Authorization: Bearer $TOKEN" --latency "$2" 2>&1)
  t1p=$(ticks $PX_PID); t1u=$(ticks $UP_PID)
  n=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out"); p50=$(awk '$1=="50%" {print $2}' <<<"$out"); p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  non2xx=$(awk '/Non-2xx/ {print $4}' <<<"$out")
  echo "RESULT target=$1 conc=$CONC rps=$rps p50=$p50 p99=$p99 requests=$n non2xx=${non2xx:-0}" \
    "proxy_cpu_ms_per_req=$(awk -v d=$((t1p-t0p)) -v n="$n" 'BEGIN{printf "%.4f", d/100*1000/n}')" \
    "upstream_cpu_ms_per_req=$(awk -v d=$((t1u-t0u)) -v n="$n" 'BEGIN{printf "%.4f", d/100*1000/n}')"
}
for r in $(seq "$ROUNDS"); do
  run proxy http://127.0.0.1:18091/orders/42
  run upstream http://127.0.0.1:18090/orders/42
done
