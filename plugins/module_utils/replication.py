# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Server-side replication facts and actions (no repmgr metadata here: see metadata.py).

The SQL constants are shared by the sync helpers below and by the async probe.
"""

from __future__ import annotations

import time

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import PreconditionFailed, Timeout
from ansible_collections.pgha.repmgr.plugins.module_utils.records import ReplicationClient, lsn_from_text

try:
    from psycopg import sql
except ImportError:
    sql = None

POLL_INTERVAL = 0.1

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
       pg_catalog.current_setting('server_version_num')::int
"""

REPLICATION_CLIENTS = """
SELECT application_name, state, sent_lsn::text, flush_lsn::text, replay_lsn::text
  FROM pg_catalog.pg_stat_replication
"""

WAL_RECEIVER = "SELECT status, sender_host FROM pg_catalog.pg_stat_wal_receiver"

SLOT_STATE = "SELECT active FROM pg_catalog.pg_replication_slots WHERE slot_name = %s AND slot_type = 'physical'"
CREATE_SLOT = "SELECT pg_catalog.pg_create_physical_replication_slot(%s, TRUE)"
DROP_SLOT = "SELECT pg_catalog.pg_drop_replication_slot(%s)"


def server_facts_from_row(row):
    """dict of SERVER_FACTS, LSNs as integers."""
    in_recovery, timeline, received, replayed, current, paused, system_id, version = row
    return dict(
        in_recovery=bool(in_recovery),
        timeline=timeline,
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


def server_facts(conn):
    with conn.cursor() as cur:
        cur.execute(SERVER_FACTS)
        return server_facts_from_row(cur.fetchone())


def in_recovery(conn):
    with conn.cursor() as cur:
        cur.execute("SELECT pg_catalog.pg_is_in_recovery()")
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


def wait_until(predicate, timeout, what, interval=POLL_INTERVAL):
    """Poll `predicate` until true or `timeout` seconds; raise Timeout naming `what`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise Timeout("timed out after %s s waiting until %s" % (timeout, what))
        time.sleep(interval)


def quote_setting(value):
    """A postgresql.conf value in single quotes, as ALTER SYSTEM writes them."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def standby_settings_sql(name, value):
    """ALTER SYSTEM SET <name> = <value> with a bound-literal value and a quoted identifier."""
    return sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), sql.Literal(value))
