"""The automatic failover end to end: `ansible-rulebook -r pgha.repmgr.failover`, a crashed primary.

A real ansible-rulebook process runs the repmgr_monitor source and, on primary_failure, the
failover playbook. What a DBA checks afterwards: one primary (the best standby), the other
standby streaming from it, repmgrd's events, the data, and the real repmgr CLI agreeing. A
partition of the monitor alone (the standbys still see the primary) must change nothing.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from ansible_cli import run_module
from harness import cluster_fixture

ROOT = Path(__file__).resolve().parents[2]
cluster = cluster_fixture("failover", 3, port=55661, first_octet=71)


@pytest.fixture()
def registered(cluster, tmp_path):
    """A healthy cluster registered through repmgr_node, node1 the primary (rebuilt for each test)."""
    cluster.destroy()
    cluster.prepare()
    cluster.build()
    inventory = cluster.write_inventory(tmp_path / "inventory.yml")
    for node in cluster.nodes:
        role = "primary" if node.node_id == 1 else "standby"
        run = run_module(inventory, node.name, "pgha.repmgr.repmgr_node",
                         dict(role=role, node_id=node.node_id, node_name=node.name, conninfo=node.conninfo,
                              login_password=cluster.password))
        assert not run.failed, run.output
    return inventory


class Rulebook:
    """ansible-rulebook -r pgha.repmgr.failover, started in its own session, stopped by its PID."""

    def __init__(self, inventory, variables, tmp_path):
        self.vars_file = tmp_path / "monitor.yml"
        self.vars_file.write_text(yaml.safe_dump(variables))
        self.log = tmp_path / "rulebook.log"
        self.argv = ["ansible-rulebook", "-r", "pgha.repmgr.failover", "-i", str(inventory),
                     "--vars", str(self.vars_file), "--print-events"]
        self.proc = None

    def __enter__(self):
        env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
        self.handle = open(self.log, "w")  # pylint: disable=consider-using-with
        self.proc = subprocess.Popen(self.argv, stdout=self.handle, stderr=subprocess.STDOUT, env=env, cwd=ROOT,
                                     start_new_session=True)
        return self

    def output(self):
        return self.log.read_text()

    def wait_for(self, text, timeout):
        deadline = time.monotonic() + timeout
        while text not in self.output():
            assert self.proc.poll() is None, "ansible-rulebook ended:\n" + self.output()
            assert time.monotonic() < deadline, "no %r within %s s:\n%s" % (text, timeout, self.output())
            time.sleep(0.1)

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.handle.close()


def monitor_vars(cluster, **overrides):
    variables = dict(pgha_cluster_name="failover", pgha_monitor_conninfo=[n.conninfo for n in cluster.nodes],
                     pgha_repmgr_password=cluster.password, pgha_monitor_interval=1, pgha_reconnect_attempts=3,
                     pgha_reconnect_interval=1)
    variables.update(overrides)
    return variables


def primaries(cluster):
    return sorted(n.name for n in cluster.nodes if n.is_running() and not n.in_recovery())


def events(node):
    return [(r[0], r[1], r[2]) for r in node.sql(
        "SELECT node_id, event, details FROM repmgr.events ORDER BY event_timestamp, event")]


def test_a_crashed_primary_is_replaced_by_the_best_standby(cluster, registered, tmp_path):
    node1, node2, node3 = cluster.nodes
    node1.sql("CREATE TABLE ledger (n int)", dbname="postgres")
    node1.sql("INSERT INTO ledger SELECT generate_series(1, 1000)", dbname="postgres")
    cluster.wait_until(lambda: all(n.sql("SELECT count(*) FROM ledger", dbname="postgres") == [(1000,)]
                                   for n in (node2, node3)), what="the rows are on both standbys")
    # node3 is the better candidate: the election must take priority into account (same WAL)
    node1.sql("UPDATE repmgr.nodes SET priority = 50 WHERE node_id = 2")

    with Rulebook(registered, monitor_vars(cluster), tmp_path) as rulebook:
        rulebook.wait_for("repmgrd_start", 60)
        crashed = time.monotonic()
        node1.crash()
        cluster.wait_until(lambda: primaries(cluster) == ["node3"], timeout=60, what="node3 is the new primary")
        promoted_after = time.monotonic() - crashed
        cluster.wait_streaming(node2, node3, timeout=60)
        cluster.wait_until(lambda: any(e[1] == "repmgrd_failover_follow" for e in events(node3)), timeout=30,
                           what="the follow is logged")

    assert promoted_after < 30, "promoted %.1f s after the crash" % promoted_after
    assert node3.sql("SELECT count(*) FROM ledger", dbname="postgres") == [(1000,)]
    assert node3.sql("SELECT node_id, type, upstream_node_id, active FROM repmgr.nodes ORDER BY node_id") == [
        (1, "primary", None, False), (2, "standby", 3, True), (3, "primary", None, True)]
    logged = events(node3)
    assert (3, "standby_promote", 'server "node3" (ID: 3) was successfully promoted to primary') in logged
    assert (3, "repmgrd_failover_promote",
            'node "node3" (ID: 3) promoted to primary; old primary "node1" (ID: 1) marked as failed') in logged
    assert (2, "repmgrd_failover_follow", 'node "node2" (ID: 2) now following new upstream node "node3" (ID: 3)') \
        in logged
    assert [e[1] for e in logged].count("standby_promote") == 1, "one failover only"
    assert node3.sql("SELECT term FROM repmgr.voting_term") == [(2,)]
    assert cluster.password not in rulebook.output()
    # the real repmgr CLI sees the same cluster
    cluster.write_repmgr_conf(node2)
    rc, out, _err = cluster.repmgr(node2, "cluster", "show")
    assert rc == 25 and "- failed" in out and "* running" in out


def test_a_partition_of_the_monitor_alone_changes_nothing(cluster, registered, tmp_path):
    """The monitor reaches node1 through a proxy; cutting it looks like a lost primary to the monitor,
    but the standbys still see node1 and stream from it: the playbook must not fail over."""
    node1, node2, node3 = cluster.nodes
    proxy = cluster.proxy(node1)
    variables = monitor_vars(cluster, pgha_monitor_conninfo=[node2.conninfo],
                             pgha_node_conninfo={"node1": proxy.conninfo})
    events_before = events(node1)
    try:
        with Rulebook(registered, variables, tmp_path) as rulebook:
            rulebook.wait_for("repmgrd_start", 60)
            proxy.cut()
            rulebook.wait_for("primary_failure", 60)
            rulebook.wait_for("no failover of node1", 60)
            assert "the primary is still visible from node2, node3" in rulebook.output()
    finally:
        proxy.restore()
        proxy.close()
    assert primaries(cluster) == ["node1"]
    written = [e for e in events(node1) if e not in events_before]
    assert not [e for e in written if e[1] in ("standby_promote", "repmgrd_failover_promote", "standby_follow",
                                                  "repmgrd_failover_follow")], written
    cluster.wait_streaming(node2, node1)
    cluster.wait_streaming(node3, node1)
