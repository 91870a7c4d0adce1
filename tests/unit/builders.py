"""Plain-data builders shared by the unit tests: records, observations, repmgr_cluster_info rows.

    record(2)                           node2, an active standby of node 1
    record(1, "primary")                node1, the active primary
    seen(2, lsn="0/5000000")            node2 answered, in recovery, at that LSN
    seen(1, in_recovery=False, tli=2)   node1 answered as a primary on timeline 2
    down(3)                             node3 did not answer
    view(records, observations)         the `nodes` rows one repmgr_cluster_info run returns
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils.nodeview import NodeView
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeObservation,
    NodeRecord,
    Reachability,
    lsn_from_text,
)


def record(node_id, node_type="standby", upstream=1, active=True, location="default", priority=None, name=None,
           conninfo="host=10.0.0.%d port=5432 user=repmgr dbname=repmgr", **extra):
    """A repmgr.nodes row: node<ID> on host 10.0.0.<ID>, a standby of node 1 unless said otherwise.

    A primary has no upstream; a witness has priority 0 (as repmgr registers it). `conninfo` may
    hold a %d for the node ID; `extra` sets any other NodeRecord field.
    """
    if node_type == "primary":
        upstream = None
    if priority is None:
        priority = 0 if node_type == "witness" else 100
    fields = dict(node_id=node_id, node_name=name or "node%d" % node_id, type=node_type, upstream_node_id=upstream,
                  active=active, location=location, priority=priority,
                  conninfo=conninfo % node_id if "%d" in conninfo else conninfo,
                  repluser="repmgr", slot_name="repmgr_slot_%d" % node_id)
    fields.update(extra)
    return NodeRecord(**fields)


def seen(node_id, lsn="0/5000000", in_recovery=True, tli=1, receiver_from=None, receiver_age=None, term=1,
         nodes=None, paused=False):
    """A node that answered. A standby received and replayed up to `lsn`; a primary writes at `lsn`.

    receiver_from: the host its WAL receiver streams from; receiver_age: seconds since its last message.
    """
    position = lsn_from_text(lsn)
    return NodeObservation(
        node_id, Reachability.CONNECTED, in_recovery=in_recovery, timeline=tli, current_timeline=tli,
        received_lsn=position if in_recovery else None, replayed_lsn=position if in_recovery else None,
        current_lsn=None if in_recovery else position,
        wal_receiver_streaming=receiver_from is not None if in_recovery else False,
        wal_receiver_upstream=receiver_from, wal_receiver_sender_port=5432 if receiver_from else None,
        wal_receiver_last_msg_age=receiver_age, voting_term=term, nodes=nodes, failover_paused=paused)


def down(node_id):
    return NodeObservation(node_id, Reachability.DOWN, error="connection refused")


def rejected(node_id):
    return NodeObservation(node_id, Reachability.REJECTED, error="FATAL:  sorry, too many clients already")


def view(records, observations, receiver_node_ids=None):
    """The `nodes` rows of one repmgr_cluster_info run: `records` as read there, each node as `observations` saw it.

    receiver_node_ids: {node_id: upstream node_id its WAL receiver streams from}.
    """
    receiver_node_ids = receiver_node_ids or {}
    return {"nodes": [NodeView.build(r, observations.get(r.node_id), status="",
                                     wal_receiver_upstream_node_id=receiver_node_ids.get(r.node_id)).as_dict()
                      for r in records]}
