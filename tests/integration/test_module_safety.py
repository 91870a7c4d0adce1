"""What every module owes a DBA: no secret in any output, even at -vvv; check mode that changes nothing.

One cluster the real repmgr built (node1 primary, node2 and node3 standbys, slots), driven through
the real `ansible` CLI. Each module runs with the repmgr password in every place a user may put it:
login_password, a conninfo (primary_conninfo, upstream_conninfo) and connect_params. Runs that
fail (a refused promotion, a rejected conninfo) are outputs too and are checked the same way.

Cluster: 127.0.0.21-23, port 55507.
"""

from __future__ import annotations

import pytest

from ansible_cli import run_module
from harness import cluster_fixture

cluster = cluster_fixture("mod-safety", 3, build="repmgr", port=55507, first_octet=21)

VERBOSE = {"ANSIBLE_VERBOSITY": "3"}


@pytest.fixture(scope="module")
def inventory(cluster, tmp_path_factory):
    return cluster.write_inventory(tmp_path_factory.mktemp("inv") / "safety.yml")


def login(node, password):
    return dict(login_host=node.address, login_port=node.port, login_password=password, connect_timeout=3)


def conninfo_with_password(node, password):
    return f"host={node.address} port={node.port} user=repmgr dbname=repmgr password={password}"


def state_of(cluster):
    """What a module run could change: metadata, events, slots, each server's postmaster and settings."""
    node1 = cluster.nodes[0]
    return dict(
        nodes=node1.sql("SELECT * FROM repmgr.nodes ORDER BY node_id"),
        events=node1.sql("SELECT node_id, event, successful, details, event_timestamp FROM repmgr.events "
                         "ORDER BY event_timestamp"),
        slots=node1.sql("SELECT slot_name, active FROM pg_replication_slots ORDER BY 1"),
        postmasters=[(node.name, (node.datadir / "postmaster.pid").read_text().split("\n")[0]) for node in cluster.nodes],
        roles=[node.in_recovery() for node in cluster.nodes],
        auto_conf=[(node.datadir / "postgresql.auto.conf").read_text() for node in cluster.nodes],
        signals=[(node.datadir / "standby.signal").exists() for node in cluster.nodes],
    )


def every_module_with_the_password(cluster):
    """(host, module, args, become) for every module, the password in each place it may go."""
    node1, node2, node3 = cluster.nodes
    password = cluster.password
    return [
        ("node1", "repmgr_cluster_info", dict(login(node1, password), events=True), False),
        ("node1", "repmgr_cluster_info", dict(login(node1, ""), connect_params={"password": password}), False),
        ("node2", "repmgr_node", dict(login(node2, password), role="standby", node_id=2, node_name="node2",
                                      conninfo=node2.conninfo, priority=50,
                                      primary_conninfo=conninfo_with_password(node1, password)), False),
        ("node1", "repmgr_event", dict(login(node1, password), node_id=1, event="pgha_safety_check",
                                       details="checked"), False),
        ("node1", "repmgr_switchover_plan", dict(login(node1, password), new_primary="node2"), False),
        ("node3", "repmgr_follow", dict(login(node3, password), node_id=3, upstream_node_id=2), False),
        ("node2", "repmgr_promote", dict(login(node2, password), node_id=2), False),
        ("node2", "repmgr_failover_promote", dict(login(node2, password), node_id=2, failed_node_id=1,
                                                  decide_only=True), False),
        ("node3", "repmgr_rejoin", dict(login(node3, password), node_id=3, data_directory=str(node3.datadir),
                                        primary_conninfo=conninfo_with_password(node1, password)), True),
        ("node3", "repmgr_standby_clone", dict(login(node1, password), node_id=3, node_name="node3",
                                               data_directory=str(node3.datadir),
                                               upstream_conninfo=conninfo_with_password(node1, password)), True),
        ("node3", "repmgr_node_service", dict(login(node3, password), data_directory=str(node3.datadir),
                                              state="stopped"), True),
        ("node3", "repmgr_pause", dict(login(node3, password), state="paused", reason="safety check"), False),
        ("node1", "repmgr_database", dict(login_unix_socket=str(node1.socket_dir), login_port=node1.port,
                                          user="repmgr", password=password), True),
    ]


@pytest.mark.parametrize("check", [True, False], ids=["check-mode", "applied"])
def test_no_module_shows_the_password_at_vvv(cluster, inventory, check):
    """-vvv prints every module's arguments and result: the password must be in none of them, applied or not.

    Applied runs that would change the cluster are only those that change nothing harmful here
    (cluster_info, event, switchover plan, database, the idempotent follow); the rest fail or are
    refused, and a refusal is an output too.
    """
    harmless = {"repmgr_cluster_info", "repmgr_event", "repmgr_switchover_plan", "repmgr_database", "repmgr_follow",
                "repmgr_promote", "repmgr_rejoin", "repmgr_standby_clone"}
    for host, module, args, become in every_module_with_the_password(cluster):
        if not check and module not in harmless:
            continue
        run = run_module(inventory, host, f"pgha.repmgr.{module}", args, check=check, become=become, env=VERBOSE)
        assert "Traceback" not in run.output, (module, run.output)
        assert cluster.password not in run.output, f"{module} shows the password at -vvv (check={check})"
        if module == "repmgr_cluster_info":
            assert not run.failed, (module, args.keys(), run.msg)  # connect_params' password logs in too
    # the applied, refused runs changed nothing that matters: node2 is still a standby, node3 still runs
    node1, node2, node3 = cluster.nodes
    assert [node.in_recovery() for node in cluster.nodes] == [False, True, True]
    cluster.wait_streaming(node3, node1 if check else node2)
    if not check:  # the applied follow moved node3 to node2: back to node1 for the other runs
        run = run_module(inventory, "node3", "pgha.repmgr.repmgr_follow",
                         dict(login(node3, cluster.password), node_id=3, upstream_node_id=1))
        assert not run.failed, run.output
        cluster.wait_streaming(node3, node1)


def test_check_mode_changes_nothing_in_any_module(cluster, inventory):
    """Every module in check mode, each with arguments that would change something: it reports the change and
    the cluster is as before (metadata, events, slots, servers, configuration files)."""
    node1, node2, node3 = cluster.nodes
    password = cluster.password
    before = state_of(cluster)
    for host, module, args, become in every_module_with_the_password(cluster):
        run = run_module(inventory, host, f"pgha.repmgr.{module}", args, check=True, become=become)
        assert "Traceback" not in run.output, (module, run.output)
        if module in ("repmgr_event", "repmgr_node_service", "repmgr_node", "repmgr_pause"):
            assert run.changed and not run.failed, (module, run.output)  # would write, stop, or set priority
    # the service module's other states, and a switchover plan in check mode
    for state in ("restarted", "started"):
        run = run_module(inventory, "node2", "pgha.repmgr.repmgr_node_service",
                         dict(data_directory=str(node2.datadir), state=state), check=True, become=True)
        assert not run.failed and run.changed == (state == "restarted"), run.output
    plan = run_module(inventory, "node1", "pgha.repmgr.repmgr_switchover_plan",
                      dict(login(node1, password), new_primary="node2"), check=True)
    assert not plan.failed and not plan.changed, plan.output
    assert state_of(cluster) == before

    # unregister in check mode: the record and the slot stay
    node3.stop()
    try:
        cluster.wait_until(lambda: node1.sql("SELECT active FROM pg_replication_slots WHERE slot_name = "
                                             "'repmgr_slot_3'") == [(False,)], what="node3's slot is inactive")
        before_unregister = state_of_primary(node1)
        run = run_module(inventory, "node1", "pgha.repmgr.repmgr_node",
                         dict(login(node1, password), state="absent", node_id=3), check=True)
        assert run.changed and not run.failed and run.result["slot_dropped"] == "repmgr_slot_3", run.output
        assert state_of_primary(node1) == before_unregister
    finally:
        node3.start()
    cluster.wait_streaming(node3, node1)


def state_of_primary(node):
    return (node.sql("SELECT * FROM repmgr.nodes ORDER BY node_id"),
            node.sql("SELECT slot_name FROM pg_replication_slots ORDER BY 1"),
            node.sql("SELECT count(*) FROM repmgr.events"))


def test_pause_writes_the_switch_on_the_primary_once_and_needs_a_primary(cluster, inventory):
    """Through a standby, the switch is written on the primary (the event) and read back on every node; a
    second run changes nothing; with the primary down it fails, says why, and nothing is written."""
    node1, node2, node3 = cluster.nodes
    password = cluster.password

    def pause(node, state):
        return run_module(inventory, node.name, "pgha.repmgr.repmgr_pause",
                          dict(login(node, password), state=state), diff=True)

    def switch_events():
        return node1.sql("SELECT node_id, event, details FROM repmgr.events WHERE event IN "
                         "('pgha_failover_paused', 'pgha_failover_unpaused') ORDER BY event_timestamp")

    before = switch_events()
    run = pause(node3, "paused")
    assert run.changed and not run.failed and run.result["paused"] is True, run.output
    shown = {line[0] + line[1:].strip().rstrip(",") for line in run.stdout.splitlines()
             if line[:1] in ("+", "-") and not line.startswith(("+++", "---"))}
    assert shown == {'-"paused": false', '+"paused": true'}, run.stdout  # --diff shows the switch flipping
    assert switch_events() == before + [(1, "pgha_failover_paused", "automatic failover paused")]
    for node in cluster.nodes:
        cluster.wait_until(lambda node=node: run_module(inventory, node.name, "pgha.repmgr.repmgr_cluster_info",
                                                        login(node, password)).result["failover_paused"] is True,
                           what=f"{node.name}'s copy says paused")
    assert not pause(node2, "paused").changed
    assert pause(node2, "unpaused").changed
    assert switch_events()[-1] == (1, "pgha_failover_unpaused", "automatic failover unpaused")

    node1.stop()
    try:
        refused = pause(node2, "paused")
        assert refused.failed and "none answers" in refused.msg and "nothing was changed" in refused.msg, refused.output
        assert cluster.password not in refused.output
    finally:
        node1.start()
    cluster.wait_streaming(node2, node1)
    assert switch_events()[-1] == (1, "pgha_failover_unpaused", "automatic failover unpaused")
