# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr standby follow: make a running standby stream from another upstream.

The attach check first (timeline.check_can_follow), then the slot on the new upstream, the
standby settings (ALTER SYSTEM + reload, PostgreSQL 13+: no restart), the wait until the node
streams (fast polling, a real failure when it does not: repmgr reports success even then), then
the metadata and the event on the primary in one transaction. The old slot on the previous
upstream is dropped when it is inactive. A witness "follows" by taking the new primary as its
upstream and a fresh copy of the node records. rejoin.py (a stopped node) reuses these steps.
"""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster, connection, metadata, probe
from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils import replication, timeline, waiting
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    InvalidOption,
    PreconditionFailed,
    Timeout,
    require_node_id,
)
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome, record_diff
from ansible_collections.pgha.repmgr.plugins.module_utils.primary import active_primary, resolve_upstream
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeType, WalPosition, describe, furthest_lsn

STANDBY_FOLLOW_OK = 'standby attached to upstream node "%s" (ID: %d)'
# repmgrd's texts when it follows a new primary after a failover (repmgrd-physical.c)
REPMGRD_FAILOVER_FOLLOW = 'node "%s" (ID: %d) now following new upstream node "%s" (ID: %d)'
WITNESS_FAILOVER_FOLLOW = 'witness node "%s" (ID: %d) now following new primary node "%s" (ID: %d)'
STANDBY_FOLLOW_TIMEOUT = 'standby did not attach to upstream node "%s" (ID: %d) after %d seconds'


def follow_outcome(me, target):
    """The Outcome of a follow or rejoin before anything is done: nothing changed yet."""
    return Outcome(changed=False, node_id=me.node_id, upstream_node_id=target.node_id,
                   upstream_node_name=target.node_name, reason="", rewound=False, attach_seconds=None,
                   old_slot_dropped=None, stale_slots_dropped=[])


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
    if params.get("wait_for_promotion") and params.get("upstream_node_id") is None \
            and params.get("upstream_node_name") is None:
        raise InvalidOption("wait_for_promotion", "needs upstream_node_id or upstream_node_name (the node to wait for)")
    if params.get("promotion_timeout", 1) < 1:
        raise InvalidOption("promotion_timeout", "must be at least 1 second (got %s)" % params["promotion_timeout"])
    failed = params.get("failover_of")
    if failed is not None:
        require_node_id(failed, "failover_of")
        if upstream is None and params.get("upstream_node_name") is None:
            raise InvalidOption("failover_of", "needs upstream_node_id or upstream_node_name (the new primary)")
        if failed in (params["node_id"], upstream):
            raise InvalidOption("failover_of", "names the node itself or its new upstream (%d)" % failed)


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
    return connection.connect_node(conninfo, ctx, replication="database")


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
    _value, seconds, reached = waiting.poll(
        lambda: attached_to(target, node.node_name, ctx) == "attached" and streams_on_timeline(node, target_timeline, ctx),
        bool, timeout)
    return seconds if reached else None


def drop_old_slot(me, previous, target, ctx):
    """Drop the node's slot on its previous upstream when that is another, reachable node."""
    if not me.slot_name or previous is None or previous.node_id == target.node_id:
        return None
    try:
        with connection.connect_node(previous.conninfo, ctx) as conn:
            return me.slot_name if replication.drop_slot_if_inactive(conn, me.slot_name) else None
    except Exception:  # pylint: disable=broad-except
        return None  # a down former upstream keeps its slot; nothing to do about it now


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

PROMOTION_POLL = 0.05  # seconds: how often a follower waiting for the new primary looks


def await_promotion(local_conn, params, ctx):
    """Wait until the upstream asked for has left recovery (the failover's winner): None then, else an Outcome.

    Meanwhile this node's slot is created on it (a standby can hold one), so that streaming
    starts the moment it is a primary. A winner that is not promoted within promotion_timeout,
    or that stops answering, changes nothing here: the Outcome says so (stood_down), and the
    slot created for it is dropped again.
    """
    records = metadata.read_nodes(local_conn)
    me = next((r for r in records if r.node_id == params["node_id"]), None)
    if me is None:
        raise PreconditionFailed("node_id %d is not registered: register it first" % params["node_id"])
    target = resolve_upstream(records, me.node_id, params.get("upstream_node_id"), params.get("upstream_node_name"))
    slot_created, promoted, why = False, False, "it was not promoted within %s s" % params["promotion_timeout"]
    try:
        with connection.connect_node(target.conninfo, ctx) as target_conn:
            if me.slot_name and me.type == NodeType.STANDBY.value:
                try:
                    slot_created = replication.ensure_slot(target_conn, me.slot_name)
                except PreconditionFailed:
                    slot_created = False  # in use there already: follow() will say so
            _value, _seconds, promoted = waiting.poll(lambda: not replication.in_recovery(target_conn), bool,
                                                      params["promotion_timeout"], interval=PROMOTION_POLL)
            if not promoted and slot_created:
                replication.drop_slot_if_inactive(target_conn, me.slot_name)
    except Exception as error:  # pylint: disable=broad-except
        why = "it stopped answering (%s)" % str(error).strip().splitlines()[0]
    if promoted:
        return None
    return Outcome(changed=False, stood_down=True, node_id=me.node_id, upstream_node_id=target.node_id,
                   upstream_node_name=target.node_name,
                   msg="node %s did not follow %s: %s; nothing was changed" % (describe(me), describe(target), why))


def follow(params, local_conn, ctx, local_conninfo):
    validate(params)
    if params.get("wait_for_promotion"):
        stood_down = await_promotion(local_conn, params, ctx)
        if stood_down is not None:
            return stood_down
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
        target = resolve_upstream(records, me.node_id, params.get("upstream_node_id"),
                                  params.get("upstream_node_name"), primary_node_id=primary_id)
        if params.get("failover_of") is not None:
            require_primary(target, ctx)
        previous = next((r for r in records if r.node_id == me.upstream_node_id), None)
        result = follow_outcome(me, target)
        current_conninfo = replication.setting(local_conn, "primary_conninfo")
        desired_conninfo = standby_conninfo(target, me, params.get("passfile") or passfile_of(current_conninfo))
        if (attached_to(target, me.node_name, ctx) == "attached" and me.upstream_node_id == target.node_id
                and me.type == NodeType.STANDBY.value and me.active):
            result.msg = result.reason = "node %s already streams from %s" % (describe(me), describe(target))
            return result

        local_position = WalPosition(
            system_identifier=facts["system_identifier"],
            timeline=local_timeline(local_conninfo, ctx, facts),
            lsn=furthest_lsn(facts["received_lsn"], facts["replayed_lsn"]))
        target_pos, history = target_position(target, ctx, local_position.timeline)
        timeline.check_can_follow(me.node_name, local_position, target.node_name, target_pos, history)

        result.changed = True
        result.diff = record_diff(me, type=NodeType.STANDBY.value, upstream_node_id=target.node_id, active=True)
        result.msg = result.reason = "node %s follows %s" % (describe(me), describe(target))
        details = STANDBY_FOLLOW_OK % (target.node_name, target.node_id)
        extra = failover_events(me, target, params.get("failover_of"))
        result.events = [dict(node_id=me.node_id, event="standby_follow", details=details)] + extra
        if ctx.check_mode:
            return result
        if facts["server_version_num"] < 130000:
            raise PreconditionFailed("PostgreSQL %d cannot change primary_conninfo without a restart; follow needs "
                                     "PostgreSQL 13 or later" % (facts["server_version_num"] // 10000))

        if me.slot_name:
            with connection.connect_node(target.conninfo, ctx) as target_conn:
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
    with connection.connect_node(target.conninfo, ctx) as conn:
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
    target = resolve_upstream(records, me.node_id, params.get("upstream_node_id"), params.get("upstream_node_name"))
    with connection.connect_node(target.conninfo, ctx) as primary_conn:
        if replication.in_recovery(primary_conn):
            raise PreconditionFailed("node %s is in recovery: a witness follows a primary only" % describe(target))
        # Right after a promotion the new primary's own records may not say so yet (its metadata
        # transaction follows pg_promote()): the witness copies them once they do.
        primary_records, _seconds, _registered = waiting.poll(
            lambda: metadata.read_nodes(primary_conn),
            lambda rows: getattr(active_primary(rows), "node_id", None) == target.node_id,
            params.get("wait_timeout", 30) if params.get("failover_of") is not None else 0)
        registered = next((r for r in primary_records if r.node_id == me.node_id), None)
        if registered is None:
            raise PreconditionFailed("witness %s is not registered on %s" % (describe(me), describe(target)))
        result = follow_outcome(me, target)
        after = [replace(r, upstream_node_id=target.node_id) if r.node_id == me.node_id else r
                 for r in primary_records]
        if registered.upstream_node_id == target.node_id and \
                [metadata.record_parameters(r) for r in records] == [metadata.record_parameters(r) for r in after]:
            result.msg = result.reason = "witness %s already follows %s" % (describe(me), describe(target))
            return result
        result.changed = True
        result.diff = record_diff(registered, upstream_node_id=target.node_id)
        result.msg = result.reason = "witness %s follows %s, with a fresh copy of the node records" % (
            describe(me), describe(target))
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
