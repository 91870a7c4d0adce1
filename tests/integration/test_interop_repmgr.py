"""Debian's real repmgr 5.3 against this collection, and this collection against repmgr.

(a) A cluster built by `ansible-playbook pgha.repmgr.provision`: `repmgr cluster show` and
    `repmgr_cluster_info` print the same table, statuses, upstreams, warnings and exit code, healthy
    and while nodes are down; `repmgr cluster event` lists the events our modules wrote.
(b) A cluster built by the repmgr CLI (primary register, standby clone, standby register):
    `repmgr_cluster_info` sees what `repmgr cluster show` sees, and `repmgr_node` manages it
    (re-register, change a priority, unregister) so that repmgr shows the change.

Clusters: 127.0.0.67-69 (port 55603) and 127.0.0.70-72 (port 55604), of their own.
"""

from __future__ import annotations

import pytest

from harness import cluster_fixture

provisioned_cluster = cluster_fixture("interop-provisioned", 3, build=None, port=55603, first_octet=67)
# Built fresh for each test (about 2 s): each test stops nodes or unregisters one.
repmgr_cluster = cluster_fixture("interop-repmgr", 3, build="repmgr", scope="function", port=55604, first_octet=70)

STANDBY_REGISTERED = "standby registration succeeded; upstream node ID is 1"


@pytest.fixture(scope="module")
def provisioned(provisioned_cluster, console_for, tmp_path_factory):
    """The cluster as `ansible-playbook pgha.repmgr.provision` builds it; a Console for it."""
    inventory = provisioned_cluster.write_inventory(tmp_path_factory.mktemp("interop") / "inventory.yml")
    console = console_for(provisioned_cluster, inventory)
    run = console.provision()
    assert run.rc == 0 and run.failed() == 0, run.output
    return console


@pytest.fixture
def repmgr_built(repmgr_cluster, console_for, tmp_path):
    """A Console for the cluster the real repmgr CLI built."""
    return console_for(repmgr_cluster, repmgr_cluster.write_inventory(tmp_path / "inventory.yml"))


def statuses(show):
    return {row["Name"]: row["Status"] for row in show.rows}


def assert_same_view(show, info):
    """`repmgr cluster show` and repmgr_cluster_info agree: cell by cell, line by line, warnings, exit code.

    Cells are compared after rstrip only (a printed cell's trailing spaces are padding): the Status
    "  running" keeps its two leading spaces.
    """
    assert statuses(show) == {n["node_name"]: n["status"].rstrip() for n in info["nodes"]}
    upstreams = {n["node_name"]: n["upstream"].rstrip() for n in info["nodes"]}
    assert {row["Name"]: row["Upstream"] for row in show.rows} == upstreams
    assert show.table == info["table"]
    assert show.warnings == info["warnings_detected"]
    assert show.rc == info["exit_code"]


def event_texts(rows):
    """(node id, event, details) of printed event rows."""
    return sorted((row[0], row[2], row[5]) for row in rows)


def repmgr_register_events(cluster):
    """What primary register, standby clone and standby register write, as printed by cluster event."""
    node1 = cluster.nodes[0]
    cloned = f'cloned from host "{node1.address}", port {cluster.port}; backup method: pg_basebackup; --force: N'
    return sorted([
        ("1", "cluster_created", ""), ("1", "primary_register", ""),
        ("2", "standby_clone", cloned), ("3", "standby_clone", cloned),
        ("2", "standby_register", STANDBY_REGISTERED), ("3", "standby_register", STANDBY_REGISTERED),
    ])


# -- (a) repmgr reads a cluster this collection built ----------------------------------------

def test_repmgr_cluster_show_and_event_read_a_provisioned_cluster(provisioned):
    cluster = provisioned.cluster
    node2 = cluster.node("node2")

    info = provisioned.cluster_info(node2, events=True, all=True)
    show = provisioned.repmgr_cluster_show(node2)

    assert statuses(show) == {"node1": "* running", "node2": "  running", "node3": "  running"}
    assert show.rc == 0
    assert_same_view(show, info)

    cli_events = provisioned.repmgr_cluster_event(node2)
    assert cli_events.event_rows() == provisioned.printed_events(info["events"])
    assert event_texts(cli_events.event_rows()) == repmgr_register_events(cluster)


def test_repmgr_and_we_agree_while_a_standby_then_the_primary_is_down(provisioned):
    cluster = provisioned.cluster
    node1, node2, node3 = cluster.nodes
    try:
        node3.stop()
        show = provisioned.repmgr_cluster_show(node2)
        assert statuses(show) == {"node1": "* running", "node2": "  running", "node3": "? unreachable"}
        assert show.rc == 25 and show.warnings
        assert_same_view(show, provisioned.cluster_info(node2))

        node1.stop()
        show = provisioned.repmgr_cluster_show(node2)
        assert statuses(show) == {"node1": "? unreachable", "node2": "  running", "node3": "? unreachable"}
        assert show.row("node1")["Upstream"] == "?" and show.row("node2")["Upstream"] == "? node1"
        assert show.rc == 25
        assert_same_view(show, provisioned.cluster_info(node2))
    finally:
        node1.start()
        node3.start()
        cluster.wait_streaming(node2, node1)
        cluster.wait_streaming(node3, node1)


# -- (b) this collection reads and manages a cluster repmgr built ----------------------------

def test_cluster_info_reads_a_repmgr_built_cluster_as_repmgr_does(repmgr_built):
    cluster = repmgr_built.cluster
    node1, node2, node3 = cluster.nodes

    info = repmgr_built.cluster_info(node2, events=True, all=True)
    show = repmgr_built.repmgr_cluster_show(node2)
    assert statuses(show) == {"node1": "* running", "node2": "  running", "node3": "  running"}
    assert_same_view(show, info)
    # repmgr's own history, read by our module exactly as `repmgr cluster event` prints it.
    assert event_texts(repmgr_built.printed_events(info["events"])) == repmgr_register_events(cluster)
    assert repmgr_built.printed_events(info["events"]) == repmgr_built.repmgr_cluster_event(node2).event_rows()

    node3.stop()
    show = repmgr_built.repmgr_cluster_show(node2)
    assert statuses(show) == {"node1": "* running", "node2": "  running", "node3": "? unreachable"}
    assert_same_view(show, repmgr_built.cluster_info(node2))

    node1.stop()
    show = repmgr_built.repmgr_cluster_show(node2)
    assert statuses(show) == {"node1": "? unreachable", "node2": "  running", "node3": "? unreachable"}
    assert show.rc == 25
    assert_same_view(show, repmgr_built.cluster_info(node2))


def nodes_table(node):
    return node.sql("SELECT node_id, type, upstream_node_id, active, node_name, location, priority, conninfo, "
                    "repluser, slot_name, config_file FROM repmgr.nodes ORDER BY node_id")


def events(node):
    return node.sql("SELECT node_id, event, details, event_timestamp FROM repmgr.events "
                    "ORDER BY event_timestamp, event")


def test_repmgr_node_manages_a_repmgr_built_cluster(repmgr_built):
    cluster = repmgr_built.cluster
    node1, node2, node3 = cluster.nodes
    register_node3 = dict(role="standby", node_id=3, node_name="node3", conninfo=node3.conninfo,
                          config_file=str(node3.repmgr_conf), login_password=cluster.password)
    metadata_before, events_before = nodes_table(node1), events(node1)

    # Registering node3 again with what repmgr registered: nothing to do.
    run = repmgr_built.module(node3, "repmgr_node", register_node3)
    assert run.rc == 0 and run.changed is False, run.output
    assert nodes_table(node1) == metadata_before and events(node1) == events_before

    # Priority 50: check mode shows the change and writes nothing; then the real run writes it.
    lower = dict(register_node3, priority=50)
    check = repmgr_built.module(node3, "repmgr_node", lower, check=True, diff=True)
    assert check.rc == 0 and check.changed is True, check.output
    assert (check.result["before"]["priority"], check.result["record"]["priority"]) == (100, 50)
    assert nodes_table(node1) == metadata_before

    run = repmgr_built.module(node3, "repmgr_node", lower)
    assert run.rc == 0 and run.changed is True, run.output
    assert [row[6] for row in nodes_table(node1)] == [100, 100, 50]
    # repmgr can only update a record with -F, and its event says so; ours says the same
    assert [(e["event"], e["details"]) for e in run.result["events"]] == [
        ("standby_register", STANDBY_REGISTERED + " (-F/--force option was used)")]
    cluster.wait_until(lambda: repmgr_built.repmgr_cluster_show(node2).row("node3")["Priority"] == "50",
                       what="repmgr cluster show on node2 shows node3 with priority 50")
    show = repmgr_built.repmgr_cluster_show(node2)
    assert show.rc == 0 and statuses(show)["node3"] == "  running"

    # Unregister the stopped node3 through the primary, as `repmgr standby unregister --node-id=3` does.
    node3.stop()
    unregister_node3 = dict(state="absent", node_id=3, primary_conninfo=node1.conninfo,
                            login_password=cluster.password)
    check = repmgr_built.module(node3, "repmgr_node", unregister_node3, check=True)
    assert check.rc == 0 and check.changed is True, check.output
    assert [row[0] for row in nodes_table(node1)] == [1, 2, 3]

    run = repmgr_built.module(node3, "repmgr_node", unregister_node3)
    assert run.rc == 0 and run.changed is True, run.output
    assert [(e["node_id"], e["event"]) for e in run.result["events"]] == [(3, "standby_unregister")]
    assert [row[0] for row in nodes_table(node1)] == [1, 2]
    # (Unlike repmgr, the module also drops the unregistered standby's slot, so it pins no WAL.)
    assert run.result["slot_dropped"] == "repmgr_slot_3"
    assert node1.sql("SELECT slot_name FROM pg_replication_slots ORDER BY 1") == [("repmgr_slot_2",)]

    def cli_lists_node1_and_node2_only():
        show = repmgr_built.repmgr_cluster_show(node2)
        return show if [row["Name"] for row in show.rows] == ["node1", "node2"] else None

    show = cluster.wait_until(cli_lists_node1_and_node2_only, what="repmgr cluster show on node2 lists no node3")
    assert show.rc == 0 and statuses(show) == {"node1": "* running", "node2": "  running"}
    unregistered = [row for row in repmgr_built.repmgr_cluster_event(node2).event_rows()
                    if row[2] == "standby_unregister"]
    assert [(row[0], row[1], row[5]) for row in unregistered] == [("3", "", "")]  # the node's name is gone with it

    again = repmgr_built.module(node3, "repmgr_node", unregister_node3)
    assert again.rc == 0 and again.changed is False, again.output
