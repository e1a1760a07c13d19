#!/usr/bin/env bash
# Refresh requirements/ci.txt: install the newest versions setup.cfg allows into a fresh venv,
# run the test suite with them, and only when it passes write the new pins.
# Usage: bash scripts/refresh-pins.sh [pytest args]     (run it monthly, or when a range changes)
set -euo pipefail
cd "$(dirname "$0")/.."
venv=$(mktemp -d)/venv
python -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
export MATHOCR_DATA="${MATHOCR_DATA:-$(cd .. && pwd)/shared/data}"
"$venv/bin/python" -m pytest -p no:cacheprovider "$@"
{
  sed -n '1,3p' requirements/ci.txt
  "$venv/bin/python" -m pip freeze --exclude-editable | grep -v '^mathocr'
} > requirements/ci.txt.new
mv requirements/ci.txt.new requirements/ci.txt
git --no-pager diff --stat requirements/ci.txt
