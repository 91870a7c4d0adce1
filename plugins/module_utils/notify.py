# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr's event_notification_command: after an event row is committed, run the user's command.

As repmgr (_create_event() in dbutils.c): the command is a template with placeholders (%n node
ID, %a node name, %e event, %s 1/0, %t timestamp, %d details, %p related node ID, %c conninfo,
%% a percent sign), filtered by event_notifications (a list of event names; empty: every event),
run by the shell (repmgr calls system()). Unlike repmgr, every substituted value is quoted for
the place it lands in (bare, inside '...' or inside "..."), so a detail text or a node name can
never run as shell code, and %c never carries a password. Each run is bounded by a timeout;
the command's whole process group is killed after it. A command that fails or hangs is reported
(a module's warnings, the monitor's monitor_error) and never fails anything.

The module side: metadata.write_event() hands every row it writes to the Recorder that
module_support.execute() installs for the run (none is installed when no command is set, and
nothing more happens then); execute() delivers the notes once the rows are committed.

The monitor's side (the repmgr_monitor event source): the loop hands over the rows it has
committed (monitor.committed_notes()); each becomes a Note, and its command runs in a
NotificationQueue, in the background and in order, beside the posts to the webhook_url, so that
watching the primary never waits for either.
"""

from __future__ import annotations

import datetime
import os
import re
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils.event_notifications import (
    chosen_events, command_from, wanted)

DEFAULT_TIMEOUT = 10  # seconds a notification command may take; then its process group is killed
QUEUE_GRACE = 2.0  # seconds the last notifications may still take when the monitor stops
QUEUE_LIMIT = 1000  # notifications and posts waiting at most: a dead receiver must not grow memory forever
SHELL = "/bin/sh"
OUTPUT_LIMIT = 500  # characters of the command's output quoted in a report

PLACEHOLDERS = "naestdpc"

# %p: the other node an event is about, where repmgr knows one (its event_info.node_id). Our detail
# texts are repmgr's fixed formats, so the related node is read from them: the new upstream of a
# follow / register / rejoin, the failed primary of a failover promotion, the former primary of a
# switchover.
_ID = r"\(ID: (\d+)\)"
RELATED_NODE_PATTERNS = (
    (("repmgrd_failover_promote",), re.compile(r"old primary \"[^\"]*\" " + _ID)),
    (("repmgrd_failover_follow", "standby_follow", "node_rejoin"),
     re.compile(r"(?:upstream|primary) node \"[^\"]*\" " + _ID)),
    (("standby_follow", "node_rejoin", "standby_register"), re.compile(r"(?:upstream|primary) node (?:ID is )?(\d+)")),
    (("standby_switchover",), re.compile(r"demoted primary \"[^\"]*\" " + _ID)),
)


@dataclass(frozen=True)
class Note:
    """One event to notify: what repmgr's placeholders are made of (conninfo masked already)."""

    node_id: int
    event: str
    successful: bool = True
    timestamp: str = ""
    details: Optional[str] = None
    node_name: Optional[str] = None
    conninfo: Optional[str] = None
    related_node_id: Optional[int] = None


# -- the pure part ---------------------------------------------------------------------------------

def related_node_id(event, details):
    """%p: the node ID the detail text names as the other node of the event, or None."""
    for names, pattern in RELATED_NODE_PATTERNS:
        if event in names and details:
            found = pattern.search(details)
            if found:
                return int(found.group(1))
    return None


def timestamp_text(value):
    """%t as repmgr gives it: the row's event_timestamp as PostgreSQL prints a timestamptz."""
    if value is None:
        value = datetime.datetime.now(datetime.timezone.utc)
    if isinstance(value, (int, float)):
        value = datetime.datetime.fromtimestamp(value, datetime.timezone.utc)
    if not isinstance(value, datetime.datetime):
        return str(value)
    text = value.strftime("%Y-%m-%d %H:%M:%S")
    if value.microsecond:
        text += (".%06d" % value.microsecond).rstrip("0")
    offset = value.utcoffset()
    if offset is not None:
        minutes = int(offset.total_seconds() // 60)
        sign = "-" if minutes < 0 else "+"
        hours, rest = divmod(abs(minutes), 60)
        text += "%s%02d" % (sign, hours) + (":%02d" % rest if rest else "")
    return text


def values_of(note, secrets=()):
    """{placeholder letter: text} of one note; the conninfo masked of any password."""
    conninfo = conninfo_util.mask_text(conninfo_util.mask(note.conninfo), secrets) if note.conninfo else ""
    return {
        "n": str(note.node_id),
        "a": note.node_name or "",
        "e": note.event,
        "s": "1" if note.successful else "0",
        "t": note.timestamp or "",
        "d": conninfo_util.mask_text(note.details or "", secrets),
        "p": "" if note.related_node_id is None else str(note.related_node_id),
        "c": conninfo,
    }


def _quoted(value, state):
    """The value, quoted for where it lands: bare, inside '...', inside "..."."""
    if state == "'":
        return value.replace("'", "'\\''")
    if state == '"':
        return re.sub(r'(["\\$`])', r"\\\1", value)
    return shlex.quote(value)


def substitute(template, values):
    """repmgr's placeholder substitution, each value quoted for the shell where it lands.

    `values`: {letter: text}. %% is a percent sign; an unknown %x stays as written (repmgr); a
    placeholder outside quotes becomes one shell word even when empty, so positions never shift.
    """
    out, state, i = [], None, 0
    while i < len(template):
        char = template[i]
        if char == "%" and i + 1 < len(template):
            letter = template[i + 1]
            if letter == "%":
                out.append("%")
                i += 2
                continue
            if letter in PLACEHOLDERS:
                out.append(_quoted(values.get(letter) or "", state))
                i += 2
                continue
            out.append(char)
            i += 1
            continue
        if state is None:
            if char in "'\"":
                state = char
            elif char == "\\" and i + 1 < len(template):
                out.append(template[i:i + 2])
                i += 2
                continue
        elif state == "'" and char == "'":
            state = None
        elif state == '"':
            if char == "\\" and i + 1 < len(template):
                out.append(template[i:i + 2])
                i += 2
                continue
            if char == '"':
                state = None
        out.append(char)
        i += 1
    return "".join(out)


def command_line(template, note, secrets=()):
    """The shell command line for one note."""
    return substitute(template, values_of(note, secrets))


def argv_for(line):
    """How the command line is run: by the shell, as repmgr's system() does."""
    return [SHELL, "-c", line]


def report(note, outcome, secrets=()):
    """A one-line report of a failed or hung run, or None when it succeeded."""
    status, detail = outcome
    if status == "ok":
        return None
    what = 'event notification command for event "%s" of node %s' % (note.event, note.node_id)
    tail = conninfo_util.mask_text((detail or "").strip()[-OUTPUT_LIMIT:], secrets)
    if status == "timeout":
        return "%s did not finish within %s seconds and was killed; nothing else is affected" % (what, tail)
    if status == "error":
        return "%s could not be started: %s" % (what, tail)
    return "%s failed (%s)%s" % (what, status, (": " + tail) if tail else "")


# -- running it ------------------------------------------------------------------------------------

def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def run(line, timeout=DEFAULT_TIMEOUT):
    """Run one command line; ("ok", None), ("exit status N", output), ("timeout", seconds) or ("error", why).

    In a session of its own, so that on timeout the shell and everything it started are killed;
    its output is collected (a module's stdout is its result and must stay clean).
    """
    try:
        proc = subprocess.Popen(argv_for(line), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,  # pylint: disable=consider-using-with
                                stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as error:
        return "error", str(error)
    try:
        output, _unused = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        proc.communicate()
        return "timeout", str(timeout)
    if proc.returncode != 0:
        return "exit status %s" % proc.returncode, output.decode("utf-8", "replace")
    return "ok", None


async def run_async(line, timeout=DEFAULT_TIMEOUT):
    """run() for an asyncio loop (the monitor): the same command line, outcome and kill."""
    import asyncio  # pylint: disable=import-outside-toplevel

    argv = argv_for(line)
    try:
        proc = await asyncio.create_subprocess_exec(*argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                                    stderr=subprocess.STDOUT, start_new_session=True)
    except OSError as error:
        return "error", str(error)
    try:
        output, _unused = await asyncio.wait_for(proc.communicate(), timeout)
    except asyncio.TimeoutError:
        _kill_group(proc)
        await proc.wait()
        return "timeout", str(timeout)
    except asyncio.CancelledError:
        _kill_group(proc)
        raise
    if proc.returncode != 0:
        return "exit status %s" % proc.returncode, (output or b"").decode("utf-8", "replace")
    return "ok", None


# -- the modules' side -------------------------------------------------------------------------------

class Recorder:
    """The events one module run wrote, to notify once their rows are committed."""

    def __init__(self, command, events=None, secrets=(), timeout=DEFAULT_TIMEOUT):
        self.command = command
        self.events = chosen_events(events)
        self.secrets = tuple(s for s in secrets if s)
        self.timeout = timeout
        self.notes = []  # (note, committed when written)

    def wants(self, event):
        return wanted(event, self.events)

    def add(self, node_id, event, successful, details, stamp, node_name=None, conninfo=None, committed=False):
        self.notes.append((Note(node_id=node_id, event=event, successful=bool(successful),
                                timestamp=timestamp_text(stamp), details=details, node_name=node_name,
                                conninfo=conninfo, related_node_id=related_node_id(event, details)), committed))

    def due(self, failed):
        """The notes whose rows are committed: all of a run that succeeded (its transactions all ended
        in a commit); of a failed run, the rows written outside a transaction and the unsuccessful
        events (repmgr's failure rows, committed before the failure is reported)."""
        if not failed:
            return [note for note, _committed in self.notes]
        return [note for note, committed in self.notes if committed or not note.successful]

    def deliver(self, failed=False, runner=None):
        """Run the command for each due note, in order; the reports of those that failed."""
        runner = runner or run
        reports = []
        for note in self.due(failed):
            outcome = runner(command_line(self.command, note, self.secrets), self.timeout)
            message = report(note, outcome, self.secrets)
            if message:
                reports.append(message)
        self.notes = []
        return reports


_ACTIVE = []  # the Recorder of the module run in progress (a module process runs one)


def recorder_from_params(params, secrets=()):
    """The run's Recorder, or None when no event_notification_command is set."""
    command = command_from(params.get("event_notification_command"))
    chosen_events(params.get("event_notifications"))  # refused before anything runs, also without a command
    if not command:
        return None
    return Recorder(command, params.get("event_notifications"), secrets)


def install(recorder):
    """Make `recorder` the one metadata.write_event() reports to (None: none)."""
    del _ACTIVE[:]
    if recorder is not None:
        _ACTIVE.append(recorder)


def active():
    """The Recorder write_event() reports to, or None."""
    return _ACTIVE[0] if _ACTIVE else None


# -- the monitor's side ------------------------------------------------------------------------------

def note_from_row(item):
    """The Note of one row the monitor committed (a dict of monitor.committed_notes(); `when` in epoch seconds)."""
    return Note(node_id=item["node_id"], event=item["event"], successful=item["successful"],
                timestamp=timestamp_text(item["when"]), details=item["details"], node_name=item["node_name"],
                conninfo=item["conninfo"], related_node_id=related_node_id(item["event"], item["details"]))


async def deliver_async(command, note, secrets=(), timeout=DEFAULT_TIMEOUT):
    """Run the command for one note (run_async); the report of a failed or hung run, or None."""
    return report(note, await run_async(command_line(command, note, secrets), timeout), secrets)


class NotificationQueue:
    """Jobs (coroutines: notification commands, webhook posts) run in the background, one at a time, in order.

    A job that raises is reported through `report_error(option, message)` (a coroutine function) and
    the next one runs. At most `limit` wait; more are dropped, so that a dead receiver cannot
    grow memory forever. The worker starts with the first job, in the running event loop.
    """

    def __init__(self, report_error, limit=QUEUE_LIMIT):
        self.report_error = report_error
        self.limit = limit
        self.jobs = None
        self.worker = None
        self.busy = False

    def add(self, job):
        import asyncio  # pylint: disable=import-outside-toplevel

        if self.jobs is None:
            self.jobs = asyncio.Queue()
            self.worker = asyncio.ensure_future(self.work())
        if self.jobs.qsize() >= self.limit:
            job.close()
            return
        self.jobs.put_nowait(job)

    async def work(self):
        import asyncio  # pylint: disable=import-outside-toplevel

        while True:
            job = await self.jobs.get()
            self.busy = True
            try:
                await job
            except asyncio.CancelledError:
                raise
            except Exception as error:  # pylint: disable=broad-except
                await self.report_error("side job", "%s: %s" % (type(error).__name__, error))
            finally:
                self.busy = False

    async def stop(self, grace=QUEUE_GRACE):
        """Let the last jobs (repmgrd_shutdown's notification) run for up to `grace` seconds, then stop."""
        import asyncio  # pylint: disable=import-outside-toplevel

        if self.worker is None:
            return
        deadline = time.monotonic() + grace
        while (self.busy or not self.jobs.empty()) and time.monotonic() < deadline:
            try:
                await asyncio.sleep(0.05)
            except asyncio.CancelledError:
                break
        self.worker.cancel()
        while not self.jobs.empty():
            self.jobs.get_nowait().close()
