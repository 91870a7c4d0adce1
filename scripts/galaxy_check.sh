#!/usr/bin/env bash
# make galaxy-check (run by make sanity): Galaxy's own import checks (galaxy-importer) on the
# tarball make build writes.
#
# galaxy-importer runs in a virtualenv of its own (build/galaxy-importer-venv, pinned by
# requirements-galaxy-importer.txt), since it pins other versions of ansible-lint's dependencies.
# Its ansible-test step needs a container runtime and is off here: `make sanity` runs ansible-test
# itself. Its ansible-lint step is on.
#
# The one thing Galaxy requires that this collection cannot have yet is a `repository` URL: the
# project has no public address (see galaxy.yml). galaxy-importer stops at that field before any
# other check, so while galaxy.yml has none this script
#   1. checks that the real tarball is refused for that reason and no other, and
#   2. runs every other check on a copy of the tarball whose MANIFEST.json alone carries a stand-in
#      URL under the reserved .invalid domain (nothing else in the copy differs; it ships nowhere).
# Once galaxy.yml has a repository, the real tarball is checked as it is and must pass.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv=$root/build/galaxy-importer-venv
cd "$root"

if [ ! -x "$venv/bin/python" ] || ! cmp -s requirements-galaxy-importer.txt "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r requirements-galaxy-importer.txt
    cp requirements-galaxy-importer.txt "$venv/requirements.txt"
fi

PATH="$("$root/scripts/venv_path.sh")/bin:$PATH" "$root/scripts/build.sh"
tarballs=(build/pgha-repmgr-*.tar.gz)
tarball=${tarballs[0]}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
config=$work/galaxy-importer.cfg
printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\n' >"$config"

# import TARBALL LOG: galaxy-importer on TARBALL, its output in LOG; the importer's exit status.
# It runs in the scratch folder, where it leaves its importer_result.json.
import() {
    local tarball
    tarball=$(realpath "$1")
    (cd "$work" && GALAXY_IMPORTER_CONFIG=$config PATH=$venv/bin:$PATH "$venv/bin/python" -m galaxy_importer.main \
        "$tarball" >"$2" 2>&1)
}

# show LOG: the importer's output without its one-line-per-plugin progress.
show() { grep -v '^Loading ' "$1" || true; }

repository=$("$venv/bin/python" -c 'import json, sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    print(json.load(t.extractfile("MANIFEST.json"))["collection_info"].get("repository") or "")' "$tarball")

checked=$tarball
if [ -z "$repository" ]; then
    if import "$tarball" "$work/real.log"; then
        echo "galaxy-check: galaxy-importer accepted $tarball without a repository URL; this script's premise is out of date" >&2
        exit 1
    fi
    if ! grep -q "'repository' is required" "$work/real.log"; then
        echo "galaxy-check: galaxy-importer refused $tarball for another reason than the missing repository URL:" >&2
        show "$work/real.log" >&2
        exit 1
    fi
    echo "galaxy-check: $tarball is refused only for its missing repository URL (the project has no public address yet)"
    checked=$work/$(basename "$tarball")
    "$venv/bin/python" - "$tarball" "$checked" <<'EOF'
import io, json, sys, tarfile
source, copy = sys.argv[1], sys.argv[2]
with tarfile.open(source) as src, tarfile.open(copy, "w:gz") as dst:
    for member in src.getmembers():
        data = src.extractfile(member).read() if member.isfile() else None
        if member.name == "MANIFEST.json":
            manifest = json.loads(data)
            manifest["collection_info"]["repository"] = "https://repository.invalid/pgha/repmgr"
            data = json.dumps(manifest, indent=4).encode()
            member.size = len(data)
        dst.addfile(member, io.BytesIO(data) if data is not None else None)
EOF
    echo "galaxy-check: every other check runs on a copy whose MANIFEST.json has a stand-in repository URL"
fi

if ! import "$checked" "$work/check.log"; then
    show "$work/check.log" >&2
    echo "galaxy-check: galaxy-importer refused the collection" >&2
    exit 1
fi
if grep -E '^(WARNING|ERROR)' "$work/check.log" >&2; then
    echo "galaxy-check: galaxy-importer reported problems with the collection (above)" >&2
    exit 1
fi
show "$work/check.log"
echo "galaxy-check: passed"
