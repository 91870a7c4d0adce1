"""What Galaxy and the collection's users rely on, checked on the files themselves.

- LICENSE is the full text of the license galaxy.yml declares, and the plugins' headers say the same;
- galaxy.yml invents no URL and its build_ignore keeps the development files out of the tarball;
- meta/runtime.yml's action group ``all`` holds every module (module_defaults: group/pgha.repmgr.all);
- every role documents its entry points and its defaults in meta/argument_specs.yml;
- changelogs/changelog.yaml (antsibull-changelog) records every module, filter, role and playbook.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]

# SPDX identifier in galaxy.yml -> SHA-256 of the license's canonical plain text (the FSF's gpl-3.0.txt,
# Debian's /usr/share/common-licenses/GPL-3) and the words the plugins' headers use for it.
LICENSE_TEXTS = {
    "GPL-3.0-or-later": ("3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986",
                         "GNU General Public License v3.0+"),
    "GPL-3.0-only": ("3972dc9744f6499f0f9b2dbf76696f2ae7ad8af9b23dde66d6af86c9dfb36986",
                     "GNU General Public License v3.0"),
}

# Development files that must never ship (ansible-galaxy matches build_ignore with fnmatch against
# paths relative to the collection root; an ignored directory is skipped whole).
MUST_NOT_SHIP = [
    "Makefile", "scripts", "scripts/sanity.sh", "bench", "bench/failover.py", "ansible.cfg", ".ci", ".ci/run",
    "molecule", "constraints.txt", "requirements-test.txt", ".venv", "build", ".ansible-lint",
    ".pytest_cache", ".hypothesis", "tests/output", "plugins/modules/__pycache__",
]
# What the collection is: ignoring any of it would ship a broken tarball.
MUST_SHIP = [
    "README.md", "LICENSE", "meta/runtime.yml", "plugins/modules/repmgr_node.py", "plugins/module_utils",
    "roles/repmgr_node/meta/argument_specs.yml", "playbooks/provision.yml", "extensions/eda/rulebooks/failover.yml",
    "extensions/eda/plugins/event_source/repmgr_monitor.py", "changelogs/changelog.yaml", "requirements.txt",
    "docs",
]

# Defaults that are documented in the entry point's description instead of as an option, with the reason.
# Role argument validation templates every option's value when the role starts; these defaults read
# variables that are not defined yet at that moment, so as options they would fail the role.
DEFAULTS_NOT_AS_OPTIONS = {
    ("repmgr_node", "pgha_repmgr_conf_file"):
        "its default reads pgha_local_test_host and pgha_data_directory, postgresql_server's defaults, "
        "which main.yml makes visible only after the validation",
}

# Reserved example domains (RFC 2606/6761): a URL there is a placeholder, not the project's.
PLACEHOLDER_HOST = re.compile(r"^https?://([^/]*\.)?(example(\.(com|net|org))?|invalid|test|localhost)(:\d+)?(/|$)",
                              re.IGNORECASE)


def load_yaml(path: Path):
    with path.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def galaxy():
    return load_yaml(ROOT / "galaxy.yml")


def module_names():
    return sorted(path.stem for path in (ROOT / "plugins" / "modules").glob("*.py") if path.stem != "__init__")


def role_dirs():
    return sorted(path for path in (ROOT / "roles").iterdir() if path.is_dir())


def argument_specs(role: Path):
    path = role / "meta" / "argument_specs.yml"
    assert path.is_file(), f"{role.name}: no meta/argument_specs.yml"
    specs = (load_yaml(path) or {}).get("argument_specs")
    assert isinstance(specs, dict) and specs, f"{role.name}: meta/argument_specs.yml has no argument_specs"
    return specs


def role_defaults(role: Path):
    path = role / "defaults" / "main.yml"
    return (load_yaml(path) or {}) if path.is_file() else {}


def is_template(value) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def description_text(entry) -> str:
    description = entry.get("description") or ""
    return " ".join(description) if isinstance(description, list) else str(description)


def walk(node):
    """Every dict inside a loaded YAML document."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def tasks_from_uses():
    """(role name, entry point) of every include_role/import_role with tasks_from in playbooks/ and roles/."""
    uses = set()
    for path in sorted(ROOT.glob("playbooks/*.yml")) + sorted(ROOT.glob("roles/*/tasks/*.yml")):
        for node in walk(load_yaml(path)):
            for key in ("ansible.builtin.include_role", "include_role", "ansible.builtin.import_role", "import_role"):
                args = node.get(key)
                if isinstance(args, dict) and args.get("tasks_from"):
                    role = str(args["name"]).rsplit(".", 1)[-1]
                    entry = re.sub(r"\.ya?ml$", "", str(args["tasks_from"]))
                    uses.add((role, entry))
    return sorted(uses)


# -- LICENSE --------------------------------------------------------------------------------------


def test_license_file_is_the_full_text_of_the_license_galaxy_yml_declares():
    meta = galaxy()
    if meta.get("license_file"):
        assert (ROOT / meta["license_file"]).is_file(), f"license_file {meta['license_file']} is missing"
        return
    licenses = meta.get("license")
    assert licenses, "galaxy.yml declares no license"
    assert (ROOT / "LICENSE").is_file(), "LICENSE is missing"
    text = (ROOT / "LICENSE").read_bytes()
    for spdx in licenses:
        assert spdx in LICENSE_TEXTS, f"no known text for {spdx}: add its canonical SHA-256 to this test"
        digest, _header = LICENSE_TEXTS[spdx]
        assert hashlib.sha256(text).hexdigest() == digest, f"LICENSE is not the canonical text of {spdx}"


def test_plugin_headers_name_the_license_of_galaxy_yml():
    headers = {LICENSE_TEXTS[spdx][1] for spdx in galaxy().get("license", []) if spdx in LICENSE_TEXTS}
    assert headers
    wrong = []
    for path in sorted(ROOT.glob("plugins/**/*.py")) + sorted(ROOT.glob("extensions/**/*.py")):
        for line in path.read_text(encoding="utf-8").splitlines()[:10]:
            if "General Public License" in line and not any(header in line for header in headers):
                wrong.append(f"{path.relative_to(ROOT)}: {line.strip()}")
    assert not wrong, "license header does not match galaxy.yml's license:\n" + "\n".join(wrong)


# -- galaxy.yml -----------------------------------------------------------------------------------


# Modules that take nothing from the host's pgha_* variables: repmgr_database connects as the
# PostgreSQL superuser before the repmgr role exists; repmgr_conf_info reads a file and returns the
# inventory variables, so it cannot take them as input.
MODULES_WITHOUT_INVENTORY_DEFAULTS = {"repmgr_database", "repmgr_conf_info"}


def test_every_other_module_takes_its_defaults_from_the_inventory():
    """The README's promise: options default from the host's pgha_* variables (an action plugin each)."""
    with_action = {path.stem for path in (ROOT / "plugins" / "action").glob("*.py") if path.stem != "__init__"}
    assert set(module_names()) - with_action == MODULES_WITHOUT_INVENTORY_DEFAULTS
    for name in sorted(with_action):
        source = (ROOT / "plugins" / "action" / (name + ".py")).read_text(encoding="utf-8")
        assert "InventoryDefaultsAction" in source, f"plugins/action/{name}.py does not use InventoryDefaultsAction"


def test_galaxy_yml_has_no_placeholder_urls():
    meta = galaxy()
    for key in ("repository", "documentation", "homepage", "issues"):
        url = meta.get(key)
        if url is not None:
            assert isinstance(url, str) and url.startswith("https://"), f"{key}: {url!r}"
            assert not PLACEHOLDER_HOST.match(url), f"{key} is a placeholder URL: {url}"


# What ansible-galaxy leaves out whatever build_ignore says: these patterns, and folders of these names.
GALAXY_IGNORE_PATTERNS = ["MANIFEST.json", "FILES.json", "galaxy.yml", "galaxy.yaml", ".git", "*.pyc", "*.retry",
                          "tests/output"]
GALAXY_IGNORE_DIRS = {"CVS", ".bzr", ".hg", ".git", ".svn", "__pycache__", ".tox"}


def ignored(path: str, patterns) -> bool:
    """ansible-galaxy's rule: a path is left out when it, or a folder above it, matches a pattern."""
    parts = path.split("/")
    prefixes = ["/".join(parts[:index]) for index in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatch(prefix, pattern) for prefix in prefixes for pattern in patterns)


def build_ignores(path: str) -> bool:
    parts = path.split("/")
    return ignored(path, list(galaxy().get("build_ignore") or []) + GALAXY_IGNORE_PATTERNS) \
        or any(part in GALAXY_IGNORE_DIRS for part in parts[:-1]) or parts[-1] in GALAXY_IGNORE_DIRS


@pytest.mark.parametrize("path", MUST_NOT_SHIP)
def test_build_ignore_keeps_development_files_out_of_the_tarball(path):
    assert build_ignores(path), f"galaxy.yml build_ignore does not keep {path} out"


@pytest.mark.parametrize("path", ["Makefile", "scripts", "bench", "ansible.cfg"])
def test_build_ignore_names_the_build_tooling(path):
    assert path in (galaxy().get("build_ignore") or []), f"galaxy.yml build_ignore must name {path}"


@pytest.mark.parametrize("path", MUST_SHIP)
def test_build_ignore_keeps_the_collection_in_the_tarball(path):
    assert not build_ignores(path), f"galaxy.yml build_ignore leaves out {path}"


# -- meta/runtime.yml -----------------------------------------------------------------------------


def test_action_group_all_holds_every_module_and_nothing_else():
    runtime = load_yaml(ROOT / "meta" / "runtime.yml")
    group = ((runtime or {}).get("action_groups") or {}).get("all")
    assert isinstance(group, list), "meta/runtime.yml has no action_groups: {all: [...]}"
    names = [entry.rsplit(".", 1)[-1] for entry in group if isinstance(entry, str)]
    missing = sorted(set(module_names()) - set(names))
    unknown = sorted(set(names) - set(module_names()))
    assert not missing, f"modules not in action_groups.all: {missing}"
    assert not unknown, f"action_groups.all names no such module: {unknown}"
    assert len(names) == len(set(names)), "a module is listed twice in action_groups.all"


# -- roles ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", role_dirs(), ids=lambda role: role.name)
def test_every_role_has_argument_specs_for_its_entry_points(role):
    specs = argument_specs(role)
    tasks = {path.stem for path in (role / "tasks").glob("*.yml")}
    if "main" in tasks:
        assert "main" in specs, f"{role.name}: tasks/main.yml but no entry point main"
    for entry, spec in specs.items():
        assert entry in tasks, f"{role.name}: entry point {entry} has no tasks/{entry}.yml"
        assert spec.get("short_description"), f"{role.name}.{entry}: no short_description"
        for name, option in (spec.get("options") or {}).items():
            assert option.get("description"), f"{role.name}.{entry}.{name}: no description"
            assert option.get("type"), f"{role.name}.{entry}.{name}: no type"


def test_every_tasks_from_entry_point_is_documented():
    missing = []
    for role, entry in tasks_from_uses():
        if entry not in argument_specs(ROOT / "roles" / role):
            missing.append(f"{role}: tasks_from {entry}")
    assert not missing, "entry points without an argument spec:\n" + "\n".join(missing)


@pytest.mark.parametrize("role", role_dirs(), ids=lambda role: role.name)
def test_every_default_of_a_role_is_in_its_argument_specs(role):
    specs = argument_specs(role)
    options = {}
    for spec in specs.values():
        options.update(spec.get("options") or {})
    main = specs.get("main", {})
    for name, value in role_defaults(role).items():
        if (role.name, name) in DEFAULTS_NOT_AS_OPTIONS:
            assert name not in options, f"{role.name}: {name} is an option now; drop it from DEFAULTS_NOT_AS_OPTIONS"
            assert name in description_text(main), f"{role.name}: main's description must document {name}"
            continue
        assert name in options, f"{role.name}: defaults/main.yml sets {name}, which meta/argument_specs.yml lacks"
        if "main" in specs:
            assert name in (main.get("options") or {}), f"{role.name}: {name} is not an option of main"
        option = options[name]
        if is_template(value):
            # a template is not a value: the description says what it comes to
            assert "default" not in option, f"{role.name}: {name}'s default is a template; describe it instead"
        elif value is None:
            assert option.get("default") is None, f"{role.name}: {name} defaults to null"
        else:
            documented = option.get("default")
            if option.get("type") == "str":
                value, documented = str(value), (None if documented is None else str(documented))
            assert documented == value, f"{role.name}: {name} defaults to {value!r}, argument_specs says {documented!r}"


# -- changelog ------------------------------------------------------------------------------------


def changelog():
    path = ROOT / "changelogs" / "changelog.yaml"
    assert path.is_file(), "changelogs/changelog.yaml is missing (antsibull-changelog release)"
    return load_yaml(path) or {}


def released(kind: str, subtype: str | None = None):
    names = set()
    for release in (changelog().get("releases") or {}).values():
        if kind == "modules":
            entries = release.get("modules") or []
        else:
            entries = (release.get(kind) or {}).get(subtype) or []
        names |= {entry["name"] for entry in entries}
    return names


def test_changelog_has_the_release_of_galaxy_yml_version():
    assert str(galaxy()["version"]) in (changelog().get("releases") or {})
    assert (ROOT / "changelogs" / "config.yaml").is_file()


def test_changelog_records_every_module():
    missing = sorted(set(module_names()) - released("modules"))
    assert not missing, f"modules missing from changelogs/changelog.yaml: {missing} (add version_added and run " \
                        "antsibull-changelog release)"


def test_changelog_records_every_filter():
    filters = set()
    for path in (ROOT / "plugins" / "filter").glob("*.py"):
        match = re.search(r"^name: (\S+)$", path.read_text(encoding="utf-8"), re.MULTILINE)
        if match:
            filters.add(match.group(1))
    missing = sorted(filters - released("plugins", "filter"))
    assert not missing, f"filters missing from changelogs/changelog.yaml: {missing}"


def test_changelog_records_every_role_and_playbook():
    roles = {role.name for role in role_dirs()}
    playbooks = {path.stem for path in (ROOT / "playbooks").glob("*.yml")}
    assert not sorted(roles - released("objects", "role")), "roles missing from changelogs/changelog.yaml"
    assert not sorted(playbooks - released("objects", "playbook")), "playbooks missing from changelogs/changelog.yaml"


def test_changelog_rst_names_every_module():
    text = (ROOT / "CHANGELOG.rst").read_text(encoding="utf-8")
    missing = [name for name in module_names() if f"pgha.repmgr.{name} " not in text]
    assert not missing, f"CHANGELOG.rst does not name {missing} (antsibull-changelog generate)"
