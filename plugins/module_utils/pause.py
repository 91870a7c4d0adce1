# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pause and unpause automatic failover for the whole cluster (repmgr service pause / unpause).

repmgr pauses each node's repmgrd in that node's shared memory. Here the monitor runs apart
from the servers, and any number of monitors may watch one cluster, so the switch lives in the
cluster itself: an event on the primary (metadata.FAILOVER_PAUSED / FAILOVER_UNPAUSED), which
streaming replication copies to every node. Every monitor reads it at each survey, the
election refuses while any survivor's copy shows it, and the promotion reads it once more;
it survives monitor and server restarts, and `repmgr cluster event` lists who paused when.
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster, metadata
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, PreconditionFailed
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome

STATES = ("paused", "unpaused")
PAUSED_TEXT = "automatic failover paused"
UNPAUSED_TEXT = "automatic failover unpaused"


def validate(params):
    if params["state"] not in STATES:
        raise InvalidOption("state", "must be one of %s (got %r)" % (", ".join(STATES), params["state"]))


def event_details(wanted, reason):
    text = PAUSED_TEXT if wanted else UNPAUSED_TEXT
    return "%s: %s" % (text, reason) if reason else text


def set_pause(params, conn, ctx):
    """Write the switch on the primary, found from the node the module connected to; changed only when it flips."""
    validate(params)
    metadata.require_metadata(conn)
    try:
        primary_id, primary = cluster.connect_primary_from(conn, None, ctx.password, ctx.timeout, ctx.secrets)
    except PreconditionFailed as error:
        raise PreconditionFailed("automatic failover is paused and unpaused through the primary (the switch is written "
                                 "in its repmgr.events, which every node replicates), and none answers: %s; nothing "
                                 "was changed. While paused, nothing is failed over automatically: start the primary "
                                 "again, or promote a standby by hand (pgha.repmgr.repmgr_promote), then run this again"
                                 % error)
    try:
        before = metadata.read_pause_state(primary)
        wanted = params["state"] == "paused"
        name = metadata.FAILOVER_PAUSED if wanted else metadata.FAILOVER_UNPAUSED
        details = event_details(wanted, params.get("reason"))
        changed = before["paused"] != wanted
        outcome = Outcome(changed=changed, paused=wanted, was_paused=before["paused"],
                          paused_since=before["since"] if before["paused"] and wanted else None,
                          primary_node_id=primary_id,
                          events=[dict(node_id=primary_id, event=name, details=details)] if changed else [],
                          diff=dict(before=dict(paused=before["paused"]), after=dict(paused=wanted)))
        outcome.msg = ("automatic failover %s" % ("is paused" if wanted else "runs")) + ("" if changed else " already")
        if not changed or ctx.check_mode:
            return outcome
        with primary.transaction():
            with primary.cursor() as cur:
                stamp = metadata.write_event(cur, primary_id, name, True, details)
        ctx.log.add(metadata.INSERT_EVENT)
        if wanted:
            outcome["paused_since"] = str(stamp)
        return outcome
    finally:
        if primary is not conn:
            primary.close()
