"""Manual operations as a DBA runs them: standby promote, standby follow, node rejoin, switchover.

Each test is a runbook on a fresh 3-node cluster in the state provisioning leaves it (node1
primary, node2 and node3 streaming from it, all registered with repmgr_node): break or change
something, run the operation through the real `ansible` / `ansible-playbook`, then check what a
DBA checks: who is in recovery, who streams from whom (pg_stat_replication, slots), the
repmgr.nodes records, the repmgr.events rows and their texts, the data. Every operation is run
again (nothing changes the second time) and in check mode first (nothing changes at all); every
refusal must change nothing. After each operation the real repmgr 5.3 `repmgr cluster show`
must print the same statuses as repmgr_cluster_info. The cluster's password appears in no output.

Cluster: 127.0.0.81-83, port 55621, rebuilt for each test (about 6 s).
"""

from __future__ import annotations

import os
import signal

import pytest

from ansible_cli import run_module, run_playbook
from harness import cluster_fixture, pgconf

ops_cluster = cluster_fixture("ops", 3, port=55621, first_octet=81, scope="function")

STANDBY_PROMOTE = 'server "{name}" (ID: {id}) was successfully promoted to primary'
STANDBY_FOLLOW = 'standby attached to upstream node "{name}" (ID: {id})'
NODE_REJOIN = "node {node} is now attached to node {upstream}"
STANDBY_SWITCHOVER = 'node "{new}" (ID: {new_id}) promoted to primary, node "{old}" (ID: {old_id}) demoted to standby'


# -- the cluster, as provisioning leaves it ---------------------------------------------------

@pytest.fixture
def ops(ops_cluster, console_for, tmp_path):
    """A Console for a fresh registered cluster; node1 primary, node2 and node3 stream from it.

    Two things make the harness-built servers look like provisioned ones: each node's own
    settings (listen address, ...) also live in pgha.conf, the file the postgresql_server role
    writes and pg_rewind must leave alone (repmgr_rejoin's preserve_files default); and each
    node has a repmgr.conf, so that the real `repmgr cluster show` can be run against it.
    """
    cluster = ops_cluster
    for node in cluster.nodes:
        node_conf = node.datadir / "pgha.conf"
        node_conf.write_text(pgconf.node_settings_text(node.address, node.port, node.socket_dir, node.name))
        with (node.datadir / "postgresql.conf").open("a") as conf:
            conf.write("include_if_exists = 'pgha.conf'\n")
        for path in (node_conf, node.datadir / "postgresql.conf"):
            cluster.os_user.chown(path)
        cluster.write_repmgr_conf(node)
    console = console_for(cluster, cluster.write_inventory(tmp_path / "inventory.yml"))
    for node in cluster.nodes:
        run = console.module(node, "repmgr_node", dict(
            role="primary" if node.node_id == 1 else "standby", node_id=node.node_id, node_name=node.name,
            conninfo=node.conninfo))
        assert run.rc == 0 and run.changed, run.output
    return console


# -- what a DBA looks at ------------------------------------------------------------------------

def module(console, node, name, args=None, *, check=False, diff=False, become=False):
    """ansible <node> -m pgha.repmgr.<name> [-a args] [--check] [--diff] [--become]; never shows the password."""
    run = run_module(console.inventory, node.name, f"pgha.repmgr.{name}", args, check=check, diff=diff,
                     become=become)
    assert console.cluster.password not in run.output, f"the password appears in the output of {name}"
    assert "Traceback" not in run.output, run.output
    return run


def playbook(console, name, extra_vars=None):
    """ansible-playbook pgha.repmgr.<name> -i inventory [-e extra_vars] at -vvv; never shows the password."""
    run = run_playbook(f"pgha.repmgr.{name}", console.inventory, extra_vars, env={"ANSIBLE_VERBOSITY": "3"})
    assert console.cluster.password not in run.output, f"the password appears in the output of playbook {name}"
    return run


def shown_diff(run):
    """The changed lines --diff printed, as {'-"key": old', '+"key": new'} (sign, key and value only)."""
    return {line[0] + line[1:].strip().rstrip(",") for line in run.stdout.splitlines()
            if line[:1] in ("+", "-") and not line.startswith(("+++", "---"))}


def nodes(node):
    """repmgr.nodes as (node_id, type, upstream_node_id, active), read on `node`."""
    return node.sql("SELECT node_id, type, upstream_node_id, active FROM repmgr.nodes ORDER BY node_id")


def events(node):
    """Every repmgr.events row as (node_id, event, successful, details, timestamp), read on `node`."""
    return node.sql("SELECT node_id, event, successful, details, event_timestamp FROM repmgr.events "
                    "ORDER BY event_timestamp, event")


def new_events(node, before):
    """The events written since `before` (an events() list), without their timestamps."""
    return [row[:4] for row in events(node) if row not in before]


def streaming_from(upstream):
    """Names of the standbys streaming from `upstream` (its pg_stat_replication)."""
    return sorted(row[0] for row in upstream.sql(
        "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'"))


def active_slots(node):
    return sorted(row[0] for row in node.sql("SELECT slot_name FROM pg_replication_slots WHERE active"))


def wal_receiver(node):
    """(status, timeline) of `node`'s WAL receiver: ("streaming", 2) streams the primary's timeline 2."""
    return tuple(node.sql("SELECT status, received_tli FROM pg_stat_wal_receiver")[0])


def standby_setting(node, name):
    return node.sql("SELECT current_setting(%s)", (name,))[0][0]


def rows(node):
    """The rows of the test table `ledger` on `node`, counted per note."""
    return dict(node.sql("SELECT note, count(*) FROM ledger GROUP BY note ORDER BY note", dbname="postgres"))


def wait_for_rows(cluster, node, expected):
    cluster.wait_until(lambda: rows(node) == expected, what=f"{node.name} has the rows {expected}")


def assert_cli_agrees(console, node, expected):
    """`repmgr cluster show` (the real repmgr 5.3, on `node`) and repmgr_cluster_info print the same.

    `expected`: the Status of each node, as repmgr prints it.
    """
    show = console.repmgr_cluster_show(node)
    info = console.cluster_info(node)
    cli_statuses = {row["Name"]: row["Status"] for row in show.rows}
    assert cli_statuses == expected, show.stdout + show.stderr
    assert {n["node_name"]: n["status"].rstrip() for n in info["nodes"]} == cli_statuses
    assert {n["node_name"]: n["upstream"].rstrip() for n in info["nodes"]} == {
        row["Name"]: row["Upstream"] for row in show.rows}
    assert info["warnings_detected"] == show.warnings
    assert info["exit_code"] == show.rc


def promote_node2_after_stopping_node1(console):
    """Runbook step shared by several tests: node1 stops cleanly, node2 is promoted."""
    node1, node2, _node3 = console.cluster.nodes
    node1.stop(mode="fast")
    run = module(console, node2, "repmgr_promote")
    assert run.rc == 0 and run.changed, run.output


# -- standby promote ------------------------------------------------------------------------------

def test_promote_a_standby_after_the_primary_stopped(ops):
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    metadata_before, events_before = nodes(node1), events(node1)

    # While node1 runs, promoting node2 would make two primaries: refused, nothing changes.
    refused = module(ops, node2, "repmgr_promote")
    assert refused.failed and "this replication cluster already has an active primary" in refused.msg
    assert '"node1" (ID: 1) is running as a primary' in refused.msg
    zero = module(ops, node2, "repmgr_promote", dict(node_id=0))
    assert zero.failed and "node_id must be a positive integer (got 0)" in zero.msg
    # The registered, running primary is already what a promotion makes it.
    primary = module(ops, node1, "repmgr_promote")
    assert primary.rc == 0 and not primary.changed and "already is the primary" in primary.msg, primary.output
    assert node2.in_recovery() and not node1.in_recovery()
    assert nodes(node1) == metadata_before and events(node1) == events_before

    node1.stop(mode="fast")

    check = module(ops, node2, "repmgr_promote", check=True, diff=True)
    assert check.rc == 0 and check.changed, check.output
    assert check.result["events"] == [dict(node_id=2, event="standby_promote",
                                           details=STANDBY_PROMOTE.format(name="node2", id=2))]
    assert node2.in_recovery(), "check mode must not promote"
    assert nodes(node2) == metadata_before
    # --diff: the record as it is and as it will be
    assert shown_diff(check) == {'-"type": "standby"', '+"type": "primary"',
                                 '-"upstream_node_id": 1', '+"upstream_node_id": null'}, check.stdout

    run = module(ops, node2, "repmgr_promote")
    assert run.rc == 0 and run.changed, run.output
    assert run.result["method"] == "pg_promote"
    assert 0 < run.result["promote_seconds"] < 60
    assert node2.in_recovery() is False
    assert nodes(node2) == [(1, "primary", None, False), (2, "primary", None, True), (3, "standby", 1, True)]
    assert new_events(node2, events_before) == [
        (2, "standby_promote", True, STANDBY_PROMOTE.format(name="node2", id=2))]

    again = module(ops, node2, "repmgr_promote")
    assert again.rc == 0 and not again.changed, again.output
    assert len(events(node2)) == len(events_before) + 1

    # node3 still points at the stopped node1 until it follows node2.
    assert_cli_agrees(ops, node2, {"node1": "- failed", "node2": "* running", "node3": "  running"})
    assert node3.in_recovery()


# -- standby follow -------------------------------------------------------------------------------

def test_a_standby_follows_the_new_primary(ops):
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    promote_node2_after_stopping_node1(ops)
    metadata_before, events_before = nodes(node2), events(node2)
    conninfo_before = standby_setting(node3, "primary_conninfo")

    for args, message in [
        (dict(upstream_node_id=3), "upstream_node_id must not be the node itself (3): a node cannot follow itself"),
        (dict(upstream_node_name="node3"), "a node cannot follow itself"),
        (dict(upstream_node_name="node9"),
         'upstream_node_name names node "node9", which is not registered (known: "node1" (ID: 1), '
         '"node2" (ID: 2), "node3" (ID: 3))'),
    ]:
        refused = module(ops, node3, "repmgr_follow", args)
        assert refused.failed and message in refused.msg, (args, refused.output)

    check = module(ops, node3, "repmgr_follow", dict(upstream_node_name="node2"), check=True, diff=True)
    assert check.rc == 0 and check.changed, check.output
    assert check.result["events"] == [dict(node_id=3, event="standby_follow",
                                           details=STANDBY_FOLLOW.format(name="node2", id=2))]
    assert standby_setting(node3, "primary_conninfo") == conninfo_before
    assert streaming_from(node2) == [] and active_slots(node2) == []
    assert nodes(node2) == metadata_before and events(node2) == events_before
    assert shown_diff(check) == {'-"upstream_node_id": 1', '+"upstream_node_id": 2'}, check.stdout

    run = module(ops, node3, "repmgr_follow", dict(upstream_node_name="node2"))
    assert run.rc == 0 and run.changed, run.output
    assert (run.result["upstream_node_id"], run.result["upstream_node_name"]) == (2, "node2")
    assert streaming_from(node2) == ["node3"]
    assert active_slots(node2) == ["repmgr_slot_3"]
    assert "application_name=node3" in standby_setting(node3, "primary_conninfo")
    assert cluster.password not in standby_setting(node3, "primary_conninfo")
    assert nodes(node2) == [(1, "primary", None, False), (2, "primary", None, True), (3, "standby", 2, True)]
    assert new_events(node2, events_before) == [
        (3, "standby_follow", True, STANDBY_FOLLOW.format(name="node2", id=2))]
    # What the new primary commits reaches node3.
    node2.sql("CREATE TABLE ledger (note text)", dbname="postgres")
    node2.sql("INSERT INTO ledger SELECT 'after follow' FROM generate_series(1, 100)", dbname="postgres")
    wait_for_rows(cluster, node3, {"after follow": 100})

    # Without an upstream the current primary is followed: node2 again, nothing to do.
    for args in (dict(upstream_node_name="node2"), None):
        again = module(ops, node3, "repmgr_follow", args)
        assert again.rc == 0 and not again.changed, again.output
        assert "already streams from" in again.result["reason"]
    assert len(events(node2)) == len(events_before) + 1

    assert_cli_agrees(ops, node2, {"node1": "- failed", "node2": "* running", "node3": "  running"})
    assert not node1.is_running()


# -- node rejoin ------------------------------------------------------------------------------------

def test_the_stopped_old_primary_rejoins_as_a_standby(ops):
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    promote_node2_after_stopping_node1(ops)
    assert module(ops, node3, "repmgr_follow").changed
    metadata_before, events_before = nodes(node2), events(node2)
    # node1 is stopped: the connection options name a running node (the new primary).
    login = dict(login_host=node2.address, login_port=node2.port)

    auto_conf_before = (node1.datadir / "postgresql.auto.conf").read_text()
    check = module(ops, node1, "repmgr_rejoin", login, check=True, diff=True, become=True)
    assert check.rc == 0 and check.changed, check.output
    # --diff: the failed former primary's record becomes an active standby of node2
    assert shown_diff(check) == {'-"type": "primary"', '+"type": "standby"', '-"upstream_node_id": null',
                                 '+"upstream_node_id": 2', '-"active": false', '+"active": true'}, check.stdout
    assert check.result["events"] == [
        dict(node_id=1, event="node_rejoin", details=NODE_REJOIN.format(node=1, upstream=2))]
    assert not node1.is_running(), "check mode must not start the node"
    assert not (node1.datadir / "standby.signal").exists(), "check mode must not write standby.signal"
    assert (node1.datadir / "postgresql.auto.conf").read_text() == auto_conf_before, "nor any configuration"
    assert nodes(node2) == metadata_before and events(node2) == events_before

    run = module(ops, node1, "repmgr_rejoin", login, become=True)
    assert run.rc == 0 and run.changed, run.output
    assert run.result["rewound"] is False and run.result["upstream_node_name"] == "node2"
    assert node1.is_running() and node1.in_recovery()
    assert streaming_from(node2) == ["node1", "node3"]
    assert active_slots(node2) == ["repmgr_slot_1", "repmgr_slot_3"]
    # the former standbys' slots on the rejoined node1 would keep WAL there forever: gone
    assert node1.sql("SELECT slot_name FROM pg_replication_slots") == []
    assert nodes(node2) == [(1, "standby", 2, True), (2, "primary", None, True), (3, "standby", 2, True)]
    assert new_events(node2, events_before) == [(1, "node_rejoin", True, NODE_REJOIN.format(node=1, upstream=2))]
    node2.sql("CREATE TABLE ledger (note text)", dbname="postgres")
    node2.sql("INSERT INTO ledger VALUES ('after rejoin')", dbname="postgres")
    wait_for_rows(cluster, node1, {"after rejoin": 1})

    again = module(ops, node1, "repmgr_rejoin", login, become=True)
    assert again.rc == 0 and not again.changed, again.output
    assert "already streams from the primary" in again.result["reason"]
    assert len(events(node2)) == len(events_before) + 1

    assert_cli_agrees(ops, node2, {"node1": "  running", "node2": "* running", "node3": "  running"})

    # The playbook without the node to rejoin fails and says how to call it.
    missing = playbook(ops, "rejoin")
    assert missing.rc != 0, missing.output
    assert "give the node to rejoin with -e node=<inventory name> (one of node1, node2, node3)" in missing.output
    assert len(events(node2)) == len(events_before) + 1


def lose_transactions_in_a_failover(ops):
    """A failover that loses transactions: node2 is cut off from node1, node1 commits 50 more rows
    (node3 receives them), node1 stops cleanly and node2 is promoted, then commits a row of its own.
    node1 and node3 now hold WAL that the new primary never had."""
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    node1.sql("CREATE TABLE ledger (note text)", dbname="postgres")
    node1.sql("INSERT INTO ledger VALUES ('before the cut')", dbname="postgres")
    wait_for_rows(cluster, node2, {"before the cut": 1})
    node2.sql("ALTER SYSTEM SET primary_conninfo = ''")
    node2.sql("SELECT pg_reload_conf()")
    cluster.wait_until(lambda: streaming_from(node1) == ["node3"], what="node2 no longer streams from node1")
    node1.sql("INSERT INTO ledger SELECT 'lost' FROM generate_series(1, 50)", dbname="postgres")
    wait_for_rows(cluster, node3, {"before the cut": 1, "lost": 50})
    node1.stop(mode="fast")
    assert module(ops, node2, "repmgr_promote").changed
    node2.sql("INSERT INTO ledger VALUES ('kept')", dbname="postgres")


def test_a_diverged_former_primary_is_refused_without_rewind_and_rewound_with_it(ops):
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    lose_transactions_in_a_failover(ops)
    node3.stop(mode="fast")  # node3 is the next test's subject
    metadata_before, events_before = nodes(node2), events(node2)
    # node1 is stopped: the connection options name a running node (the new primary).
    login = dict(login_host=node2.address, login_port=node2.port)

    # node1 stopped cleanly on timeline 1, past the point where node2's timeline 2 begins.
    plain = module(ops, node1, "repmgr_rejoin", dict(login, rewind=False), become=True)
    assert plain.failed, plain.output
    assert "cannot follow node2: node1 has WAL past the fork point of timeline 2" in plain.msg
    assert plain.msg.endswith("rejoin it with rewind")
    assert not node1.is_running()
    assert nodes(node2) == metadata_before and events(node2) == events_before
    assert node2.sql("SELECT slot_name FROM pg_replication_slots") == []

    rewound = module(ops, node1, "repmgr_rejoin", dict(login, rewind=True), become=True)
    assert rewound.rc == 0 and rewound.changed, rewound.output
    assert rewound.result["rewound"] is True
    # The 50 rows only the old primary had are gone; what the new primary committed is there.
    wait_for_rows(cluster, node1, {"before the cut": 1, "kept": 1})
    assert node1.in_recovery() and wal_receiver(node1) == ("streaming", 2)
    assert streaming_from(node2) == ["node1"] and active_slots(node2) == ["repmgr_slot_1"]
    assert nodes(node2) == [(1, "standby", 2, True), (2, "primary", None, True), (3, "standby", 1, True)]
    assert new_events(node2, events_before) == [(1, "node_rejoin", True, NODE_REJOIN.format(node=1, upstream=2))]

    again = module(ops, node1, "repmgr_rejoin", dict(login, rewind=True), become=True)
    assert again.rc == 0 and not again.changed, again.output
    assert_cli_agrees(ops, node2, {"node1": "  running", "node2": "* running", "node3": "? unreachable"})


def test_a_diverged_standby_cannot_follow_and_the_rejoin_playbook_rewinds_it(ops):
    cluster = ops.cluster
    _node1, node2, node3 = cluster.nodes
    lose_transactions_in_a_failover(ops)
    metadata_before, events_before = nodes(node2), events(node2)

    # node3 (running, timeline 1) has received WAL past the point where node2's timeline 2 begins.
    conninfo_before = standby_setting(node3, "primary_conninfo")
    refused = module(ops, node3, "repmgr_follow", dict(upstream_node_name="node2"))
    assert refused.failed, refused.output
    assert "cannot follow node2: node3 has WAL past the fork point of timeline 2" in refused.msg
    assert refused.msg.endswith("rejoin it with rewind")
    assert node3.in_recovery() and standby_setting(node3, "primary_conninfo") == conninfo_before
    assert node2.sql("SELECT slot_name FROM pg_replication_slots") == []
    assert nodes(node2) == metadata_before and events(node2) == events_before

    # node3 crashes. Where its WAL ends is not known: a rejoin without rewind is refused; the
    # rejoin playbook (pg_rewind by default, which also completes the crash recovery) brings it back.
    node3.crash()
    unclean = module(ops, node3, "repmgr_rejoin", dict(login_host=node2.address, login_port=node2.port,
                                                       rewind=False), become=True)
    assert unclean.failed, unclean.output
    assert 'node "node3" (ID: 3) was not shut down cleanly' in unclean.msg
    assert unclean.msg.endswith("rejoin it with rewind: true")
    assert not node3.is_running()
    assert nodes(node2) == metadata_before and events(node2) == events_before

    run = playbook(ops, "rejoin", {"node": "node3"})
    assert run.rc == 0 and run.failed() == 0, run.output
    assert run.recap["node3"]["changed"] >= 1
    wait_for_rows(cluster, node3, {"before the cut": 1, "kept": 1})
    assert node3.in_recovery() and wal_receiver(node3) == ("streaming", 2)
    assert streaming_from(node2) == ["node3"] and active_slots(node2) == ["repmgr_slot_3"]
    assert nodes(node2) == [(1, "primary", None, False), (2, "primary", None, True), (3, "standby", 2, True)]
    assert new_events(node2, events_before) == [(3, "node_rejoin", True, NODE_REJOIN.format(node=3, upstream=2))]
    assert_cli_agrees(ops, node2, {"node1": "- failed", "node2": "* running", "node3": "  running"})


# -- switchover ------------------------------------------------------------------------------------

def switchover_events(new, old, sibling):
    """What one switchover writes, in order: the promotion, the rejoin, the follow, the summary."""
    return [
        # automatic failover paused on the old primary before it stops, resumed on the new one at the end
        (old.node_id, "pgha_failover_paused", True, f"automatic failover paused: switchover to {new.name}"),
        (new.node_id, "standby_promote", True, STANDBY_PROMOTE.format(name=new.name, id=new.node_id)),
        (old.node_id, "node_rejoin", True, NODE_REJOIN.format(node=old.node_id, upstream=new.node_id)),
        (sibling.node_id, "standby_follow", True, STANDBY_FOLLOW.format(name=new.name, id=new.node_id)),
        (new.node_id, "standby_switchover", True, STANDBY_SWITCHOVER.format(
            new=new.name, new_id=new.node_id, old=old.name, old_id=old.node_id)),
        (new.node_id, "pgha_failover_unpaused", True, "automatic failover unpaused"),
    ]


def without_pause(rows):
    """Events other than the pause and unpause of automatic failover a switchover writes around itself."""
    return [row for row in rows if not row[1].startswith("pgha_failover_")]


def failover_paused(node):
    return node.sql("SELECT event = 'pgha_failover_paused' FROM repmgr.events WHERE event IN "
                    "('pgha_failover_paused', 'pgha_failover_unpaused') ORDER BY event_timestamp DESC LIMIT 1") == [(True,)]


def test_switchover_to_node2_and_back_loses_no_transaction(ops):
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    node1.sql("CREATE TABLE ledger (note text)", dbname="postgres")
    events_before = events(node1)
    # Committed on the old primary right before the switchover: all of it must be on the new one.
    node1.sql("INSERT INTO ledger SELECT 'on node1' FROM generate_series(1, 10000)", dbname="postgres")

    run = playbook(ops, "switchover", {"new_primary": "node2"})
    assert run.rc == 0 and run.failed() == 0, run.output
    assert node2.in_recovery() is False and node1.in_recovery() and node3.in_recovery()
    assert rows(node2) == {"on node1": 10000}
    assert streaming_from(node2) == ["node1", "node3"]
    assert active_slots(node2) == ["repmgr_slot_1", "repmgr_slot_3"]
    # the former standbys' slots on the rejoined node1 would keep WAL there forever: gone
    assert node1.sql("SELECT slot_name FROM pg_replication_slots") == []
    assert nodes(node2) == [(1, "standby", 2, True), (2, "primary", None, True), (3, "standby", 2, True)]
    assert new_events(node2, events_before) == switchover_events(node2, node1, node3)
    assert_cli_agrees(ops, node1, {"node1": "  running", "node2": "* running", "node3": "  running"})

    events_before = events(node2)
    node2.sql("INSERT INTO ledger SELECT 'on node2' FROM generate_series(1, 10000)", dbname="postgres")
    back = playbook(ops, "switchover", {"new_primary": "node1"})
    assert back.rc == 0 and back.failed() == 0, back.output
    assert node1.in_recovery() is False and node2.in_recovery() and node3.in_recovery()
    assert rows(node1) == {"on node1": 10000, "on node2": 10000}
    assert streaming_from(node1) == ["node2", "node3"]
    assert nodes(node1) == [(1, "primary", None, True), (2, "standby", 1, True), (3, "standby", 1, True)]
    assert new_events(node1, events_before) == switchover_events(node1, node2, node3)
    assert_cli_agrees(ops, node3, {"node1": "* running", "node2": "  running", "node3": "  running"})

    # Asking for the primary it already has is done already: ok, nothing changed.
    events_before = events(node1)
    same = playbook(ops, "switchover", {"new_primary": "node1"})
    assert same.rc == 0 and same.changed() == 0, same.output
    assert "node1 already is the primary: nothing to do" in same.output
    assert node1.in_recovery() is False and streaming_from(node1) == ["node2", "node3"]
    assert events(node1) == events_before


def test_a_former_primary_is_not_started_by_the_service_module_without_allow_primary(ops):
    cluster = ops.cluster
    node1 = cluster.nodes[0]
    node1.stop(mode="fast")
    try:
        refused = module(ops, node1, "repmgr_node_service", dict(state="started"), become=True)
        assert refused.failed and "has no standby.signal: it would start as a primary" in refused.msg
        assert not node1.is_running()
        status = module(ops, node1, "repmgr_node_service", become=True)
        assert status.result["shut_down_cleanly"] is True and status.result["running"] is False
        started = module(ops, node1, "repmgr_node_service", dict(state="started", allow_primary=True), become=True)
        assert started.changed and node1.is_running() and node1.in_recovery() is False
    finally:
        if not node1.is_running():
            node1.start()


def test_switchover_refusals_change_nothing(ops):
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    metadata_before, events_before = nodes(node1), events(node1)

    def nothing_changed():
        assert node1.is_running() and node1.in_recovery() is False
        assert nodes(node1) == metadata_before and events(node1) == events_before

    # node3 runs but does not stream (its primary_conninfo was emptied by hand).
    node3.sql("ALTER SYSTEM SET primary_conninfo = ''")
    node3.sql("SELECT pg_reload_conf()")
    cluster.wait_until(lambda: streaming_from(node1) == ["node2"], what="node3 no longer streams from node1")
    run = playbook(ops, "switchover", {"new_primary": "node3"})
    assert run.rc != 0 and run.failed() >= 1, run.output
    assert 'switchover to "node3" refused, nothing was changed' in run.output
    assert 'it is not streaming from "node1"' in run.output
    nothing_changed()
    assert node3.in_recovery() and streaming_from(node1) == ["node2"]

    # Then someone promotes node3 by hand: a second primary the metadata does not know.
    node3.sql("SELECT pg_promote()")
    cluster.wait_until(lambda: node3.in_recovery() is False, what="node3 runs as a primary")
    promote = module(ops, node3, "repmgr_promote")
    assert promote.failed, promote.output
    assert 'node "node3" (ID: 3) is not in recovery but is registered as an active standby' in promote.msg
    run = playbook(ops, "switchover", {"new_primary": "node2"})
    assert run.rc != 0 and run.failed() >= 1, run.output
    assert "a switchover needs exactly one running primary; found node1, node3" in run.output
    nothing_changed()
    assert node2.in_recovery() and streaming_from(node1) == ["node2"]
    assert_cli_agrees(ops, node1, {"node1": "* running", "node2": "  running", "node3": "! running as primary"})

    # node3 is stopped: a switchover to it is refused by the same checks (not by a connection error).
    node3.stop(mode="fast")
    run = playbook(ops, "switchover", {"new_primary": "node3"})
    assert run.rc != 0 and run.failed() >= 1, run.output
    assert 'switchover to "node3" refused, nothing was changed' in run.output
    assert "it is not running as a standby" in run.output
    nothing_changed()

    # No new_primary, or one that is not in the inventory: the playbook fails and says how to call it.
    for extra_vars in (None, {"new_primary": "node9"}):
        run = playbook(ops, "switchover", extra_vars)
        assert run.rc != 0, run.output
        assert "give the new primary with -e new_primary=<inventory name> (one of node1, node2, node3)" in run.output
        nothing_changed()


def test_a_switchover_failing_before_the_promotion_brings_the_old_primary_back(ops):
    """After the primary was stopped, the promotion step fails (here: an unusable timeout value).

    The new primary was never asked to promote and is still a standby, so the old primary is
    started again as the primary, and the run says so; no metadata or event changed.
    """
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    metadata_before, events_before = nodes(node1), events(node1)

    run = playbook(ops, "switchover", {"new_primary": "node2", "switchover_wal_timeout": "soon"})

    assert run.rc != 0
    assert "failed before the promotion completed" in run.output
    assert "node1 was started again as the primary, nothing else changed" in run.output
    assert node1.is_running() and node1.in_recovery() is False
    assert node2.in_recovery() and node3.in_recovery()
    cluster.wait_until(lambda: streaming_from(node1) == ["node2", "node3"], what="both standbys stream again")
    assert nodes(node1) == metadata_before and without_pause(events(node1)) == events_before
    assert not failover_paused(node1), "automatic failover is resumed after a failed switchover"


def backend_pid(node, backend_type):
    """PID of one of `node`'s own server processes (startup, walreceiver), from its pg_stat_activity."""
    return node.sql("SELECT pid FROM pg_stat_activity WHERE backend_type = %s", (backend_type,))[0][0]


def test_a_switchover_whose_shutdown_checkpoint_never_arrives_brings_the_old_primary_back(ops):
    """node2's WAL receiver is frozen (SIGSTOP), so the old primary's shutdown checkpoint never reaches it.

    The promotion is never requested; the old primary is started again and the run says that
    nothing else changed: no metadata, no event, node2 still a standby.
    """
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    # A walsender waits for its standby to confirm the last WAL before a shutdown ends: let it give up
    # sooner than pg_ctl's 60 s, yet late enough (its standby replies every 10 s) that node2 still counts
    # as streaming when the switchover's checks run, a few seconds after the freeze.
    node1.sql("ALTER SYSTEM SET wal_sender_timeout = '30s'")
    node1.sql("SELECT pg_reload_conf()")
    metadata_before, events_before = nodes(node1), events(node1)
    receiver = backend_pid(node2, "walreceiver")
    os.kill(receiver, signal.SIGSTOP)
    try:
        run = playbook(ops, "switchover", {"new_primary": "node2", "switchover_wal_timeout": 3})
    finally:
        os.kill(receiver, signal.SIGCONT)

    assert run.rc != 0
    assert "has received WAL up to" in run.output and "nothing was changed" in run.output, run.output
    assert "node1 was started again as the primary, nothing else changed" in run.output
    assert node1.is_running() and node1.in_recovery() is False
    assert node2.in_recovery() and node3.in_recovery()
    cluster.wait_until(lambda: streaming_from(node1) == ["node2", "node3"], what="both standbys stream again")
    assert nodes(node1) == metadata_before and without_pause(events(node1)) == events_before
    assert not failover_paused(node1), "automatic failover is resumed after a failed switchover"


def test_a_switchover_whose_requested_promotion_fails_does_not_start_the_old_primary(ops):
    """node2 receives every WAL record, but its startup process is frozen: the promotion is requested and never
    completes within switchover_promote_timeout. node2 may still become a primary, so the old primary must
    stay stopped (two primaries otherwise), and the run says why and what to check."""
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    startup = backend_pid(node2, "startup")
    os.kill(startup, signal.SIGSTOP)
    try:
        run = playbook(ops, "switchover", {"new_primary": "node2", "switchover_promote_timeout": 3})
        assert run.rc != 0
        assert "the promotion was requested and may still complete" in run.output, run.output
        assert "node1 was NOT started again" in run.output, run.output
        assert not node1.is_running(), "the old primary was started while node2 may be promoted"
        # no primary runs to take the unpause: automatic failover stays paused, and the run says so
        assert "automatic failover stays paused" in run.output, run.output
        # nor may a DBA's unpause write it on the standbys: node2 may still become the primary
        refused = playbook(ops, "unpause")
        assert refused.rc != 0 and "node2 has a promotion requested and not completed" in refused.output, \
            refused.output
        for standby in (node2, node3):  # refused whole: written on no standby
            assert standby.sql("SELECT pg_catalog.current_setting('pgha.failover_unpaused_at', true)") in (
                [(None,)], [("",)])
    finally:
        os.kill(startup, signal.SIGCONT)
    # the frozen promotion completes once resumed: node2 is the one primary
    cluster.wait_until(lambda: node2.in_recovery() is False, what="node2 finishes its promotion")
    assert [node.name for node in cluster.nodes if node.is_running() and not node.in_recovery()] == ["node2"]
    assert failover_paused(node2)


# -- failures a DBA meets: a follow or rejoin that never streams, a rejoin of a running node ----------

def test_a_follow_or_rejoin_that_never_streams_fails_and_writes_a_failed_event(ops, tmp_path):
    """A passfile that does not exist: the standby cannot authenticate for replication, so it never streams."""
    cluster = ops.cluster
    node1, node2, node3 = cluster.nodes
    promote_node2_after_stopping_node1(ops)
    events_before = events(node2)
    nowhere = str(tmp_path / "no-such-passfile")

    follow = module(ops, node3, "repmgr_follow", dict(upstream_node_name="node2", wait_timeout=3, passfile=nowhere))
    assert follow.failed and 'standby did not attach to upstream node "node2" (ID: 2) after 3 seconds' in follow.msg
    assert new_events(node2, events_before) == [
        (3, "standby_follow", False, 'standby did not attach to upstream node "node2" (ID: 2) after 3 seconds')]
    assert nodes(node2)[2] == (3, "standby", 1, True), "the metadata still says node3 follows node1"

    login = dict(login_host=node2.address, login_port=node2.port)
    refused = module(ops, node3, "repmgr_rejoin", login, become=True)
    assert refused.failed and "is running (PID" in refused.msg and "stop it before a rejoin" in refused.msg

    rejoin = module(ops, node1, "repmgr_rejoin", dict(login, wait_timeout=3, passfile=nowhere), become=True)
    assert rejoin.failed and "node 1 did not attach to node 2 within 3 seconds" in rejoin.msg, rejoin.output
    assert (1, "node_rejoin", False, "node 1 did not attach to node 2 within 3 seconds") in \
        new_events(node2, events_before)
    assert nodes(node2)[0] == (1, "primary", None, False)
