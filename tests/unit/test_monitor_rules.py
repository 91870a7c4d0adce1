"""The event source's decisions: argument checks and events on transitions only."""

from __future__ import annotations

import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import monitor
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeObservation, NodeRecord, Reachability

SETTINGS = monitor.settings_from_args(dict(conninfo="host=node1", cluster="main"))


def test_defaults_are_repmgrs():
    assert (SETTINGS.monitor_interval, SETTINGS.reconnect_attempts, SETTINGS.reconnect_interval,
            SETTINGS.connection_check_type) == (2.0, 6, 10.0, "ping")
    assert SETTINGS.detection_window == 60.0
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
        monitor.settings_from_args(args)
    assert message in str(error.value)


def record(node_id, node_type="standby", active=True):
    return NodeRecord(node_id=node_id, node_name="node%d" % node_id, type=node_type, active=active,
                      upstream_node_id=None if node_type == "primary" else 1)


RECORDS = (record(1, "primary"), record(2), record(3))


def up(node_id, in_recovery=True):
    return NodeObservation(node_id, Reachability.CONNECTED, in_recovery=in_recovery)


def down(node_id):
    return NodeObservation(node_id, Reachability.DOWN, error="Connection refused")


def names(events):
    return [(e["repmgr"]["event"], e["repmgr"]["node_name"]) for e in events]


def test_standby_failure_and_recovery_are_reported_once_each():
    watch = monitor.NodeWatch()
    assert watch.transitions(SETTINGS, RECORDS, {2: up(2), 3: up(3)}, 1) == []
    assert names(watch.transitions(SETTINGS, RECORDS, {2: up(2), 3: down(3)}, 1)) == [("standby_failure", "node3")]
    assert watch.transitions(SETTINGS, RECORDS, {2: up(2), 3: down(3)}, 1) == []
    assert names(watch.transitions(SETTINGS, RECORDS, {2: up(2), 3: up(3)}, 1)) == [("node_recovered", "node3")]


def test_a_failed_former_primary_that_comes_back_writable_is_a_stale_primary():
    after_failover = (record(1, "primary", active=False), NodeRecord(node_id=2, node_name="node2", type="primary"),
                      record(3))
    watch = monitor.NodeWatch()
    assert watch.transitions(SETTINGS, after_failover, {1: down(1), 3: up(3)}, 2) == [], \
        "an inactive node that is down is old news"
    stale = watch.transitions(SETTINGS, after_failover, {1: up(1, in_recovery=False), 3: up(3)}, 2)
    assert names(stale) == [("stale_primary", "node1")]
    assert stale[0]["repmgr"]["primary_node_id"] == 2 and stale[0]["repmgr"]["cluster"] == "main"
    assert watch.transitions(SETTINGS, after_failover, {1: up(1, in_recovery=False), 3: up(3)}, 2) == []
    assert watch.transitions(SETTINGS, after_failover, {1: up(1), 3: up(3)}, 2) == [], "rejoined as a standby"


def test_current_primary_needs_exactly_one_active_primary_record():
    assert monitor.current_primary(RECORDS).node_id == 1
    assert monitor.current_primary((record(1, "primary", active=False), record(2))) is None
    assert monitor.current_primary((record(1, "primary"), NodeRecord(node_id=2, node_name="n2", type="primary"))) \
        is None
