#!/usr/bin/env bash
# Install the Debian/Ubuntu packages the test suite needs:
#   chromium         the browser the auditor and the browser tests drive through Playwright
#   postgresql       the server binaries the PostgreSQL tests start themselves (a private
#                    cluster in a temporary folder; the package's own cluster is stopped)
#   fonts-liberation text metrics in headless pages (layout and visibility checks)
# and, optionally, wrk for `make bench` (the benchmarks fall back to a Python client).
#
# As root: `apt-get update` once and install what is missing; a quick no-op when
# everything is there. Not root: say what is missing and how to install it, and
# exit non-zero only if a required package is missing.
set -euo pipefail

required=(chromium postgresql fonts-liberation)
optional=(wrk)

installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

if ! command -v dpkg >/dev/null 2>&1; then
  # Not Debian: check for what the tests actually use and explain.
  ok=1
  command -v chromium >/dev/null 2>&1 || { echo "missing: chromium (on PATH)" >&2; ok=0; }
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || {
    echo "missing: PostgreSQL server binaries in /usr/lib/postgresql/<version>/bin" >&2
    ok=0
  }
  if [ "$ok" -eq 1 ]; then
    echo "system packages: chromium and PostgreSQL found (no dpkg; not Debian)"
    exit 0
  fi
  echo "this script installs them on Debian/Ubuntu only; install Chromium and PostgreSQL 15+" >&2
  echo "so that the paths above exist" >&2
  exit 1
fi

missing=()
for p in "${required[@]}"; do installed "$p" || missing+=("$p"); done
missing_optional=()
for p in "${optional[@]}"; do installed "$p" || missing_optional+=("$p"); done

if [ ${#missing[@]} -eq 0 ] && [ ${#missing_optional[@]} -eq 0 ]; then
  echo "system packages: all present (${required[*]} ${optional[*]})"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: required ones present; optional missing: ${missing_optional[*]}"
    echo "  (for benchmarks: sudo apt-get install -y ${missing_optional[*]})"
    exit 0
  fi
  echo "system packages missing: ${missing[*]}" >&2
  [ ${#missing_optional[@]} -eq 0 ] || echo "optional, for benchmarks: ${missing_optional[*]}" >&2
  echo "install them with:" >&2
  echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]} ${missing_optional[*]}" >&2
  echo "or run \`make test\` as root, which does it." >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "system packages: installing ${missing[*]} ${missing_optional[*]}"
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
if [ ${#missing_optional[@]} -gt 0 ]; then
  apt-get install -y -qq --no-install-recommends "${missing_optional[@]}" </dev/null >/dev/null ||
    echo "system packages: could not install ${missing_optional[*]} (optional; benchmarks fall back)" >&2
fi

# The Debian package may start a cluster of its own on port 5432; the tests start
# their own server, so stop it rather than leave an unused server running.
if command -v pg_lsclusters >/dev/null 2>&1; then
  pg_lsclusters --no-header 2>/dev/null | while read -r version cluster _port status _rest; do
    if [ "$status" = online ]; then
      pg_ctlcluster "$version" "$cluster" stop >/dev/null 2>&1 || true
    fi
  done
fi

for p in "${required[@]}"; do
  installed "$p" || { echo "system packages: $p did not install" >&2; exit 1; }
done
echo "system packages: installed ${missing[*]} ${missing_optional[*]}"
