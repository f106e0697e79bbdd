#!/usr/bin/env bash
# Sets up ./.venv with the test extras and runs the test suite.
# Usage: entrypoints/run_tests.sh [pytest args]   (e.g. -k labels, -m slow)
set -euo pipefail
cd "$(dirname "$0")/.."
bash entrypoints/setup_venv.sh test
# The report's browser test needs Chromium; this script installs no system package.
if ! command -v chromium >/dev/null 2>&1 && ! command -v chromium-browser >/dev/null 2>&1 \
    && ! command -v google-chrome >/dev/null 2>&1 && ! command -v google-chrome-stable >/dev/null 2>&1; then
  echo "run_tests: no Chromium found: the report's browser test will skip (Debian/Ubuntu: sudo apt-get install chromium)" >&2
fi
exec .venv/bin/python -m pytest -m "not slow" --durations=25 "$@"
