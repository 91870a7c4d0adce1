"""The pure decisions of node registration: option checks and plans, from plain data."""

from __future__ import annotations

import builders
import pytest

from ansible_collections.pgha.repmgr.plugins.module_utils import registration, schema
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption, PreconditionFailed

CONNINFO = "host=node%d user=repmgr dbname=repmgr connect_timeout=2"


def params(**overrides):
    base = dict(node_id=2, node_name="node2", role="standby", conninfo=CONNINFO % 2, location="default",
                priority=100, use_slot=True, slot_name=None, config_file="", replication_user=None,
                upstream_node_id=None, upstream_node_name=None, primary_conninfo=None, attach_timeout=0)
    base.update(overrides)
    return base


def record(node_id, node_type="standby", upstream=1, active=True, **extra):
    return builders.record(node_id, node_type, upstream, active, conninfo=CONNINFO, **extra)


CLUSTER = [record(1, "primary"), record(2), record(3)]


@pytest.mark.parametrize(
    "overrides, message",
    [
        (dict(node_id=0), "node_id must be a positive integer (got 0)"),
        (dict(node_id=-1), "node_id must be a positive integer (got -1)"),
        (dict(role=None), "role is required with state: present"),
        (dict(node_name=""), "node_name is required with state: present"),
        (dict(conninfo=None), "conninfo is required with state: present"),
        (dict(conninfo="host=x bogus"), "conninfo is not a valid libpq connection string"),
        (dict(conninfo="host=x password=p"), "conninfo must not contain a password"),
        (dict(priority=-5), "priority must be 0 or more (got -5)"),
        (dict(upstream_node_id=2), "upstream_node_id must not be the node's own ID (2)"),
        (dict(upstream_node_id=0), "upstream_node_id must be a positive integer (got 0)"),
        (dict(role="primary", upstream_node_id=1), "upstream_node_id is only for role: standby"),
        (dict(role="witness"), "primary_conninfo is required with role: witness"),
        (dict(use_slot=False, slot_name="s"), "slot_name is set but use_slot is false"),
        (dict(attach_timeout=-1), "attach_timeout must be 0 or more seconds (got -1)"),
    ],
)
def test_validate_present_names_the_option(overrides, message):
    with pytest.raises(InvalidOption) as error:
        registration.validate_present(params(**overrides))
    assert message in str(error.value)


def test_desired_record_follows_repmgr_defaults():
    desired = registration.desired_record(params(), {"user": "repmgr"}, "standby")
    assert (desired.slot_name, desired.repluser, desired.priority, desired.location) == (
        "repmgr_slot_2", "repmgr", 100, "default")
    witness = registration.desired_record(params(role="witness", priority=70), {"user": "repmgr"}, "witness")
    assert witness.priority == 0, "a witness is never a candidate"
    no_slot = registration.desired_record(params(use_slot=False), {"user": "u"}, "standby")
    assert no_slot.slot_name is None


def test_primary_register_on_new_metadata_creates_and_logs():
    desired = registration.desired_record(params(node_id=1, node_name="node1", role="primary",
                                                 conninfo=CONNINFO % 1), {"user": "repmgr"}, "primary")
    plan = registration.plan_primary_register(desired, [], "tables", [], force=False)
    assert plan.write == "insert" and plan.create_metadata == "tables"
    assert [(e.event, e.details) for e in plan.events] == [("cluster_created", None), ("primary_register", "")]


def test_primary_register_identical_is_unchanged():
    desired = registration.desired_record(params(node_id=1, node_name="node1", role="primary",
                                                 conninfo=CONNINFO % 1), {"user": "repmgr"}, "primary")
    plan = registration.plan_primary_register(desired, [desired] + CLUSTER[1:], None, [], force=False)
    assert not plan.changed and plan.events == []


def test_primary_register_refuses_a_second_running_primary_even_with_force():
    desired = registration.desired_record(params(node_id=3, node_name="node3", role="primary",
                                                 conninfo=CONNINFO % 3), {"user": "repmgr"}, "primary")
    with pytest.raises(PreconditionFailed, match='already an active registered primary "node1" \\(ID: 1\\)'):
        registration.plan_primary_register(desired, CLUSTER, None, [CLUSTER[0]], force=True)


def test_primary_register_marks_a_stale_primary_inactive():
    desired = registration.desired_record(params(node_id=2, node_name="node2", role="primary"),
                                          {"user": "repmgr"}, "primary")
    plan = registration.plan_primary_register(desired, CLUSTER, None, [], force=True)
    assert plan.deactivate_primaries == [1]
    assert plan.write == "update"
    assert plan.events[-1].details == "existing primary record updated"


def test_type_change_needs_force():
    desired = registration.desired_record(params(node_id=2, role="primary"), {"user": "repmgr"}, "primary")
    with pytest.raises(PreconditionFailed, match="set force: true to re-register it as a primary"):
        registration.plan_primary_register(desired, CLUSTER, None, [], force=False)


def test_standby_register_texts_and_attachment():
    desired = registration.desired_record(params(node_id=4, node_name="node4", conninfo=CONNINFO % 4),
                                          {"user": "repmgr"}, "standby")
    plan = registration.plan_standby_register(desired, CLUSTER, CLUSTER[0], "attached", force=False)
    assert plan.record.upstream_node_id == 1
    assert plan.events[0].details == "standby registration succeeded; upstream node ID is 1"
    forced = registration.plan_standby_register(desired, CLUSTER, CLUSTER[0], None, force=True)
    assert forced.events[0].details.endswith(" (-F/--force option was used)")
    with pytest.raises(PreconditionFailed, match="is not attached to its upstream"):
        registration.plan_standby_register(desired, CLUSTER, CLUSTER[0], "detached", force=False)


def test_resolve_upstream_lists_known_nodes():
    from ansible_collections.pgha.repmgr.plugins.module_utils.primary import resolve_upstream

    with pytest.raises(InvalidOption) as error:
        resolve_upstream(CLUSTER, 2, None, "node9", primary_node_id=1)
    assert str(error.value) == ('upstream_node_name names node "node9", which is not registered '
                                '(known: "node1" (ID: 1), "node2" (ID: 2), "node3" (ID: 3))')
    assert resolve_upstream(CLUSTER, 2).node_id == 1  # the active primary by default
    with pytest.raises(InvalidOption, match=r'upstream_node_id names the node itself \("node2" \(ID: 2\)\): a node '
                                            "cannot follow itself"):
        resolve_upstream(CLUSTER, 2, 2)


def test_duplicate_active_name_is_refused():
    desired = registration.desired_record(params(node_id=4, node_name="node2", conninfo=CONNINFO % 4),
                                          {"user": "repmgr"}, "standby")
    with pytest.raises(PreconditionFailed, match='node_name "node2" is already used by active node ID 2'):
        registration.plan_standby_register(desired, CLUSTER, CLUSTER[0], "attached", force=False)


def test_unregister_rules():
    assert not registration.plan_unregister(CLUSTER, 9, None, False).changed
    plan = registration.plan_unregister(CLUSTER, 3, "standby", False)
    assert plan.write == "delete" and [(e.event, e.details) for e in plan.events] == [("standby_unregister", None)]
    with pytest.raises(PreconditionFailed, match="is still the upstream of node2"):
        registration.plan_unregister(CLUSTER, 1, None, True)
    with pytest.raises(PreconditionFailed, match="is registered as a standby, not a witness"):
        registration.plan_unregister(CLUSTER, 3, "witness", False)
    lonely = [record(1, "primary", active=True)]
    with pytest.raises(PreconditionFailed, match="is the active primary"):
        registration.plan_unregister(lonely, 1, None, False)


def test_schema_plan():
    empty = schema.SchemaState(None, "5.3", False, ())
    assert schema.plan(empty, "auto") == "extension"
    assert schema.plan(schema.SchemaState(None, None, False, ()), "auto") == "tables"
    assert schema.plan(empty, "tables") == "tables"
    with pytest.raises(PreconditionFailed, match="does not offer the repmgr extension"):
        schema.plan(schema.SchemaState(None, None, False, ()), "extension")
    complete = schema.SchemaState(None, None, True, schema.REQUIRED_RELATIONS)
    assert schema.plan(complete, "auto") is None
    with pytest.raises(PreconditionFailed, match="already exists as plain tables"):
        schema.plan(complete, "extension")
    with pytest.raises(Exception, match="incomplete"):
        schema.plan(schema.SchemaState(None, None, True, ("nodes",)), "auto")
