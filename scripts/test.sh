#!/usr/bin/env bash
# Install what the tests need on a fresh machine (Python 3.11 + pip + apt) and run them.
# Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# The browser test drives Debian's Chromium (Playwright's own browser download is not used).
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  fi
fi

# The test set is pinned (requirements/ci.txt, refreshed by scripts/refresh-pins.sh); users get
# setup.cfg's ranges.
python -m pip install --quiet --disable-pip-version-check -c requirements/ci.txt -e '.[dev]'
python -m ruff check --quiet .
python -m ruff format --check --quiet .
export MATHOCR_DATA="${MATHOCR_DATA:-$(cd .. && pwd)/shared/data}"
exec python -m pytest -p no:cacheprovider "$@"
