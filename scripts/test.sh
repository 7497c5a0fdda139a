#!/usr/bin/env bash
# Install what the tests need, lint and type-check, then run the whole suite.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
"$PY" -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
"$PY" -m ruff check .
"$PY" -m mypy
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
APT_UPDATED=""
apt_install() {  # Debian packages the tests drive for real
  if [ -z "$APT_UPDATED" ]; then $SUDO apt-get update -qq && APT_UPDATED=1; fi
  $SUDO apt-get install -y -qq "$@" >/dev/null
}
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/bin/chromium ]; then
  echo "Installing Debian's chromium for the browser tests..."
  apt_install chromium
fi
# The PostgreSQL tests start a private cluster with initdb/pg_ctl (tests/pgserver.py);
# PROMPTBOARD_TEST_NO_POSTGRES=1 skips them, and this install with them.
if [ "${PROMPTBOARD_TEST_NO_POSTGRES:-}" != 1 ] \
    && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null \
    && ! command -v initdb >/dev/null 2>&1; then
  echo "Installing Debian's postgresql for the PostgreSQL tests..."
  apt_install postgresql
fi
# Two test processes (pytest-xdist; PROMPTBOARD_TEST_WORKERS=0 runs in this one), each file in
# one process so its module fixtures (servers, clusters) start once.
WORKERS=${PROMPTBOARD_TEST_WORKERS:-2}
if [ "$WORKERS" = 0 ]; then PARALLEL=(); else PARALLEL=(-n "$WORKERS" --dist loadfile); fi
exec "$PY" -m pytest -q -p no:cacheprovider "${PARALLEL[@]}" "$@"
