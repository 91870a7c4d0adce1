# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`repmgr node check`: each check a pure rule, and the one function that gathers what they need.

The rules follow repmgr 5.3's `do_node_check()` and its `do_node_check_*()` helpers
(repmgr-action-node.c): the same thresholds and comparisons, the same texts byte for byte (the
detail repmgr prints in `repmgr node check` and the one-liner it prints with `--nagios`), the
same exit codes. Each check is a named function over plain data (a NodeRecord, what the server
said) that returns a CheckResult; `run_checks()` puts the requested ones together.

`gather()`, at the end of the file, is the only function with I/O: one session to the node, a
handful of read-only statements (replication.py), and a probe of the upstream when the upstream
check needs it. A node that is down, hung or refuses us, or that has no record, is a result
(CRITICAL or UNKNOWN), never an exception.
"""

from __future__ import annotations

import enum
import os
import posixpath
from dataclasses import dataclass
from typing import Optional, Tuple

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster, connection, metadata, probe, replication
from ansible_collections.pgha.repmgr.plugins.module_utils import status
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import ConnectionFailed, InvalidOption, require_node_id
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeObservation,
    NodeRecord,
    NodeType,
    Reachability,
    ReplicationClient,
    describe,
)

try:
    import psycopg
except ImportError:
    psycopg = None

# --- the checks, their names and repmgr's labels ------------------------------------------------

ROLE = "role"
REPLICATION_LAG = "replication_lag"
ARCHIVE_READY = "archive_ready"
UPSTREAM = "upstream"
DOWNSTREAM = "downstream"
SLOTS = "slots"
MISSING_SLOTS = "missing_slots"
DATA_DIRECTORY_CONFIG = "data_directory_config"

# The order `repmgr node check` runs and prints them in.
CHECKS = (ROLE, REPLICATION_LAG, ARCHIVE_READY, UPSTREAM, DOWNSTREAM, SLOTS, MISSING_SLOTS, DATA_DIRECTORY_CONFIG)

# check -> (the item of the full `repmgr node check` output, the service name of its --nagios line)
LABELS = {
    ROLE: ("Server role", "REPMGR_SERVER_ROLE"),
    REPLICATION_LAG: ("Replication lag", "REPMGR_REPLICATION_LAG"),
    ARCHIVE_READY: ("WAL archiving", "REPMGR_ARCHIVE_READY"),
    UPSTREAM: ("Upstream connection", "REPMGR_UPSTREAM_SERVER"),
    DOWNSTREAM: ("Downstream servers", "REPMGR_DOWNSTREAM_SERVERS"),
    SLOTS: ("Replication slots", "REPMGR_INACTIVE_SLOTS"),
    MISSING_SLOTS: ("Missing physical replication slots", "REPMGR_MISSING_SLOTS"),
    DATA_DIRECTORY_CONFIG: ("Configured data directory", "REPMGR_DATA_DIRECTORY"),
}

# repmgr.conf defaults (repmgr.h)
DEFAULT_ARCHIVE_READY_WARNING = 16
DEFAULT_ARCHIVE_READY_CRITICAL = 128
DEFAULT_REPLICATION_LAG_WARNING = 300
DEFAULT_REPLICATION_LAG_CRITICAL = 600

EXIT_SUCCESS = 0
ERR_NODE_STATUS = 25  # the full check found an issue

STREAMING = "streaming"


class CheckStatus(str, enum.Enum):
    """output_check_status() (strutil.c), with the Nagios plugin exit code of each."""

    OK = "OK"
    WARNING = "WARNING"
    CRITICAL = "CRITICAL"
    UNKNOWN = "UNKNOWN"

    @property
    def nagios_code(self) -> int:
        return {"OK": 0, "WARNING": 1, "CRITICAL": 2, "UNKNOWN": 3}[self.value]


OK, WARNING, CRITICAL, UNKNOWN = CheckStatus.OK, CheckStatus.WARNING, CheckStatus.CRITICAL, CheckStatus.UNKNOWN


@dataclass(frozen=True)
class Thresholds:
    """repmgr.conf's archive_ready_* (files) and replication_lag_* (seconds)."""

    archive_ready_warning: int = DEFAULT_ARCHIVE_READY_WARNING
    archive_ready_critical: int = DEFAULT_ARCHIVE_READY_CRITICAL
    replication_lag_warning: int = DEFAULT_REPLICATION_LAG_WARNING
    replication_lag_critical: int = DEFAULT_REPLICATION_LAG_CRITICAL


@dataclass(frozen=True)
class CheckResult:
    """One check: its status, the detail `repmgr node check` prints, and its `--nagios` line."""

    name: str
    status: CheckStatus
    details: str
    nagios: str

    @property
    def line(self) -> str:
        """The check's line in the full `repmgr node check` output."""
        text = "\t%s: %s" % (LABELS[self.name][0], self.status.value)
        return text + (" (%s)" % self.details if self.details else "")

    def as_dict(self) -> dict:
        return dict(status=self.status.value, details=self.details, nagios=self.nagios)


def result(name: str, check_status: CheckStatus, details: str, nagios_text: Optional[str] = None) -> CheckResult:
    """A CheckResult whose --nagios line is `SERVICE STATUS: text` (text defaults to the details)."""
    text = details if nagios_text is None else nagios_text
    return CheckResult(name, check_status, details, "%s %s: %s" % (LABELS[name][1], check_status.value, text))


@dataclass(frozen=True)
class Slot:
    """One row of pg_replication_slots."""

    slot_name: str
    slot_type: str = "physical"
    active: bool = True


def _is(record: NodeRecord, node_type: NodeType) -> bool:
    return record.type == node_type.value


# --- the checks -----------------------------------------------------------------------------------


def role_check(record: NodeRecord, in_recovery: Optional[bool]) -> CheckResult:
    """do_node_check_role(): the registered type against pg_is_in_recovery().

    Only a contradiction is CRITICAL; an unknown recovery state is not one. A type repmgr does
    not know ('bdr') is OK with no detail, as repmgr prints it.
    """
    if _is(record, NodeType.PRIMARY):
        if in_recovery is True:
            return result(ROLE, CRITICAL, "node is registered as primary but running as standby")
        return result(ROLE, OK, "node is primary")
    if _is(record, NodeType.STANDBY):
        if in_recovery is False:
            return result(ROLE, CRITICAL, "node is registered as standby but running as primary")
        return result(ROLE, OK, "node is standby")
    if _is(record, NodeType.WITNESS):
        if in_recovery is True:
            return result(ROLE, CRITICAL, "node is registered as witness but running as standby")
        return result(ROLE, OK, "node is witness")
    return result(ROLE, OK, "")


def replication_lag_check(record: NodeRecord, in_recovery: Optional[bool], lag_seconds: Optional[int],
                          thresholds: Thresholds = Thresholds()) -> CheckResult:
    """do_node_check_replication_lag(): seconds since the last replayed transaction, on a standby.

    lag_seconds is get_replication_lag_seconds()'s value (0 when all received WAL is replayed);
    None when it could not be queried. CRITICAL at the critical threshold or above, WARNING above
    the warning threshold. (repmgr's detail for both ends with a stray ")": kept, it is its text.)
    """
    warn, crit = thresholds.replication_lag_warning, thresholds.replication_lag_critical
    if in_recovery is False:
        details = "N/A - node is witness" if _is(record, NodeType.WITNESS) else "N/A - node is primary"
        return result(REPLICATION_LAG, OK, details, "0 seconds | lag=0;%d;%d" % (warn, crit))
    if lag_seconds is None:
        return result(REPLICATION_LAG, UNKNOWN, "unable to query replication lag")
    perfdata = "%d seconds | lag=%d;%d;%d" % (lag_seconds, lag_seconds, warn, crit)
    if lag_seconds >= crit:
        return result(REPLICATION_LAG, CRITICAL, "%d seconds, critical threshold: %d)" % (lag_seconds, crit), perfdata)
    if lag_seconds > warn:
        return result(REPLICATION_LAG, WARNING, "%d seconds, warning threshold: %d)" % (lag_seconds, warn), perfdata)
    return result(REPLICATION_LAG, OK, "%d seconds" % lag_seconds, perfdata)


def archive_ready_check(ready_files: Optional[int], thresholds: Thresholds = Thresholds()) -> CheckResult:
    """do_node_check_archive_ready(): WAL files waiting for archive_command (.ready files).

    More than the critical threshold is CRITICAL, more than the warning one WARNING; None (the
    archive_status directory could not be read) is UNKNOWN.
    """
    warn, crit = thresholds.archive_ready_warning, thresholds.archive_ready_critical
    if ready_files is None or ready_files < 0:
        return result(ARCHIVE_READY, UNKNOWN, "unable to check archive_status directory")
    perfdata = "%d pending archive ready files | files=%d;%d;%d" % (ready_files, ready_files, warn, crit)
    if ready_files > crit:
        return result(ARCHIVE_READY, CRITICAL,
                      "%d pending archive ready files, critical threshold: %d" % (ready_files, crit), perfdata)
    if ready_files > warn:
        return result(ARCHIVE_READY, WARNING,
                      "%d pending archive ready files (threshold: %d)" % (ready_files, warn), perfdata)
    return result(ARCHIVE_READY, OK, "%d pending archive ready files" % ready_files, perfdata)


def upstream_check(record: NodeRecord, in_recovery: Optional[bool], upstream: Optional[NodeRecord],
                   upstream_seen: Optional[NodeObservation]) -> CheckResult:
    """do_node_check_upstream(): is this node attached to its recorded upstream?

    `upstream` is the upstream's record in this node's metadata (None: no record, which is only
    wrong on a standby); `upstream_seen` is a probe of the upstream (its pg_stat_replication).
    Anything but attached (detached, not streaming, several walsenders of that name) is CRITICAL.
    repmgr exits with a connection error when the upstream cannot be reached; here that is
    CRITICAL too, with its own text.
    """
    if _is(record, NodeType.WITNESS):
        return result(UPSTREAM, OK, "N/A - node is a witness")
    if upstream is None:
        if in_recovery is True:
            return result(UPSTREAM, CRITICAL, "node %s is a standby but no upstream record found" % describe(record))
        return result(UPSTREAM, OK, "N/A - node is primary")
    if upstream_seen is None or not upstream_seen.connected:
        return result(UPSTREAM, CRITICAL, "unable to connect to upstream node %s" % describe(upstream))
    names = (describe(record), describe(upstream))
    attached, _state = status.attachment(upstream_seen, record.node_name)
    if attached is not status.Attachment.ATTACHED:
        return result(UPSTREAM, CRITICAL, "node %s is not attached to expected upstream node %s" % names)
    return result(UPSTREAM, OK, "node %s is attached to expected upstream node %s" % names)


def downstream_records(record: NodeRecord, records) -> list:
    """get_downstream_node_records(): every node whose recorded upstream is this one (active or not), by node_id."""
    return sorted((r for r in records if r.upstream_node_id == record.node_id), key=lambda r: r.node_id)


def downstream_check(record: NodeRecord, records, replication_clients: Optional[Tuple[ReplicationClient, ...]]
                     ) -> CheckResult:
    """do_node_check_downstream(): is every downstream node (witnesses aside) streaming from this node?

    `records` is this node's copy of repmgr.nodes; `replication_clients` its pg_stat_replication
    (None when it could not be read: every downstream node then counts as missing, as in repmgr).
    Any missing node is CRITICAL, except on a witness, which reports N/A.
    """
    here = NodeObservation(record.node_id, Reachability.CONNECTED, replication=replication_clients)
    attached, missing = [], []
    for downstream in downstream_records(record, records):
        if _is(downstream, NodeType.WITNESS):
            continue
        state, _walsender = status.attachment(here, downstream.node_name)
        name = "%s (ID: %d)" % (downstream.node_name, downstream.node_id)
        (attached if state is status.Attachment.ATTACHED else missing).append(name)
    expected = len(attached) + len(missing)
    perfdata = " | attached=%d, missing=%d" % (len(attached), len(missing))
    missing_list = " (missing: %s)" % ", ".join(missing) if missing else ""
    if _is(record, NodeType.WITNESS):
        details = "N/A - node is a witness"
        return result(DOWNSTREAM, OK, details, details + missing_list + perfdata)
    if not missing:
        details = ("this node has no downstream nodes" if expected == 0
                   else "%d of %d downstream nodes attached" % (len(attached), expected))
        return result(DOWNSTREAM, OK, details, details + perfdata)
    summary = "%d of %d downstream nodes not attached" % (len(missing), expected)
    return result(DOWNSTREAM, CRITICAL, summary + "; missing: " + ", ".join(missing), summary + missing_list + perfdata)


def slots_check(slots: Optional[Tuple[Slot, ...]]) -> CheckResult:
    """do_node_check_slots(): any inactive physical replication slot is CRITICAL (it retains WAL)."""
    if slots is None:
        return result(SLOTS, UNKNOWN, "unable to query replication slots")
    physical = [slot for slot in slots if slot.slot_type == "physical"]
    inactive = [slot for slot in physical if not slot.active]
    perfdata = " | slots=%d;%d" % (len(physical), len(inactive))
    if not physical:
        details = "node has no physical replication slots"
        return result(SLOTS, OK, details, details + perfdata)
    if not inactive:
        details = "%d of %d physical replication slots are active" % (len(physical), len(physical))
        return result(SLOTS, OK, details, details + perfdata)
    details = "%d of %d physical replication slots are inactive" % (len(inactive), len(physical))
    return result(SLOTS, CRITICAL, details, details + perfdata)


def missing_slot_records(record: NodeRecord, records, slots: Tuple[Slot, ...]) -> list:
    """get_downstream_nodes_with_missing_slot(): standbys recorded downstream of this node whose slot_name
    is set but names no slot on this server (of any type), by node_id."""
    names = {slot.slot_name for slot in slots}
    return [r for r in downstream_records(record, records)
            if _is(r, NodeType.STANDBY) and r.slot_name is not None and r.slot_name not in names]


def missing_slots_check(record: NodeRecord, records, slots: Optional[Tuple[Slot, ...]]) -> CheckResult:
    """do_node_check_missing_slots(): a downstream standby's recorded slot missing here is CRITICAL."""
    if slots is None:
        return result(MISSING_SLOTS, UNKNOWN, "unable to query replication slots")
    missing = [r.slot_name for r in missing_slot_records(record, records, slots)]
    if not missing:
        details = "node has no missing physical replication slots"
        return result(MISSING_SLOTS, OK, details, details + " | missing_slots=0")
    details = "%d physical replication slots are missing: %s" % (len(missing), ", ".join(missing))
    return result(MISSING_SLOTS, CRITICAL, details,
                  details + " | missing_slots=%d;%s" % (len(missing), ",".join(missing)))


def data_directory_check(configured: str, actual: Optional[str], can_read_settings: bool,
                         is_pg_dir: Optional[bool] = None) -> CheckResult:
    """do_node_check_data_directory(): does repmgr.conf's data_directory name the server's?

    With the right to read settings (superuser, pg_monitor, pg_read_all_settings) the server's
    data_directory must equal the configured one (after repmgr's path canonicalisation); without
    it repmgr only checks that the configured directory holds a PG_VERSION file (`is_pg_dir`).
    The --nagios line carries the configured directory, and the detail only when CRITICAL.
    """
    configured = canonical_path(configured)
    service = LABELS[DATA_DIRECTORY_CONFIG][1]

    def line(check_status, nagios_detail=None):
        text = "%s %s: %s" % (service, check_status.value, configured)
        return text + (" | %s" % nagios_detail if check_status is CRITICAL else "")

    matches = 'configured "data_directory" is "%s"' % configured
    if can_read_settings:
        if actual is None:
            details = 'unable to determine current "data_directory"'
            return CheckResult(DATA_DIRECTORY_CONFIG, UNKNOWN, details, line(UNKNOWN))
        if actual != configured:
            actual_text = 'actual data directory is "%s"' % actual
            details = matches + "; " + actual_text
            return CheckResult(DATA_DIRECTORY_CONFIG, CRITICAL, details, line(CRITICAL, actual_text))
        return CheckResult(DATA_DIRECTORY_CONFIG, OK, matches, line(OK))
    if not is_pg_dir:
        details = 'configured "data_directory" "%s" is not a PostgreSQL data directory' % configured
        return CheckResult(DATA_DIRECTORY_CONFIG, CRITICAL, details,
                           line(CRITICAL, 'configured "data_directory" is not a PostgreSQL data directory'))
    return CheckResult(DATA_DIRECTORY_CONFIG, OK, matches, line(OK))


def canonical_path(path: str) -> str:
    """repmgr canonicalises repmgr.conf's data_directory (canonicalize_path()): no trailing or doubled
    slashes, no "." or ".." components."""
    if not path:
        return path
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def not_checked(name: str, check_status: CheckStatus, reason: str) -> CheckResult:
    """A check that could not run (node unreachable, no record): its status and the reason."""
    return result(name, check_status, reason)


# --- the whole check ------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeFacts:
    """Everything the checks need to know about one node, as plain data. Unknown facts are None.

    reachable/error: whether a session to the node was opened (the libpq error, masked, if not).
    record: the node's own record in its own metadata; None with `unregistered` saying why.
    records: the node's copy of repmgr.nodes. in_recovery: pg_is_in_recovery().
    replication_lag_seconds / archive_ready_files: the queries' values (None: could not be read).
    replication_clients: the node's pg_stat_replication. slots: its replication slots.
    upstream_seen: a probe of its recorded upstream. actual_data_directory / can_read_settings /
    data_directory_is_pg_dir: for the data directory check.
    """

    target: str = ""  # how the node was reached (host and port), for messages before its name is known
    reachable: bool = True
    error: Optional[str] = None
    record: Optional[NodeRecord] = None
    unregistered: Optional[str] = None
    records: Tuple[NodeRecord, ...] = ()
    in_recovery: Optional[bool] = None
    replication_lag_seconds: Optional[int] = None
    archive_ready_files: Optional[int] = None
    replication_clients: Optional[Tuple[ReplicationClient, ...]] = None
    slots: Optional[Tuple[Slot, ...]] = None
    upstream_seen: Optional[NodeObservation] = None
    actual_data_directory: Optional[str] = None
    can_read_settings: bool = False
    data_directory_is_pg_dir: Optional[bool] = None

    def upstream_record(self) -> Optional[NodeRecord]:
        """The record of this node's recorded upstream in its own metadata (get_node_record())."""
        if self.record is None or self.record.upstream_node_id is None:
            return None
        return next((r for r in self.records if r.node_id == self.record.upstream_node_id), None)


@dataclass(frozen=True)
class NodeCheck:
    """The result of `repmgr node check` on one node: every check run, and repmgr's exit code."""

    results: Tuple[CheckResult, ...]
    node_id: Optional[int] = None
    node_name: Optional[str] = None
    header: str = ""
    reachable: bool = True
    error: Optional[str] = None
    skipped: Tuple[str, ...] = ()

    @property
    def single(self) -> bool:
        """One check asked for: repmgr's `--<check>` (Nagios exit code), else the full check (0 or 25)."""
        return len(self.results) == 1

    @property
    def exit_code(self) -> int:
        if self.single:
            return self.results[0].status.nagios_code
        return ERR_NODE_STATUS if any(r.status is not OK for r in self.results) else EXIT_SUCCESS

    def text(self) -> str:
        """What `repmgr node check` prints (without --nagios)."""
        return "\n".join(['Node "%s":' % self.header] + [r.line for r in self.results])

    def as_dict(self) -> dict:
        return dict(
            changed=False,
            node_id=self.node_id,
            node_name=self.node_name,
            reachable=self.reachable,
            checks={r.name: r.as_dict() for r in self.results},
            nagios=[r.nagios for r in self.results],
            node_check=self.text(),
            exit_code=self.exit_code,
            skipped_checks=list(self.skipped),
            error=self.error,
            msg="; ".join(r.nagios.split(" | ")[0] for r in self.results if r.status is not OK) or "all checks OK",
        )


def run_checks(facts: NodeFacts, names=CHECKS, thresholds: Thresholds = Thresholds(),
               data_directory: Optional[str] = None, skipped=()) -> NodeCheck:
    """Run the checks `names` (in repmgr's order) over what gather() saw.

    A node that did not answer: every check CRITICAL (repmgr exits with a connection error before
    any check; Nagios, and repmgr's own --db-connection check, call that CRITICAL). A node without
    a record (or without metadata): every check UNKNOWN (repmgr: "no record found for node N").
    """
    names = [name for name in CHECKS if name in names]
    record = facts.record
    header = record.node_name if record is not None else facts.target
    common = dict(node_id=record.node_id if record else None, node_name=record.node_name if record else None,
                  header=header, reachable=facts.reachable, error=facts.error, skipped=tuple(skipped))
    if not facts.reachable:
        reason = connection_failure_text(facts.error)
        return NodeCheck(tuple(not_checked(name, CRITICAL, reason) for name in names), **common)
    if record is None:
        reason = facts.unregistered or "no record found for this node"
        return NodeCheck(tuple(not_checked(name, UNKNOWN, reason) for name in names), **common)
    rules = {
        ROLE: lambda: role_check(record, facts.in_recovery),
        REPLICATION_LAG: lambda: replication_lag_check(record, facts.in_recovery, facts.replication_lag_seconds,
                                                       thresholds),
        ARCHIVE_READY: lambda: archive_ready_check(facts.archive_ready_files, thresholds),
        UPSTREAM: lambda: upstream_check(record, facts.in_recovery, facts.upstream_record(), facts.upstream_seen),
        DOWNSTREAM: lambda: downstream_check(record, facts.records, facts.replication_clients),
        SLOTS: lambda: slots_check(facts.slots),
        MISSING_SLOTS: lambda: missing_slots_check(record, facts.records, facts.slots),
        DATA_DIRECTORY_CONFIG: lambda: data_directory_check(data_directory or "", facts.actual_data_directory,
                                                            facts.can_read_settings, facts.data_directory_is_pg_dir),
    }
    return NodeCheck(tuple(rules[name]() for name in names), **common)


def connection_failure_text(message: Optional[str]) -> str:
    """repmgr's "connection to database failed", and the first line of libpq's reason (one line for Nagios).

    `message` is ConnectionFailed's, masked: 'unable to connect to <host> port <port> (user "u",
    database "d"): connection failed: <libpq's message>'.
    """
    text = (message or "").strip()
    ours, psycopgs = '"): ', "connection failed: "
    if text.startswith("unable to connect to ") and ours in text:
        text = text.split(ours, 1)[1]
    if text.startswith(psycopgs):
        text = text[len(psycopgs):]
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return "connection to database failed" + (": " + lines[0] if lines else "")


# --- options --------------------------------------------------------------------------------------


def thresholds_from(params) -> Thresholds:
    return Thresholds(
        archive_ready_warning=params["archive_ready_warning"],
        archive_ready_critical=params["archive_ready_critical"],
        replication_lag_warning=params["replication_lag_warning"],
        replication_lag_critical=params["replication_lag_critical"],
    )


def selected_checks(params):
    """(checks to run, checks skipped). `checks` unset means all of them; data_directory_config
    needs data_directory (repmgr.conf requires it): without it the full check leaves it out."""
    if params.get("checks"):
        return [name for name in CHECKS if name in params["checks"]], []
    if params.get("data_directory"):
        return list(CHECKS), []
    return [name for name in CHECKS if name != DATA_DIRECTORY_CONFIG], [DATA_DIRECTORY_CONFIG]


def validate(params):
    """Bad input fails before anything is read, naming the option (repmgr.conf's checks where it has them)."""
    connection.validate_connection_params(params)
    if params.get("node_id") is not None:
        require_node_id(params["node_id"])
    for kind in ("archive_ready", "replication_lag"):
        warning, critical = params["%s_warning" % kind], params["%s_critical" % kind]
        for name, value in (("%s_warning" % kind, warning), ("%s_critical" % kind, critical)):
            if value < 1:
                raise InvalidOption(name, "must be at least 1 (got %d)" % value)
        if warning >= critical:
            raise InvalidOption("%s_critical" % kind, "must be greater than %s_warning (got %d and %d)"
                                % (kind, critical, warning))
    checks = params.get("checks") or []
    if DATA_DIRECTORY_CONFIG in checks and not params.get("data_directory"):
        raise InvalidOption("data_directory", "is required by the data_directory_config check: give the data "
                                              "directory the node should run from (repmgr.conf's data_directory)")


# --- I/O: the one function that looks at the node -------------------------------------------------


def _rows(conn, statement, params=(), log=None):
    """The rows of a read-only statement, or None when it fails (no privilege, old server).

    The session is in autocommit mode, so a failed statement costs only itself.
    """
    if log is not None:
        log.add(statement)
    try:
        with conn.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()
    except psycopg.Error:
        return None


def gather(params, ctx, names=CHECKS) -> NodeFacts:
    """What the checks `names` need to know about the node the login_* options reach.

    Opens one session (bounded by connect_timeout); a failed connection is a NodeFacts with
    reachable=False. The node is params["node_id"], or else the record whose conninfo names the
    host and port the session reached. The upstream is probed only for the upstream check, within
    connect_timeout, and the data directory is looked at on this host only for
    data_directory_config without the right to read server settings (as repmgr does).
    """
    target = connection.describe_target(connection.login_conninfo(params)).split(" (")[0]
    try:
        conn = connection.connect_with_params(params, statement_timeout=max(params["connect_timeout"], 5))
    except ConnectionFailed as exc:
        return NodeFacts(target=target, reachable=False, error=str(exc))
    try:
        return _gather_connected(conn, params, ctx, names, target)
    finally:
        conn.close()


def _gather_connected(conn, params, ctx, names, target) -> NodeFacts:
    log = ctx.log
    rows = _rows(conn, metadata.NODES_TABLE_EXISTS, log=log)
    if not rows or not rows[0][0]:
        return NodeFacts(target=target, unregistered="no repmgr metadata on this node (database %s has no table "
                                                     "repmgr.nodes)" % conn.info.dbname)
    rows = _rows(conn, metadata.SELECT_NODES, log=log) or []
    records = tuple(metadata.node_record_from_row(row) for row in rows)
    node_id = params.get("node_id")
    if node_id is None:
        node_id = cluster.local_node_id(conn, records)
        if node_id is None:
            return NodeFacts(target=target, records=records,
                             unregistered="no record found for the node at %s: no conninfo in repmgr.nodes names "
                                          "this host and port (set node_id)" % target)
    record = next((r for r in records if r.node_id == node_id), None)
    if record is None:
        return NodeFacts(target=target, records=records, unregistered="no record found for node %d" % node_id)

    facts = dict(target=target, record=record, records=records)
    rows = _rows(conn, replication.IN_RECOVERY, log=log)
    facts["in_recovery"] = bool(rows[0][0]) if rows else None
    if REPLICATION_LAG in names and facts["in_recovery"] is not False:
        rows = _rows(conn, replication.REPLICATION_LAG_SECONDS, log=log)
        facts["replication_lag_seconds"] = (rows[0][0] or 0) if rows else None  # NULL is 0, as repmgr's atoi()
    if ARCHIVE_READY in names:
        rows = _rows(conn, replication.ARCHIVE_READY_FILES, log=log)
        facts["archive_ready_files"] = rows[0][0] if rows else None
    if SLOTS in names or MISSING_SLOTS in names:
        rows = _rows(conn, replication.REPLICATION_SLOTS, log=log)
        facts["slots"] = tuple(Slot(r[0], r[1], bool(r[2])) for r in rows) if rows is not None else None
    if DOWNSTREAM in names:
        rows = _rows(conn, replication.REPLICATION_CLIENTS, log=log)
        facts["replication_clients"] = replication.replication_clients_from_rows(rows) if rows is not None else None
    if UPSTREAM in names:
        upstream = NodeFacts(record=record, records=records).upstream_record()
        if upstream is not None and not _is(record, NodeType.WITNESS):
            seen = probe.probe_nodes([upstream], password=ctx.password, timeout=ctx.timeout, secrets=ctx.secrets)
            facts["upstream_seen"] = seen[upstream.node_id]
    if DATA_DIRECTORY_CONFIG in names and params.get("data_directory"):
        rows = _rows(conn, replication.MONITOR_ROLES, log=log)
        superuser, monitor, _stats, settings = rows[0] if rows else (False, False, False, False)
        facts["can_read_settings"] = bool(superuser or monitor or settings)
        if facts["can_read_settings"]:
            rows = _rows(conn, replication.DATA_DIRECTORY, log=log)
            facts["actual_data_directory"] = rows[0][0] if rows else None
        else:
            configured = canonical_path(params["data_directory"])
            facts["data_directory_is_pg_dir"] = os.path.exists(os.path.join(configured, "PG_VERSION"))
    return NodeFacts(**facts)


def node_check(params, ctx) -> NodeCheck:
    """repmgr node check for the module: validate, gather, run the rules."""
    names, skipped = selected_checks(params)
    facts = gather(params, ctx, names)
    return run_checks(facts, names, thresholds_from(params), params.get("data_directory"), skipped)
