# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The checks before a planned switchover, as one pure function over the cluster view.

repmgr runs them on the promotion candidate (do_standby_switchover); here the playbook asks
for them first, and nothing changes when one fails.
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, PreconditionFailed
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeType, furthest_lsn

SWITCHOVER_OK = 'node "%s" (ID: %d) promoted to primary, node "%s" (ID: %d) demoted to standby'
DEFAULT_MAX_LAG_BYTES = 16 * 1024 * 1024


def validate(params):
    if params["max_lag_bytes"] < 0:
        raise InvalidOption("max_lag_bytes", "must be 0 or more (got %s)" % params["max_lag_bytes"])


def plan_switchover(view, target_name, max_lag_bytes=DEFAULT_MAX_LAG_BYTES):
    """{old_primary, target, siblings, lag_bytes} or PreconditionFailed naming every problem found."""
    target = view.record_by_name(target_name)
    if target is None:
        raise InvalidOption("new_primary", 'names node "%s", which is not registered (known: %s)'
                            % (target_name, ", ".join(r.node_name for r in view.records)))
    running = view.running_primaries()
    if len(running) != 1:
        raise PreconditionFailed("a switchover needs exactly one running primary; found %s"
                                 % (", ".join(r.node_name for r in running) or "none"))
    old = running[0]
    if old.node_id == target.node_id:
        return dict(already_primary=True, old_primary=dict(node_id=old.node_id, node_name=old.node_name),
                    target=dict(node_id=target.node_id, node_name=target.node_name), siblings=[], lag_bytes=0,
                    event_details=None)
    seen = view.observations.get(target.node_id)
    old_seen = view.observations.get(old.node_id)
    problems = []
    if target.type != NodeType.STANDBY.value or not target.active:
        problems.append("it is registered as %s %s, not an active standby"
                        % ("an active" if target.active else "an inactive", target.type))
    if target.upstream_node_id != old.node_id:
        problems.append('its upstream is node ID %s, not the primary "%s" (ID: %d)'
                        % (target.upstream_node_id, old.node_name, old.node_id))
    if seen is None or not seen.connected or not seen.in_recovery:
        problems.append("it is not running as a standby")
    clients = old_seen.replication or () if old_seen else ()
    mine = [c for c in clients if c.application_name == target.node_name]
    if len(mine) != 1 or mine[0].state not in ("streaming", None):
        problems.append('it is not streaming from "%s" (no walsender in state streaming for it)' % old.node_name)
    lag = None
    if seen is not None and seen.connected and old_seen is not None and old_seen.current_lsn is not None:
        lag = max(0, old_seen.current_lsn - furthest_lsn(seen.received_lsn, seen.replayed_lsn))
        if lag > max_lag_bytes:
            problems.append("it lags %d bytes behind the primary (limit %d)" % (lag, max_lag_bytes))
    siblings = [r for r in view.records if r.type == NodeType.STANDBY.value and r.active
                and r.node_id not in (target.node_id, old.node_id)]
    down = [r.node_name for r in siblings if not view.observations.get(r.node_id) or
            not view.observations[r.node_id].connected]
    if down:
        problems.append("standby %s cannot follow the new primary: not reachable" % ", ".join(down))
    if problems:
        raise PreconditionFailed('switchover to "%s" refused, nothing was changed: %s'
                                 % (target.node_name, "; ".join(problems)))
    return dict(
        already_primary=False,
        old_primary=dict(node_id=old.node_id, node_name=old.node_name),
        target=dict(node_id=target.node_id, node_name=target.node_name),
        siblings=[dict(node_id=r.node_id, node_name=r.node_name) for r in siblings],
        lag_bytes=lag,
        event_details=SWITCHOVER_OK % (target.node_name, target.node_id, old.node_name, old.node_id),
    )
