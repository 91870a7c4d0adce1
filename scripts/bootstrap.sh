#!/usr/bin/env bash
# Install what `make test` and `make demo` need; quick and silent when it is all there.
#
#   Debian packages: PostgreSQL 15 server (without the 'main' cluster Debian would create),
#                    the real repmgr 5.3 (interop tests, benchmarks), Java 17 (ansible-rulebook),
#                    git (the sanity copy), the shellcheck tool (ansible-test sanity) and jq (the
#                    Nagios plugin docs/node-check.md shows, run by its test).
#   .venv:           pip install -r requirements-test.txt -c constraints.txt, redone only when
#                    those files change (stamp .venv/.pgha-bootstrap holds their checksum).
#   build/collections/ansible_collections/pgha/repmgr -> the working tree (collection_path.sh).
#
# As root it installs what is missing (apt-get update only then). As another user it says
# exactly what to install and fails. Output of apt and pip is shown only when they fail.
# Environment: PGHA_PYTHON=/path/to/python3.11 picks the interpreter for a new .venv.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# python3/python3-venv: Debian's interpreter, which the PostgreSQL OS user can run (a pyenv
# interpreter under /root cannot be), for the modules that run with become_user: postgres.
APT_PACKAGES=(postgresql-15 postgresql-15-repmgr openjdk-17-jre-headless shellcheck git jq python3 python3-venv)
VENV=$("$root/scripts/venv_path.sh")
STAMP=$VENV/.pgha-bootstrap
REQUIREMENTS=(requirements.txt requirements-test.txt constraints.txt)
CREATECLUSTER=/etc/postgresql-common/createcluster.conf

say() { echo "bootstrap: $*" >&2; }

# Run a noisy command with its output kept aside; show it only when the command fails.
quietly() {
    local log
    log=$(mktemp "${TMPDIR:-/tmp}/pgha-bootstrap.XXXXXX")
    if "$@" >"$log" 2>&1; then
        rm -f "$log"
    else
        local rc=$?
        cat "$log" >&2
        rm -f "$log"
        say "failed (exit $rc): $*"
        return "$rc"
    fi
}

# --- Debian packages -------------------------------------------------------------------------

missing_packages() {
    local installed
    installed=$(dpkg-query -W -f='${Package} ${db:Status-Abbrev}\n' "${APT_PACKAGES[@]}" 2>/dev/null \
        | awk '$2 == "ii" {print $1}' || true)
    local pkg
    for pkg in "${APT_PACKAGES[@]}"; do
        grep -qxF "$pkg" <<<"$installed" || echo "$pkg"
    done
}

# Debian's postgresql-common creates and starts a 'main' cluster on port 5432 with every new
# server version unless told not to; the tests run their own servers and want none of it.
no_main_cluster() {
    mkdir -p "$(dirname "$CREATECLUSTER")"
    if grep -qE '^[[:space:]]*create_main_cluster[[:space:]]*=' "$CREATECLUSTER" 2>/dev/null; then
        sed -ri 's/^[[:space:]]*create_main_cluster[[:space:]]*=.*/create_main_cluster = false/' "$CREATECLUSTER"
    else
        echo 'create_main_cluster = false' >>"$CREATECLUSTER"
    fi
}

apt_install() {
    quietly apt-get install -y -q --no-install-recommends \
        -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@"
}

needs_server() {
    local pkg
    for pkg in "$@"; do
        [ "$pkg" = postgresql-15 ] && return 0
    done
    return 1
}

install_packages() {
    local missing=("$@")
    if ! command -v dpkg-query >/dev/null 2>&1 || ! command -v apt-get >/dev/null 2>&1; then
        say "this is not a Debian/Ubuntu system; install the equivalents of: ${missing[*]}"
        exit 1
    fi
    if [ "$(id -u)" -ne 0 ]; then
        say "missing Debian packages: ${missing[*]}"
        say "install them as root (PostgreSQL without Debian's default 'main' cluster), then rerun:"
        echo "    sudo apt-get update" >&2
        if needs_server "${missing[@]}"; then
            echo "    sudo apt-get install -y postgresql-common" >&2
            echo "    echo 'create_main_cluster = false' | sudo tee -a $CREATECLUSTER" >&2
        fi
        echo "    sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    say "installing Debian packages: ${missing[*]}"
    quietly apt-get update -q
    if needs_server "${missing[@]}"; then
        apt_install postgresql-common
        no_main_cluster
    fi
    apt_install "${missing[@]}"
}

# --- Python virtualenv -----------------------------------------------------------------------

requirements_checksum() {
    cat "${REQUIREMENTS[@]}" | sha256sum | cut -d' ' -f1
}

# As root, run a command as the PostgreSQL OS user (the modules' become_user on the test hosts);
# otherwise run it as we are.
as_os_user() {
    if [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# The first interpreter that really runs (pyenv shims on PATH may not), also for the PostgreSQL
# OS user, is 3.11 or newer (ansible-core 2.19) and can make a virtualenv with pip. Debian's own
# python3 comes first.
pick_python() {
    local candidate
    for candidate in ${PGHA_PYTHON:-} /usr/bin/python3.11 /usr/bin/python3 python3.11 python3; do
        candidate=$(command -v "$candidate" 2>/dev/null) || continue
        if as_os_user "$candidate" -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

make_venv() {
    local python
    python=$(pick_python) || { say "no Python 3.11 or newer with the venv module (Debian: python3 python3-venv)"; exit 1; }
    say "creating $VENV with $python"
    rm -rf "$VENV"
    quietly "$python" -m venv "$VENV"
}

# Usable by us and by the PostgreSQL OS user (a venv made from an interpreter under a private
# home is not: it is made again).
venv_works() {
    [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c '' >/dev/null 2>&1 \
        && as_os_user "$VENV/bin/python" -c '' >/dev/null 2>&1
}

ensure_venv() {
    local want
    want=$(requirements_checksum)
    if venv_works; then
        [ "$(cat "$STAMP" 2>/dev/null)" = "$want" ] && return 0
    else
        make_venv
    fi
    say "installing Python packages into $VENV (requirements-test.txt, constraints.txt)"
    rm -f "$STAMP"
    quietly "$VENV/bin/python" -m pip install --disable-pip-version-check \
        -r requirements-test.txt -c constraints.txt
    echo "$want" >"$STAMP"
}

# --- main --------------------------------------------------------------------------------------

# One bootstrap at a time per working tree (two makes at once would run two pip installs).
lock="${TMPDIR:-/tmp}/pgha-bootstrap-$(printf '%s' "$root" | sha256sum | cut -c1-16).lock"
exec 9>"$lock"
flock 9

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    mapfile -t missing < <(missing_packages)
else
    missing=("${APT_PACKAGES[@]}")
fi
# A new .venv needs an interpreter that can make one (Debian's python3 needs python3-venv).
if ! venv_works && ! pick_python >/dev/null; then
    missing+=(python3 python3-venv)
fi
if [ "${#missing[@]}" -gt 0 ]; then
    install_packages "${missing[@]}"
fi
ensure_venv
"$root/scripts/collection_path.sh" >/dev/null
