"""The election, table-tested: who wins, and why nobody does."""

from __future__ import annotations

import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import election
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeObservation,
    NodeRecord,
    Reachability,
    lsn_from_text,
)

PRIMARY = NodeRecord(node_id=1, node_name="node1", type="primary", location="dc1")


def standby(node_id, location="dc1", priority=100, node_type="standby", active=True, upstream=1):
    return NodeRecord(node_id=node_id, node_name="node%d" % node_id, type=node_type, location=location,
                      priority=priority, active=active, upstream_node_id=upstream)


def seen(node_id, lsn="0/5000000", in_recovery=True):
    return NodeObservation(node_id, Reachability.CONNECTED, in_recovery=in_recovery,
                           received_lsn=lsn_from_text(lsn), replayed_lsn=lsn_from_text(lsn))


def down(node_id):
    return NodeObservation(node_id, Reachability.DOWN)


def run(records, observations, sightings=None):
    survivors = {r.node_name: (False, False) for r in records if observations.get(r.node_id, down(0)).connected}
    survivors.update(sightings or {})
    return election.elect([PRIMARY] + list(records), observations, PRIMARY, survivors)


@pytest.mark.parametrize(
    "records, observations, winner, why",
    [
        ([standby(2), standby(3)], {2: seen(2, "0/5000000"), 3: seen(3, "0/6000000")}, "node3", "furthest WAL"),
        ([standby(2, priority=90), standby(3, priority=50)], {2: seen(2), 3: seen(3)}, "node2", "higher priority"),
        ([standby(3), standby(2)], {2: seen(2), 3: seen(3)}, "node2", "lower node ID"),
        ([standby(2, location="dc2"), standby(3)], {2: seen(2, "0/9000000"), 3: seen(3)}, "node3",
         "in the failed primary's location"),
        ([standby(2, priority=0), standby(3)], {2: seen(2, "0/9000000"), 3: seen(3)}, "node3", "the only candidate"),
        ([standby(2), standby(3), standby(4, node_type="witness", priority=0)],
         {2: seen(2), 3: down(3), 4: seen(4, in_recovery=False)}, "node2", "the only candidate"),
    ],
    ids=["lsn", "priority", "node-id", "location", "priority-zero-never", "witness-counts-for-quorum"],
)
def test_winner(records, observations, winner, why):
    result = run(records, observations)
    assert result.outcome == election.WON, result.reason
    assert result.winner.record.node_name == winner
    assert why in result.reason


@pytest.mark.parametrize(
    "records, observations, sightings, reason",
    [
        ([standby(2), standby(3)], {2: seen(2), 3: seen(3)}, {"node3": (True, False)},
         "the primary is still visible from node3"),
        ([standby(2), standby(3)], {2: seen(2), 3: seen(3)}, {"node2": (False, True)},
         "the primary is still visible from node2"),
        ([standby(2), standby(3), standby(4)], {2: seen(2), 3: down(3), 4: down(4)}, {}, "only 1 of the 3 nodes"),
        ([standby(2), standby(3)], {2: seen(2), 3: down(3)}, {}, "only 1 of the 2 nodes"),
        ([standby(2, location="dc2"), standby(3, location="dc2")], {2: seen(2), 3: seen(3)}, {},
         'no node in the primary\'s location "dc1" answered'),
        ([standby(2, priority=0), standby(3, priority=0)], {2: seen(2), 3: seen(3)}, {},
         "no standby can be promoted (node2: priority 0 (never promoted), node3: priority 0 (never promoted))"),
    ],
    ids=["still-connected", "still-streaming", "no-quorum", "two-nodes-half-is-no-majority", "split-location",
         "all-priority-zero"],
)
def test_no_failover(records, observations, sightings, reason):
    result = run(records, observations, sightings)
    assert result.outcome == election.CANCELLED
    assert reason in result.reason
    assert result.winner is None


def test_only_nodes_that_followed_the_primary_take_part():
    cascaded = standby(3, upstream=2)
    result = run([standby(2), cascaded], {2: seen(2), 3: seen(3, "0/9000000")})
    assert result.winner.record.node_name == "node2"
    assert "node3" not in result.excluded and [c.record.node_name for c in result.ranking] == ["node2"]


def test_quorum_rule_is_repmgrs():
    assert election.has_quorum(2, 3) and election.has_quorum(2, 2)
    assert not election.has_quorum(1, 2) and not election.has_quorum(2, 4)


def view_row(node_id, reachable=True, in_recovery=True, lsn="0/5000000", streaming=False, node_type="standby",
             location="dc1", priority=100):
    return dict(node_id=node_id, node_name="node%d" % node_id, type=node_type, active=True,
                upstream_node_id=None if node_type == "primary" else 1, location=location, priority=priority,
                reachable=reachable, in_recovery=in_recovery if reachable else None,
                received_lsn=lsn if reachable and in_recovery else None,
                replayed_lsn=lsn if reachable and in_recovery else None,
                wal_receiver_streaming=streaming if reachable else None)


def test_election_over_the_survivors_views():
    seen_by_node2 = {"nodes": [view_row(1, reachable=False, node_type="primary", in_recovery=False),
                               view_row(2, lsn="0/5000000"), view_row(3, lsn="0/6000000")]}
    seen_by_node3 = {"nodes": [view_row(1, reachable=False, node_type="primary", in_recovery=False),
                               view_row(2, lsn="0/5000000"), view_row(3, lsn="0/6000000")]}
    result = election.elect_from_views({"node2": seen_by_node2, "node3": seen_by_node3, "node1": {"failed": True}}, 1)
    assert result["outcome"] == election.WON and result["winner"]["node_name"] == "node3"
    assert result["failed_node_name"] == "node1"
    assert result["winner"]["lsn"] == "0/6000000"


def test_a_survivor_that_still_sees_the_primary_stops_the_failover():
    blind = {"nodes": [view_row(1, reachable=False, node_type="primary", in_recovery=False), view_row(2),
                       view_row(3)]}
    seeing = {"nodes": [view_row(1, reachable=True, node_type="primary", in_recovery=False), view_row(2),
                        view_row(3)]}
    result = election.elect_from_views({"node2": blind, "node3": seeing}, 1)
    assert result["outcome"] == election.CANCELLED and "still visible from node3" in result["reason"]
    streaming = {"nodes": [view_row(1, reachable=False, node_type="primary", in_recovery=False), view_row(2),
                           view_row(3, streaming=True)]}
    result = election.elect_from_views({"node2": blind, "node3": streaming}, 1)
    assert result["outcome"] == election.CANCELLED


def test_no_readable_survivor_means_no_failover():
    result = election.elect_from_views({"node2": {"failed": True, "msg": "down"}}, 1)
    assert result["outcome"] == election.CANCELLED and "no survivor could be read" in result["reason"]


def test_a_second_event_after_the_failover_changes_nothing():
    after = {"nodes": [dict(view_row(1, reachable=False, node_type="primary", in_recovery=False), active=False),
                       view_row(2, node_type="primary", in_recovery=False), view_row(3)]}
    result = election.elect_from_views({"node2": after, "node3": after}, 1)
    assert result["outcome"] == election.CANCELLED
    assert 'node "node1" (ID: 1) is not the active primary in the metadata (it is an inactive primary)' \
        in result["reason"]
