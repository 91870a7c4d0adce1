"""repmgr_node_check beside the real `repmgr node check` (Debian's repmgr 5.3), on a cluster repmgr built.

On the same node, for every check, `ansible NODE -m pgha.repmgr.repmgr_node_check` and
`repmgr -f <the node's repmgr.conf> node check --<check> --nagios` print the same Nagios line,
status and exit code, and the full `repmgr node check` prints the same detail and exit code:
(a) healthy, on the primary and on a standby; (b) with a standby stopped; (c) with that standby's
slot dropped on the primary. A node that is down or hung gives CRITICAL for every check (repmgr
exits 6 there), a node without a record UNKNOWN; never a failed module.

Cluster: 127.0.0.24-26, port 55508, of its own.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pytest

from ansible_cli import ansible_environment, run_module
from harness import WaitTimeout, cluster_fixture

from ansible_collections.pgha.repmgr.plugins.module_utils import node_check

cluster = cluster_fixture("node-check", 3, build="repmgr", port=55508, first_octet=24)

# the option of `repmgr node check` that runs one check
CLI_OPTION = {
    "role": "--role",
    "replication_lag": "--replication-lag",
    "archive_ready": "--archive-ready",
    "upstream": "--upstream",
    "downstream": "--downstream",
    "slots": "--slots",
    "missing_slots": "--missing-slots",
    "data_directory_config": "--data-directory-config",
}
NAGIOS_CODE = {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}
ITEMS = {label: name for name, (label, _service) in node_check.LABELS.items()}


@pytest.fixture(scope="module")
def inventory(cluster, tmp_path_factory):
    return cluster.write_inventory(tmp_path_factory.mktemp("node-check") / "inventory.yml")


def module_check(cluster, inventory, node, check=False, **args):
    """ansible <node> -m pgha.repmgr.repmgr_node_check, with what the node's repmgr.conf says; the run."""
    params = dict(login_host=node.address, login_port=node.port, login_password=cluster.password, connect_timeout=2,
                  data_directory=str(node.datadir))
    params.update(args)
    run = run_module(inventory, node.name, "pgha.repmgr.repmgr_node_check", params, check=check)
    assert cluster.password not in run.output
    assert run.rc == 0 and not run.failed and run.changed is False, run.output
    assert "Traceback" not in run.output
    return run.result


def repmgr_node_check(cluster, node):
    """The real CLI on `node`: ({check: (rc, --nagios line)}, (full check's rc, {check: (status, detail)}))."""
    nagios = {}
    for name, option in CLI_OPTION.items():
        rc, stdout, stderr = cluster.repmgr(node, "node", "check", option, "--nagios")
        nagios[name] = (rc, stdout.rstrip("\n") or stderr.strip())
    rc, stdout, stderr = cluster.repmgr(node, "node", "check")
    assert stdout.startswith('Node "%s":\n' % node.name), stdout + stderr
    full = {}
    for line in stdout.splitlines()[1:]:
        label, _sep, rest = line.strip().partition(": ")
        status, _sep, detail = rest.partition(" ")
        full[ITEMS[label]] = (status, detail[1:-1] if detail.startswith("(") else detail)
    return nagios, (rc, full)


def differences(cli, ours):
    """Where the CLI and the module disagree (empty when they agree on every check)."""
    (nagios, (full_rc, full)), found = cli, []
    for name in node_check.CHECKS:
        check = ours["checks"][name]
        rc, line = nagios[name]
        if (rc, line) != (NAGIOS_CODE[check["status"]], check["nagios"]):
            found.append("%s --nagios: repmgr %r (rc %s), module %r" % (name, line, rc, check["nagios"]))
        if full[name] != (check["status"], check["details"]):
            found.append("%s: repmgr %r, module %r" % (name, full[name], (check["status"], check["details"])))
    if full_rc != ours["exit_code"]:
        found.append("exit code: repmgr %s, module %s" % (full_rc, ours["exit_code"]))
    return found


def assert_agree(cluster, inventory, node):
    """Module and CLI agree on every check of `node`; returns the module's result.

    Retried for a few seconds: a walsender starting or a WAL record between the two runs changes
    what either sees; a real difference stays.
    """
    seen = {}

    def agree():
        seen["ours"] = module_check(cluster, inventory, node)
        seen["cli"] = repmgr_node_check(cluster, node)
        seen["diff"] = differences(seen["cli"], seen["ours"])
        return not seen["diff"]

    try:
        cluster.wait_until(agree, timeout=20, what="repmgr_node_check agrees with repmgr node check on " + node.name)
    except WaitTimeout:
        pass  # the assertion shows what differs
    assert not seen["diff"], "\n".join(seen["diff"])
    printed = ['Node "%s":' % node.name]
    for name, (status, detail) in seen["cli"][1][1].items():
        printed.append("\t%s: %s" % (node_check.LABELS[name][0], status) + (" (%s)" % detail if detail else ""))
    assert seen["ours"]["node_check"] == "\n".join(printed)
    return seen["ours"]


def statuses(result):
    return {name: check["status"] for name, check in result["checks"].items()}


ALL_OK = {name: "OK" for name in node_check.CHECKS}


# -- (a) healthy ------------------------------------------------------------------------------------

def test_healthy_primary_and_standby_agree_with_repmgr(cluster, inventory):
    node1, node2, _node3 = cluster.nodes

    primary = assert_agree(cluster, inventory, node1)
    assert statuses(primary) == ALL_OK and primary["exit_code"] == 0
    assert primary["checks"]["downstream"]["details"] == "2 of 2 downstream nodes attached"
    assert (primary["node_id"], primary["node_name"], primary["skipped_checks"]) == (1, "node1", [])

    standby = assert_agree(cluster, inventory, node2)
    assert statuses(standby) == ALL_OK and standby["exit_code"] == 0
    assert standby["checks"]["upstream"]["details"] == \
        'node "node2" (ID: 2) is attached to expected upstream node "node1" (ID: 1)'

    # check mode reads the same, and without data_directory the full check leaves that check out
    again = module_check(cluster, inventory, node2, check=True, data_directory=None)
    assert again["skipped_checks"] == ["data_directory_config"] and "data_directory_config" not in again["checks"]
    assert {name: again["checks"][name] for name in again["checks"]} == \
        {name: standby["checks"][name] for name in again["checks"]}


def test_with_no_arguments_the_inventory_says_which_node_and_how_to_log_in(cluster, inventory):
    """`ansible node2 -m pgha.repmgr.repmgr_node_check`: login, node_id and data_directory from the inventory."""
    node2 = cluster.nodes[1]
    bare = run_module(inventory, node2.name, "pgha.repmgr.repmgr_node_check")
    assert bare.rc == 0 and not bare.failed and cluster.password not in bare.output, bare.output
    assert (bare.result["node_id"], bare.result["skipped_checks"]) == (2, [])
    assert bare.result["checks"] == module_check(cluster, inventory, node2)["checks"]


# -- (b) a standby stopped ---------------------------------------------------------------------------

def test_a_stopped_standby_is_critical_downstream_on_the_primary(cluster, inventory):
    node1, node2, node3 = cluster.nodes
    try:
        node3.stop()
        primary = assert_agree(cluster, inventory, node1)
        assert primary["checks"]["downstream"]["nagios"] == (
            "REPMGR_DOWNSTREAM_SERVERS CRITICAL: 1 of 2 downstream nodes not attached (missing: node3 (ID: 3)) "
            "| attached=1, missing=1")
        assert primary["checks"]["slots"]["status"] == "CRITICAL" and primary["exit_code"] == 25

        # one check: repmgr's --downstream, Nagios exit code 2
        single = module_check(cluster, inventory, node1, checks=["downstream"])
        assert list(single["checks"]) == ["downstream"] and single["exit_code"] == 2
        assert single["nagios"] == [primary["checks"]["downstream"]["nagios"]]

        # the other standby is as healthy as before
        assert statuses(assert_agree(cluster, inventory, node2)) == ALL_OK

        # the Nagios plugin the docs show prints what the docs say, with the Nagios exit code
        for command, expected in nagios_plugin_examples():
            assert run_nagios_plugin(inventory, *command) == expected, command
        assert run_nagios_plugin(inventory, "node2", "replication_lag")[1] == 0
    finally:
        node3.start()
        cluster.wait_streaming(node3, node1)


# -- the Nagios plugin of docs/node-check.md ----------------------------------------------------------

NODE_CHECK_DOC = Path(__file__).resolve().parents[2] / "docs" / "node-check.md"
DOC_INVENTORY = "/etc/ansible/pgha-inventory.yml"


def nagios_plugin_script():
    """The shell script docs/node-check.md gives as a Nagios plugin, as the docs print it."""
    blocks = re.findall(r"```sh\n(#!/bin/sh\n.*?)```", NODE_CHECK_DOC.read_text(), re.S)
    assert len(blocks) == 1, "docs/node-check.md should show one Nagios plugin script"
    assert DOC_INVENTORY in blocks[0]
    return blocks[0]


def nagios_plugin_examples():
    """The docs' console examples: [((node, check), (printed line, exit code)), ...]."""
    console = re.findall(r"```console\n(.*?)```", NODE_CHECK_DOC.read_text(), re.S)
    examples = re.findall(r"^\$ check_repmgr (\S+) (\S+); echo \$\?\n(.*)\n(\d+)$", console[0], re.M)
    assert len(examples) == 2, console
    return [((node, check), (line, int(code))) for node, check, line, code in examples]


def run_nagios_plugin(inventory, node, check):
    """The docs' plugin, with the test cluster's inventory: (its one line, its exit code)."""
    script = nagios_plugin_script().replace(DOC_INVENTORY, str(inventory))
    proc = subprocess.run(["sh", "-c", script, "check_repmgr", node, check], capture_output=True, text=True,
                          timeout=60, env=ansible_environment(), check=False)
    assert proc.stderr == "", proc.stderr
    return proc.stdout.rstrip("\n"), proc.returncode


def test_the_docs_nagios_plugin_reports_ok_and_a_missing_host_as_unknown(cluster, inventory):
    line, code = run_nagios_plugin(inventory, "node2", "role")
    assert (line, code) == ("REPMGR_SERVER_ROLE OK: node is standby", 0)
    assert run_nagios_plugin(inventory, "node9", "role") == ("REPMGR UNKNOWN: ansible gave no result", 3)


# -- (c) a slot missing ------------------------------------------------------------------------------

def test_a_dropped_slot_is_a_missing_slot_on_the_primary(cluster, inventory):
    node1, _node2, node3 = cluster.nodes
    try:
        node3.stop()
        cluster.wait_until(lambda: node1.sql("SELECT NOT active FROM pg_replication_slots "
                                             "WHERE slot_name = 'repmgr_slot_3'") == [(True,)],
                           what="node3's slot is inactive on node1")
        node1.sql("SELECT pg_catalog.pg_drop_replication_slot('repmgr_slot_3')")

        primary = assert_agree(cluster, inventory, node1)
        assert primary["checks"]["missing_slots"]["nagios"] == (
            "REPMGR_MISSING_SLOTS CRITICAL: 1 physical replication slots are missing: repmgr_slot_3 "
            "| missing_slots=1;repmgr_slot_3")
        assert primary["checks"]["slots"]["details"] == "1 of 1 physical replication slots are active"

        single = module_check(cluster, inventory, node1, checks=["missing_slots"])
        assert single["exit_code"] == 2 == cluster.repmgr(node1, "node", "check", "--missing-slots", "--nagios")[0]
    finally:
        if not node1.sql("SELECT 1 FROM pg_replication_slots WHERE slot_name = 'repmgr_slot_3'"):
            node1.sql("SELECT pg_catalog.pg_create_physical_replication_slot('repmgr_slot_3', true)")
        node3.start()
        cluster.wait_streaming(node3, node1)


# -- a node that is down, hung or not registered -----------------------------------------------------

def test_a_down_node_is_critical_on_every_check(cluster, inventory):
    node1, _node2, node3 = cluster.nodes
    try:
        node3.stop()
        result = module_check(cluster, inventory, node3)
        assert statuses(result) == {name: "CRITICAL" for name in node_check.CHECKS}
        assert result["reachable"] is False and result["node_id"] is None and result["exit_code"] == 25
        libpq = 'connection to server at "%s", port %s failed: Connection refused' % (node3.address, node3.port)
        assert result["checks"]["role"]["nagios"] == \
            "REPMGR_SERVER_ROLE CRITICAL: connection to database failed: " + libpq

        # repmgr gives up before any check, with the same reason
        rc, stdout, stderr = cluster.repmgr(node3, "node", "check", "--role", "--nagios")
        assert rc == 6 and stdout == "" and "connection to database failed" in stderr and libpq in stderr

        assert module_check(cluster, inventory, node3, checks=["role"])["exit_code"] == 2
    finally:
        node3.start()
        cluster.wait_streaming(node3, node1)


def test_a_hung_node_is_critical_within_the_connect_timeout(cluster, inventory):
    node2 = cluster.nodes[1]
    try:
        node2.hang()
        started = time.monotonic()
        result = module_check(cluster, inventory, node2, checks=["role", "replication_lag"])
        assert time.monotonic() - started < 15
        assert statuses(result) == {"role": "CRITICAL", "replication_lag": "CRITICAL"}
        assert result["checks"]["role"]["details"] == "connection to database failed: connection timeout expired"
    finally:
        node2.resume()


def test_a_node_without_a_record_is_unknown(cluster, inventory):
    node2 = cluster.nodes[1]
    result = module_check(cluster, inventory, node2, node_id=9, checks=["role", "upstream"])
    assert result["checks"]["role"] == dict(status="UNKNOWN", details="no record found for node 9",
                                            nagios="REPMGR_SERVER_ROLE UNKNOWN: no record found for node 9")
    assert result["exit_code"] == 25 and result["reachable"] is True


def test_bad_input_fails_before_anything_is_read(cluster, inventory):
    node1 = cluster.nodes[0]
    run = run_module(inventory, node1.name, "pgha.repmgr.repmgr_node_check",
                     dict(login_host=node1.address, login_port=node1.port, login_password=cluster.password,
                          replication_lag_warning=600, replication_lag_critical=300))
    assert run.failed and "Traceback" not in run.output
    assert run.msg == "replication_lag_critical must be greater than replication_lag_warning (got 300 and 600)"
