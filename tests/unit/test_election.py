"""The election, table-tested: who wins, and why nobody does (repmgr's rules, in repmgr's order)."""

from __future__ import annotations

import pytest

from builders import down, record, rejected, seen, view

from ansible_collections.pgha.repmgr.plugins.module_utils import election
from ansible_collections.pgha.repmgr.plugins.module_utils.nodeview import NodeView

PRIMARY = record(1, "primary", location="dc1")
FRESH = 1.0  # seconds: the monitor's reconnect_interval


def standby(node_id, **kwargs):
    kwargs.setdefault("location", "dc1")
    return record(node_id, **kwargs)


def run(records, observations, sightings=None):
    names = {r.node_name for r in records if observations.get(r.node_id, down(0)).connected}
    all_sightings = {name: election.Sighting(False) for name in names}
    all_sightings.update({name: election.Sighting(True, "test") for name in sightings or ()})
    return election.elect([PRIMARY] + list(records), observations, PRIMARY, all_sightings)


@pytest.mark.parametrize(
    "records, observations, winner, why",
    [
        ([standby(2), standby(3)], {2: seen(2, "0/5000000"), 3: seen(3, "0/6000000")}, "node3", "furthest WAL"),
        ([standby(2, priority=90), standby(3, priority=50)], {2: seen(2), 3: seen(3)}, "node2", "higher priority"),
        ([standby(3), standby(2)], {2: seen(2), 3: seen(3)}, "node2", "lower node ID"),
        # location is a gate, never a rank: the furthest WAL wins wherever it is
        ([standby(2, location="dc2"), standby(3)], {2: seen(2, "0/9000000"), 3: seen(3)}, "node2", "furthest WAL"),
        ([standby(2, priority=0), standby(3)], {2: seen(2, "0/9000000"), 3: seen(3)}, "node3", "the only candidate"),
        ([standby(2), standby(3), record(4, "witness")],
         {2: seen(2), 3: down(3), 4: seen(4, in_recovery=False)}, "node2", "the only candidate"),
    ],
    ids=["lsn", "priority", "node-id", "location-is-no-rank", "priority-zero-never", "witness-counts-for-quorum"],
)
def test_winner(records, observations, winner, why):
    result = run(records, observations)
    assert result.outcome == election.WON, result.reason
    assert result.winner.record.node_name == winner
    assert why in result.reason


def test_a_more_advanced_priority_zero_standby_is_caught_up_from_not_promoted():
    result = run([standby(2, priority=0), standby(3)], {2: seen(2, "0/9000000"), 3: seen(3, "0/5000000")})
    assert result.winner.record.node_name == "node3"
    assert result.catch_up_from == "node2"
    assert result.followers == ("node2",)
    assert run([standby(2), standby(3)], {2: seen(2), 3: seen(3)}).catch_up_from is None


def test_followers_and_witnesses():
    result = run([standby(2), standby(3, priority=0), standby(4), record(5, "witness")],
                 {2: seen(2, "0/6000000"), 3: seen(3), 4: down(4), 5: seen(5, in_recovery=False)})
    assert result.winner.record.node_name == "node2"
    assert result.followers == ("node3",)  # node4 did not answer
    assert result.witnesses == ("node5",)


@pytest.mark.parametrize(
    "records, observations, seeing, reason",
    [
        ([standby(2), standby(3)], {2: seen(2), 3: seen(3)}, ["node3"], "the primary is still visible from node3"),
        ([standby(2), standby(3), standby(4)], {2: seen(2), 3: down(3), 4: down(4)}, [], "only 1 of the 3 nodes"),
        ([standby(2), standby(3)], {2: seen(2), 3: down(3)}, [], "only 1 of the 2 nodes"),
        ([standby(2, location="dc2"), standby(3, location="dc2")], {2: seen(2), 3: seen(3)}, [],
         'no node in the primary\'s location "dc1" answered'),
        ([standby(2, priority=0), standby(3, priority=0)], {2: seen(2), 3: seen(3)}, [],
         "no standby can be promoted (node2: priority 0 (never promoted), node3: priority 0 (never promoted))"),
    ],
    ids=["still-seen", "no-quorum", "two-nodes-half-is-no-majority", "location-gate", "all-priority-zero"],
)
def test_no_failover(records, observations, seeing, reason):
    result = run(records, observations, seeing)
    assert result.outcome == election.CANCELLED
    assert reason in result.reason
    assert result.winner is None


def test_the_location_gate_comes_before_the_quorum_as_in_repmgr():
    # the primary's whole location (node1, node2) is lost: a majority problem too, but the reason is the location
    result = run([standby(2), standby(3, location="dc2")], {2: down(2), 3: seen(3)})
    assert 'no node in the primary\'s location "dc1" answered' in result.reason


def test_quorum_rule_is_repmgrs():
    assert election.has_quorum(2, 3) and election.has_quorum(2, 2)
    assert not election.has_quorum(1, 2) and not election.has_quorum(2, 4)


# -- fresh evidence ---------------------------------------------------------------------------

def row(node_id, observation, records, receiver_from=None):
    by_id = {r.node_id: r for r in records}
    return NodeView.build(by_id[node_id], observation, wal_receiver_upstream_node_id=receiver_from)


@pytest.mark.parametrize(
    "about_primary, own, receiver_from, sees",
    [
        (seen(1, in_recovery=False), seen(2), 1, True),  # it opens a session to the primary now
        (rejected(1), seen(2), 1, True),  # the primary answered and refused it (too many clients): alive
        (down(1), seen(2, receiver_from="10.0.0.1", receiver_age=0.3), 1, True),  # heard from it 0.3 s ago
        (down(1), seen(2, receiver_from="10.0.0.1", receiver_age=12.0), 1, False),  # "streaming", stale: frozen
        (down(1), seen(2, receiver_from="10.0.0.3", receiver_age=0.1), 3, False),  # streams from another node
        (down(1), seen(2), None, False),
    ],
    ids=["session", "refused-session-is-alive", "fresh-receiver", "stale-receiver", "cascade", "nothing"],
)
def test_sees_primary_from_fresh_evidence_only(about_primary, own, receiver_from, sees):
    records = [PRIMARY, standby(2), standby(3)]
    sighting = election.sees_primary(row(2, own, records, receiver_from), row(1, about_primary, records), PRIMARY,
                                     FRESH)
    assert sighting.sees is sees, sighting


# -- over the survivors' repmgr_cluster_info results --------------------------------------------

RECORDS = (PRIMARY, standby(2), standby(3))


def views(observations, records=None, receivers=None, readers=("node2", "node3")):
    return {name: view(records or RECORDS, observations, receivers) for name in readers}


def test_election_over_the_survivors_views():
    result = election.elect_from_views(
        dict(views({1: down(1), 2: seen(2, "0/5000000", term=3), 3: seen(3, "0/6000000", term=3)}),
             node1={"failed": True}), 1, FRESH)
    assert result["outcome"] == election.WON and result["winner"]["node_name"] == "node3"
    assert (result["failed_node_name"], result["failed_node_id"]) == ("node1", 1)
    assert result["winner"]["lsn"] == "0/6000000"
    assert result["followers"] == ["node2"] and result["voting_term"] == 3
    assert election.elect_from_views(views({1: down(1), 2: seen(2), 3: seen(3)}), "node1", FRESH)["outcome"] == "won"


def test_a_paused_failover_does_nothing_even_when_one_copy_lags():
    """The pause is written on the primary; node3's copy has it, node2's not yet: nothing is done, not even an
    adoption of a node already promoted (a switchover's promotion, while its own run writes the metadata)."""
    lagging = {1: down(1), 2: seen(2), 3: seen(3, paused=True)}
    result = election.elect_from_views(views(lagging), 1, FRESH)
    assert result["outcome"] == election.CANCELLED
    assert result["reason"] == ("automatic failover is paused (as the metadata of node3 says): nothing is done until "
                                "pgha.repmgr.unpause")
    promoted = {1: down(1), 2: seen(2, in_recovery=False, tli=2, paused=True), 3: seen(3, paused=True)}
    assert election.elect_from_views(views(promoted), 1, FRESH)["outcome"] == election.CANCELLED
    # only its own copy counts: what node3 read about node2 is node2's state, not a second opinion
    assert election.elect_from_views(views({1: down(1), 2: seen(2), 3: seen(3)}), 1, FRESH)["outcome"] == election.WON


def test_a_frozen_primary_whose_standbys_still_say_streaming_is_failed_over():
    """SIGSTOP: the WAL receivers say "streaming" until wal_receiver_timeout, but heard nothing for 12 s."""
    frozen = {1: down(1), 2: seen(2, receiver_from="10.0.0.1", receiver_age=12.0),
              3: seen(3, receiver_from="10.0.0.1", receiver_age=12.0)}
    result = election.elect_from_views(views(frozen, receivers={2: 1, 3: 1}), 1, FRESH)
    assert result["outcome"] == election.WON, result["reason"]


def test_a_survivor_that_still_sees_the_primary_stops_the_failover():
    seeing = views({1: seen(1, in_recovery=False), 2: seen(2), 3: seen(3)}, readers=("node3",))
    blind = views({1: down(1), 2: seen(2), 3: seen(3)}, readers=("node2",))
    result = election.elect_from_views(dict(blind, **seeing), 1, FRESH)
    assert result["outcome"] == election.CANCELLED and "node1" in result["reason"]


def test_a_cascaded_standby_does_not_stop_the_failover():
    """node3 streams from node2 (fresh messages, "streaming"): that is no evidence that node1 is alive."""
    records = [PRIMARY, standby(2), standby(3, upstream=2)]
    observations = {1: down(1), 2: seen(2), 3: seen(3, receiver_from="10.0.0.2", receiver_age=0.1)}
    result = election.elect_from_views(views(observations, records, receivers={3: 2}), 1, FRESH)
    assert result["outcome"] == election.WON, result["reason"]
    assert result["winner"]["node_name"] == "node2" and result["followers"] == []


def test_no_readable_survivor_means_no_failover():
    result = election.elect_from_views({"node2": {"failed": True, "msg": "down"}}, 1, FRESH)
    assert result["outcome"] == election.CANCELLED and "no survivor could be read" in result["reason"]


def test_a_repeated_event_after_the_failover_changes_nothing():
    after = [record(1, "primary", active=False), record(2, "primary"), standby(3, upstream=2)]
    result = election.elect_from_views(
        views({1: down(1), 2: seen(2, in_recovery=False, tli=2), 3: seen(3, tli=2)}, after), 1, FRESH)
    assert result["outcome"] == election.DONE
    assert 'node "node2" (ID: 2) is already the primary (timeline 2)' in result["reason"]


def test_a_promotion_whose_run_was_interrupted_is_adopted_never_repeated():
    """node2 left recovery, then the run died: its metadata still names node1, node3 still follows node1."""
    observations = {1: down(1), 2: seen(2, in_recovery=False, tli=2), 3: seen(3, tli=1)}
    result = election.elect_from_views(views(observations), 1, FRESH)
    assert result["outcome"] == election.ADOPT, result["reason"]
    assert result["winner"]["node_name"] == "node2" and result["followers"] == ["node3"]
    # metadata written, the follow not yet done: adopt again to finish it
    half = [record(1, "primary", active=False), record(2, "primary"), standby(3)]
    result = election.elect_from_views(views(observations, half), 1, FRESH)
    assert result["outcome"] == election.ADOPT and result["followers"] == ["node3"]


def test_a_restarted_failed_primary_on_the_old_timeline_is_not_the_primary():
    after = [record(1, "primary", active=False), record(2, "primary"), standby(3, upstream=2)]
    observations = {1: seen(1, in_recovery=False, tli=1), 2: seen(2, in_recovery=False, tli=2), 3: seen(3, tli=2)}
    stale_copy = [record(1, "primary"), standby(2), standby(3)]  # node1's own copy, never updated
    result = election.elect_from_views(dict(views(observations, after), node1=view(stale_copy, observations)),
                                       1, FRESH)
    assert result["outcome"] == election.DONE, result["reason"]


def test_two_primaries_on_one_timeline_is_a_split_brain_never_acted_on():
    observations = {1: down(1), 2: seen(2, in_recovery=False, tli=2), 3: seen(3, in_recovery=False, tli=2)}
    result = election.elect_from_views(views(observations), 1, FRESH)
    assert result["outcome"] == election.CANCELLED and "split brain" in result["reason"]


def test_a_stale_witness_copy_does_not_decide():
    """The witness still holds the topology from before the last failover; the standbys' copies are newer."""
    records = [record(1, "primary", active=False), record(2, "primary"), standby(3, upstream=2),
               record(4, "witness", upstream=2)]
    witness_copy = [record(1, "primary"), standby(2), standby(3), record(4, "witness")]
    observations = {1: down(1), 2: down(2), 3: seen(3, tli=2), 4: seen(4, in_recovery=False, tli=1)}
    result = election.elect_from_views(dict(node3=view(records, observations), node4=view(witness_copy, observations)),
                                       "node2", FRESH)
    # node2 is the active primary in node3's (newest) copy: its failure is a real one to elect for
    assert result["failed_node_name"] == "node2"
    assert "is not the active primary" not in result["reason"]
