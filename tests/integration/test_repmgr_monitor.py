"""The repmgr_monitor event source against real servers: crash, blip, hang, standby loss, stale primary.

The source's main() runs in its own event loop in a thread, as ansible-rulebook runs it, and
puts its events on a queue the test reads; the last test runs it inside a real ansible-rulebook
process. Timings are asserted only loosely (a crash is noticed long before the first check
would have been due); speed is for make bench.
"""

from __future__ import annotations

import asyncio
import os
import queue
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from ansible_cli import run_module
from harness import cluster_fixture

from ansible_collections.pgha.repmgr.extensions.eda.plugins.event_source import repmgr_monitor

ROOT = Path(__file__).resolve().parents[2]
cluster = cluster_fixture("mon", 3, port=55641, first_octet=51)


@pytest.fixture(scope="module")
def inventory(cluster, tmp_path_factory):
    path = cluster.write_inventory(tmp_path_factory.mktemp("inv") / "mon.yml")
    for node in cluster.nodes:
        role = "primary" if node.node_id == 1 else "standby"
        run = run_module(path, node.name, "pgha.repmgr.repmgr_node",
                         dict(role=role, node_id=node.node_id, node_name=node.name, conninfo=node.conninfo,
                              login_password=cluster.password))
        assert not run.failed, run.output
    return path


class SourceRun:
    """repmgr_monitor.main() in a thread with its own event loop; its events on a queue."""

    def __init__(self, args):
        self.args = args
        self.queue = queue.Queue()
        self.seen = []
        self.error = None
        self.loop = asyncio.new_event_loop()
        self.task = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        asyncio.set_event_loop(self.loop)
        events = self.queue

        class Put:
            async def put(self, item):
                events.put((time.monotonic(), item["repmgr"]))

        self.task = self.loop.create_task(repmgr_monitor.main(Put(), self.args))
        try:
            self.loop.run_until_complete(self.task)
        except asyncio.CancelledError:
            pass
        # reported by the test through self.error
        except BaseException as error:  # pylint: disable=broad-except
            self.error = error

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        if self.task is not None:
            self.loop.call_soon_threadsafe(self.task.cancel)
        self.thread.join(15)
        assert self.error is None, "the source died: %r" % self.error

    def wait_for(self, name, timeout, node_name=None):
        """The next event called `name` (about `node_name`), within `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            for stamp, body in self.seen:
                if body["event"] == name and (node_name is None or body.get("node_name") == node_name):
                    self.seen.remove((stamp, body))
                    return stamp, body
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError("no %s event for %s within %s s; saw %s"
                                     % (name, node_name, timeout, [b["event"] for _s, b in self.seen]))
            try:
                self.seen.append(self.queue.get(timeout=min(remaining, 0.2)))
            except queue.Empty:
                pass
            assert self.error is None, "the source died: %r" % self.error

    def names(self):
        while True:
            try:
                self.seen.append(self.queue.get_nowait())
            except queue.Empty:
                return [b["event"] for _s, b in self.seen]


def source(cluster, **overrides):
    args = dict(conninfo=[n.conninfo for n in cluster.nodes], password=cluster.password, cluster="mon",
                monitor_interval=0.5, reconnect_attempts=3, reconnect_interval=0.5, connect_timeout=1)
    args.update(overrides)
    return SourceRun(args)


def test_a_crash_is_noticed_at_once_and_confirmed_after_the_window(cluster, inventory):
    node1, node2, node3 = cluster.nodes
    with source(cluster, monitor_interval=5) as run:
        _stamp, start = run.wait_for("repmgrd_start", 30)
        # repmgrd's count: the failed check is attempt 1, then 2 more 0.5 s apart
        assert (start["node_name"], start["cluster"], start["detection_window"]) == ("node1", "mon", 1.0)
        crashed = time.monotonic()
        node1.crash()
        noticed, _disconnect = run.wait_for("repmgrd_upstream_disconnect", 10, "node1")
        # the held session breaks: long before the next 5 s check
        assert noticed - crashed < 2.5
        armed, failure = run.wait_for("primary_failure", 15, "node1")
        assert armed - noticed < 0.5 and failure["armed"] is True  # the failover is armed at once ...
        declared, _lost = run.wait_for("primary_lost", 15, "node1")
        assert declared - noticed >= 1.0 - 0.1  # ... and the primary declared lost after the window
        survivors = {s["node_name"]: s for s in failure["standbys"]}
        assert set(survivors) == {"node2", "node3"}
        assert all(s["reachable"] and s["in_recovery"] for s in survivors.values())
        assert all(s["received_lsn"] for s in survivors.values())
    node1.start()
    for standby in (node2, node3):
        cluster.wait_streaming(standby, node1)


def test_a_restart_within_the_window_is_a_reconnect_not_a_failure(cluster, inventory):
    node1 = cluster.nodes[0]
    with source(cluster, reconnect_attempts=10, reconnect_interval=1) as run:
        run.wait_for("repmgrd_start", 30)
        node1.crash()
        run.wait_for("repmgrd_upstream_disconnect", 10, "node1")
        node1.start()
        _stamp, back = run.wait_for("repmgrd_upstream_reconnect", 20, "node1")
        assert back["seconds"] < 10
        assert "primary_lost" not in run.names()


def test_a_hung_primary_is_found_by_the_check(cluster, inventory):
    node1, node2, node3 = cluster.nodes
    with source(cluster) as run:
        run.wait_for("repmgrd_start", 30)
        node1.hang(whole_server=True)
        try:
            run.wait_for("repmgrd_upstream_disconnect", 15, "node1")
            run.wait_for("primary_failure", 15, "node1")
        finally:
            node1.resume()
        run.wait_for("repmgrd_upstream_reconnect", 20, "node1")
    for standby in (node2, node3):
        cluster.wait_streaming(standby, node1)


def test_the_query_check_finds_a_hung_primary(cluster, inventory):
    """connection_check_type: query runs SELECT 1 on the held session: a frozen server does not answer it."""
    node1 = cluster.nodes[0]
    with source(cluster, connection_check_type="query") as run:
        run.wait_for("repmgrd_start", 30)
        node1.hang(whole_server=True)
        try:
            run.wait_for("repmgrd_upstream_disconnect", 15, "node1")
            run.wait_for("primary_lost", 15, "node1")
        finally:
            node1.resume()
        run.wait_for("repmgrd_upstream_reconnect", 20, "node1")
    for standby in cluster.nodes[1:]:
        cluster.wait_streaming(standby, node1)


def test_standby_loss_and_return_and_all_nodes_down(cluster, inventory):
    node1, node2, node3 = cluster.nodes
    with source(cluster) as run:
        run.wait_for("repmgrd_start", 30)
        node3.crash()
        run.wait_for("standby_failure", 15, "node3")
        node3.start()
        run.wait_for("standby_recovery", 15, "node3")
        # everything down: the source reports and keeps running
        for node in cluster.nodes:
            node.crash()
        run.wait_for("primary_failure", 20, "node1")
        for node in cluster.nodes:
            node.start()
        run.wait_for("repmgrd_upstream_reconnect", 30, "node1")
    for standby in (node2, node3):
        cluster.wait_streaming(standby, node1)


def test_a_failed_former_primary_running_again_is_a_stale_primary(cluster, inventory):
    node1, node2, node3 = cluster.nodes
    with source(cluster) as run:
        run.wait_for("repmgrd_start", 30)
        node1.stop(mode="fast")
        run.wait_for("primary_failure", 20, "node1")
        promoted = run_module(inventory, "node2", "pgha.repmgr.repmgr_promote", {})
        assert promoted.changed and not promoted.failed, promoted.output
        _stamp, new = run.wait_for("new_primary", 20, "node2")
        assert new["previous_node_id"] == 1
        node1.start()  # the old primary comes back writable, beside node2
        _stamp, stale = run.wait_for("stale_primary", 20, "node1")
        assert stale["primary_node_id"] == 2 and stale["registered_as"] == "primary" and stale["active"] is False
    # node1 down again: node2 stays the one primary
    node1.stop(mode="fast")


def test_the_source_runs_in_ansible_rulebook(cluster, inventory, tmp_path):
    """A real ansible-rulebook process loads pgha.repmgr.repmgr_monitor and fires a rule on its event.

    The source is given node2's conninfo only and must find the primary from there, whichever node that
    is: node1 when this test runs alone, node2 after the stale-primary test promoted it. The rule writes
    the name repmgrd_start carries, which must be the one server running as a primary.
    """
    node2 = cluster.nodes[1]
    [primary] = cluster.primaries()
    rulebook = tmp_path / "watch.yml"
    marker = tmp_path / "fired"
    rulebook.write_text("""---
- name: Watch the test cluster
  hosts: all
  sources:
    - pgha.repmgr.repmgr_monitor:
        cluster: mon
        conninfo: ["%s"]
        password: "{{ repmgr_password }}"
  rules:
    - name: The monitor started
      condition: event.repmgr.event == "repmgrd_start"
      action:
        run_module:
          name: ansible.builtin.copy
          module_args:
            dest: "%s"
            content: "{{ event.repmgr.node_name }}"
""" % (node2.conninfo, marker))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    vars_file = tmp_path / "vars.yml"
    vars_file.write_text("repmgr_password: '%s'\n" % cluster.password)
    proc = subprocess.Popen(["ansible-rulebook", "-r", str(rulebook), "-i", str(inventory), "--vars", str(vars_file)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=ROOT,
                            start_new_session=True)
    try:
        cluster.wait_until(lambda: marker.exists() and marker.read_text() == primary.name or proc.poll() is not None,
                           timeout=90, what="the rule fired on repmgrd_start")
        assert proc.poll() is None, proc.stdout.read()
        assert marker.read_text() == primary.name, "repmgrd_start names the running primary"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert cluster.password not in output
