"""The monitor's loop on a scripted clock and cluster: every transition in milliseconds.

FakeWorld is a cluster of nodes (up, crashed, hung, refusing sessions) and a clock that only
moves when every task of the loop waits: `world.at(5, world.crash, 1)` crashes node1 at t = 5 s,
`world.run(30)` runs the monitor until t = 30 s. The real-server tests (tests/integration) stay
the acceptance tests; these pin down the loop's decisions.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest

from builders import record

from ansible_collections.pgha.repmgr.plugins.module_utils import monitor, monitor_settings
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeObservation,
    Reachability,
    lsn_from_text,
)

BEFORE = (record(1, "primary"), record(2), record(3))


def after_failover(new=2, old=1):
    return tuple(record(n, "primary", active=False) if n == old else
                 record(n, "primary") if n == new else record(n, upstream=new) for n in (1, 2, 3))


class FakeNode:
    def __init__(self, node_id, primary=False):
        self.node_id = node_id
        self.up = True
        self.hung = False
        self.refuses = False  # max_connections: new sessions refused, existing ones work
        self.in_recovery = not primary
        self.tli = 1
        self.copy = BEFORE


class FakeSession:
    def __init__(self, world, node):
        self.world, self.node, self.closed = world, node, False
        self.born_up = node.up

    async def broken_within(self, seconds):
        end = self.world.t + seconds
        while self.world.t < end:
            if not self.node.up:
                return True
            await self.world.sleep(min(0.05, end - self.world.t))
        return not self.node.up

    async def query_ok(self, _sql):
        if self.node.hung:
            await self.world.sleep(self.world.settings.connect_timeout)
            return False
        return self.node.up

    async def close(self):
        self.closed = True


class FakeWorld:
    """The cluster and the clock. Time jumps to the next wake-up once every task waits."""

    def __init__(self, settings=None, nodes=3):
        self.settings = settings or monitor_settings.settings_from_args(dict(
            conninfo=["host=10.0.0.%d" % n for n in range(1, nodes + 1)], cluster="test", monitor_interval=1,
            reconnect_attempts=3, reconnect_interval=1, connect_timeout=2))
        self.t = 0.0
        self.nodes = {n: FakeNode(n, primary=(n == 1)) for n in range(1, nodes + 1)}
        self.events = []
        self.rows = []  # (node_id, event, details) of every repmgr.events row written
        self.written_on = set()  # the nodes the rows were written on
        self.sleepers = []
        self.actions = []
        self.seq = itertools.count()
        self.fail_next_survey = False
        self.invalid_conninfo = set()
        self.paused = False  # the pause switch in every node's metadata copy

    # scripting

    def at(self, moment, action, *args):
        heapq.heappush(self.actions, (moment, next(self.seq), action, args))

    def crash(self, node_id):
        self.nodes[node_id].up = False

    def start(self, node_id):
        self.nodes[node_id].up = True

    def hang(self, node_id):
        self.nodes[node_id].hung = True

    def resume(self, node_id):
        self.nodes[node_id].hung = False

    def promote(self, node_id, write_metadata=True, old=1):
        node = self.nodes[node_id]
        node.in_recovery, node.tli = False, self.nodes[old].tli + 1
        if write_metadata:
            self.set_copies(after_failover(node_id, old))

    def pause(self, paused=True):
        self.paused = paused

    def set_copies(self, records, nodes=None):
        for n in nodes or self.nodes:
            self.nodes[n].copy = records

    # the MonitorIO given to the loop

    def clock(self):
        return self.t

    async def sleep(self, seconds):
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self.sleepers, (self.t + max(seconds, 0), next(self.seq), future))
        await future

    def node_of(self, conninfo):
        return self.nodes[int(conninfo.split("host=10.0.0.")[1].split()[0])]

    async def connect(self, conninfo, hold=False):
        node = self.node_of(conninfo)
        if node.hung:
            await self.sleep(self.settings.connect_timeout)
            raise monitor.Unreachable(Reachability.DOWN, "timeout expired")
        if not node.up:
            raise monitor.Unreachable(Reachability.DOWN, "connection refused")
        if node.refuses:
            raise monitor.Unreachable(Reachability.REJECTED, "FATAL:  sorry, too many clients already")
        return FakeSession(self, node)

    async def ping(self, conninfo):
        node = self.node_of(conninfo)
        if node.hung:
            await self.sleep(self.settings.connect_timeout)
            return False
        return node.up

    async def survey(self, records):
        if self.fail_next_survey:
            self.fail_next_survey = False
            raise RuntimeError("the survey broke")
        result = {}
        if any(self.node_of(r.conninfo).hung for r in records):
            await self.sleep(self.settings.connect_timeout)  # one deadline for all
        for r in records:
            if r.node_id in self.invalid_conninfo:
                result[r.node_id] = NodeObservation(r.node_id, Reachability.DOWN, error="conninfo is invalid",
                                                    extra={"invalid_conninfo": True})
                continue
            node = self.node_of(r.conninfo)
            if node.hung or not node.up:
                result[r.node_id] = NodeObservation(r.node_id, Reachability.DOWN, error="down")
            elif node.refuses:
                result[r.node_id] = NodeObservation(r.node_id, Reachability.REJECTED, error="FATAL: too many")
            else:
                lsn = lsn_from_text("0/5000000")
                result[r.node_id] = NodeObservation(
                    node.node_id, Reachability.CONNECTED, in_recovery=node.in_recovery, timeline=node.tli,
                    current_timeline=node.tli, received_lsn=lsn if node.in_recovery else None,
                    current_lsn=None if node.in_recovery else lsn, nodes=node.copy, failover_paused=self.paused)
        return result

    async def write(self, conninfo, changes):
        node = self.node_of(conninfo)
        if not node.up or node.hung or node.in_recovery:
            raise RuntimeError("cannot write there")
        for change in changes:
            if change[0] == monitor.WRITE_ACTIVE:
                _kind, node_id, active = change
                updated = tuple(r if r.node_id != node_id else r.__class__(**dict(r.as_dict(), active=active))
                                for r in node.copy)
                self.set_copies(updated)
            else:
                _kind, node_id, name, details, _when = change
                self.rows.append((node_id, name, details))
                self.written_on.add(node.node_id)

    async def emit(self, item):
        self.events.append(item["repmgr"])

    def io(self):
        return monitor.MonitorIO(clock=self.clock, sleep=self.sleep, connect=self.connect, ping=self.ping,
                                 survey=self.survey, write=self.write, emit=self.emit, wall=lambda: self.t)

    # running

    def run(self, until, watcher=None):
        watcher = watcher or monitor.Monitor(self.settings, self.io())
        asyncio.run(self._drive(watcher, until))
        return watcher

    async def _drive(self, watcher, until):
        task = asyncio.ensure_future(watcher.run())
        while True:
            for _turn in range(30):  # let every task run until it waits on the clock
                await asyncio.sleep(0)
            if task.done():
                task.result()  # the monitor must never end: raise what ended it
            next_wake = self.sleepers[0][0] if self.sleepers else until
            while self.actions and self.actions[0][0] <= min(next_wake, until):
                moment, _seq, action, args = heapq.heappop(self.actions)
                self.t = max(self.t, moment)
                action(*args)
            if next_wake > until:
                break
            wake, _seq, future = heapq.heappop(self.sleepers)
            self.t = max(self.t, wake)
            if not future.done():
                future.set_result(None)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    # reading what happened

    def named(self, name, node_name=None):
        return [e for e in self.events if e["event"] == name and (node_name is None or e.get("node_name") == node_name)]

    def times(self, name):
        """When the events called `name` were emitted, to 0.1 s (the loop looks every 0.02 s)."""
        return [round(e["t"], 1) for e in self.events if e["event"] == name]


@pytest.fixture()
def world():
    w = FakeWorld()
    original = w.emit

    async def stamped(item):
        item["repmgr"]["t"] = round(w.t, 2)
        await original(item)

    w.emit = stamped
    return w


def test_start_reports_repmgrd_start_and_writes_a_row_per_node(world):
    world.run(3)
    assert [e["node_name"] for e in world.named("repmgrd_start")] == ["node1"]
    assert world.named("repmgrd_start")[0]["detection_window"] == 2.0
    assert world.rows == [
        (1, "repmgrd_start", 'monitoring cluster primary "node1" (ID: 1)'),
        (2, "repmgrd_start", 'monitoring connection to upstream node "node1" (ID: 1)'),
        (3, "repmgrd_start", 'monitoring connection to upstream node "node1" (ID: 1)'),
        (1, "repmgrd_shutdown", "TERM signal received"),  # the rulebook stopped it
    ]
    assert world.written_on == {1}
    assert {e["event"] for e in world.events} == {"repmgrd_start"}


def test_a_crash_arms_the_failover_at_once_and_is_declared_after_the_window(world):
    world.at(5.0, world.crash, 1)
    world.run(9)
    assert world.times("repmgrd_upstream_disconnect") == [5.0]
    # the failover is armed at the failed check, to decide at the window's end ...
    assert world.times("primary_failure") == [5.0]
    failure = world.named("primary_failure")[0]
    assert failure["reason"] == "unreachable" and failure["repeat"] == 0 and failure["armed"] is True
    assert failure["decide_at"] == 7.0  # attempt 1 is the failed check; two more at +1 s and +2 s
    assert {s["node_name"] for s in failure["standbys"]} == {"node2", "node3"}
    # ... and the window ends without an answer: declared (3 - 1) x 1 s after the crash
    assert world.times("primary_lost") == [7.0]


def test_a_lost_primary_is_reported_again_until_a_node_takes_over(world):
    """Level-triggered: a cancelled run (no majority, a partition) is followed by another event."""
    world.at(5.0, world.crash, 1)
    world.at(30.5, world.promote, 2)
    world.run(40)
    assert world.times("primary_failure") == [5.0, 15.0, 25.0]
    assert [e["repeat"] for e in world.named("primary_failure")] == [0, 1, 2]
    assert [e["armed"] for e in world.named("primary_failure")] == [True, False, False]
    # the repeats are decided at once (the window is long past)
    assert [round(e["decide_at"], 1) for e in world.named("primary_failure")][1:] == [15.0, 25.0]
    new = world.named("new_primary")
    assert [(e["node_name"], e["previous_node_name"]) for e in new] == [("node2", "node1")]
    # the rows held while no primary could take them are written on the new one
    assert (1, "repmgrd_upstream_disconnect", 'unable to connect to upstream node "node1" (ID: 1)') in world.rows
    assert 2 in world.written_on


def test_a_blip_shorter_than_the_window_is_a_reconnect(world):
    world.at(5.0, world.crash, 1)
    world.at(5.5, world.start, 1)
    world.run(12)
    # armed at the failed check (its run stands down by itself when the primary answers), never lost
    assert len(world.named("primary_failure")) == 1 and world.named("primary_lost") == []
    reconnect = world.named("repmgrd_upstream_reconnect")
    assert len(reconnect) == 1 and reconnect[0]["seconds"] <= 1.1
    assert (1, "repmgrd_upstream_disconnect", 'unable to connect to upstream node "node1" (ID: 1)') in world.rows
    assert (1, "repmgrd_upstream_reconnect", "reconnected to upstream node after 1 seconds") in world.rows


def test_a_hung_primary_is_found_by_the_check_and_each_attempt_costs_one_timeout(world):
    world.at(5.0, world.hang, 1)
    world.run(20)
    disconnect, lost = world.times("repmgrd_upstream_disconnect"), world.times("primary_lost")
    assert len(disconnect) == 1 and 6.0 <= disconnect[0] <= 8.1  # the next ping times out (2 s)
    assert world.times("primary_failure")[0] == disconnect[0]  # armed at the failed check (then repeated)
    # attempts start on schedule, 1 s apart, each waits 2 s: the last ends (3 - 1) x 1 + 2 s after the failed
    # check; the survey of the survivors runs beside the last attempt
    assert 3.9 <= lost[0] - disconnect[0] <= 4.2


def test_a_primary_that_refuses_new_sessions_is_alive(world):
    """max_connections exhausted: the held session works, ping answers, logins are refused: no failure."""
    world.at(5.0, setattr, world.nodes[1], "refuses", True)
    world.run(30)
    assert [e["event"] for e in world.events] == ["repmgrd_start"]


def test_a_standby_crash_is_recorded_and_marked_inactive_then_active(world):
    world.at(5.0, world.crash, 3)
    world.at(12.0, world.start, 3)
    world.run(16)
    assert [e["event"] for e in world.events[1:]] == ["standby_failure", "standby_recovery"]
    assert (3, "standby_failure", 'unable to connect to local node "node3" (ID: 3), marking inactive') in world.rows
    assert (3, "standby_recovery", 'reconnected to local node "node3" (ID: 3), marking active') in world.rows
    assert all(r.active for r in world.nodes[1].copy)
    assert world.named("primary_failure") == []


def test_an_invalid_conninfo_in_the_metadata_is_one_monitor_error_and_the_node_is_skipped(world):
    world.at(4.0, world.invalid_conninfo.add, 3)
    world.run(12)
    errors = world.named("monitor_error")
    assert len(errors) == 1 and errors[0]["node_name"] == "node3" and errors[0]["option"] == "conninfo"
    assert world.named("standby_failure") == []


def test_an_unexpected_error_is_a_monitor_error_and_the_loop_goes_on(world):
    world.at(4.0, setattr, world, "fail_next_survey", True)
    world.at(8.0, world.crash, 1)
    world.run(14)
    assert "RuntimeError: the survey broke" in world.named("monitor_error")[0]["error"]
    assert world.times("primary_failure") == [8.0]


def test_a_failed_former_primary_running_again_is_a_stale_primary_once(world):
    world.at(5.0, world.crash, 1)
    world.at(8.0, world.promote, 2)
    world.at(15.0, world.start, 1)  # comes back writable on timeline 1, its copy still names itself
    world.run(25)
    stale = world.named("stale_primary")
    assert len(stale) == 1 and stale[0]["node_name"] == "node1"
    assert (stale[0]["primary_node_name"], stale[0]["timeline"], stale[0]["primary_timeline"]) == ("node2", 1, 2)
    assert stale[0]["same_timeline"] is False


def test_a_second_failure_after_a_failover_is_failed_over_too(world):
    world.at(5.0, world.crash, 1)
    world.at(8.0, world.promote, 2)
    world.at(20.0, world.crash, 2)
    world.run(25)
    failures = [(e["node_name"], round(e["t"], 1)) for e in world.named("primary_failure")]
    assert failures == [("node1", 5.0), ("node2", 20.0)]


def test_a_failover_interrupted_after_the_promotion_is_reported_until_finished(world):
    """The run died between pg_promote() and the metadata write; then the monitor itself restarted."""
    world.crash(1)
    world.promote(2, write_metadata=False)
    world.at(12.0, world.set_copies, after_failover())
    world.run(20)
    assert world.named("repmgrd_start")[0]["node_name"] == "node2"
    unfinished = world.named("primary_failure")
    # reported at the first round, then every repeat interval (10 s) until the metadata is right
    assert [(e["node_name"], e["reason"], round(e["t"], 1)) for e in unfinished] == [
        ("node1", "unfinished", 1.0), ("node1", "unfinished", 11.0)]


def test_the_follows_left_undone_are_reported_too(world):
    world.crash(1)
    world.promote(2)
    half_done = (record(1, "primary", active=False), record(2, "primary"), record(3, upstream=1))
    world.set_copies(half_done)
    world.run(5)
    assert [e["reason"] for e in world.named("primary_failure")] == ["unfinished"]


def test_bad_arguments_name_the_argument():
    with pytest.raises(Exception, match="reconnect_attempts must be 0 or more"):
        monitor_settings.settings_from_args(dict(conninfo="host=a", reconnect_attempts=-1))
    with pytest.raises(Exception, match="reconect_interval is not an argument"):
        monitor_settings.settings_from_args(dict(conninfo="host=a", reconect_interval=1))


@pytest.mark.parametrize("args, message", [
    (dict(reconnect_attempts="3.5"), "reconnect_attempts must be a whole number (got '3.5')"),
    (dict(reconnect_attempts=3.5), "reconnect_attempts must be a whole number (got 3.5)"),
    (dict(connect_timeout=True), "connect_timeout must be a whole number (got True)"),
    (dict(monitor_interval=True), "monitor_interval must be a number of seconds (got True)"),
    (dict(reconnect_interval="nan"), "reconnect_interval must be a number of seconds (got 'nan')"),
    (dict(heartbeat_interval=[5]), "heartbeat_interval must be a number of seconds, 0 for none (got [5])"),
    (dict(cluster=["a", "b"]), "cluster must be the cluster's name, a string (got ['a', 'b'])"),
])
def test_a_value_of_the_wrong_type_is_refused_not_converted(args, message):
    """A rulebook variable that is not what it looks like: no truncated 3.5, no True taken as 1."""
    with pytest.raises(Exception) as raised:
        monitor_settings.settings_from_args(dict(conninfo="host=a", **args))
    assert str(raised.value) == message


def test_numbers_given_as_text_are_read_as_numbers():
    """Rulebook variables templated into the source's arguments may arrive as text."""
    settings = monitor_settings.settings_from_args(dict(conninfo="host=a", reconnect_attempts="4", connect_timeout=3.0,
                                                        monitor_interval="1.5", cluster=7))
    assert (settings.reconnect_attempts, settings.connect_timeout, settings.monitor_interval, settings.cluster) == \
        (4, 3, 1.5, "7")


def test_while_paused_a_lost_primary_is_reported_once_and_not_failed_over_until_unpaused(world):
    """repmgr service pause: the monitor goes on watching and says why nothing happens; unpaused, it fails over."""
    world.at(2.5, world.pause)
    world.at(5.0, world.crash, 1)
    world.at(30.0, world.pause, False)
    world.run(35)
    assert world.times("failover_paused") == [3.0]  # the first survey after the switch flipped
    assert world.times("repmgrd_upstream_disconnect") == [5.0]
    held = world.named("primary_failure_paused")
    assert [e["node_name"] for e in held] == ["node1"]  # once, not every interval
    assert "automatic failover is paused" in held[0]["detail"]
    assert world.times("failover_unpaused") == [30.0]
    failures = world.named("primary_failure")
    assert failures and all(e["t"] >= 30.0 for e in failures), failures  # only once unpaused
    assert world.times("primary_failure")[0] <= 31.1  # at the first survey that shows the pause lifted


def test_a_monitor_started_while_paused_says_so_at_once(world):
    world.pause()
    world.at(3.0, world.crash, 1)
    world.run(20)
    assert world.times("failover_paused") == [0.0]
    assert world.named("primary_failure") == [] and len(world.named("primary_failure_paused")) == 1


# -- repmgr's event notifications and the heartbeat (repmgr service status) ----------------------------

def notifying_world(**args):
    """A FakeWorld whose monitor has an event_notification_command; `notes` collects what it is handed."""
    settings = monitor_settings.settings_from_args(dict(
        conninfo=["host=10.0.0.%d" % n for n in range(1, 4)], cluster="test", monitor_interval=1,
        reconnect_attempts=3, reconnect_interval=1, connect_timeout=2, event_notification_command="notify %e", **args))
    w = FakeWorld(settings)
    w.notes = []

    async def collect(notes):
        w.notes.extend((round(w.t, 1), n["node_id"], n["node_name"], n["event"], n["details"]) for n in notes)

    original = w.io

    def io():
        made = original()
        made.notify = collect
        return made

    w.io = io
    return w


def test_each_committed_row_is_handed_to_the_notification_command_once_in_order():
    world = notifying_world()
    world.at(5.0, world.crash, 1)
    world.at(10.5, world.promote, 2)
    world.run(15)
    handed = [(node_id, name) for _t, node_id, _n, name, _d in world.notes]
    assert handed[:3] == [(1, "repmgrd_start"), (2, "repmgrd_start"), (3, "repmgrd_start")]
    # the disconnect once it was written on the new primary; the shutdown row when the rulebook stopped it
    assert handed[3:] == [(1, "repmgrd_upstream_disconnect"), (2, "repmgrd_shutdown")]
    disconnect = world.notes[3]
    assert disconnect[0] >= 10.5 and disconnect[2] == "node1"
    assert [(node_id, name) for node_id, name, _details in world.rows] == handed


def test_event_notifications_filters_the_monitors_rows():
    world = notifying_world(event_notifications=["repmgrd_upstream_disconnect"])
    world.at(5.0, world.crash, 1)
    world.at(10.5, world.promote, 2)
    world.run(15)
    assert [name for _t, _id, _n, name, _d in world.notes] == ["repmgrd_upstream_disconnect"]


def test_without_a_command_nothing_is_handed_over(world):
    handed = []

    async def collect(notes):
        handed.extend(notes)

    io = world.io()
    io.notify = collect
    world.run(3, monitor.Monitor(world.settings, io))
    assert handed == [] and world.rows


def test_a_notifier_that_breaks_is_a_monitor_error_and_the_monitor_goes_on():
    world = notifying_world()

    async def broken(_notes):
        raise OSError("no /bin/sh")

    io = FakeWorld.io(world)
    io.notify = broken
    world.at(5.0, world.crash, 1)
    world.at(10.5, world.promote, 2)
    world.run(15, monitor.Monitor(world.settings, io))
    errors = [e for e in world.named("monitor_error") if e.get("option") == "event_notification_command"]
    assert errors and "no /bin/sh" in errors[0]["error"]
    assert world.named("new_primary")


def test_heartbeats_say_the_monitor_runs_and_what_it_sees():
    settings = monitor_settings.settings_from_args(dict(
        conninfo=["host=10.0.0.%d" % n for n in range(1, 4)], cluster="test", monitor_interval=1,
        reconnect_attempts=3, reconnect_interval=1, connect_timeout=2, heartbeat_interval=4))
    world = FakeWorld(settings)
    world.at(9.5, world.crash, 1)
    world.run(18)
    beats = world.named("monitor_heartbeat")
    assert len(beats) == 4  # t = 4, 8, 12, 16
    assert [b["state"] for b in beats[:2]] == ["watching", "watching"]
    assert beats[0]["node_name"] == "node1" and beats[0]["monitoring_since"] == 0
    assert beats[1]["seconds_since_last_check"] <= 1.1
    assert {b["state"] for b in beats[2:]} == {"lost"}
    assert beats[3]["seconds_since_last_check"] >= 6


def test_no_heartbeat_by_default(world):
    world.run(20)
    assert world.named("monitor_heartbeat") == []


@pytest.mark.parametrize("args, message", [
    (dict(heartbeat_interval=-1), "heartbeat_interval must be 0 \\(no heartbeat\\) or more"),
    (dict(heartbeat_interval="often"), "heartbeat_interval must be a number of seconds"),
    (dict(event_notifications=[""]), "event_notifications must be a list of event names"),
    (dict(event_notification_command=["notify"]), "event_notification_command must be a string"),
    (dict(webhook_url="ftp://x"), "webhook_url must be an http:// or https:// URL"),
])
def test_bad_notification_and_heartbeat_arguments_name_the_argument(args, message):
    with pytest.raises(Exception, match=message):
        monitor_settings.settings_from_args(dict(conninfo="host=a", **args))


def test_notification_arguments_are_read_as_repmgr_writes_them():
    settings = monitor_settings.settings_from_args(dict(
        conninfo="host=a", event_notifications="standby_failure, repmgrd_start",
        event_notification_command=" notify %e ", heartbeat_interval="30"))
    assert settings.event_notifications == ("standby_failure", "repmgrd_start")
    assert settings.event_notification_command == "notify %e" and settings.heartbeat_interval == 30.0


# -- repmgr service status from the monitor's rows (repmgr_cluster_info monitor: true) --------------

def status_row(node_id, started=None, stopped=None, last_event=None, last_history=None):
    """A metadata.read_monitor_status() row; ages in seconds (None: no such row)."""
    return dict(node_id=node_id, node_name="node%d" % node_id, started="start-%s" % started if started else None,
                started_age=started, stopped="stop-%s" % stopped if stopped else None, stopped_age=stopped,
                last_event=last_event, last_history=last_history)


def test_service_status_running_monitor_protects_the_cluster():
    from ansible_collections.pgha.repmgr.plugins.module_utils import cluster  # pylint: disable=import-outside-toplevel

    status = cluster.monitor_status([status_row(1, 60, None, 60, 1.5), status_row(2, 60, None, 60, 1.4)], False)
    assert status["failover_protection"] is True and status["running"] is True
    assert status["started"] == "start-60" and status["seconds_since_last_check"] == 1.4
    assert [(n["node_name"], n["monitor_running"], n["checked_by"]) for n in status["nodes"]] == [
        ("node1", True, "monitoring_history"), ("node2", True, "monitoring_history")]


@pytest.mark.parametrize("rows, paused, stale_after, reason", [
    ([status_row(1), status_row(2)], False, None, "no monitor has ever run"),
    ([status_row(1, 600, 30, 600), status_row(2, 600, None, 600)], False, None, "the last monitor stopped"),
    ([status_row(1, 60, None, 60)], True, None, "automatic failover is paused"),
    ([status_row(1, 6000, None, 6000)], False, 300, "its newest check is more than 300 seconds old"),
])
def test_service_status_says_why_failover_protection_is_off(rows, paused, stale_after, reason):
    from ansible_collections.pgha.repmgr.plugins.module_utils import cluster  # pylint: disable=import-outside-toplevel

    status = cluster.monitor_status(rows, paused, stale_after)
    assert status["failover_protection"] is False and reason in status["reason"]


def test_service_status_a_restarted_monitor_runs_again():
    from ansible_collections.pgha.repmgr.plugins.module_utils import cluster  # pylint: disable=import-outside-toplevel

    status = cluster.monitor_status([status_row(1, 10, 20, 10), status_row(2, 10, None, 5)], False)
    # started 10 s ago, after the shutdown row of the monitor before it (20 s ago)
    assert status["running"] and [n["monitor_running"] for n in status["nodes"]] == [True, True]
    assert status["nodes"][1]["seconds_since_last_check"] == 5 and status["nodes"][1]["checked_by"] == "events"
