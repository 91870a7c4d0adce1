# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The repmgr_monitor event source's loop and its decisions, as repmgrd watches a cluster.

The loop takes its clock, its sleep and every I/O as parameters (MonitorIO), so that its
transitions are unit-tested in milliseconds against a scripted cluster; the event source
(extensions/eda/plugins/event_source/repmgr_monitor.py) gives it the real ones (psycopg).

What it does, in repmgrd's terms:

- It holds a session to the primary and waits on it (a crash breaks it at once), and checks
  the primary every monitor_interval seconds (ping, connection or query). A failed check is
  attempt 1 of repmgrd's window; reconnect_attempts - 1 more follow, reconnect_interval
  apart, started on schedule (a hung attempt does not push the next one back), each bounded
  by connect_timeout. A server that answers, even to refuse a session (too many clients), is
  alive. When none succeeds, `primary_failure` is sent.
- Level-triggered: while the primary stays lost and no node has taken over, primary_failure
  is repeated every repeat interval, so a failover cancelled once (a standby restarting, the
  monitor alone cut off) is tried again. A failover whose metadata or follows were left
  unfinished (the run was killed) is reported the same way, until a run finishes it.
- Who the primary is comes from primary.cluster_truth (newest timeline, then that node's own
  metadata), surveyed every interval on every node, never from the first copy that answers.
- It writes repmgrd's rows into repmgr.events on the primary: repmgrd_start for every node,
  repmgrd_upstream_disconnect / repmgrd_upstream_reconnect, standby_failure / standby_recovery
  (marking the node inactive / active, as repmgrd does), repmgrd_shutdown. Rows that happen
  while no primary can take them wait, with their time, until one can.
- With monitoring_history (repmgrd's monitoring_history=yes), it writes each monitor interval,
  while the primary answers, one repmgr.monitoring_history row per standby that answers, with
  what that standby's repmgrd would write (monitor_history.monitoring_records()). They are
  sent in the background (watching the primary never waits for them) and never held: a row
  that cannot be written is dropped, and the next interval writes fresh ones.
- With event_notification_command, it hands the event rows of each committed write to
  io.notify (committed_notes()); running the command is notify.py's, in the event source.
- It never dies: a bad conninfo in the metadata is a `monitor_error` event and the node is
  skipped; any unexpected error is a `monitor_error`, and the loop goes on.

Beside it: monitor_settings.py (the source's arguments, checked, as one Settings record) and
monitor_history.py (the repmgr.monitoring_history rows of a survey).
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.event_notifications import wanted
from ansible_collections.pgha.repmgr.plugins.module_utils.monitor_history import monitoring_records
from ansible_collections.pgha.repmgr.plugins.module_utils.primary import active_primary, cluster_truth
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeRecord,
    NodeType,
    Reachability,
    describe,
    lsn_to_text,
)

SLICE = 0.02  # seconds: how often a wait looks at what its attempts found
SHUTDOWN_WRITE_TIMEOUT = 2.0

# The source's events (event.repmgr.event): repmgrd's names where repmgrd has one.
REPMGRD_START = "repmgrd_start"
UPSTREAM_DISCONNECT = "repmgrd_upstream_disconnect"
UPSTREAM_RECONNECT = "repmgrd_upstream_reconnect"
PRIMARY_FAILURE = "primary_failure"
PRIMARY_LOST = "primary_lost"  # informational: the window ended without an answer (no rule needs it)
NEW_PRIMARY = "new_primary"
STANDBY_FAILURE = "standby_failure"
STANDBY_RECOVERY = "standby_recovery"
STALE_PRIMARY = "stale_primary"
MONITOR_ERROR = "monitor_error"
# automatic failover paused / unpaused (pgha.repmgr.pause), as a survey first shows it
FAILOVER_PAUSED = "failover_paused"
FAILOVER_UNPAUSED = "failover_unpaused"
PRIMARY_FAILURE_PAUSED = "primary_failure_paused"  # the primary is lost while paused: nothing is done
REPMGRD_SHUTDOWN = "repmgrd_shutdown"
MONITOR_HEARTBEAT = "monitor_heartbeat"  # every heartbeat_interval seconds: the monitor runs (repmgr service status)
# The source's events posted to webhook_url: what a person on call wants to hear about a failover.
WEBHOOK_EVENTS = (UPSTREAM_DISCONNECT, UPSTREAM_RECONNECT, PRIMARY_FAILURE, PRIMARY_LOST, NEW_PRIMARY,
                  STALE_PRIMARY, PRIMARY_FAILURE_PAUSED, FAILOVER_PAUSED, FAILOVER_UNPAUSED)

# repmgr.events detail texts, as repmgrd writes them (repmgrd-physical.c).
START_PRIMARY_TEXT = 'monitoring cluster primary "%s" (ID: %d)'
START_STANDBY_TEXT = 'monitoring connection to upstream node "%s" (ID: %d)'
START_WITNESS_TEXT = 'witness monitoring connection to primary node "%s" (ID: %d)'
DISCONNECT_TEXT = 'unable to connect to upstream node "%s" (ID: %d)'
RECONNECT_TEXT = "reconnected to upstream node after %d seconds"
STANDBY_FAILURE_TEXT = 'unable to connect to local node "%s" (ID: %d), marking inactive'
STANDBY_RECOVERY_TEXT = 'reconnected to local node "%s" (ID: %d), marking active'
SHUTDOWN_TEXT = "TERM signal received"

# What the loop asks the I/O to write on the primary (MonitorIO.write).
WRITE_EVENT = "event"  # (WRITE_EVENT, node_id, event, details, when): a repmgr.events row
WRITE_ACTIVE = "active"  # (WRITE_ACTIVE, node_id, active): a repmgr.nodes record's active flag
# and monitor_history.WRITE_HISTORY: a repmgr.monitoring_history row (monitor_history.monitoring_records)


# -- events ---------------------------------------------------------------------------------------

def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds")


def event(settings, name, record=None, **details):
    """One event as the rulebook sees it: event.repmgr.<field>."""
    body = dict(event=name, cluster=settings.cluster, timestamp=now_iso())
    if record is not None:
        body.update(node_id=record.node_id, node_name=record.node_name)
    body.update(details)
    return {"repmgr": body}


def standby_view(record, observation):
    """What primary_failure tells the playbook about one survivor."""
    connected = bool(observation and observation.connected)
    return dict(
        node_id=record.node_id,
        node_name=record.node_name,
        type=record.type,
        reachable=connected,
        in_recovery=observation.in_recovery if connected else None,
        received_lsn=lsn_to_text(observation.received_lsn) if connected else None,
        replayed_lsn=lsn_to_text(observation.replayed_lsn) if connected else None,
        wal_receiver_streaming=observation.wal_receiver_streaming if connected else None,
        wal_receiver_last_msg_age=observation.wal_receiver_last_msg_age if connected else None,
    )


def start_text(record, records):
    """repmgrd_start's detail text for one node (None for a node repmgrd would not monitor)."""
    primary = active_primary(records)
    if record.type == NodeType.PRIMARY.value:
        return START_PRIMARY_TEXT % (record.node_name, record.node_id) if record.active else None
    upstream = next((r for r in records if r.node_id == record.upstream_node_id), None) or primary
    if upstream is None or not record.active:
        return None
    if record.type == NodeType.WITNESS.value:
        return START_WITNESS_TEXT % (upstream.node_name, upstream.node_id)
    return START_STANDBY_TEXT % (upstream.node_name, upstream.node_id)


# -- decisions (pure) -----------------------------------------------------------------------------

def answers(observation):
    return bool(observation is not None and observation.answers)


def standby_changes(records, observations, primary_id, skip=()):
    """[(record, STANDBY_FAILURE | STANDBY_RECOVERY)]: standbys and witnesses to mark inactive / active.

    As repmgrd: an active standby (or witness) that does not answer is marked inactive; an
    inactive one that answers again (a standby in recovery) is marked active. A refused
    session is an answer. Failed former primaries are not standbys: they are left alone.
    """
    changes = []
    for record in records:
        if record.node_id == primary_id or record.node_id in skip:
            continue
        if record.type not in (NodeType.STANDBY.value, NodeType.WITNESS.value):
            continue
        observation = observations.get(record.node_id)
        if observation is None:
            continue
        if record.active and not answers(observation):
            changes.append((record, STANDBY_FAILURE))
        elif not record.active and observation.connected and \
                (record.type == NodeType.WITNESS.value or observation.in_recovery):
            changes.append((record, STANDBY_RECOVERY))
    return changes


def unfinished_failover(truth, observations):
    """The failed primary whose failover a run left unfinished, or None.

    Unfinished: a node runs as the live primary, but the metadata still names another as the
    active primary (the run died between pg_promote() and the metadata write), or an active
    standby or witness that answers still has a former primary as its upstream (the follows
    did not happen).
    """
    live = truth.primary_id
    if live is None:
        return None
    registered = active_primary(truth.records)
    if registered is not None and registered.node_id != live:
        return registered
    for record in truth.records:
        if not record.active or record.node_id == live or record.upstream_node_id in (None, live):
            continue
        if record.type not in (NodeType.STANDBY.value, NodeType.WITNESS.value):
            continue
        upstream = truth.record(record.upstream_node_id)
        if upstream is None or upstream.type != NodeType.PRIMARY.value:
            continue  # a cascaded standby streams from a standby: that is no failover to finish
        if answers(observations.get(record.node_id)) and not _runs(observations.get(upstream.node_id)):
            return upstream
    return None


def _runs(observation):
    return bool(observation is not None and observation.connected and observation.in_recovery is False)


def committed_notes(batch, records, chosen=()):
    """What the event notification command is told of a committed batch: its repmgr.events rows, as dicts.

    Each dict has node_id, node_name, conninfo (the metadata's, None for a node not in `records`),
    event, successful, details and when (seconds since the epoch); rows of events not in `chosen`
    (event_notifications; empty: every event) are left out, and so are the batch's other changes.
    """
    known = {r.node_id: r for r in records}
    notes = []
    for change in batch:
        if change[0] != WRITE_EVENT:
            continue
        _kind, node_id, name, details, when = change
        if not wanted(name, chosen):
            continue
        node = known.get(node_id)
        notes.append(dict(node_id=node_id, node_name=node.node_name if node else None,
                          conninfo=node.conninfo if node else None, event=name, successful=True,
                          details=details, when=when))
    return notes


def retry_offsets(settings):
    """Seconds after the failed check at which repmgrd's further attempts start."""
    return [k * settings.reconnect_interval for k in range(1, settings.reconnect_attempts)]


# -- I/O the loop is given --------------------------------------------------------------------------

class Unreachable(Exception):
    """A connection attempt failed; `reachability` says whether the server answered (REJECTED)."""

    def __init__(self, reachability, message):
        super().__init__(message)
        self.reachability = reachability


@dataclass
class MonitorIO:
    """Everything the loop does to the world. Every coroutine is bounded by the implementation.

    clock() -> seconds (monotonic); sleep(seconds); connect(conninfo, hold) -> session with
    `broken_within(seconds) -> bool`, `query_ok(sql) -> bool` and `close()` (hold: the session
    also LISTENs, so that waiting on it notices a crash), or raises Unreachable; ping(conninfo)
    -> True when the server answered; wall() -> seconds since the epoch; survey(records) -> {node_id: NodeObservation} with each
    node's own metadata copy, under one deadline; execute(conninfo, [(sql, params)]) in one
    transaction; emit(event).
    """

    clock: Callable[[], float]
    sleep: Callable[[float], Any]
    connect: Callable[..., Any]
    ping: Callable[[str], Any]
    survey: Callable[[list], Any]
    write: Callable[[str, list], Any]
    emit: Callable[[dict], Any]
    wall: Callable[[], float] = field(default=time.time)  # seconds since the epoch, for rows and decide_at
    # notify([note]): the repmgr.events rows just committed on the primary, each a dict (node_id, node_name,
    # conninfo, event, successful, details, when), for the event notification command; must not wait for it
    notify: Optional[Callable[[list], Any]] = None


# -- the loop -------------------------------------------------------------------------------------

class Monitor:
    """One watched cluster: the trusted metadata, the primary, what was reported and what waits to be written."""

    def __init__(self, settings, io):
        self.s = settings
        self.io = io
        self.records = ()
        self.primary = None  # NodeRecord of the primary being watched
        self.held = None
        self.pending = []  # transactions for repmgr.events (and node activity) on the primary
        self.reported_failure = {}  # failed node_id -> clock of its last primary_failure
        self.failure_counts = {}
        self.stale = set()
        self.invalid = set()
        self.marked = set()  # (node_id, change) already reported, until the metadata shows it
        self.observations = {}
        self.truth = None
        self.said_paused = set()  # failed node_ids for which primary_failure_paused was reported
        self.was_paused = None  # the pause switch as the last survey showed it (None: not known yet)
        self.history_failing = False  # the last monitoring_history write failed (reported once)
        self.history_task = None  # the monitoring_history rows on their way to the primary
        self.heartbeat_task = None
        self.started_at = None  # wall clock of repmgrd_start
        self.last_check = None  # wall clock of the last check the primary answered
        self.state = "starting"  # starting, watching, failing (in the retry window), lost

    # small helpers

    async def emit(self, name, record=None, **details):
        await self.io.emit(event(self.s, name, record, **details))

    def reach(self, record):
        return dataclasses.replace(record, conninfo=self.s.conninfo_for(record))

    def queue_rows(self, *rows, activity=()):
        """One transaction for the primary: records' active flags, then event rows with the time they happened.

        Plain data (WRITE_ACTIVE, node_id, active) and (WRITE_EVENT, node_id, event, details, when):
        the I/O turns them into metadata.py's statements.
        """
        if not self.s.write_events:
            return
        when = self.io.wall()
        batch = [(WRITE_ACTIVE, node_id, active) for node_id, active in activity]
        batch += [(WRITE_EVENT, node_id, name, details, when) for node_id, name, details in rows]
        self.pending.append(batch)
        del self.pending[:-100]  # a primary that never comes back must not grow this forever

    async def sleep_until(self, moment):
        while True:
            remaining = moment - self.io.clock()
            if remaining <= 0:
                return
            await self.io.sleep(min(remaining, SLICE))

    # one round of looking at every node

    async def survey(self):
        """Probe every known node; update the truth; report bad conninfo and stale primaries."""
        if self.records:
            targets = [self.reach(r) for r in self.records]
        else:  # the very start: only the argument conninfo strings are known
            targets = [NodeRecord(node_id=-(i + 1), node_name="conninfo %d" % (i + 1), type="unknown", conninfo=c)
                       for i, c in enumerate(self.s.conninfo)]
        observations = await self.io.survey(targets)
        copies = {n: obs.nodes for n, obs in observations.items() if obs.connected and obs.nodes}
        if not self.records:
            fallback = next(iter(copies.values()), ())
            if not fallback:
                return None
            self.records = tuple(fallback)
            return await self.survey()
        truth = cluster_truth(observations, copies, fallback=self.records)
        self.truth, self.observations = truth, observations
        if truth.records:
            self.records = truth.records
        await self.report_invalid_conninfo(observations)
        await self.report_stale(truth)
        await self.report_pause()
        return truth

    async def report_pause(self):
        """failover_paused / failover_unpaused when the switch flips (at start: when it is paused)."""
        paused = self.paused()
        if paused != bool(self.was_paused) or (self.was_paused is None and paused):
            await self.emit(FAILOVER_PAUSED if paused else FAILOVER_UNPAUSED,
                            detail="automatic failover is paused: a lost primary is reported, not failed over"
                            if paused else "automatic failover runs again")
        self.was_paused = paused

    async def report_invalid_conninfo(self, observations):
        for node_id, observation in observations.items():
            bad = bool(observation.extra.get("invalid_conninfo"))
            record = next((r for r in self.records if r.node_id == node_id), None)
            if bad and node_id not in self.invalid and record is not None:
                self.invalid.add(node_id)
                await self.emit(MONITOR_ERROR, record, option="conninfo",
                                error="the conninfo of node %s in repmgr.nodes is invalid: %s; the node is skipped"
                                % (describe(record), observation.error))
            elif not bad:
                self.invalid.discard(node_id)

    async def report_stale(self, truth):
        """stale_primary once per appearance of a node running as a primary beside the live one."""
        running_beside = set(truth.stale_ids) | set(truth.rival_ids)
        live = truth.record(truth.primary_id) if truth.primary_id is not None else None
        for node_id in sorted(running_beside - self.stale):
            record = truth.record(node_id)
            if record is None or live is None:
                continue
            observation = self.observations.get(node_id)
            await self.emit(STALE_PRIMARY, record, registered_as=record.type, active=record.active,
                            primary_node_id=live.node_id, primary_node_name=live.node_name,
                            timeline=observation.current_timeline if observation else None,
                            primary_timeline=truth.timeline, same_timeline=node_id in truth.rival_ids)
        self.stale = running_beside

    # starting

    async def start(self):
        """Find the cluster and its primary (waiting while none is known), then report repmgrd_start."""
        complained = False
        while True:
            truth = await self.survey()
            if truth is not None:
                target = truth.record(truth.primary_id) if truth.primary_id is not None else truth.active_primary
                if target is not None:
                    break
            if not complained:
                complained = True
                await self.emit(MONITOR_ERROR, error="no node of the conninfo list answered with the repmgr metadata "
                                                     "and a primary; waiting")
            await self.io.sleep(self.s.monitor_interval)
        self.primary = target
        await self.open_held()  # before repmgrd_start: from then on a crash is noticed at once
        rows = [(r.node_id, REPMGRD_START, start_text(r, self.records)) for r in self.records]
        self.queue_rows(*[row for row in rows if row[2]])
        await self.flush()  # the rows first: when the event is seen, they are in repmgr.events
        self.started_at = self.last_check = self.io.wall()
        self.state = "watching"
        await self.emit(REPMGRD_START, target, nodes=[r.node_name for r in self.records],
                        detection_window=self.s.detection_window, reconnect_attempts=self.s.reconnect_attempts,
                        reconnect_interval=self.s.reconnect_interval, monitor_interval=self.s.monitor_interval)

    async def run(self):
        """start(), then watch forever. Cancelled (the rulebook stops): repmgrd_shutdown, re-raised."""
        try:
            await self.guarded(self.start)
            while self.primary is None:
                await self.io.sleep(self.s.monitor_interval)
                await self.guarded(self.start)
            if self.s.heartbeat_interval > 0:
                self.heartbeat_task = asyncio.ensure_future(self.heartbeats())
            while True:
                await self.guarded(self.step)
        except asyncio.CancelledError:
            await self.shutdown()
            raise

    async def guarded(self, step):
        """Run one step; an unexpected error is a monitor_error event, never the end of the monitor."""
        try:
            await step()
        except asyncio.CancelledError:
            raise
        except Exception as error:  # pylint: disable=broad-except
            await self.emit(MONITOR_ERROR, self.primary, error="%s: %s" % (type(error).__name__, error))
            await self.io.sleep(self.s.monitor_interval)

    async def heartbeats(self):
        """monitor_heartbeat every heartbeat_interval seconds, whatever the loop is doing (repmgr service status)."""
        while True:
            await self.io.sleep(self.s.heartbeat_interval)
            try:
                await self.emit(MONITOR_HEARTBEAT, self.primary, **self.status())
            except asyncio.CancelledError:
                raise
            except Exception:  # pylint: disable=broad-except
                pass  # a heartbeat that cannot be sent is simply missing: its absence is the signal

    def status(self):
        """What the heartbeat says: the monitor's state, since when it runs, when the primary last answered."""
        wall = self.io.wall()
        return dict(state=self.state, failover_paused=self.paused(), monitoring_since=self.started_at,
                    seconds_since_last_check=round(wall - self.last_check, 3) if self.last_check is not None else None,
                    last_check=self.last_check, nodes=[r.node_name for r in self.records],
                    heartbeat_interval=self.s.heartbeat_interval)

    async def shutdown(self):
        if self.heartbeat_task is not None and not self.heartbeat_task.done():
            self.heartbeat_task.cancel()
        if self.history_task is not None and not self.history_task.done():
            self.history_task.cancel()
        if self.primary is not None:
            self.queue_rows((self.primary.node_id, REPMGRD_SHUTDOWN, SHUTDOWN_TEXT))
        try:
            await asyncio.wait_for(self.flush(), SHUTDOWN_WRITE_TIMEOUT)
        except (asyncio.TimeoutError, asyncio.CancelledError, Exception):  # pylint: disable=broad-except
            pass
        await self.close_held()

    # watching the primary

    async def close_held(self):
        if self.held is not None:
            try:
                await self.held.close()
            except Exception:  # pylint: disable=broad-except
                pass
            self.held = None

    async def open_held(self):
        try:
            self.held = await self.io.connect(self.s.conninfo_for(self.primary), True)
        except Unreachable:
            self.held = None

    async def attempt(self):
        """One reconnection attempt: True when the primary answered (a refused session is an answer)."""
        try:
            session = await self.io.connect(self.s.conninfo_for(self.primary), False)
        except Unreachable as failure:
            return failure.reachability is Reachability.REJECTED
        except Exception:  # pylint: disable=broad-except
            return False
        try:
            if self.s.connection_check_type == "query":
                return await session.query_ok("SELECT 1")
            return True
        finally:
            await session.close()

    async def check(self):
        """The primary answers, by the configured check type (repmgr's connection_check_type)."""
        kind = self.s.connection_check_type
        if kind == "ping":
            return await self.io.ping(self.s.conninfo_for(self.primary))
        if kind == "query" and self.held is not None:
            return await self.held.query_ok("SELECT 1")
        return await self.attempt()

    async def step(self):
        """One monitor interval of watching the primary."""
        if self.held is None:
            await self.open_held()
            if self.held is None and not await self.check():
                await self.failing()  # down from the start: no need to wait for the next check
                return
        if self.held is not None:
            broken = await self.held.broken_within(self.s.monitor_interval)
        else:  # it answers but refuses a session (too many clients): checks only
            await self.io.sleep(self.s.monitor_interval)
            broken = False
        if broken or not await self.check():
            await self.failing()
            return
        self.last_check, self.state = self.io.wall(), "watching"
        await self.round()

    async def round(self):
        """What the survey shows while the primary answers the checks."""
        truth = await self.survey()
        if truth is None:
            return
        if truth.primary_id is not None and truth.primary_id != self.primary.node_id:
            await self.switch_to(truth.primary_id)
            return
        if truth.primary_id == self.primary.node_id:
            await self.mark_standbys(truth)
        await self.report_unfinished(truth)
        await self.flush()
        if truth.primary_id == self.primary.node_id:
            await self.write_history(truth)

    async def write_history(self, truth):
        """monitoring_history=yes: send this interval's rows to the primary, in one transaction, in the background.

        As repmgrd, which sends them without waiting for the result: the loop goes straight back
        to watching the primary (a primary that hangs during the write is noticed as soon as
        ever), and a row that cannot be written is not kept (the next interval has fresher
        ones). While the last interval's rows are still on their way (a slow primary), this
        interval's are skipped.
        """
        if not self.s.monitoring_history:
            return
        if self.history_task is not None and not self.history_task.done():
            return
        rows = monitoring_records(truth, self.observations, self.io.wall())
        if rows:
            self.history_task = asyncio.ensure_future(self.send_history(self.s.conninfo_for(self.primary), rows))

    async def send_history(self, conninfo, rows):
        """Write the rows; the first failure after a success is one monitor_error (repmgrd logs each one)."""
        try:
            await self.io.write(conninfo, rows)
        except Exception as error:  # pylint: disable=broad-except
            if not self.history_failing:
                self.history_failing = True
                await self.emit(MONITOR_ERROR, self.primary, option="monitoring_history",
                                error="monitoring_history rows could not be written on the primary: %s: %s; "
                                      "tried again every monitor interval" % (type(error).__name__, error))
            return
        self.history_failing = False

    async def switch_to(self, node_id):
        previous = self.primary
        self.state = "watching"
        self.primary = self.truth.record(node_id) or previous
        await self.close_held()
        await self.emit(NEW_PRIMARY, self.primary, previous_node_id=previous.node_id,
                        previous_node_name=previous.node_name, timeline=self.truth.timeline)
        await self.report_unfinished(self.truth)
        await self.flush()

    async def mark_standbys(self, truth):
        """standby_failure / standby_recovery: events, and the record's active flag on the primary."""
        changes = standby_changes(truth.records, self.observations, truth.primary_id, skip=self.invalid)
        for record, change in changes:
            if (record.node_id, change) in self.marked:
                continue
            self.marked.add((record.node_id, change))
            self.marked.discard((record.node_id, STANDBY_RECOVERY if change == STANDBY_FAILURE else STANDBY_FAILURE))
            observation = self.observations.get(record.node_id)
            await self.emit(change, record, error=observation.error if observation else None)
            text = STANDBY_FAILURE_TEXT if change == STANDBY_FAILURE else STANDBY_RECOVERY_TEXT
            self.queue_rows((record.node_id, change, text % (record.node_name, record.node_id)),
                            activity=[(record.node_id, change == STANDBY_RECOVERY)])

    async def report_unfinished(self, truth):
        failed = unfinished_failover(truth, self.observations)
        if failed is not None and self.due(failed.node_id):
            detail = ("node %s runs as the primary, but the failover of %s is not finished"
                      % (describe(truth.record(truth.primary_id)), describe(failed)))
            if not await self.hold_while_paused(failed, detail):
                await self.report_failure(failed, reason="unfinished", detail=detail)

    def paused(self):
        """Automatic failover is paused, as a node's own metadata copy said at the last survey (one is enough)."""
        return any(obs.connected and obs.failover_paused for obs in self.observations.values())

    async def hold_while_paused(self, failed, detail):
        """True while paused: no primary_failure, one primary_failure_paused for people (repmgrd: degraded)."""
        if not self.paused():
            self.said_paused.discard(failed.node_id)
            return False
        if failed.node_id not in self.said_paused:
            self.said_paused.add(failed.node_id)
            await self.emit(PRIMARY_FAILURE_PAUSED, failed, detail=detail + "; automatic failover is paused: nothing "
                            "is done until pgha.repmgr.unpause")
        return True

    def due(self, node_id):
        last = self.reported_failure.get(node_id)
        return last is None or self.io.clock() - last >= self.s.repeat_interval

    async def report_failure(self, failed, reason, detail, first_failure=None, armed=False):
        """primary_failure: `armed` ones carry decide_at (the window's end); the others are decided at once."""
        now = self.io.clock()
        self.reported_failure[failed.node_id] = now
        count = self.failure_counts.get(failed.node_id, 0) + 1
        self.failure_counts[failed.node_id] = count
        standbys = [standby_view(r, self.observations.get(r.node_id)) for r in self.records
                    if r.node_id != failed.node_id]
        decide_at = self.io.wall() + (self.s.detection_window if armed else 0)
        await self.emit(PRIMARY_FAILURE, failed, reason=reason, detail=detail, repeat=count - 1, standbys=standbys,
                        armed=armed, decide_at=round(decide_at, 3),
                        seconds_since_first_failure=round(now - first_failure, 3) if first_failure else None,
                        reconnect_attempts=self.s.reconnect_attempts, reconnect_interval=self.s.reconnect_interval,
                        detection_window=self.s.detection_window)

    # losing the primary

    async def retry_window(self, started):
        """repmgrd's try_reconnect: True when the primary answered an attempt within the window.

        Each attempt starts on schedule as its own task, so a hung one (which takes a whole
        connect_timeout) does not push the next one back.
        """
        attempts = []

        def answered():
            return any(task.done() and not task.cancelled() and task.result() for task in attempts)

        try:
            for offset in retry_offsets(self.s):
                while self.io.clock() < started + offset:
                    if answered():
                        return True
                    await self.io.sleep(min(SLICE, started + offset - self.io.clock()))
                attempts.append(asyncio.ensure_future(self.attempt()))
            while not answered():
                if all(task.done() for task in attempts):
                    return False
                await self.io.sleep(SLICE)
            return True
        finally:
            for task in attempts:
                if not task.done():
                    task.cancel()

    async def failing(self):
        """The primary failed a check: arm the failover at once, then repmgrd's retry window.

        primary_failure is sent at the failed check, armed, with `decide_at`: the end of the
        window. The failover run gathers and elects meanwhile, and its promotion waits for that
        moment and looks once more itself: a primary that answers before then stands the run
        down, and nothing changes. At the window's end the monitor reports primary_lost (for
        people and benchmarks), or the reconnect.
        """
        started = self.io.clock()
        failed = self.primary
        self.state = "failing"
        await self.close_held()
        await self.emit(UPSTREAM_DISCONNECT, failed, reconnect_attempts=self.s.reconnect_attempts,
                        reconnect_interval=self.s.reconnect_interval, detection_window=self.s.detection_window)
        self.queue_rows((failed.node_id, UPSTREAM_DISCONNECT, DISCONNECT_TEXT % (failed.node_name, failed.node_id)))
        if not await self.hold_while_paused(failed, "node %s did not answer a check" % describe(failed)):
            await self.report_failure(failed, reason="unreachable", armed=True,
                                      detail="node %s did not answer a check: the failover decides at the end of the "
                                             "retry window, %s s from now" % (describe(failed), self.s.detection_window))
        window = asyncio.ensure_future(self.retry_window(started))
        survey = None
        try:
            while not window.done() and self.io.clock() < started + self.s.detection_window:
                await self.io.sleep(SLICE)
            # The survivors are surveyed while the last attempt runs: a hung primary costs one
            # connect_timeout after the window, not two.
            survey = asyncio.ensure_future(self.survey())
            answered = await window
            if answered:
                await self.reconnected(started)
                return
            truth = await survey
        finally:
            for task in (window, survey):
                if task is not None and not task.done():
                    task.cancel()
        if truth is not None and truth.primary_id == failed.node_id:
            await self.reconnected(started)  # it answered the survey after all
            return
        await self.emit(PRIMARY_LOST, failed, seconds_since_first_failure=round(self.io.clock() - started, 3),
                        detection_window=self.s.detection_window)
        if truth is not None and truth.primary_id is not None:
            await self.switch_to(truth.primary_id)  # promoted at the window's end, or a switchover
            return
        await self.lost(failed, started)

    async def reconnected(self, started, after_failure=False):
        seconds = self.io.clock() - started
        self.last_check, self.state = self.io.wall(), "watching"
        await self.emit(UPSTREAM_RECONNECT, self.primary, seconds=round(seconds, 3), after_failure=after_failure)
        self.queue_rows((self.primary.node_id, UPSTREAM_RECONNECT, RECONNECT_TEXT % int(seconds)))
        self.reported_failure.pop(self.primary.node_id, None)
        await self.flush()

    async def lost(self, failed, started):
        """While the primary is lost: survey; repeat primary_failure until it is back or another runs as primary."""
        self.state = "lost"
        while True:
            await self.io.sleep(self.s.monitor_interval)
            truth = await self.survey()
            if truth is None:
                continue
            if truth.primary_id == failed.node_id:
                await self.reconnected(started, after_failure=True)
                return
            if truth.primary_id is not None:
                await self.switch_to(truth.primary_id)
                return
            detail = "node %s is still unreachable and no node has taken over" % describe(failed)
            if await self.hold_while_paused(failed, detail):
                continue
            if self.due(failed.node_id):
                await self.report_failure(failed, reason="unreachable", detail=detail, first_failure=started)

    # writing what happened

    async def flush(self):
        """Write the waiting rows on the live primary, oldest first; keep them when it cannot take them."""
        if not self.pending or self.truth is None or self.truth.primary_id is None:
            return
        target = self.truth.record(self.truth.primary_id)
        if target is None:
            return
        while self.pending:
            try:
                await self.io.write(self.s.conninfo_for(target), self.pending[0])
            except Exception:  # pylint: disable=broad-except
                return  # the next round tries again
            await self.notify_written(self.pending.pop(0))

    async def notify_written(self, batch):
        """Hand the event rows of a committed batch to the notification command (io.notify never waits for it)."""
        if self.io.notify is None or not self.s.event_notification_command:
            return
        notes = committed_notes(batch, self.records, self.s.event_notifications)
        if notes:
            try:
                await self.io.notify(notes)
            except Exception as error:  # pylint: disable=broad-except
                await self.emit(MONITOR_ERROR, self.primary, option="event_notification_command",
                                error="event notifications could not be started: %s: %s" % (type(error).__name__, error))
