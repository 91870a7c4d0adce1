# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster as one view: metadata records + probes + cluster-show status.

Used by repmgr_cluster_info, and by every module that needs to know who the primary is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils import connection, metadata, probe, replication, status
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    ConnectionFailed,
    InvalidOption,
    MetadataMissing,
    PreconditionFailed,
)
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeType, lsn_to_text


@dataclass(frozen=True)
class ClusterView:
    records: tuple
    observations: dict
    show: object  # status.ClusterShow

    def record(self, node_id):
        for record in self.records:
            if record.node_id == node_id:
                return record
        return None

    def record_by_name(self, node_name):
        for record in self.records:
            if record.node_name == node_name:
                return record
        return None

    def running_primaries(self):
        """Records of active, non-witness nodes that answer and are not in recovery."""
        result = []
        for record in self.records:
            obs = self.observations.get(record.node_id)
            if record.type == NodeType.WITNESS.value or obs is None or not obs.connected:
                continue
            if obs.in_recovery is False:
                result.append(record)
        return result


def read_view(conn, password=None, timeout=5, secrets=()):
    """Read the metadata through `conn`, probe every node, compute cluster show."""
    metadata.require_metadata(conn)
    records = tuple(metadata.read_nodes(conn))
    if not records:
        raise MetadataMissing("no node records were found in repmgr.nodes (database %s)" % conn.info.dbname)
    observations = probe.probe_nodes(records, password=password, timeout=timeout, secrets=secrets)
    # status.py prints conninfo as given: hand it masked copies (records should hold no password,
    # but one typed there by hand must not reach any output).
    masked = [replace(r, conninfo=conninfo_util.mask(r.conninfo)) for r in records]
    return ClusterView(records, observations, status.cluster_show(masked, observations))


def attachment_text(upstream_observation, node_name):
    """status.attachment()'s verdict on `node_name` as one word for results and checks.

    'attached', 'detached', 'unknown', or the walsender state when it is not streaming.
    """
    if upstream_observation is None:
        return status.Attachment.UNKNOWN.value
    attachment, state = status.attachment(upstream_observation, node_name)
    return state if attachment is status.Attachment.NOT_ATTACHED else attachment.value


def attachment_on(upstream, node_name, password=None, timeout=5, secrets=()):
    """Probe `upstream` now and say whether `node_name` streams from it (attachment_text)."""
    seen = probe.probe_nodes([upstream], password, timeout, secrets)[upstream.node_id]
    return attachment_text(seen, node_name)


def node_attachment(view, record):
    """Attachment of a standby to its recorded upstream, as text (None for other nodes)."""
    if record.type != NodeType.STANDBY.value or record.upstream_node_id is None:
        return None
    return attachment_text(view.observations.get(record.upstream_node_id), record.node_name)


def node_summaries(view):
    """One dict per node for module results: metadata, status text, what the probe saw."""
    rows = {row.node_id: row for row in view.show.rows}
    nodes = []
    for record in view.records:
        obs = view.observations.get(record.node_id)
        row = rows.get(record.node_id)
        connected = bool(obs and obs.connected)
        nodes.append(dict(
            node_id=record.node_id,
            node_name=record.node_name,
            type=record.type,
            active=record.active,
            status=row.status if row else None,
            # repmgr's cell for an unreachable primary is "? " (trailing blank): give the value, not the padding
            upstream=row.upstream.rstrip() if row else None,
            upstream_node_id=record.upstream_node_id,
            upstream_node_name=record.upstream_node_name,
            location=record.location,
            priority=record.priority,
            timeline=obs.timeline if connected else None,
            reachable=connected,
            reachability=obs.reachability.value if obs else "down",
            in_recovery=obs.in_recovery if connected else None,
            received_lsn=lsn_to_text(obs.received_lsn) if connected else None,
            replayed_lsn=lsn_to_text(obs.replayed_lsn) if connected else None,
            current_lsn=lsn_to_text(obs.current_lsn) if connected else None,
            attached=node_attachment(view, record),
            slot_name=record.slot_name,
            conninfo=conninfo_util.mask(record.conninfo),
            wal_receiver_streaming=obs.wal_receiver_streaming if connected else None,
            wal_receiver_upstream=obs.wal_receiver_upstream if connected else None,
            error=obs.error if obs else None,
        ))
    return nodes


def connect_primary_from(local_conn, primary_conninfo=None, password=None, connect_timeout=5, secrets=()):
    """(primary node id or None, connection): primary_conninfo first, then the local metadata's candidates."""
    candidates = [(None, primary_conninfo)] if primary_conninfo else []
    if local_conn is not None:
        metadata.require_metadata(local_conn, where="the node the module connected to")
        candidates.extend(metadata.primary_candidates(local_conn))
    return connect_primary(candidates, password, connect_timeout, secrets)


def connect_primary(candidates, password=None, connect_timeout=5, secrets=()):
    """Connect to the current primary, repmgr's way (_get_primary_connection).

    `candidates` are (node_id, conninfo) in metadata.SELECT_PRIMARY_CANDIDATES order; the
    first node that answers and is not in recovery wins. Returns (node_id, connection).
    Raises PreconditionFailed listing what was tried when no primary answers.
    """
    tried = []
    for node_id, node_conninfo in candidates:
        try:
            conn = connection.connect(connection.node_conninfo(node_conninfo, password),
                                      connect_timeout=connect_timeout, secrets=secrets)
        except (ConnectionFailed, InvalidOption) as exc:
            tried.append("node %s: %s" % (node_id, exc))
            continue
        if not replication.in_recovery(conn):
            return node_id, conn
        conn.close()
        tried.append("node %s: in recovery" % node_id)
    raise PreconditionFailed(
        "no running primary found among the active nodes of the metadata (%s)" % ("; ".join(tried) or "no candidates")
    )


def choose_live_primary(views):
    """The one live primary's node name from several nodes' repmgr_cluster_info results (pure).

    Each node's metadata may be stale (a former primary restarted on its own still calls itself
    the primary), so every view's "* running" primaries are candidates and the newest timeline
    wins: a promotion always starts a new one. Two candidates on the newest timeline are a split
    brain: raise, and let a human fence one. None when no view shows a running primary.
    """
    candidates = {}
    for view in views:
        for node in (view or {}).get("nodes") or []:
            if node.get("status") == status.STATUS_PRIMARY_RUNNING:
                candidates[node["node_name"]] = max(candidates.get(node["node_name"], 0), node.get("timeline") or 0)
    if not candidates:
        return None
    newest = max(candidates.values())
    on_newest = sorted(name for name, tli in candidates.items() if tli == newest)
    if len(on_newest) > 1:
        raise PreconditionFailed(
            "split brain: %s all run as primary on timeline %d; fence all but one before provisioning"
            % (", ".join(on_newest), newest))
    return on_newest[0]
