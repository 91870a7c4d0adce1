"""Monitoring history, as repmgrd's monitoring_history=yes, on a cluster the real repmgr 5.3 built.

The monitor runs under a real ansible-rulebook with monitoring_history: true and writes one
repmgr.monitoring_history row per standby each interval; then:

- the rows carry repmgrd's values (LSNs, lags in bytes, the standby's clock, its last replay);
- the real extension's view repmgr.replication_status reads them, and repmgr_cluster_info's
  replication_status returns what the view says;
- repmgr_cluster_cleanup: check mode changes nothing, then one standby's rows, then all, then
  nothing to do; `repmgr cluster event --event=cluster_cleanup` (the real CLI) lists its events;
- the real `repmgr cluster cleanup --keep-history=0` removes the rows the monitor wrote.

Cluster: 127.0.0.94-96, port 55691, built by the repmgr CLI (the extension, from CREATE EXTENSION).
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import pytest

from rulebook import Rulebook

from harness import cluster_fixture

cluster = cluster_fixture("mon-history", 3, build="repmgr", port=55691, first_octet=94)

RULEBOOK = """---
- name: Monitoring history of the test cluster
  hosts: all
  sources:
    - pgha.repmgr.repmgr_monitor:
        cluster: mon-history
        conninfo: "{{ conninfo }}"
        password: "{{ repmgr_password }}"
        monitor_interval: 1
        monitoring_history: true
  rules:
    - name: The monitor started
      condition: event.repmgr.event == "repmgrd_start"
      action:
        debug:
          msg: "monitoring history of {{ event.repmgr.cluster }} from {{ event.repmgr.node_name }}"
"""

HISTORY = ("SELECT primary_node_id, standby_node_id, last_monitor_time, last_apply_time, "
           "last_wal_primary_location::text, last_wal_standby_location::text, replication_lag, apply_lag, "
           "pg_catalog.pg_wal_lsn_diff(last_wal_primary_location, last_wal_standby_location)::bigint "
           "FROM repmgr.monitoring_history ORDER BY last_monitor_time, standby_node_id")
VIEW = ("SELECT primary_node_id, standby_node_id, standby_name, node_type, active, last_monitor_time::text, "
        "last_wal_primary_location::text, last_wal_standby_location::text, replication_lag, "
        "replication_time_lag::text, apply_lag, communication_time_lag::text "
        "FROM repmgr.replication_status ORDER BY standby_node_id")
VIEW_COLUMNS = ("primary_node_id", "standby_node_id", "standby_name", "node_type", "active", "last_monitor_time",
                "last_wal_primary_location", "last_wal_standby_location", "replication_lag",
                "replication_time_lag", "apply_lag", "communication_time_lag")
NOW_DEPENDENT = ("replication_time_lag", "communication_time_lag")  # age(now(), ...): differ between two reads


@dataclass
class History:
    rows: list = field(default_factory=list)  # HISTORY's rows after the rulebook stopped
    started: float = 0.0  # epoch seconds around the rulebook's run
    stopped: float = 0.0
    log: str = ""

    def of(self, standby_id):
        return [row for row in self.rows if row[1] == standby_id]


def history(node):
    return node.sql(HISTORY)


def count(node, where="TRUE", params=()):
    return node.sql("SELECT pg_catalog.count(*) FROM repmgr.monitoring_history WHERE " + where, params)[0][0]


def write_some_wal(node):
    """A committed transaction with some WAL on the primary (database postgres)."""
    node.sql("CREATE TABLE IF NOT EXISTS history_probe (id int)", dbname="postgres")
    node.sql("INSERT INTO history_probe SELECT pg_catalog.generate_series(1, 2000)", dbname="postgres")


def record_history(cluster, inventory, tmp_path, name, while_running=None):
    """Run the monitor in ansible-rulebook (monitoring_history: true) until each standby has 3 rows
    (and ``while_running(cluster)`` is done), stop it; return History."""
    rulebook_file = tmp_path / f"{name}.yml"
    rulebook_file.write_text(RULEBOOK)
    node1 = cluster.node("node1")
    started = time.time()
    with Rulebook(inventory, dict(conninfo=[n.conninfo for n in cluster.nodes], repmgr_password=cluster.password),
                  tmp_path, name=name, rulebook=str(rulebook_file)) as rulebook:
        rulebook.wait_for("monitoring history of mon-history from node1", 90)
        cluster.wait_until(lambda: all(count(node1, "standby_node_id = %s", (n,)) >= 3 for n in (2, 3)),
                           timeout=60, what="three monitoring_history rows for node2 and node3")
        if while_running is not None:
            while_running(cluster)
    assert rulebook.alive_at_exit, rulebook.output()[-5000:]
    log = rulebook.output()
    assert cluster.password not in log
    assert "monitor_error" not in log, log[-5000:]
    return History(history(node1), started, time.time(), log)


@pytest.fixture(scope="module")
def inventory(cluster, tmp_path_factory):
    return cluster.write_inventory(tmp_path_factory.mktemp("mon-history") / "inventory.yml")


@pytest.fixture(scope="module")
def console(cluster, inventory, console_for):
    return console_for(cluster, inventory)


def paused_replay_on_node3(cluster):
    """Replay paused on node3 while the primary writes: its rows show the apply lag, then it catches up."""
    node1, _node2, node3 = cluster.nodes
    node3.sql("SELECT pg_catalog.pg_wal_replay_pause()")
    try:
        write_some_wal(node1)
        cluster.wait_until(lambda: node1.sql("SELECT 1 FROM repmgr.monitoring_history "
                                             "WHERE standby_node_id = 3 AND apply_lag > 0"),
                           timeout=30, what="a node3 row with an apply lag")
    finally:
        node3.sql("SELECT pg_catalog.pg_wal_replay_resume()")
    resumed = time.time()
    cluster.wait_until(lambda: node1.sql("SELECT 1 FROM repmgr.monitoring_history WHERE standby_node_id = 3 "
                                         "AND apply_lag = 0 AND last_monitor_time > to_timestamp(%s)", (resumed,)),
                       timeout=30, what="a node3 row without apply lag after the resume")


@pytest.fixture(scope="module")
def recorded(cluster, inventory, tmp_path_factory):
    """The rows of one monitor run (node3's replay paused for a while); no writer runs afterwards."""
    node1 = cluster.node("node1")
    write_some_wal(node1)  # a replayed commit on each standby: last_apply_time is known
    for standby in cluster.nodes[1:]:
        cluster.wait_until(lambda s=standby: s.sql("SELECT pg_catalog.pg_last_xact_replay_timestamp() IS NOT NULL")
                           [0][0], what=f"{standby.name} has replayed a transaction")
    return record_history(cluster, inventory, tmp_path_factory.mktemp("recorded"), "recorded",
                          while_running=paused_replay_on_node3)


# -- what the monitor writes ----------------------------------------------------------------------

def test_each_interval_writes_a_row_per_standby_with_repmgrds_values(cluster, recorded):
    assert {row[1] for row in recorded.rows} == {2, 3}
    assert {row[0] for row in recorded.rows} == {1}
    for standby_id in (2, 3):
        rows = recorded.of(standby_id)
        times = [row[2].timestamp() for row in rows]
        assert all(recorded.started - 1 <= t <= recorded.stopped + 1 for t in times)
        gaps = [b - a for a, b in zip(times, times[1:])]
        assert gaps and 0.8 <= statistics.median(gaps) <= 2.0, gaps  # one row per monitor interval (1 s)
        for (_p, _s, monitored, applied, primary_lsn, standby_lsn, replication_lag, apply_lag, diff) in rows:
            assert applied is not None and applied <= monitored
            assert replication_lag == max(diff, 0), (primary_lsn, standby_lsn, replication_lag)
            assert apply_lag >= 0
    assert abs(len(recorded.of(2)) - len(recorded.of(3))) <= 1
    # replay paused on node3: the WAL it received and has not replayed is its apply lag, in bytes; once
    # resumed, it is 0 again
    lags = [row[7] for row in recorded.of(3)]
    assert max(lags) > 0 and 0 in lags[lags.index(max(lags)):]


def test_the_real_view_reads_our_rows_and_cluster_info_returns_them(cluster, console, recorded):
    node1, node2, _node3 = cluster.nodes
    assert node1.sql("SELECT extname FROM pg_catalog.pg_extension WHERE extname = 'repmgr'") == [("repmgr",)]
    view = [dict(zip(VIEW_COLUMNS, row)) for row in node1.sql(VIEW)]
    assert [(r["standby_node_id"], r["standby_name"], r["node_type"], r["active"]) for r in view] == [
        (2, "node2", "standby", True), (3, "node3", "standby", True)]
    newest = {standby_id: recorded.of(standby_id)[-1] for standby_id in (2, 3)}
    for row in view:
        last = newest[row["standby_node_id"]]
        assert (row["last_wal_primary_location"], row["last_wal_standby_location"]) == (last[4], last[5])
        pretty = node1.sql("SELECT pg_catalog.pg_size_pretty(%s::bigint), pg_catalog.pg_size_pretty(%s::bigint)",
                           (last[6], last[7]))[0]
        assert (row["replication_lag"], row["apply_lag"]) == pretty
        assert row["primary_node_id"] == 1

    info = console.cluster_info(node1, replication_status=True)
    assert [{k: v for k, v in r.items() if k not in NOW_DEPENDENT} for r in info["replication_status"]] == \
        [{k: v for k, v in r.items() if k not in NOW_DEPENDENT} for r in view]
    assert all(r["communication_time_lag"] for r in info["replication_status"])
    # any node reads the replicated rows (the time lags are the standby's repmgrd's there)
    from_standby = console.cluster_info(node2, replication_status=True)["replication_status"]
    assert [r["last_monitor_time"] for r in from_standby] == [r["last_monitor_time"] for r in view]
    assert "replication_status" not in console.cluster_info(node2)


# -- keeping it bounded ---------------------------------------------------------------------------

def cli_cleanup_events(cluster, node):
    rc, stdout, stderr = cluster.repmgr(node, "cluster", "event", "--event=cluster_cleanup", "--all")
    assert rc == 0, stdout + stderr
    lines = [line for line in stdout.splitlines() if "cluster_cleanup" in line]
    return [tuple(cell.strip() for cell in line.split("|")) for line in lines]


def test_repmgr_cluster_cleanup_check_mode_one_node_then_all(cluster, console, inventory, tmp_path):
    node1, node2, _node3 = cluster.nodes
    record_history(cluster, inventory, tmp_path, "cleanup")
    total, of_node3 = count(node1), count(node1, "standby_node_id = 3")
    assert total > of_node3 > 0
    events_before = cli_cleanup_events(cluster, node2)

    # check mode: says how many would go, changes nothing
    check = console.module(node2, "repmgr_cluster_cleanup", dict(node_id=3), check=True)
    assert check.rc == 0 and check.changed is True, check.output
    assert check.result["deleted"] == of_node3
    assert check.result["events"][0]["details"] == "all monitoring records deleted for node 3"
    assert count(node1) == total and cli_cleanup_events(cluster, node2) == events_before

    # nothing is a day old: nothing to do
    keep = console.module(node2, "repmgr_cluster_cleanup", dict(keep_history=1))
    assert keep.rc == 0 and keep.changed is False and keep.result["deleted"] == 0, keep.output
    assert keep.result["msg"] == "no monitoring records to delete"

    # node3's rows only
    run = console.module(node2, "repmgr_cluster_cleanup", dict(node_id=3))
    assert run.rc == 0 and run.changed is True, run.output
    assert run.result["deleted"] == of_node3 and run.result["vacuumed"] is True
    assert count(node1, "standby_node_id = 3") == 0 and count(node1) == total - of_node3

    # everything (repmgr's TRUNCATE), then nothing left to do
    run = console.module(node2, "repmgr_cluster_cleanup", {})
    assert run.rc == 0 and run.changed is True and run.result["deleted"] == total - of_node3, run.output
    assert count(node1) == 0
    again = console.module(node2, "repmgr_cluster_cleanup", {})
    assert again.rc == 0 and again.changed is False and again.result["events"] == [], again.output

    # the real `repmgr cluster event` lists our events, node2's (the node connected to), with repmgr's texts
    new = [row for row in cli_cleanup_events(cluster, node2) if row not in events_before]
    assert sorted((row[0], row[1], row[2], row[3], row[5]) for row in new) == [
        ("2", "node2", "cluster_cleanup", "t", "all monitoring records deleted"),
        ("2", "node2", "cluster_cleanup", "t", "all monitoring records deleted for node 3"),
    ]


def test_the_real_repmgr_cluster_cleanup_removes_the_monitors_rows(cluster, inventory, tmp_path):
    node1, node2, _node3 = cluster.nodes
    recorded = record_history(cluster, inventory, tmp_path, "interop")
    assert count(node1) == len(recorded.rows) >= 6
    before = cli_cleanup_events(cluster, node2)

    rc, stdout, stderr = cluster.repmgr(node2, "cluster", "cleanup", "--keep-history=0")
    assert rc == 0, stdout + stderr
    assert count(node1) == 0
    new = [row for row in cli_cleanup_events(cluster, node2) if row not in before]
    assert [(row[0], row[2], row[5]) for row in new] == [("2", "cluster_cleanup", "all monitoring records deleted")]
