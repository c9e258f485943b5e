# Sourced by scripts/dev and scripts/test (and so by .ci/run): create .venv and install
# the locked dependencies (requirements/dev.lock, hash-checked) and the project itself
# (editable, no dependencies of its own), again whenever the lock or pyproject.toml changes.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
LOCK=requirements/dev.lock
if [ ! -x .venv/bin/python ]; then
  echo "==> creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.installed-$(cat "$LOCK" pyproject.toml | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "==> installing $LOCK (first run takes a minute)"
  # (grep drops notices of this machine's pip configuration, keeps real errors)
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes \
    -r "$LOCK" 2>&1 | { grep -vE "^WARNING: Location 'file:" || true; }
  .venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -e . 2>&1 \
    | { grep -vE "^WARNING: Location 'file:|BuildBackendWarning|^ *(!!|\*+|with strategy|Please be careful|name as your package)|^ *$" || true; }
  rm -f .venv/.installed-*
  touch "$stamp"
fi
export PATH="$ROOT/.venv/bin:$PATH"
