# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr standby clone: pg_basebackup from the upstream, then the standby configuration.

Order matters for "nothing half-written": checks first (no I/O that changes anything),
then the slot on the upstream (so WAL is kept from the start of the backup), then
pg_basebackup; if it fails, what we created is removed again (the data directory's content
and a slot we made). The standby_clone event is written last, on the primary.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils import connection, datadir, metadata, replication
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    CommandFailed,
    InvalidOption,
    PreconditionFailed,
    require_node_id,
)
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome
from ansible_collections.pgha.repmgr.plugins.module_utils.records import slot_name_for

CLONE_EVENT = 'cloned from host "%s", port %s; backup method: pg_basebackup; --force: %s'


@dataclass
class ClonePlan:
    action: Optional[str]  # 'clone', or None when the directory already is a standby of this system
    reason: str
    clear_first: bool = False
    create_slot: bool = False


def validate(params):
    datadir.require_absolute_path(params.get("data_directory"))
    datadir.require_not_root()
    require_node_id(params["node_id"])
    if not params.get("node_name"):
        raise InvalidOption("node_name", "must be set: it becomes application_name in primary_conninfo")
    if params.get("upstream_conninfo"):
        parsed = conninfo_util.parse(params["upstream_conninfo"], "upstream_conninfo")
        if "password" in parsed:
            raise InvalidOption("upstream_conninfo", "must not contain a password: it is written into "
                                                     "postgresql.auto.conf; use passfile or .pgpass")


def plan_clone(state, upstream_system_identifier, force, running_pid):
    """Decide from the directory's state (pure). Raises when the directory must not be touched."""
    if not state.exists or state.empty:
        return ClonePlan("clone", "data directory is empty")
    if state.is_pgdata and state.system_identifier == upstream_system_identifier and state.standby_signal:
        return ClonePlan(None, "data directory already holds a standby of this cluster (system identifier %s)"
                         % upstream_system_identifier)
    if running_pid:
        raise PreconditionFailed("a PostgreSQL server (PID %d) is running from %s; stop it before cloning into it"
                                 % (running_pid, state.path))
    if not force:
        if state.is_pgdata and state.system_identifier != upstream_system_identifier:
            what = "a data directory of another cluster (system identifier %s, upstream has %s)" % (
                state.system_identifier, upstream_system_identifier)
        elif state.is_pgdata:
            what = "a data directory of this cluster that is not a standby (no standby.signal)"
        else:
            what = "files that are not a PostgreSQL data directory"
        raise PreconditionFailed("data_directory %s is not empty: it holds %s; set force: true to replace it"
                                 % (state.path, what))
    return ClonePlan("clone", "force: replacing the directory's content", clear_first=True)


def basebackup_argv(bindir, data_directory, source_conninfo, slot_name, extra_options):
    argv = [os.path.join(bindir, "pg_basebackup"), "-D", data_directory, "-d", source_conninfo,
            "-X", "stream", "-c", "fast", "--no-password"]
    if slot_name:
        argv += ["-S", slot_name]
    return argv + list(extra_options or [])


def source_conninfo(upstream_conninfo, replication_user, node_name, connect_timeout=10):
    """What pg_basebackup connects with: the upstream, as the replication user, named like the standby.

    With a connect timeout: an upstream that does not answer must not hang the clone.
    """
    params = conninfo_util.parse(upstream_conninfo, "upstream_conninfo")
    for key in ("dbname", "password", "replication"):
        params.pop(key, None)
    params["user"] = replication_user
    params["application_name"] = node_name
    params.setdefault("connect_timeout", str(connect_timeout))
    return conninfo_util.build("", **params)


def clone(params, upstream_conn, upstream_conninfo, run_command, check_mode, password=None):
    """Run the clone; returns a dict for the module result."""
    facts = replication.server_facts(upstream_conn)
    major = facts["server_version_num"] // 10000
    bindir = datadir.bindir_for(major, params.get("pg_bindir"), which=params.get("_which"))
    path = params["data_directory"]
    state = datadir.inspect(path, bindir, run_command)
    plan = plan_clone(state, facts["system_identifier"], params["force"], datadir.running_pid(state))
    slot_name = (params.get("slot_name") or slot_name_for(params["node_id"])) if params["use_slot"] else None
    result = Outcome(changed=plan.action is not None, msg=plan.reason, reason=plan.reason, data_directory=path,
                     slot_name=slot_name, system_identifier=str(facts["system_identifier"]), pg_bindir=bindir,
                     event_written=False)
    if plan.action is None or check_mode:
        return result

    repl_user = params.get("replication_user") or conninfo_util.parse(upstream_conninfo).get("user") or "repmgr"
    slot_created = False
    if slot_name:
        slot_created = replication.ensure_slot(upstream_conn, slot_name)
    environ = {"PGPASSWORD": password} if password else {}
    if params.get("passfile"):
        environ["PGPASSFILE"] = params["passfile"]
    argv = basebackup_argv(bindir, path, source_conninfo(upstream_conninfo, repl_user, params["node_name"],
                                                         params.get("connect_timeout") or 10),
                           slot_name, params.get("pg_basebackup_options"))
    if plan.clear_first:
        datadir.clear_directory(path)
    created_dir = not os.path.isdir(path)
    try:
        datadir.run_pg(run_command, argv, "pg_basebackup", datadir.TIMEOUT_CLONE, environ)
    except CommandFailed as error:
        left_behind = cleanup_failed_clone(path, created_dir, upstream_conn, slot_name if slot_created else None)
        if left_behind:
            raise CommandFailed("%s; %s" % (error, left_behind), rc=error.rc, stdout=error.stdout, stderr=error.stderr)
        raise
    os.chmod(path, 0o700)
    settings = dict(
        primary_conninfo=conninfo_util.replication_conninfo(
            upstream_conninfo, params["node_name"], user=repl_user, passfile=params.get("passfile")),
        primary_slot_name=slot_name,
    )
    datadir.write_standby_config(path, settings)
    result["primary_conninfo"] = conninfo_util.mask(settings["primary_conninfo"])
    result["event_written"] = write_clone_event(upstream_conn, params, upstream_conninfo)
    return result


def cleanup_failed_clone(path, created_dir, upstream_conn, slot_we_created):
    """Leave no half-cloned directory and no slot pinning WAL behind; returns what could not be cleaned, or None.

    The upstream may be the reason the copy failed (stopped mid-copy): then the slot cannot be
    dropped now, and the DBA is told to drop it, since it would hold WAL on the upstream forever.
    """
    if os.path.isdir(path):
        datadir.clear_directory(path)
        if created_dir:
            os.rmdir(path)
    if not slot_we_created:
        return None
    try:
        replication.drop_slot_if_inactive(upstream_conn, slot_we_created)
    except Exception as error:  # pylint: disable=broad-except  # the clean-up must not hide the copy's failure
        return ("the replication slot %s made for the clone could not be dropped on the upstream (%s): drop it there "
                "with pg_drop_replication_slot('%s') once it is back, or it keeps WAL forever"
                % (slot_we_created, str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__,
                   slot_we_created))
    return None


def write_clone_event(upstream_conn, params, upstream_conninfo):
    """standby_clone on the primary, as repmgr writes it; False when there is no metadata to write to.

    repmgr writes events only through a primary connection.
    """
    if not metadata.has_metadata(upstream_conn) or replication.in_recovery(upstream_conn):
        return False  # events live on the primary only; a cascaded clone's event is left out
    host, port = conninfo_util.host_and_port(upstream_conninfo, "upstream_conninfo")
    details = CLONE_EVENT % (host, port, "Y" if params["force"] else "N")
    with upstream_conn.cursor() as cur:
        metadata.write_event(cur, params["node_id"], "standby_clone", True, details)
    return True


def upstream_conninfo_from(params):
    """The streaming conninfo: given, or the login target without password and database."""
    if params.get("upstream_conninfo"):
        return params["upstream_conninfo"]
    full = conninfo_util.parse(connection.login_conninfo(params))
    for key in ("password", "dbname", "options", "application_name"):
        full.pop(key, None)
    return conninfo_util.build("", **full)
