#!/usr/bin/env bash
# Creates ./.venv (if missing) and installs the package into it, with the
# extras given as arguments (e.g. "test"). One pip step; pip's cache makes
# re-runs fast. Usage: entrypoints/setup_venv.sh [EXTRA[,EXTRA...]]
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
spec="."
[ -n "${1:-}" ] && spec=".[$1]"
"$VENV/bin/python" -m pip install --disable-pip-version-check -q -e "$spec"
