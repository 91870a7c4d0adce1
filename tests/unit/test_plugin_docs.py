"""Every plugin's documentation parses: what `ansible-doc` and Galaxy's importer show users.

ansible-test sanity checks the modules and filters; the event source lives outside its reach
(extensions/eda), so it is checked here the way Galaxy's importer reads it (ansible-doc -M).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PLUGINS = sorted(path for path in [*ROOT.glob("plugins/modules/*.py"), *ROOT.glob("plugins/filter/*.py"),
                                   *ROOT.glob("extensions/eda/plugins/event_source/*.py")]
                 if path.name != "__init__.py")


def doc_strings(path):
    """{DOCUMENTATION|EXAMPLES|RETURN: text} assigned at the top of a plugin file."""
    found = {}
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
                    found[target.id] = node.value.value
    return found


@pytest.mark.parametrize("path", PLUGINS, ids=[str(p.relative_to(ROOT)) for p in PLUGINS])
def test_the_documentation_is_yaml(path):
    docs = doc_strings(path)
    assert "DOCUMENTATION" in docs and "EXAMPLES" in docs, f"{path.name} lacks DOCUMENTATION or EXAMPLES"
    for name, text in docs.items():
        try:
            yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise AssertionError(f"{path.name}: {name} is not valid YAML: {error}") from None


def test_ansible_doc_reads_the_event_source_as_galaxy_does():
    source_dir = ROOT / "extensions/eda/plugins/event_source"
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-M", str(source_dir), "--json",
                           "repmgr_monitor"], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)["repmgr_monitor"]["doc"]
    assert doc["requirements"] and "conninfo" in doc["options"]
