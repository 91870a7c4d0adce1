# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Write one repmgr event, as repmgr's create_event_notification() does: on the primary only."""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils import metadata, replication
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, PreconditionFailed, require_node_id
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome


def validate(params):
    require_node_id(params["node_id"])
    if not (params.get("event") or "").strip():
        raise InvalidOption("event", "must not be empty")


def record_event(params, conn, ctx):
    """The row (and, with increment_voting_term, the next term) in one transaction on the primary."""
    validate(params)
    metadata.require_metadata(conn)
    if replication.in_recovery(conn):
        raise PreconditionFailed("the server the module connected to is in recovery: repmgr events are written on "
                                 "the primary only")
    outcome = Outcome(changed=True, events=[dict(node_id=params["node_id"], event=params["event"],
                                                 details=params.get("details"))],
                      event_timestamp=None, voting_term=None)
    if ctx.check_mode:
        return outcome
    term = None
    with conn.transaction():
        with conn.cursor() as cur:
            if params.get("increment_voting_term"):
                term = metadata.increment_voting_term(cur)
                ctx.log.add(metadata.INCREMENT_VOTING_TERM)
            stamp = metadata.write_event(cur, params["node_id"], params["event"], params["successful"],
                                         params.get("details"))
    ctx.log.add(metadata.INSERT_EVENT)
    outcome.update(event_timestamp=str(stamp), voting_term=term)
    return outcome
