"""The layers stay as the README draws them; this test fails the day an import crosses one.

- The pure core (plain data in, plain data out) imports no psycopg, no Ansible, and no module of
  the core that does I/O: its rules are table-tested without a server.
- module_utils (the collection's private core) never imports a module, an action plugin, a
  filter or the event source: those are its edges, not the other way round.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CORE = ROOT / "plugins" / "module_utils"
PREFIX = "ansible_collections.pgha.repmgr."

PURE = ("records", "errors", "status", "tables", "election", "timeline", "switchover", "monitor", "monitor_settings",
        "monitor_history", "event_notifications", "nodeview", "primary", "outcome", "waiting")
FORBIDDEN_IN_PURE = ("psycopg", "ansible.", "ansible_collections.pgha.repmgr.plugins.modules",
                     "ansible_collections.pgha.repmgr.plugins.action")
EDGES = ("plugins.modules", "plugins.action", "plugins.filter", "extensions")


def imports_of(path: Path) -> list[str]:
    """Every module name an `import` or `from ... import` statement of the file names (at any depth)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            if node.module.endswith(".module_utils"):  # from ...module_utils import metadata, probe
                names.extend("%s.%s" % (node.module, alias.name) for alias in node.names)
    return names


def core_module(name: str) -> str | None:
    """The module_utils file a module name points to, or None."""
    marker = PREFIX + "plugins.module_utils."
    return name[len(marker):].split(".")[0] if name.startswith(marker) else None


def readme_layers():
    """The README's map of module_utils: (the names it calls pure, the names it lists with I/O)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text[text.index("plugins/module_utils/   "):text.index("plugins/modules/        ")]
    pure, _sep, with_io = block.partition("With I/O:")
    words = re.compile(r"\b[a-z_]+\b")
    return set(words.findall(pure)), set(words.findall(with_io))


def test_the_readme_names_every_core_module_in_its_layer():
    pure_words, io_words = readme_layers()
    files = {path.stem for path in CORE.glob("*.py") if path.stem != "__init__"}
    assert not set(PURE) - pure_words, "README's pure core lacks " + ", ".join(sorted(set(PURE) - pure_words))
    with_io = files - set(PURE)
    assert not with_io - io_words, "README's modules with I/O lack " + ", ".join(sorted(with_io - io_words))


@pytest.mark.parametrize("module", PURE)
def test_a_pure_module_imports_no_io(module):
    path = CORE / (module + ".py")
    for name in imports_of(path):
        assert not (name == "psycopg" or name.startswith(FORBIDDEN_IN_PURE)), \
            "%s.py imports %s: the pure core must not" % (module, name)
        target = core_module(name)
        if target is not None:
            assert target in PURE, "%s.py imports %s, a core module with I/O" % (module, target)


@pytest.mark.parametrize("path", sorted(CORE.glob("*.py")), ids=lambda p: p.name)
def test_module_utils_imports_no_edge(path):
    for name in imports_of(path):
        assert not any(name.startswith(PREFIX + edge) for edge in EDGES), \
            "%s imports %s: module_utils must not depend on its edges" % (path.name, name)


def test_the_pure_list_names_real_files():
    assert all((CORE / (module + ".py")).is_file() for module in PURE)
