# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr standby follow and node rejoin: one implementation of "make this node stream from X".

follow: a running standby is pointed at a new upstream (ALTER SYSTEM + reload, PostgreSQL 13+).
rejoin: a stopped node (a former primary, or a diverged standby) is rewound with pg_rewind when
needed, configured as a standby of the primary and started.

Both: the attach check first (timeline.check_can_follow), then the slot on the new upstream,
the standby settings, the wait until the node streams (fast polling, a real failure when it
does not: repmgr reports success even then), then the metadata and the event on the primary in
one transaction. The old slot on the previous upstream is dropped when it is inactive.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster, connection, datadir, metadata, probe
from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils import replication, timeline
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    CommandFailed,
    InvalidOption,
    PreconditionFailed,
    Timeout,
    require_node_id,
)
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeType, describe, furthest_lsn, lsn_from_text

STANDBY_FOLLOW_OK = 'standby attached to upstream node "%s" (ID: %d)'
# repmgrd's texts when it follows a new primary after a failover (repmgrd-physical.c)
REPMGRD_FAILOVER_FOLLOW = 'node "%s" (ID: %d) now following new upstream node "%s" (ID: %d)'
WITNESS_FAILOVER_FOLLOW = 'witness node "%s" (ID: %d) now following new primary node "%s" (ID: %d)'
STANDBY_FOLLOW_TIMEOUT = 'standby did not attach to upstream node "%s" (ID: %d) after %d seconds'
NODE_REJOIN_OK = "node %d is now attached to node %d"
POLL_INTERVAL = 0.1
# Files that live in the data directory on initdb layouts and must survive pg_rewind, which
# copies the source's: the node's own settings (listen address, ...) and access rules.
DEFAULT_PRESERVED_FILES = ("postgresql.conf", "pg_hba.conf", "pg_ident.conf", "pgha.conf")


@dataclass
class FollowResult:
    changed: bool
    node_id: int
    upstream_node_id: Optional[int] = None
    upstream_node_name: Optional[str] = None
    reason: str = ""
    rewound: bool = False
    attach_seconds: Optional[float] = None
    old_slot_dropped: Optional[str] = None
    stale_slots_dropped: list = field(default_factory=list)
    events: list = field(default_factory=list)

    def as_dict(self):
        return dict(changed=self.changed, node_id=self.node_id, upstream_node_id=self.upstream_node_id,
                    upstream_node_name=self.upstream_node_name, reason=self.reason, rewound=self.rewound,
                    attach_seconds=self.attach_seconds, old_slot_dropped=self.old_slot_dropped,
                    stale_slots_dropped=self.stale_slots_dropped, events=self.events)


def validate(params):
    require_node_id(params.get("node_id"))
    upstream = params.get("upstream_node_id")
    if upstream is not None:
        require_node_id(upstream, "upstream_node_id")
    if upstream is not None and upstream == params["node_id"]:
        raise InvalidOption("upstream_node_id", "must not be the node itself (%d): a node cannot follow itself"
                            % upstream)
    if params.get("wait_timeout", 1) < 1:
        raise InvalidOption("wait_timeout", "must be at least 1 second (got %s)" % params["wait_timeout"])
    failed = params.get("failover_of")
    if failed is not None:
        require_node_id(failed, "failover_of")
        if upstream is None and params.get("upstream_node_name") is None:
            raise InvalidOption("failover_of", "needs upstream_node_id or upstream_node_name (the new primary)")
        if failed in (params["node_id"], upstream):
            raise InvalidOption("failover_of", "names the node itself or its new upstream (%d)" % failed)


def choose_target(records, me, primary_id, upstream_node_id=None, upstream_node_name=None):
    """The record to follow: the one asked for, else the current primary (pure)."""
    if upstream_node_id is None and upstream_node_name is None:
        target = next((r for r in records if r.node_id == primary_id), None)
        if target is None:
            raise PreconditionFailed("no current primary record to follow (primary node ID %s)" % primary_id)
    else:
        target = next((r for r in records if (upstream_node_id is not None and r.node_id == upstream_node_id)
                       or (upstream_node_id is None and r.node_name == upstream_node_name)), None)
        if target is None:
            option = "upstream_node_id" if upstream_node_id is not None else "upstream_node_name"
            value = upstream_node_id if upstream_node_id is not None else '"%s"' % upstream_node_name
            raise InvalidOption(option, "names node %s, which is not registered (known: %s)"
                                % (value, ", ".join(describe(r) for r in records)))
    if target.node_id == me.node_id:
        raise InvalidOption("upstream_node_name", "names the node itself (%s): a node cannot follow itself"
                            % me.node_name)
    if target.type == NodeType.WITNESS.value:
        raise InvalidOption("upstream_node_id", "names witness %s: a witness cannot be an upstream" % describe(target))
    return target


def standby_conninfo(target, me, passfile=None):
    return conninfo_util.replication_conninfo(target.conninfo, me.node_name, user=me.repluser or None,
                                              passfile=passfile)


def passfile_of(primary_conninfo_value):
    """The passfile of a node's current primary_conninfo, kept when it follows elsewhere."""
    if not primary_conninfo_value:
        return None
    try:
        return conninfo_util.parse(primary_conninfo_value).get("passfile")
    except InvalidOption:
        return None


def replication_session(conninfo, ctx):
    return connection.connect(conninfo_util.build(connection.node_conninfo(conninfo, ctx.password),
                                                  replication="database"),
                              connect_timeout=ctx.timeout, secrets=ctx.secrets)


def target_position(target, ctx, local_timeline):
    """(WalPosition, history) of the follow target, over a replication connection."""
    with replication_session(target.conninfo, ctx) as repl:
        position = replication.identify_system(repl)
        history = timeline.parse_history(replication.timeline_history(repl, position.timeline)) \
            if position.timeline > local_timeline else []
    return position, history


def attached_to(target, node_name, ctx):
    """cluster.attachment_on() with this run's password and timeout."""
    return cluster.attachment_on(target, node_name, ctx.password, ctx.timeout, ctx.secrets)


def streams_on_timeline(node, timeline_id, ctx):
    """The node's own WAL receiver streams, on `timeline_id` (seen from the standby's side)."""
    seen = probe.probe_nodes([node], ctx.password, ctx.timeout, ctx.secrets)[node.node_id]
    return bool(seen.connected and seen.wal_receiver_streaming and seen.wal_receiver_timeline == timeline_id)


def wait_attached(target, node, timeout, ctx, target_timeline):
    """Seconds until `node` streams from `target`; None when it did not within `timeout`.

    Both sides must agree: the target's walsender for the node is streaming, and the node's WAL
    receiver streams the target's timeline. A diverged node can briefly show a streaming
    walsender while it replays its old timeline up to the switch point, then fail.
    """
    started = time.monotonic()
    while True:
        if (attached_to(target, node.node_name, ctx) == "attached"
                and streams_on_timeline(node, target_timeline, ctx)):
            return round(time.monotonic() - started, 3)
        if time.monotonic() - started >= timeout:
            return None
        time.sleep(POLL_INTERVAL)


def drop_old_slot(me, previous, target, ctx):
    """Drop the node's slot on its previous upstream when that is another, reachable node."""
    if not me.slot_name or previous is None or previous.node_id == target.node_id:
        return None
    try:
        with connection.connect(connection.node_conninfo(previous.conninfo, ctx.password),
                                connect_timeout=ctx.timeout, secrets=ctx.secrets) as conn:
            return me.slot_name if replication.drop_slot_if_inactive(conn, me.slot_name) else None
    except Exception:  # pylint: disable=broad-except
        return None  # a down former upstream keeps its slot; nothing to do about it now


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
        with connection.connect(connection.node_conninfo(me.conninfo, ctx.password), connect_timeout=ctx.timeout,
                                secrets=ctx.secrets) as conn:
            for name in names:
                if replication.drop_slot_if_inactive(conn, name):
                    dropped.append(name)
    except Exception:  # pylint: disable=broad-except
        pass  # a slot left behind is reported by cluster checks; the rejoin itself succeeded
    return dropped


def record_follow(primary_conn, me, target, event, details, successful, ctx, extra_events=()):
    """Metadata and event on the primary, one transaction (the event alone when it failed)."""
    with primary_conn.transaction():
        with primary_conn.cursor() as cur:
            if successful:
                metadata.set_standby(cur, me.node_id, target.node_id)
            metadata.write_event(cur, me.node_id, event, successful, details)
            for item in extra_events if successful else ():
                metadata.write_event(cur, item["node_id"], item["event"], True, item["details"])
    ctx.log.add(metadata.SET_STANDBY, metadata.INSERT_EVENT)


def failover_events(me, target, failed_node_id):
    """repmgrd_failover_follow, when this follow is part of the failover of `failed_node_id`."""
    if failed_node_id is None:
        return []
    return [dict(node_id=me.node_id, event="repmgrd_failover_follow",
                 details=REPMGRD_FAILOVER_FOLLOW % (me.node_name, me.node_id, target.node_name, target.node_id))]


def preferred_primary(local_conn, params):
    """The conninfo of the upstream asked for, from the local metadata: tried first as the primary."""
    wanted_id, wanted_name = params.get("upstream_node_id"), params.get("upstream_node_name")
    if wanted_id is None and wanted_name is None:
        return None
    for record in metadata.read_nodes(local_conn):
        if (wanted_id is not None and record.node_id == wanted_id) or \
                (wanted_id is None and record.node_name == wanted_name):
            return record.conninfo
    return None


# --------------------------------------------------------------------------------------------
# follow (a running standby)

def follow(params, local_conn, ctx, local_conninfo):
    validate(params)
    facts = replication.server_facts(local_conn)
    if not facts["in_recovery"]:
        own = metadata.read_node(local_conn, params["node_id"]) if metadata.has_metadata(local_conn) else None
        if own is not None and own.type == NodeType.WITNESS.value:
            return witness_follow(params, local_conn, ctx)
        raise PreconditionFailed("node ID %d is not in recovery: a primary cannot follow another node; rejoin it as a "
                                 "standby (pgha.repmgr.repmgr_rejoin, playbook pgha.repmgr.rejoin)" % params["node_id"])
    skip = (params["failover_of"],) if params.get("failover_of") else ()
    primary_id, primary_conn = cluster.connect_primary_from(local_conn, preferred_primary(local_conn, params),
                                                            ctx.password, ctx.timeout, ctx.secrets, skip_node_ids=skip)
    with primary_conn:
        records = metadata.read_nodes(primary_conn)
        me = next((r for r in records if r.node_id == params["node_id"]), None)
        if me is None:
            raise PreconditionFailed("node_id %d is not registered: register it first" % params["node_id"])
        target = choose_target(records, me, primary_id, params.get("upstream_node_id"),
                               params.get("upstream_node_name"))
        if params.get("failover_of") is not None:
            require_primary(target, ctx)
        previous = next((r for r in records if r.node_id == me.upstream_node_id), None)
        result = FollowResult(changed=False, node_id=me.node_id, upstream_node_id=target.node_id,
                              upstream_node_name=target.node_name)
        current_conninfo = replication.setting(local_conn, "primary_conninfo")
        desired_conninfo = standby_conninfo(target, me, params.get("passfile") or passfile_of(current_conninfo))
        if (attached_to(target, me.node_name, ctx) == "attached" and me.upstream_node_id == target.node_id
                and me.type == NodeType.STANDBY.value and me.active):
            result.reason = "node %s already streams from %s" % (describe(me), describe(target))
            return result

        local_position = timeline.WalPosition(
            system_identifier=facts["system_identifier"],
            timeline=local_timeline(local_conninfo, ctx, facts),
            lsn=furthest_lsn(facts["received_lsn"], facts["replayed_lsn"]))
        target_pos, history = target_position(target, ctx, local_position.timeline)
        timeline.check_can_follow(me.node_name, local_position, target.node_name, target_pos, history)

        result.changed = True
        result.reason = "node %s follows %s" % (describe(me), describe(target))
        details = STANDBY_FOLLOW_OK % (target.node_name, target.node_id)
        extra = failover_events(me, target, params.get("failover_of"))
        result.events = [dict(node_id=me.node_id, event="standby_follow", details=details)] + extra
        if ctx.check_mode:
            return result
        if facts["server_version_num"] < 130000:
            raise PreconditionFailed("PostgreSQL %d cannot change primary_conninfo without a restart; follow needs "
                                     "PostgreSQL 13 or later" % (facts["server_version_num"] // 10000))

        if me.slot_name:
            with connection.connect(connection.node_conninfo(target.conninfo, ctx.password),
                                    connect_timeout=ctx.timeout, secrets=ctx.secrets) as target_conn:
                replication.ensure_slot(target_conn, me.slot_name)
            ctx.log.add(replication.CREATE_SLOT)
        ctx.log.add(*replication.set_standby_settings(local_conn, {"primary_conninfo": desired_conninfo,
                                                                   "primary_slot_name": me.slot_name}))
        result.attach_seconds = wait_attached(target, me, params["wait_timeout"], ctx, target_pos.timeline)
        if result.attach_seconds is None:
            failure = STANDBY_FOLLOW_TIMEOUT % (target.node_name, target.node_id, params["wait_timeout"])
            record_follow(primary_conn, me, target, "standby_follow", failure, False, ctx)
            raise Timeout("%s; its configuration now points at %s: check the node's log (pg_stat_wal_receiver)"
                          % (failure, describe(target)))
        result.old_slot_dropped = drop_old_slot(me, previous, target, ctx)
        record_follow(primary_conn, me, target, "standby_follow", details, True, ctx, extra_events=extra)
    return result


def require_primary(target, ctx):
    """A failover's follow goes to a confirmed new primary only, never to a standby still in recovery."""
    with connection.connect(connection.node_conninfo(target.conninfo, ctx.password), connect_timeout=ctx.timeout,
                            secrets=ctx.secrets) as conn:
        if replication.in_recovery(conn):
            raise PreconditionFailed("node %s is still in recovery: it is not the new primary (yet); nothing was "
                                     "changed" % describe(target))


def witness_follow(params, local_conn, ctx):
    """A witness follows a new primary: its upstream in the metadata, and a fresh copy of repmgr.nodes.

    As repmgrd does after a failover; a witness that keeps an old copy could cancel the next
    election with a stale view of who streamed from whom.
    """
    records = metadata.read_nodes(local_conn)
    me = next((r for r in records if r.node_id == params["node_id"]), None)
    target = choose_target(records, me, None, params.get("upstream_node_id"), params.get("upstream_node_name"))
    with connection.connect(connection.node_conninfo(target.conninfo, ctx.password), connect_timeout=ctx.timeout,
                            secrets=ctx.secrets) as primary_conn:
        if replication.in_recovery(primary_conn):
            raise PreconditionFailed("node %s is in recovery: a witness follows a primary only" % describe(target))
        primary_records = metadata.read_nodes(primary_conn)
        registered = next((r for r in primary_records if r.node_id == me.node_id), None)
        if registered is None:
            raise PreconditionFailed("witness %s is not registered on %s" % (describe(me), describe(target)))
        result = FollowResult(changed=False, node_id=me.node_id, upstream_node_id=target.node_id,
                              upstream_node_name=target.node_name)
        after = [replace(r, upstream_node_id=target.node_id) if r.node_id == me.node_id else r
                 for r in primary_records]
        if registered.upstream_node_id == target.node_id and \
                [metadata.record_parameters(r) for r in records] == [metadata.record_parameters(r) for r in after]:
            result.reason = "witness %s already follows %s" % (describe(me), describe(target))
            return result
        result.changed = True
        result.reason = "witness %s follows %s, with a fresh copy of the node records" % (describe(me),
                                                                                          describe(target))
        if params.get("failover_of") is not None:
            result.events = [dict(node_id=me.node_id, event="repmgrd_failover_follow",
                                  details=WITNESS_FAILOVER_FOLLOW % (me.node_name, me.node_id, target.node_name,
                                                                     target.node_id))]
        if ctx.check_mode:
            return result
        with primary_conn.transaction():
            with primary_conn.cursor() as cur:
                metadata.set_upstream(cur, me.node_id, target.node_id)
                for item in result.events:
                    metadata.write_event(cur, item["node_id"], item["event"], True, item["details"])
        ctx.log.add(metadata.SET_UPSTREAM, metadata.INSERT_EVENT)
        with local_conn.transaction():
            with local_conn.cursor() as cur:
                metadata.replace_all_nodes(cur, metadata.read_nodes(primary_conn))
        ctx.log.add(*metadata.REPLACE_ALL_NODES, metadata.INSERT_NODE)
    return result


def local_timeline(local_conninfo, ctx, facts):
    """The timeline a running standby is on now: IDENTIFY_SYSTEM over a replication session to it.

    pg_control_checkpoint()'s timeline lags after a timeline switch until the next restartpoint.
    """
    try:
        with connection.connect(conninfo_util.build(local_conninfo, replication="database"),
                                connect_timeout=ctx.timeout, secrets=ctx.secrets) as repl:
            return replication.identify_system(repl).timeline
    except Exception:  # pylint: disable=broad-except
        return facts["timeline"]


# --------------------------------------------------------------------------------------------
# rejoin (a stopped node)

def controldata_position(data):
    """WalPosition of a stopped data directory from pg_controldata (the furthest LSN it knows of)."""
    lsns = [lsn_from_text(data.get(key)) for key in ("Latest checkpoint location", "Minimum recovery ending location")
            if data.get(key) and data.get(key) != "0/0"]
    return timeline.WalPosition(
        system_identifier=int(data["Database system identifier"]),
        timeline=int(data.get("Latest checkpoint's TimeLineID") or data.get("Min recovery ending loc's timeline")),
        lsn=max(lsns) if lsns else 0)


def rejoin(params, login_conn, ctx, run_command):
    """Bring the stopped node of `data_directory` back as a standby of the current primary."""
    validate(params)
    datadir.require_not_root()
    path = params["data_directory"]
    if not path or not os.path.isabs(path):
        raise InvalidOption("data_directory", "must be an absolute path (got %r)" % (path,))
    primary_id, primary_conn = cluster.connect_primary_from(login_conn, params.get("primary_conninfo"), ctx.password,
                                                            ctx.timeout, ctx.secrets)
    with primary_conn:
        primary_facts = replication.server_facts(primary_conn)
        bindir = datadir.bindir_for(primary_facts["server_version_num"] // 10000, params.get("pg_bindir"))
        records = metadata.read_nodes(primary_conn)
        if primary_id is None:
            primary_id = next((r.node_id for r in records if r.type == NodeType.PRIMARY.value and r.active), None)
        me = next((r for r in records if r.node_id == params["node_id"]), None)
        if me is None:
            raise PreconditionFailed("node_id %d is not registered: register it first" % params["node_id"])
        primary = choose_target(records, me, primary_id)
        result = FollowResult(changed=False, node_id=me.node_id, upstream_node_id=primary.node_id,
                              upstream_node_name=primary.node_name)

        state = datadir.inspect(path, bindir, run_command)
        if not state.is_pgdata:
            raise PreconditionFailed("%s is not a PostgreSQL data directory: clone the node instead "
                                     "(pgha.repmgr.repmgr_standby_clone)" % path)
        pid = datadir.running_pid(state)
        if pid:
            if (attached_to(primary, me.node_name, ctx) == "attached" and me.type == NodeType.STANDBY.value
                    and me.upstream_node_id == primary.node_id and me.active):
                result.reason = "node %s already streams from the primary %s" % (describe(me), describe(primary))
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
            target_pos, history = target_position(primary, ctx, local_position.timeline)
            timeline.check_can_follow(me.node_name, local_position, primary.node_name, target_pos, history)

        result.changed = True
        details = NODE_REJOIN_OK % (me.node_id, primary.node_id)
        result.events = [dict(node_id=me.node_id, event="node_rejoin", details=details)]
        result.reason = "node %s rejoins as a standby of %s" % (describe(me), describe(primary))
        if ctx.check_mode:
            return result

        environ = {"PGPASSWORD": ctx.password} if ctx.password else {}
        if params["rewind"]:
            # pg_rewind reads the source's timeline from its last checkpoint: right after a
            # promotion that still names the old one, and pg_rewind would wrongly see nothing to do.
            primary_conn.execute(replication.CHECKPOINT)
            ctx.log.add(replication.CHECKPOINT)
            result.rewound = rewind(bindir, path, primary, params, environ, run_command, clean)
        settings = dict(primary_conninfo=standby_conninfo(primary, me, params.get("passfile")),
                        primary_slot_name=me.slot_name)
        datadir.write_standby_config(path, settings)
        if me.slot_name:
            replication.ensure_slot(primary_conn, me.slot_name)
            ctx.log.add(replication.CREATE_SLOT)
        start_server(bindir, path, params, run_command)
        with replication_session(primary.conninfo, ctx) as repl:
            primary_timeline = replication.identify_system(repl).timeline
        result.attach_seconds = wait_attached(primary, me, params["wait_timeout"], ctx, primary_timeline)
        if result.attach_seconds is None:
            failure = ("node %d did not attach to node %d within %d seconds"
                       % (me.node_id, primary.node_id, params["wait_timeout"]))
            record_follow(primary_conn, me, primary, "node_rejoin", failure, False, ctx)
            raise Timeout("%s: it was started as a standby of %s; check its log (a diverged timeline needs "
                          "rewind: true)" % (failure, describe(primary)))
        previous = next((r for r in records if r.node_id == me.upstream_node_id), None)
        result.old_slot_dropped = drop_old_slot(me, previous, primary, ctx)
        result.stale_slots_dropped = drop_stale_slots_here(me, records, ctx)
        record_follow(primary_conn, me, primary, "node_rejoin", details, True, ctx)
    return result


def rewind(bindir, path, primary, params, environ, run_command, clean=True):
    """pg_rewind from the primary, keeping the node's own configuration files. True if it rewound.

    An unclean shutdown is recovered by pg_rewind itself (PostgreSQL 13+) with a single-user
    server, which refuses standby mode: standby.signal is set aside meanwhile, as repmgr does
    (write_standby_config creates it again).
    """
    preserved = params.get("preserve_files") or list(DEFAULT_PRESERVED_FILES)
    keep = tempfile.mkdtemp(prefix="pgha-rejoin-")
    signal = os.path.join(path, datadir.STANDBY_SIGNAL)
    set_aside = signal + ".pgha-rewind"
    if not clean and os.path.exists(signal):
        os.rename(signal, set_aside)
    try:
        for name in preserved:
            if os.path.isfile(os.path.join(path, name)):
                shutil.copy2(os.path.join(path, name), os.path.join(keep, name))
        source = conninfo_util.build(primary.conninfo, application_name="pgha-repmgr-rewind",
                                     **({} if "connect_timeout" in conninfo_util.parse(primary.conninfo)
                                        else {"connect_timeout": 10}))
        argv = [os.path.join(bindir, "pg_rewind"), "--target-pgdata=%s" % path, "--source-server=%s" % source]
        rc, out, err = datadir.run_pg(run_command, argv, environ)
        if rc != 0:
            raise CommandFailed("pg_rewind failed (rc %s): %s" % (rc, (err or out).strip()), rc=rc, stdout=out,
                                stderr=err)
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


def start_server(bindir, path, params, run_command):
    if params.get("start_command"):
        argv = list(params["start_command"])
    else:
        argv = [os.path.join(bindir, "pg_ctl"), "start", "-D", path, "-w", "-t", str(params.get("start_timeout", 60))]
        if params.get("log_file"):
            argv += ["-l", params["log_file"]]
    rc, out, err = datadir.run_pg(run_command, argv)
    if rc != 0:
        raise CommandFailed("starting the node failed (rc %s): %s" % (rc, (err or out).strip()), rc=rc, stdout=out,
                            stderr=err, cmd=argv)
