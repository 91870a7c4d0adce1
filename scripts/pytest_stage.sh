#!/usr/bin/env bash
# One pytest stage of `make test`: scripts/pytest_stage.sh tests/unit [pytest options]
#
# pytest exits 5 when it collects no test. A folder with no test file, or test files of which
# pytest collects none (a name, an import, a marker hides them), fails the stage: a stage that
# tests nothing must never read as a pass.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dir=$1
shift
case "$dir" in
    /*) path=$dir ;;
    *) path=$root/$dir ;;
esac

if [ -z "$(find "$path" \( -name 'test_*.py' -o -name '*_test.py' \) -print -quit 2>/dev/null)" ]; then
    echo "FAILED: $dir has no test files (test_*.py): a stage of make test that tests nothing is a failure" >&2
    exit 1
fi

cd "$root"
rc=0
"$("$root/scripts/venv_path.sh")/bin/python" -m pytest "$dir" "$@" || rc=$?
if [ "$rc" -eq 5 ]; then
    echo "FAILED: $dir has test files, but pytest collected no test from them" >&2
    exit 1
fi
exit "$rc"
