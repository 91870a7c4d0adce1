# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr node rejoin: bring a stopped node (a failed former primary, a diverged standby) back as a standby.

pg_rewind when asked (datadir.rewind, a no-op when the node did not diverge), or else the attach
check on pg_controldata's position; then the standby configuration, the slot on the primary,
the start (service.start_server), and the same wait, metadata and event as a follow (follow.py).
Stale slots the node kept from its time as a primary are dropped.
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster, connection, datadir, follow, metadata
from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils import replication, service, timeline
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import PreconditionFailed, Timeout
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import record_diff
from ansible_collections.pgha.repmgr.plugins.module_utils.primary import active_primary, resolve_upstream
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeType, WalPosition, describe, lsn_from_text

NODE_REJOIN_OK = "node %d is now attached to node %d"


def rewind_source(primary):
    """pg_rewind's --source-server: the primary's conninfo, named, with a connect timeout."""
    extra = {} if "connect_timeout" in conninfo_util.parse(primary.conninfo) else {"connect_timeout": 10}
    return conninfo_util.build(primary.conninfo, application_name="pgha-repmgr-rewind", **extra)


def controldata_position(data):
    """WalPosition of a stopped data directory from pg_controldata (the furthest LSN it knows of)."""
    lsns = [lsn_from_text(data.get(key)) for key in ("Latest checkpoint location", "Minimum recovery ending location")
            if data.get(key) and data.get(key) != "0/0"]
    return WalPosition(
        system_identifier=int(data["Database system identifier"]),
        timeline=int(data.get("Latest checkpoint's TimeLineID") or data.get("Min recovery ending loc's timeline")),
        lsn=max(lsns) if lsns else 0)


def rejoin(params, login_conn, ctx, run_command):
    """Bring the stopped node of `data_directory` back as a standby of the current primary."""
    follow.validate(params)
    datadir.require_not_root()
    path = datadir.require_absolute_path(params["data_directory"])
    primary_id, primary_conn = cluster.connect_primary_from(login_conn, params.get("primary_conninfo"), ctx.password,
                                                            ctx.timeout, ctx.secrets)
    with primary_conn:
        primary_facts = replication.server_facts(primary_conn)
        bindir = datadir.bindir_for(primary_facts["server_version_num"] // 10000, params.get("pg_bindir"))
        records = metadata.read_nodes(primary_conn)
        if primary_id is None:
            primary_id = getattr(active_primary(records), "node_id", None)
        me = next((r for r in records if r.node_id == params["node_id"]), None)
        if me is None:
            raise PreconditionFailed("node_id %d is not registered: register it first" % params["node_id"])
        primary = resolve_upstream(records, me.node_id, primary_node_id=primary_id)
        result = follow.follow_outcome(me, primary)

        state = datadir.inspect(path, bindir, run_command)
        if not state.is_pgdata:
            raise PreconditionFailed("%s is not a PostgreSQL data directory: clone the node instead "
                                     "(pgha.repmgr.repmgr_standby_clone)" % path)
        pid = datadir.running_pid(state)
        if pid:
            if (follow.attached_to(primary, me.node_name, ctx) == "attached" and me.type == NodeType.STANDBY.value
                    and me.upstream_node_id == primary.node_id and me.active):
                result.msg = result.reason = "node %s already streams from the primary %s" % (describe(me), describe(primary))
                return result
            raise PreconditionFailed("node %s is running (PID %s): stop it before a rejoin, or use repmgr_follow "
                                     "for a running standby" % (describe(me), pid))
        data = datadir.controldata(bindir, path, run_command)
        clean = data.get("Database cluster state") in datadir.CLEAN_SHUTDOWN_STATES
        if not params["rewind"]:
            if not clean:
                raise PreconditionFailed("node %s was not shut down cleanly (state: %s): where its WAL ends is not "
                                         "known; rejoin it with rewind: true"
                                         % (describe(me), data.get("Database cluster state")))
            local_position = controldata_position(data)
            target_pos, history = follow.target_position(primary, ctx, local_position.timeline)
            timeline.check_can_follow(me.node_name, local_position, primary.node_name, target_pos, history)

        result.changed = True
        result.diff = record_diff(me, type=NodeType.STANDBY.value, upstream_node_id=primary.node_id, active=True)
        details = NODE_REJOIN_OK % (me.node_id, primary.node_id)
        result.events = [dict(node_id=me.node_id, event="node_rejoin", details=details)]
        result.msg = result.reason = "node %s rejoins as a standby of %s" % (describe(me), describe(primary))
        if ctx.check_mode:
            return result

        environ = {"PGPASSWORD": ctx.password} if ctx.password else {}
        if params["rewind"]:
            # pg_rewind reads the source's timeline from its last checkpoint: right after a
            # promotion that still names the old one, and pg_rewind would wrongly see nothing to do.
            primary_conn.execute(replication.CHECKPOINT)
            ctx.log.add(replication.CHECKPOINT)
            result.rewound = datadir.rewind(bindir, path, rewind_source(primary), params.get("preserve_files"),
                                            environ, run_command, clean)
        settings = dict(primary_conninfo=follow.standby_conninfo(primary, me, params.get("passfile")),
                        primary_slot_name=me.slot_name)
        datadir.write_standby_config(path, settings)
        if me.slot_name:
            replication.ensure_slot(primary_conn, me.slot_name)
            ctx.log.add(replication.CREATE_SLOT)
        service.start_server(bindir, path, params, run_command)
        with follow.replication_session(primary.conninfo, ctx) as repl:
            primary_timeline = replication.identify_system(repl).timeline
        result.attach_seconds = follow.wait_attached(primary, me, params["wait_timeout"], ctx, primary_timeline)
        if result.attach_seconds is None:
            failure = ("node %d did not attach to node %d within %d seconds"
                       % (me.node_id, primary.node_id, params["wait_timeout"]))
            follow.record_follow(primary_conn, me, primary, "node_rejoin", failure, False, ctx)
            raise Timeout("%s: it was started as a standby of %s; check its log (a diverged timeline needs "
                          "rewind: true)" % (failure, describe(primary)))
        previous = next((r for r in records if r.node_id == me.upstream_node_id), None)
        result.old_slot_dropped = follow.drop_old_slot(me, previous, primary, ctx)
        result.stale_slots_dropped = drop_stale_slots_here(me, records, ctx)
        follow.record_follow(primary_conn, me, primary, "node_rejoin", details, True, ctx)
    return result


def drop_stale_slots_here(me, records, ctx):
    """Drop, on the rejoined node, the inactive slots of nodes that no longer stream from it.

    A former primary still holds the slots its standbys streamed through (repmgr drops the new
    primary's and warns about the others); unused now, they would keep WAL on it forever. Slots
    of nodes whose recorded upstream is this node are kept.
    """
    names = [r.slot_name for r in records if r.node_id != me.node_id and r.slot_name
             and r.upstream_node_id != me.node_id]
    dropped = []
    try:
        with connection.connect_node(me.conninfo, ctx) as conn:
            for name in names:
                if replication.drop_slot_if_inactive(conn, name):
                    dropped.append(name)
    except Exception:  # pylint: disable=broad-except
        pass  # a slot left behind is reported by cluster checks; the rejoin itself succeeded
    return dropped
