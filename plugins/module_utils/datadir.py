# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A PostgreSQL data directory on the local host: inspect it, write its standby configuration.

Commands (pg_controldata, pg_basebackup) run through a `run_command(argv, environ_update=...)`
callable, in production AnsibleModule.run_command, so their output reaches the failure message.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import CommandFailed, InvalidOption, PreconditionFailed

AUTO_CONF = "postgresql.auto.conf"
# pg_controldata "Database cluster state" values of a clean shutdown (primary, standby).
CLEAN_SHUTDOWN_STATES = ("shut down", "shut down in recovery")
# pg_controldata's labels and pg_rewind's messages are translated (a German host prints
# "Datenbanksystemidentifikation"): every PostgreSQL command whose output we read runs in C.
C_LOCALE = {"LC_ALL": "C", "LANG": "C", "LC_MESSAGES": "C"}
STANDBY_SIGNAL = "standby.signal"
# Settings this collection owns in postgresql.auto.conf (repmgr rewrites the same ones).
STANDBY_SETTINGS = ("primary_conninfo", "primary_slot_name")
_SETTING_LINE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_.]*)\s*=?")


@dataclass(frozen=True)
class DataDirectoryState:
    path: str
    exists: bool
    empty: bool
    is_pgdata: bool  # has PG_VERSION
    standby_signal: bool
    postmaster_pid: Optional[int]  # from postmaster.pid, when the file exists
    system_identifier: Optional[int] = None
    cluster_state: Optional[str] = None  # pg_controldata "Database cluster state"


def bindir_for(major_version, configured=None, which=None):
    """The PostgreSQL bin directory: the one configured, Debian's for the major version, or PATH."""
    if configured:
        if not os.path.isfile(os.path.join(configured, "pg_ctl")):
            raise InvalidOption("pg_bindir", "has no pg_ctl (got %s)" % configured)
        return configured
    debian = "/usr/lib/postgresql/%s/bin" % major_version
    if os.path.isfile(os.path.join(debian, "pg_ctl")):
        return debian
    found = which("pg_basebackup") if which else None
    if found:
        return os.path.dirname(found)
    raise InvalidOption("pg_bindir", "is not set and no PostgreSQL %s binaries were found (tried %s and PATH)"
                        % (major_version, debian))


def read_postmaster_pid(path):
    try:
        with open(os.path.join(path, "postmaster.pid")) as handle:
            return int(handle.readline().strip())
    except (OSError, ValueError):
        return None


def pid_alive(pid):
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def run_pg(run_command, argv, environ=None):
    """Run a PostgreSQL command in the C locale (its output is parsed); (rc, stdout, stderr)."""
    return run_command(argv, environ_update=dict(C_LOCALE, **(environ or {})))


def controldata(bindir, path, run_command):
    """pg_controldata as a dict of its 'Key: value' lines."""
    rc, out, err = run_pg(run_command, [os.path.join(bindir, "pg_controldata"), "-D", path])
    if rc != 0:
        raise CommandFailed("pg_controldata failed on %s (rc %s): %s" % (path, rc, (err or out).strip()),
                            rc=rc, stdout=out, stderr=err)
    result = {}
    for line in out.splitlines():
        key, sep, value = line.partition(":")
        if sep:
            result[key.strip()] = value.strip()
    return result


def inspect(path, bindir=None, run_command=None):
    """What is in `path` now (reads pg_controldata when it is a data directory and bindir is given)."""
    exists = os.path.isdir(path)
    if os.path.exists(path) and not exists:
        raise InvalidOption("data_directory", "exists but is not a directory (%s)" % path)
    entries = os.listdir(path) if exists else []
    is_pgdata = "PG_VERSION" in entries
    system_identifier = state = None
    if is_pgdata and bindir and run_command:
        data = controldata(bindir, path, run_command)
        system_identifier = int(data.get("Database system identifier", "0")) or None
        state = data.get("Database cluster state")
    return DataDirectoryState(
        path=path,
        exists=exists,
        empty=not entries,
        is_pgdata=is_pgdata,
        standby_signal=STANDBY_SIGNAL in entries,
        postmaster_pid=read_postmaster_pid(path) if is_pgdata else None,
        system_identifier=system_identifier,
        cluster_state=state,
    )


def running_pid(state):
    """The postmaster PID when a server is running from this directory, else None."""
    return state.postmaster_pid if pid_alive(state.postmaster_pid) else None


def clear_directory(path):
    """Remove everything inside `path` (not path itself: it may be a mount point)."""
    import shutil

    for entry in os.listdir(path):
        full = os.path.join(path, entry)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full)
        else:
            os.unlink(full)


def quote_conf_value(value):
    """A value for postgresql.conf: single-quoted, quotes doubled, as ALTER SYSTEM writes it."""
    return "'" + str(value).replace("\\", "\\\\").replace("'", "''") + "'"


def standby_conf_lines(existing_lines, settings):
    """postgresql.auto.conf with our settings replaced (pure).

    Lines setting any of STANDBY_SETTINGS are removed; `settings` ({name: value}, value None
    to leave it out) are appended in a stable order.
    """
    kept = []
    for line in existing_lines:
        match = _SETTING_LINE.match(line)
        if match and match.group(1).lower() in STANDBY_SETTINGS:
            continue
        kept.append(line.rstrip("\n"))
    for name in STANDBY_SETTINGS:
        if settings.get(name) is not None:
            kept.append("%s = %s" % (name, quote_conf_value(settings[name])))
    return kept


def read_auto_conf(path):
    try:
        with open(os.path.join(path, AUTO_CONF)) as handle:
            return handle.read().splitlines()
    except FileNotFoundError:
        return []


def write_standby_config(path, settings):
    """Rewrite postgresql.auto.conf atomically and create standby.signal; True when anything changed."""
    before = read_auto_conf(path)
    after = standby_conf_lines(before, settings)
    changed = False
    if after != before:
        target = os.path.join(path, AUTO_CONF)
        temporary = target + ".pgha.tmp"
        with open(temporary, "w") as handle:
            handle.write("\n".join(after) + "\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, target)
        changed = True
    signal = os.path.join(path, STANDBY_SIGNAL)
    if not os.path.exists(signal):
        with open(signal, "w"):
            pass
        os.chmod(signal, 0o600)
        changed = True
    return changed


def require_not_root(geteuid=os.geteuid):
    if geteuid() == 0:
        raise PreconditionFailed("this module must run as the PostgreSQL OS user, not root (PostgreSQL refuses to "
                                 "run on files owned by root): use become: true and become_user: postgres")
