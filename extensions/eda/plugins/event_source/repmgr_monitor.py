# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr_monitor: watch a repmgr cluster's primary (and the other nodes) and report what happens.

It holds a connection to the primary and waits on it, so a crashed primary is noticed at once
(the connection breaks), and checks it every monitor_interval seconds (ping, connection or
query), so a hung one is noticed at the next check. A lost primary is retried
reconnect_attempts times, reconnect_interval seconds apart, as repmgrd does, before it is
declared failed. Every network problem is an event, never an exception: the source survives
every node being down, restarted or hung. The decisions live in
plugins/module_utils/monitor.py; this file does the waiting.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import sys
import time
from typing import Any, Dict

DOCUMENTATION = r"""
---
short_description: Watch a repmgr cluster and report primary failures, as repmgrd does.
description:
  - Reads the repmgr metadata from the first node in O(conninfo) that answers, holds a connection to the
    registered primary and checks it every O(monitor_interval) seconds.
  - "Events (fields under C(event.repmgr)): C(monitor_start); C(upstream_disconnect) when the primary stops
    answering; C(upstream_reconnect) when it answers again within the retry window; C(primary_failure) when it
    did not, with what every survivor saw (reachable, in recovery, received and replayed LSN, whether its WAL
    receiver still streams); C(new_primary) when the metadata names another running primary; C(standby_failure)
    and C(node_recovered) for the other nodes; C(stale_primary) when a node other than the primary runs as a
    primary (a split brain)."
  - Every event carries C(cluster), C(node_id), C(node_name) and C(timestamp).
options:
  conninfo:
    description: conninfo of the cluster's nodes (one string or a list), without password; any that answers gives the metadata.
    type: list
    elements: str
    required: true
  node_conninfo:
    description:
      - "How the monitor reaches some nodes, when not by their conninfo in the metadata: {node_name: conninfo}
        (another network, a proxy). The standbys keep using the metadata's conninfo."
    type: dict
  password:
    description: Password of the repmgr user, when the conninfo strings and .pgpass/PGPASSFILE do not provide it.
    type: str
  cluster:
    description: Cluster name put into every event (the rule throttles per cluster).
    type: str
    default: default
  monitor_interval:
    description: Seconds between two checks of the primary (repmgr's monitor_interval_secs).
    type: float
    default: 2
  reconnect_attempts:
    description: Reconnection attempts before the primary is declared failed.
    type: int
    default: 6
  reconnect_interval:
    description: Seconds between two reconnection attempts.
    type: float
    default: 10
  connection_check_type:
    description: C(ping) (PQping), C(connection) (open a new session) or C(query) (SELECT 1 on the held session).
    type: str
    default: ping
  connect_timeout:
    description: Seconds each connection attempt and check may take.
    type: int
    default: 2
"""

EXAMPLES = r"""
- name: Watch the cluster
  hosts: all
  sources:
    - pgha.repmgr.repmgr_monitor:
        cluster: main
        conninfo:
          - host=10.0.0.11 user=repmgr dbname=repmgr
          - host=10.0.0.12 user=repmgr dbname=repmgr
        reconnect_attempts: 5
        reconnect_interval: 1
  rules:
    - name: Primary lost
      condition: event.repmgr.event == "primary_failure"
      action:
        debug:
"""


def _make_collection_importable():
    """ansible-rulebook runs this file by path: put the collections folder on sys.path.

    The file lives in <root>/ansible_collections/pgha/repmgr/extensions/eda/plugins/event_source/.
    """
    folder = os.path.dirname(os.path.abspath(__file__))
    while folder != os.path.dirname(folder):
        if os.path.basename(folder) == "ansible_collections":
            if os.path.dirname(folder) not in sys.path:
                sys.path.insert(0, os.path.dirname(folder))
            return
        folder = os.path.dirname(folder)


_make_collection_importable()

# pylint: disable=wrong-import-position
import psycopg  # noqa: E402
from psycopg import pq  # noqa: E402

from ansible_collections.pgha.repmgr.plugins.module_utils import connection, metadata, monitor, probe  # noqa: E402
from ansible_collections.pgha.repmgr.plugins.module_utils import replication  # noqa: E402

LOGGER = logging.getLogger(__name__)
LISTEN_CHANNEL = "pgha_repmgr_monitor"


class Monitor:
    """One watched cluster: the current metadata, the primary, and what was already reported."""

    def __init__(self, queue, settings):
        self.queue = queue
        self.settings = settings
        self.records = ()
        self.primary = None
        self.nodes = monitor.NodeWatch()
        self.failure_started = None

    async def put(self, name, record=None, **details):
        await self.queue.put(monitor.event(self.settings, name, record, **details))

    # -- connections ------------------------------------------------------------------------

    def conninfo_of(self, text):
        return connection.session_conninfo(connection.node_conninfo(text, self.settings.password),
                                           connect_timeout=self.settings.connect_timeout,
                                           statement_timeout=self.settings.connect_timeout + 1)

    async def connect(self, text):
        """An AsyncConnection, or None (a down node is a fact, not an error)."""
        try:
            return await asyncio.wait_for(psycopg.AsyncConnection.connect(self.conninfo_of(text), autocommit=True),
                                          self.settings.connect_timeout + 1)
        except (psycopg.Error, asyncio.TimeoutError, OSError):
            return None

    async def read_metadata(self):
        """repmgr.nodes from the first node that answers (the primary's copy first); False if none."""
        candidates = [self.settings.conninfo_for(r) for r in self.records
                      if r.node_id == getattr(self.primary, "node_id", None)]
        candidates += [self.settings.conninfo_for(r) for r in self.records] + list(self.settings.conninfo)
        for text in candidates:
            conn = await self.connect(text)
            if conn is None:
                continue
            try:
                async with conn.cursor() as cur:
                    await cur.execute(metadata.SELECT_NODES)
                    self.records = tuple(metadata.node_record_from_row(row) for row in await cur.fetchall())
                return True
            except psycopg.Error:
                continue
            finally:
                await conn.close()
        return False

    # -- checks ---------------------------------------------------------------------------

    async def check(self, record, held):
        """The primary answers, by the configured check type, within connect_timeout."""
        timeout = self.settings.connect_timeout
        kind = self.settings.connection_check_type
        try:
            if kind == "ping":
                target = self.conninfo_of(self.settings.conninfo_for(record)).encode()
                answer = await asyncio.wait_for(asyncio.to_thread(pq.PGconn.ping, target), timeout + 1)
                return answer in (pq.Ping.OK, pq.Ping.REJECT)
            if kind == "connection":
                conn = await self.connect(self.settings.conninfo_for(record))
                if conn is None:
                    return False
                await conn.close()
                return True
            await asyncio.wait_for(held.execute("SELECT 1"), timeout)
            return True
        except (psycopg.Error, asyncio.TimeoutError, OSError):
            return False

    @staticmethod
    async def broken_within(held, seconds):
        """Wait up to `seconds` on the held session: True as soon as it breaks (a crash closes it)."""
        try:
            await asyncio.wait_for(_drain_notifies(held), seconds)
        except asyncio.TimeoutError:
            return False
        except (psycopg.Error, OSError):
            return True
        return True

    async def survivors(self, primary_id):
        """Probe every node but the primary: {node_id: NodeObservation}, under one deadline."""
        others = [dataclasses.replace(r, conninfo=self.settings.conninfo_for(r))
                  for r in self.records if r.node_id != primary_id]
        if not others:
            return {}
        return await probe.probe_nodes_async(others, self.settings.password, self.settings.connect_timeout)

    async def round_of_probes(self, primary_id):
        observations = await self.survivors(primary_id)
        for item in self.nodes.transitions(self.settings, self.records, observations, primary_id):
            await self.queue.put(item)

    async def watch_session(self, record):
        """The held session to the primary, listening (so that waiting on it notices a crash)."""
        conn = await self.connect(self.settings.conninfo_for(record))
        if conn is not None:
            try:
                await conn.execute("LISTEN %s" % LISTEN_CHANNEL)
            except psycopg.Error:
                await conn.close()
                return None
        return conn

    # -- the loop ---------------------------------------------------------------------------

    async def run(self):
        while not await self.read_metadata() or monitor.current_primary(self.records) is None:
            await asyncio.sleep(self.settings.monitor_interval)
        self.primary = monitor.current_primary(self.records)
        await self.put(monitor.MONITOR_START, self.primary, nodes=[r.node_name for r in self.records],
                       detection_window=self.settings.detection_window)
        while True:
            lost = await self.watch(self.primary)
            if lost:
                await self.after_loss(self.primary)

    async def watch(self, primary):
        """Watch `primary` until it is declared lost (True) or the metadata names another (False)."""
        held = await self.watch_session(primary)
        try:
            while True:
                if held is None or await self.broken_within(held, self.settings.monitor_interval) \
                        or not await self.check(primary, held):
                    if await self.retry(primary):
                        if held is not None:
                            await held.close()
                        held = await self.watch_session(primary)
                        continue
                    return True
                await self.round_of_probes(primary.node_id)
                if await self.read_metadata():
                    named = monitor.current_primary(self.records)
                    if named is not None and named.node_id != primary.node_id:
                        self.primary = named
                        await self.put(monitor.NEW_PRIMARY, named, previous_node_id=primary.node_id)
                        return False
        finally:
            if held is not None:
                await held.close()

    async def retry(self, primary):
        """repmgrd's try_reconnect: True when the primary answered again within the window."""
        started = time.monotonic()
        await self.put(monitor.UPSTREAM_DISCONNECT, primary, reconnect_attempts=self.settings.reconnect_attempts,
                       reconnect_interval=self.settings.reconnect_interval)
        for _attempt in range(self.settings.reconnect_attempts):
            await asyncio.sleep(self.settings.reconnect_interval)
            conn = await self.connect(self.settings.conninfo_for(primary))
            if conn is not None:
                await conn.close()
                await self.put(monitor.UPSTREAM_RECONNECT, primary, seconds=round(time.monotonic() - started, 3))
                return True
        self.failure_started = started
        return False

    async def after_loss(self, primary):
        """Report primary_failure with the survivors' view, then wait for a new primary (or the old one)."""
        observations = await self.survivors(primary.node_id)
        standbys = [monitor.standby_view(r, observations.get(r.node_id)) for r in self.records
                    if r.node_id != primary.node_id]
        await self.put(monitor.PRIMARY_FAILURE, primary, standbys=standbys,
                       seconds_since_first_failure=round(time.monotonic() - self.failure_started, 3),
                       reconnect_attempts=self.settings.reconnect_attempts,
                       reconnect_interval=self.settings.reconnect_interval)
        while True:
            await asyncio.sleep(self.settings.monitor_interval)
            await self.round_of_probes(primary.node_id)
            if await self.read_metadata():
                named = monitor.current_primary(self.records)
                if named is not None and named.node_id != primary.node_id:
                    self.primary = named
                    await self.put(monitor.NEW_PRIMARY, named, previous_node_id=primary.node_id)
                    return
            if await self.runs_as_primary(primary):
                await self.put(monitor.UPSTREAM_RECONNECT, primary, after_failure=True)
                return

    async def runs_as_primary(self, record):
        """The node answers and is not in recovery."""
        conn = await self.connect(self.settings.conninfo_for(record))
        if conn is None:
            return False
        try:
            async with conn.cursor() as cur:
                await cur.execute(replication.IN_RECOVERY)
                return not (await cur.fetchone())[0]
        except psycopg.Error:
            return False
        finally:
            await conn.close()


async def _drain_notifies(held):
    """Wait on the held session; nothing is ever notified, so this returns only when it breaks."""
    async for _notify in held.notifies():
        pass


async def main(queue: asyncio.Queue, args: Dict[str, Any]):
    """Entry point for ansible-rulebook: validate the arguments, then watch until cancelled."""
    settings = monitor.settings_from_args(args)
    watcher = Monitor(queue, settings)
    try:
        await watcher.run()
    except asyncio.CancelledError:
        LOGGER.info("repmgr_monitor for cluster %s stops", settings.cluster)
        raise


if __name__ == "__main__":
    # Run by hand: python repmgr_monitor.py "host=127.0.0.11 port=55432 user=repmgr dbname=repmgr" ...
    class PrintQueue:
        async def put(self, item):
            print(item, flush=True)

    asyncio.run(main(PrintQueue(), dict(conninfo=sys.argv[1:] or ["dbname=repmgr"],
                                        password=os.environ.get("PGPASSWORD"),
                                        reconnect_attempts=3, reconnect_interval=1)))
