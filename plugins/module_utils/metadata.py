# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every SQL statement on the repmgr.* metadata, in one place.

The statements are repmgr 5.x's own (dbutils.c), so the real repmgr CLI and repmgrd read
what we write and we read what they write. Parameters are always bound. The sync helpers
take a psycopg Connection; async callers (probe.py, the event source) execute the same
constants and convert rows with the same functions.
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils import notify
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import MetadataMissing
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeRecord

try:
    from psycopg import sql
except ImportError:
    sql = None

NODE_COLUMNS = (
    "n.node_id, n.node_name, n.type, n.upstream_node_id, n.active, n.location, n.priority, "
    "n.conninfo, n.repluser, n.slot_name, n.config_file, un.node_name AS upstream_node_name"
)

SELECT_NODES = (
    "SELECT " + NODE_COLUMNS + " FROM repmgr.nodes n "
    "LEFT JOIN repmgr.nodes un ON un.node_id = n.upstream_node_id ORDER BY n.node_id"
)

SELECT_NODE = (
    "SELECT " + NODE_COLUMNS + " FROM repmgr.nodes n "
    "LEFT JOIN repmgr.nodes un ON un.node_id = n.upstream_node_id WHERE n.node_id = %s"
)

# repmgr's "find the primary" order (_get_primary_connection in dbutils.c).
SELECT_PRIMARY_CANDIDATES = (
    "SELECT node_id, conninfo, CASE WHEN type = 'primary' THEN 1 ELSE 2 END AS type_priority "
    "FROM repmgr.nodes WHERE active IS TRUE AND type != 'witness' "
    "ORDER BY active DESC, type_priority, priority, node_id"
)

INSERT_NODE = (
    "INSERT INTO repmgr.nodes (node_id, type, upstream_node_id, node_name, conninfo, repluser, "
    "slot_name, location, priority, active, config_file) "
    "VALUES (%(node_id)s, %(type)s, %(upstream_node_id)s, %(node_name)s, %(conninfo)s, %(repluser)s, "
    "%(slot_name)s, %(location)s, %(priority)s, %(active)s, %(config_file)s)"
)

UPDATE_NODE = (
    "UPDATE repmgr.nodes SET type = %(type)s, upstream_node_id = %(upstream_node_id)s, "
    "node_name = %(node_name)s, conninfo = %(conninfo)s, repluser = %(repluser)s, slot_name = %(slot_name)s, "
    "location = %(location)s, priority = %(priority)s, active = %(active)s, config_file = %(config_file)s "
    "WHERE node_id = %(node_id)s"
)

DELETE_NODE = "DELETE FROM repmgr.nodes WHERE node_id = %s"

# update_node_record_set_primary(): one transaction, old primaries first.
DEACTIVATE_OTHER_PRIMARIES = (
    "UPDATE repmgr.nodes SET active = FALSE WHERE type = 'primary' AND active IS TRUE AND node_id != %s"
)
SET_PRIMARY = "UPDATE repmgr.nodes SET type = 'primary', upstream_node_id = NULL, active = TRUE WHERE node_id = %s"

# update_node_record_status(id, 'standby', upstream, true): follow / rejoin.
SET_STANDBY = "UPDATE repmgr.nodes SET type = 'standby', upstream_node_id = %s, active = TRUE WHERE node_id = %s"
SET_ACTIVE = "UPDATE repmgr.nodes SET active = %s WHERE node_id = %s"
# update_node_record_set_upstream(): a witness follows a new primary.
SET_UPSTREAM = "UPDATE repmgr.nodes SET upstream_node_id = %s WHERE node_id = %s"

INSERT_EVENT = (
    "INSERT INTO repmgr.events (node_id, event, successful, details) "
    "VALUES (%s, %s, %s, %s) RETURNING event_timestamp"
)
# The event's node for the notification command's %a and %c (only run when a command is set).
SELECT_NODE_NAME_CONNINFO = "SELECT node_name, conninfo FROM repmgr.nodes WHERE node_id = %s"

# An event that happened earlier than it is written (the monitor holds its rows while no primary
# can take them, then writes them with the time they happened).
INSERT_EVENT_AT = (
    "INSERT INTO repmgr.events (node_id, event, successful, details, event_timestamp) "
    "VALUES (%s, %s, %s, %s, %s)"
)

# repmgr cluster event (do_cluster_event): newest first, deleted nodes keep their rows.
SELECT_EVENTS = (
    "SELECT e.node_id, n.node_name, e.event, e.successful, "
    "to_char(e.event_timestamp, 'YYYY-MM-DD HH24:MI:SS') AS timestamp, e.details "
    "FROM repmgr.events e LEFT JOIN repmgr.nodes n ON e.node_id = n.node_id"
)

# The switch that pauses automatic failover for the whole cluster (repmgr service pause/unpause):
# the newest of these two events. Written on the primary, it is in every node's copy of
# repmgr.events, so every monitor and every failover run reads the same switch, and it survives
# restarts of monitors and servers alike.
#
# One exception: unpausing while no primary answers (the primary died while paused, as repmgr lets
# `repmgr service unpause` reach each standby's repmgrd). The standbys are read-only, so the
# unpause is written in each standby's own settings (ALTER SYSTEM, which a standby accepts):
# LOCAL_UNPAUSE_SETTING holds when. It counts as an unpause event of that time on that node only;
# the failover that follows writes the real pgha_failover_unpaused event on the new primary, and
# any later pause event, being newer, wins over it.
FAILOVER_PAUSED = "pgha_failover_paused"
FAILOVER_UNPAUSED = "pgha_failover_unpaused"
LOCAL_UNPAUSE_SETTING = "pgha.failover_unpaused_at"
SELECT_PAUSE_STATE = (
    "SELECT paused, to_char(at, 'YYYY-MM-DD HH24:MI:SS'), details, local FROM ("
    "SELECT event = 'pgha_failover_paused' AS paused, event_timestamp AS at, details, FALSE AS local "
    "FROM repmgr.events WHERE event IN ('pgha_failover_paused', 'pgha_failover_unpaused') "
    "UNION ALL "
    "SELECT FALSE, NULLIF(pg_catalog.current_setting('pgha.failover_unpaused_at', TRUE), '')::timestamptz, "
    "'automatic failover unpaused on this standby while no primary answered', TRUE "
    "WHERE NULLIF(pg_catalog.current_setting('pgha.failover_unpaused_at', TRUE), '') IS NOT NULL"
    ") AS switch ORDER BY at DESC LIMIT 1"
)
# ALTER SYSTEM refuses a custom setting the session has never seen: SET it first (session only).
DECLARE_LOCAL_UNPAUSE = "SET pgha.failover_unpaused_at = ''"
WRITE_LOCAL_UNPAUSE = "ALTER SYSTEM SET pgha.failover_unpaused_at = {}"  # a literal: ALTER SYSTEM takes no parameter
RELOAD_CONF = "SELECT pg_catalog.pg_reload_conf()"
SELECT_NOW = "SELECT pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US') || '+00'"

INIT_VOTING_TERM = (
    "INSERT INTO repmgr.voting_term (term) SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM repmgr.voting_term)"
)
INCREMENT_VOTING_TERM = "UPDATE repmgr.voting_term SET term = term + 1 RETURNING term"
# The failover's term: from the one the election read, never below what the new primary holds.
RAISE_VOTING_TERM = "UPDATE repmgr.voting_term SET term = GREATEST(term, %s) + 1 RETURNING term"
SELECT_VOTING_TERM = "SELECT term FROM repmgr.voting_term"

# witness_copy_node_records(): the upstream FK is deferred while the rows are re-inserted.
REPLACE_ALL_NODES = ("SET CONSTRAINTS ALL DEFERRED", "TRUNCATE repmgr.nodes")

NODES_TABLE_EXISTS = "SELECT to_regclass('repmgr.nodes') IS NOT NULL"

# -- repmgr.monitoring_history: repmgrd's monitoring_history=yes, repmgr cluster cleanup ----------

# add_monitoring_record() (repmgr's dbutils.c): one row per standby and monitor interval, on the primary.
# Lags are bytes: replication_lag = primary's current LSN - standby's received LSN, apply_lag = received -
# replayed (neither below 0).
INSERT_MONITORING_RECORD = (
    "INSERT INTO repmgr.monitoring_history (primary_node_id, standby_node_id, last_monitor_time, "
    "last_apply_time, last_wal_primary_location, last_wal_standby_location, replication_lag, apply_lag) "
    "VALUES (%s, %s, %s, %s, %s::pg_lsn, %s::pg_lsn, %s, %s)"
)

# The view repmgr.replication_status (each standby's newest row, joined to its node record), every column;
# timestamps, LSNs and intervals as PostgreSQL spells them.
REPLICATION_STATUS_COLUMNS = (
    "primary_node_id", "standby_node_id", "standby_name", "node_type", "active", "last_monitor_time",
    "last_wal_primary_location", "last_wal_standby_location", "replication_lag", "replication_time_lag",
    "apply_lag", "communication_time_lag",
)
SELECT_REPLICATION_STATUS = (
    "SELECT primary_node_id, standby_node_id, standby_name, node_type, active, last_monitor_time::text, "
    "last_wal_primary_location::text, last_wal_standby_location::text, replication_lag, "
    "replication_time_lag::text, apply_lag, communication_time_lag::text "
    "FROM repmgr.replication_status ORDER BY standby_node_id"
)

# repmgr cluster cleanup (get_number_of_monitoring_records_to_delete(), delete_monitoring_records()):
# the rows at least keep_history days old, of one standby when --node-id is given; with neither a
# number of days nor a node, the whole table is truncated. Then the table is vacuumed.
_MONITORING_RECORDS_TO_DELETE = (
    " FROM repmgr.monitoring_history "
    "WHERE pg_catalog.age(pg_catalog.now(), last_monitor_time) >= pg_catalog.make_interval(days => %s)"
)
_OF_STANDBY = " AND standby_node_id = %s"
COUNT_MONITORING_RECORDS = "SELECT pg_catalog.count(*)" + _MONITORING_RECORDS_TO_DELETE
COUNT_MONITORING_RECORDS_OF_NODE = COUNT_MONITORING_RECORDS + _OF_STANDBY
DELETE_MONITORING_RECORDS = "DELETE" + _MONITORING_RECORDS_TO_DELETE
DELETE_MONITORING_RECORDS_OF_NODE = DELETE_MONITORING_RECORDS + _OF_STANDBY
TRUNCATE_MONITORING_HISTORY = "TRUNCATE TABLE repmgr.monitoring_history"
VACUUM_MONITORING_HISTORY = "VACUUM repmgr.monitoring_history"


def node_record_from_row(row):
    """A NodeRecord from a row of NODE_COLUMNS."""
    (node_id, node_name, node_type, upstream_node_id, active, location, priority,
     conninfo, repluser, slot_name, config_file, upstream_node_name) = row
    return NodeRecord(
        node_id=node_id,
        node_name=node_name,
        type=node_type,
        upstream_node_id=upstream_node_id,
        active=bool(active),
        location=location,
        priority=priority,
        conninfo=conninfo,
        repluser=repluser,
        slot_name=slot_name,
        config_file=config_file,
        upstream_node_name=upstream_node_name,
    )


def record_parameters(record):
    return dict(
        node_id=record.node_id,
        type=record.type,
        upstream_node_id=record.upstream_node_id,
        node_name=record.node_name,
        conninfo=record.conninfo,
        repluser=record.repluser,
        slot_name=record.slot_name,
        location=record.location,
        priority=record.priority,
        active=record.active,
        config_file=record.config_file,
    )


def has_metadata(conn):
    with conn.cursor() as cur:
        cur.execute(NODES_TABLE_EXISTS)
        return bool(cur.fetchone()[0])


def require_metadata(conn, where="this node"):
    """Raise MetadataMissing with a hint when repmgr.nodes does not exist."""
    if not has_metadata(conn):
        raise MetadataMissing(
            "no repmgr metadata on %s (database %s has no table repmgr.nodes): register the primary first "
            "(pgha.repmgr.repmgr_node with role: primary creates it)" % (where, conn.info.dbname)
        )


def read_nodes(conn):
    with conn.cursor() as cur:
        cur.execute(SELECT_NODES)
        return [node_record_from_row(row) for row in cur.fetchall()]


def read_node(conn, node_id):
    with conn.cursor() as cur:
        cur.execute(SELECT_NODE, (node_id,))
        row = cur.fetchone()
    return node_record_from_row(row) if row else None


def primary_candidates(conn):
    """(node_id, conninfo) in repmgr's order for finding the current primary."""
    with conn.cursor() as cur:
        cur.execute(SELECT_PRIMARY_CANDIDATES)
        return [(row[0], row[1]) for row in cur.fetchall()]


def insert_node(cur, record):
    cur.execute(INSERT_NODE, record_parameters(record))


def update_node(cur, record):
    cur.execute(UPDATE_NODE, record_parameters(record))


def replace_all_nodes(cur, records):
    """Make repmgr.nodes hold exactly `records` (run inside a transaction)."""
    for statement in REPLACE_ALL_NODES:
        cur.execute(statement)
    for record in sorted(records, key=lambda r: r.node_id):
        insert_node(cur, record)


def delete_node(cur, node_id):
    cur.execute(DELETE_NODE, (node_id,))


def deactivate_other_primaries(cur, node_id):
    cur.execute(DEACTIVATE_OTHER_PRIMARIES, (node_id,))
    return cur.rowcount


def set_primary(cur, node_id):
    """The promote write: every other active primary inactive, this node the primary."""
    deactivate_other_primaries(cur, node_id)
    cur.execute(SET_PRIMARY, (node_id,))


def set_standby(cur, node_id, upstream_node_id):
    cur.execute(SET_STANDBY, (upstream_node_id, node_id))


def set_upstream(cur, node_id, upstream_node_id):
    cur.execute(SET_UPSTREAM, (upstream_node_id, node_id))


def set_active(cur, node_id, active):
    cur.execute(SET_ACTIVE, (active, node_id))


def write_event(cur, node_id, event, successful=True, details=None):
    """Insert one repmgr.events row; returns its timestamp. Must run on the primary.

    When the module run has an event_notification_command (notify.py) that wants this event, the
    row is also handed to it, with the node's name and conninfo, to be notified once committed.
    """
    cur.execute(INSERT_EVENT, (node_id, event, successful, details))
    stamp = cur.fetchone()[0]
    recorder = notify.active()
    if recorder is not None and recorder.wants(event):
        cur.execute(SELECT_NODE_NAME_CONNINFO, (node_id,))
        row = cur.fetchone()
        # in autocommit mode outside a transaction block the row is committed already
        committed = cur.connection.autocommit and cur.connection.info.transaction_status == 0
        recorder.add(node_id, event, successful, details, stamp, node_name=row[0] if row else None,
                     conninfo=row[1] if row else None, committed=committed)
    return stamp


def events_query(node_id=None, node_name=None, event=None, limit=20):
    """SELECT_EVENTS with repmgr's filters; returns (sql, params).

    As repmgr: node_id takes precedence over node_name, and filters on the joined nodes row
    (events of deleted nodes never match a node filter). limit=None means all rows.
    """
    clauses, params = [], []
    if node_id is not None:
        clauses.append("n.node_id = %s")
        params.append(node_id)
    elif node_name is not None:
        clauses.append("n.node_name = %s")
        params.append(node_name)
    if event is not None:
        clauses.append("e.event = %s")
        params.append(event)
    sql = SELECT_EVENTS
    if clauses:
        sql += " WHERE " + " AND ".join(clauses)
    sql += " ORDER BY e.event_timestamp DESC"
    if limit is not None:
        sql += " LIMIT %s"
        params.append(limit)
    return sql, tuple(params)


def read_events(conn, node_id=None, node_name=None, event=None, limit=20):
    sql, params = events_query(node_id, node_name, event, limit)
    with conn.cursor() as cur:
        cur.execute(sql, params)
        return [
            dict(node_id=r[0], node_name=r[1] or "", event=r[2], successful=bool(r[3]), timestamp=r[4], details=r[5])
            for r in cur.fetchall()
        ]


def pause_state_from_rows(rows):
    """dict(paused, since, details, local) from SELECT_PAUSE_STATE's rows (no row: never paused).

    local: the newest switch is this standby's own unpause (LOCAL_UNPAUSE_SETTING), not an event.
    """
    if not rows:
        return dict(paused=False, since=None, details=None, local=False)
    paused, since, details, local = rows[0]
    return dict(paused=bool(paused), since=since, details=details, local=bool(local))


def read_pause_state(conn):
    """Whether automatic failover is paused, as this node's copy of repmgr.events says."""
    with conn.cursor() as cur:
        cur.execute(SELECT_PAUSE_STATE)
        return pause_state_from_rows(cur.fetchall())


def write_local_unpause(conn):
    """Unpause automatic failover in this standby's own settings (see LOCAL_UNPAUSE_SETTING); returns when.

    The connection must be in autocommit (ALTER SYSTEM runs outside a transaction). The reload is
    asked for; sessions opened after it has been applied read the new value (wait_local_unpause).
    """
    with conn.cursor() as cur:
        cur.execute(SELECT_NOW)
        stamp = cur.fetchone()[0]
        cur.execute(DECLARE_LOCAL_UNPAUSE)
        cur.execute(sql.SQL(WRITE_LOCAL_UNPAUSE).format(sql.Literal(stamp)))
        cur.execute(RELOAD_CONF)
    return stamp


def init_voting_term(cur):
    """Seed voting_term with term 1 when it has no row; True when a row was written.

    repmgrd refuses to be a failover candidate without a row (reference 1.5). Unlike
    `repmgr primary register --force` we leave an existing term alone, so that a second
    identical registration changes nothing.
    """
    cur.execute(INIT_VOTING_TERM)
    return cur.rowcount > 0


def voting_term(conn):
    with conn.cursor() as cur:
        cur.execute(SELECT_VOTING_TERM)
        row = cur.fetchone()
    return row[0] if row else None


def raise_voting_term(cur, read_term):
    """The failover's new term: one more than the term the election read (or the node holds)."""
    cur.execute(RAISE_VOTING_TERM, (read_term or 0,))
    row = cur.fetchone()
    return row[0] if row else None


def increment_voting_term(cur):
    cur.execute(INCREMENT_VOTING_TERM)
    row = cur.fetchone()
    return row[0] if row else None


def write_monitoring_record(cur, primary_node_id, standby_node_id, last_monitor_time, last_apply_time,
                            primary_lsn, standby_lsn, replication_lag, apply_lag):
    """Insert one repmgr.monitoring_history row (LSNs as text, lags in bytes). Must run on the primary."""
    cur.execute(INSERT_MONITORING_RECORD, (primary_node_id, standby_node_id, last_monitor_time, last_apply_time,
                                           primary_lsn, standby_lsn, replication_lag, apply_lag))


def read_replication_status(conn):
    """The rows of the view repmgr.replication_status, as dicts of its columns, by standby node ID."""
    with conn.cursor() as cur:
        cur.execute(SELECT_REPLICATION_STATUS)
        return [dict(zip(REPLICATION_STATUS_COLUMNS, row)) for row in cur.fetchall()]


# repmgr service status, from the rows a monitor writes: per node, its newest repmgrd_start and
# repmgrd_shutdown, the newest row of any check it made (events it writes about the node, monitoring_history
# rows naming it), with their ages in seconds by the server's clock.
MONITOR_CHECK_EVENTS = ("repmgrd_start", "repmgrd_upstream_disconnect", "repmgrd_upstream_reconnect",
                        "standby_failure", "standby_recovery")
MONITOR_STATUS_COLUMNS = ("node_id", "node_name", "started", "started_age", "stopped", "stopped_age",
                          "last_event", "last_history")
_TS = "to_char(%s, 'YYYY-MM-DD HH24:MI:SS')"
_AGE = "EXTRACT(EPOCH FROM pg_catalog.now() - %s)::float8"
SELECT_MONITOR_STATUS = (
    "SELECT node_id, node_name, " + _TS % "started" + ", " + _AGE % "started" + ", " + _TS % "stopped" + ", "
    + _AGE % "stopped" + ", " + _AGE % "last_event" + ", " + _AGE % "last_history" + " FROM ("
    "SELECT n.node_id, n.node_name, "
    "(SELECT max(e.event_timestamp) FROM repmgr.events e WHERE e.node_id = n.node_id "
    "AND e.event = 'repmgrd_start') AS started, "
    "(SELECT max(e.event_timestamp) FROM repmgr.events e WHERE e.node_id = n.node_id "
    "AND e.event = 'repmgrd_shutdown') AS stopped, "
    "(SELECT max(e.event_timestamp) FROM repmgr.events e WHERE e.node_id = n.node_id "
    "AND e.event = ANY(%s)) AS last_event, "
    "(SELECT max(h.last_monitor_time) FROM repmgr.monitoring_history h "
    "WHERE h.standby_node_id = n.node_id OR h.primary_node_id = n.node_id) AS last_history "
    "FROM repmgr.nodes n) s ORDER BY node_id"
)


def read_monitor_status(conn):
    """Each node's monitor rows (MONITOR_STATUS_COLUMNS): timestamps as repmgr prints them, ages in seconds."""
    with conn.cursor() as cur:
        cur.execute(SELECT_MONITOR_STATUS, (list(MONITOR_CHECK_EVENTS),))
        return [dict(zip(MONITOR_STATUS_COLUMNS, row)) for row in cur.fetchall()]


def monitoring_cleanup_statements(keep_history, node_id=None):
    """(count sql, delete sql, params) of repmgr cluster cleanup --keep-history=N [--node-id=ID].

    As repmgr: TRUNCATE when neither a number of days nor a node is given (the count still only
    counts rows whose time has come, so rows stamped in the future alone are "nothing to delete").
    """
    if node_id is not None:
        return COUNT_MONITORING_RECORDS_OF_NODE, DELETE_MONITORING_RECORDS_OF_NODE, (keep_history, node_id)
    if keep_history > 0:
        return COUNT_MONITORING_RECORDS, DELETE_MONITORING_RECORDS, (keep_history,)
    return COUNT_MONITORING_RECORDS, TRUNCATE_MONITORING_HISTORY, (keep_history,)


def count_monitoring_records_to_delete(conn, keep_history, node_id=None):
    count_sql, _delete_sql, params = monitoring_cleanup_statements(keep_history, node_id)
    with conn.cursor() as cur:
        cur.execute(count_sql, params)
        return cur.fetchone()[0]


def delete_monitoring_records(cur, keep_history, node_id=None):
    """Delete what cluster cleanup deletes; the number of rows deleted (None after a TRUNCATE)."""
    _count_sql, delete_sql, params = monitoring_cleanup_statements(keep_history, node_id)
    if delete_sql == TRUNCATE_MONITORING_HISTORY:
        cur.execute(delete_sql)
        return None
    cur.execute(delete_sql, params)
    return cur.rowcount
