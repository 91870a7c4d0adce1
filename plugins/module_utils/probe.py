# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Probe many nodes at once, under one deadline.

repmgr's `cluster show` connects to the nodes one after another, so each dead node costs a
full connect timeout. Here every node is probed concurrently (psycopg AsyncConnection), and
the whole probe ends at one deadline: an unreachable or hung node costs one timeout in
total, and is reported as DOWN, never as an exception.
"""

from __future__ import annotations

import asyncio
import time

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils import metadata, replication
from ansible_collections.pgha.repmgr.plugins.module_utils.connection import classify_failure, node_target
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeObservation, Reachability

try:
    import psycopg
except ImportError:
    psycopg = None


# What a standby's repmgrd reads for its monitoring_history row besides the LSNs (get_replication_info()
# in repmgr's dbutils.c): the server's CURRENT_TIMESTAMP and the time of its last replayed transaction
# (NULL on a server that has replayed none), as seconds since the epoch.
SERVER_CLOCKS = (
    "SELECT EXTRACT(epoch FROM CURRENT_TIMESTAMP)::float8, "
    "EXTRACT(epoch FROM pg_catalog.pg_last_xact_replay_timestamp())::float8"
)


async def _optional(cur, statement, params=()):
    """Rows of a query that may fail on some nodes (no metadata, no privilege): None then."""
    try:
        await cur.execute(statement, params)
        return await cur.fetchall()
    except psycopg.Error:
        return None


async def _probe_connected(conn, node_id, read_nodes=False):
    """Everything we want to know from one open session, as NodeObservation fields.

    The session is in autocommit mode: a query that fails (no repmgr metadata on a fresh
    server, no right to read pg_stat_replication) costs only that query.
    """
    async with conn.cursor() as cur:
        await cur.execute(replication.SERVER_FACTS)
        facts = replication.server_facts_from_row(await cur.fetchone())
        rows = await _optional(cur, SERVER_CLOCKS)
        facts["server_time"], facts["last_replay_time"] = rows[0] if rows else (None, None)
        rows = await _optional(cur, metadata.SELECT_NODE, (node_id,))
        facts["own_record"] = metadata.node_record_from_row(rows[0]) if rows else None
        rows = await _optional(cur, replication.REPLICATION_CLIENTS)
        facts["replication"] = replication.replication_clients_from_rows(rows) if rows is not None else None
        rows = await _optional(cur, replication.WAL_RECEIVER)
        facts.update(replication.wal_receiver_from_row(rows[0] if rows else None))
        rows = await _optional(cur, metadata.SELECT_VOTING_TERM)
        facts["voting_term"] = rows[0][0] if rows else None
        rows = await _optional(cur, metadata.SELECT_PAUSE_STATE)
        facts["failover_paused"] = metadata.pause_state_from_rows(rows)["paused"] if rows is not None else None
        if read_nodes:
            rows = await _optional(cur, metadata.SELECT_NODES)
            facts["nodes"] = tuple(metadata.node_record_from_row(row) for row in rows) if rows is not None else None
    if facts["in_recovery"] and facts["wal_receiver_timeline"]:
        facts["current_timeline"] = max(facts["wal_receiver_timeline"], facts["current_timeline"] or 0)
    return facts


async def probe_node(record, password=None, connect_timeout=5, secrets=(), read_nodes=False):
    """Probe one node of the metadata; never raises for a node problem."""
    started = time.monotonic()
    try:
        target = node_target(record.conninfo, password, connect_timeout=connect_timeout,
                             statement_timeout=max(connect_timeout, 1))
    except InvalidOption as exc:
        # a broken conninfo in the metadata: the node cannot be reached, and the reason is ours
        return NodeObservation(record.node_id, Reachability.DOWN, error=str(exc), extra={"invalid_conninfo": True})
    try:
        conn = await psycopg.AsyncConnection.connect(target, autocommit=True)
    except psycopg.Error as exc:
        message = conninfo_util.mask_text(str(exc).strip(), secrets=tuple(s for s in (password,) + tuple(secrets) if s))
        return NodeObservation(record.node_id, classify_failure(message), error=message,
                               extra={"probe_seconds": round(time.monotonic() - started, 3)})
    try:
        fields = await _probe_connected(conn, record.node_id, read_nodes)
    except psycopg.Error as exc:
        message = conninfo_util.mask_text(str(exc).strip(), secrets=(password,) if password else ())
        return NodeObservation(record.node_id, Reachability.CONNECTED, error=message)
    finally:
        await conn.close()
    return NodeObservation(record.node_id, Reachability.CONNECTED,
                           extra={"probe_seconds": round(time.monotonic() - started, 3)}, **fields)


async def probe_nodes_async(records, password=None, timeout=5, secrets=(), read_nodes=False):
    """{node_id: NodeObservation} for every record, all within `timeout` (+ a small margin).

    read_nodes: also read each node's own copy of repmgr.nodes (NodeObservation.nodes).
    """

    async def bounded(record):
        try:
            return await asyncio.wait_for(probe_node(record, password, timeout, secrets, read_nodes), timeout + 1)
        except asyncio.TimeoutError:
            return NodeObservation(record.node_id, Reachability.DOWN,
                                   error="no answer within %s seconds (server hung or network cut)" % timeout)

    results = await asyncio.gather(*(bounded(r) for r in records))
    return {obs.node_id: obs for obs in results}


def probe_nodes(records, password=None, timeout=5, secrets=(), read_nodes=False):
    """Synchronous entry point for modules."""
    conninfo_util.require_psycopg()
    if not records:
        return {}
    return asyncio.run(probe_nodes_async(records, password, timeout, secrets, read_nodes))
