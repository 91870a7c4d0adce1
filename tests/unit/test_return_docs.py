"""Every key a module returns is documented in its RETURN, with a sample.

ansible-test's validate-modules checks RETURN's structure (types, ``returned``, ``contains``), but
not that each entry has a sample, nor that a key the module returns is documented at all. Here:

- every top-level entry of every module's RETURN has description, returned, type and sample;
  a list says its elements, and the entries of ``contains`` have description and type;
- every key a module returns (RETURNED below: what the module and the module_utils operation it
  runs put in the result, ``queries`` from module_support and ``events`` from Outcome.as_dict
  included; Ansible's standard keys left out) has a RETURN entry.

KNOWN_GAPS lists what is still missing, so that it stays visible: a gap fixed can be removed from
it (and must be, for the test to guard it again); a new gap fails the test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
MODULES = sorted(path for path in ROOT.glob("plugins/modules/*.py") if path.name != "__init__.py")

REQUIRED = ("description", "returned", "type", "sample")
CONTAINED_REQUIRED = ("description", "type")

# Ansible's own result keys: documented by Ansible, not by each module.
STANDARD_KEYS = {"changed", "failed", "msg", "invocation", "warnings", "deprecations", "diff", "skipped"}

# What each module can return besides STANDARD_KEYS, read from the module and its operation in
# module_utils. rc, stdout and stderr come from module_support.fail() when a command fails
# (CommandFailed); promote_requested and stood_down are the boolean details of an error it passes on.
RETURNED = {
    "repmgr_cluster_cleanup.py": {
        "deleted", "keep_history", "node_id", "primary_node_id", "vacuumed", "vacuum_warning", "events", "queries"},
    "repmgr_cluster_info.py": {
        "local_node_id", "local_node_name", "nodes", "cluster_show", "table", "warnings_detected", "exit_code",
        "failover_paused", "failover_paused_since", "events", "cluster_event", "event_table", "replication_status",
        "monitor", "query_result", "queries"},
    "repmgr_conf_info.py": {
        "config_file", "settings", "items", "inventory", "monitor", "monitor_conninfo", "failover", "node_check",
        "unmapped", "notes", "config_warnings", "queries"},
    "repmgr_database.py": {"queries"},
    "repmgr_event.py": {"event_timestamp", "voting_term", "events", "queries"},
    "repmgr_failover_promote.py": {
        "node_id", "node_name", "promoted", "adopted", "caught_up_from", "promote_seconds", "method", "voting_term",
        "decided", "stood_down", "promote_requested", "events", "queries"},
    "repmgr_follow.py": {
        "node_id", "upstream_node_id", "upstream_node_name", "attach_seconds", "old_slot_dropped", "reason", "rewound",
        "stale_slots_dropped", "stood_down", "events", "queries"},
    "repmgr_node.py": {"record", "before", "events", "metadata_created", "slot_dropped", "queries"},
    "repmgr_node_check.py": {
        "node_id", "node_name", "reachable", "checks", "nagios", "node_check", "exit_code", "skipped_checks", "error",
        "queries"},
    "repmgr_node_service.py": {
        "running", "was_running", "cluster_state", "shut_down_cleanly", "last_checkpoint_lsn", "timeline", "wal_end",
        "standby_signal", "killed", "standby_signal_written", "queries", "rc", "stdout", "stderr"},
    "repmgr_pause.py": {"paused", "was_paused", "paused_since", "primary_node_id", "events", "queries"},
    "repmgr_promote.py": {
        "node_id", "node_name", "promote_seconds", "method", "events", "queries", "promote_requested", "rc", "stdout",
        "stderr"},
    "repmgr_rejoin.py": {
        "node_id", "upstream_node_id", "upstream_node_name", "stale_slots_dropped", "old_slot_dropped", "rewound",
        "attach_seconds", "reason", "events", "queries", "rc", "stdout", "stderr"},
    "repmgr_standby_clone.py": {
        "reason", "data_directory", "slot_name", "system_identifier", "primary_conninfo", "event_written", "pg_bindir",
        "events", "queries", "rc", "stdout", "stderr"},
    "repmgr_switchover_plan.py": {
        "already_primary", "old_primary", "target", "siblings", "lag_bytes", "event_details", "events", "queries"},
}

# Gaps known today, as "<key>: <what is missing>" (or "<key>: undocumented"). Only for modules
# whose RETURN is being reworked elsewhere; keep this empty for every other module.
KNOWN_GAPS = {}


def return_doc(path):
    """The module's RETURN, parsed."""
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "RETURN" for t in node.targets):
            assert isinstance(node.value, ast.Constant) and isinstance(node.value.value, str), \
                f"{path.name}: RETURN is not a string literal"
            return yaml.safe_load(node.value.value) or {}
    raise AssertionError(f"{path.name} has no RETURN")


def contained_gaps(prefix, entry):
    """What the entries of a `contains` (and theirs, recursively) lack."""
    gaps = []
    for key, sub in (entry.get("contains") or {}).items():
        name = f"{prefix}.{key}"
        if not isinstance(sub, dict):
            gaps.append(f"{name}: not a mapping")
            continue
        gaps += [f"{name}: {field}" for field in CONTAINED_REQUIRED if field not in sub]
        if sub.get("type") == "list" and "elements" not in sub:
            gaps.append(f"{name}: elements")
        gaps += contained_gaps(name, sub)
    return gaps


def gaps_of(path):
    doc = return_doc(path)
    gaps = []
    for key, entry in doc.items():
        if not isinstance(entry, dict):
            gaps.append(f"{key}: not a mapping")
            continue
        gaps += [f"{key}: {field}" for field in REQUIRED if field not in entry]
        if entry.get("type") == "list" and "elements" not in entry:
            gaps.append(f"{key}: elements")
        gaps += contained_gaps(key, entry)
    gaps += [f"{key}: undocumented" for key in sorted(RETURNED.get(path.name, set()) - set(doc))]
    return set(gaps)


def test_every_module_is_listed():
    assert set(RETURNED) == {path.name for path in MODULES}, "a module was added or removed: update RETURNED"


@pytest.mark.parametrize("path", MODULES, ids=[path.name for path in MODULES])
def test_every_returned_key_is_documented_with_a_sample(path):
    new = gaps_of(path) - KNOWN_GAPS.get(path.name, set())
    assert not new, f"{path.name}: RETURN lacks " + "; ".join(sorted(new))


@pytest.mark.parametrize("path", MODULES, ids=[path.name for path in MODULES])
def test_standard_keys_are_left_to_ansible(path):
    # msg is allowed where a module documents what its msg says; the others are Ansible's
    documented = set(return_doc(path)) & (STANDARD_KEYS - {"msg"})
    assert not documented, f"{path.name} documents Ansible's standard keys {sorted(documented)}"


# rc, stdout and stderr of a failed command (module_support.fail() with CommandFailed) mean the same in
# every module that runs PostgreSQL's programs or the task's start/stop command. Ansible has no doc
# fragments for RETURN, so the entry is written out in each module; it must stay the same text.
# (repmgr_promote's are narrower on purpose: it runs one command, pg_ctl promote.)
COMMAND_FAILURE_KEYS = ("rc", "stdout", "stderr")
COMMAND_FAILURE_MODULES = ("repmgr_node_service.py", "repmgr_rejoin.py", "repmgr_standby_clone.py")


@pytest.mark.parametrize("key", COMMAND_FAILURE_KEYS)
def test_a_failed_commands_keys_are_documented_alike(key):
    entries = {name: return_doc(ROOT / "plugins/modules" / name).get(key) for name in COMMAND_FAILURE_MODULES}
    first_name, first = next(iter(entries.items()))
    assert first and set(REQUIRED) <= set(first), f"{first_name}: {key} is incomplete"
    differ = {name: entry for name, entry in entries.items() if entry != first}
    assert not differ, f"RETURN.{key} must read as in {first_name}: {first!r}; it differs in " + \
        "; ".join(f"{name}: {entry!r}" for name, entry in differ.items())
