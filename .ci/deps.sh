#!/usr/bin/env bash
# Installs the system packages the tests need. CI calls it before the tests;
# it is safe to run again (it installs only what is missing) and never asks
# questions, because CI has no stdin.
set -euo pipefail

# web/browser_test.go drives a real, headless Chromium; without it that test
# skips, so install it to get the screenshots and the browser checks.
if [ ! -x /usr/bin/chromium ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  # Recommended packages stay in: they bring the fonts the pages render with.
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium
fi

# The LDAP tests (internal/testkit/slapdtest) run a real OpenLDAP server:
# Debian's slapd, started by each test on loopback ports with its own
# configuration file. The package's own service is not used; noninteractive
# debconf keeps its postinst from asking questions.
if [ ! -x /usr/sbin/slapd ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends slapd
fi

# cmd/gatehouse/readme_test.go runs the README walk-through, which uses
# curl and jq, and examples/shop/get-token.sh, which also needs openssl.
missing=""
for tool in curl jq openssl; do
  command -v "$tool" >/dev/null || missing="$missing $tool"
done
if [ -n "$missing" ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q
  # shellcheck disable=SC2086 # one word per package
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $missing
fi

# Clients nobody here wrote, on Node 22 from the npm package node: the MCP
# conformance tool (internal/server/mcp_conformance_test.go). npm ci
# installs exactly tools/node/package-lock.json.
if [ ! -x tools/node/node_modules/.bin/node ] || [ tools/node/package-lock.json -nt tools/node/node_modules ]; then
  npm ci --prefix tools/node --no-audit --no-fund --loglevel=error
fi
