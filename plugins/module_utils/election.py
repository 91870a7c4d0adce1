# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Who becomes the new primary when the primary is lost: repmgr's election, as pure functions.

repmgrd runs the election on every standby independently (do_election in repmgrd-physical.c);
here it runs once, on what every survivor saw, so all decide the same. Each rule is one named
function, table-tested without a database, applied in repmgr's order:

1. outcome_without_election: the failover may already be done, or half done (a node promoted
   by an earlier run that was interrupted): then it is adopted, never a second promotion.
2. location_gate: some node of the failed primary's location must answer, else it is taken for
   a network split (repmgr: "no nodes from the primary location visible").
3. visibility_consensus: a survivor that still sees the primary, from fresh evidence only,
   cancels (repmgr's primary_visibility_consensus, always on here: repmgr#821). Only survivors
   that streamed from the failed primary itself count; a cascaded standby's view does not.
4. has_quorum: the survivors that answered must be a strict majority of the nodes that had the
   failed primary as upstream (standbys and the witness).
5. rank_candidates: repmgr's order: furthest received WAL, then higher priority, then lower
   node ID. Priority 0 and the witness never win. Location is a gate, never a rank: ranking by
   it could pick a less advanced standby and lose acknowledged commits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.nodeview import NodeView
from ansible_collections.pgha.repmgr.plugins.module_utils.primary import Truth, active_primary, truth_from_views
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeType,
    describe,
    furthest_lsn,
    lsn_to_text,
)

WON = "won"  # promote the winner
ADOPT = "adopt"  # a node already runs as the new primary: finish its metadata and the follows
DONE = "done"  # the failover already happened: nothing to do
CANCELLED = "cancelled"  # no failover, and why


@dataclass(frozen=True)
class Candidate:
    record: object  # NodeRecord
    observation: object  # NodeObservation

    @property
    def lsn(self) -> int:
        return furthest_lsn(self.observation.received_lsn, self.observation.replayed_lsn)

    def as_dict(self) -> dict:
        return dict(node_id=self.record.node_id, node_name=self.record.node_name, location=self.record.location,
                    priority=self.record.priority, lsn=lsn_to_text(self.lsn))


@dataclass(frozen=True)
class Sighting:
    """Whether one survivor still sees the failed primary, and from what evidence."""

    sees: bool
    evidence: str = ""


@dataclass(frozen=True)
class Election:
    outcome: str  # WON, ADOPT, DONE or CANCELLED
    reason: str
    winner: Optional[Candidate] = None
    ranking: tuple = ()
    excluded: dict = field(default_factory=dict)  # node_name -> why it is no candidate
    followers: tuple = ()  # standby names that follow the winner
    witnesses: tuple = ()  # witness names refreshed from the winner
    catch_up_from: Optional[str] = None  # a survivor with more WAL than the winner (priority 0)

    @property
    def candidates(self) -> list:
        """The nodes to try, in order: a failed winner means the next one (it is the best of the rest)."""
        if self.ranking:
            return [c.record.node_name for c in self.ranking]
        return [self.winner.record.node_name] if self.winner else []

    def as_dict(self) -> dict:
        return dict(outcome=self.outcome, reason=self.reason,
                    winner=self.winner.as_dict() if self.winner else None,
                    ranking=[c.as_dict() for c in self.ranking], candidates=self.candidates,
                    excluded=dict(self.excluded), followers=list(self.followers), witnesses=list(self.witnesses),
                    catch_up_from=self.catch_up_from)


def siblings(records, failed_primary):
    """Active nodes that had the failed primary as upstream (standbys and the witness), by node_id."""
    return sorted((r for r in records if r.active and r.node_id != failed_primary.node_id
                   and r.upstream_node_id == failed_primary.node_id), key=lambda r: r.node_id)


def sees_primary(own, about_failed, failed_primary, fresh_within):
    """Sighting of one survivor (pure): `own` its NodeView of itself, `about_failed` its NodeView of the primary.

    Fresh evidence only: the survivor opened a session to the primary just now (or the primary
    answered and refused it: it is alive), or its WAL receiver got a message from the primary
    within `fresh_within` seconds. A WAL receiver says "streaming" long after its upstream froze
    (until wal_receiver_timeout), so that status alone is no evidence.
    """
    if about_failed is not None and about_failed.reachability in ("connected", "rejected"):
        return Sighting(True, "it can still open a session to %s" % failed_primary.node_name)
    if own is None:
        return Sighting(False)
    streams_from_failed = own.wal_receiver_upstream_node_id == failed_primary.node_id
    age = own.wal_receiver_last_msg_age
    if streams_from_failed and age is not None and age < fresh_within:
        return Sighting(True, "its WAL receiver heard from %s %.1f s ago" % (failed_primary.node_name, age))
    return Sighting(False)


def location_gate(visible, failed_primary):
    """None when some answering survivor is in the failed primary's location, else the reason to cancel."""
    if any(r.location == failed_primary.location for r in visible):
        return None
    return ('no node in the primary\'s location "%s" answered: assuming a network split'
            % failed_primary.location)


def visibility_consensus(sightings):
    """None when no survivor sees the primary, else the reason to cancel.

    `sightings`: {node_name: Sighting} of the survivors that had the failed primary as upstream.
    """
    seen_by = sorted(name for name, sighting in sightings.items() if sighting.sees)
    if seen_by:
        return "the primary is still visible from %s (%s): not a failure of the primary (network split?)" % (
            ", ".join(seen_by), "; ".join("%s: %s" % (n, sightings[n].evidence) for n in seen_by))
    return None


def pause_gate(paused_on):
    """No failover while automatic failover is paused (repmgr service pause), whatever else holds.

    `paused_on`: the survivors whose own copy of the metadata says it is paused. One is enough:
    the switch is written on the primary and replicated, so a copy that does not show it yet
    only lags; a DBA's pause is never overruled by a lagging copy.
    """
    if paused_on:
        return ("automatic failover is paused (as the metadata of %s says): nothing is done until "
                "pgha.repmgr.unpause" % ", ".join(sorted(paused_on)))
    return None


def has_quorum(visible_count, sharing_count):
    """repmgr's rule: the visible nodes must be more than half of those that shared the upstream."""
    return visible_count > sharing_count / 2.0


def exclusion_reason(record, observation):
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
    """Best first: furthest WAL, higher priority, lower node ID (repmgr's order)."""
    return sorted(candidates, key=lambda c: (-c.lsn, -c.record.priority, c.record.node_id))


def why_first(ranking):
    """One line a DBA can check: what put the winner ahead of the runner-up."""
    if len(ranking) == 1:
        return "the only candidate"
    first, second = ranking[0], ranking[1]
    if first.lsn != second.lsn:
        return "furthest WAL (%s > %s)" % (lsn_to_text(first.lsn), lsn_to_text(second.lsn))
    if first.record.priority != second.record.priority:
        return "same WAL, higher priority (%d > %d)" % (first.record.priority, second.record.priority)
    return "same WAL and priority, lower node ID"


def followers_of(records, observations, failed_primary, new_primary_id):
    """(standbys, witnesses) that must follow the new primary: answering nodes whose upstream was the failed one.

    Priority 0 standbys are never promoted but do follow.
    """
    standbys, witnesses = [], []
    for record in siblings(records, failed_primary):
        observation = observations.get(record.node_id)
        if record.node_id == new_primary_id or observation is None or not observation.connected:
            continue
        if record.type == NodeType.WITNESS.value:
            witnesses.append(record.node_name)
        elif record.type == NodeType.STANDBY.value and observation.in_recovery:
            standbys.append(record.node_name)
    return tuple(standbys), tuple(witnesses)


def outcome_without_election(truth: Truth, failed_primary, observations):
    """DONE, ADOPT or CANCELLED when the state of the cluster decides before any election; None otherwise."""
    if truth.rival_ids:
        names = ", ".join(describe(truth.record(n)) if truth.record(n) else str(n)
                          for n in (truth.primary_id,) + truth.rival_ids)
        return Election(CANCELLED, "split brain: %s run as primary on timeline %s; fence all but one first"
                        % (names, truth.timeline))
    if truth.primary_id == failed_primary.node_id:
        return Election(CANCELLED, "node %s runs as the primary (it answered a survivor): not failed"
                        % describe(failed_primary))
    standbys, witnesses = followers_of(truth.records, observations, failed_primary, truth.primary_id)
    if truth.primary_id is not None:
        live = truth.record(truth.primary_id)
        live_name = live.node_name if live else "node ID %d" % truth.primary_id
        registered = active_primary(truth.records)
        if registered is not None and registered.node_id == truth.primary_id and not standbys and not witnesses:
            return Election(DONE, "node %s is already the primary (timeline %s): nothing to fail over"
                            % (describe(live) if live else live_name, truth.timeline))
        winner = Candidate(live, observations.get(truth.primary_id)) if live else None
        return Election(ADOPT, "node %s already runs as the primary on timeline %s (promoted by an earlier run): "
                               "finishing its metadata and the follows" % (live_name, truth.timeline),
                        winner=winner, followers=standbys, witnesses=witnesses)
    registered = active_primary(truth.records)
    if registered is None or registered.node_id != failed_primary.node_id:
        return Election(CANCELLED, 'node %s is not the active primary in the metadata (it is %s %s): nothing to '
                                   "fail over" % (describe(failed_primary),
                                                  "an active" if failed_primary.active else "an inactive",
                                                  failed_primary.type))
    return None


def elect(records, observations, failed_primary, sightings):
    """The election proper (the failed node is the active primary and nobody runs as one)."""
    sharing = siblings(records, failed_primary)
    visible = [r for r in sharing if observations.get(r.node_id) is not None and observations[r.node_id].connected]
    excluded, candidates = {}, []
    for record in sharing:
        observation = observations.get(record.node_id)
        reason = exclusion_reason(record, observation)
        if reason:
            excluded[record.node_name] = reason
        else:
            candidates.append(Candidate(record, observation))
    for check in (location_gate(visible, failed_primary),
                  visibility_consensus({name: s for name, s in sightings.items()
                                        if name in {r.node_name for r in sharing}})):
        if check:
            return Election(CANCELLED, check, excluded=excluded)
    if not has_quorum(len(visible), len(sharing)):
        return Election(CANCELLED, "only %d of the %d nodes that followed %s answered: no majority (network split?)"
                        % (len(visible), len(sharing), failed_primary.node_name), excluded=excluded)
    if not candidates:
        return Election(CANCELLED, "no standby can be promoted (%s)"
                        % (", ".join("%s: %s" % item for item in sorted(excluded.items())) or "none followed the primary"),
                        excluded=excluded)
    ranking = tuple(rank_candidates(candidates))
    winner = ranking[0]
    standbys, witnesses = followers_of(records, observations, failed_primary, winner.record.node_id)
    return Election(WON, 'node "%s" (ID: %d) wins: %s' % (winner.record.node_name, winner.record.node_id,
                                                          why_first(ranking)),
                    winner=winner, ranking=ranking, excluded=excluded, followers=standbys, witnesses=witnesses,
                    catch_up_from=catch_up_source(sharing, observations, winner))


def catch_up_source(sharing, observations, winner):
    """The answering standby with more WAL than the winner (one that may not be promoted), or None.

    The winner streams the missing WAL from it before it is promoted, so that what that standby
    acknowledged is not lost.
    """
    best = None
    for record in sharing:
        observation = observations.get(record.node_id)
        if (record.type != NodeType.STANDBY.value or record.node_id == winner.record.node_id
                or observation is None or not observation.connected or not observation.in_recovery):
            continue
        lsn = furthest_lsn(observation.received_lsn, observation.replayed_lsn)
        if lsn > winner.lsn and (best is None or lsn > best[0]):
            best = (lsn, record.node_name)
    return best[1] if best else None


def elect_from_views(views, failed_node, fresh_within):
    """The election over what each survivor's repmgr_cluster_info saw (pure).

    `views`: {node_name: result of pgha.repmgr.repmgr_cluster_info run against that node}
    (failed or skipped runs are survivors that could not be read). `failed_node`: the failed
    primary's node ID or name. `fresh_within`: seconds within which a survivor's WAL receiver
    must have heard from the primary to count as seeing it (the monitor's reconnect_interval).
    Returns Election.as_dict() plus failed_node_id, failed_node_name and voting_term (the
    highest term any survivor holds; the promotion raises it from there).
    """
    rows_by_node = {name: [NodeView.from_dict(row) for row in view["nodes"]]
                    for name, view in views.items() if isinstance(view, dict) and view.get("nodes")}
    extra = dict(failed_node_id=None, failed_node_name=None, voting_term=None, live_primary=None)
    if not rows_by_node:
        return dict(Election(CANCELLED, "no survivor could be read: nothing is known, nothing is done").as_dict(),
                    **extra)
    truth, observations = truth_from_views(rows_by_node)
    failed = next((r for r in truth.records if failed_node in (r.node_id, r.node_name, str(r.node_id))), None)
    if failed is None:
        return dict(Election(CANCELLED, "node %s is not in the metadata (known: %s)"
                             % (failed_node, ", ".join(describe(r) for r in truth.records))).as_dict(), **extra)
    live = truth.record(truth.primary_id) if truth.primary_id is not None else None
    paused = pause_gate([name for name, rows in rows_by_node.items()
                         if any(row.node_name == name and row.failover_paused for row in rows)])
    extra.update(failed_node_id=failed.node_id, failed_node_name=failed.node_name,
                 live_primary=live.node_name if live else None,
                 voting_term=max([row.voting_term for rows in rows_by_node.values() for row in rows
                                  if row.voting_term is not None] or [None], key=lambda t: t or 0))
    if paused:
        return dict(Election(CANCELLED, paused).as_dict(), **extra)
    sightings = {}
    for name, rows in rows_by_node.items():
        own = next((row for row in rows if row.node_name == name), None)
        about_failed = next((row for row in rows if row.node_id == failed.node_id), None)
        sightings[name] = sees_primary(own, about_failed, failed, fresh_within)
    decided = outcome_without_election(truth, failed, observations)
    if decided is not None and truth.primary_id == failed.node_id:
        decided = Election(CANCELLED, visibility_consensus(sightings) or decided.reason)
    if decided is None:
        decided = elect(truth.records, observations, failed, sightings)
    return dict(decided.as_dict(), **extra)
