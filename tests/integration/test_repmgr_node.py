"""repmgr_node through the real `ansible` CLI, against real streaming clusters.

After every call: the module's result, then the database state a DBA would check
(repmgr.nodes, repmgr.events, voting_term), then the same call in check mode and again
for idempotence. Bad input must fail before anything changes, naming the option.
"""

from __future__ import annotations

import secrets

import pytest

from ansible_cli import run_module
from harness import cluster_fixture

# Two clusters: metadata as plain tables (the path without the repmgr package) and as the real
# extension; a one-node server that serves as a witness for the first.
# The witness server shares the tables cluster's repmgr password, as a real witness would.
SHARED_PASSWORD = "pgha-" + secrets.token_hex(8)
tables_cluster = cluster_fixture("mod-node-tables", 3, port=55501, password=SHARED_PASSWORD)
extension_cluster = cluster_fixture("mod-node-ext", 2, port=55502)
witness_server = cluster_fixture("mod-node-witness", 1, port=55503, first_octet=19, password=SHARED_PASSWORD)


@pytest.fixture(scope="module")
def inventory(tables_cluster, tmp_path_factory):
    return tables_cluster.write_inventory(tmp_path_factory.mktemp("inv") / "tables.yml")


@pytest.fixture(scope="module")
def ext_inventory(extension_cluster, tmp_path_factory):
    return extension_cluster.write_inventory(tmp_path_factory.mktemp("inv") / "ext.yml")


def node_args(cluster, node, role, **extra):
    args = dict(role=role, node_id=node.node_id, node_name=node.name, conninfo=node.conninfo,
                login_password=cluster.password, connect_timeout=3)
    args.update(extra)
    return args


def repmgr(cluster, inventory, node, args, **options):
    """Run repmgr_node for `node`; the cluster's password must never be shown."""
    run = run_module(inventory, node.name, "pgha.repmgr.repmgr_node", args, **options)
    assert cluster.password not in run.output, "the password leaked into ansible's output"
    return run


def nodes_table(node):
    return node.sql("SELECT node_id, type, upstream_node_id, active, node_name, location, priority, "
                    "repluser, slot_name, conninfo FROM repmgr.nodes ORDER BY node_id")


def events(node):
    return node.sql("SELECT node_id, event, successful, details FROM repmgr.events "
                    "ORDER BY event_timestamp, event")


def metadata_exists(node):
    return node.sql("SELECT to_regclass('repmgr.nodes') IS NOT NULL")[0][0]


def register_tables_cluster(cluster, inventory):
    """Primary and both standbys registered (idempotent: later tests start from here)."""
    node1, node2, node3 = cluster.nodes
    assert not repmgr(cluster, inventory, node1, node_args(cluster, node1, "primary", metadata_mode="tables")).failed
    for standby in (node2, node3):
        assert not repmgr(cluster, inventory, standby, node_args(cluster, standby, "standby")).failed


def test_register_primary_creates_tables_metadata(tables_cluster, inventory):
    node1 = tables_cluster.nodes[0]
    args = node_args(tables_cluster, node1, "primary", metadata_mode="tables", location="dc1")

    check = repmgr(tables_cluster, inventory, node1, args, check=True)
    assert check.changed and not check.failed
    assert check.result["metadata_created"] == "tables"
    assert not metadata_exists(node1), "check mode must not create the metadata"

    run = repmgr(tables_cluster, inventory, node1, args, diff=True)
    assert run.changed and not run.failed, run.output
    assert nodes_table(node1) == [(1, "primary", None, True, "node1", "dc1", 100, "repmgr", "repmgr_slot_1",
                                   node1.conninfo)]
    assert events(node1) == [(1, "cluster_created", True, None), (1, "primary_register", True, "")]
    assert node1.sql("SELECT term FROM repmgr.voting_term") == [(1,)]
    assert node1.sql("SELECT count(*) FROM pg_extension WHERE extname = 'repmgr'") == [(0,)]
    assert node1.sql("SELECT count(*) FROM repmgr.show_nodes") == [(1,)]
    assert node1.sql("SELECT count(*) FROM repmgr.replication_status") == [(0,)]

    again = repmgr(tables_cluster, inventory, node1, args)
    assert not again.changed and not again.failed
    assert len(events(node1)) == 2, "an identical registration writes no event"


def test_register_standbys(tables_cluster, inventory):
    node1, node2, node3 = tables_cluster.nodes
    repmgr(tables_cluster, inventory, node1, node_args(tables_cluster, node1, "primary", metadata_mode="tables",
                                                       location="dc1"))
    before = len(events(node1))

    check = repmgr(tables_cluster, inventory, node2, node_args(tables_cluster, node2, "standby", location="dc1"),
                   check=True)
    assert check.changed and not check.failed, check.output
    assert [row[0] for row in nodes_table(node1)] == [1]

    for standby in (node2, node3):
        run = repmgr(tables_cluster, inventory, standby,
                     node_args(tables_cluster, standby, "standby", location="dc1", priority=90))
        assert run.changed and not run.failed, run.output
        assert run.result["events"] == [dict(node_id=standby.node_id, event="standby_register",
                                             details="standby registration succeeded; upstream node ID is 1")]
    assert [row[:4] for row in nodes_table(node1)] == [(1, "primary", None, True), (2, "standby", 1, True),
                                                       (3, "standby", 1, True)]
    assert [row[8] for row in nodes_table(node1)] == ["repmgr_slot_1", "repmgr_slot_2", "repmgr_slot_3"]
    new_events = events(node1)[before:]
    assert [(e[0], e[1], e[3]) for e in new_events] == [
        (2, "standby_register", "standby registration succeeded; upstream node ID is 1"),
        (3, "standby_register", "standby registration succeeded; upstream node ID is 1"),
    ]
    # the metadata replicates: the standby's copy says the same
    tables_cluster.wait_until(lambda: nodes_table(node3) == nodes_table(node1), what="node3 has the new records")

    again = repmgr(tables_cluster, inventory, node2,
                   node_args(tables_cluster, node2, "standby", location="dc1", priority=90))
    assert not again.changed and not again.failed


def test_changing_an_attribute_updates_the_record_with_a_diff(tables_cluster, inventory):
    node1, node2, _node3 = tables_cluster.nodes
    register_tables_cluster(tables_cluster, inventory)
    args = node_args(tables_cluster, node2, "standby", location="dc1", priority=42)

    check = repmgr(tables_cluster, inventory, node2, args, check=True, diff=True)
    assert check.changed
    assert node1.sql("SELECT priority FROM repmgr.nodes WHERE node_id = 2") != [(42,)]

    run = repmgr(tables_cluster, inventory, node2, args, diff=True)
    assert run.changed and not run.failed, run.output
    assert run.result["record"]["priority"] == 42
    assert run.result["before"]["priority"] != 42
    assert "priority" in run.stdout and "+" in run.stdout, "--diff shows the changed record"
    assert node1.sql("SELECT priority FROM repmgr.nodes WHERE node_id = 2") == [(42,)]
    assert repmgr(tables_cluster, inventory, node2, args).changed is False


@pytest.mark.parametrize(
    "target, overrides, message",
    [
        ("node2", dict(node_id=0), "node_id must be a positive integer (got 0)"),
        ("node2", dict(node_id=-4), "node_id must be a positive integer (got -4)"),
        ("node2", dict(upstream_node_name="node9"),
         'upstream_node_name names node "node9", which is not registered (known: "node1" (ID: 1)'),
        ("node2", dict(upstream_node_id=2), "upstream_node_id must not be the node's own ID (2)"),
        ("node2", dict(conninfo="host=127.0.0.12 bogus"), "conninfo is not a valid libpq connection string"),
        ("node2", dict(conninfo="host=127.0.0.12 password=topsecret"), "conninfo must not contain a password"),
        ("node2", dict(role="primary"), "is in recovery: a standby cannot be registered as a primary"),
        ("node1", dict(role="standby"), "is not in recovery: a primary cannot be registered as a standby"),
        ("node3", dict(node_name="node2"), 'node_name "node2" is already used by active node ID 2'),
        ("node2", dict(priority=-1), "priority must be 0 or more (got -1)"),
        ("node2", dict(node_name="x" * 64), "node_name must be at most 63 characters (got 64)"),
    ],
    ids=["node-id-zero", "node-id-negative", "unknown-upstream", "own-upstream", "malformed-conninfo",
         "password-in-conninfo", "standby-as-primary", "primary-as-standby", "duplicate-name", "negative-priority",
         "long-name"],
)
def test_bad_input_fails_clearly_and_changes_nothing(tables_cluster, inventory, target, overrides, message):
    register_tables_cluster(tables_cluster, inventory)
    node = tables_cluster.node(target)
    role = "primary" if node.node_id == 1 else "standby"
    args = node_args(tables_cluster, node, role, location="dc1")
    args.update(overrides)
    nodes_before, events_before = nodes_table(tables_cluster.nodes[0]), events(tables_cluster.nodes[0])

    run = repmgr(tables_cluster, inventory, node, args)

    assert run.failed
    assert message in run.msg
    assert "Traceback" not in run.output
    assert "topsecret" not in run.output
    assert nodes_table(tables_cluster.nodes[0]) == nodes_before
    assert events(tables_cluster.nodes[0]) == events_before


def test_wrong_password_is_refused_without_showing_it(tables_cluster, inventory):
    node2 = tables_cluster.nodes[1]
    run = repmgr(tables_cluster, inventory, node2,
                 node_args(tables_cluster, node2, "standby", login_password="Wr0ng-pass-word"))
    assert run.failed
    assert "password authentication failed" in run.msg
    assert "Wr0ng-pass-word" not in run.output


def test_unregister_standby_drops_its_inactive_slot_and_can_register_again(tables_cluster, inventory):
    node1, _node2, node3 = tables_cluster.nodes
    register_tables_cluster(tables_cluster, inventory)
    node3.stop()
    tables_cluster.wait_until(
        lambda: node1.sql("SELECT active FROM pg_replication_slots WHERE slot_name = 'repmgr_slot_3'") == [(False,)],
        what="node3's slot is inactive")
    args = dict(state="absent", node_id=3, login_host=node1.address, login_port=node1.port,
                login_password=tables_cluster.password)

    check = repmgr(tables_cluster, inventory, node1, args, check=True)
    assert check.changed and check.result["slot_dropped"] == "repmgr_slot_3"
    assert [row[0] for row in nodes_table(node1)] == [1, 2, 3]

    run = repmgr(tables_cluster, inventory, node1, args)
    assert run.changed and not run.failed, run.output
    assert [row[0] for row in nodes_table(node1)] == [1, 2]
    assert events(node1)[-1] == (3, "standby_unregister", True, None)
    assert node1.sql("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'repmgr_slot_3'") == [(0,)]
    assert not repmgr(tables_cluster, inventory, node1, args).changed

    # back as it was: the DBA recreates the slot, starts the standby and registers it again
    node1.sql("SELECT pg_create_physical_replication_slot('repmgr_slot_3', true)")
    node3.start()
    tables_cluster.wait_streaming(node3, node1)
    assert repmgr(tables_cluster, inventory, node3, node_args(tables_cluster, node3, "standby", location="dc1",
                                                              priority=90)).changed


def test_unregister_refuses_the_active_primary_and_an_upstream_in_use(tables_cluster, inventory):
    node1 = tables_cluster.nodes[0]
    register_tables_cluster(tables_cluster, inventory)
    run = repmgr(tables_cluster, inventory, node1, dict(state="absent", node_id=1, login_host=node1.address,
                                                        login_port=node1.port,
                                                        login_password=tables_cluster.password))
    assert run.failed
    assert 'node 1 ("node1") is still the upstream of node2 (ID: 2), node3 (ID: 3)' in run.msg
    assert [row[0] for row in nodes_table(node1)] == [1, 2, 3]


def test_witness_registration_writes_on_the_primary_and_copies_the_nodes(tables_cluster, inventory, witness_server,
                                                                         tmp_path):
    node1 = tables_cluster.nodes[0]
    register_tables_cluster(tables_cluster, inventory)
    witness = witness_server.nodes[0]
    args = dict(role="witness", node_id=9, node_name="witness", conninfo=witness.conninfo,
                login_host=witness.address, login_port=witness.port, login_password=tables_cluster.password,
                primary_conninfo=node1.conninfo, metadata_mode="tables")

    check = repmgr(tables_cluster, inventory, node1, args, check=True)
    assert check.changed and not check.failed, check.output
    assert not metadata_exists(witness)

    run = repmgr(tables_cluster, inventory, node1, args)
    assert run.changed and not run.failed, run.output
    assert node1.sql("SELECT type, upstream_node_id, priority FROM repmgr.nodes WHERE node_id = 9") == [
        ("witness", 1, 0)]
    assert events(node1)[-1] == (9, "witness_register", True, "witness registration succeeded; upstream node ID is 1")
    assert nodes_table(witness) == nodes_table(node1), "the witness holds a copy of the primary's node records"
    assert not repmgr(tables_cluster, inventory, node1, args).changed

    same_server = dict(args, login_host=tables_cluster.nodes[1].address, login_port=tables_cluster.port)
    refused = repmgr(tables_cluster, inventory, node1, same_server)
    assert refused.failed and "in recovery: a witness is a separate server" in refused.msg

    gone = repmgr(tables_cluster, inventory, node1, dict(state="absent", node_id=9, role="witness",
                                                         login_host=node1.address, login_port=node1.port,
                                                         login_password=tables_cluster.password))
    assert gone.changed and not gone.failed
    assert events(node1)[-1] == (9, "witness_unregister", True, "witness unregistration succeeded")


def test_extension_metadata_and_the_second_primary_guard(extension_cluster, ext_inventory):
    node1, node2 = extension_cluster.nodes
    run = repmgr(extension_cluster, ext_inventory, node1, node_args(extension_cluster, node1, "primary",
                                                                    metadata_mode="extension"))
    assert run.changed and not run.failed, run.output
    assert run.result["metadata_created"] == "extension"
    assert node1.sql("SELECT extversion FROM pg_extension WHERE extname = 'repmgr'") == [("5.3",)]
    assert node1.sql("SELECT term FROM repmgr.voting_term") == [(1,)]
    assert repmgr(extension_cluster, ext_inventory, node2, node_args(extension_cluster, node2, "standby")).changed

    # A standby promoted by hand is a second running primary: registering it as primary is refused,
    # even with force, and nothing changes.
    node2.sql("SELECT pg_promote()")
    extension_cluster.wait_until(lambda: not node2.in_recovery(), what="node2 is promoted")
    before = nodes_table(node1)
    refused = repmgr(extension_cluster, ext_inventory, node2, node_args(extension_cluster, node2, "primary",
                                                                        force=True))
    assert refused.failed
    assert 'there is already an active registered primary "node1" (ID: 1)' in refused.msg
    assert nodes_table(node1) == before
    assert nodes_table(node2) == before
