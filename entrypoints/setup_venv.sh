#!/usr/bin/env bash
# Creates ./.venv (if missing) and installs the package into it, with the
# extras given as arguments (e.g. "test"). One pip step; pip's cache makes
# re-runs fast. Usage: entrypoints/setup_venv.sh [EXTRA[,EXTRA...]]
# AESTHETICS_SKIP_INSTALL=1 reuses an existing venv as it is (offline tests).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
if [ -n "${AESTHETICS_SKIP_INSTALL:-}" ] && "$VENV/bin/python" -c "import aesthetics" 2>/dev/null; then
  echo "setup_venv: AESTHETICS_SKIP_INSTALL is set and $VENV has the package; not installing"
  exit 0
fi
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
# pip's output goes to a log (shown on failure): index warnings drown the test output.
log="$VENV/pip-install.log"
echo "setup_venv: installing -e $spec into $VENV (log: $log)"
if ! "$VENV/bin/python" -m pip install --disable-pip-version-check -e "$spec" >"$log" 2>&1; then
  tail -n 50 "$log" >&2
  echo "setup_venv: pip install failed; full log in $log" >&2
  exit 1
fi
