#!/usr/bin/env bash
# make galaxy-check: Galaxy's own import checks (galaxy-importer) on the tarball make build writes.
#
# galaxy-importer runs in a virtualenv of its own (build/galaxy-importer-venv, pinned by
# requirements-galaxy-importer.txt). Its ansible-test step needs a container runtime and is off
# here: `make sanity` runs ansible-test itself. It refuses a collection whose galaxy.yml has no
# `repository` URL, which this one has not yet (see galaxy.yml): until then this check fails, and
# it is therefore not part of `make test`.
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
config=$(mktemp)
trap 'rm -f "$config"' EXIT
printf '[galaxy-importer]\nRUN_ANSIBLE_TEST = False\nRUN_ANSIBLE_LINT = True\n' >"$config"
GALAXY_IMPORTER_CONFIG=$config PATH=$venv/bin:$PATH "$venv/bin/python" -m galaxy_importer.main "${tarballs[0]}"
