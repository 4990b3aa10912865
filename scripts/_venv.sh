# Sourced by scripts/run and scripts/test: make .venv and install the project into it, once,
# and again whenever pyproject.toml changes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
extras="$1"
venv="$root/.venv"
stamp="$venv/.installed-$extras"
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "installing the receiver and its $extras dependencies into .venv ..." >&2
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[$extras]"
  touch "$stamp"
fi
