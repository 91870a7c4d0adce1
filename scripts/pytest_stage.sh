#!/usr/bin/env bash
# One pytest stage of `make test`: scripts/pytest_stage.sh tests/unit [pytest options]
#
# pytest exits 5 when it collects no test. Here a folder with no test file yet is reported as
# skipped, loudly, and the stage passes; a folder that has test files of which pytest collects
# none fails, since something (a name, an import, a marker) hides them.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$1
shift

if [ -z "$(find "$root/$dir" \( -name 'test_*.py' -o -name '*_test.py' \) -print -quit 2>/dev/null)" ]; then
    echo "SKIPPED: $dir has no test files (test_*.py) yet"
    exit 0
fi

cd "$root"
rc=0
"$("$root/scripts/venv_path.sh")/bin/python" -m pytest "$dir" "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "FAILED: $dir has test files, but pytest collected no test from them" >&2
    exit 1
fi
exit "$rc"
