#!/usr/bin/env bash
# make build: the collection tarball build/pgha-repmgr-<version>.tar.gz, checked for files that
# must never ship (galaxy.yml's build_ignore keeps them out; this makes sure it did).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

rm -f build/pgha-repmgr-*.tar.gz
ansible-galaxy collection build --force --output-path build . >/dev/null
tarballs=(build/pgha-repmgr-*.tar.gz)
tarball=${tarballs[0]}
[ -f "$tarball" ] || { echo "build: ansible-galaxy wrote no build/pgha-repmgr-*.tar.gz" >&2; exit 1; }

forbidden=$(tar tzf "$tarball" \
    | grep -E '^(\./)?(\.venv|build|\.ci|\.pytest_cache|\.hypothesis)(/|$)|(^|/)(\.git|__pycache__|tests/output)(/|$)|\.(pyc|tar\.gz)$' \
    || true)
if [ -n "$forbidden" ]; then
    echo "build: $tarball contains files that must not ship:" >&2
    echo "$forbidden" | head -20 >&2
    exit 1
fi
echo "build: $tarball ($(tar tzf "$tarball" | grep -vc '/$') files)"
