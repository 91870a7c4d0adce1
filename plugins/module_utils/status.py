# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rules of `repmgr cluster show`, as pure functions.

`cluster_show()` turns the metadata read on one node plus what a probe saw on every node
into the rows, warnings and exit code that repmgr 5.3 prints for the same cluster. The
rules follow repmgr's `do_cluster_show()` (repmgr-action-cluster.c) and
`format_node_status()` (repmgr-client.c); the texts are repmgr's, byte for byte, because
DBAs and scripts read them. tables.py prints them the way repmgr does.

Where repmgr makes a second database call while it formats a row, we read the answer
from the observations instead:

* the upstream's record, which repmgr reads from the node's own metadata, comes from the
  local records (they are the same rows once replication has caught up);
* "can the upstream be reached" is the upstream's own observation being CONNECTED;
* the attachment test (`is_downstream_node_attached()` in dbutils.c) reads the
  upstream's `pg_stat_replication` rows from its observation.

No I/O, no Ansible imports.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from typing import Iterable, Mapping, Optional

from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    replay_paused_with_wal_pending,
    NodeObservation,
    NodeRecord,
    NodeType,
    Reachability,
)

# --- exit codes (repmgr.h / errcode.h) -------------------------------------------------

EXIT_SUCCESS = 0
ERR_NODE_STATUS = 25  # any warning or error flag in cluster show

# --- Status column (format_node_status) ----------------------------------------------

STATUS_PRIMARY_RUNNING = "* running"
STATUS_STANDBY_RUNNING = "  running"  # two spaces, so "running" lines up under "* running"
STATUS_WITNESS_RUNNING = "* running"
STATUS_RUNNING_AS_STANDBY = "! running as standby"
STATUS_RUNNING_AS_PRIMARY = "! running as primary"
STATUS_UNKNOWN = "! unknown"
STATUS_INACTIVE_RUNNING = "! running"
STATUS_REJECTED_ACTIVE = "? running"
STATUS_WITNESS_REJECTED = "? rejected"
STATUS_WITNESS_INACTIVE_REJECTED = "! failed"
STATUS_UNREACHABLE = "? unreachable"
STATUS_FAILED = "- failed"
STATUS_UNKNOWN_NODE_TYPE = "? unknown node type"

ALL_STATUSES = frozenset(
    (
        STATUS_PRIMARY_RUNNING,
        STATUS_STANDBY_RUNNING,
        STATUS_RUNNING_AS_STANDBY,
        STATUS_RUNNING_AS_PRIMARY,
        STATUS_UNKNOWN,
        STATUS_INACTIVE_RUNNING,
        STATUS_REJECTED_ACTIVE,
        STATUS_WITNESS_REJECTED,
        STATUS_WITNESS_INACTIVE_REJECTED,
        STATUS_UNREACHABLE,
        STATUS_FAILED,
        STATUS_UNKNOWN_NODE_TYPE,
    )
)

# --- Timeline column (get_node_timeline, do_cluster_show) ----------------------------

TIMELINE_UNKNOWN = "?"  # connected, but pg_control_checkpoint() gave nothing
TIMELINE_NOT_CONNECTED = ""  # never queried
TIMELINE_WITNESS = "n/a"  # a witness's timeline means nothing

# Role column for a type repmgr does not know (get_node_type_string; 'bdr' lands here)
ROLE_UNKNOWN = "unknown"

# --- Warning texts: {name} and {id} are the node's, {up_name}/{up_id} its upstream's ----

W_CONNECT = 'unable to connect to node "{name}" (ID: {id})'
W_CONNECT_VERBOSE = 'when attempting to connect to node "{name}" (ID: {id}), following error encountered :\n"{error}"'
W_PRIMARY_AS_STANDBY = 'node "{name}" (ID: {id}) is registered as primary but running as standby'
W_STANDBY_AS_PRIMARY = 'node "{name}" (ID: {id}) is registered as standby but running as primary'
W_UNKNOWN_RECOVERY = 'node "{name}" (ID: {id}) has unknown replication status'
W_INACTIVE_RUNNING = 'node "{name}" (ID: {id}) is running but the repmgr node record is inactive'
W_INACTIVE_PRIMARY_AS_STANDBY = 'node "{name}" (ID: {id}) is registered as an inactive primary but running as standby'
W_INACTIVE_STANDBY_AS_PRIMARY = 'node "{name}" (ID: {id}) is running as primary but the repmgr node record is inactive'
W_PRIMARY_UNREACHABLE = 'node "{name}" (ID: {id}) is registered as an active primary but is unreachable'
W_STANDBY_UNREACHABLE = 'node "{name}" (ID: {id}) is registered as an active standby but is unreachable'
W_WAL_REPLAY_PAUSED = (
    'WAL replay is paused on node "{name}" (ID: {id}) with WAL replay pending; '
    "this node cannot be manually promoted until WAL replay is resumed"
)
W_WITNESS_NO_UPSTREAM = 'node "{name}" (ID: {id}) is a witness but reports it has no upstream node'
W_DIFFERENT_UPSTREAM = (
    'node "{name}" (ID: {id}) reports a different upstream (reported: "{reported}", expected "{expected}")'
)
W_NO_UPSTREAM = 'node "{name}" (ID: {id}) reports it has no upstream (expected: "{expected}")'
W_UPSTREAM_RECORD_MISSING = "unable to find record for upstream node ID {up_id}"
W_UPSTREAM_UNREACHABLE = 'unable to connect to node "{name}" (ID: {id})\'s upstream node "{up_name}" (ID: {up_id})'
W_ATTACHMENT_UNKNOWN = (
    'unable to determine if node "{name}" (ID: {id}) is attached to its upstream node "{up_name}" (ID: {up_id})'
)
W_ATTACHED_IN_STATE = (
    'node "{name}" (ID: {id}) attached to its upstream node "{up_name}" (ID: {up_id}) in state "{state}"'
)
W_NOT_ATTACHED = 'node "{name}" (ID: {id}) is not attached to its upstream node "{up_name}" (ID: {up_id})'

# repmgr's T_NODE_INFO_INITIALIZER: what it prints about an upstream whose record is missing
MISSING_NODE_ID = -1

STREAMING = "streaming"


class Recovery(str, enum.Enum):
    """repmgr's RecoveryType: what pg_is_in_recovery() said, if anything."""

    PRIMARY = "primary"
    STANDBY = "standby"
    UNKNOWN = "unknown"


class Attachment(str, enum.Enum):
    """repmgr's NodeAttached, as `is_downstream_node_attached()` decides it."""

    ATTACHED = "attached"
    NOT_ATTACHED = "not attached"  # has a walsender, but not streaming
    DETACHED = "detached"  # no walsender at all
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ShowRow:
    """One line of `repmgr cluster show`, as text cells plus the facts behind them."""

    node_id: int
    node_name: str
    role: str
    status: str
    upstream: str
    location: str
    priority: int
    timeline: str
    conninfo: str
    reachability: Reachability = Reachability.DOWN
    recovery: Recovery = Recovery.UNKNOWN
    active: bool = True
    issues: tuple = ()  # this node's lines of the WARNING block, in order
    error: bool = False  # an (E) rule fired: exit 25 without a warning line

    @property
    def reachable(self) -> bool:
        """A session was opened (repmgr's NODE_STATUS_UP)."""
        return self.reachability is Reachability.CONNECTED

    @property
    def warning(self) -> bool:
        """This row makes repmgr exit 25."""
        return bool(self.issues) or self.error

    def cells(self) -> tuple:
        """The nine text cells in column order."""
        return (
            str(self.node_id),
            self.node_name,
            self.role,
            self.status,
            self.upstream,
            self.location,
            str(self.priority),
            self.timeline,
            self.conninfo,
        )

    def csv(self) -> str:
        """`cluster show --csv`: node_id,availability,recovery (0/-1, 0/1/-1)."""
        availability = 0 if self.reachable else -1
        recovery = {Recovery.PRIMARY: 0, Recovery.STANDBY: 1}.get(self.recovery, -1)
        return "%d,%d,%d" % (self.node_id, availability, recovery)

    def as_dict(self) -> dict:
        data = asdict(self)
        data.update(
            reachability=self.reachability.value,
            recovery=self.recovery.value,
            issues=list(self.issues),
            reachable=self.reachable,
            warning=self.warning,
        )
        return data


@dataclass(frozen=True)
class ClusterShow:
    """Everything `repmgr cluster show` would print, and its exit code."""

    rows: tuple
    warnings: tuple
    error: bool  # repmgr would exit ERR_NODE_STATUS (25)
    exit_code: int
    connection_errors: bool = False  # some node refused or did not answer: HINT about --verbose
    verbose: bool = False

    def as_dict(self) -> dict:
        return {
            "rows": [row.as_dict() for row in self.rows],
            "warnings": list(self.warnings),
            "error": self.error,
            "exit_code": self.exit_code,
        }


@dataclass
class Findings:
    """What the rules say about one node while its row is being built."""

    issues: list = field(default_factory=list)
    error: bool = False

    def warn(self, template: str, **values) -> None:
        self.issues.append(template.format(**values))


# --- small helpers --------------------------------------------------------------------


def parse_node_type(value) -> Optional[NodeType]:
    """repmgr's parse_node_type(): primary, standby, witness; anything else is unknown.

    'bdr' is still allowed by the CHECK constraint but repmgr 5 has no BDR support, so it
    is unknown here too.
    """
    text = value.value if isinstance(value, NodeType) else str(value)
    if text in (NodeType.PRIMARY.value, NodeType.STANDBY.value, NodeType.WITNESS.value):
        return NodeType(text)
    return None


def role_text(node_type) -> str:
    """The Role column: get_node_type_string(), 'unknown' for a type repmgr does not know."""
    parsed = parse_node_type(node_type)
    return parsed.value if parsed is not None else ROLE_UNKNOWN


def recovery_of(observation: NodeObservation) -> Recovery:
    """get_recovery_type(): unknown unless connected and pg_is_in_recovery() answered."""
    if not observation.connected or observation.in_recovery is None:
        return Recovery.UNKNOWN
    return Recovery.STANDBY if observation.in_recovery else Recovery.PRIMARY


def timeline_text(record: NodeRecord, observation: NodeObservation) -> str:
    """The Timeline column: number, '?' if the query failed, '' if not connected, 'n/a' for a witness."""
    if parse_node_type(record.type) is NodeType.WITNESS:
        return TIMELINE_WITNESS
    if not observation.connected:
        return TIMELINE_NOT_CONNECTED
    if observation.timeline is None:
        return TIMELINE_UNKNOWN
    return str(observation.timeline)


def _down(node_id: int) -> NodeObservation:
    return NodeObservation(node_id=node_id, reachability=Reachability.DOWN)


def _upstream_name(record: NodeRecord, by_id: Mapping[int, NodeRecord]) -> str:
    """The joined upstream name; '' like the LEFT JOIN when there is none."""
    if record.upstream_node_name is not None:
        return record.upstream_node_name
    upstream = by_id.get(record.upstream_node_id) if record.upstream_node_id is not None else None
    return upstream.node_name if upstream is not None else ""


# --- connection -----------------------------------------------------------------------


def connection_warning(record: NodeRecord, observation: NodeObservation, verbose: bool = False) -> Optional[str]:
    """do_cluster_show(): every node it cannot open a session on gets a line first."""
    if observation.connected:
        return None
    if verbose:
        return W_CONNECT_VERBOSE.format(
            name=record.node_name, id=record.node_id, error=(observation.error or "").strip()
        )
    return W_CONNECT.format(name=record.node_name, id=record.node_id)


# --- Status column: one function per registered type (format_node_status) -------------


def primary_status(record: NodeRecord, observation: NodeObservation, found: Findings) -> str:
    """A node registered as primary."""
    names = dict(name=record.node_name, id=record.node_id)
    recovery = recovery_of(observation)
    if observation.reachability is Reachability.CONNECTED:
        if record.active:
            if recovery is Recovery.PRIMARY:
                return STATUS_PRIMARY_RUNNING
            if recovery is Recovery.STANDBY:
                found.warn(W_PRIMARY_AS_STANDBY, **names)
                return STATUS_RUNNING_AS_STANDBY
            found.warn(W_UNKNOWN_RECOVERY, **names)
            return STATUS_UNKNOWN
        # inactive: anything but "not in recovery" (unknown included) counts as a standby
        if recovery is Recovery.PRIMARY:
            found.warn(W_INACTIVE_RUNNING, **names)
            return STATUS_INACTIVE_RUNNING
        found.warn(W_INACTIVE_PRIMARY_AS_STANDBY, **names)
        return STATUS_RUNNING_AS_STANDBY
    return _not_connected_status(record, observation, found, W_PRIMARY_UNREACHABLE)


def standby_status(record: NodeRecord, observation: NodeObservation, found: Findings) -> str:
    """A node registered as standby (the WAL-replay warning is added by the caller)."""
    names = dict(name=record.node_name, id=record.node_id)
    recovery = recovery_of(observation)
    if observation.reachability is Reachability.CONNECTED:
        if record.active:
            if recovery is Recovery.STANDBY:
                return STATUS_STANDBY_RUNNING
            if recovery is Recovery.PRIMARY:
                found.warn(W_STANDBY_AS_PRIMARY, **names)
                return STATUS_RUNNING_AS_PRIMARY
            found.warn(W_UNKNOWN_RECOVERY, **names)
            return STATUS_UNKNOWN
        # inactive: anything but "in recovery" (unknown included) counts as a primary
        if recovery is Recovery.STANDBY:
            found.warn(W_INACTIVE_RUNNING, **names)
            return STATUS_INACTIVE_RUNNING
        found.warn(W_INACTIVE_STANDBY_AS_PRIMARY, **names)
        return STATUS_RUNNING_AS_PRIMARY
    return _not_connected_status(record, observation, found, W_STANDBY_UNREACHABLE)


def _not_connected_status(record: NodeRecord, observation: NodeObservation, found: Findings, unreachable: str) -> str:
    """Primary and standby share these: rejected or down, active or not."""
    if observation.reachability is Reachability.REJECTED:
        if record.active:
            return STATUS_REJECTED_ACTIVE  # it answers: no warning beyond the connection line
        found.error = True
        return STATUS_INACTIVE_RUNNING
    if record.active:
        found.warn(unreachable, name=record.node_name, id=record.node_id)
        return STATUS_UNREACHABLE
    found.error = True  # an inactive node that is down is expected, yet repmgr exits 25
    return STATUS_FAILED


def witness_status(record: NodeRecord, observation: NodeObservation, found: Findings) -> str:
    """A witness: never a status warning, only the error flag when its record is inactive."""
    if observation.reachability is Reachability.CONNECTED:
        if record.active:
            return STATUS_WITNESS_RUNNING
        found.error = True
        return STATUS_INACTIVE_RUNNING
    if observation.reachability is Reachability.REJECTED:
        if record.active:
            return STATUS_WITNESS_REJECTED
        found.error = True
        return STATUS_WITNESS_INACTIVE_REJECTED
    if record.active:
        return STATUS_UNREACHABLE
    found.error = True
    return STATUS_FAILED


def unknown_type_status(record: NodeRecord, observation: NodeObservation, found: Findings) -> str:
    """A type repmgr does not know ('bdr', or garbage): error flag, no warning."""
    found.error = True
    return STATUS_UNKNOWN_NODE_TYPE


_STATUS_RULES = {
    NodeType.PRIMARY: primary_status,
    NodeType.STANDBY: standby_status,
    NodeType.WITNESS: witness_status,
}


def node_status(record: NodeRecord, observation: NodeObservation, found: Findings) -> str:
    """The Status column of one node, by the type registered in the local metadata."""
    rule = _STATUS_RULES.get(parse_node_type(record.type), unknown_type_status)
    return rule(record, observation, found)


def wal_replay_paused_pending(observation: NodeObservation) -> bool:
    """is_wal_replay_paused(conn, check_pending_wal=true).

    Paused alone is not enough: only WAL received but not yet replayed blocks a manual
    promotion. A node out of recovery is never "paused".
    """
    return observation.connected and replay_paused_with_wal_pending(
        observation.in_recovery, observation.wal_replay_paused, observation.received_lsn, observation.replayed_lsn)


# --- Upstream column (second half of format_node_status) ------------------------------


def attachment(upstream: NodeObservation, node_name: str):
    """is_downstream_node_attached() run on the upstream: (Attachment, walsender state).

    Rows are matched on application_name = the node's name. No rows readable: unknown;
    none: detached; several: unknown (cannot tell which is ours); state None: the probing
    role may not read it (no pg_read_all_stats), so repmgr assumes attached.
    """
    if not upstream.connected or upstream.replication is None:
        return Attachment.UNKNOWN, None
    mine = [client for client in upstream.replication if client.application_name == node_name]
    if not mine:
        return Attachment.DETACHED, None
    if len(mine) > 1:
        return Attachment.UNKNOWN, None
    state = mine[0].state
    if state is None:
        return Attachment.ATTACHED, ""
    if state != STREAMING:
        return Attachment.NOT_ATTACHED, state
    return Attachment.ATTACHED, state


def witness_upstream(
    record: NodeRecord,
    own: NodeRecord,
    by_id: Mapping[int, NodeRecord],
    observations: Mapping[int, NodeObservation],
    found: Findings,
) -> str:
    """A node that says it is a witness: its upstream (the primary) as it reports it.

    Prefix '! ' when it has none or not the one the local metadata expects, '? ' when the
    upstream's record is missing or the upstream cannot be reached.
    """
    names = dict(name=record.node_name, id=record.node_id)
    reported = own.upstream_node_name if own.upstream_node_name is not None else _upstream_name(own, by_id)
    if own.upstream_node_id is None:
        found.warn(W_WITNESS_NO_UPSTREAM, **names)
        prefix = "! "
    elif record.upstream_node_id != own.upstream_node_id:
        found.warn(W_DIFFERENT_UPSTREAM, reported=reported, expected=_upstream_name(record, by_id), **names)
        prefix = "! "
    else:
        prefix = ""
        upstream = by_id.get(record.upstream_node_id)
        if upstream is None:
            found.warn(W_UPSTREAM_RECORD_MISSING, up_id=record.upstream_node_id)
            prefix = "? "
        elif not observations.get(upstream.node_id, _down(upstream.node_id)).connected:
            found.warn(W_UPSTREAM_UNREACHABLE, up_name=upstream.node_name, up_id=upstream.node_id, **names)
            prefix = "? "
    return prefix + reported


def standby_upstream(
    record: NodeRecord,
    own: NodeRecord,
    by_id: Mapping[int, NodeRecord],
    observations: Mapping[int, NodeObservation],
    found: Findings,
) -> str:
    """A node that says it is a standby.

    If it reports the upstream the local metadata expects, ask that upstream whether the
    node is streaming from it; otherwise flag the disagreement.
    """
    names = dict(name=record.node_name, id=record.node_id)
    expected = _upstream_name(record, by_id)
    if record.upstream_node_id is not None and record.upstream_node_id == own.upstream_node_id:
        return expected_upstream_attachment(record, expected, by_id, observations, found)
    if record.upstream_node_id is None:
        return ""  # metadata expects none: whatever the node says, repmgr shows nothing
    if own.upstream_node_id is None:
        found.warn(W_NO_UPSTREAM, expected=expected, **names)
        return "!"  # sic: no space after the mark here
    reported = own.upstream_node_name if own.upstream_node_name is not None else _upstream_name(own, by_id)
    found.warn(W_DIFFERENT_UPSTREAM, reported=reported, expected=expected, **names)
    return "! " + reported


def expected_upstream_attachment(
    record: NodeRecord,
    expected: str,
    by_id: Mapping[int, NodeRecord],
    observations: Mapping[int, NodeObservation],
    found: Findings,
) -> str:
    """The standby agrees with the metadata on its upstream: is it attached there?

    An unreachable upstream gives two lines: cannot connect, then cannot determine.
    A missing upstream record is reported with repmgr's empty record (name "", ID -1).
    """
    names = dict(name=record.node_name, id=record.node_id)
    upstream = by_id.get(record.upstream_node_id)
    state = None
    if upstream is None:
        found.warn(W_UPSTREAM_RECORD_MISSING, up_id=record.upstream_node_id)
        up = dict(up_name="", up_id=MISSING_NODE_ID)
        attached = Attachment.UNKNOWN
    else:
        up = dict(up_name=upstream.node_name, up_id=upstream.node_id)
        upstream_observation = observations.get(upstream.node_id, _down(upstream.node_id))
        if not upstream_observation.connected:
            found.warn(W_UPSTREAM_UNREACHABLE, **up, **names)
            attached = Attachment.UNKNOWN
        else:
            attached, state = attachment(upstream_observation, record.node_name)

    if attached is Attachment.UNKNOWN:
        found.warn(W_ATTACHMENT_UNKNOWN, **up, **names)
        return "? " + expected
    if attached is Attachment.NOT_ATTACHED:
        found.warn(W_ATTACHED_IN_STATE, state=state, **up, **names)
        return "? " + expected
    if attached is Attachment.DETACHED:
        found.warn(W_NOT_ATTACHED, **up, **names)
        return "! " + expected
    return expected


def upstream_column(
    record: NodeRecord,
    observation: NodeObservation,
    by_id: Mapping[int, NodeRecord],
    observations: Mapping[int, NodeObservation],
    found: Findings,
) -> str:
    """The Upstream column, decided by what the node says about itself.

    Without the node's own record (not connected, or the record is not there) repmgr
    shows the local metadata's upstream name behind '? ' -- so an unreachable primary
    shows '? ' with nothing after it. A node that says it is a primary (or anything other
    than witness/standby) has an empty upstream.
    """
    own = observation.own_record if observation.connected else None
    if own is None:
        return "? " + _upstream_name(record, by_id)
    own_type = parse_node_type(own.type)
    if own_type is NodeType.WITNESS:
        return witness_upstream(record, own, by_id, observations, found)
    if own_type is NodeType.STANDBY:
        return standby_upstream(record, own, by_id, observations, found)
    return ""


# --- the whole command ----------------------------------------------------------------


def show_row(
    record: NodeRecord,
    observation: NodeObservation,
    by_id: Mapping[int, NodeRecord],
    observations: Mapping[int, NodeObservation],
    verbose: bool = False,
) -> ShowRow:
    """One node's row, with its warnings in repmgr's order: connection, status,
    WAL replay, upstream."""
    found = Findings()
    failed = connection_warning(record, observation, verbose)
    if failed is not None:
        found.issues.append(failed)
    status = node_status(record, observation, found)
    if parse_node_type(record.type) is NodeType.STANDBY and wal_replay_paused_pending(observation):
        found.warn(W_WAL_REPLAY_PAUSED, name=record.node_name, id=record.node_id)
    upstream = upstream_column(record, observation, by_id, observations, found)
    return ShowRow(
        node_id=record.node_id,
        node_name=record.node_name,
        role=role_text(record.type),
        status=status,
        upstream=upstream,
        location=record.location,
        priority=record.priority,
        timeline=timeline_text(record, observation),
        conninfo=record.conninfo,
        reachability=observation.reachability,
        recovery=recovery_of(observation),
        active=record.active,
        issues=tuple(found.issues),
        error=found.error,
    )


def cluster_show(
    records: Iterable[NodeRecord],
    observations: Mapping[int, NodeObservation],
    verbose: bool = False,
) -> ClusterShow:
    """`repmgr cluster show` for the metadata `records` and the probes' `observations`.

    A node without an observation is taken as DOWN. `verbose` puts libpq's message
    (observation.error) in the connection warnings, as `--verbose` does.
    Exit code 25 when any warning was noted or any (E) rule fired (do_cluster_show).
    """
    ordered = sorted(records, key=lambda record: record.node_id)  # ORDER BY n.node_id
    by_id = {record.node_id: record for record in ordered}
    rows = tuple(
        show_row(record, observations.get(record.node_id, _down(record.node_id)), by_id, observations, verbose)
        for record in ordered
    )
    warnings = tuple(line for row in rows for line in row.issues)
    error = bool(warnings) or any(row.error for row in rows)
    return ClusterShow(
        rows=rows,
        warnings=warnings,
        error=error,
        exit_code=ERR_NODE_STATUS if error else EXIT_SUCCESS,
        connection_errors=any(not row.reachable for row in rows),
        verbose=verbose,
    )
