"""repmgr's event notifications and the webhook, end to end under a real ansible-rulebook.

A failover of a real cluster (its own: "notify", port 55711, 127.0.0.87-89) with
pgha_event_notification_command set in the inventory (for the playbooks' modules) and in the
rulebook's variables (for the monitor's own rows), and pgha_webhook_url pointing at a tiny HTTP
receiver on 127.0.0.1. The notification command appends its argv, as JSON, to a file: what a
DBA's alerting script would be handed, in order, with no password anywhere.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ansible_cli import run_module
from harness import pid_alive
from scenario import Scenario, in_recovery, scenarios

PORT = 55711
FIRST_OCTET = 87  # the harness keeps .100 and up for its proxies
# What the alerting script is handed: the event, its node, success, time, details, related node, conninfo.
ARGS = '%e %n %a %s "%t" "%d" %p %c'
FAILOVER_EVENTS = ["repmgrd_upstream_disconnect", "standby_promote", "repmgrd_failover_promote",
                   "repmgrd_failover_follow"]

RECORDER = r'''import json, os, sys, time
{hang}
with open({path!r}, "a") as handle:
    handle.write(json.dumps(sys.argv[1:]) + "\n")
'''
HANG = r'''if sys.argv[1] == "standby_promote":
    with open({marker!r}, "w") as handle:
        handle.write(str(os.getpid()))
    time.sleep(120)
'''


class Receiver:
    """An HTTP server on 127.0.0.1 that keeps every JSON body posted to it."""

    def __init__(self):
        bodies = self.bodies = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # pylint: disable=invalid-name
                length = int(self.headers.get("Content-Length", 0))
                bodies.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d/hook" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def events(self):
        return [body.get("event") for body in self.bodies]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def notify_scenario(tmp_path, request):
    yield from scenarios(request, lambda **kwargs: Scenario(tmp_path, "notify", PORT, FIRST_OCTET, **kwargs))


@pytest.fixture()
def receiver():
    server = Receiver()
    yield server
    server.close()


def recorder_command(tmp_path, hang=False):
    """The notification command: a script that appends its argv as one JSON line to notifications.jsonl."""
    notes = tmp_path / "notifications.jsonl"
    marker = tmp_path / "hung.pid"
    script = tmp_path / "record_notification.py"
    script.write_text(RECORDER.format(path=str(notes), hang=HANG.format(marker=str(marker)) if hang else ""))
    os.chmod(tmp_path, 0o755)
    notes.touch()
    os.chmod(notes, 0o666)
    return "%s %s %s" % (sys.executable, script, ARGS), notes, marker


def notifications(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def when(text):
    """%t (PostgreSQL's timestamptz text) as a datetime."""
    text = re.sub(r"([+-]\d\d)$", r"\1:00", text)
    return datetime.datetime.fromisoformat(text)


def test_a_failover_notifies_each_event_in_order_and_posts_to_the_webhook(notify_scenario, receiver, tmp_path):
    s = notify_scenario().register(priorities={2: 50})  # node3 wins on priority
    node1, node2, node3 = s.nodes
    command, notes, _marker = recorder_command(tmp_path)
    s.start_writer()
    book = s.rulebook(inventory_vars=dict(pgha_event_notification_command=command),
                      pgha_event_notification_command=command, pgha_webhook_url=receiver.url,
                      pgha_heartbeat_interval=2)
    s.cluster.wait_until(lambda: len([n for n in notifications(notes) if n[0] == "repmgrd_start"]) == 3,
                         what="the monitor's repmgrd_start rows are notified")
    book.wait_for("'event': 'monitor_heartbeat'", 30)
    node1.crash()
    s.cluster.wait_until(lambda: [n for n in notifications(notes) if n[0] == "repmgrd_failover_follow"]
                         and [n for n in notifications(notes) if n[0] == "repmgrd_upstream_disconnect"],
                         timeout=90, what="the failover's notifications")
    s.settled_on("node3")
    got = notifications(notes)
    names = [n[0] for n in got]
    for name in FAILOVER_EVENTS:
        assert name in names, (name, names)
    # a module notifies its rows in the order it wrote them (the follower's module runs beside it)
    assert names.index("standby_promote") < names.index("repmgrd_failover_promote")
    assert names.index("standby_follow") < names.index("repmgrd_failover_follow")
    by_name = {n[0]: n for n in got}
    # in the order they happened, by %t: the disconnect (notified once the new primary took its row) first
    times = [when(by_name[name][4]) for name in FAILOVER_EVENTS]
    assert times == sorted(times), list(zip(FAILOVER_EVENTS, times))
    promote = by_name["repmgrd_failover_promote"]
    assert promote[1:4] == ["3", "node3", "1"] and promote[6] == "1"  # %p: the failed primary
    assert promote[5] == 'node "node3" (ID: 3) promoted to primary; old primary "node1" (ID: 1) marked as failed'
    follow = by_name["repmgrd_failover_follow"]
    assert follow[1:4] == ["2", "node2", "1"] and follow[6] == "3"  # %p: the new upstream
    assert "host=127.0.0.8" in follow[7]  # %c: the node's conninfo
    disconnect = by_name["repmgrd_upstream_disconnect"]
    assert disconnect[1:3] == ["1", "node1"]
    assert s.cluster.password not in notes.read_text()
    # the webhook heard about the failover from the monitor, and nothing posted carried a password
    s.cluster.wait_until(lambda: "new_primary" in receiver.events(), what="the webhook got new_primary")
    posted = receiver.events()
    assert posted.index("repmgrd_upstream_disconnect") < posted.index("primary_failure") < posted.index("new_primary")
    assert s.cluster.password not in json.dumps(receiver.bodies)
    assert in_recovery(node2) is True and node3.in_recovery() is False
    # repmgr service status from the metadata: the monitor runs and watches every node
    info = run_module(s.inventory, "node2", "pgha.repmgr.repmgr_cluster_info", dict(monitor=True))
    assert not info.failed, info.output
    status = info.result["monitor"]
    assert status["failover_protection"] is True and status["running"] is True, status
    assert [n["node_name"] for n in status["nodes"] if n["monitor_running"]] == ["node1", "node2", "node3"]
    assert all(n["seconds_since_last_check"] is not None for n in status["nodes"])
    book.stop()  # repmgrd_shutdown: protection is off, and says why
    info = run_module(s.inventory, "node2", "pgha.repmgr.repmgr_cluster_info", dict(monitor=True))
    assert info.result["monitor"]["failover_protection"] is False
    assert "the last monitor stopped" in info.result["monitor"]["reason"]


def test_a_hanging_command_is_killed_and_a_refused_webhook_is_reported_and_the_failover_completes(
        notify_scenario, tmp_path):
    s = notify_scenario().register(priorities={2: 50})
    node1, node2, node3 = s.nodes
    command, notes, marker = recorder_command(tmp_path, hang=True)
    s.start_writer()
    refused = "http://127.0.0.1:9/hook"  # nothing listens there
    book = s.rulebook(inventory_vars=dict(pgha_event_notification_command=command,
                                          pgha_event_notifications=["standby_promote", "repmgrd_failover_promote",
                                                                    "repmgrd_failover_follow"]),
                      pgha_event_notification_command=command, pgha_webhook_url=refused)
    started = time.monotonic()
    node1.crash()
    s.cluster.wait_until(lambda: in_recovery(node3) is False, timeout=60, what="node3 is promoted")
    s.cluster.wait_until(marker.exists, timeout=30, what="the command hangs on standby_promote")
    hung_pid = int(marker.read_text())
    s.cluster.wait_until(lambda: [n for n in notifications(notes) if n[0] == "repmgrd_failover_follow"],
                         timeout=90, what="the follow is notified")
    new = s.settled_on("node3")  # the failover did not wait for the hanging command
    s.cluster.wait_until(lambda: not pid_alive(hung_pid), timeout=30,
                         what="the hanging notification command is killed at its timeout")
    s.cluster.wait_until(lambda: [n for n in notifications(notes) if n[0] == "repmgrd_failover_promote"],
                         timeout=30, what="the promotion's next notification runs after the kill")
    names = [n[0] for n in notifications(notes)]
    assert "standby_promote" not in names  # it hung: killed at the timeout, never written
    # the modules' event_notifications (inventory) filters their rows; the monitor's (unset) takes all of its own
    assert "standby_follow" not in names and names.count("repmgrd_start") == 3
    book.wait_for("did not finish within 10 seconds and was killed", 60)
    book.wait_for("'option': 'webhook_url'", 30)
    assert "refused" in book.output()
    assert s.promotions(new, (1, 1)) == (1, 1)
    assert in_recovery(node2) is True
    assert time.monotonic() - started < 120
