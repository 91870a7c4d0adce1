"""The attach check (repmgr's check_node_can_attach) and the switchover checks, from plain data."""

from __future__ import annotations

import builders
import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import promote, switchover, timeline
from ansible_collections.pgha.repmgr.plugins.module_utils.cluster import ClusterView
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, PreconditionFailed
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeObservation,
    Reachability,
    ReplicationClient,
    WalPosition,
    lsn_from_text,
)

SYSID = 7000000000000000001
HISTORY_2 = "1\t0/3000110\tno recovery target specified\n"
HISTORY_3 = "1\t0/3000110\tno recovery target specified\n2\t0/5000000\tno recovery target specified\n"


def pos(tli, lsn, sysid=SYSID):
    return WalPosition(sysid, tli, lsn_from_text(lsn))


def test_parse_history():
    assert timeline.parse_history(HISTORY_3) == [(1, lsn_from_text("0/3000110")), (2, lsn_from_text("0/5000000"))]
    assert timeline.parse_history("") == []


@pytest.mark.parametrize(
    "local, target, history",
    [
        (pos(1, "0/3000100"), pos(1, "0/3000200"), ""),  # same timeline, behind
        (pos(1, "0/3000110"), pos(2, "0/3000200"), HISTORY_2),  # exactly at the fork point
        (pos(1, "0/2000000"), pos(3, "0/6000000"), HISTORY_3),  # two promotions later
        (pos(2, "0/4000000"), pos(3, "0/6000000"), HISTORY_3),
    ],
    ids=["same-timeline-behind", "at-fork-point", "two-timelines-later", "middle-timeline"],
)
def test_can_follow(local, target, history):
    timeline.check_can_follow("node3", local, "node2", target, timeline.parse_history(history))


@pytest.mark.parametrize(
    "local, target, history, message",
    [
        (pos(1, "0/3000148"), pos(2, "0/3000200"), HISTORY_2,
         "cannot follow node2: node3 has WAL past the fork point of timeline 2 (0/3000148 > 0/3000110); "
         "rejoin it with rewind"),
        (pos(1, "0/3000148"), pos(3, "0/6000000"), HISTORY_3, "past the fork point of timeline 2"),
        (pos(1, "0/3000300"), pos(1, "0/3000200"), "", "node3 is ahead of it on timeline 1 (0/3000300 > 0/3000200)"),
        (pos(2, "0/3000300"), pos(1, "0/3000200"), "", "its timeline 1 is older than node3's timeline 2"),
        (pos(1, "0/1", sysid=42), pos(1, "0/2"), "", "node3 belongs to another cluster"),
        (pos(4, "0/1"), pos(5, "0/9000000"), HISTORY_3, "timeline 4 of node3 is not in node2's history"),
    ],
    ids=["diverged", "diverged-older", "ahead", "older-target", "other-system", "unknown-timeline"],
)
def test_cannot_follow(local, target, history, message):
    with pytest.raises(PreconditionFailed) as error:
        timeline.check_can_follow("node3", local, "node2", target, timeline.parse_history(history))
    assert message in str(error.value)


def record(node_id, node_type="standby", upstream=1, active=True):
    return builders.record(node_id, node_type, upstream, active, conninfo="host=node%d")


def observed(node_id, in_recovery, received="0/5000000", current=None, clients=()):
    return NodeObservation(node_id, Reachability.CONNECTED, in_recovery=in_recovery,
                           received_lsn=lsn_from_text(received) if in_recovery else None,
                           replayed_lsn=lsn_from_text(received) if in_recovery else None,
                           current_lsn=lsn_from_text(current) if current else None,
                           replication=tuple(ReplicationClient(name, "streaming") for name in clients))


def view(overrides=None):
    records = (record(1, "primary"), record(2), record(3))
    observations = {
        1: observed(1, False, current="0/5000100", clients=("node2", "node3")),
        2: observed(2, True),
        3: observed(3, True),
    }
    observations.update(overrides or {})
    return ClusterView(records, observations, show=None)


def test_switchover_plan_of_a_healthy_cluster():
    plan = switchover.plan_switchover(view(), "node2")
    assert plan["old_primary"] == {"node_id": 1, "node_name": "node1"}
    assert plan["siblings"] == [{"node_id": 3, "node_name": "node3"}]
    assert plan["lag_bytes"] == 0x100
    assert plan["event_details"] == 'node "node2" (ID: 2) promoted to primary, node "node1" (ID: 1) demoted to standby'


@pytest.mark.parametrize(
    "target, overrides, message",
    [
        ("node2", {2: NodeObservation(2, Reachability.DOWN)}, "it is not running as a standby"),
        ("node2", {1: observed(1, False, current="0/5000100", clients=("node3",))}, "it is not streaming from"),
        ("node2", {3: NodeObservation(3, Reachability.DOWN)}, "standby node3 cannot follow the new primary"),
        ("node2", {1: observed(1, False, current="0/9000000", clients=("node2", "node3"))}, "lags"),
        ("node2", {1: NodeObservation(1, Reachability.DOWN)}, "needs exactly one running primary; found none"),
    ],
    ids=["target-down", "target-not-streaming", "sibling-down", "too-much-lag", "no-primary"],
)
def test_switchover_refusals(target, overrides, message):
    with pytest.raises(PreconditionFailed) as error:
        switchover.plan_switchover(view(overrides), target)
    assert message in str(error.value)


def test_switchover_to_the_primary_is_nothing_to_do():
    assert switchover.plan_switchover(view(), "node1")["already_primary"] is True


def test_switchover_to_an_unknown_node():
    with pytest.raises(InvalidOption, match='new_primary names node "node9", which is not registered'):
        switchover.plan_switchover(view(), "node9")


def test_promote_plan():
    facts = dict(in_recovery=True, received_lsn=10, replayed_lsn=10, wal_replay_paused=False)
    assert promote.plan_promote(record(2), facts, [], force=False) == "promote"
    assert promote.plan_promote(record(2, "primary"), dict(facts, in_recovery=False), [], force=False) is None
    with pytest.raises(PreconditionFailed, match="already has an active primary"):
        promote.plan_promote(record(2), facts, [record(1, "primary")], force=False)
    assert promote.plan_promote(record(2), facts, [record(1, "primary")], force=True) == "promote"
    with pytest.raises(PreconditionFailed, match="WAL replay is paused"):
        promote.plan_promote(record(2), dict(facts, wal_replay_paused=True, replayed_lsn=5), [], force=False)
    # promoted by an earlier run that lost its connection: the metadata catches up
    assert promote.plan_promote(record(2), dict(facts, in_recovery=False), [], force=False) == "record"
    with pytest.raises(PreconditionFailed, match="is not in recovery but is registered as an active standby, and "
                                                 '"node1" \\(ID: 1\\) is running as a primary too'):
        promote.plan_promote(record(2), dict(facts, in_recovery=False), [record(1, "primary")], force=False)


def test_live_primary_is_the_newest_timelines():
    from builders import down, record, seen, view

    from ansible_collections.pgha.repmgr.plugins.module_utils.cluster import choose_live_primary

    before = [record(1, "primary"), record(2)]
    after = [record(1, "primary", active=False), record(2, "primary")]
    both_run = {1: seen(1, in_recovery=False, tli=1), 2: seen(2, in_recovery=False, tli=2)}
    results = {"node1": view(before, both_run), "node2": view(after, both_run), "node3": {"failed": True}}
    assert choose_live_primary(results) == "node2"
    assert choose_live_primary({"node2": {"failed": True}}) is None
    assert choose_live_primary({"node2": view(after, {1: down(1), 2: seen(2)})}) is None
    twins = {2: seen(2, in_recovery=False, tli=2), 3: seen(3, in_recovery=False, tli=2)}
    with pytest.raises(PreconditionFailed, match="split brain: node2, node3 all run as primary on timeline 2"):
        choose_live_primary({"node2": view([record(2, "primary"), record(3)], twins)})
