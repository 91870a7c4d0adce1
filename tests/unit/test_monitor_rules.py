"""The event source's decisions: argument checks and events on transitions only."""

from __future__ import annotations

import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import monitor, monitor_settings
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption
from builders import down, record, rejected, seen

SETTINGS = monitor_settings.settings_from_args(dict(conninfo="host=node1", cluster="main"))


def test_defaults_are_repmgrs():
    assert (SETTINGS.monitor_interval, SETTINGS.reconnect_attempts, SETTINGS.reconnect_interval,
            SETTINGS.connection_check_type) == (2.0, 6, 10.0, "ping")
    assert SETTINGS.conninfo == ("host=node1",)


@pytest.mark.parametrize(
    "args, message",
    [
        (dict(), "conninfo must be a conninfo string or a list of them"),
        (dict(conninfo=["host=a", ""]), "conninfo must be a conninfo string or a list of them"),
        (dict(conninfo="host=a", monitor_interval=0), "monitor_interval must be more than 0 seconds (got 0.0)"),
        (dict(conninfo="host=a", reconnect_interval="soon"), "reconnect_interval must be a number of seconds"),
        (dict(conninfo="host=a", reconnect_attempts=-1), "reconnect_attempts must be 0 or more (got -1)"),
        (dict(conninfo="host=a", connection_check_type="telepathy"),
         "connection_check_type must be one of ping, connection, query (got 'telepathy')"),
        (dict(conninfo="host=a", connect_timeout=0), "connect_timeout must be at least 1 second (got 0)"),
    ],
)
def test_bad_arguments_name_the_argument(args, message):
    with pytest.raises(InvalidOption) as error:
        monitor_settings.settings_from_args(args)
    assert message in str(error.value)


def test_the_window_is_counted_as_repmgrd_counts_it():
    """Attempt 1 is the failed check: (attempts - 1) more, interval apart."""
    assert SETTINGS.detection_window == 50.0 and monitor.retry_offsets(SETTINGS) == [10, 20, 30, 40, 50]
    quick = monitor_settings.settings_from_args(dict(conninfo="host=a", reconnect_attempts=5, reconnect_interval=1))
    assert quick.detection_window == 4.0 and quick.repeat_interval == 10.0
    assert monitor_settings.settings_from_args(dict(conninfo="host=a", reconnect_attempts=0)).detection_window == 0
    repeat = monitor_settings.settings_from_args(dict(conninfo="host=a", failure_repeat_interval=3)).repeat_interval
    assert repeat == 3.0


RECORDS = (record(1, "primary"), record(2), record(3), record(4, "witness"))


def test_standbys_and_witnesses_that_stop_answering_are_marked_inactive_and_back_active():
    changes = monitor.standby_changes(RECORDS, {1: seen(1, in_recovery=False), 2: seen(2), 3: down(3),
                                                4: rejected(4)}, 1)
    assert [(r.node_name, change) for r, change in changes] == [("node3", "standby_failure")]
    marked = (record(1, "primary"), record(2), record(3, active=False), record(4, "witness", active=False))
    changes = monitor.standby_changes(marked, {2: seen(2), 3: seen(3), 4: seen(4, in_recovery=False)}, 1)
    assert [(r.node_name, change) for r, change in changes] == [("node3", "standby_recovery"),
                                                                ("node4", "standby_recovery")]
    # a failed former primary is no standby; a node with a bad conninfo is skipped
    after = (record(1, "primary", active=False), record(2, "primary"), record(3, upstream=2))
    assert monitor.standby_changes(after, {1: down(1), 3: down(3)}, 2, skip={3}) == []


def test_an_unfinished_failover_is_found():
    from ansible_collections.pgha.repmgr.plugins.module_utils.primary import cluster_truth

    promoted = {1: down(1), 2: seen(2, in_recovery=False, tli=2), 3: seen(3)}
    before = (record(1, "primary"), record(2), record(3))
    truth = cluster_truth(promoted, {2: before, 3: before})
    assert monitor.unfinished_failover(truth, promoted).node_name == "node1"  # the metadata was not written
    half = (record(1, "primary", active=False), record(2, "primary"), record(3))
    truth = cluster_truth(promoted, {2: half, 3: half})
    assert monitor.unfinished_failover(truth, promoted).node_name == "node1"  # node3 did not follow
    done = (record(1, "primary", active=False), record(2, "primary"), record(3, upstream=2))
    assert monitor.unfinished_failover(cluster_truth(promoted, {2: done}), promoted) is None
    cascade = (record(1, "primary"), record(2), record(3, upstream=2))
    healthy = {1: seen(1, in_recovery=False), 2: seen(2), 3: seen(3)}
    assert monitor.unfinished_failover(cluster_truth(healthy, {1: cascade}), healthy) is None
    # node3 still names node1, but it is down: nothing a run could finish now
    assert monitor.unfinished_failover(cluster_truth({1: down(1), 2: seen(2, in_recovery=False, tli=2), 3: down(3)},
                                                     {2: half}), {3: down(3)}) is None


def test_repmgrd_start_texts():
    assert monitor.start_text(RECORDS[0], RECORDS) == 'monitoring cluster primary "node1" (ID: 1)'
    assert monitor.start_text(RECORDS[1], RECORDS) == 'monitoring connection to upstream node "node1" (ID: 1)'
    assert monitor.start_text(RECORDS[3], RECORDS) == 'witness monitoring connection to primary node "node1" (ID: 1)'
    assert monitor.start_text(record(1, "primary", active=False), RECORDS) is None


def test_the_committed_event_rows_are_what_the_notification_command_is_told():
    batch = [(monitor.WRITE_ACTIVE, 3, False),
             (monitor.WRITE_EVENT, 3, "standby_failure", "unable to connect", 1764522000.0),
             (monitor.WRITE_EVENT, 9, "repmgrd_start", "monitoring", 1764522000.0)]
    notes = monitor.committed_notes(batch, RECORDS)
    assert [(n["node_id"], n["node_name"], n["event"], n["successful"]) for n in notes] == \
        [(3, "node3", "standby_failure", True), (9, None, "repmgrd_start", True)]
    assert notes[0]["conninfo"] == RECORDS[2].conninfo and notes[1]["conninfo"] is None
    assert notes[0]["details"] == "unable to connect" and notes[0]["when"] == 1764522000.0
    # event_notifications: only the events listed
    assert [n["event"] for n in monitor.committed_notes(batch, RECORDS, ("repmgrd_start",))] == ["repmgrd_start"]
    assert monitor.committed_notes(batch[:1], RECORDS) == []
