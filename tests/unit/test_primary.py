"""Who the primary is: one rule (newest timeline, then that node's own metadata), table-tested."""

from __future__ import annotations

import pytest
from builders import down, record, seen, view

from ansible_collections.pgha.repmgr.plugins.module_utils import primary
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import PreconditionFailed

BEFORE = (record(1, "primary"), record(2), record(3))
AFTER = (record(1, "primary", active=False), record(2, "primary"), record(3, upstream=2))


def test_healthy_cluster():
    truth = primary.cluster_truth({1: seen(1, in_recovery=False), 2: seen(2), 3: seen(3)},
                                  {1: BEFORE, 2: BEFORE, 3: BEFORE})
    assert (truth.primary_id, truth.metadata_from, truth.active_primary.node_id) == (1, 1, 1)
    assert truth.stale_ids == () and truth.rival_ids == ()


def test_a_failed_former_primary_running_again_is_stale_and_its_copy_is_not_read():
    """node1 came back on timeline 1 still naming itself the primary; node2 was promoted to timeline 2."""
    observations = {1: seen(1, in_recovery=False, tli=1), 2: seen(2, in_recovery=False, tli=2), 3: seen(3, tli=2)}
    truth = primary.cluster_truth(observations, {1: BEFORE, 2: AFTER, 3: AFTER})
    assert truth.primary_id == 2 and truth.stale_ids == (1,)
    assert truth.records == AFTER and truth.active_primary.node_id == 2
    # whichever copy is listed first
    assert primary.cluster_truth(observations, {3: AFTER, 1: BEFORE, 2: AFTER}).records == AFTER


def test_without_a_running_primary_the_freshest_standby_copy_is_trusted_never_the_witness():
    records = AFTER + (record(4, "witness", upstream=2),)
    witness_copy = BEFORE + (record(4, "witness"),)
    observations = {1: down(1), 2: down(2), 3: seen(3, tli=2), 4: seen(4, in_recovery=False, tli=1)}
    truth = primary.cluster_truth(observations, {4: witness_copy, 3: records})
    assert truth.primary_id is None  # the witness is never a primary
    assert truth.metadata_from == 3 and truth.active_primary.node_id == 2
    assert primary.cluster_truth({4: seen(4, in_recovery=False)}, {4: witness_copy}).metadata_from == 4


def test_a_promoted_node_whose_metadata_was_not_written_yet_is_the_primary():
    observations = {1: down(1), 2: seen(2, in_recovery=False, tli=2), 3: seen(3, tli=1)}
    truth = primary.cluster_truth(observations, {2: BEFORE, 3: BEFORE})
    assert truth.primary_id == 2 and truth.active_primary.node_id == 1  # the run must finish the metadata


def test_two_primaries_on_the_newest_timeline_are_rivals():
    observations = {2: seen(2, in_recovery=False, tli=2), 3: seen(3, in_recovery=False, tli=2, lsn="0/9000000")}
    copy3 = (record(1, "primary", active=False), record(2), record(3, "primary"))
    truth = primary.cluster_truth(observations, {2: AFTER, 3: copy3})
    assert truth.rival_ids and {truth.primary_id} | set(truth.rival_ids) == {2, 3}


def test_active_primary_needs_exactly_one_active_primary_record():
    assert primary.active_primary(BEFORE).node_id == 1
    assert primary.active_primary((record(1, "primary", active=False), record(2))) is None
    assert primary.active_primary((record(1, "primary"), record(2, "primary"))) is None


# -- a whole cluster stopped: the primary from the data directories ---------------------------------

def stopped(standby=False, state=None, timeline=1, lsn="0/3000060"):
    from ansible_collections.pgha.repmgr.plugins.module_utils.records import lsn_from_text

    state = state or ("shut down in recovery" if standby else "shut down")
    return dict(standby=standby, state=state, clean=state.startswith("shut down"), timeline=timeline,
                lsn=lsn_from_text(lsn), lsn_text=lsn)


def test_a_cleanly_stopped_cluster_restarts_from_its_primary():
    nodes = dict(node1=stopped(), node2=stopped(standby=True), node3=stopped(standby=True))
    assert primary.primary_of_stopped_cluster(nodes) == "node1"
    assert primary.primary_of_stopped_cluster({}) is None


def test_a_crashed_primary_with_no_newer_timeline_is_the_primary():
    """pg_ctl -m immediate stop of every node: the primary is 'in production', and still the primary."""
    nodes = dict(node1=stopped(state="in production"), node2=stopped(standby=True, state="in archive recovery"),
                 node3=stopped(standby=True, state="in archive recovery"))
    assert primary.primary_of_stopped_cluster(nodes) == "node1"


def test_after_a_failover_the_newest_timeline_decides_and_a_clean_former_primary_is_stale():
    nodes = dict(node1=stopped(timeline=1, lsn="0/5000000"), node2=stopped(timeline=2),
                 node3=stopped(standby=True, timeline=2))
    assert primary.primary_of_stopped_cluster(nodes) == "node2"


@pytest.mark.parametrize("nodes, reason", [
    (dict(node1=stopped(), node2=stopped()), "node1 and node2 were all primaries on the newest timeline 1"),
    (dict(node1=stopped(standby=True), node2=stopped(standby=True)), "no node was a primary on the newest timeline"),
    (dict(node1=stopped(lsn="0/3000060"), node2=stopped(standby=True, lsn="0/4000000")),
     "node2 received WAL past node1's end (0/3000060): a standby is ahead of the primary"),
    (dict(node1=stopped(state="in production", timeline=1), node2=stopped(timeline=2)),
     "node1, a primary of an older timeline, did not shut down cleanly"),
], ids=["two-primaries", "no-primary", "standby-ahead", "unclean-stale-primary"])
def test_an_ambiguous_stopped_cluster_is_refused_with_what_each_node_holds(nodes, reason):
    with pytest.raises(PreconditionFailed) as error:
        primary.primary_of_stopped_cluster(nodes)
    assert reason in str(error.value)
    assert "Nothing was started. What each node holds: node1: " in str(error.value)


def test_after_a_crash_of_every_node_the_standbys_recovery_points_may_pass_the_primarys_last_checkpoint():
    """pg_ctl -m immediate stop: the primary's pg_controldata shows its last checkpoint, not its WAL's end."""
    nodes = dict(node1=stopped(state="in production", lsn="0/2000110"),
                 node2=stopped(standby=True, state="in archive recovery", lsn="0/20001B0"),
                 node3=stopped(standby=True, state="in archive recovery", lsn="0/3000050"))
    assert primary.primary_of_stopped_cluster(nodes) == "node1"


# -- a primary stopped while its standbys run ---------------------------------------------------------

def test_a_primary_stopped_for_maintenance_is_named_by_its_running_standbys():
    from ansible_collections.pgha.repmgr.plugins.module_utils.cluster import recorded_primary_of_standbys

    records = (record(1, "primary", upstream=None), record(2), record(3))
    seen_there = {1: down(1), 2: seen(2, tli=1), 3: seen(3, tli=1)}
    results = dict(node2=view(records, seen_there), node3=view(records, seen_there))
    assert recorded_primary_of_standbys(results) == ("node1", (1, 1))
    # the recorded primary answers (as a primary or not): nothing to testify for
    primary_answers = {**seen_there, 1: seen(1, in_recovery=False)}
    assert recorded_primary_of_standbys(dict(node2=view(records, primary_answers))) == (None, ())
    # after a failover node3's copy records node2 as the primary: the copies disagree
    failed_over = (record(1, "primary", upstream=None, active=False), record(2, "primary", upstream=None),
                   record(3, upstream=2))
    assert recorded_primary_of_standbys(dict(node3=view(failed_over, seen_there), node2=view(records, seen_there))
                                        ) == (None, ())
    assert recorded_primary_of_standbys({"node2": {"failed": True}}) == (None, ())


def test_the_standbys_testimony_holds_only_when_the_data_directories_agree():
    stopped_primary = dict(node1=stopped())
    assert primary.primary_beside_running_standbys(stopped_primary, "node1", (1, 1)) == "node1"
    assert primary.primary_beside_running_standbys(stopped_primary, None, (1,)) is None
    # a running standby on a newer timeline: some other node was promoted since
    assert primary.primary_beside_running_standbys(stopped_primary, "node1", (1, 2)) is None
    # node1 recorded, but a stopped node2 is the primary of a newer timeline
    newer = dict(node1=stopped(timeline=1), node2=stopped(timeline=2))
    assert primary.primary_beside_running_standbys(newer, "node1", (1,)) is None
    with pytest.raises(PreconditionFailed):
        primary.primary_beside_running_standbys(dict(node1=stopped(), node2=stopped()), "node1", (1,))
