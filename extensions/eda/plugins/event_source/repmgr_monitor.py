# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr_monitor: watch a repmgr cluster's primary (and the other nodes) and report what happens.

The loop and every decision live in plugins/module_utils/monitor.py (unit-tested with a
scripted clock and cluster), its arguments' checks in monitor_settings.py, the
monitoring_history rows in monitor_history.py, and the notification commands and their
background queue in notify.py; this file gives them the real world: psycopg sessions, libpq's ping, the
parallel probe, and ansible-rulebook's queue. Every await here is bounded by a
timeout, and every connection problem becomes an Unreachable for the loop, never an exception
out of the source (an uncaught one would end the whole ansible-rulebook process).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import logging
import os
import signal
import sys
import time
import urllib.error
import urllib.request
from typing import Any, Dict

DOCUMENTATION = r"""
---
short_description: Watch a repmgr cluster and report primary failures, as repmgrd does.
description:
  - Finds the cluster's primary with one rule (the node running as a primary on the newest timeline, then its
    own copy of repmgr.nodes), holds a session to it (a crash breaks it at once) and checks it every
    O(monitor_interval) seconds. A failed check is attempt 1 of repmgrd's window; O(reconnect_attempts) - 1
    more attempts follow, O(reconnect_interval) apart, each bounded by O(connect_timeout). A server that
    answers, even to refuse a session, is alive.
  - "Events (fields under C(event.repmgr)), with repmgrd's names where it has one: C(repmgrd_start);
    C(repmgrd_upstream_disconnect) at the failed check; C(repmgrd_upstream_reconnect) when the primary answers
    again; C(primary_failure) at the failed check, armed with C(decide_at) (the end of the window, when the
    failover run decides), repeated while no node takes over (C(reason) C(unreachable)), and also when a
    failover was left unfinished (C(reason) C(unfinished)); C(primary_lost) when the window ended without an
    answer; C(failover_paused) instead of C(primary_failure), once, while automatic failover is paused
    (playbook C(pgha.repmgr.pause)), with C(primary_failure) following as soon as it is unpaused;
    C(new_primary); C(standby_failure) and C(standby_recovery); C(stale_primary) when a node runs as a primary
    beside the live one; C(monitor_error) for a bad conninfo in the metadata or any unexpected error (the
    monitor goes on)."
  - Writes repmgrd's rows into repmgr.events on the primary (C(repmgrd_start) for every node,
    C(repmgrd_upstream_disconnect), C(repmgrd_upstream_reconnect), C(standby_failure) and C(standby_recovery),
    which also mark the node inactive and active, C(repmgrd_shutdown)), unless O(write_events) is false.
  - With O(monitoring_history), writes each monitor interval, while the primary answers, one
    C(repmgr.monitoring_history) row per standby, as repmgrd's C(monitoring_history=yes) does, so that the view
    C(repmgr.replication_status) shows each standby's lag. Keep the table bounded with M(pgha.repmgr.repmgr_cluster_cleanup).
  - Every event carries C(cluster), C(node_id), C(node_name) and C(timestamp).
  - With O(event_notification_command), runs repmgr's event notification command for every row it has written
    into repmgr.events (after the commit, in order, in the background, so that monitoring never waits for it), with
    repmgr's placeholders; a command that fails or does not finish within 10 seconds (it is killed then) is a
    C(monitor_error) event with C(option) C(event_notification_command).
  - With O(heartbeat_interval), emits C(monitor_heartbeat) every so many seconds (C(state) C(watching),
    C(failing) or C(lost), C(last_check), C(monitoring_since), C(failover_paused)), so that silence means the
    monitor is gone (repmgr service status).
  - With O(webhook_url), posts each failover event (C(repmgrd_upstream_disconnect), C(primary_failure),
    C(primary_lost), C(new_primary), C(stale_primary), C(repmgrd_upstream_reconnect), the pause events) as JSON
    to that URL, in the background; a refused or failed post is a C(monitor_error) with C(option) C(webhook_url).
requirements:
  - psycopg 3 (psycopg[binary]) in ansible-rulebook's Python
  - the pgha.repmgr collection on ansible-rulebook's collections path (its module_utils are the monitor's core)
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
    description: Cluster name put into every event.
    type: str
    default: default
  monitor_interval:
    description: Seconds between two checks of the primary (repmgr's monitor_interval_secs).
    type: float
    default: 2
  reconnect_attempts:
    description: Attempts (the failed check included, as repmgrd counts) before the primary is declared failed.
    type: int
    default: 6
  reconnect_interval:
    description: Seconds between two attempts.
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
  failure_repeat_interval:
    description:
      - Seconds between two C(primary_failure) events for the same lost primary, while no node takes over.
      - Default the detection window, (O(reconnect_attempts) - 1) x O(reconnect_interval), but at least 10 s;
        each event starts a playbook run, and runs faster than they finish would pile up.
    type: float
  write_events:
    description: Write repmgrd's rows into repmgr.events (and mark failed standbys inactive) on the primary.
    type: bool
    default: true
  monitoring_history:
    description:
      - Write repmgrd's C(repmgr.monitoring_history) rows (repmgr's C(monitoring_history=yes)) on the primary, each
        O(monitor_interval), one per standby that answers - primary and standby node IDs, the standby's clock and
        last replayed transaction's time, the primary's current and the standby's received LSN, replication and
        apply lag in bytes.
      - The rows accumulate (about 43,000 a day per standby at the default interval); delete old ones with
        M(pgha.repmgr.repmgr_cluster_cleanup) or C(repmgr cluster cleanup --keep-history=N).
    type: bool
    default: false
  event_notification_command:
    description:
      - repmgr's C(event_notification_command) for the rows the monitor writes (C(repmgrd_start),
        C(repmgrd_upstream_disconnect), C(standby_failure), ...), with the same placeholders as the modules' option
        of the same name (C(%n) C(%a) C(%e) C(%s) C(%t) C(%d) C(%p) C(%c), quoted for the shell, passwords masked).
      - Run through C(/bin/sh) as the user of ansible-rulebook, at most 10 seconds each.
    type: str
    default: ''
  event_notifications:
    description: The event names for which O(event_notification_command) runs (repmgr's C(event_notifications)); empty means all.
    type: list
    elements: str
    default: []
  heartbeat_interval:
    description: Seconds between two C(monitor_heartbeat) events; C(0) for none.
    type: float
    default: 0
  webhook_url:
    description: An C(http://) or C(https://) URL to post the failover events to, as JSON (the event's C(repmgr) fields); empty for none.
    type: str
    default: ''
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
        run_playbook:
          name: pgha.repmgr.failover
"""


def _make_collection_importable():
    """ansible-rulebook loads this file by path, outside any package: put the collections folder on sys.path.

    ansible-rulebook imports an event source as a lone file (importlib from its path), so the
    collection's module_utils are importable only if the folder holding ansible_collections/
    is on sys.path; ansible-rulebook does not add it. The file lives in
    <root>/ansible_collections/pgha/repmgr/extensions/eda/plugins/event_source/.
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

from ansible_collections.pgha.repmgr.plugins.module_utils import connection, metadata, monitor, notify, probe  # noqa: E402
from ansible_collections.pgha.repmgr.plugins.module_utils import monitor_history, monitor_settings  # noqa: E402
from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util  # noqa: E402
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption  # noqa: E402
from ansible_collections.pgha.repmgr.plugins.module_utils.records import Reachability  # noqa: E402

LOGGER = logging.getLogger(__name__)
LISTEN_CHANNEL = "pgha_repmgr_monitor"
APPLICATION_NAME = "pgha-repmgr-monitor"
WEBHOOK_TIMEOUT = 10  # seconds a webhook post may take


class Session:
    """A psycopg AsyncConnection as the loop uses it; every call bounded."""

    def __init__(self, conn, timeout):
        self.conn = conn
        self.timeout = timeout

    async def broken_within(self, seconds):
        """Wait up to `seconds` on the session: True as soon as it breaks (a crash closes it)."""
        try:
            await asyncio.wait_for(_drain_notifies(self.conn), seconds)
        except asyncio.TimeoutError:
            return False
        except (psycopg.Error, OSError):
            return True
        return True

    async def query_ok(self, sql):
        try:
            await asyncio.wait_for(self.conn.execute(sql), self.timeout)
            return True
        except (psycopg.Error, OSError, asyncio.TimeoutError):
            return False

    async def close(self):
        try:
            await asyncio.wait_for(self.conn.close(), self.timeout)
        except (psycopg.Error, OSError, asyncio.TimeoutError):
            pass


def _stamp(seconds):
    """Seconds since the epoch as a timestamptz parameter (None stays None)."""
    return None if seconds is None else datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc)


async def _drain_notifies(conn):
    """Wait on the held session; nothing is ever notified, so this returns only when it breaks."""
    async for _notify in conn.notifies():
        pass


class RealIO:
    """monitor.MonitorIO's functions over psycopg, for one cluster's settings."""

    def __init__(self, queue, settings):
        self.queue = queue
        self.settings = settings
        self.side_jobs = notify.NotificationQueue(self.report)  # notification commands and webhook posts, in order

    def target(self, text):
        return connection.node_target(text, self.settings.password, connect_timeout=self.settings.connect_timeout,
                                      statement_timeout=self.settings.connect_timeout + 1,
                                      application_name=APPLICATION_NAME)

    async def connect(self, text, hold=False):
        timeout = self.settings.connect_timeout
        try:
            conn = await asyncio.wait_for(psycopg.AsyncConnection.connect(self.target(text), autocommit=True),
                                          timeout + 1)
        except asyncio.TimeoutError:
            raise monitor.Unreachable(Reachability.DOWN, "no answer within %s s" % timeout)
        except (psycopg.Error, OSError, InvalidOption) as error:
            message = conninfo_util.mask_text(str(error).strip(), secrets=self.secrets())
            raise monitor.Unreachable(connection.classify_failure(message), message)
        session = Session(conn, timeout)
        if hold and not await session.query_ok("LISTEN %s" % LISTEN_CHANNEL):
            await session.close()
            raise monitor.Unreachable(Reachability.DOWN, "LISTEN failed on the held session")
        return session

    async def ping(self, text):
        try:
            answer = await asyncio.wait_for(asyncio.to_thread(pq.PGconn.ping, self.target(text).encode()),
                                            self.settings.connect_timeout + 1)
        except (asyncio.TimeoutError, InvalidOption, OSError):
            return False
        return answer in (pq.Ping.OK, pq.Ping.REJECT)

    async def survey(self, records):
        return await probe.probe_nodes_async(records, self.settings.password, self.settings.connect_timeout,
                                             self.secrets(), read_nodes=True)

    async def write(self, text, changes):
        """The loop's changes as metadata.py's statements, in one transaction.

        monitor.WRITE_ACTIVE, monitor_history.WRITE_HISTORY and monitor.WRITE_EVENT rows.
        """
        statements = []
        for change in changes:
            if change[0] == monitor.WRITE_ACTIVE:
                statements.append((metadata.SET_ACTIVE, (change[2], change[1])))
            elif change[0] == monitor_history.WRITE_HISTORY:
                (_kind, primary_id, standby_id, monitored, applied, primary_lsn, standby_lsn, replication_lag,
                 apply_lag) = change
                statements.append((metadata.INSERT_MONITORING_RECORD, (
                    primary_id, standby_id, _stamp(monitored), _stamp(applied), primary_lsn, standby_lsn,
                    replication_lag, apply_lag)))
            else:
                _kind, node_id, name, details, when = change
                statements.append((metadata.INSERT_EVENT_AT, (node_id, name, True, details, _stamp(when))))

        async def run():
            async with await psycopg.AsyncConnection.connect(self.target(text)) as conn:
                async with conn.transaction():
                    for sql, params in statements:
                        await conn.execute(sql, params)
        try:
            await asyncio.wait_for(run(), self.settings.connect_timeout * 2 + 2)
        except (psycopg.Error, OSError) as error:  # the loop may report it: never with a password
            raise RuntimeError(conninfo_util.mask_text(str(error).strip(), secrets=self.secrets())) from None

    async def emit(self, item):
        await self.queue.put(item)
        body = item.get("repmgr", {})
        if self.settings.webhook_url and body.get("event") in monitor.WEBHOOK_EVENTS:
            self.side_jobs.add(self.post_webhook(body))

    # notifications and webhook posts: in the background, in order, each bounded; a failure is a monitor_error

    async def report(self, option, message):
        await self.queue.put(monitor.event(self.settings, monitor.MONITOR_ERROR, None, option=option,
                                           error=conninfo_util.mask_text(message, secrets=self.secrets())))

    async def notify(self, notes):
        """The monitor's committed rows: one notification command each, in the background."""
        for item in notes:
            self.side_jobs.add(self.run_notification(item))

    async def run_notification(self, item):
        message = await notify.deliver_async(self.settings.event_notification_command, notify.note_from_row(item),
                                             self.secrets())
        if message:
            await self.report("event_notification_command", message)

    async def post_webhook(self, body):
        data = json.dumps(body, default=str).encode()
        url = self.settings.webhook_url

        def post():
            request = urllib.request.Request(url, data=data, method="POST",
                                             headers={"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT) as answer:  # nosec B310 (http(s) only)
                return answer.status

        try:
            await asyncio.wait_for(asyncio.to_thread(post), WEBHOOK_TIMEOUT + 1)
        except (urllib.error.URLError, OSError, asyncio.TimeoutError, ValueError) as error:
            reason = getattr(error, "reason", None) or error
            await self.report("webhook_url", "the webhook %s refused the %s event: %s: %s"
                              % (conninfo_util.mask_text(url), body.get("event"), type(error).__name__, reason))

    async def stop_side_jobs(self, grace=None):
        """At shutdown: let the last ones (repmgrd_shutdown's notification) run for a moment (notify.QUEUE_GRACE)."""
        await self.side_jobs.stop(notify.QUEUE_GRACE if grace is None else grace)

    def secrets(self):
        return (self.settings.password,) if self.settings.password else ()

    def monitor_io(self):
        return monitor.MonitorIO(clock=time.monotonic, sleep=asyncio.sleep, connect=self.connect, ping=self.ping,
                                 survey=self.survey, write=self.write, emit=self.emit, notify=self.notify)


def settings_from(args):
    """The loop's settings; every conninfo argument must parse (bad arguments stop the source at start)."""
    settings = monitor_settings.settings_from_args(args)
    for text in settings.conninfo:
        conninfo_util.parse(text, "conninfo")
    for name, text in settings.node_conninfo.items():
        conninfo_util.parse(text, "node_conninfo[%s]" % name)
    return settings


def restore_graceful_stop():
    """Give SIGTERM and SIGINT back to ansible-rulebook's own handler.

    ansible-rulebook installs a handler that shuts down gracefully (it cancels the sources, so
    this one writes repmgrd_shutdown), but the rules engine's JVM, started after it, takes both
    signals over and ends the process at once. Installing the same Python handler again puts it
    back in front. Only possible from the main thread; elsewhere (a test's thread) nothing to do.
    """
    for signum in (signal.SIGTERM, signal.SIGINT):
        handler = signal.getsignal(signum)
        if callable(handler):
            try:
                signal.signal(signum, handler)
            except ValueError:
                return


async def main(queue: asyncio.Queue, args: Dict[str, Any]):
    """Entry point for ansible-rulebook: validate the arguments, then watch until cancelled."""
    settings = settings_from(args)
    restore_graceful_stop()
    world = RealIO(queue, settings)
    watcher = monitor.Monitor(settings, world.monitor_io())
    try:
        await watcher.run()
    except asyncio.CancelledError:
        LOGGER.info("repmgr_monitor for cluster %s stops", settings.cluster)
        raise
    finally:
        await world.stop_side_jobs()


if __name__ == "__main__":
    # Run by hand: python repmgr_monitor.py "host=127.0.0.11 port=55432 user=repmgr dbname=repmgr" ...
    class PrintQueue:
        async def put(self, item):
            print(item, flush=True)

    asyncio.run(main(PrintQueue(), dict(conninfo=sys.argv[1:] or ["dbname=repmgr"],
                                        password=os.environ.get("PGPASSWORD"),
                                        reconnect_attempts=3, reconnect_interval=1)))
