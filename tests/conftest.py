"""Shared pytest setup for tests/unit and tests/integration.

The working tree is the collection pgha.repmgr: scripts/collection_path.sh makes
build/collections/ansible_collections/pgha/repmgr a symlink to it. Putting build/collections on
sys.path makes ``import ansible_collections.pgha.repmgr.plugins.module_utils...`` load the
working tree's code, and the environment set here makes every ansible, ansible-playbook and
ansible-rulebook that a test starts find the same collection and the project's ansible.cfg.
(``harness`` is importable because pytest puts this folder, tests/, on sys.path.)
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _collections_path() -> str:
    """Create the collection symlink if needed; return the folder holding ansible_collections/."""
    result = subprocess.run(
        [str(ROOT / "scripts" / "collection_path.sh")],
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout.strip()


def _prepend(variable: str, first: str) -> None:
    """Put `first` at the head of a colon-separated environment variable, once."""
    rest = [entry for entry in os.environ.get(variable, "").split(os.pathsep) if entry and entry != first]
    os.environ[variable] = os.pathsep.join([first] + rest)


COLLECTIONS_PATH = _collections_path()
if COLLECTIONS_PATH not in sys.path:
    sys.path.insert(0, COLLECTIONS_PATH)

# Subprocesses: the working tree's collection before any installed copy, the project's
# ansible.cfg whatever the working directory, and this virtualenv's ansible tools on PATH.
_prepend("ANSIBLE_COLLECTIONS_PATH", COLLECTIONS_PATH)
os.environ["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
_prepend("PATH", os.path.dirname(sys.executable))
