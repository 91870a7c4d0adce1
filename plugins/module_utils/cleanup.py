# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr cluster cleanup: delete old repmgr.monitoring_history rows on the primary.

What `repmgr cluster cleanup [--keep-history=N] [--node-id=ID]` does (do_cluster_cleanup in
repmgr-action-cluster.c): find the primary from the node connected to, count the rows at least
N days old (of standby ID only, when given); none -> nothing to do; else delete them (TRUNCATE
the table when N is 0 and no node is given), VACUUM the table (a failure there is only a
warning) and write the event `cluster_cleanup` with repmgr's text. Here the rows and the event
go in one transaction, so the event is there exactly when the rows are gone.
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster, metadata
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    InvalidOption,
    PghaError,
    PreconditionFailed,
    require_node_id,
)
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome

try:
    import psycopg
except ImportError:
    psycopg = None

EVENT = "cluster_cleanup"
FAILED_TEXT = "unable to delete monitoring records"


def validate(params):
    keep = params.get("keep_history")
    if keep is None or keep < 0:
        raise InvalidOption("keep_history", "must be a number of days, 0 or more (got %s)" % keep)
    if params.get("node_id") is not None:
        require_node_id(params["node_id"])


def event_details(keep_history, node_id=None):
    """repmgr's details text of the cluster_cleanup event."""
    text = "all monitoring records deleted" if keep_history == 0 else "monitoring records deleted"
    if node_id is not None:
        text += " for node %d" % node_id
    if keep_history > 0:
        text += "; records newer than %d day(s) retained" % keep_history
    return text


def plan_text(count, keep_history, node_id=None):
    """What check mode says would happen."""
    words = ["%d monitoring record(s)" % count]
    if node_id is not None:
        words.append("of node %d" % node_id)
    if keep_history > 0:
        words.append("at least %d day(s) old" % keep_history)
    return " ".join(words + ["would be deleted"])


def cleanup(params, conn, ctx):
    """Delete what `repmgr cluster cleanup` deletes, on the primary found from `conn`; the Outcome."""
    validate(params)
    keep, node_id = params["keep_history"], params.get("node_id")
    metadata.require_metadata(conn)
    # repmgr writes the event with its own node's ID (repmgr.conf): here, the node connected to
    event_node_id = cluster.local_node_id(conn, metadata.read_nodes(conn))
    try:
        primary_id, primary = cluster.connect_primary_from(conn, None, ctx.password, ctx.timeout, ctx.secrets)
    except PreconditionFailed as error:
        raise PreconditionFailed("monitoring records are deleted on the primary, and none answers: %s; nothing was "
                                 "changed" % error)
    try:
        if event_node_id is None:
            event_node_id = primary_id
        count_sql, delete_sql, _params = metadata.monitoring_cleanup_statements(keep, node_id)
        count = metadata.count_monitoring_records_to_delete(primary, keep, node_id)
        ctx.log.add(count_sql)
        details = event_details(keep, node_id)
        outcome = Outcome(changed=count > 0, deleted=count, keep_history=keep, node_id=node_id,
                          primary_node_id=primary_id, vacuumed=False, vacuum_warning=None)
        if count == 0:
            outcome.msg = "no monitoring records to delete"
            return outcome
        outcome.events = [dict(node_id=event_node_id, event=EVENT, successful=True, details=details)]
        if ctx.check_mode:
            outcome.msg = plan_text(count, keep, node_id)
            return outcome
        try:
            with primary.transaction():
                with primary.cursor() as cur:
                    deleted = metadata.delete_monitoring_records(cur, keep, node_id)
                    metadata.write_event(cur, event_node_id, EVENT, True, details)
        except psycopg.Error as error:
            record_failure(primary, event_node_id)
            raise PghaError("%s on the primary (node %s): %s; nothing was deleted"
                            % (FAILED_TEXT, primary_id, str(error).strip()))
        ctx.log.add(delete_sql, metadata.INSERT_EVENT, metadata.VACUUM_MONITORING_HISTORY)
        if deleted is not None:
            outcome.deleted = deleted
        outcome.vacuum_warning = vacuum(primary)
        outcome.vacuumed = outcome.vacuum_warning is None
        outcome.msg = details
        return outcome
    finally:
        if primary is not conn:
            primary.close()


def record_failure(primary, node_id):
    """repmgr's unsuccessful cluster_cleanup event; best effort (the failure itself is what the user sees)."""
    try:
        with primary.transaction():
            with primary.cursor() as cur:
                metadata.write_event(cur, node_id, EVENT, False, FAILED_TEXT)
    except psycopg.Error:
        pass


def vacuum(conn):
    """VACUUM the table, as repmgr does after deleting; None, or why it could not (only a warning then).

    PostgreSQL skips a table the user does not own with a WARNING notice, not an error: such a
    notice counts as not done.
    """
    notices = []

    def keep(diagnostic):
        if diagnostic.severity_nonlocalized in ("WARNING", "ERROR"):
            notices.append(diagnostic.message_primary)

    conn.add_notice_handler(keep)
    try:
        conn.execute(metadata.VACUUM_MONITORING_HISTORY)
    except psycopg.Error as error:
        notices.append(str(error).strip())
    finally:
        conn.remove_notice_handler(keep)
    return 'unable to vacuum table "repmgr.monitoring_history": %s' % "; ".join(notices) if notices else None
