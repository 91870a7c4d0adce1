#!/usr/bin/env bash
# ansible-test sanity (every test) on a copy of the collection, then antsibull-changelog's check of
# changelogs/changelog.yaml.
#
# ansible-test must run from a folder that really is .../ansible_collections/pgha/repmgr (it
# refuses a symlink), so the files of the working tree that git would take (tracked, plus
# untracked that are not ignored: no .venv, build, caches) are copied to
# build/sanity/ansible_collections/pgha/repmgr and the test runs there.
# Extra arguments go to ansible-test, e.g. scripts/sanity.sh --test pylint
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bin="$("$root/scripts/venv_path.sh")/bin"
dest="$root/build/sanity/ansible_collections/pgha/repmgr"

command -v git >/dev/null || { echo "sanity: git is needed to list the collection's files" >&2; exit 1; }
git -C "$root" rev-parse --is-inside-work-tree >/dev/null 2>&1 \
    || { echo "sanity: $root is not a git working tree; cannot tell its files from build output" >&2; exit 1; }

# 1. The copy. Deleted-but-still-tracked files are listed by git and skipped here.
rm -rf "$dest"
mkdir -p "$dest"
(cd "$root" && git ls-files -z -co --exclude-standard \
    | while IFS= read -r -d '' path; do
        if [ -e "$path" ] || [ -L "$path" ]; then printf '%s\0' "$path"; fi
    done \
    | tar --null -T - -cf -) | tar -xf - -C "$dest"

# Its own git repository: otherwise ansible-test walks up to the working tree's .git, where
# build/ is ignored, finds no files at all and "passes" with every target skipped.
git -C "$dest" init -q
echo "tests/output/" >>"$dest/.git/info/exclude"

# 2. The get-pip stand-in. ansible-test downloads get-pip from a host that is not reachable here
# unless ~/.ansible/test/cache/get_pip_<pip version>.py exists; the version is ansible-test's own.
pip_version=$("$bin/python" -c '
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])')
get_pip="$HOME/.ansible/test/cache/get_pip_${pip_version//./_}.py"
standin="$root/scripts/get_pip_standin.py"
# Leave a real get-pip alone (a machine with wider network access may have downloaded one).
if [ ! -e "$get_pip" ] || { head -n1 "$get_pip" | grep -q 'get-pip stand-in' && ! cmp -s "$standin" "$get_pip"; }; then
    mkdir -p "$(dirname "$get_pip")"
    cp "$standin" "$get_pip"
fi

# 3. The test. --python 3.11: otherwise ansible-test tries every python on PATH (pyenv shims too).
cd "$dest"
log=$(mktemp "${TMPDIR:-/tmp}/pgha-sanity.XXXXXX")
trap 'rm -f "$log"' EXIT
start=$SECONDS
rc=0
"$bin/ansible-test" sanity --python 3.11 --local "$@" 2>&1 | tee "$log" || rc=$?
# With no test chosen, "All targets skipped" means the copy had no files ansible-test could see.
if [ "$rc" -eq 0 ] && [ "$#" -eq 0 ] && grep -q 'All targets skipped' "$log"; then
    echo "sanity: ansible-test found no files to test in $dest" >&2
    rc=1
fi
ran=$(grep -c '^Running sanity test' "$log" || true)

# 4. ansible-test's changelog test lints changelogs/config.yaml and the fragments (in its own
# virtualenv, with the antsibull-changelog that ansible-test pins); the release history that
# `antsibull-changelog release` wrote, changelogs/changelog.yaml, is checked here with the
# antsibull-changelog of requirements-test.txt.
if [ "$rc" -eq 0 ]; then
    if (cd "$dest" && "$bin/antsibull-changelog" lint-changelog-yaml changelogs/changelog.yaml); then
        echo "sanity: changelogs/changelog.yaml is valid (antsibull-changelog lint-changelog-yaml)"
    else
        rc=$?
        echo "sanity: changelogs/changelog.yaml is not valid (antsibull-changelog lint-changelog-yaml)" >&2
    fi
fi
if [ "$rc" -eq 0 ]; then
    echo "sanity: $ran sanity tests passed in $((SECONDS - start)) s"
else
    echo "sanity: FAILED (ansible-test exit $rc, $((SECONDS - start)) s); the copy it tested is $dest" >&2
fi
exit "$rc"
