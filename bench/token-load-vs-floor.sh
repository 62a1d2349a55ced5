#!/usr/bin/env bash
# Same-run comparison of Gatehouse and the floor-issuer of ../shared/bench:
# builds both, then alternates A, B, A, B… ROUNDS times with
# ../shared/bench/token-load.sh (client_credentials, HTTP Basic), reporting
# each run's tokens/s and server CPU per token. Loopback only.
#
#   bench/token-load-vs-floor.sh                      # ES256, c=32, 3 rounds × 15 s
#   ALG=EdDSA CONC=64 DURATION=60 ROUNDS=1 bench/token-load-vs-floor.sh
#   MODE=get bench/token-load-vs-floor.sh             # discovery GET rate instead
#   MODE=get GET_PATH=/jwks.json bench/token-load-vs-floor.sh
#   ACCESS_LOG=false bench/token-load-vs-floor.sh     # without the per-request log line
set -euo pipefail
cd "$(dirname "$0")/.."
KIT=${KIT:-../shared/bench}
ALG=${ALG:-ES256}
CONC=${CONC:-32}
DURATION=${DURATION:-15}
ROUNDS=${ROUNDS:-3}
MODE=${MODE:-token}
ACCESS_LOG=${ACCESS_LOG:-true}
OUT=bench/out; mkdir -p "$OUT"
GH_PORT=18080 FLOOR_PORT=18089

go build -o "$OUT/gatehouse" ./cmd/gatehouse
(cd "$KIT/floor-issuer" && go build -o "$OLDPWD/$OUT/floor-issuer" .)

cfg="$OUT/bench.yaml"
cat >"$cfg" <<YAML
issuer: http://127.0.0.1:$GH_PORT
listen: 127.0.0.1:$GH_PORT
storage: sqlite:$OUT/bench.db
signing_alg: $ALG
access_token_ttl: 1h
clients:
  - id: bench-client
    secret: bench-secret-2f7c9e1a4b6d8f0e
    grant_types: [client_credentials]
    audience: [https://api.example.com, https://billing.example.com]
external_audiences: [https://api.example.com, https://billing.example.com]
YAML
rm -f "$OUT"/bench.db*

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
GATEHOUSE_SECRET=bench-secret-bench-secret-bench-secret "$OUT/gatehouse" serve --config "$cfg" \
  --access-log="$ACCESS_LOG" --log-format json 2>"$OUT/gatehouse.log" & pids+=($!); GH_PID=$!
"$OUT/floor-issuer" -alg "$ALG" -addr 127.0.0.1:$FLOOR_PORT -issuer http://127.0.0.1:$FLOOR_PORT 2>/dev/null & pids+=($!); FLOOR_PID=$!
for p in $GH_PORT $FLOOR_PORT; do
  for _ in $(seq 50); do curl -sf -o /dev/null "http://127.0.0.1:$p/.well-known/openid-configuration" && break; sleep 0.1; done
done

run() { # label pid url
  if [[ $MODE == get ]]; then
    GET_URL=$3 CONCURRENCY=$CONC DURATION=$DURATION SERVER_PID=$2 LABEL=$1 "$KIT/token-load.sh"
  else
    TOKEN_URL=$3 CLIENT_ID=bench-client CLIENT_SECRET=bench-secret-2f7c9e1a4b6d8f0e \
      EXTRA_PARAMS='audience=https%3A%2F%2Fapi.example.com' \
      CONCURRENCY=$CONC DURATION=$DURATION SERVER_PID=$2 LABEL=$1 "$KIT/token-load.sh"
  fi | grep '^RESULT'
}
if [[ $MODE == get ]]; then
  GET_PATH=${GET_PATH:-/.well-known/openid-configuration}
  GH_URL=http://127.0.0.1:$GH_PORT$GET_PATH FLOOR_URL=http://127.0.0.1:$FLOOR_PORT$GET_PATH
else
  GH_URL=http://127.0.0.1:$GH_PORT/token FLOOR_URL=http://127.0.0.1:$FLOOR_PORT/token
fi
for r in $(seq "$ROUNDS"); do
  run gatehouse "$GH_PID" "$GH_URL"
  run floor "$FLOOR_PID" "$FLOOR_URL"
done
echo "# gatehouse: $(grep -E '^(VmHWM|VmRSS)' /proc/$GH_PID/status | tr -s ' \t' ' ' | tr '\n' ' ')"
