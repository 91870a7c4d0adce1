"""The node view (a `nodes` row of repmgr_cluster_info) survives the trip through a module result."""

from __future__ import annotations

import json

from builders import down, record, rejected, seen

from ansible_collections.pgha.repmgr.plugins.module_utils.nodeview import NodeView, views_of


def round_trip(row):
    return NodeView.from_dict(json.loads(json.dumps(row.as_dict())))


def test_a_standby_row_round_trips_through_json():
    standby = record(2, location="dc2", priority=50)
    observation = seen(2, lsn="0/5000A28", tli=3, receiver_from="10.0.0.1", receiver_age=0.25, term=7)
    row = NodeView.build(standby, observation, status="  running", upstream="node1", attached="attached",
                         wal_receiver_upstream_node_id=1)
    back = round_trip(row)
    assert back == row
    assert back.record() == standby.__class__(**dict(standby.as_dict(), repluser="", config_file=""))
    # what a module result carries of the probe comes back; what it does not (the node's own copy of
    # the metadata, pg_stat_replication rows, versions) is the probe's private business
    expected = dict(observation.__dict__)
    expected.update(own_record=None, replication=None, system_identifier=None, server_version_num=None,
                    wal_replay_paused=None, nodes=None)
    assert back.observation() == observation.__class__(**expected)


def test_a_node_that_did_not_answer_keeps_only_how_it_failed():
    row = round_trip(NodeView.build(record(3), down(3)))
    assert (row.reachable, row.reachability, row.in_recovery, row.received_lsn) == (False, "down", None, None)
    assert row.observation().error == "connection refused"
    assert round_trip(NodeView.build(record(1, "primary"), rejected(1))).observation().answers


def test_views_of_a_failed_module_run_is_empty_and_unknown_keys_are_ignored():
    assert views_of({"failed": True, "msg": "unreachable"}) == [] and views_of(None) == []
    row = dict(NodeView.build(record(2), seen(2)).as_dict(), added_later="x")
    assert views_of({"nodes": [row]})[0].node_name == "node2"
