# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr node service / node status --is-shutdown-cleanly: start or stop a node, and say how it stopped.

A switchover needs to know that the old primary stopped cleanly and where its shutdown
checkpoint is: the new primary must have received WAL up to that point before it is promoted,
or transactions committed on the old primary would be lost.
"""

from __future__ import annotations

import os
import signal

from ansible_collections.pgha.repmgr.plugins.module_utils import datadir, waiting
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, PreconditionFailed
from ansible_collections.pgha.repmgr.plugins.module_utils.records import lsn_from_text

STATES = ("started", "stopped", "restarted", "status", "fenced")
# A server that has not stopped this long after an immediate stop is hung (SIGSTOP, a frozen
# disk): its processes are killed.
FENCE_STOP_TIMEOUT = 5
KILL_WAIT = 10
STOP_MODES = ("smart", "fast", "immediate")


def validate(params):
    datadir.require_absolute_path(params.get("data_directory"))
    if params["state"] not in STATES:
        raise InvalidOption("state", "must be one of %s (got %r)" % (", ".join(STATES), params["state"]))
    if params["mode"] not in STOP_MODES:
        raise InvalidOption("mode", "must be one of %s (got %r)" % (", ".join(STOP_MODES), params["mode"]))
    if params["timeout"] < 1:
        raise InvalidOption("timeout", "must be at least 1 second (got %s)" % params["timeout"])


def describe_stop(data):
    """What pg_controldata says about a stopped data directory, for the module result.

    wal_end is the furthest WAL position the directory is known to hold: its last checkpoint,
    or (a standby) its minimum recovery point when that is further.
    """
    positions = [data.get(key) for key in ("Latest checkpoint location", "Minimum recovery ending location")
                 if data.get(key) and data.get(key) != "0/0"]
    wal_end = max(positions, key=lsn_from_text) if positions else None
    timeline = data.get("Latest checkpoint's TimeLineID")
    min_timeline = data.get("Min recovery ending loc's timeline")
    return dict(
        cluster_state=data.get("Database cluster state"),
        last_checkpoint_lsn=data.get("Latest checkpoint location"),
        timeline=max(int(timeline or 0), int(min_timeline or 0)) or None,
        wal_end=wal_end,
        shut_down_cleanly=data.get("Database cluster state") in datadir.CLEAN_SHUTDOWN_STATES,
    )


def pg_ctl(bindir, *args):
    return [os.path.join(bindir, "pg_ctl")] + list(args)


def run_checked(run_command, argv, what, timeout):
    """A pg_ctl (or the user's) command, bounded a little beyond its own -t."""
    return datadir.run_pg(run_command, argv, what, timeout + 30)[1]


def children_of(pid, proc="/proc"):
    """PIDs whose parent is `pid` (the postmaster's backends and auxiliary processes)."""
    found = []
    for entry in os.listdir(proc):
        if not entry.isdigit():
            continue
        try:
            with open(os.path.join(proc, entry, "stat")) as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and fields[1] == str(pid):
            found.append(int(entry))
    return found


def kill_server(pid, wait=KILL_WAIT):
    """SIGKILL a postmaster and its children (a stopped process dies of SIGKILL too); wait until all are gone."""
    pids = [pid] + children_of(pid)
    for target in pids:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass
    alive, _seconds, gone = waiting.poll(lambda: [p for p in pids if datadir.pid_alive(p)], lambda left: not left,
                                         wait, interval=0.05)
    if not gone:
        raise PreconditionFailed("processes %s are still alive %d s after SIGKILL" % (
            ", ".join(str(p) for p in alive), wait))


def fence(params, run_command, check_mode=False):
    """Make sure the server of `data_directory` accepts no write: stopped, and comes back only as a standby.

    An immediate stop first; a server still running FENCE_STOP_TIMEOUT seconds later is hung,
    and its postmaster and children are killed (by the PID in postmaster.pid, never by name).
    Then standby.signal: should anyone start it again, it comes up in recovery, read-only,
    until it is rejoined (pgha.repmgr.rejoin) or cloned again.
    """
    validate(params)
    datadir.require_not_root()
    path = params["data_directory"]
    state = datadir.inspect(path)
    if not state.is_pgdata:
        raise InvalidOption("data_directory", "is not a PostgreSQL data directory (%s)" % path)
    with open(os.path.join(path, "PG_VERSION")) as handle:
        bindir = datadir.bindir_for(handle.read().strip(), params.get("pg_bindir"))
    pid = datadir.running_pid(state)
    result = dict(changed=bool(pid) or not state.standby_signal, was_running=pid is not None, running=pid is not None,
                  killed=False, standby_signal_written=not state.standby_signal)
    if check_mode or not result["changed"]:
        return result
    if pid:
        argv = params.get("stop_command") or pg_ctl(bindir, "stop", "-D", path, "-m", "immediate", "-w",
                                                    "-t", str(min(params["timeout"], FENCE_STOP_TIMEOUT)))
        datadir.run_pg(run_command, argv, "the immediate stop", FENCE_STOP_TIMEOUT + 10, check=False)
        if datadir.pid_alive(pid):
            kill_server(pid)
            result["killed"] = True
        result["running"] = False
    if not state.standby_signal:
        with open(os.path.join(path, datadir.STANDBY_SIGNAL), "w"):
            pass
        os.chmod(os.path.join(path, datadir.STANDBY_SIGNAL), 0o600)
    return result


def manage(params, run_command, checkpoint=None, check_mode=False):
    """Bring the node to `state`; `checkpoint` is a callable that runs CHECKPOINT before a stop."""
    validate(params)
    if params["state"] == "fenced":
        return fence(params, run_command, check_mode)
    datadir.require_not_root()
    path = params["data_directory"]
    state = datadir.inspect(path)
    if not state.is_pgdata:
        raise InvalidOption("data_directory", "is not a PostgreSQL data directory (%s)" % path)
    with open(os.path.join(path, "PG_VERSION")) as handle:
        bindir = datadir.bindir_for(handle.read().strip(), params.get("pg_bindir"))
    running = datadir.running_pid(state) is not None
    wanted = params["state"]
    changed = (wanted == "started" and not running) or (wanted == "stopped" and running) or wanted == "restarted"
    result = dict(changed=changed, was_running=running, running=running, standby_signal=state.standby_signal)
    if check_mode or wanted == "status":
        if not running:
            result.update(describe_stop(datadir.controldata(bindir, path, run_command)))
        return result

    timeout = str(params["timeout"])
    if wanted in ("stopped", "restarted") and running:
        if params.get("checkpoint") and checkpoint is not None:
            checkpoint()  # a fast shutdown is quicker after it, and repmgr does it too
        stop = pg_ctl(bindir, "stop", "-D", path, "-m", params["mode"], "-w", "-t", timeout)
        argv = params.get("stop_command") or stop
        run_checked(run_command, argv, "stopping the server", params["timeout"])
        running = False
        result.update(describe_stop(datadir.controldata(bindir, path, run_command)))
    if wanted in ("started", "restarted") and not running:
        if not state.standby_signal and not params.get("allow_primary"):
            raise PreconditionFailed(
                "%s has no standby.signal: it would start as a primary. A failed former primary started beside the "
                "live one makes two (rejoin it instead: playbook pgha.repmgr.rejoin); set allow_primary: true only "
                "when it is the cluster's one primary" % path)
        start = pg_ctl(bindir, "start", "-D", path, "-w", "-t", timeout)
        if params.get("log_file"):
            start += ["-l", params["log_file"]]
        argv = params.get("start_command") or start
        run_checked(run_command, argv, "starting the server", params["timeout"])
        running = True
    if wanted == "stopped" and not result.get("cluster_state"):
        result.update(describe_stop(datadir.controldata(bindir, path, run_command)))
    result["running"] = running
    return result


def start_server(bindir, path, params, run_command):
    """Start the server of `path` (pg_ctl start -w, or the user's start_command) and wait until it is up."""
    if params.get("start_command"):
        argv = list(params["start_command"])
    else:
        argv = [os.path.join(bindir, "pg_ctl"), "start", "-D", path, "-w", "-t", str(params.get("start_timeout", 60))]
        if params.get("log_file"):
            argv += ["-l", params["log_file"]]
    run_checked(run_command, argv, "starting the node", params.get("start_timeout", 60))
