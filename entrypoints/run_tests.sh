#!/usr/bin/env bash
# Sets up ./.venv with the test extras and runs the test suite.
# Usage: entrypoints/run_tests.sh [pytest args]   (e.g. -k labels, -m slow)
set -euo pipefail
cd "$(dirname "$0")/.."
bash entrypoints/setup_venv.sh test
exec .venv/bin/python -m pytest -m "not slow" "$@"
