# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who the primary is: one rule, used by the monitor, the failover election and the playbooks.

Every node keeps its own copy of repmgr.nodes, and after a failover those copies disagree: a
failed former primary that runs again still names itself the primary; a standby that has not
followed yet still names the old one; a witness keeps the copy it was last given. Taking the
first copy that answers is therefore wrong. The rule:

1. The live primary is the node that runs as a primary (answers, not in recovery, not a
   witness) on the newest timeline. Every promotion starts a new timeline, so a former primary
   running again is always on an older one: it is *stale*.
2. The metadata to trust is the live primary's own copy. With no live primary, it is the copy
   of the non-witness node that has replayed the most of the newest timeline (it has the
   latest replicated rows); the witness's copy only when nothing else answers.
3. The active primary is the one record of that metadata with type primary and active.

Pure: plain data in, plain data out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, PreconditionFailed
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeType, describe, furthest_lsn


@dataclass(frozen=True)
class Truth:
    """What the rule concluded from one round of observations."""

    primary_id: Optional[int]  # the live primary; None when no node runs as a primary
    timeline: Optional[int]  # its timeline
    records: tuple  # the metadata to trust (NodeRecords)
    metadata_from: Optional[int]  # the node whose copy `records` is
    stale_ids: tuple = ()  # nodes running as a primary on an older timeline (failed former primaries)
    rival_ids: tuple = ()  # nodes running as a primary on the same newest timeline: a split brain

    @property
    def active_primary(self):
        return active_primary(self.records)

    def record(self, node_id):
        return next((r for r in self.records if r.node_id == node_id), None)


def active_primary(records):
    """The one active primary record of some metadata; None when there is none, or several."""
    primaries = [r for r in records if r.type == NodeType.PRIMARY.value and r.active]
    return primaries[0] if len(primaries) == 1 else None


def is_witness(node_id, copies, fallback=()):
    """Whether a node is a witness, by any copy of the metadata (or its own record)."""
    for records in list(copies.values()) + [fallback]:
        for record in records or ():
            if record.node_id == node_id:
                return record.type == NodeType.WITNESS.value
    return False


def runs_as_primary(observation):
    """The server answered a session and is not in recovery (a witness must be excluded by the caller)."""
    return bool(observation is not None and observation.connected and observation.in_recovery is False)


def _timeline(observation):
    return observation.current_timeline or observation.timeline or 0


def _names_itself(node_id, copy):
    record = active_primary(copy or ())
    return record is not None and record.node_id == node_id


def cluster_truth(observations, copies, fallback=()):
    """The Truth of one round: `observations` {node_id: NodeObservation}, `copies` {node_id: records}.

    `copies` holds each answering node's own copy of repmgr.nodes; `fallback` is the metadata
    to use when no node's copy could be read.
    """
    running = [node_id for node_id, obs in observations.items()
               if runs_as_primary(obs) and not is_witness(node_id, copies, fallback)]
    primary_id = timeline = None
    stale, rivals = (), ()
    if running:
        timeline = max(_timeline(observations[n]) for n in running)
        newest = [n for n in running if _timeline(observations[n]) == timeline]
        # Two primaries on one timeline only come from promotions outside this collection:
        # prefer the one whose own metadata names it, then the one with more WAL.
        newest.sort(key=lambda n: (not _names_itself(n, copies.get(n)),
                                   -(observations[n].current_lsn or 0), n))
        primary_id = newest[0]
        rivals = tuple(sorted(newest[1:]))
        stale = tuple(sorted(n for n in running if n not in newest))
    source = _metadata_source(primary_id, observations, copies, fallback)
    records = tuple(copies[source]) if source is not None else tuple(fallback)
    return Truth(primary_id=primary_id, timeline=timeline, records=records, metadata_from=source,
                 stale_ids=stale, rival_ids=rivals)


def _metadata_source(primary_id, observations, copies, fallback):
    """The node whose copy of repmgr.nodes to trust (rule 2); None: use the fallback."""
    readable = [n for n, copy in copies.items() if copy]
    if primary_id in readable:
        return primary_id
    non_witness = [n for n in readable if not is_witness(n, copies, fallback)]

    def freshness(node_id):
        obs = observations.get(node_id)
        if obs is None or not obs.connected:
            return (0, 0, -node_id)
        return (_timeline(obs), furthest_lsn(obs.received_lsn, obs.replayed_lsn, obs.current_lsn), -node_id)

    if non_witness:
        return max(non_witness, key=freshness)
    return readable[0] if readable else None


def truth_from_views(views_by_node):
    """cluster_truth() over several nodes' repmgr_cluster_info results: (Truth, observations).

    `views_by_node`: {node_name: [NodeView, ...]}, the rows read through each node (its own
    metadata copy, and what it saw of every node). A node's state is taken from its own view
    when it has one (it saw itself), else from a view that reached it.
    """
    ids = {}
    for rows in views_by_node.values():
        for row in rows:
            ids.setdefault(row.node_name, row.node_id)
    copies = {ids[name]: tuple(row.record() for row in rows)
              for name, rows in views_by_node.items() if rows and name in ids}
    observations, own = {}, set()
    for name, rows in views_by_node.items():
        for row in rows:
            if row.node_name == name:
                observations[row.node_id] = row.observation()
                own.add(row.node_id)
    for rows in views_by_node.values():
        for row in rows:
            current = observations.get(row.node_id)
            if row.node_id not in own and (current is None or (row.reachable and not current.connected)):
                observations[row.node_id] = row.observation()
    return cluster_truth(observations, copies), observations


def resolve_upstream(records, own_node_id, upstream_node_id=None, upstream_node_name=None, primary_node_id=None):
    """The record a standby streams from: the one asked for (by ID or name), else the active primary.

    Used by registration, follow and rejoin alike. An unknown node, the node itself, or a
    witness is an InvalidOption naming the option; no primary to default to is a
    PreconditionFailed.
    """
    asked = upstream_node_id is not None or upstream_node_name is not None
    option = "upstream_node_id" if upstream_node_id is not None else "upstream_node_name"
    if asked:
        upstream = next((r for r in records if (upstream_node_id is not None and r.node_id == upstream_node_id)
                         or (upstream_node_id is None and r.node_name == upstream_node_name)), None)
        if upstream is None:
            value = upstream_node_id if upstream_node_id is not None else '"%s"' % upstream_node_name
            raise InvalidOption(option, "names node %s, which is not registered (known: %s)"
                                % (value, ", ".join(describe(r) for r in records) or "none"))
    else:
        if primary_node_id is None:
            record = active_primary(records)
            primary_node_id = record.node_id if record is not None else None
        upstream = next((r for r in records if r.node_id == primary_node_id), None)
        if upstream is None:
            raise PreconditionFailed("there is no current primary to stream from (primary node ID %s has no record)"
                                     % primary_node_id)
    if upstream.node_id == own_node_id:
        raise InvalidOption(option, "names the node itself (%s): a node cannot follow itself" % describe(upstream))
    if upstream.type == NodeType.WITNESS.value:
        raise InvalidOption(option, "names witness %s: a witness cannot be an upstream" % describe(upstream))
    return upstream


# -- a whole cluster that is stopped ----------------------------------------------------------------

def describe_stopped(name, node):
    return "%s: %s, %s, timeline %s, WAL to %s" % (
        name, "standby" if node["standby"] else "primary", node["state"], node["timeline"], node["lsn_text"])


def primary_of_stopped_cluster(nodes):
    """The node to start as the primary when no node of the cluster runs, from the data directories alone.

    `nodes`: {name: dict(standby=bool (standby.signal), state=pg_controldata's cluster state,
    clean=bool, timeline=int, lsn=int, lsn_text=str)}. The one node that was a primary (no
    standby.signal) on the newest timeline is the primary, unless it shut down cleanly and a
    standby of that timeline holds WAL past its end, or a primary of an older timeline did not
    shut down cleanly (it may have taken writes after the promotion that made the newer timeline). A standby starts whatever
    the primary's state. Returns None when no node holds a data directory; anything ambiguous
    raises PreconditionFailed listing what each node holds, before anything is started.
    """
    if not nodes:
        return None
    newest = max(node["timeline"] for node in nodes.values())
    on_newest = sorted(name for name, node in nodes.items() if not node["standby"] and node["timeline"] == newest)
    problems = []
    if len(on_newest) != 1:
        problems.append("%s on the newest timeline %d" % (
            "no node was a primary" if not on_newest else "%s were all primaries" % " and ".join(on_newest), newest))
    elif nodes[on_newest[0]]["clean"]:
        # A clean shutdown ends the primary's WAL at its shutdown checkpoint. After a crash its
        # WAL goes on past its last checkpoint, and a standby only holds what the primary had
        # written and sent: it cannot be ahead then, and pg_controldata cannot tell the end.
        chosen = nodes[on_newest[0]]
        ahead = sorted(name for name, node in nodes.items()
                       if node["standby"] and node["timeline"] == newest and node["lsn"] > chosen["lsn"])
        if ahead:
            problems.append("%s received WAL past %s's end (%s): a standby is ahead of the primary"
                            % (", ".join(ahead), on_newest[0], chosen["lsn_text"]))
    unclean_stale = sorted(name for name, node in nodes.items()
                           if not node["standby"] and node["timeline"] < newest and not node["clean"])
    if unclean_stale:
        problems.append("%s, a primary of an older timeline, did not shut down cleanly while a newer timeline exists "
                        "(it may hold writes the newer one lacks)" % ", ".join(unclean_stale))
    if problems:
        holdings = "; ".join(describe_stopped(name, nodes[name]) for name in sorted(nodes))
        raise PreconditionFailed("the cluster is stopped and its data directories do not say which node is the "
                                 "primary: %s. Nothing was started. What each node holds: %s"
                                 % ("; ".join(problems), holdings))
    return on_newest[0]


def primary_beside_running_standbys(stopped_nodes, recorded_primary, standby_timelines):
    """The stopped node to start as the primary while (only) standbys run, or None when it is not proven.

    A primary stopped for maintenance while its standbys stay up: every running standby's copy of
    repmgr.nodes still records it as the active primary (`recorded_primary`, the one name they
    all agree on, or None). A failover would have rewritten that record on the new primary and
    the standbys that follow it replicate the change, so the record is the standbys' testimony.
    It is believed only when the data directories agree: among the stopped nodes the same rule
    as a whole stopped cluster picks that node (ambiguity raises, listing what each holds), and
    no running standby is on a newer timeline than it (`standby_timelines`).
    """
    if recorded_primary is None or recorded_primary not in stopped_nodes:
        return None
    chosen = primary_of_stopped_cluster(stopped_nodes)
    if chosen != recorded_primary:
        return None
    if any(timeline and timeline > stopped_nodes[chosen]["timeline"] for timeline in standby_timelines):
        return None
    return chosen
