# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side replication facts and actions (no repmgr metadata here: see metadata.py).

The SQL constants are shared by the sync helpers below and by the async probe.
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import PreconditionFailed
from ansible_collections.pgha.repmgr.plugins.module_utils.records import ReplicationClient, WalPosition, lsn_from_text

try:
    from psycopg import sql
except ImportError:
    sql = None

# One round trip for everything cluster show and the election need to know about a server.
# pg_is_wal_replay_paused() raises on a primary, hence the CASE (volatile: not folded).
SERVER_FACTS = """
SELECT pg_catalog.pg_is_in_recovery(),
       (SELECT timeline_id FROM pg_catalog.pg_control_checkpoint()),
       pg_catalog.pg_last_wal_receive_lsn()::text,
       pg_catalog.pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL ELSE pg_catalog.pg_current_wal_lsn()::text END,
       CASE WHEN pg_catalog.pg_is_in_recovery() THEN pg_catalog.pg_is_wal_replay_paused() END,
       (SELECT system_identifier FROM pg_catalog.pg_control_system()),
       pg_catalog.current_setting('server_version_num')::int,
       CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL
            ELSE ('x' || pg_catalog.substr(pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()), 1, 8))::bit(32)::int
       END
"""

REPLICATION_CLIENTS = """
SELECT application_name, state, sent_lsn::text, flush_lsn::text, replay_lsn::text
  FROM pg_catalog.pg_stat_replication
"""

# last_msg_age: seconds since the upstream last sent anything (WAL or a keepalive): fresh
# evidence that the upstream is alive, where `status = 'streaming'` stays true until
# wal_receiver_timeout even when the upstream is frozen.
WAL_RECEIVER = """
SELECT status, sender_host, received_tli, sender_port,
       EXTRACT(epoch FROM pg_catalog.clock_timestamp() - last_msg_receipt_time)::float8
  FROM pg_catalog.pg_stat_wal_receiver
"""

SLOT_STATE = "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = %s AND slot_type = 'physical'"
CREATE_SLOT = "SELECT pg_catalog.pg_create_physical_replication_slot(%s, TRUE)"
DROP_SLOT = "SELECT pg_catalog.pg_drop_replication_slot(%s)"

# --- repmgr node check (node_check.py) ---------------------------------------------------------

# get_replication_lag_seconds() (dbutils.c): 0 when everything received is replayed, else the age of
# the last replayed transaction. NULL (nothing replayed yet) counts as 0, as repmgr's atoi() makes it.
REPLICATION_LAG_SECONDS = """
SELECT CASE WHEN (pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn()) THEN 0
            ELSE EXTRACT(epoch FROM (pg_catalog.clock_timestamp() - pg_catalog.pg_last_xact_replay_timestamp()))::INT
       END AS lag_seconds
"""

# Every replication slot of the server: node check counts the physical ones (active, inactive) and
# looks for the downstream standbys' slots among all of them (get_node_replication_stats(),
# get_downstream_nodes_with_missing_slot()).
REPLICATION_SLOTS = "SELECT slot_name, slot_type, active FROM pg_catalog.pg_replication_slots ORDER BY slot_name"

# get_ready_archive_files(): the names in pg_wal/archive_status ending in ".ready". repmgr lists the
# directory itself; through SQL (PostgreSQL 12+) it needs superuser or pg_monitor, as repmgr needs the
# data directory's owner.
ARCHIVE_READY_FILES = (
    "SELECT pg_catalog.count(*) FROM pg_catalog.pg_ls_archive_statusdir() WHERE pg_catalog.right(name, 6) = '.ready'"
)

# connection_has_pg_monitor_role() (dbutils.c): superuser, or member of pg_monitor or of the sub-role
# the check needs (pg_read_all_stats to see walsender states, pg_read_all_settings for data_directory).
MONITOR_ROLES = """
SELECT pg_catalog.current_setting('is_superuser') = 'on',
       pg_catalog.pg_has_role('pg_monitor', 'MEMBER'),
       pg_catalog.pg_has_role('pg_read_all_stats', 'MEMBER'),
       pg_catalog.pg_has_role('pg_read_all_settings', 'MEMBER')
"""

DATA_DIRECTORY = "SELECT pg_catalog.current_setting('data_directory')"


def server_facts_from_row(row):
    """dict of SERVER_FACTS, LSNs as integers.

    current_timeline is the primary's WAL timeline (from the name of its current WAL file);
    for a standby the probe fills it from its WAL receiver, or the last checkpoint.
    """
    in_recovery, timeline, received, replayed, current, paused, system_id, version, writing_timeline = row
    return dict(
        in_recovery=bool(in_recovery),
        timeline=timeline,
        current_timeline=writing_timeline if writing_timeline is not None else timeline,
        received_lsn=lsn_from_text(received),
        replayed_lsn=lsn_from_text(replayed),
        current_lsn=lsn_from_text(current),
        wal_replay_paused=paused,
        system_identifier=int(system_id) if system_id is not None else None,
        server_version_num=version,
    )


def replication_clients_from_rows(rows):
    return tuple(
        ReplicationClient(
            application_name=r[0],
            state=r[1],
            sent_lsn=lsn_from_text(r[2]),
            flush_lsn=lsn_from_text(r[3]),
            replay_lsn=lsn_from_text(r[4]),
        )
        for r in rows
    )


def wal_receiver_from_row(row):
    """dict of WAL_RECEIVER's row (None: no WAL receiver runs) as NodeObservation fields."""
    if row is None:
        return dict(wal_receiver_streaming=False, wal_receiver_upstream=None, wal_receiver_timeline=None,
                    wal_receiver_sender_port=None, wal_receiver_last_msg_age=None)
    status, host, received_tli, port, age = row
    return dict(wal_receiver_streaming=status == "streaming", wal_receiver_upstream=host,
                wal_receiver_timeline=received_tli, wal_receiver_sender_port=port,
                wal_receiver_last_msg_age=float(age) if age is not None else None)


def server_facts(conn):
    with conn.cursor() as cur:
        cur.execute(SERVER_FACTS)
        return server_facts_from_row(cur.fetchone())


IN_RECOVERY = "SELECT pg_catalog.pg_is_in_recovery()"


def in_recovery(conn):
    with conn.cursor() as cur:
        cur.execute(IN_RECOVERY)
        return bool(cur.fetchone()[0])


def replication_clients(conn):
    with conn.cursor() as cur:
        cur.execute(REPLICATION_CLIENTS)
        return replication_clients_from_rows(cur.fetchall())


def slot_state(conn, slot_name):
    """None when the slot does not exist, else True/False for active."""
    with conn.cursor() as cur:
        cur.execute(SLOT_STATE, (slot_name,))
        row = cur.fetchone()
    return None if row is None else bool(row[0])


def ensure_slot(conn, slot_name):
    """Create a physical slot reserving WAL now; reuse an inactive one. True when created.

    An active slot of that name belongs to a running walsender: using it would take it from
    another standby, so that is refused.
    """
    state = slot_state(conn, slot_name)
    if state is None:
        with conn.cursor() as cur:
            cur.execute(CREATE_SLOT, (slot_name,))
        return True
    if state:
        raise PreconditionFailed(
            'replication slot "%s" exists on the upstream and is active (another standby streams through it)' % slot_name
        )
    return False


def drop_slot_if_inactive(conn, slot_name):
    """Drop an inactive slot; True when dropped, False when absent or in use."""
    state = slot_state(conn, slot_name)
    if state is None or state:
        return False
    with conn.cursor() as cur:
        cur.execute(DROP_SLOT, (slot_name,))
    return True


def standby_settings_sql(name, value):
    """ALTER SYSTEM SET <name> = <value> with a bound-literal value and a quoted identifier."""
    return sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))


# --- the failover's election lock ---------------------------------------------------------
# A session advisory lock: it works on a standby (advisory locks are never WAL-logged), it is
# released when the session ends, however it ends (a killed run cannot leave it behind), and
# while one run holds it on a majority of the survivors no other run can.
ELECTION_LOCK_KEY = (0x70676861, 1)  # ('pgha', 1)
TRY_ELECTION_LOCK = "SELECT pg_catalog.pg_try_advisory_lock(%s, %s)"
ELECTION_LOCK_HOLDER = (
    "SELECT a.application_name, a.client_addr::text FROM pg_catalog.pg_locks l "
    "JOIN pg_catalog.pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'advisory' AND l.classid = %s AND l.objid = %s AND l.granted LIMIT 1"
)


def try_election_lock(conn):
    with conn.cursor() as cur:
        cur.execute(TRY_ELECTION_LOCK, ELECTION_LOCK_KEY)
        return bool(cur.fetchone()[0])


def election_lock_holder(conn):
    """Who holds the election lock on this server: 'application_name from address', or None."""
    with conn.cursor() as cur:
        cur.execute(ELECTION_LOCK_HOLDER, ELECTION_LOCK_KEY)
        row = cur.fetchone()
    return None if row is None else "%s from %s" % (row[0] or "a session", row[1] or "a local socket")


def wal_receiver(conn):
    """WAL_RECEIVER's facts (wal_receiver_from_row) for this server."""
    with conn.cursor() as cur:
        cur.execute(WAL_RECEIVER)
        return wal_receiver_from_row(cur.fetchone())


# --- replication-protocol facts (IDENTIFY_SYSTEM, TIMELINE_HISTORY) -------------------------
# They need a replication connection (replication=database) and the simple query protocol,
# hence libpq's PQexec through psycopg's pgconn.

def _replication_command(conn, command):
    result = conn.pgconn.exec_(command.encode("ascii"))
    if result.status != 2:  # PGRES_TUPLES_OK
        message = (result.error_message or b"").decode("utf-8", "replace").strip()
        raise PreconditionFailed("%s failed on the replication connection: %s" % (command.split()[0], message))
    return [[result.get_value(row, col) for col in range(result.nfields)] for row in range(result.ntuples)]


def identify_system(conn):
    """(system_identifier, timeline, xlogpos) of a server, from a replication connection.

    Unlike pg_control_checkpoint(), the timeline is current right after a promotion.
    """
    row = _replication_command(conn, "IDENTIFY_SYSTEM")[0]
    return WalPosition(system_identifier=int(row[0]), timeline=int(row[1]), lsn=lsn_from_text(row[2].decode()))


def timeline_history(conn, timeline):
    """Content of the history file of `timeline` ('' for timeline 1, which has none)."""
    if timeline <= 1:
        return ""
    rows = _replication_command(conn, "TIMELINE_HISTORY %d" % int(timeline))
    return rows[0][1].decode("utf-8") if rows else ""


# --- standby configuration of a running server -----------------------------------------------

PROMOTE = "SELECT pg_catalog.pg_promote(wait := FALSE)"
CAN_EXECUTE_PROMOTE = "SELECT pg_catalog.has_function_privilege(CURRENT_USER, 'pg_catalog.pg_promote(boolean, integer)', 'EXECUTE')"
RELOAD = "SELECT pg_catalog.pg_reload_conf()"
CURRENT_SETTING = "SELECT pg_catalog.current_setting(%s, true)"
CHECKPOINT = "CHECKPOINT"


def setting(conn, name):
    with conn.cursor() as cur:
        cur.execute(CURRENT_SETTING, (name,))
        row = cur.fetchone()
    return row[0] if row else None


def set_standby_settings(conn, settings):
    """ALTER SYSTEM SET each setting (None: RESET), then reload. Returns the statements run.

    primary_conninfo and primary_slot_name are reloadable from PostgreSQL 13 on: the WAL
    receiver restarts with the new values, no server restart.
    """
    done = []
    for name, value in settings.items():
        if value is None:
            statement = sql.SQL("ALTER SYSTEM RESET {}").format(sql.Identifier(name))
        else:
            statement = standby_settings_sql(name, value)
        conn.execute(statement)
        done.append("ALTER SYSTEM %s %s" % ("RESET" if value is None else "SET", name))
    conn.execute(RELOAD)
    done.append(RELOAD)
    return done


def can_call_pg_promote(conn):
    with conn.cursor() as cur:
        cur.execute(CAN_EXECUTE_PROMOTE)
        return bool(cur.fetchone()[0])


def request_promotion(conn):
    """pg_promote(wait := false): the server leaves recovery on its own; we poll for it."""
    with conn.cursor() as cur:
        cur.execute(PROMOTE)
        return bool(cur.fetchone()[0])
