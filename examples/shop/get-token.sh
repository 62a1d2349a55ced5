#!/usr/bin/env bash
# get-token.sh CLIENT SECRET USER PASSWORD SCOPE — signs USER in to CLIENT
# through Gatehouse's real login (and consent) pages with curl, as a
# browser would, redeems the code with PKCE and prints the access token.
# For the README walk-through against examples/shop.yaml; loopback only.
set -euo pipefail
client=$1 secret=$2 user=$3 password=$4 scope=$5
issuer=${ISSUER:-http://127.0.0.1:8080}
redirect=$(case $client in customer-portal) echo http://127.0.0.1:3000/callback;; *) echo http://127.0.0.1:3001/callback;; esac)
jar=$(mktemp); trap 'rm -f "$jar"' EXIT
verifier=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=')
enc() { python3 -c 'import sys,urllib.parse;print(urllib.parse.quote(sys.argv[1],safe=""))' "$1"; }
field() { grep -o "name=\"$1\"[^>]*" | grep -o 'value="[^"]*"' | head -1 | cut -d'"' -f2 |
  python3 -c 'import html,sys;print(html.unescape(sys.stdin.read().strip()))'; }
url="$issuer/authorize?client_id=$client&redirect_uri=$(enc "$redirect")&response_type=code&scope=$(enc "$scope")&state=s&code_challenge=$challenge&code_challenge_method=S256"
page=$(curl -sf -c "$jar" -b "$jar" "$url")
csrf=$(field csrf_token <<<"$page"); rid=$(field request_id <<<"$page")
post() { curl -s -o /dev/null -w '%{redirect_url}' -c "$jar" -b "$jar" --data-urlencode "csrf_token=$csrf" --data-urlencode "request_id=$rid" "$@" "$issuer/authorize"; }
loc=$(post --data-urlencode "username=$user" --data-urlencode "password=$password")
[[ -n $loc ]] || loc=$(post -d decision=allow)   # the consent page, first time only
code=$(python3 -c 'import sys,urllib.parse as u;print(u.parse_qs(u.urlparse(sys.argv[1]).query)["code"][0])' "$loc")
curl -sf -u "$client:$secret" -d grant_type=authorization_code -d "code=$code" \
  --data-urlencode "redirect_uri=$redirect" -d "code_verifier=$verifier" "$issuer/token" |
  python3 -c 'import json,sys;print(json.load(sys.stdin)["access_token"])'
