# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`repmgr cluster show` / `cluster event` rules, checked against repmgr 5.3's texts.

Every case builds a small cluster the way a DBA would describe it ("node1 is a healthy
primary, node2 is a standby that is down") and asserts what repmgr would print.
"""

from __future__ import annotations

import re

import textwrap

import builders
import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.pgha.repmgr.plugins.module_utils import records, status, tables
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeObservation,
    NodeRecord,
    Reachability,
    ReplicationClient,
)

CONNECTED, REJECTED, DOWN = Reachability.CONNECTED, Reachability.REJECTED, Reachability.DOWN
PRIMARY, STANDBY, RECOVERY_UNKNOWN = False, True, None  # values of in_recovery


# --- a tiny cluster builder -----------------------------------------------------------


def node(node_id, node_type="standby", upstream=None, active=True, priority=100, names=None):
    """A metadata row (builders.record) with the upstream's name; `upstream` is the upstream's node id."""
    names = names or {}
    return builders.record(node_id, node_type, upstream, active, priority=priority,
                           name=names.get(node_id, "node%d" % node_id), conninfo="host=db_node%d dbname=repmgr user=repmgr",
                           upstream_node_name=None if upstream is None else names.get(upstream, "node%d" % upstream),
                           upstream_node_id=upstream, repluser="", slot_name=None)


def streaming(*names, state="streaming"):
    return tuple(ReplicationClient(application_name=name, state=state) for name in names)


def seen(record, reachability=CONNECTED, in_recovery="auto", timeline=1, own="same", replication=(), **extra):
    """What a probe saw on `record`'s node; in recovery by default if registered as a standby."""
    if reachability is not CONNECTED:
        return NodeObservation(node_id=record.node_id, reachability=reachability, error="connection refused")
    if in_recovery == "auto":
        in_recovery = record.type == "standby"
    return NodeObservation(
        node_id=record.node_id,
        reachability=CONNECTED,
        in_recovery=in_recovery,
        timeline=timeline,
        own_record=record if own == "same" else own,
        replication=replication,
        **extra,
    )


def healthy_primary(*downstreams):
    primary = node(1, "primary")
    return primary, seen(primary, replication=streaming(*downstreams))


def subject_row(show, node_id=2):
    return next(row for row in show.rows if row.node_id == node_id)


N2 = 'node "node2" (ID: 2)'
CONNECT_N2 = 'unable to connect to node "node2" (ID: 2)'


# --- Status column: one case per cell of the reference table --------------------------

STATUS_CASES = [
    # registered type, active, reachability, in_recovery -> status, warnings, exit
    ("primary-active-running", "primary", True, CONNECTED, PRIMARY, "* running", [], 0),
    ("primary-active-running-as-standby", "primary", True, CONNECTED, STANDBY, "! running as standby",
     [N2 + " is registered as primary but running as standby"], 25),
    ("primary-active-recovery-unknown", "primary", True, CONNECTED, RECOVERY_UNKNOWN, "! unknown",
     [N2 + " has unknown replication status"], 25),
    ("primary-active-rejected", "primary", True, REJECTED, None, "? running", [CONNECT_N2], 25),
    ("primary-active-down", "primary", True, DOWN, None, "? unreachable",
     [CONNECT_N2, N2 + " is registered as an active primary but is unreachable"], 25),
    ("primary-inactive-running", "primary", False, CONNECTED, PRIMARY, "! running",
     [N2 + " is running but the repmgr node record is inactive"], 25),
    ("primary-inactive-running-as-standby", "primary", False, CONNECTED, STANDBY, "! running as standby",
     [N2 + " is registered as an inactive primary but running as standby"], 25),
    ("primary-inactive-recovery-unknown", "primary", False, CONNECTED, RECOVERY_UNKNOWN, "! running as standby",
     [N2 + " is registered as an inactive primary but running as standby"], 25),
    ("primary-inactive-rejected", "primary", False, REJECTED, None, "! running", [CONNECT_N2], 25),
    ("primary-inactive-down", "primary", False, DOWN, None, "- failed", [CONNECT_N2], 25),
    ("standby-active-running", "standby", True, CONNECTED, STANDBY, "  running", [], 0),
    ("standby-active-running-as-primary", "standby", True, CONNECTED, PRIMARY, "! running as primary",
     [N2 + " is registered as standby but running as primary"], 25),
    ("standby-active-recovery-unknown", "standby", True, CONNECTED, RECOVERY_UNKNOWN, "! unknown",
     [N2 + " has unknown replication status"], 25),
    ("standby-active-rejected", "standby", True, REJECTED, None, "? running", [CONNECT_N2], 25),
    ("standby-active-down", "standby", True, DOWN, None, "? unreachable",
     [CONNECT_N2, N2 + " is registered as an active standby but is unreachable"], 25),
    ("standby-inactive-running", "standby", False, CONNECTED, STANDBY, "! running",
     [N2 + " is running but the repmgr node record is inactive"], 25),
    ("standby-inactive-running-as-primary", "standby", False, CONNECTED, PRIMARY, "! running as primary",
     [N2 + " is running as primary but the repmgr node record is inactive"], 25),
    ("standby-inactive-recovery-unknown", "standby", False, CONNECTED, RECOVERY_UNKNOWN, "! running as primary",
     [N2 + " is running as primary but the repmgr node record is inactive"], 25),
    ("standby-inactive-rejected", "standby", False, REJECTED, None, "! running", [CONNECT_N2], 25),
    ("standby-inactive-down", "standby", False, DOWN, None, "- failed", [CONNECT_N2], 25),
    ("witness-active-running", "witness", True, CONNECTED, PRIMARY, "* running", [], 0),
    ("witness-active-rejected", "witness", True, REJECTED, None, "? rejected", [CONNECT_N2], 25),
    ("witness-active-down", "witness", True, DOWN, None, "? unreachable", [CONNECT_N2], 25),
    ("witness-inactive-running", "witness", False, CONNECTED, PRIMARY, "! running", [], 25),
    ("witness-inactive-rejected", "witness", False, REJECTED, None, "! failed", [CONNECT_N2], 25),
    ("witness-inactive-down", "witness", False, DOWN, None, "- failed", [CONNECT_N2], 25),
    ("bdr-is-an-unknown-node-type", "bdr", True, CONNECTED, PRIMARY, "? unknown node type", [], 25),
    ("garbage-type-down", "nonsense", True, DOWN, None, "? unknown node type", [CONNECT_N2], 25),
]


@pytest.mark.parametrize(
    "node_type, active, reachability, in_recovery, expected_status, expected_warnings, exit_code",
    [case[1:] for case in STATUS_CASES],
    ids=[case[0] for case in STATUS_CASES],
)
def test_status_column(node_type, active, reachability, in_recovery, expected_status, expected_warnings, exit_code):
    primary, primary_seen = healthy_primary("node2")
    upstream = None if node_type == "primary" else 1
    subject = node(2, node_type, upstream=upstream, active=active)

    show = status.cluster_show(
        [primary, subject], {1: primary_seen, 2: seen(subject, reachability, in_recovery=in_recovery)}
    )

    row = subject_row(show)
    assert row.status == expected_status
    assert list(row.issues) == expected_warnings
    assert list(show.warnings) == expected_warnings  # the healthy primary adds nothing
    assert show.exit_code == exit_code
    assert show.error is (exit_code == 25)
    assert row.warning is (exit_code == 25)


def test_inactive_failed_node_keeps_exit_25_without_a_status_warning():
    """An old primary marked inactive and stopped: '- failed', the (E) flag, exit 25."""
    new_primary = node(2, "primary")
    old_primary = node(1, "primary", active=False)
    show = status.cluster_show([old_primary, new_primary], {2: seen(new_primary)})  # node1 not probed at all

    assert [(row.node_name, row.status) for row in show.rows] == [("node1", "- failed"), ("node2", "* running")]
    assert subject_row(show, 1).error is True
    assert show.warnings == ('unable to connect to node "node1" (ID: 1)',)
    assert show.exit_code == 25


def test_unknown_node_type_prints_role_unknown():
    primary, primary_seen = healthy_primary()
    legacy = node(2, "bdr")
    show = status.cluster_show([primary, legacy], {1: primary_seen, 2: seen(legacy, in_recovery=False)})
    row = subject_row(show)
    assert (row.role, row.status, row.upstream, row.error) == ("unknown", "? unknown node type", "", True)


WAL_CASES = [
    # paused, in_recovery, received, replayed, warned
    ("paused-with-replay-pending", True, True, 0x3000200, 0x3000100, True),
    ("paused-but-nothing-pending", True, True, 0x3000200, 0x3000200, False),
    ("paused-no-receiver-lsn", True, True, None, 0x3000100, False),
    ("not-paused", False, True, 0x3000200, 0x3000100, False),
    ("pause-state-unknown", None, True, 0x3000200, 0x3000100, False),
]


@pytest.mark.parametrize(
    "paused, in_recovery, received, replayed, warned", [c[1:] for c in WAL_CASES], ids=[c[0] for c in WAL_CASES]
)
def test_wal_replay_paused_warning(paused, in_recovery, received, replayed, warned):
    primary, primary_seen = healthy_primary("node2")
    standby = node(2, upstream=1)
    observed = seen(standby, in_recovery=in_recovery, wal_replay_paused=paused, received_lsn=received,
                    replayed_lsn=replayed)

    show = status.cluster_show([primary, standby], {1: primary_seen, 2: observed})

    paused_line = (
        'WAL replay is paused on node "node2" (ID: 2) with WAL replay pending; '
        "this node cannot be manually promoted until WAL replay is resumed"
    )
    assert subject_row(show).status == "  running"
    assert list(show.warnings) == ([paused_line] if warned else [])
    assert show.exit_code == (25 if warned else 0)


def test_wal_replay_warning_comes_after_the_status_warning_and_before_upstream_ones():
    """Inactive standby, paused with WAL pending, not attached: repmgr's order is kept."""
    primary, primary_seen = healthy_primary()  # node2 not in pg_stat_replication
    standby = node(2, upstream=1, active=False)
    observed = seen(standby, wal_replay_paused=True, received_lsn=20, replayed_lsn=10)
    show = status.cluster_show([primary, standby], {1: primary_seen, 2: observed})
    assert show.warnings == (
        N2 + " is running but the repmgr node record is inactive",
        'WAL replay is paused on node "node2" (ID: 2) with WAL replay pending; '
        "this node cannot be manually promoted until WAL replay is resumed",
        N2 + ' is not attached to its upstream node "node1" (ID: 1)',
    )


# --- Upstream column ------------------------------------------------------------------


DEFAULT = object()


def standby_case(primary_replication=DEFAULT, primary_reach=CONNECTED, standby_reach=CONNECTED,
                 own_upstream=1, local_upstream=1, own="standby"):
    """node1 primary, node2 standby, node3 standby; node2 is the subject."""
    primary = node(1, "primary")
    other = node(3, upstream=1)
    subject = node(2, upstream=local_upstream)
    own_record = {
        "standby": node(2, upstream=own_upstream),
        "primary": node(2, "primary"),
        "witness": node(2, "witness", upstream=own_upstream),
        None: None,
    }[own]
    replication = streaming("node2", "node3") if primary_replication is DEFAULT else primary_replication
    observations = {
        1: seen(primary, primary_reach, replication=replication),
        2: seen(subject, standby_reach, own=own_record),
        3: seen(other),
    }
    return status.cluster_show([primary, subject, other], observations)


ATTACHED_IN_CATCHUP = N2 + ' attached to its upstream node "node1" (ID: 1) in state "catchup"'
NOT_ATTACHED = N2 + ' is not attached to its upstream node "node1" (ID: 1)'
CANNOT_TELL = 'unable to determine if node "node2" (ID: 2) is attached to its upstream node "node1" (ID: 1)'
UPSTREAM_UNREACHABLE = 'unable to connect to node "node2" (ID: 2)\'s upstream node "node1" (ID: 1)'

UPSTREAM_CASES = [
    # id, standby_case kwargs, expected upstream text, node2's warnings
    ("attached-streaming", {}, "node1", []),
    ("attached-in-state-catchup", dict(primary_replication=streaming("node2", state="catchup")),
     "? node1", [ATTACHED_IN_CATCHUP]),
    ("not-in-pg-stat-replication", dict(primary_replication=streaming("node3")), "! node1", [NOT_ATTACHED]),
    ("two-walsenders-same-name", dict(primary_replication=streaming("node2", "node2")), "? node1", [CANNOT_TELL]),
    ("pg-stat-replication-unreadable", dict(primary_replication=None), "? node1", [CANNOT_TELL]),
    ("state-hidden-without-pg-read-all-stats-assumed-attached",
     dict(primary_replication=streaming("node2", state=None)), "node1", []),
    ("upstream-down", dict(primary_reach=DOWN), "? node1", [UPSTREAM_UNREACHABLE, CANNOT_TELL]),
    ("upstream-rejects-connections", dict(primary_reach=REJECTED), "? node1", [UPSTREAM_UNREACHABLE, CANNOT_TELL]),
    ("node-unreachable-shows-local-upstream", dict(standby_reach=DOWN), "? node1",
     [CONNECT_N2, N2 + " is registered as an active standby but is unreachable"]),
    ("node-rejected-shows-local-upstream", dict(standby_reach=REJECTED), "? node1", [CONNECT_N2]),
    ("own-record-missing", dict(own=None), "? node1", []),
    ("node-says-it-is-primary", dict(own="primary"), "", []),
    ("reports-no-upstream", dict(own_upstream=None), "!",
     [N2 + ' reports it has no upstream (expected: "node1")']),
    ("reports-a-different-upstream", dict(own_upstream=3), "! node3",
     [N2 + ' reports a different upstream (reported: "node3", expected "node1")']),
    ("metadata-expects-no-upstream", dict(local_upstream=None), "", []),
    ("neither-has-an-upstream", dict(local_upstream=None, own_upstream=None), "", []),
]


@pytest.mark.parametrize("kwargs, expected_upstream, expected_warnings", [c[1:] for c in UPSTREAM_CASES],
                         ids=[c[0] for c in UPSTREAM_CASES])
def test_upstream_column_of_a_standby(kwargs, expected_upstream, expected_warnings):
    show = standby_case(**kwargs)
    row = subject_row(show)
    assert row.upstream == expected_upstream
    assert list(row.issues) == expected_warnings
    assert show.exit_code == (25 if show.warnings else 0)


def test_unreachable_primary_shows_question_mark_and_a_space():
    """'? ' + the local upstream name, which a primary does not have."""
    primary = node(1, "primary")
    show = status.cluster_show([primary], {})
    assert show.rows[0].upstream == "? "
    assert show.rows[0].timeline == ""


def test_upstream_record_missing_reports_repmgrs_empty_record():
    """A dangling upstream id: repmgr prints its blank record (name "", ID -1)."""
    primary, primary_seen = healthy_primary("node2")
    standby = NodeRecord(node_id=2, node_name="node2", type="standby", upstream_node_id=9)
    show = status.cluster_show([primary, standby], {1: primary_seen, 2: seen(standby)})
    row = subject_row(show)
    assert row.upstream == "? "
    assert row.issues == (
        "unable to find record for upstream node ID 9",
        'unable to determine if node "node2" (ID: 2) is attached to its upstream node "" (ID: -1)',
    )


def test_cascading_standby_is_checked_on_its_own_upstream():
    primary, primary_seen = healthy_primary("node2")
    middle = node(2, upstream=1)
    leaf = node(3, upstream=2)
    show = status.cluster_show(
        [primary, middle, leaf],
        {1: primary_seen, 2: seen(middle, replication=streaming("node3")), 3: seen(leaf)},
    )
    assert [row.upstream for row in show.rows] == ["", "node1", "node2"]
    assert show.exit_code == 0


WITNESS_UPSTREAM_CASES = [
    # id, local upstream id, own upstream id, primary reachability, upstream text, warnings
    ("witness-upstream-reachable", 1, 1, CONNECTED, "node1", []),
    ("witness-reports-no-upstream", 1, None, CONNECTED, "! ",
     ['node "node5" (ID: 5) is a witness but reports it has no upstream node']),
    ("witness-reports-a-different-upstream", 1, 3, CONNECTED, "! node3",
     ['node "node5" (ID: 5) reports a different upstream (reported: "node3", expected "node1")']),
    ("witness-metadata-has-no-upstream", None, 1, CONNECTED, "! node1",
     ['node "node5" (ID: 5) reports a different upstream (reported: "node1", expected "")']),
    ("witness-upstream-down", 1, 1, DOWN, "? node1",
     ['unable to connect to node "node5" (ID: 5)\'s upstream node "node1" (ID: 1)']),
    ("witness-upstream-rejects", 1, 1, REJECTED, "? node1",
     ['unable to connect to node "node5" (ID: 5)\'s upstream node "node1" (ID: 1)']),
]


@pytest.mark.parametrize(
    "local_upstream, own_upstream, primary_reach, expected_upstream, expected_warnings",
    [c[1:] for c in WITNESS_UPSTREAM_CASES],
    ids=[c[0] for c in WITNESS_UPSTREAM_CASES],
)
def test_upstream_column_of_a_witness(local_upstream, own_upstream, primary_reach, expected_upstream,
                                      expected_warnings):
    primary = node(1, "primary")
    standby = node(3, upstream=1)
    witness = node(5, "witness", upstream=local_upstream, priority=0)
    own = node(5, "witness", upstream=own_upstream, priority=0)
    show = status.cluster_show(
        [primary, standby, witness],
        {1: seen(primary, primary_reach, replication=streaming("node3")), 3: seen(standby),
         5: seen(witness, in_recovery=False, own=own)},
    )
    row = subject_row(show, 5)
    assert (row.status, row.timeline) == ("* running", "n/a")
    assert row.upstream == expected_upstream
    assert list(row.issues) == expected_warnings


def test_witness_upstream_record_missing():
    primary, primary_seen = healthy_primary()
    witness = NodeRecord(node_id=5, node_name="node5", type="witness", upstream_node_id=7,
                         upstream_node_name="ghost")
    show = status.cluster_show([primary, witness], {1: primary_seen, 5: seen(witness, in_recovery=False)})
    row = subject_row(show, 5)
    assert row.upstream == "? ghost"
    assert row.issues == ("unable to find record for upstream node ID 7",)


# --- Timeline column and the verbose connection text ----------------------------------


@pytest.mark.parametrize(
    "node_type, reachability, timeline, expected",
    [
        ("standby", CONNECTED, 3, "3"),
        ("standby", CONNECTED, None, "?"),
        ("standby", DOWN, None, ""),
        ("standby", REJECTED, None, ""),
        ("witness", CONNECTED, 1, "n/a"),
        ("witness", DOWN, None, "n/a"),
    ],
    ids=["number", "query-failed", "down", "rejected", "witness", "witness-down"],
)
def test_timeline_column(node_type, reachability, timeline, expected):
    primary, primary_seen = healthy_primary("node2")
    subject = node(2, node_type, upstream=1)
    show = status.cluster_show([primary, subject], {1: primary_seen, 2: seen(subject, reachability, timeline=timeline)})
    assert subject_row(show).timeline == expected


def test_verbose_puts_the_libpq_error_in_the_warning_and_drops_the_hint():
    primary = node(1, "primary")
    observed = NodeObservation(node_id=1, reachability=DOWN,
                               error='connection to server at "127.0.0.11", port 55432 failed: Connection refused\n')
    show = status.cluster_show([primary], {1: observed}, verbose=True)
    assert show.warnings[0] == (
        'when attempting to connect to node "node1" (ID: 1), following error encountered :\n'
        '"connection to server at "127.0.0.11", port 55432 failed: Connection refused"'
    )
    assert tables.format_warnings(show) == [
        "",
        "WARNING: following issues were detected",
        '  - when attempting to connect to node "node1" (ID: 1), following error encountered :',
        '"connection to server at "127.0.0.11", port 55432 failed: Connection refused"',
        '  - node "node1" (ID: 1) is registered as an active primary but is unreachable',
        "",
    ]


def test_csv_lines():
    show = standby_case(standby_reach=DOWN)
    assert tables.format_show_csv(show.rows) == ["1,0,0", "2,-1,-1", "3,0,1"]


# --- printing: fixtures from repmgr's documentation -----------------------------------


def doc_block(text):
    return textwrap.dedent(text).strip("\n").split("\n")


# doc/repmgr-cluster-show.xml, first example (repmgr 5.3.3)
DOC_HEALTHY = doc_block("""
     ID | Name  | Role    | Status    | Upstream | Location | Priority | Timeline | Connection string
    ----+-------+---------+-----------+----------+----------+----------+----------+-----------------------------------------
     1  | node1 | primary | * running |          | default  | 100      | 1        | host=db_node1 dbname=repmgr user=repmgr
     2  | node2 | standby |   running | node1    | default  | 100      | 1        | host=db_node2 dbname=repmgr user=repmgr
     3  | node3 | standby |   running | node1    | default  | 100      | 1        | host=db_node3 dbname=repmgr user=repmgr
     4  | node4 | standby |   running | node1    | default  | 100      | 1        | host=db_node4 dbname=repmgr user=repmgr
     5  | node5 | witness | * running | node1    | default  | 0        | n/a      | host=db_node5 dbname=repmgr user=repmgr
""")


def healthy_cluster(size):
    primary = node(1, "primary")
    standbys = [node(i, upstream=1) for i in range(2, min(size, 4) + 1)]
    members = [primary] + standbys
    observations = {1: seen(primary, replication=streaming(*[s.node_name for s in standbys]))}
    observations.update({s.node_id: seen(s) for s in standbys})
    if size == 5:
        witness = node(5, "witness", upstream=1, priority=0)
        members.append(witness)
        observations[5] = seen(witness, in_recovery=False)
    return members, observations


@pytest.mark.parametrize("size", [3, 5], ids=["three-nodes", "doc-example-with-witness"])
def test_table_of_a_healthy_cluster_matches_the_documentation(size):
    members, observations = healthy_cluster(size)
    show = status.cluster_show(members, observations)
    lines = tables.format_show_table(show.rows)
    # the doc's header line lost its trailing padding; repmgr pads the last title too
    assert [line.rstrip() for line in lines] == DOC_HEALTHY[: 2 + size]
    assert lines[0] == DOC_HEALTHY[0] + " " * (len("host=db_node1 dbname=repmgr user=repmgr") - len("Connection string"))
    assert lines[1] == DOC_HEALTHY[1]
    assert tables.format_warnings(show) == []
    assert show.exit_code == 0


def test_compact_table_drops_the_conninfo_and_ends_rows_with_a_space():
    members, observations = healthy_cluster(3)
    lines = tables.format_show_table(status.cluster_show(members, observations).rows, compact=True)
    assert lines == [
        " ID | Name  | Role    | Status    | Upstream | Location | Prio. | TLI",
        "----+-------+---------+-----------+----------+----------+-------+-----",
        " 1  | node1 | primary | * running |          | default  | 100   | 1   ",
        " 2  | node2 | standby |   running | node1    | default  | 100   | 1   ",
        " 3  | node3 | standby |   running | node1    | default  | 100   | 1   ",
    ]


def test_table_without_timeline_for_servers_before_9_6():
    members, observations = healthy_cluster(3)
    lines = tables.format_show_table(status.cluster_show(members, observations).rows, compact=True,
                                     show_timeline=False)
    assert lines[0] == " ID | Name  | Role    | Status    | Upstream | Location | Prio."
    assert lines[2] == " 1  | node1 | primary | * running |          | default  | 100   "


# doc/repmgr-cluster-show.xml, second example, run on node3: node1 down, node2 promoted by
# hand, node4 refusing connections. Two differences from the doc, where the source wins:
# node1's Upstream cell is "? " (format_node_status prints "? " + the local upstream name,
# empty for a primary), and log_warning() leaves a blank line before the HINT. (The doc's
# dash line is also 11 dashes too long for its 39-character conninfo: a hand edit.)
DOC_DEGRADED = doc_block("""
     ID | Name  | Role    | Status               | Upstream | Location | Priority | Timeline | Connection string
    ----+-------+---------+----------------------+----------+----------+----------+----------+-----------------------------------------
     1  | node1 | primary | ? unreachable        | ?        | default  | 100      |          | host=db_node1 dbname=repmgr user=repmgr
     2  | node2 | standby | ! running as primary | ? node1  | default  | 100      | 2        | host=db_node2 dbname=repmgr user=repmgr
     3  | node3 | standby |   running            | ? node1  | default  | 100      | 1        | host=db_node3 dbname=repmgr user=repmgr
     4  | node4 | standby | ? running            | ? node1  | default  | 100      |          | host=db_node4 dbname=repmgr user=repmgr

    WARNING: following issues were detected
      - unable to connect to node "node1" (ID: 1)
      - node "node1" (ID: 1) is registered as an active primary but is unreachable
      - node "node2" (ID: 2) is registered as standby but running as primary
      - unable to connect to node "node2" (ID: 2)'s upstream node "node1" (ID: 1)
      - unable to determine if node "node2" (ID: 2) is attached to its upstream node "node1" (ID: 1)
      - unable to connect to node "node3" (ID: 3)'s upstream node "node1" (ID: 1)
      - unable to determine if node "node3" (ID: 3) is attached to its upstream node "node1" (ID: 1)
      - unable to connect to node "node4" (ID: 4)

    HINT: execute with --verbose option to see connection error messages
""")


def test_degraded_cluster_matches_the_documentation():
    primary = node(1, "primary")
    standbys = [node(i, upstream=1) for i in (2, 3, 4)]
    observations = {
        # node2 was promoted by hand: out of recovery on timeline 2, its record still says standby
        2: seen(standbys[0], in_recovery=False, timeline=2),
        3: seen(standbys[1]),
        4: seen(standbys[2], REJECTED),
    }  # node1: no observation at all, i.e. down
    show = status.cluster_show([primary] + standbys, observations)

    lines = tables.format_show(show)
    assert [line.rstrip() for line in lines] == DOC_DEGRADED
    assert show.exit_code == 25


# doc/repmgr-cluster-event.xml
DOC_EVENTS = doc_block("""
     Node ID | Name  | Event            | OK | Timestamp           | Details
    ---------+-------+------------------+----+---------------------+-------------------------------------------------------
     3       | node3 | standby_register | t  | 2019-04-16 10:59:59 | standby registration succeeded; upstream node ID is 1
     2       | node2 | standby_register | t  | 2019-04-16 10:59:57 | standby registration succeeded; upstream node ID is 1
""")

REGISTER_EVENTS = [
    dict(node_id=3, node_name="node3", event="standby_register", successful=True, timestamp="2019-04-16 10:59:59",
         details="standby registration succeeded; upstream node ID is 1"),
    dict(node_id=2, node_name="node2", event="standby_register", successful=True, timestamp="2019-04-16 10:59:57",
         details="standby registration succeeded; upstream node ID is 1"),
]


def test_event_table_matches_the_documentation():
    lines = tables.format_event_table(REGISTER_EVENTS)
    assert [line.rstrip() for line in lines] == DOC_EVENTS + [""]  # repmgr ends with a blank line
    assert lines[0] == DOC_EVENTS[0] + " " * (len(REGISTER_EVENTS[0]["details"]) - len("Details"))


def test_event_table_of_a_deleted_node_and_a_failure():
    import datetime

    events = [
        dict(node_id=12, node_name=None, event="standby_follow", successful=False,
             timestamp=datetime.datetime(2024, 5, 1, 9, 30, 5), details=None),
        dict(node_id=1, node_name="node1", event="primary_register", successful=True,
             timestamp="2024-05-01 09:00:00", details=""),
    ]
    assert tables.format_event_table(events) == [
        " Node ID | Name  | Event            | OK | Timestamp           | Details",
        "---------+-------+------------------+----+---------------------+---------",
        " 12      |       | standby_follow   | f  | 2024-05-01 09:30:05 |        ",
        " 1       | node1 | primary_register | t  | 2024-05-01 09:00:00 |        ",
        "",
    ]
    assert tables.format_event_table(events, compact=True)[0] == (
        " Node ID | Name  | Event            | OK | Timestamp          "
    )
    assert tables.format_event_csv(events) == ["12,,standby_follow,f,2024-05-01 09:30:05",
                                               "1,node1,primary_register,t,2024-05-01 09:00:00"]


def test_no_events():
    assert tables.format_event_table([]) == ["no matching events found"]


def test_widths_are_counted_in_bytes_like_strlen():
    """repmgr pads with printf("%-*s"), which counts bytes: a UTF-8 name widens its column."""
    events = [dict(node_id=1, node_name="nöde1", event="x", successful=True, timestamp="t", details="d")]
    header, dashes, row, _blank = tables.format_event_table(events)
    assert header.startswith(" Node ID | Name   | ")  # 'nöde1' is 6 bytes
    assert row.startswith(" 1       | nöde1 | ")


# --- properties -----------------------------------------------------------------------

NAMES = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=12)


@st.composite
def clusters(draw):
    size = draw(st.integers(min_value=1, max_value=5))
    ids = list(range(1, size + 1))
    types = st.sampled_from(["primary", "standby", "witness", "bdr"])
    upstreams = st.one_of(st.none(), st.sampled_from(ids + [99]))
    members = []
    for node_id in ids:
        members.append(
            NodeRecord(
                node_id=node_id,
                node_name=draw(NAMES),
                type=draw(types),
                upstream_node_id=draw(upstreams),
                active=draw(st.booleans()),
                priority=draw(st.integers(min_value=0, max_value=1000)),
                location=draw(NAMES),
                conninfo="host=127.0.0.%d" % (10 + node_id),
            )
        )
    observations = {}
    for member in members:
        reach = draw(st.sampled_from([CONNECTED, REJECTED, DOWN, None]))
        if reach is None:
            continue  # not probed: counts as down
        own = draw(st.one_of(st.none(), st.just(member),
                             st.builds(lambda t, u: NodeRecord(member.node_id, member.node_name, t, u),
                                       types, upstreams)))
        clients = st.tuples(st.sampled_from([m.node_name for m in members] + ["other"]),
                            st.sampled_from(["streaming", "catchup", None]))
        replication = draw(st.one_of(st.none(), st.lists(clients, max_size=3)))
        observations[member.node_id] = NodeObservation(
            node_id=member.node_id,
            reachability=reach,
            in_recovery=draw(st.sampled_from([True, False, None])),
            timeline=draw(st.one_of(st.none(), st.integers(1, 9))),
            own_record=own,
            replication=None if replication is None else tuple(ReplicationClient(n, s) for n, s in replication),
            wal_replay_paused=draw(st.sampled_from([True, False, None])),
            received_lsn=draw(st.one_of(st.none(), st.integers(0, 2**40))),
            replayed_lsn=draw(st.one_of(st.none(), st.integers(0, 2**40))),
        )
    return members, observations


@settings(max_examples=300, deadline=None)
@given(clusters())
def test_every_node_gets_one_known_status_and_exit_25_iff_an_issue(cluster):
    members, observations = cluster
    show = status.cluster_show(members, observations)

    assert [row.node_id for row in show.rows] == sorted(m.node_id for m in members)
    assert all(row.status in status.ALL_STATUSES for row in show.rows)
    has_issue = bool(show.warnings) or any(row.error for row in show.rows)
    assert show.exit_code == (25 if has_issue else 0)
    assert show.error is has_issue
    assert show.warnings == tuple(line for row in show.rows for line in row.issues)
    unreachable = sum(1 for row in show.rows if not row.reachable)
    # W_CONNECT lines end with the ID; W_UPSTREAM_UNREACHABLE goes on with "'s upstream node" (a node may be
    # called "upstream": match the line's shape, not a word)
    assert sum(1 for line in show.warnings if re.fullmatch(r'unable to connect to node "[^"]*" \(ID: \d+\)', line)
               ) == unreachable

    # every separator of the table sits in the same column on every line
    lines = tables.format_show_table(show.rows)
    bars = [i for i, char in enumerate(lines[0]) if char == "|"]
    assert [i for i, char in enumerate(lines[1]) if char == "+"] == bars
    for line in lines[2:]:
        assert [i for i, char in enumerate(line) if char == "|"] == bars


def test_records_module_is_the_one_in_use():
    """The rules take the shared records types, not copies."""
    assert status.NodeRecord is records.NodeRecord and status.NodeObservation is records.NodeObservation
