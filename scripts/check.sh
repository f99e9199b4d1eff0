#!/usr/bin/env bash
# The checks behind `make test`: ruff, ruff format, mypy, then the whole pytest suite.
#
#   scripts/check.sh VENV_BIN PATHS... -- [PYTEST_ARGS...]
#
# Every step runs even when an earlier one fails, so one CI run shows every
# problem; the last line is a one-line summary and the exit status is non-zero
# if any step failed. pytest collecting no tests (exit 5) counts as a failure.
set -uo pipefail

bin=${1:?usage: scripts/check.sh VENV_BIN PATHS... -- [PYTEST_ARGS...]}
shift
paths=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  paths+=("$1")
  shift
done
[ $# -gt 0 ] && shift # the --
pytest_args=("$@")

log=$(mktemp "${TMPDIR:-/tmp}/trackpref-pytest.XXXXXX")
trap 'rm -f "$log"' EXIT

overall_start=$(date +%s)
summary=()
failed=()

step() {
  local name=$1
  shift
  echo
  echo "== $name: $*"
  local start rc
  start=$(date +%s)
  if [ "$name" = pytest ]; then
    "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
  else
    "$@"
    rc=$?
  fi
  local took=$(($(date +%s) - start))
  if [ "$name" = pytest ] && [ "$rc" -eq 5 ]; then
    echo "pytest collected no tests: that is a failure, not a pass" >&2
  fi
  if [ "$rc" -eq 0 ]; then
    summary+=("$name ok (${took}s)")
  else
    summary+=("$name FAILED (exit $rc, ${took}s)")
    failed+=("$name")
  fi
}

step ruff "$bin/ruff" check "${paths[@]}"
step format "$bin/ruff" format --check "${paths[@]}"
step mypy "$bin/mypy"
step pytest "$bin/pytest" "${pytest_args[@]}"

# pytest's own last line, e.g. "812 passed, 2 xfailed in 540.21s (0:09:00)".
counts=$(grep -E '^=+ .* in [0-9.]+s( \([0-9:]+\))? =+$' "$log" | tail -n 1 |
  sed -E 's/^=+ //; s/ =+$//')

total=$(($(date +%s) - overall_start))
echo
printf "== %s\n" "${summary[@]}"
[ -n "$counts" ] && echo "== pytest: $counts"
if [ ${#failed[@]} -eq 0 ]; then
  echo "make test: PASSED in ${total}s (ruff, format, mypy, pytest: ${counts:-?})"
  exit 0
fi
echo "make test: FAILED in ${total}s: ${failed[*]} (pytest: ${counts:-no summary line})"
exit 1
