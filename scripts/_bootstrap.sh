# Sourced by scripts/dev and scripts/test: create .venv and install the project
# (with the dev extra) when pyproject.toml changed since the last install.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> installing dependencies (first run takes a minute)"
  # (grep drops notices of this machine's pip configuration, keeps real errors)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip 2>&1 \
    | { grep -vE "^WARNING: Location 'file:" || true; }
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[dev]' 2>&1 \
    | { grep -vE "^WARNING: Location 'file:" || true; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
