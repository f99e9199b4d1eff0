#!/usr/bin/env bash
# Install the system packages the test suite needs (Debian/Ubuntu):
#   chromium    - the browser the auditor and the browser tests drive through Playwright
#   postgresql  - the server the PostgreSQL tests start themselves
# As root it installs what is missing (quickly a no-op when all is there);
# otherwise it says what is missing and how to install it.
set -euo pipefail

packages=(chromium postgresql)
missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present (${packages[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "system packages missing: ${missing[*]}" >&2
  echo "install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi

echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian package starts a cluster of its own; the tests start their own server.
if command -v pg_ctlcluster >/dev/null 2>&1; then
  for conf in /etc/postgresql/*/main; do
    [ -d "$conf" ] || continue
    v=$(basename "$(dirname "$conf")")
    pg_ctlcluster "$v" main stop >/dev/null 2>&1 || true
  done
fi
echo "system packages: installed ${missing[*]}"
