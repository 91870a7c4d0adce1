"""repmgrd's monitoring_history=yes in the monitor: which rows, with which values, when, and when not.

The values follow repmgrd's update_monitoring_history(): one row per standby and monitor interval,
written on the primary; replication_lag = primary's current LSN - standby's received LSN and
apply_lag = received - replayed, in bytes, never below 0; a standby that has received nothing
reports 0/0. The loop is run on test_monitor_loop's scripted cluster and clock (FakeWorld).
"""

from __future__ import annotations

import dataclasses

import pytest

from builders import down, record, rejected, seen
from test_monitor_loop import FakeWorld

from ansible_collections.pgha.repmgr.plugins.module_utils import monitor_history, monitor_settings
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption
from ansible_collections.pgha.repmgr.plugins.module_utils.primary import cluster_truth
from ansible_collections.pgha.repmgr.plugins.module_utils.records import lsn_from_text

RECORDS = (record(1, "primary"), record(2), record(3), record(4, "witness"))


def truth_of(observations, records=RECORDS):
    return cluster_truth(observations, {n: records for n, o in observations.items() if o.connected}, fallback=records)


def standby(node_id, received, replayed, clock=None, applied=None):
    observation = seen(node_id, lsn=received)
    return dataclasses.replace(observation, replayed_lsn=lsn_from_text(replayed) if replayed else None,
                               received_lsn=lsn_from_text(received) if received else None,
                               server_time=clock, last_replay_time=applied)


def rows_by_standby(observations, when=1000.0):
    rows = monitor_history.monitoring_records(truth_of(observations), observations, when)
    assert all(row[0] == monitor_history.WRITE_HISTORY for row in rows)
    return {row[2]: row[1:] for row in rows}


# -- the rows of one survey (pure) --------------------------------------------------------------

def test_a_row_per_standby_with_repmgrds_values():
    observations = {
        1: seen(1, lsn="0/6000000", in_recovery=False),
        2: standby(2, "0/5800000", "0/5000000", clock=1700000000.25, applied=1699999990.5),
        3: standby(3, "0/6000000", "0/6000000", clock=1700000000.5, applied=1700000000.0),
        4: seen(4, in_recovery=False),  # the witness: repmgrd writes no row for it
    }
    rows = rows_by_standby(observations)
    assert rows == {
        # primary, standby, last_monitor_time (the standby's clock), last_apply_time, primary LSN, received LSN,
        # replication lag and apply lag in bytes
        2: (1, 2, 1700000000.25, 1699999990.5, "0/6000000", "0/5800000", 0x800000, 0x800000),
        3: (1, 3, 1700000000.5, 1700000000.0, "0/6000000", "0/6000000", 0, 0),
    }


@pytest.mark.parametrize("received, replayed, expected", [
    (None, None, ("0/0", 0x6000000, 0)),  # nothing received yet: 0/0, as repmgr's COALESCE
    ("0/6000100", "0/6000000", ("0/6000100", 0, 0x100)),  # read after the primary's LSN: no negative lag
    ("0/5000000", "0/5000100", ("0/5000000", 0x1000000, 0)),  # replayed past received (archive recovery)
])
def test_lags_are_never_negative_and_nothing_received_is_0_0(received, replayed, expected):
    observations = {1: seen(1, lsn="0/6000000", in_recovery=False), 2: standby(2, received, replayed)}
    row = rows_by_standby(observations)[2]
    assert (row[5], row[6], row[7]) == expected


def test_without_the_standbys_clock_the_monitors_time_stands_in_and_no_replay_time_is_null():
    observations = {1: seen(1, lsn="0/6000000", in_recovery=False), 2: standby(2, "0/6000000", "0/6000000")}
    row = rows_by_standby(observations, when=1234.5)[2]
    assert (row[2], row[3]) == (1234.5, None)


def test_standbys_that_do_not_answer_or_run_as_primary_get_no_row():
    observations = {
        1: seen(1, lsn="0/6000000", in_recovery=False),
        2: down(2),
        3: rejected(3),
    }
    assert rows_by_standby(observations) == {}
    # a node registered as a standby but running as a primary (a rival) is not a standby either
    observations = {1: seen(1, lsn="0/6000000", in_recovery=False, tli=2), 2: seen(2, lsn="0/6000000",
                                                                                   in_recovery=False)}
    assert rows_by_standby(observations) == {}


def test_no_rows_without_a_primary_that_answers():
    observations = {1: down(1), 2: standby(2, "0/5000000", "0/5000000"), 3: standby(3, "0/5000000", "0/5000000")}
    assert rows_by_standby(observations) == {}


def test_the_option_is_repmgrs_name_off_by_default_and_a_boolean():
    settings_from_args = monitor_settings.settings_from_args
    assert settings_from_args(dict(conninfo="host=a")).monitoring_history is False
    assert settings_from_args(dict(conninfo="host=a", monitoring_history=True)).monitoring_history is True
    with pytest.raises(InvalidOption, match="monitoring_history must be true or false"):
        monitor_settings.settings_from_args(dict(conninfo="host=a", monitoring_history="yes"))


# -- the loop -------------------------------------------------------------------------------------

class HistoryWorld(FakeWorld):
    """FakeWorld whose nodes have LSNs of their own and whose primary stores monitoring_history rows."""

    def __init__(self, monitoring_history=True):
        super().__init__(monitor_settings.settings_from_args(dict(
            conninfo=["host=10.0.0.%d" % n for n in (1, 2, 3)], cluster="test", monitor_interval=1,
            reconnect_attempts=3, reconnect_interval=1, connect_timeout=2, monitoring_history=monitoring_history)))
        self.history = []  # (t, node written on, row without its kind)
        self.refuse_history = False
        self.history_write_seconds = 0  # how long the primary takes to commit the rows
        self.in_flight = self.most_in_flight = 0
        self.lsns = {1: "0/6000000", 2: ("0/5800000", "0/5000000"), 3: ("0/6000000", "0/6000000")}

    async def survey(self, records):
        result = await super().survey(records)
        for node_id, observation in result.items():
            if not observation.connected:
                continue
            lsn = self.lsns[observation.node_id]
            if observation.in_recovery:
                received, replayed = lsn
                observation = dataclasses.replace(observation, received_lsn=lsn_from_text(received),
                                                  replayed_lsn=lsn_from_text(replayed), server_time=self.t)
            else:
                observation = dataclasses.replace(observation, current_lsn=lsn_from_text(
                    lsn if isinstance(lsn, str) else lsn[0]))
            result[node_id] = observation
        return result

    async def write(self, conninfo, changes):
        history = [c for c in changes if c[0] == monitor_history.WRITE_HISTORY]
        others = [c for c in changes if c[0] != monitor_history.WRITE_HISTORY]
        if history:
            node = self.node_of(conninfo)
            if self.history_write_seconds:
                self.in_flight += 1
                self.most_in_flight = max(self.most_in_flight, self.in_flight)
                await self.sleep(self.history_write_seconds)
                self.in_flight -= 1
            if self.refuse_history or not node.up or node.in_recovery:
                raise RuntimeError("permission denied for table monitoring_history")
            self.history.extend((self.t, node.node_id, c[1:]) for c in history)
        if others:
            await super().write(conninfo, others)

    async def emit(self, item):
        item["repmgr"]["t"] = round(self.t, 2)  # as test_monitor_loop's `world` fixture stamps them
        await super().emit(item)

    def rows_at(self, moment):
        return sorted(row for t, _on, row in self.history if t == moment)


def test_each_interval_writes_one_row_per_standby_on_the_primary():
    world = HistoryWorld()
    world.run(4.5)
    assert sorted({t for t, _on, _row in world.history}) == [1.0, 2.0, 3.0, 4.0]
    assert {on for _t, on, _row in world.history} == {1}
    assert world.rows_at(2.0) == [
        (1, 2, 2.0, None, "0/6000000", "0/5800000", 0x800000, 0x800000),
        (1, 3, 2.0, None, "0/6000000", "0/6000000", 0, 0),
    ]
    assert [e["event"] for e in world.events] == ["repmgrd_start"]  # rows, not events


def test_off_by_default_no_rows():
    world = HistoryWorld(monitoring_history=False)
    world.run(4.5)
    assert world.history == []


def test_no_rows_while_the_primary_is_lost_then_rows_for_the_new_primary():
    world = HistoryWorld()
    world.at(5.0, world.crash, 1)
    world.at(8.0, world.promote, 2)
    world.at(8.0, world.lsns.update, {2: "0/7000000", 3: ("0/6800000", "0/6800000")})
    world.run(13.5)
    assert not [t for t, _on, _row in world.history if 5.0 <= t < 8.0]
    after = [(t, on, row) for t, on, row in world.history if t >= 8.0]
    assert after, world.events
    assert {on for _t, on, _row in after} == {2}
    assert {(row[0], row[1]) for _t, _on, row in after} == {(2, 3)}  # node1 is down, node2 is the primary
    assert after[-1][2][4:] == ("0/7000000", "0/6800000", 0x800000, 0)


def test_a_standby_that_is_down_gets_no_row_and_gets_them_again_when_back():
    world = HistoryWorld()
    world.at(2.5, world.crash, 3)
    world.at(6.5, world.start, 3)
    world.run(8.5)
    assert [row[1] for row in world.rows_at(4.0)] == [2]
    assert [row[1] for row in world.rows_at(8.0)] == [2, 3]


def test_rows_that_cannot_be_written_are_dropped_and_reported_once():
    world = HistoryWorld()
    world.at(1.5, setattr, world, "refuse_history", True)
    world.at(5.5, setattr, world, "refuse_history", False)
    world.run(7.5)
    assert sorted({t for t, _on, _row in world.history}) == [1.0, 6.0, 7.0]  # nothing kept for later
    errors = world.named("monitor_error")
    assert len(errors) == 1 and errors[0]["option"] == "monitoring_history"
    assert "permission denied" in errors[0]["error"]
    # the events rows are not held up by it
    assert [e["event"] for e in world.events] == ["repmgrd_start", "monitor_error"]


def test_a_slow_write_never_delays_the_watch_on_the_primary():
    """The rows go in the background: a crash while they are on their way is seen at once."""
    world = HistoryWorld()
    world.history_write_seconds = 3
    world.at(2.0, world.crash, 1)  # while the rows of t = 1 are on their way
    world.run(6)
    assert world.times("primary_failure") == [2.0]


def test_one_write_at_a_time_the_rows_of_a_slow_primary_are_skipped_not_piled_up():
    world = HistoryWorld()
    world.history_write_seconds = 3
    world.run(9.5)
    assert world.most_in_flight == 1
    written = sorted({t for t, _on, _row in world.history})
    assert 2 <= len(written) <= 3 and all(b - a >= 3 for a, b in zip(written, written[1:])), written
    assert all(len(world.rows_at(t)) == 2 for t in written)
