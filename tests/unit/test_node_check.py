# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""`repmgr node check` rules, checked against repmgr 5.3's texts, thresholds and exit codes.

Each check is a table: what the node looks like (its record, what the server said) -> the
status, the detail `repmgr node check` prints and the line `--nagios` prints. The texts are
repmgr's (do_node_check_*() in repmgr-action-node.c), quirks included.
"""

from __future__ import annotations

import builders
import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import node_check
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption
from ansible_collections.pgha.repmgr.plugins.module_utils.node_check import (
    CRITICAL,
    OK,
    UNKNOWN,
    WARNING,
    NodeFacts,
    Slot,
    Thresholds,
)
from ansible_collections.pgha.repmgr.plugins.module_utils.records import (
    NodeObservation,
    Reachability,
    ReplicationClient,
)

PRIMARY, STANDBY, RECOVERY_UNKNOWN = False, True, None  # values of in_recovery

NODE1 = builders.record(1, "primary")
NODE2 = builders.record(2)
NODE3 = builders.record(3)
WITNESS4 = builders.record(4, "witness")
CLUSTER = (NODE1, NODE2, NODE3)


def walsenders(*names, state="streaming"):
    """pg_stat_replication rows: one walsender per downstream node name."""
    return tuple(ReplicationClient(application_name=name, state=state) for name in names)


def upstream_seen(*clients, reachability=Reachability.CONNECTED):
    """A probe of node1 (the upstream) that saw these walsenders (None: could not read them)."""
    replication = None if clients == (None,) else clients
    return NodeObservation(1, reachability, replication=replication)


def outcome(check):
    return check.status, check.details, check.nagios


# --- role -----------------------------------------------------------------------------------------

ROLE_CASES = [
    ("primary running as primary", NODE1, PRIMARY, OK, "node is primary"),
    ("primary, recovery unknown", NODE1, RECOVERY_UNKNOWN, OK, "node is primary"),
    ("primary running as standby", NODE1, STANDBY, CRITICAL, "node is registered as primary but running as standby"),
    ("standby running as standby", NODE2, STANDBY, OK, "node is standby"),
    ("standby, recovery unknown", NODE2, RECOVERY_UNKNOWN, OK, "node is standby"),
    ("standby running as primary", NODE2, PRIMARY, CRITICAL, "node is registered as standby but running as primary"),
    ("witness", WITNESS4, PRIMARY, OK, "node is witness"),
    ("witness running as standby", WITNESS4, STANDBY, CRITICAL, "node is registered as witness but running as standby"),
    ("type repmgr does not know", builders.record(5, "bdr"), PRIMARY, OK, ""),
]


@pytest.mark.parametrize("record, in_recovery, status, details", [c[1:] for c in ROLE_CASES],
                         ids=[c[0] for c in ROLE_CASES])
def test_role(record, in_recovery, status, details):
    check = node_check.role_check(record, in_recovery)
    assert outcome(check) == (status, details, "REPMGR_SERVER_ROLE %s: %s" % (status.value, details))


# --- replication_lag ------------------------------------------------------------------------------

LAG_CASES = [
    # record, in_recovery, lag seconds, thresholds -> status, details, nagios text
    ("primary", NODE1, PRIMARY, None, Thresholds(), OK, "N/A - node is primary", "0 seconds | lag=0;300;600"),
    ("standby running as primary", NODE2, PRIMARY, None, Thresholds(), OK, "N/A - node is primary",
     "0 seconds | lag=0;300;600"),
    ("witness", WITNESS4, PRIMARY, None, Thresholds(), OK, "N/A - node is witness", "0 seconds | lag=0;300;600"),
    ("caught up", NODE2, STANDBY, 0, Thresholds(), OK, "0 seconds", "0 seconds | lag=0;300;600"),
    ("at the warning threshold", NODE2, STANDBY, 300, Thresholds(), OK, "300 seconds",
     "300 seconds | lag=300;300;600"),
    ("past the warning threshold", NODE2, STANDBY, 301, Thresholds(), WARNING,
     "301 seconds, warning threshold: 300)", "301 seconds | lag=301;300;600"),
    ("just below critical", NODE2, STANDBY, 599, Thresholds(), WARNING, "599 seconds, warning threshold: 300)",
     "599 seconds | lag=599;300;600"),
    ("at the critical threshold", NODE2, STANDBY, 600, Thresholds(), CRITICAL,
     "600 seconds, critical threshold: 600)", "600 seconds | lag=600;300;600"),
    ("lag unknown", NODE2, STANDBY, None, Thresholds(), UNKNOWN, "unable to query replication lag",
     "unable to query replication lag"),
    ("recovery and lag unknown", NODE2, RECOVERY_UNKNOWN, None, Thresholds(), UNKNOWN,
     "unable to query replication lag", "unable to query replication lag"),
    ("own thresholds", NODE2, STANDBY, 45, Thresholds(replication_lag_warning=30, replication_lag_critical=60), WARNING,
     "45 seconds, warning threshold: 30)", "45 seconds | lag=45;30;60"),
    ("own thresholds on a primary", NODE1, PRIMARY, None,
     Thresholds(replication_lag_warning=30, replication_lag_critical=60), OK, "N/A - node is primary",
     "0 seconds | lag=0;30;60"),
]


@pytest.mark.parametrize("record, in_recovery, lag, thresholds, status, details, nagios", [c[1:] for c in LAG_CASES],
                         ids=[c[0] for c in LAG_CASES])
def test_replication_lag(record, in_recovery, lag, thresholds, status, details, nagios):
    check = node_check.replication_lag_check(record, in_recovery, lag, thresholds)
    assert outcome(check) == (status, details, "REPMGR_REPLICATION_LAG %s: %s" % (status.value, nagios))


# --- archive_ready --------------------------------------------------------------------------------

NO_ARCHIVE_STATUS = "unable to check archive_status directory"

ARCHIVE_CASES = [
    (0, Thresholds(), OK, "0 pending archive ready files", "0 pending archive ready files | files=0;16;128"),
    (16, Thresholds(), OK, "16 pending archive ready files", "16 pending archive ready files | files=16;16;128"),
    (17, Thresholds(), WARNING, "17 pending archive ready files (threshold: 16)",
     "17 pending archive ready files | files=17;16;128"),
    (128, Thresholds(), WARNING, "128 pending archive ready files (threshold: 16)",
     "128 pending archive ready files | files=128;16;128"),
    (129, Thresholds(), CRITICAL, "129 pending archive ready files, critical threshold: 128",
     "129 pending archive ready files | files=129;16;128"),
    (None, Thresholds(), UNKNOWN, NO_ARCHIVE_STATUS, NO_ARCHIVE_STATUS),
    (-1, Thresholds(), UNKNOWN, NO_ARCHIVE_STATUS, NO_ARCHIVE_STATUS),
    (3, Thresholds(archive_ready_warning=1, archive_ready_critical=2), CRITICAL,
     "3 pending archive ready files, critical threshold: 2", "3 pending archive ready files | files=3;1;2"),
]


@pytest.mark.parametrize("ready, thresholds, status, details, nagios", ARCHIVE_CASES,
                         ids=["%s files %s" % (c[0], c[2].value) for c in ARCHIVE_CASES])
def test_archive_ready(ready, thresholds, status, details, nagios):
    check = node_check.archive_ready_check(ready, thresholds)
    assert outcome(check) == (status, details, "REPMGR_ARCHIVE_READY %s: %s" % (status.value, nagios))


# --- upstream -------------------------------------------------------------------------------------

ATTACHED_2 = 'node "node2" (ID: 2) is attached to expected upstream node "node1" (ID: 1)'
NOT_ATTACHED_2 = 'node "node2" (ID: 2) is not attached to expected upstream node "node1" (ID: 1)'

UPSTREAM_CASES = [
    # record, in_recovery, upstream record, probe of the upstream -> status, details
    ("streaming standby", NODE2, STANDBY, NODE1, upstream_seen(*walsenders("node2", "node3")), OK, ATTACHED_2),
    ("no walsender for it", NODE2, STANDBY, NODE1, upstream_seen(*walsenders("node3")), CRITICAL, NOT_ATTACHED_2),
    ("walsender catching up", NODE2, STANDBY, NODE1, upstream_seen(*walsenders("node2", state="catchup")), CRITICAL,
     NOT_ATTACHED_2),
    ("two walsenders of that name", NODE2, STANDBY, NODE1, upstream_seen(*walsenders("node2", "node2")), CRITICAL,
     NOT_ATTACHED_2),
    ("state hidden (no pg_read_all_stats): assumed attached", NODE2, STANDBY, NODE1,
     upstream_seen(*walsenders("node2", state=None)), OK, ATTACHED_2),
    ("pg_stat_replication unreadable", NODE2, STANDBY, NODE1, upstream_seen(None), CRITICAL, NOT_ATTACHED_2),
    ("upstream down", NODE2, STANDBY, NODE1, upstream_seen(reachability=Reachability.DOWN), CRITICAL,
     'unable to connect to upstream node "node1" (ID: 1)'),
    ("upstream refuses us", NODE2, STANDBY, NODE1, upstream_seen(reachability=Reachability.REJECTED), CRITICAL,
     'unable to connect to upstream node "node1" (ID: 1)'),
    ("primary", NODE1, PRIMARY, None, None, OK, "N/A - node is primary"),
    ("primary, recovery unknown", NODE1, RECOVERY_UNKNOWN, None, None, OK, "N/A - node is primary"),
    ("standby without an upstream record", NODE2, STANDBY, None, None, CRITICAL,
     'node "node2" (ID: 2) is a standby but no upstream record found'),
    ("witness", WITNESS4, PRIMARY, NODE1, None, OK, "N/A - node is a witness"),
]


@pytest.mark.parametrize("record, in_recovery, upstream, seen, status, details", [c[1:] for c in UPSTREAM_CASES],
                         ids=[c[0] for c in UPSTREAM_CASES])
def test_upstream(record, in_recovery, upstream, seen, status, details):
    check = node_check.upstream_check(record, in_recovery, upstream, seen)
    assert outcome(check) == (status, details, "REPMGR_UPSTREAM_SERVER %s: %s" % (status.value, details))


# --- downstream -----------------------------------------------------------------------------------

DOWNSTREAM_CASES = [
    # node checked, its metadata, its walsenders -> status, details, nagios text
    ("all attached", NODE1, CLUSTER, walsenders("node2", "node3"), OK, "2 of 2 downstream nodes attached",
     "2 of 2 downstream nodes attached | attached=2, missing=0"),
    ("no downstream nodes", NODE2, CLUSTER, walsenders(), OK, "this node has no downstream nodes",
     "this node has no downstream nodes | attached=0, missing=0"),
    ("one stopped", NODE1, CLUSTER, walsenders("node2"), CRITICAL,
     "1 of 2 downstream nodes not attached; missing: node3 (ID: 3)",
     "1 of 2 downstream nodes not attached (missing: node3 (ID: 3)) | attached=1, missing=1"),
    ("both stopped", NODE1, CLUSTER, walsenders(), CRITICAL,
     "2 of 2 downstream nodes not attached; missing: node2 (ID: 2), node3 (ID: 3)",
     "2 of 2 downstream nodes not attached (missing: node2 (ID: 2), node3 (ID: 3)) | attached=0, missing=2"),
    ("one not streaming yet", NODE1, CLUSTER, walsenders("node2") + walsenders("node3", state="startup"), CRITICAL,
     "1 of 2 downstream nodes not attached; missing: node3 (ID: 3)",
     "1 of 2 downstream nodes not attached (missing: node3 (ID: 3)) | attached=1, missing=1"),
    ("a witness is not a downstream node", NODE1, CLUSTER + (WITNESS4,), walsenders("node2", "node3"), OK,
     "2 of 2 downstream nodes attached", "2 of 2 downstream nodes attached | attached=2, missing=0"),
    ("an inactive record still counts, as in repmgr", NODE1, (NODE1, NODE2, builders.record(3, active=False)),
     walsenders("node2"), CRITICAL, "1 of 2 downstream nodes not attached; missing: node3 (ID: 3)",
     "1 of 2 downstream nodes not attached (missing: node3 (ID: 3)) | attached=1, missing=1"),
    ("cascaded: only this node's own downstream", NODE2, CLUSTER + (builders.record(5, upstream=2),),
     walsenders("node5"), OK, "1 of 1 downstream nodes attached",
     "1 of 1 downstream nodes attached | attached=1, missing=0"),
    ("pg_stat_replication unreadable", NODE1, CLUSTER, None, CRITICAL,
     "2 of 2 downstream nodes not attached; missing: node2 (ID: 2), node3 (ID: 3)",
     "2 of 2 downstream nodes not attached (missing: node2 (ID: 2), node3 (ID: 3)) | attached=0, missing=2"),
    ("the node is a witness", WITNESS4, CLUSTER + (WITNESS4,), walsenders(), OK, "N/A - node is a witness",
     "N/A - node is a witness | attached=0, missing=0"),
]


@pytest.mark.parametrize("record, records, clients, status, details, nagios", [c[1:] for c in DOWNSTREAM_CASES],
                         ids=[c[0] for c in DOWNSTREAM_CASES])
def test_downstream(record, records, clients, status, details, nagios):
    check = node_check.downstream_check(record, records, clients)
    assert outcome(check) == (status, details, "REPMGR_DOWNSTREAM_SERVERS %s: %s" % (status.value, nagios))


# --- slots ----------------------------------------------------------------------------------------

SLOTS_CASES = [
    ("none", (), OK, "node has no physical replication slots", " | slots=0;0"),
    ("all active", (Slot("repmgr_slot_2"), Slot("repmgr_slot_3")), OK,
     "2 of 2 physical replication slots are active", " | slots=2;0"),
    ("one inactive", (Slot("repmgr_slot_2"), Slot("repmgr_slot_3", active=False)), CRITICAL,
     "1 of 2 physical replication slots are inactive", " | slots=2;1"),
    ("logical slots do not count", (Slot("repmgr_slot_2"), Slot("decoding", "logical", active=False)), OK,
     "1 of 1 physical replication slots are active", " | slots=1;0"),
]


@pytest.mark.parametrize("slots, status, details, perfdata", [c[1:] for c in SLOTS_CASES],
                         ids=[c[0] for c in SLOTS_CASES])
def test_slots(slots, status, details, perfdata):
    check = node_check.slots_check(slots)
    assert outcome(check) == (status, details, "REPMGR_INACTIVE_SLOTS %s: %s%s" % (status.value, details, perfdata))


def test_slots_unreadable_is_unknown():
    assert node_check.slots_check(None).status is UNKNOWN
    assert node_check.missing_slots_check(NODE1, CLUSTER, None).status is UNKNOWN


# --- missing_slots --------------------------------------------------------------------------------

BOTH_SLOTS = (Slot("repmgr_slot_2"), Slot("repmgr_slot_3"))

MISSING_SLOTS_CASES = [
    ("every slot there", NODE1, CLUSTER, BOTH_SLOTS, OK, "node has no missing physical replication slots",
     " | missing_slots=0"),
    ("one dropped", NODE1, CLUSTER, (Slot("repmgr_slot_2"),), CRITICAL,
     "1 physical replication slots are missing: repmgr_slot_3", " | missing_slots=1;repmgr_slot_3"),
    ("both dropped", NODE1, CLUSTER, (), CRITICAL,
     "2 physical replication slots are missing: repmgr_slot_2, repmgr_slot_3",
     " | missing_slots=2;repmgr_slot_2,repmgr_slot_3"),
    ("a standby without slot_name needs none", NODE1, (NODE1, NODE2, builders.record(3, slot_name=None)),
     (Slot("repmgr_slot_2"),), OK, "node has no missing physical replication slots", " | missing_slots=0"),
    ("a witness needs none", NODE1, (NODE1, NODE2, builders.record(4, "witness")), (Slot("repmgr_slot_2"),), OK,
     "node has no missing physical replication slots", " | missing_slots=0"),
    ("only this node's downstream standbys", NODE2, CLUSTER, (), OK, "node has no missing physical replication slots",
     " | missing_slots=0"),
    ("a slot of any type with that name counts", NODE1, CLUSTER,
     (Slot("repmgr_slot_2"), Slot("repmgr_slot_3", "logical")), OK,
     "node has no missing physical replication slots", " | missing_slots=0"),
]


@pytest.mark.parametrize("record, records, slots, status, details, perfdata", [c[1:] for c in MISSING_SLOTS_CASES],
                         ids=[c[0] for c in MISSING_SLOTS_CASES])
def test_missing_slots(record, records, slots, status, details, perfdata):
    check = node_check.missing_slots_check(record, records, slots)
    assert outcome(check) == (status, details, "REPMGR_MISSING_SLOTS %s: %s%s" % (status.value, details, perfdata))


# --- data_directory_config ------------------------------------------------------------------------

DATA_DIRECTORY_CASES = [
    # configured, actual, may read settings, PG_VERSION there -> status, details, nagios
    ("the same", "/srv/pg/data", "/srv/pg/data", True, None, OK, 'configured "data_directory" is "/srv/pg/data"',
     "REPMGR_DATA_DIRECTORY OK: /srv/pg/data"),
    ("canonicalised as repmgr.conf's", "/srv//pg/./data/", "/srv/pg/data", True, None, OK,
     'configured "data_directory" is "/srv/pg/data"', "REPMGR_DATA_DIRECTORY OK: /srv/pg/data"),
    ("another directory", "/srv/pg/data", "/srv/pg/other", True, None, CRITICAL,
     'configured "data_directory" is "/srv/pg/data"; actual data directory is "/srv/pg/other"',
     'REPMGR_DATA_DIRECTORY CRITICAL: /srv/pg/data | actual data directory is "/srv/pg/other"'),
    ("setting unreadable", "/srv/pg/data", None, True, None, UNKNOWN, 'unable to determine current "data_directory"',
     "REPMGR_DATA_DIRECTORY UNKNOWN: /srv/pg/data"),
    ("no right to read it, a data directory", "/srv/pg/data", None, False, True, OK,
     'configured "data_directory" is "/srv/pg/data"', "REPMGR_DATA_DIRECTORY OK: /srv/pg/data"),
    ("no right to read it, not a data directory", "/srv/pg/data", None, False, False, CRITICAL,
     'configured "data_directory" "/srv/pg/data" is not a PostgreSQL data directory',
     'REPMGR_DATA_DIRECTORY CRITICAL: /srv/pg/data | configured "data_directory" is not a PostgreSQL data directory'),
]


@pytest.mark.parametrize("configured, actual, can_read, is_pg_dir, status, details, nagios",
                         [c[1:] for c in DATA_DIRECTORY_CASES], ids=[c[0] for c in DATA_DIRECTORY_CASES])
def test_data_directory(configured, actual, can_read, is_pg_dir, status, details, nagios):
    check = node_check.data_directory_check(configured, actual, can_read, is_pg_dir)
    assert outcome(check) == (status, details, nagios)


@pytest.mark.parametrize("path, canonical", [
    ("/var/lib/pgsql/data", "/var/lib/pgsql/data"),
    ("/var/lib/pgsql/data/", "/var/lib/pgsql/data"),
    ("/var//lib/./pgsql/data", "/var/lib/pgsql/data"),
    ("/var/lib/pgsql/15/../data", "/var/lib/pgsql/data"),
    ("//srv/data", "/srv/data"),
    ("/", "/"),
])
def test_canonical_path(path, canonical):
    assert node_check.canonical_path(path) == canonical


# --- the whole check: order, exit codes, a node that is down or has no record ---------------------


def healthy_primary_facts(**changes):
    facts = dict(target="10.0.0.1 port 5432", record=NODE1, records=CLUSTER, in_recovery=PRIMARY,
                 archive_ready_files=0, replication_clients=walsenders("node2", "node3"), slots=BOTH_SLOTS,
                 actual_data_directory="/srv/pg/data", can_read_settings=True)
    facts.update(changes)
    return NodeFacts(**facts)


def test_the_full_check_prints_as_repmgr_and_exits_0():
    check = node_check.run_checks(healthy_primary_facts(), data_directory="/srv/pg/data")
    assert [r.name for r in check.results] == list(node_check.CHECKS)
    assert check.exit_code == 0
    assert check.text() == "\n".join([
        'Node "node1":',
        "\tServer role: OK (node is primary)",
        "\tReplication lag: OK (N/A - node is primary)",
        "\tWAL archiving: OK (0 pending archive ready files)",
        "\tUpstream connection: OK (N/A - node is primary)",
        "\tDownstream servers: OK (2 of 2 downstream nodes attached)",
        "\tReplication slots: OK (2 of 2 physical replication slots are active)",
        "\tMissing physical replication slots: OK (node has no missing physical replication slots)",
        '\tConfigured data directory: OK (configured "data_directory" is "/srv/pg/data")',
    ])
    result = check.as_dict()
    assert result["changed"] is False and result["msg"] == "all checks OK"
    assert (result["node_id"], result["node_name"], result["reachable"]) == (1, "node1", True)
    assert result["checks"]["role"] == dict(status="OK", details="node is primary",
                                            nagios="REPMGR_SERVER_ROLE OK: node is primary")
    assert result["nagios"][1] == "REPMGR_REPLICATION_LAG OK: 0 seconds | lag=0;300;600"


def test_any_issue_makes_the_full_check_exit_25():
    check = node_check.run_checks(healthy_primary_facts(replication_clients=walsenders("node2")),
                                  names=[node_check.ROLE, node_check.DOWNSTREAM])
    assert [r.status for r in check.results] == [OK, CRITICAL]
    assert check.exit_code == 25
    assert check.as_dict()["msg"] == \
        "REPMGR_DOWNSTREAM_SERVERS CRITICAL: 1 of 2 downstream nodes not attached (missing: node3 (ID: 3))"


@pytest.mark.parametrize("facts, name, code", [
    (healthy_primary_facts(), node_check.ROLE, 0),
    (healthy_primary_facts(archive_ready_files=20), node_check.ARCHIVE_READY, 1),
    (healthy_primary_facts(slots=(Slot("repmgr_slot_2", active=False),)), node_check.SLOTS, 2),
    (healthy_primary_facts(archive_ready_files=None), node_check.ARCHIVE_READY, 3),
], ids=["OK", "WARNING", "CRITICAL", "UNKNOWN"])
def test_a_single_check_exits_with_its_nagios_code(facts, name, code):
    check = node_check.run_checks(facts, names=[name])
    assert check.single and check.exit_code == code


def test_checks_run_in_repmgrs_order_whatever_the_order_asked():
    check = node_check.run_checks(healthy_primary_facts(), names=["slots", "role", "missing_slots"])
    assert [r.name for r in check.results] == ["role", "slots", "missing_slots"]


UNREACHABLE = NodeFacts(target="10.0.0.2 port 5432", reachable=False,
                        error='unable to connect to 10.0.0.2 port 5432 (user "repmgr", database "repmgr"): '
                              'connection failed: connection to server at "10.0.0.2", port 5432 failed: '
                              "Connection refused\n\tIs the server running on that host and accepting TCP/IP "
                              "connections?")


def test_a_node_that_does_not_answer_is_critical_on_every_check():
    check = node_check.run_checks(UNREACHABLE)
    reason = 'connection to database failed: connection to server at "10.0.0.2", port 5432 failed: Connection refused'
    assert {r.status for r in check.results} == {CRITICAL}
    assert check.results[0].nagios == "REPMGR_SERVER_ROLE CRITICAL: " + reason
    assert check.exit_code == 25 and node_check.run_checks(UNREACHABLE, names=["upstream"]).exit_code == 2
    assert check.text().splitlines()[0] == 'Node "10.0.0.2 port 5432":'
    assert check.as_dict()["node_id"] is None and check.as_dict()["reachable"] is False


@pytest.mark.parametrize("message, text", [
    ('unable to connect to h port 1 (user "u", database "d"): connection failed: connection timeout expired',
     "connection to database failed: connection timeout expired"),
    ('unable to connect to h port 1 (user "u", database "d"): connection failed: connection to server at "h", '
     'port 1 failed: FATAL:  password authentication failed for user "u"',
     'connection to database failed: connection to server at "h", port 1 failed: FATAL:  password authentication '
     'failed for user "u"'),
    ("", "connection to database failed"),
])
def test_connection_failure_text(message, text):
    assert node_check.connection_failure_text(message) == text


def test_a_node_without_a_record_is_unknown_on_every_check():
    facts = NodeFacts(target="10.0.0.9 port 5432", records=CLUSTER, unregistered="no record found for node 9")
    check = node_check.run_checks(facts, names=["role", "slots"])
    assert [outcome(r) for r in check.results] == [
        (UNKNOWN, "no record found for node 9", "REPMGR_SERVER_ROLE UNKNOWN: no record found for node 9"),
        (UNKNOWN, "no record found for node 9", "REPMGR_INACTIVE_SLOTS UNKNOWN: no record found for node 9"),
    ]
    assert check.exit_code == 25 and node_check.run_checks(facts, names=["role"]).exit_code == 3


def test_the_upstream_record_comes_from_the_nodes_own_metadata():
    assert NodeFacts(record=NODE2, records=CLUSTER).upstream_record() == NODE1
    assert NodeFacts(record=NODE1, records=CLUSTER).upstream_record() is None
    assert NodeFacts(record=NODE2, records=(NODE2, NODE3)).upstream_record() is None


# --- options --------------------------------------------------------------------------------------


def params(**changes):
    values = dict(checks=None, node_id=None, data_directory=None, archive_ready_warning=16, archive_ready_critical=128,
                  replication_lag_warning=300, replication_lag_critical=600, connect_timeout=5, login_port=5432)
    values.update(changes)
    return values


@pytest.mark.parametrize("given, checks, skipped", [
    (params(), [c for c in node_check.CHECKS if c != "data_directory_config"], ["data_directory_config"]),
    (params(data_directory="/srv/pg/data"), list(node_check.CHECKS), []),
    (params(checks=["slots", "role", "slots"]), ["role", "slots"], []),
])
def test_selected_checks(given, checks, skipped):
    assert node_check.selected_checks(given) == (checks, skipped)


@pytest.mark.parametrize("given, option, words", [
    (params(checks=["data_directory_config"]), "data_directory", "is required by the data_directory_config check"),
    (params(archive_ready_warning=128), "archive_ready_critical", "must be greater than archive_ready_warning"),
    (params(replication_lag_warning=700), "replication_lag_critical",
     "must be greater than replication_lag_warning (got 600 and 700)"),
    (params(replication_lag_warning=0), "replication_lag_warning", "must be at least 1 (got 0)"),
    (params(node_id=0), "node_id", "must be a positive integer (got 0)"),
    (params(connect_timeout=0), "connect_timeout", "must be at least 1 second"),
])
def test_bad_input_names_the_option(given, option, words):
    with pytest.raises(InvalidOption) as raised:
        node_check.validate(given)
    assert raised.value.option == option and words in str(raised.value)


def test_good_input_passes():
    node_check.validate(params(checks=["data_directory_config"], data_directory="/srv/pg/data", node_id=2))
    assert node_check.thresholds_from(params(archive_ready_warning=1, archive_ready_critical=2)) == \
        Thresholds(1, 2, 300, 600)
