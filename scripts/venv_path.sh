#!/usr/bin/env bash
# Print where the project's virtualenv lives (override: PGHA_VENV).
#
# The modules run on the local test hosts as the PostgreSQL OS user (become_user: postgres) with
# the virtualenv's interpreter, so that user must be able to reach it. That is the case for
# <repo>/.venv when the working tree is world-traversable (e.g. /work/...); a tree under a
# private home (e.g. /root/...) gets its virtualenv under /var/tmp instead, one per tree.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [ -n "${PGHA_VENV:-}" ]; then
    echo "$PGHA_VENV"
elif [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1 && ! runuser -u postgres -- test -x "$root" 2>/dev/null; then
    echo "/var/tmp/pgha-repmgr-venv-$(printf '%s' "$root" | sha256sum | cut -c1-12)"
else
    echo "$root/.venv"
fi
