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
"""

from __future__ import annotations

import datetime
import os
import re
import shlex
import signal
import subprocess
from dataclasses import dataclass
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption

DEFAULT_TIMEOUT = 10  # seconds a notification command may take; then its process group is killed
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

def validate(command, events):
    """Checks the argument spec cannot express (raises InvalidOption)."""
    if command is not None and not isinstance(command, str):
        raise InvalidOption("event_notification_command", "must be a string (got %r)" % (command,))
    if events is None:
        return
    if not isinstance(events, (list, tuple)) or not all(isinstance(e, str) and e.strip() for e in events):
        raise InvalidOption("event_notifications", "must be a list of event names (got %r)" % (events,))


def event_filter(events):
    """event_notifications as a set; a comma-separated string (repmgr.conf's form) works too."""
    if isinstance(events, str):
        events = events.split(",")
    return frozenset(e.strip() for e in (events or ()) if e and e.strip())


def wanted(event, events):
    """repmgr: no event_notifications means every event; else only the events listed."""
    chosen = event_filter(events)
    return not chosen or event in chosen


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
        self.events = event_filter(events)
        self.secrets = tuple(s for s in secrets if s)
        self.timeout = timeout
        self.notes = []  # (note, committed when written)

    def wants(self, event):
        return not self.events or event in self.events

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
    command = (params.get("event_notification_command") or "").strip()
    validate(command, params.get("event_notifications"))
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
