# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One node as the cluster's readers pass it around: a `nodes` row of repmgr_cluster_info.

repmgr_cluster_info returns one NodeView per node (the node's metadata record, what the probe
saw, the cluster-show cells); the failover playbook hands those rows to the election, and the
provisioning and rejoin playbooks to the live-primary rule. This module is the one place that
writes and reads that shape, so a field added here reaches every reader, and no decision is
ever taken by matching display text (the status cell is for people, not for code).

Pure: no I/O, no Ansible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeObservation,
    NodeRecord,
    Reachability,
    lsn_from_text,
    lsn_to_text,
)


@dataclass(frozen=True)
class NodeView:
    """One row of repmgr_cluster_info's `nodes` (documented in its RETURN section)."""

    node_id: int
    node_name: str
    type: str
    active: bool
    upstream_node_id: Optional[int]
    upstream_node_name: Optional[str]
    location: str
    priority: int
    slot_name: Optional[str]
    conninfo: str  # masked
    # cluster show's cells, for people
    status: Optional[str] = None
    upstream: Optional[str] = None
    attached: Optional[str] = None
    # what the probe saw
    reachability: str = Reachability.DOWN.value
    reachable: bool = False
    in_recovery: Optional[bool] = None
    timeline: Optional[int] = None
    current_timeline: Optional[int] = None
    received_lsn: Optional[str] = None
    replayed_lsn: Optional[str] = None
    current_lsn: Optional[str] = None
    wal_receiver_streaming: Optional[bool] = None
    wal_receiver_upstream: Optional[str] = None
    wal_receiver_sender_port: Optional[int] = None
    wal_receiver_upstream_node_id: Optional[int] = None  # the node whose host and port the receiver streams from
    wal_receiver_last_msg_age: Optional[float] = None
    voting_term: Optional[int] = None
    failover_paused: Optional[bool] = None  # this node's copy of the pause switch
    error: Optional[str] = None

    @classmethod
    def build(cls, record, observation, status=None, upstream=None, attached=None, masked_conninfo=None,
              wal_receiver_upstream_node_id=None):
        """The row for `record` as `observation` saw it (observation None: never probed)."""
        connected = bool(observation and observation.connected)

        def seen(value):
            return value if connected else None

        return cls(
            node_id=record.node_id,
            node_name=record.node_name,
            type=record.type,
            active=record.active,
            upstream_node_id=record.upstream_node_id,
            upstream_node_name=record.upstream_node_name,
            location=record.location,
            priority=record.priority,
            slot_name=record.slot_name,
            conninfo=masked_conninfo if masked_conninfo is not None else record.conninfo,
            status=status,
            upstream=upstream,
            attached=attached,
            reachability=observation.reachability.value if observation else Reachability.DOWN.value,
            reachable=connected,
            in_recovery=seen(observation.in_recovery) if observation else None,
            timeline=seen(observation.timeline) if observation else None,
            current_timeline=seen(observation.current_timeline) if observation else None,
            received_lsn=lsn_to_text(seen(observation.received_lsn)) if observation else None,
            replayed_lsn=lsn_to_text(seen(observation.replayed_lsn)) if observation else None,
            current_lsn=lsn_to_text(seen(observation.current_lsn)) if observation else None,
            wal_receiver_streaming=seen(observation.wal_receiver_streaming) if observation else None,
            wal_receiver_upstream=seen(observation.wal_receiver_upstream) if observation else None,
            wal_receiver_sender_port=seen(observation.wal_receiver_sender_port) if observation else None,
            wal_receiver_upstream_node_id=seen(wal_receiver_upstream_node_id) if observation else None,
            wal_receiver_last_msg_age=seen(observation.wal_receiver_last_msg_age) if observation else None,
            voting_term=seen(observation.voting_term) if observation else None,
            failover_paused=seen(observation.failover_paused) if observation else None,
            error=observation.error if observation else None,
        )

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, row: dict) -> "NodeView":
        """A row read back (from a module result); unknown keys are ignored, missing ones default."""
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in row.items() if key in known})

    def record(self) -> NodeRecord:
        """The metadata record this row carries (conninfo as shown: masked)."""
        return NodeRecord(node_id=self.node_id, node_name=self.node_name, type=self.type,
                          upstream_node_id=self.upstream_node_id, active=bool(self.active),
                          location=self.location or "default", priority=int(self.priority),
                          conninfo=self.conninfo, slot_name=self.slot_name,
                          upstream_node_name=self.upstream_node_name)

    def observation(self) -> NodeObservation:
        """What the probe saw, as the core's record (the inverse of build for the probe's fields)."""
        reachability = Reachability(self.reachability)
        if reachability is not Reachability.CONNECTED:
            return NodeObservation(self.node_id, reachability, error=self.error)
        return NodeObservation(
            self.node_id, reachability, error=self.error, in_recovery=self.in_recovery, timeline=self.timeline,
            current_timeline=self.current_timeline, received_lsn=lsn_from_text(self.received_lsn),
            replayed_lsn=lsn_from_text(self.replayed_lsn), current_lsn=lsn_from_text(self.current_lsn),
            wal_receiver_streaming=self.wal_receiver_streaming, wal_receiver_upstream=self.wal_receiver_upstream,
            wal_receiver_sender_port=self.wal_receiver_sender_port,
            wal_receiver_last_msg_age=self.wal_receiver_last_msg_age, voting_term=self.voting_term,
            failover_paused=self.failover_paused)


def views_of(result) -> list:
    """The NodeViews of one repmgr_cluster_info result ([] for a failed or skipped run)."""
    if not isinstance(result, dict):
        return []
    return [NodeView.from_dict(row) for row in result.get("nodes") or []]
