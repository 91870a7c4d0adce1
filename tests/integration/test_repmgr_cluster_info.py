"""repmgr_cluster_info through `ansible NODE -m pgha.repmgr.repmgr_cluster_info`, on a real cluster.

What a DBA checks: the Status of every node (as repmgr prints it), the table, the warnings and
exit code, and that a node being down, refusing us or hung is reported — never a module failure.
"""

from __future__ import annotations

import time

import pytest

from ansible_cli import run_module
from harness import cluster_fixture

cluster = cluster_fixture("mod-info", 3, port=55504)
bare_server = cluster_fixture("mod-info-bare", 1, port=55505, first_octet=18)


@pytest.fixture(scope="module")
def inventory(cluster, tmp_path_factory):
    return cluster.write_inventory(tmp_path_factory.mktemp("inv") / "info.yml")


@pytest.fixture(scope="module")
def registered(cluster, inventory):
    """The cluster registered through repmgr_node (as provisioning does)."""
    for node in cluster.nodes:
        role = "primary" if node.node_id == 1 else "standby"
        run = run_module(inventory, node.name, "pgha.repmgr.repmgr_node",
                         dict(role=role, node_id=node.node_id, node_name=node.name, conninfo=node.conninfo,
                              login_password=cluster.password))
        assert not run.failed, run.output
    return cluster


def cluster_info(cluster, inventory, node="node2", **args):
    target = cluster.node(node)
    params = dict(login_host=target.address, login_port=target.port, login_password=cluster.password,
                  connect_timeout=2)
    params.update(args)
    run = run_module(inventory, node, "pgha.repmgr.repmgr_cluster_info", params)
    assert cluster.password not in run.output
    return run


def statuses(run):
    return {n["node_name"]: n["status"] for n in run.result["nodes"]}


def test_healthy_cluster(registered, inventory):
    run = cluster_info(registered, inventory)
    assert not run.failed and not run.changed, run.output
    assert statuses(run) == {"node1": "* running", "node2": "  running", "node3": "  running"}
    assert [n["upstream"] for n in run.result["nodes"]] == ["", "node1", "node1"]
    assert [n["attached"] for n in run.result["nodes"]] == [None, "attached", "attached"]
    assert [n["in_recovery"] for n in run.result["nodes"]] == [False, True, True]
    assert run.result["exit_code"] == 0 and run.result["warnings_detected"] == []
    table = run.result["table"]
    assert table[0].split("|")[0:4] == [" ID ", " Name  ", " Role    ", " Status    "]
    assert table[2].startswith(" 1  | node1 | primary | * running |          | default  | 100      | 1        | host=")
    assert len(table) == 5


def test_check_mode_and_the_short_module_name(registered, inventory):
    node2 = registered.nodes[1]
    run = run_module(inventory, "node2", "repmgr_cluster_info",
                     dict(login_host=node2.address, login_port=node2.port, login_password=registered.password),
                     check=True)
    assert not run.failed and not run.changed, run.output
    assert statuses(run)["node1"] == "* running"


def test_events_with_repmgr_filters(registered, inventory):
    run = cluster_info(registered, inventory, events=True)
    names = [e["event"] for e in run.result["events"]]
    assert names[:2] == ["standby_register", "standby_register"], "newest first"
    assert "primary_register" in names
    assert run.result["event_table"][0].startswith(" Node ID | Name  | Event ")

    only = cluster_info(registered, inventory, event="standby_register", node_name="node3")
    assert [(e["node_id"], e["details"]) for e in only.result["events"]] == [
        (3, "standby registration succeeded; upstream node ID is 1")]
    assert len(cluster_info(registered, inventory, events=True, limit=1).result["events"]) == 1
    assert len(cluster_info(registered, inventory, events=True, all=True).result["events"]) == len(names)
    none = cluster_info(registered, inventory, event="no_such_event")
    assert none.result["events"] == [] and none.result["event_table"] == ["no matching events found"]


def test_jmespath_query(registered, inventory):
    run = cluster_info(registered, inventory, query="nodes[?status=='* running'].node_name | [0]")
    assert run.result["query_result"] == "node1"
    bad = cluster_info(registered, inventory, query="nodes[?")
    assert bad.failed and "query is not a valid JMESPath expression" in bad.msg


def test_stopped_standby_is_reported_not_a_failure(registered, inventory):
    node3 = registered.nodes[2]
    node3.stop()
    try:
        run = cluster_info(registered, inventory)
        assert not run.failed, run.output
        assert statuses(run)["node3"] == "? unreachable"
        assert run.result["exit_code"] == 25
        assert 'unable to connect to node "node3" (ID: 3)' in run.result["warnings_detected"]
        node = [n for n in run.result["nodes"] if n["node_name"] == "node3"][0]
        assert node["reachable"] is False and node["reachability"] == "down" and "Connection refused" in node["error"]
    finally:
        node3.start()
        registered.wait_streaming(node3, registered.nodes[0])


def test_stopped_primary_read_from_a_standby(registered, inventory):
    node1 = registered.nodes[0]
    node1.stop()
    try:
        run = cluster_info(registered, inventory, node="node3")
        assert not run.failed, run.output
        assert statuses(run)["node1"] == "? unreachable"
        assert run.result["exit_code"] == 25
        assert any("registered as an active primary but is unreachable" in w for w in run.result["warnings_detected"])
    finally:
        node1.start()
        for standby in registered.nodes[1:]:
            registered.wait_streaming(standby, node1)


def test_hung_nodes_cost_one_timeout_together_and_are_reported(registered, inventory):
    """Every node is probed under one deadline: two hung nodes cost what one costs, not twice as much.

    Measured as a ratio in the same test (what each adds to a healthy run), never as a wall-clock limit.
    """
    node1, _node2, node3 = registered.nodes

    def timed():
        started = time.monotonic()
        run = cluster_info(registered, inventory, connect_timeout=2)
        assert not run.failed, run.output
        return time.monotonic() - started, run

    healthy, _run = timed()
    node3.hang()
    try:
        one_hung, run = timed()
        assert statuses(run)["node3"] == "? unreachable"
        node1.hang()
        try:
            two_hung, run = timed()
            assert statuses(run)["node1"] == "? unreachable" and statuses(run)["node3"] == "? unreachable"
        finally:
            node1.resume()
    finally:
        node3.resume()
    # one hung node adds about one connect_timeout (2 s); one after another, two would add two
    assert one_hung - healthy > 1.0
    assert (two_hung - healthy) / (one_hung - healthy) < 1.5, (healthy, one_hung, two_hung)


def test_wrong_password_to_the_login_node_fails_without_showing_it(registered, inventory):
    run = cluster_info(registered, inventory, login_password="N0t-the-pass")
    assert run.failed and "password authentication failed" in run.msg
    assert "N0t-the-pass" not in run.output


def test_missing_metadata_is_a_clear_failure(bare_server, tmp_path):
    inventory = bare_server.write_inventory(tmp_path / "bare.yml")
    node = bare_server.nodes[0]
    run = run_module(inventory, node.name, "pgha.repmgr.repmgr_cluster_info",
                     dict(login_host=node.address, login_port=node.port, login_password=bare_server.password))
    assert run.failed
    assert "no repmgr metadata" in run.msg and "register the primary first" in run.msg


def test_unreachable_login_node_fails_clearly(registered, inventory):
    run = cluster_info(registered, inventory, login_host="127.0.0.99")
    assert run.failed and "unable to connect to 127.0.0.99" in run.msg
