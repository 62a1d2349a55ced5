#!/usr/bin/env bash
# get-token.sh CLIENT SECRET USER PASSWORD SCOPE — signs USER in to CLIENT
# through Gatehouse's real login (and consent) pages with curl, as a
# browser would, redeems the code with PKCE and prints the access token.
# For the README walk-through against examples/shop.yaml; loopback only.
#
# Needs curl, jq and openssl. Every failure ends the script with a message
# on standard error saying which step failed and what the server answered,
# and a non-zero exit status, so that $(get-token.sh …) never quietly
# yields an empty token.
set -euo pipefail

die() { printf 'get-token.sh: %s\n' "$*" >&2; exit 1; }

if [[ $# -ne 5 ]]; then
  die "usage: get-token.sh CLIENT SECRET USER PASSWORD SCOPE"
fi
for tool in curl jq openssl; do
  command -v "$tool" >/dev/null || die "$tool is not installed (this script needs curl, jq and openssl)"
done

client=$1 secret=$2 user=$3 password=$4 scope=$5
issuer=${ISSUER:-http://127.0.0.1:8080}
case $client in
  customer-portal) redirect=http://127.0.0.1:3000/callback ;;
  *) redirect=http://127.0.0.1:3001/callback ;;
esac
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
jar=$tmp/cookies body=$tmp/body

verifier=$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
challenge=$(printf '%s' "$verifier" | openssl dgst -sha256 -binary | base64 | tr '+/' '-_' | tr -d '=\n')
enc() { jq -rn --arg s "$1" '$s|@uri'; }

# unescape: decodes the entities html/template writes.
unescape() {
  sed -e 's/&#43;/+/g' -e 's/&#61;/=/g' -e 's/&#34;/"/g' -e 's/&#39;/'"'"'/g' -e 's/&lt;/</g' -e 's/&gt;/>/g' -e 's/&amp;/\&/g'
}
# field NAME: the value of the hidden input NAME in the page in $body.
field() { grep -o "name=\"$1\"[^>]*" "$body" | grep -o 'value="[^"]*"' | head -1 | cut -d'"' -f2 | unescape; }
# page_message: the error text of the page in $body, for a failure message.
page_message() {
  grep -o -e '<div class="alert[^>]*>[^<]*' -e '<p class="message">[^<]*' -e '<p class="hint">[^<]*' "$body" |
    sed 's/<[^>]*>//' | unescape | paste -sd' ' - || true
}
# redirect_error URL: "error: description" from an error redirect, decoded.
redirect_error() {
  local q
  q=$(jq -rn --arg u "$1" '$u | capture("[?&]error=(?<e>[^&]*)(.*[?&]error_description=(?<d>[^&]*))?") | "\(.e): \(.d // "")"' 2>/dev/null) || return 0
  q=${q//+/ }
  printf '%b' "${q//%/\\x}"
}
# get URL / post FIELDS…: one request with the cookie jar; the body goes to
# $body, and the status and redirect target are printed.
get() { curl -sS -o "$body" -w '%{http_code} %{redirect_url}\n' -c "$jar" -b "$jar" "$1"; }
post() {
  curl -sS -o "$body" -w '%{http_code} %{redirect_url}\n' -c "$jar" -b "$jar" \
    --data-urlencode "csrf_token=$(field csrf_token)" --data-urlencode "request_id=$(field request_id)" \
    "$@" "$issuer/authorize"
}

url="$issuer/authorize?client_id=$(enc "$client")&redirect_uri=$(enc "$redirect")&response_type=code&scope=$(enc "$scope")&state=s&code_challenge=$challenge&code_challenge_method=S256"
read -r status loc < <(get "$url")
[[ $status != 000 ]] || die "cannot reach $issuer (is gatehouse serve running?)"
if [[ $status != 200 ]]; then
  [[ -z $loc ]] || die "the authorization request was refused: $(redirect_error "$loc")"
  die "the authorization request was refused (HTTP $status): $(page_message)"
fi

read -r status loc < <(post --data-urlencode "username=$user" --data-urlencode "password=$password")
[[ $status != 000 ]] || die "cannot reach $issuer"
if [[ -z $loc ]]; then
  # No redirect: either the consent page (the first time) or the login
  # page again with the reason the sign-in failed.
  grep -q 'name="decision"' "$body" || die "signing $user in failed (HTTP $status): $(page_message)"
  read -r status loc < <(post -d decision=allow)
  [[ -n $loc ]] || die "the consent was not accepted (HTTP $status): $(page_message)"
fi
code=$(jq -rn --arg u "$loc" '$u | capture("[?&]code=(?<c>[^&]*)").c // empty')
if [[ -z $code ]]; then
  die "no code in the redirect to the client: $(redirect_error "$loc")"
fi

# The token request: on failure, show the server's error body (RFC 6749
# §5.2 JSON), which says what to fix.
status=$(curl -sS -o "$body" -w '%{http_code}' -u "$client:$secret" -d grant_type=authorization_code \
  --data-urlencode "code=$code" --data-urlencode "redirect_uri=$redirect" -d "code_verifier=$verifier" \
  "$issuer/token") || die "cannot reach $issuer/token"
[[ $status == 200 ]] || die "the token request failed (HTTP $status): $(cat "$body")"
jq -er .access_token "$body" || die "the token response has no access_token: $(cat "$body")"
