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

A primary that died while paused leaves nothing to write the unpause on. repmgr's unpause reaches
each standby's repmgrd; here it is written in each standby's own settings
(metadata.LOCAL_UNPAUSE_SETTING, ALTER SYSTEM: a standby accepts it), which every reader of the
switch counts as a newer unpause, so the monitor reports the lost primary and the failover runs;
the promotion then writes the pgha_failover_unpaused event on the new primary for every node.
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster, connection, metadata, waiting
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    ConnectionFailed, InvalidOption, PreconditionFailed)
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeType, describe

STATES = ("paused", "unpaused")
PAUSED_TEXT = "automatic failover paused"
UNPAUSED_TEXT = "automatic failover unpaused"
# the event the failover's promotion writes when the standbys were unpaused in their own settings
UNPAUSED_ON_STANDBYS_TEXT = UNPAUSED_TEXT + ": on the standbys while no primary answered"
LOCAL_UNPAUSE_WAIT = 10  # seconds for a standby's reload to apply its unpause (pg_reload_conf() is asynchronous)
SELECT_STANDBY_ANSWERS = (
    "SELECT pg_catalog.pg_is_in_recovery(), "
    "(SELECT rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user)"
)
# pg_promote() and pg_ctl promote leave this file in the data directory until the startup process acts on it
# (.size: a row IS NOT NULL only when every field is, and creation is NULL on Unix)
SELECT_PROMOTE_PENDING = "SELECT (pg_catalog.pg_stat_file('promote', true)).size IS NOT NULL"


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
    wanted = params["state"] == "paused"
    try:
        primary_id, primary = cluster.connect_primary_from(conn, None, ctx.password, ctx.timeout, ctx.secrets)
    except PreconditionFailed as error:
        if not wanted and params.get("without_primary"):
            return unpause_on_standbys(conn, ctx, error)
        raise PreconditionFailed("automatic failover is %s through the primary (the switch is written in its "
                                 "repmgr.events, which every node replicates), and none answers: %s; nothing was "
                                 "changed%s" % (params["state"], error, "" if wanted else
                                                ". To unpause on the standbys instead, so that the lost primary "
                                                "is failed over, set without_primary (pgha.repmgr.unpause does)"))
    try:
        before = metadata.read_pause_state(primary)
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


# -- unpausing while no primary answers ------------------------------------------------------------

def unpause_on_standbys(conn, ctx, no_primary):
    """Unpause in every standby's own settings: all that answer, or none (nothing is written when one refuses)."""
    standbys = [r for r in metadata.read_nodes(conn) if r.type == NodeType.STANDBY.value]
    sessions, unreachable = {}, []
    try:
        for record in standbys:
            try:
                sessions[record.node_name] = (record, connection.connect_node(record.conninfo, ctx))
            except (ConnectionFailed, InvalidOption):
                unreachable.append(record.node_name)
        if not sessions:
            raise PreconditionFailed("no primary answers (%s), and no standby does: automatic failover cannot be "
                                     "unpaused now; nothing was changed" % no_primary)
        refusals = local_unpause_refusals({name: standby_answers(session) for name, (_record, session)
                                           in sessions.items()})
        if refusals:
            raise PreconditionFailed("no primary answers, so automatic failover would be unpaused on each standby, but "
                                     "%s; nothing was changed" % "; ".join(refusals))
        states = {name: metadata.read_pause_state(session) for name, (_record, session) in sessions.items()}
        # on every standby when one shows the pause: one that has not replayed the pause yet would show it later
        to_write = sorted(states) if any(state["paused"] for state in states.values()) else []
        outcome = Outcome(changed=bool(to_write), paused=False, was_paused=bool(to_write), paused_since=None,
                          primary_node_id=None, events=[], unpaused_nodes=to_write, unreachable_nodes=sorted(unreachable),
                          diff=dict(before=dict(paused=bool(to_write)), after=dict(paused=False)))
        outcome.msg = local_unpause_message(to_write, sorted(unreachable), ctx.check_mode)
        if not to_write or ctx.check_mode:
            return outcome
        written = []
        for name in to_write:
            try:
                metadata.write_local_unpause(sessions[name][1])
            except Exception as error:  # pylint: disable=broad-except
                raise PreconditionFailed("unpausing on standby %s failed (%s); unpaused on: %s. Automatic failover "
                                         "stays paused while any standby still shows the pause: run this again"
                                         % (describe(sessions[name][0]), error, ", ".join(written) or "none"))
            written.append(name)
        ctx.log.add(metadata.WRITE_LOCAL_UNPAUSE, metadata.RELOAD_CONF)
        for name in written:
            wait_local_unpause(sessions[name][0], ctx)
        return outcome
    finally:
        for _record, session in sessions.values():
            session.close()


def local_unpause_refusals(answers):
    """Why the standbys' unpause must not be written: [] when every standby that answers can take it (pure).

    answers: {node name: (in recovery, superuser, promotion pending)}. A node registered as standby
    that runs out of recovery, or whose promotion was requested and has not completed (a switchover
    that failed half-way), is or may become a primary the metadata does not know: a failover beside
    it would make two. ALTER SYSTEM needs a superuser.
    """
    refusals = []
    for name in sorted(answers):
        in_recovery, is_superuser, promotion_pending = answers[name]
        if not in_recovery:
            refusals.append("%s, registered as a standby, runs as a primary: find out why before unpausing" % name)
        elif promotion_pending:
            refusals.append("%s has a promotion requested and not completed (its data directory holds the promote "
                            "signal file): it may become the primary; find out why before unpausing" % name)
        elif not is_superuser:
            refusals.append("the repmgr user is not a superuser on %s (ALTER SYSTEM needs one)" % name)
    return refusals


def local_unpause_message(to_write, unreachable, check_mode):
    if not to_write:
        return "automatic failover runs already (no primary answers; no standby shows the pause)"
    done = "would be unpaused" if check_mode else "unpaused"
    text = ("automatic failover %s on standby %s (no primary answers: written in each standby's settings; the "
            "failover's promotion records it for the cluster)" % (done, ", ".join(to_write)))
    if unreachable:
        text += "; not reached: %s" % ", ".join(unreachable)
    return text


def standby_answers(session):
    """(in recovery, superuser, promotion pending) of a standby, as local_unpause_refusals reads them."""
    with session.cursor() as cur:
        cur.execute(SELECT_STANDBY_ANSWERS)
        in_recovery, is_superuser = cur.fetchone()
        pending = False
        if in_recovery and is_superuser:  # pg_stat_file needs a superuser; without one the unpause is refused anyway
            cur.execute(SELECT_PROMOTE_PENDING)
            pending = bool(cur.fetchone()[0])
    return bool(in_recovery), bool(is_superuser), pending


def wait_local_unpause(record, ctx):
    """Until a new session on the standby reads the unpause (its reload has been applied)."""
    def read():
        try:
            session = connection.connect_node(record.conninfo, ctx)
        except ConnectionFailed:
            return None
        try:
            return metadata.read_pause_state(session)
        finally:
            session.close()
    waiting.wait_until(lambda: (read() or {"paused": True})["paused"] is False, LOCAL_UNPAUSE_WAIT,
                       "standby %s to read its unpause" % describe(record))
