"""repmgr's event_notification_command: placeholders, quoting, the filter, the timeout, the module hook."""

from __future__ import annotations

import asyncio
import datetime
import os
import subprocess
import sys
import time

import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import event_notifications, metadata, notify
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption

VALUES = dict(n="2", a="node2", e="standby_follow", s="1", t="2026-11-30 17:00:05.12+00",
              d='node 2 now following new upstream node 3', p="3", c="host=10.0.0.12 user=repmgr")


@pytest.mark.parametrize("template, expected", [
    ("notify %n %e %s", "notify 2 standby_follow 1"),
    ("notify %%n %n", "notify %n 2"),
    ("notify %x %", "notify %x %"),
    ("notify %a %p", "notify node2 3"),
    ("notify '%t'", "notify '2026-11-30 17:00:05.12+00'"),
    ('notify "%d"', 'notify "node 2 now following new upstream node 3"'),
    ("notify %d", "notify 'node 2 now following new upstream node 3'"),
    ("notify %c", "notify 'host=10.0.0.12 user=repmgr'"),
])
def test_placeholders_are_repmgrs(template, expected):
    assert notify.substitute(template, VALUES) == expected


@pytest.mark.parametrize("value", [
    'a "quoted" word', "it's", "$(touch /tmp/pwned) `id` $HOME", "back\\slash", "semi; colon && x | y", "",
    "new\nline",
])
@pytest.mark.parametrize("template", ["printf '%%s\\n' %d", "printf '%%s\\n' \"%d\"", "printf '%%s\\n' '%d'"])
def test_every_value_reaches_the_command_as_one_literal_argument(template, value):
    line = notify.substitute(template, dict(VALUES, d=value))
    out = subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, check=True).stdout
    assert out == value + "\n"


def test_unknown_values_stay_one_empty_argument():
    line = notify.substitute("printf '[%%s]' %p %n", dict(VALUES, p=None))
    assert subprocess.run(["/bin/sh", "-c", line], capture_output=True, text=True, check=True).stdout == "[][2]"


def test_the_conninfo_and_details_never_carry_a_password():
    note = notify.Note(node_id=1, event="standby_register", conninfo="host=h user=repmgr password=S3cret",
                       details="password=S3cret and Other-pw", timestamp="t")
    values = notify.values_of(note, secrets=("Other-pw",))
    assert "S3cret" not in values["c"] + values["d"] and "Other-pw" not in values["d"]
    assert "host=h" in values["c"]


@pytest.mark.parametrize("event, details, related", [
    ("repmgrd_failover_promote", 'node "node3" (ID: 3) promoted to primary; old primary "node1" (ID: 1) marked as '
                                 "failed", 1),
    ("repmgrd_failover_follow", 'node "node2" (ID: 2) now following new upstream node "node3" (ID: 3)', 3),
    ("repmgrd_failover_follow", 'witness node "node3" (ID: 3) now following new primary node "node2" (ID: 2)', 2),
    ("standby_follow", "standby attached to upstream node \"node3\" (ID: 3)", 3),
    ("standby_register", "standby registration succeeded; upstream node ID is 1", 1),
    ("standby_promote", 'server "node3" (ID: 3) was successfully promoted to primary', None),
    ("repmgrd_start", None, None),
])
def test_the_related_node_comes_from_repmgrs_detail_texts(event, details, related):
    assert notify.related_node_id(event, details) == related


@pytest.mark.parametrize("events, event, expected", [
    ([], "standby_promote", True),
    (None, "standby_promote", True),
    (["standby_promote", "repmgrd_failover_promote"], "standby_promote", True),
    (["repmgrd_failover_promote"], "standby_promote", False),
    ("standby_promote, standby_follow", "standby_follow", True),  # repmgr.conf's comma list
])
def test_event_notifications_filters_as_repmgr(events, event, expected):
    assert event_notifications.wanted(event, event_notifications.chosen_events(events)) is expected


def test_bad_options_name_the_option():
    with pytest.raises(InvalidOption, match="event_notifications"):
        event_notifications.chosen_events([""])
    with pytest.raises(InvalidOption, match="event_notification_command"):
        event_notifications.command_from(["x"])
    with pytest.raises(InvalidOption, match="event_notifications"):  # a module run refuses it before anything
        notify.recorder_from_params(dict(event_notification_command="", event_notifications=[3]))


def test_the_timestamp_is_written_as_postgresql_prints_it():
    stamp = datetime.datetime(2026, 11, 30, 17, 0, 5, 120000, tzinfo=datetime.timezone.utc)
    assert notify.timestamp_text(stamp) == "2026-11-30 17:00:05.12+00"
    east = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))
    assert notify.timestamp_text(east) == "2026-01-02 03:04:05+05:30"


def test_a_command_that_fails_is_reported_with_its_output():
    status, output = notify.run("echo oops; exit 3")
    assert status == "exit status 3" and "oops" in output
    note = notify.Note(node_id=1, event="standby_promote")
    message = notify.report(note, (status, output))
    assert 'event "standby_promote" of node 1 failed (exit status 3): oops' in message
    assert notify.report(note, ("ok", None)) is None


def test_a_hanging_command_is_killed_with_everything_it_started(tmp_path):
    marker = tmp_path / "child.pid"
    started = time.monotonic()
    status, _detail = notify.run("sleep 60 & echo $! > %s; wait" % marker, timeout=1)
    assert status == "timeout" and time.monotonic() - started < 5
    child = int(marker.read_text())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the command's child survived the timeout")
    assert "did not finish within 1 seconds and was killed" in notify.report(notify.Note(1, "x"), (status, "1"))


def test_the_async_runner_kills_at_the_timeout_too():
    started = time.monotonic()
    assert asyncio.run(notify.run_async("sleep 60", timeout=1))[0] == "timeout"
    assert time.monotonic() - started < 5
    assert asyncio.run(notify.run_async("exit 0")) == ("ok", None)


# -- the module side: write_event hands its rows over, the run delivers them once committed ----------

class FakeInfo:
    transaction_status = 2  # INTRANS


class FakeConnection:
    autocommit = True
    info = FakeInfo()


class FakeCursor:
    """INSERT ... RETURNING and the node lookup, as write_event runs them."""

    connection = FakeConnection()

    def __init__(self):
        self.executed = []
        self.last = None

    def execute(self, sql, params=None):
        self.executed.append(sql)
        self.last = sql

    def fetchone(self):
        if self.last == metadata.INSERT_EVENT:
            return (datetime.datetime(2026, 11, 30, 17, 0, 5, tzinfo=datetime.timezone.utc),)
        return ("node3", "host=10.0.0.13 user=repmgr")


def test_write_event_runs_no_more_sql_without_a_command():
    notify.install(None)
    cur = FakeCursor()
    metadata.write_event(cur, 3, "standby_promote", True, "x")
    assert cur.executed == [metadata.INSERT_EVENT]


def test_write_event_records_the_wanted_rows_and_delivery_runs_them_in_order():
    recorder = notify.Recorder("notify %n %a %e %s %t %p %c", events=["standby_promote", "repmgrd_failover_promote"])
    notify.install(recorder)
    try:
        cur = FakeCursor()
        metadata.write_event(cur, 3, "standby_promote", True, 'server "node3" (ID: 3) was successfully promoted')
        metadata.write_event(cur, 3, "standby_follow", True, "not wanted")
        metadata.write_event(cur, 3, "repmgrd_failover_promote", True,
                             'node "node3" (ID: 3) promoted to primary; old primary "node1" (ID: 1) marked as failed')
    finally:
        notify.install(None)
    lines = []
    assert recorder.deliver(runner=lambda line, timeout: lines.append(line) or ("ok", None)) == []
    assert lines == [
        "notify 3 node3 standby_promote 1 '2026-11-30 17:00:05+00' '' 'host=10.0.0.13 user=repmgr'",
        "notify 3 node3 repmgrd_failover_promote 1 '2026-11-30 17:00:05+00' 1 "
        "'host=10.0.0.13 user=repmgr'",
    ]


def test_a_failed_run_notifies_only_its_committed_rows():
    recorder = notify.Recorder("notify %e %s")
    recorder.add(1, "standby_promote", True, None, None)  # in a transaction that the failure rolled back
    recorder.add(1, "standby_follow", False, "failed", None)  # repmgr's failure row, committed before raising
    recorder.add(1, "standby_clone", True, None, None, committed=True)  # autocommit, committed at once
    lines = []
    recorder.deliver(failed=True, runner=lambda line, timeout: lines.append(line) or ("ok", None))
    assert lines == ["notify standby_follow 0", "notify standby_clone 1"]


def test_a_failing_command_becomes_reports_not_errors():
    recorder = notify.Recorder(sys.executable + " -c 'import sys; sys.exit(1)' %e")
    recorder.add(1, "standby_promote", True, None, None)
    reports = recorder.deliver()
    assert len(reports) == 1 and "failed (exit status 1)" in reports[0]


def test_no_command_means_no_recorder():
    assert notify.recorder_from_params(dict(event_notification_command="", event_notifications=[])) is None
    assert notify.recorder_from_params(dict(event_notification_command=" x ", event_notifications=None)).command == "x"


# -- the event source's side: the monitor's rows notified in the background, the webhook ------------

def test_a_row_the_monitor_committed_becomes_a_note():
    note = notify.note_from_row(dict(node_id=2, node_name="node2", conninfo="host=h2", event="repmgrd_failover_promote",
                                     successful=True, details='old primary "node1" (ID: 1) marked as failed',
                                     when=1764522000.5))
    assert (note.node_id, note.node_name, note.event, note.related_node_id) == (2, "node2", "repmgrd_failover_promote",
                                                                                1)
    assert note.timestamp == "2025-11-30 17:00:00.5+00"


def test_the_queue_runs_jobs_in_order_reports_a_failure_and_drops_what_is_past_its_limit():
    done, reported = [], []

    async def job(name, fail=False):
        done.append(name)
        if fail:
            raise RuntimeError("boom")

    async def report(option, message):
        reported.append((option, message))

    async def scenario():
        queue = notify.NotificationQueue(report, limit=3)
        for name in ("a", "b", "c", "d"):
            queue.add(job(name, fail=name == "b"))
        await queue.stop(grace=5)

    asyncio.run(scenario())
    assert done == ["a", "b", "c"] and reported == [("side job", "RuntimeError: boom")]


def event_source():
    import importlib.util  # pylint: disable=import-outside-toplevel
    from pathlib import Path  # pylint: disable=import-outside-toplevel

    path = Path(__file__).resolve().parents[2] / "extensions/eda/plugins/event_source/repmgr_monitor.py"
    spec = importlib.util.spec_from_file_location("repmgr_monitor_source", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Queue:
    def __init__(self):
        self.items = []

    async def put(self, item):
        self.items.append(item)


def test_the_monitors_rows_are_notified_in_order_and_a_failure_is_a_monitor_error(tmp_path):
    source = event_source()
    out = tmp_path / "notes"
    settings = source.settings_from(dict(conninfo="host=10.0.0.1", password="Pw-1",
                                         event_notification_command="printf '%%s|%%s|%%s\\n' %e %n \"%c\" >> " +
                                         str(out) + "; test %e != standby_failure"))
    queue = Queue()
    io = source.RealIO(queue, settings)

    async def scenario():
        await io.notify([dict(node_id=1, node_name="node1", conninfo="host=h1 password=Pw-1", event="repmgrd_start",
                              successful=True, details="d", when=1764522000.0),
                         dict(node_id=2, node_name="node2", conninfo="host=h2", event="standby_failure",
                              successful=True, details="d", when=1764522001.0)])
        await io.stop_side_jobs(grace=10)

    asyncio.run(scenario())
    lines = out.read_text().splitlines()
    assert lines[0].startswith("repmgrd_start|1|") and "Pw-1" not in lines[0] and "host=h1" in lines[0]
    assert lines[1] == "standby_failure|2|host=h2"
    errors = [item["repmgr"] for item in queue.items]
    assert [(e["event"], e["option"]) for e in errors] == [("monitor_error", "event_notification_command")]
    assert 'event "standby_failure" of node 2 failed (exit status 1)' in errors[0]["error"]


def test_the_failover_events_are_posted_to_the_webhook_and_a_refusal_is_reported():
    import json  # pylint: disable=import-outside-toplevel
    import threading  # pylint: disable=import-outside-toplevel
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # pylint: disable=import-outside-toplevel

    bodies = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # pylint: disable=invalid-name
            bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(500 if bodies[-1]["event"] == "new_primary" else 204)
            self.end_headers()

        def log_message(self, *_args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        source = event_source()
        from ansible_collections.pgha.repmgr.plugins.module_utils import monitor  # pylint: disable=import-outside-toplevel

        settings = source.settings_from(dict(conninfo="host=10.0.0.1",
                                             webhook_url="http://127.0.0.1:%d/x" % server.server_address[1]))
        queue = Queue()
        io = source.RealIO(queue, settings)

        async def scenario():
            for name in ("repmgrd_start", "primary_failure", "monitor_heartbeat", "new_primary"):
                await io.emit(monitor.event(settings, name, None))
            await io.stop_side_jobs(grace=10)

        asyncio.run(scenario())
    finally:
        server.shutdown()
        server.server_close()
    assert [b["event"] for b in bodies] == ["primary_failure", "new_primary"]
    errors = [item["repmgr"] for item in queue.items if item["repmgr"]["event"] == "monitor_error"]
    assert len(errors) == 1 and errors[0]["option"] == "webhook_url" and "refused the new_primary event" in \
        errors[0]["error"]
