# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster as one view: metadata records + probes + cluster-show status.

Used by repmgr_cluster_info, and by every module that needs to know who the primary is.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils import connection, metadata, probe, replication, status, tables
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    ConnectionFailed,
    InvalidOption,
    MetadataMissing,
    PreconditionFailed,
    require_node_id,
)
from ansible_collections.pgha.repmgr.plugins.module_utils.nodeview import NodeView, views_of
from ansible_collections.pgha.repmgr.plugins.module_utils.primary import truth_from_views
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeType

try:
    import jmespath
except ImportError:
    jmespath = None


@dataclass(frozen=True)
class ClusterView:
    records: tuple
    observations: dict
    show: object  # status.ClusterShow
    local_node_id: Optional[int] = None  # the node whose metadata this is (the one connected to)

    def record(self, node_id):
        for record in self.records:
            if record.node_id == node_id:
                return record
        return None

    def record_by_name(self, node_name):
        for record in self.records:
            if record.node_name == node_name:
                return record
        return None

    def running_primaries(self):
        """Records of active, non-witness nodes that answer and are not in recovery."""
        result = []
        for record in self.records:
            obs = self.observations.get(record.node_id)
            if record.type == NodeType.WITNESS.value or obs is None or not obs.connected:
                continue
            if obs.in_recovery is False:
                result.append(record)
        return result


def read_view(conn, password=None, timeout=5, secrets=()):
    """Read the metadata through `conn`, probe every node, compute cluster show."""
    metadata.require_metadata(conn)
    records = tuple(metadata.read_nodes(conn))
    if not records:
        raise MetadataMissing("no node records were found in repmgr.nodes (database %s)" % conn.info.dbname)
    observations = probe.probe_nodes(records, password=password, timeout=timeout, secrets=secrets)
    # status.py prints conninfo as given: hand it masked copies (records should hold no password,
    # but one typed there by hand must not reach any output).
    masked = [replace(r, conninfo=conninfo_util.mask(r.conninfo)) for r in records]
    return ClusterView(records, observations, status.cluster_show(masked, observations),
                       local_node_id=local_node_id(conn, records))


SERVER_ADDRESS = "SELECT pg_catalog.host(pg_catalog.inet_server_addr()), pg_catalog.inet_server_port()"


def local_node_id(conn, records):
    """The node `conn` is connected to, by the host and port of its conninfo (None when none matches).

    First as the session was asked for (login_host is usually the node's conninfo host), then
    by the server's own address for the session (an IP address in the conninfo).
    """
    targets = [(conn.info.host, conn.info.port)]
    with conn.cursor() as cur:
        cur.execute(SERVER_ADDRESS)
        address, port = cur.fetchone()
    if address:
        targets.append((address, port))
    for host, port in targets:
        for record in records:
            try:
                if conninfo_util.host_and_port(record.conninfo) == (host, int(port)):
                    return record.node_id
            except (InvalidOption, TypeError, ValueError):
                continue
    return None


def attachment_text(upstream_observation, node_name):
    """status.attachment()'s verdict on `node_name` as one word for results and checks.

    'attached', 'detached', 'unknown', or the walsender state when it is not streaming.
    """
    if upstream_observation is None:
        return status.Attachment.UNKNOWN.value
    attachment, state = status.attachment(upstream_observation, node_name)
    return state if attachment is status.Attachment.NOT_ATTACHED else attachment.value


def attachment_on(upstream, node_name, password=None, timeout=5, secrets=()):
    """Probe `upstream` now and say whether `node_name` streams from it (attachment_text)."""
    seen = probe.probe_nodes([upstream], password, timeout, secrets)[upstream.node_id]
    return attachment_text(seen, node_name)


def node_attachment(view, record):
    """Attachment of a standby to its recorded upstream, as text (None for other nodes)."""
    if record.type != NodeType.STANDBY.value or record.upstream_node_id is None:
        return None
    return attachment_text(view.observations.get(record.upstream_node_id), record.node_name)


def receiver_upstream_node_id(observation, records):
    """The node a WAL receiver streams from, by its sender host and port (None when unknown)."""
    if observation is None or not observation.connected or not observation.wal_receiver_upstream:
        return None
    for record in records:
        try:
            host, port = conninfo_util.host_and_port(record.conninfo)
        except InvalidOption:
            continue
        if host == observation.wal_receiver_upstream and port == (observation.wal_receiver_sender_port or port):
            return record.node_id
    return None


def node_summaries(view):
    """One NodeView dict per node for module results: metadata, cluster-show cells, what the probe saw."""
    rows = {row.node_id: row for row in view.show.rows}
    nodes = []
    for record in view.records:
        obs = view.observations.get(record.node_id)
        row = rows.get(record.node_id)
        nodes.append(NodeView.build(
            record, obs,
            status=row.status if row else None,
            # repmgr's cell for an unreachable primary is "? " (trailing blank): give the value, not the padding
            upstream=row.upstream.rstrip() if row else None,
            attached=node_attachment(view, record),
            masked_conninfo=conninfo_util.mask(record.conninfo),
            wal_receiver_upstream_node_id=receiver_upstream_node_id(obs, view.records),
        ).as_dict())
    return nodes


def connect_primary_from(local_conn, primary_conninfo=None, password=None, connect_timeout=5, secrets=(),
                         skip_node_ids=()):
    """(primary node id or None, connection): primary_conninfo first, then the local metadata's candidates.

    skip_node_ids: nodes not to try (a failed primary: a hung one would cost a whole timeout).
    """
    candidates = [(None, primary_conninfo)] if primary_conninfo else []
    if local_conn is not None:
        metadata.require_metadata(local_conn, where="the node the module connected to")
        candidates.extend(c for c in metadata.primary_candidates(local_conn) if c[0] not in skip_node_ids)
    return connect_primary(candidates, password, connect_timeout, secrets)


def connect_primary(candidates, password=None, connect_timeout=5, secrets=()):
    """Connect to the current primary, repmgr's way (_get_primary_connection).

    `candidates` are (node_id, conninfo) in metadata.SELECT_PRIMARY_CANDIDATES order; the
    first node that answers and is not in recovery wins. Returns (node_id, connection).
    Raises PreconditionFailed listing what was tried when no primary answers.
    """
    tried = []
    for node_id, node_conninfo in candidates:
        try:
            conn = connection.connect(connection.node_conninfo(node_conninfo, password),
                                      connect_timeout=connect_timeout, secrets=secrets)
        except (ConnectionFailed, InvalidOption) as exc:
            tried.append("node %s: %s" % (node_id, exc))
            continue
        if not replication.in_recovery(conn):
            return node_id, conn
        conn.close()
        tried.append("node %s: in recovery" % node_id)
    raise PreconditionFailed(
        "no running primary found among the active nodes of the metadata (%s)" % ("; ".join(tried) or "no candidates")
    )


def choose_live_primary(results):
    """The live primary's node name from several nodes' repmgr_cluster_info results (pure).

    `results` are keyed by the node each was read through ({node_name: result}); the rule is
    primary.cluster_truth's (newest timeline, never the first copy that answers). Two nodes
    running as primary on the newest timeline are a split brain: raise, and let a human fence
    one. None when no node runs as a primary.
    """
    rows = {name: views_of(result) for name, result in results.items()}
    truth, _observations = truth_from_views({name: r for name, r in rows.items() if r})
    if truth.rival_ids:
        names = sorted(r.node_name for r in truth.records if r.node_id in (truth.primary_id,) + truth.rival_ids)
        raise PreconditionFailed(
            "split brain: %s all run as primary on timeline %s; fence all but one before provisioning"
            % (", ".join(names), truth.timeline))
    if truth.primary_id is None:
        return None
    record = truth.record(truth.primary_id)
    return record.node_name if record else None


def validate_info(params):
    """repmgr_cluster_info's options (the JMESPath query compiles)."""
    if params["limit"] is not None and params["limit"] < 1:
        raise InvalidOption("limit", "must be at least 1 (got %s)" % params["limit"])
    if params["node_id"] is not None:
        require_node_id(params["node_id"])
    if params.get("monitor_stale_after") is not None and params["monitor_stale_after"] < 1:
        raise InvalidOption("monitor_stale_after", "must be at least 1 second (got %s)" % params["monitor_stale_after"])
    compile_query(params.get("query"))


def compile_query(query):
    if query is None:
        return None
    if jmespath is None:
        raise InvalidOption("query", "needs the Python library jmespath on the managed host")
    try:
        return jmespath.compile(query)
    except jmespath.exceptions.JMESPathError as exc:
        raise InvalidOption("query", "is not a valid JMESPath expression: %s" % exc)


def wants_events(params):
    return params["events"] or any(params[k] is not None for k in ("event", "node_id", "node_name"))


def cluster_info(params, conn, ctx):
    """repmgr cluster show (and cluster event) through `conn`, as repmgr_cluster_info returns them."""
    view = read_view(conn, password=ctx.password, timeout=ctx.timeout, secrets=ctx.secrets)
    local = view.record(view.local_node_id) if view.local_node_id is not None else None
    result = dict(
        changed=False,
        local_node_id=local.node_id if local else None,
        local_node_name=local.node_name if local else None,
        nodes=node_summaries(view),
        cluster_show="\n".join(tables.format_show(view.show, compact=params["compact"])).rstrip("\n"),
        table=tables.format_show_table(view.show.rows, compact=params["compact"]),
        warnings_detected=list(view.show.warnings),
        exit_code=view.show.exit_code,
    )
    pause = metadata.read_pause_state(conn)
    result.update(failover_paused=pause["paused"], failover_paused_since=pause["since"] if pause["paused"] else None)
    if wants_events(params):
        limit = None if params["all"] else params["limit"]
        events = metadata.read_events(conn, node_id=params["node_id"], node_name=params["node_name"],
                                      event=params["event"], limit=limit)
        result["events"] = events
        result["event_table"] = tables.format_event_table(events)
        result["cluster_event"] = "\n".join(result["event_table"]).rstrip("\n")
    if params.get("replication_status"):
        # repmgrd's monitoring_history rows (the monitor's monitoring_history: true), newest per standby
        result["replication_status"] = metadata.read_replication_status(conn)
    if params.get("monitor"):
        result["monitor"] = monitor_status(metadata.read_monitor_status(conn), pause["paused"],
                                           params.get("monitor_stale_after"))
    query = compile_query(params.get("query"))
    if query is not None:
        result["query_result"] = query.search(result)
    result["queries"] = []  # reads only
    return result


MONITOR_STALE_AFTER = 300  # seconds without a check after which a running monitor is not trusted to watch


def monitor_status(rows, paused, stale_after=None):
    """repmgr service status from a monitor's rows: per node when it last checked it; is failover protected?

    `rows`: metadata.read_monitor_status(). A node is watched when its newest repmgrd_start is newer
    than the newest repmgrd_shutdown of the cluster (a monitor writes repmgrd_start for every node it
    watches, and repmgrd_shutdown for the primary it watched when it stopped). Its last check is the newest of its
    rows about the node: events (repmgrd_start, disconnect, reconnect, standby failure or recovery) and,
    with monitoring_history, the history rows naming it, which a running monitor writes every interval.
    Failover protection is on when a monitor runs, automatic failover is not paused, and (when
    `stale_after` seconds are given) its last check is no older than that: a monitor that was killed
    writes no repmgrd_shutdown, and only monitoring_history rows keep its checks fresh.
    """
    nodes, running_any = [], False
    newest_start, newest_check = None, None
    stops = [row["stopped_age"] for row in rows if row["stopped_age"] is not None]
    newest_stop = min(stops) if stops else None
    for row in rows:
        started_age = row["started_age"]
        # the monitor writes repmgrd_shutdown for the primary only: any newer one stops every node's watch
        running = started_age is not None and (newest_stop is None or started_age < newest_stop)
        ages = [age for age in (row["last_event"], row["last_history"]) if age is not None]
        checked_age = min(ages) if ages else None
        nodes.append(dict(node_id=row["node_id"], node_name=row["node_name"], monitor_running=running,
                          monitor_started=row["started"], monitor_stopped=row["stopped"],
                          seconds_since_last_check=None if checked_age is None else round(max(checked_age, 0), 3),
                          checked_by="monitoring_history" if ages and checked_age == row["last_history"] else
                          ("events" if ages else None)))
        running_any = running_any or running
        if started_age is not None and (newest_start is None or started_age < newest_start[0]):
            newest_start = (started_age, row["started"])
        if checked_age is not None and (newest_check is None or checked_age < newest_check):
            newest_check = checked_age
    stale = bool(stale_after) and (newest_check is None or newest_check > stale_after)
    if not running_any:
        protection, reason = False, ("no monitor has ever run on this cluster" if newest_start is None
                                     else "the last monitor stopped (repmgrd_shutdown)")
    elif paused:
        protection, reason = False, "a monitor runs, but automatic failover is paused"
    elif stale:
        protection, reason = False, ("a monitor started, but its newest check is more than %s seconds old: it may "
                                     "have been killed" % stale_after)
    else:
        protection, reason = True, "a monitor runs and automatic failover is not paused"
    return dict(failover_protection=protection, reason=reason, running=running_any,
                started=newest_start[1] if newest_start else None,
                seconds_since_last_check=None if newest_check is None else round(max(newest_check, 0), 3),
                nodes=nodes)


def recorded_primary_of_standbys(results):
    """(name, timelines) when only standbys answer and all their metadata copies record one active primary (pure).

    `results` are repmgr_cluster_info results keyed by the node each was read through. Returns
    (None, ()) when a node answers as a primary (the live rule decides then), when no node
    answers, when the copies disagree, or when the recorded primary itself answers. `timelines`
    are the answering standbys' own timelines.
    """
    recorded, timelines = set(), []
    for name, result in results.items():
        rows = views_of(result)
        own = next((row for row in rows if row.node_name == name and row.reachable), None)
        if own is None:
            continue
        if own.in_recovery is not True:
            return None, ()
        timelines.append(own.timeline)
        recorded.add(tuple(sorted(row.node_name for row in rows if row.type == "primary" and row.active)))
        if any(row.reachable for row in rows if row.type == "primary" and row.active):
            return None, ()
    if len(recorded) != 1:
        return None, ()
    (names,) = recorded
    return (names[0], tuple(timelines)) if len(names) == 1 else (None, ())
