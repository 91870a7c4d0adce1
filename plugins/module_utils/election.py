# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who becomes the new primary when the primary is lost: repmgr's election, as pure functions.

repmgrd runs the election on every standby independently (do_election in repmgrd-physical.c);
here it runs once, on data gathered from every survivor, so all decide the same. Each rule is
one named function, table-tested without a database:

- visibility_consensus: if any survivor still sees the primary (a connection, or a WAL receiver
  that still streams from it), the primary is not lost: no failover (repmgr's
  primary_visibility_consensus, on by default here: repmgr#821).
- has_quorum: the survivors that answered must be a strict majority of the nodes that shared
  the failed primary as upstream (repmgr counts the witness and the standbys).
- location: some node of the failed primary's location must have answered, else it is taken
  for a network split.
- eligibility: an active standby whose upstream was the failed primary, that answered and is in
  recovery, with priority > 0 (priority 0 is never promoted).
- rank_candidates: repmgr's order; same location as the failed primary first, then the furthest
  received WAL, then the higher priority, then the lower node ID.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeObservation,
    NodeRecord,
    NodeType,
    Reachability,
    furthest_lsn,
    lsn_from_text,
    lsn_to_text,
)

WON = "won"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Candidate:
    record: object  # NodeRecord
    observation: object  # NodeObservation
    same_location: bool

    @property
    def lsn(self) -> int:
        return furthest_lsn(self.observation.received_lsn, self.observation.replayed_lsn)

    def as_dict(self) -> dict:
        return dict(node_id=self.record.node_id, node_name=self.record.node_name, location=self.record.location,
                    priority=self.record.priority, lsn=lsn_to_text(self.lsn), same_location=self.same_location)


@dataclass(frozen=True)
class Election:
    outcome: str  # WON or CANCELLED
    reason: str
    winner: Optional[Candidate] = None
    ranking: tuple = ()
    excluded: dict = field(default_factory=dict)  # node_name -> why it is no candidate

    def as_dict(self) -> dict:
        return dict(outcome=self.outcome, reason=self.reason,
                    winner=self.winner.as_dict() if self.winner else None,
                    ranking=[c.as_dict() for c in self.ranking], excluded=dict(self.excluded))


def siblings(records, failed_primary):
    """Active nodes that streamed from the failed primary (standbys and the witness), by node_id."""
    return sorted((r for r in records if r.active and r.node_id != failed_primary.node_id
                   and r.upstream_node_id == failed_primary.node_id), key=lambda r: r.node_id)


def visibility_consensus(sightings):
    """None when no survivor sees the primary, else the reason to cancel.

    `sightings`: {node_name: (sees_primary, streams_from_primary)} for every survivor that
    answered: sees_primary = it can still connect to the primary; streams_from_primary = its
    WAL receiver is still streaming from it.
    """
    seen_by = sorted(name for name, (sees, streams) in sightings.items() if sees or streams)
    if seen_by:
        return "the primary is still visible from %s: not a failure of the primary (network split?)" % \
            ", ".join(seen_by)
    return None


def has_quorum(visible_count, sharing_count):
    """repmgr's rule: the visible nodes must be more than half of those that shared the upstream."""
    return visible_count > sharing_count / 2.0


def exclusion_reason(record, observation, failed_primary):
    """Why a sibling cannot be promoted, or None when it can."""
    if record.type == NodeType.WITNESS.value:
        return "witness"
    if record.type != NodeType.STANDBY.value:
        return "registered as %s" % record.type
    if record.priority <= 0:
        return "priority %d (never promoted)" % record.priority
    if observation is None or not observation.connected:
        return "did not answer"
    if not observation.in_recovery:
        return "not in recovery (already a primary?)"
    return None


def rank_candidates(candidates):
    """Best first: same location, furthest WAL, higher priority, lower node ID."""
    return sorted(candidates, key=lambda c: (not c.same_location, -c.lsn, -c.record.priority, c.record.node_id))


def elect(records, observations, failed_primary, sightings):
    """The election over the survivors' observations; an Election saying who won or why none did."""
    sharing = siblings(records, failed_primary)
    excluded, candidates = {}, []
    for record in sharing:
        observation = observations.get(record.node_id)
        reason = exclusion_reason(record, observation, failed_primary)
        if reason:
            excluded[record.node_name] = reason
        else:
            candidates.append(Candidate(record, observation, record.location == failed_primary.location))
    cancel = visibility_consensus(sightings)
    if cancel:
        return Election(CANCELLED, cancel, excluded=excluded)
    visible = [r for r in sharing if observations.get(r.node_id) is not None and observations[r.node_id].connected]
    if not has_quorum(len(visible), len(sharing)):
        return Election(CANCELLED, "only %d of the %d nodes that followed %s answered: no majority (network split?)"
                        % (len(visible), len(sharing), failed_primary.node_name), excluded=excluded)
    if not any(r.location == failed_primary.location for r in visible):
        # repmgr: no node of the primary's location is visible -> assume a network split, do nothing
        return Election(CANCELLED, 'no node in the primary\'s location "%s" answered: assuming a network split'
                        % failed_primary.location, excluded=excluded)
    if not candidates:
        return Election(CANCELLED, "no standby can be promoted (%s)"
                        % (", ".join("%s: %s" % item for item in sorted(excluded.items())) or "none followed the primary"),
                        excluded=excluded)
    ranking = tuple(rank_candidates(candidates))
    winner = ranking[0]
    return Election(WON, 'node "%s" (ID: %d) wins: %s' % (winner.record.node_name, winner.record.node_id,
                                                          why_first(ranking)),
                    winner=winner, ranking=ranking, excluded=excluded)


def why_first(ranking):
    """One line a DBA can check: what put the winner ahead of the runner-up."""
    if len(ranking) == 1:
        return "the only candidate"
    first, second = ranking[0], ranking[1]
    if first.same_location != second.same_location:
        return "in the failed primary's location"
    if first.lsn != second.lsn:
        return "furthest WAL (%s > %s)" % (lsn_to_text(first.lsn), lsn_to_text(second.lsn))
    if first.record.priority != second.record.priority:
        return "same WAL, higher priority (%d > %d)" % (first.record.priority, second.record.priority)
    return "same WAL and priority, lower node ID"


def elect_from_views(views, failed_node_id):
    """The election over what each survivor's repmgr_cluster_info saw (pure).

    `views`: {node_name: result of pgha.repmgr.repmgr_cluster_info run against that node}
    (failed runs, without `nodes`, are a survivor that could not be read). The metadata comes
    from any view (it is replicated); each node's own state from its own view when there is one;
    "sees the primary" from each survivor's probe of the failed primary, and "still streams" from
    its own WAL receiver. Returns Election.as_dict() plus the failed primary's name.
    """
    readable = {name: view for name, view in views.items() if isinstance(view, dict) and view.get("nodes")}
    if not readable:
        return dict(Election(CANCELLED, "no survivor could be read: nothing is known, nothing is done").as_dict(),
                    failed_node_name=None, failed_node_id=failed_node_id, followers=[])
    rows = next(iter(readable.values()))["nodes"]
    records = [record_from_row(row) for row in rows]
    failed = next((r for r in records if r.node_id == failed_node_id), None)
    if failed is None:
        return dict(Election(CANCELLED, "node ID %s is not in the metadata" % failed_node_id).as_dict(),
                    failed_node_name=None, failed_node_id=failed_node_id, followers=[])
    if failed.type != NodeType.PRIMARY.value or not failed.active:
        # a second event for a failure already handled, or a wrong name: never a second promotion
        return dict(Election(CANCELLED, 'node "%s" (ID: %d) is not the active primary in the metadata (it is %s %s): '
                                        "nothing to fail over" % (failed.node_name, failed.node_id,
                                                                  "an active" if failed.active else "an inactive",
                                                                  failed.type)).as_dict(),
                    failed_node_name=failed.node_name, failed_node_id=failed.node_id, followers=[])
    observations, sightings = {}, {}
    for record in records:
        own_view = readable.get(record.node_name)
        row = _row(own_view, record.node_id) if own_view else None
        if row is None:
            row = next((_row(v, record.node_id) for v in readable.values() if _row(v, record.node_id)), None)
        observations[record.node_id] = observation_from_row(record.node_id, row)
    for name, view in readable.items():
        about_failed = _row(view, failed_node_id) or {}
        own = _row(view, next((r.node_id for r in records if r.node_name == name), -1)) or {}
        sightings[name] = (bool(about_failed.get("reachable")), bool(own.get("wal_receiver_streaming")))
    result = elect(records, observations, failed, sightings)
    return dict(result.as_dict(), failed_node_name=failed.node_name, failed_node_id=failed.node_id,
                followers=followers_of(result, records, observations, failed))


def followers_of(result, records, observations, failed):
    """The standbys that follow the winner: every answering standby of the failed primary but it.

    Priority 0 standbys are never promoted but do follow.
    """
    if result.winner is None:
        return []
    return [r.node_name for r in siblings(records, failed)
            if r.type == NodeType.STANDBY.value and r.node_id != result.winner.record.node_id
            and observations.get(r.node_id) is not None and observations[r.node_id].connected
            and observations[r.node_id].in_recovery]


def _row(view, node_id):
    return next((row for row in (view or {}).get("nodes") or [] if row.get("node_id") == node_id), None)


def record_from_row(row):
    """A NodeRecord from one of repmgr_cluster_info's `nodes` rows."""
    return NodeRecord(node_id=row["node_id"], node_name=row["node_name"], type=row["type"],
                      upstream_node_id=row.get("upstream_node_id"), active=bool(row.get("active")),
                      location=row.get("location") or "default", priority=int(row.get("priority", 100)),
                      slot_name=row.get("slot_name"))


def observation_from_row(node_id, row):
    """A NodeObservation from one of repmgr_cluster_info's `nodes` rows (DOWN when not reachable)."""
    if not row or not row.get("reachable"):
        return NodeObservation(node_id, Reachability.DOWN)
    return NodeObservation(node_id, Reachability.CONNECTED, in_recovery=row.get("in_recovery"),
                           received_lsn=lsn_from_text(row.get("received_lsn")),
                           replayed_lsn=lsn_from_text(row.get("replayed_lsn")),
                           wal_receiver_streaming=row.get("wal_receiver_streaming"))
