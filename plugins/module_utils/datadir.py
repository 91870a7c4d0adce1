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
import shutil
import tempfile
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


def require_absolute_path(path, option="data_directory"):
    """A data directory is given as an absolute path (relative ones depend on where Ansible runs)."""
    if not path or not os.path.isabs(path):
        raise InvalidOption(option, "must be an absolute path (got %r)" % (path,))
    return path


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


# How long each PostgreSQL command may run before it is killed (coreutils timeout). Generous:
# they are the outer bound; the commands' own options (pg_ctl -t, connect_timeout) act first.
TIMEOUT_QUICK = 60  # pg_controldata, pg_ctl promote / reload
TIMEOUT_REWIND = 3600  # pg_rewind: copies what changed since the fork
TIMEOUT_CLONE = 86400  # pg_basebackup: the whole data directory
TIMED_OUT = 124  # timeout's exit code


def run_pg(run_command, argv, what, timeout, environ=None, check=True):
    """Run a PostgreSQL command: argv, in the C locale (its output is parsed), bounded by `timeout` seconds.

    The one way the core runs pg_ctl, pg_basebackup, pg_rewind and pg_controldata. With
    `check`, a failure raises CommandFailed naming `what`, with the command's own output;
    returns (rc, stdout, stderr).
    """
    bounded = ["timeout", "--kill-after=10", str(int(timeout))] + list(argv)
    rc, out, err = run_command(bounded, environ_update=dict(C_LOCALE, **(environ or {})))
    if check and rc != 0:
        reason = ("did not finish within %d s and was stopped" % timeout if rc == TIMED_OUT
                  else "failed (rc %s): %s" % (rc, (err or out).strip()))
        raise CommandFailed("%s %s" % (what, reason), rc=rc, stdout=out, stderr=err, cmd=list(argv))
    return rc, out, err


def controldata(bindir, path, run_command):
    """pg_controldata as a dict of its 'Key: value' lines."""
    _rc, out, _err = run_pg(run_command, [os.path.join(bindir, "pg_controldata"), "-D", path],
                            "pg_controldata on %s" % path, TIMEOUT_QUICK)
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


# Files that live in the data directory on initdb layouts and must survive pg_rewind, which
# copies the source's: the node's own settings (listen address, ...) and access rules.
DEFAULT_PRESERVED_FILES = ("postgresql.conf", "pg_hba.conf", "pg_ident.conf", "pgha.conf")


def rewind(bindir, path, source_conninfo, preserve_files, environ, run_command, clean=True):
    """pg_rewind from the primary, keeping the node's own configuration files. True if it rewound.

    An unclean shutdown is recovered by pg_rewind itself (PostgreSQL 13+) with a single-user
    server, which refuses standby mode: standby.signal is set aside meanwhile, as repmgr does
    (write_standby_config creates it again).
    """
    preserved = preserve_files or list(DEFAULT_PRESERVED_FILES)
    keep = tempfile.mkdtemp(prefix="pgha-rejoin-")
    signal = os.path.join(path, STANDBY_SIGNAL)
    set_aside = signal + ".pgha-rewind"
    if not clean and os.path.exists(signal):
        os.rename(signal, set_aside)
    try:
        for name in preserved:
            if os.path.isfile(os.path.join(path, name)):
                shutil.copy2(os.path.join(path, name), os.path.join(keep, name))
        argv = [os.path.join(bindir, "pg_rewind"), "--target-pgdata=%s" % path, "--source-server=%s" % source_conninfo]
        _rc, out, err = run_pg(run_command, argv, "pg_rewind", TIMEOUT_REWIND, environ)
        for name in os.listdir(keep):
            shutil.copy2(os.path.join(keep, name), os.path.join(path, name))
    finally:
        shutil.rmtree(keep, ignore_errors=True)
        if os.path.exists(set_aside):
            os.rename(set_aside, signal)
    # Slots copied from the primary are not this node's (repmgr empties pg_replslot too).
    slots = os.path.join(path, "pg_replslot")
    if os.path.isdir(slots):
        for entry in os.listdir(slots):
            shutil.rmtree(os.path.join(slots, entry), ignore_errors=True)
    return "no rewind required" not in (out + err)


def require_not_root(geteuid=os.geteuid):
    if geteuid() == 0:
        raise PreconditionFailed("this module must run as the PostgreSQL OS user, not root (PostgreSQL refuses to "
                                 "run on files owned by root): use become: true and become_user: postgres")
