#!/usr/bin/env bash
# The molecule stage of `make test`: scripts/molecule_stage.sh [project root]
#
# A missing scenario fails the stage: molecule would otherwise report nothing to test, and a
# stage that tests nothing must never read as a pass.
set -euo pipefail

root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
if [ ! -f "$root/molecule/default/molecule.yml" ]; then
    echo "FAILED: no molecule/default/molecule.yml under $root: the molecule stage would test nothing" >&2
    exit 1
fi
cd "$root"
exec molecule test --scenario-name default
