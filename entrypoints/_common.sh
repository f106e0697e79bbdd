# Sourced by the entrypoints: find the `aesthetics` command (project .venv first).
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -x "$ROOT/.venv/bin/aesthetics" ]; then
  AESTHETICS="$ROOT/.venv/bin/aesthetics"
elif command -v aesthetics >/dev/null 2>&1; then
  AESTHETICS="$(command -v aesthetics)"
else
  echo "aesthetics is not installed: run 'bash entrypoints/quickstart.sh' or 'pip install -e .' first" >&2
  exit 1
fi
