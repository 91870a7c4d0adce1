# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Can a node stream from a target? repmgr's check_node_can_attach(), as a pure function.

A node can follow a target only if they are the same system and the node's WAL does not run
past the point where the target's history forked from the node's timeline. Otherwise the
node holds WAL the target never had (typically a former primary that wrote after the
failover): it must be rewound (pg_rewind) before it can rejoin.
"""

from __future__ import annotations

from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import PreconditionFailed
from ansible_collections.pgha.repmgr.plugins.module_utils.records import lsn_from_text, lsn_to_text


def parse_history(text):
    """A timeline history file as [(timeline, switchpoint LSN)], oldest first.

    Each line is "<parent tli>\\t<switchpoint>\\t<reason>": timeline <parent tli> ended at
    <switchpoint>, where the next one began. Comments and blank lines are skipped.
    """
    entries = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        fields = line.split()
        entries.append((int(fields[0]), lsn_from_text(fields[1])))
    return entries


def fork_point(history, timeline) -> Optional[int]:
    """The LSN where `timeline` ended in the target's history; None if it never did."""
    for parent, switchpoint in history:
        if parent == timeline:
            return switchpoint
    return None


def forked_timeline(history, timeline, current):
    """The timeline that began where `timeline` ended (the next entry's, else the current one)."""
    parents = [parent for parent, _switchpoint in history]
    if timeline in parents:
        index = parents.index(timeline)
        if index + 1 < len(parents):
            return parents[index + 1]
    return current


def check_can_follow(node_name, local, target_name, target, history=()):
    """Raise PreconditionFailed with the reason when `local` cannot stream from `target`.

    `history`: parse_history() of the target's current timeline (needed when the target's
    timeline is newer than the node's).
    """
    if local.system_identifier != target.system_identifier:
        raise PreconditionFailed(
            "cannot follow %s: %s belongs to another cluster (system identifier %s, %s has %s)"
            % (target_name, node_name, local.system_identifier, target_name, target.system_identifier)
        )
    if target.timeline < local.timeline:
        raise PreconditionFailed(
            "cannot follow %s: its timeline %d is older than %s's timeline %d (%s was promoted after it); "
            "follow a node on timeline %d or later, or clone %s again"
            % (target_name, target.timeline, node_name, local.timeline, node_name, local.timeline, node_name)
        )
    if target.timeline == local.timeline:
        if local.lsn > target.lsn:
            raise PreconditionFailed(
                "cannot follow %s: %s is ahead of it on timeline %d (%s > %s)"
                % (target_name, node_name, local.timeline, lsn_to_text(local.lsn), lsn_to_text(target.lsn))
            )
        return
    fork = fork_point(history, local.timeline)
    if fork is None:
        raise PreconditionFailed(
            "cannot follow %s: timeline %d of %s is not in %s's history (timeline %d)"
            % (target_name, local.timeline, node_name, target_name, target.timeline)
        )
    if local.lsn > fork:
        raise PreconditionFailed(
            "cannot follow %s: %s has WAL past the fork point of timeline %d (%s > %s); rejoin it with rewind"
            % (target_name, node_name, forked_timeline(history, local.timeline, target.timeline),
               lsn_to_text(local.lsn), lsn_to_text(fork))
        )
