# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr standby promote: checks, pg_promote(), wait, then the metadata in one transaction."""

from __future__ import annotations

import os
import time

from ansible_collections.pgha.repmgr.plugins.module_utils import datadir, metadata, probe, replication, waiting
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    InvalidOption,
    PreconditionFailed,
    Timeout,
    require_node_id,
)
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome, record_diff
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeType,
    replay_paused_with_wal_pending,
    describe,
    furthest_lsn,
    lsn_from_text,
    lsn_to_text,
)

STANDBY_PROMOTE = 'server "%s" (ID: %d) was successfully promoted to primary'


def plan_promote(record, facts, running_primaries, force):
    """'promote', or None when the node already is the registered, running primary (pure)."""
    others = [r for r in running_primaries if r.node_id != record.node_id]
    if not facts["in_recovery"]:
        if record.type == NodeType.PRIMARY.value and record.active:
            return None
        if not others:
            # Promoted already (an earlier run timed out or lost its connection before the
            # metadata write): the server is the only primary, so the metadata catches up.
            return "record"
        raise PreconditionFailed(
            "node %s is not in recovery but is registered as %s %s, and %s is running as a primary too: "
            "two primaries; fence one of them"
            % (describe(record), "an active" if record.active else "an inactive", record.type,
               ", ".join(describe(r) for r in others))
        )
    if others and not force:
        raise PreconditionFailed(
            "this replication cluster already has an active primary: %s is running as a primary; "
            "promoting node %s would make two (set force: true only if that primary is fenced)"
            % (", ".join(describe(r) for r in others), describe(record))
        )
    received, replayed = facts.get("received_lsn"), facts.get("replayed_lsn")
    if replay_paused_with_wal_pending(facts["in_recovery"], facts.get("wal_replay_paused"), received, replayed):
        raise PreconditionFailed(
            "WAL replay is paused on node %s with WAL pending (received %s, replayed %s): promoting now would lose "
            "that WAL; resume replay with SELECT pg_wal_replay_resume() first"
            % (describe(record), lsn_to_text(received), lsn_to_text(replayed))
        )
    return "promote"


def validate(params):
    require_node_id(params["node_id"])
    if params["promote_check_timeout"] < 1:
        raise InvalidOption("promote_check_timeout", "must be at least 1 second (got %s)"
                            % params["promote_check_timeout"])


def promote(params, conn, ctx, run_command=None):
    """Promote the standby `conn` is connected to. Returns a result dict for the module."""
    validate(params)
    facts = replication.server_facts(conn)
    metadata.require_metadata(conn, where="the node to promote")
    records = metadata.read_nodes(conn)
    record = next((r for r in records if r.node_id == params["node_id"]), None)
    if record is None:
        raise PreconditionFailed("node_id %d has no record in the repmgr metadata (known: %s): register it first"
                                 % (params["node_id"], ", ".join(describe(r) for r in records) or "none"))
    others = [r for r in records if r.node_id != record.node_id and r.active and r.type != NodeType.WITNESS.value]
    seen = probe.probe_nodes(others, ctx.password, ctx.timeout, ctx.secrets)
    running = [r for r in others if seen[r.node_id].connected and seen[r.node_id].in_recovery is False]
    action = plan_promote(record, facts, running, params["force"])
    result = Outcome(changed=action is not None, node_id=record.node_id, node_name=record.node_name,
                     promote_seconds=None, method=None, events=[])
    if action is None:
        result["msg"] = "node %s already is the primary" % describe(record)
        return result
    details = STANDBY_PROMOTE % (record.node_name, record.node_id)
    result["events"] = [dict(node_id=record.node_id, event="standby_promote", details=details)]
    result.diff = record_diff(record, type=NodeType.PRIMARY.value, upstream_node_id=None, active=True)
    if ctx.check_mode:
        return result
    if action == "promote":
        if params.get("wait_for_received_lsn"):
            wait_for_wal(conn, record, params["wait_for_received_lsn"], params.get("wait_for_received_timeout", 30))
        request_and_wait(params, conn, record, facts, result, run_command)
    else:
        result["msg"] = ("node %s was already out of recovery (promoted earlier); its metadata now says so"
                         % describe(record))
    try:
        with conn.transaction():
            with conn.cursor() as cur:
                metadata.set_primary(cur, record.node_id)
                metadata.write_event(cur, record.node_id, "standby_promote", True, details)
    # A psycopg error, or the session was lost: either way the server is a primary now.
    except Exception as error:  # pylint: disable=broad-except
        raise PreconditionFailed("node %s is promoted, but its metadata could not be written (%s): run the module "
                                 "again to record it" % (describe(record), error), promote_requested=True)
    ctx.log.add(replication.PROMOTE, metadata.DEACTIVATE_OTHER_PRIMARIES, metadata.SET_PRIMARY, metadata.INSERT_EVENT)
    return result


def request_and_wait(params, conn, record, facts, result, run_command):
    """Ask for the promotion, then wait until the server has left recovery.

    From the request on, a failure says promote_requested: the server may still become a
    primary, so a caller must not start another one (the switchover's rescue checks it).
    """
    started = time.monotonic()
    if replication.can_call_pg_promote(conn):
        replication.request_promotion(conn)
        result["method"] = "pg_promote"
    else:
        pg_ctl_promote(params, run_command, facts["server_version_num"] // 10000)
        result["method"] = "pg_ctl promote"
    try:
        waiting.wait_until(lambda: not replication.in_recovery(conn), params["promote_check_timeout"],
                           "node %s leaves recovery after the promotion request" % describe(record))
    except Timeout as error:
        raise Timeout("%s; the promotion was requested and may still complete: run the module again to record "
                      "it, and start no other primary meanwhile" % error, promote_requested=True)
    result["promote_seconds"] = round(time.monotonic() - started, 3)


def wait_for_wal(conn, record, lsn_text, timeout):
    """Wait until the standby has received WAL up to `lsn_text` (a switchover's shutdown checkpoint).

    Promoting before that would lose what the old primary committed last; nothing is changed
    when it does not arrive.
    """
    try:
        wanted = lsn_from_text(lsn_text)
    except ValueError:
        raise InvalidOption("wait_for_received_lsn", "is not an LSN (got %r; expected X/Y in hexadecimal)" % lsn_text)

    def received():
        facts = replication.server_facts(conn)
        return furthest_lsn(facts["received_lsn"], facts["replayed_lsn"])

    try:
        waiting.wait_until(lambda: received() >= wanted, timeout,
                           "node %s has received WAL up to %s" % (describe(record), lsn_text))
    except Timeout:
        raise PreconditionFailed("node %s has received WAL up to %s only, not %s (the old primary's shutdown "
                                 "checkpoint) after %s s: promoting it would lose transactions; nothing was changed"
                                 % (describe(record), lsn_to_text(received()), lsn_text, timeout))


def pg_ctl_promote(params, run_command, major_version):
    """Fallback when the login role may not call pg_promote(): pg_ctl promote on the data directory."""
    if not params.get("data_directory") or run_command is None:
        raise PreconditionFailed("login_user may not execute pg_promote(); grant it (GRANT EXECUTE ON FUNCTION "
                                 "pg_promote TO ...) or set data_directory to promote with pg_ctl")
    bindir = datadir.bindir_for(major_version, params.get("pg_bindir"))
    argv = [os.path.join(bindir, "pg_ctl"), "promote", "-D", params["data_directory"]]
    datadir.run_pg(run_command, argv, "pg_ctl promote", datadir.TIMEOUT_QUICK)
