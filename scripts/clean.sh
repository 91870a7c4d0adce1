#!/usr/bin/env bash
# make clean: stop every test cluster the harness knows of (leftovers of a killed test run, the
# demo), then remove build output and caches. .venv stays (make distclean removes it).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Servers are found through the harness's state files under its data root
# ($PGHA_DATA_ROOT, default /tmp/pgha-testhosts) and stopped by data directory and PID.
venv=$("$root/scripts/venv_path.sh")
if [ -x "$venv/bin/python" ]; then
    PYTHONPATH="$root/tests" "$venv/bin/python" -m harness destroy --all
fi

rm -rf build .pytest_cache .hypothesis tests/output .ansible
find . \( -path ./.venv -o -path ./.git \) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +
