# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Register and unregister nodes: repmgr primary|standby|witness register/unregister.

Each action is split in two: a pure `plan_*` function that decides from plain data (what
is registered, what the servers said) and either raises with a clear message or returns a
Plan, and an `apply_*` function that performs the Plan's writes in one transaction per
server. Check mode stops after planning, so it reports exactly what a real run would do.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils import cluster, connection, metadata, probe, replication, schema
from ansible_collections.pgha.repmgr.plugins.module_utils import waiting
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import (
    ConnectionFailed,
    InvalidOption,
    PreconditionFailed,
    require_node_id,
)
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome
from ansible_collections.pgha.repmgr.plugins.module_utils.primary import active_primary, resolve_upstream
from ansible_collections.pgha.repmgr.plugins.module_utils.records import NodeRecord, NodeType, slot_name_for

ATTACH_POLL_INTERVAL = 0.2
NODE_NAME_MAX = 63  # repmgr.conf limit (NAMEDATALEN - 1): node_name is application_name
ROLES = (NodeType.PRIMARY.value, NodeType.STANDBY.value, NodeType.WITNESS.value)
RECORD_FIELDS = ("type", "upstream_node_id", "node_name", "conninfo", "repluser", "slot_name",
                 "location", "priority", "active", "config_file")

# Event detail texts, as repmgr writes them (repmgr-action-primary/standby/witness.c).
PRIMARY_REGISTER_UPDATED = "existing primary record updated"
STANDBY_REGISTER_OK = "standby registration succeeded; upstream node ID is %d"
FORCE_SUFFIX = " (-F/--force option was used)"
WITNESS_REGISTER_OK = "witness registration succeeded; upstream node ID is %d"
WITNESS_UNREGISTER_OK = "witness unregistration succeeded"


@dataclass(frozen=True)
class Event:
    node_id: int
    event: str
    details: Optional[str]
    successful: bool = True


@dataclass
class Plan:
    """What an apply_* function will do; empty lists mean nothing changes."""

    record: Optional[NodeRecord] = None  # the record after the change (None when deleted)
    before: Optional[NodeRecord] = None  # the record before
    create_metadata: Optional[str] = None  # 'extension' / 'tables' on the node itself
    deactivate_primaries: list = field(default_factory=list)  # node ids of stale primary records
    write: Optional[str] = None  # 'insert' / 'update' / 'delete'
    events: list = field(default_factory=list)
    copy_nodes_to_witness: bool = False
    drop_slot: Optional[str] = None

    @property
    def changed(self):
        return bool(self.create_metadata or self.deactivate_primaries or self.write or self.copy_nodes_to_witness
                    or self.drop_slot)

    def outcome(self):
        """The plan as repmgr_node reports it: the record before and after (also as the diff), the events."""
        before = record_for_output(self.before)
        after = record_for_output(self.record) if self.write != "delete" else {}
        return Outcome(changed=self.changed, events=[dict(node_id=e.node_id, event=e.event, details=e.details)
                                                     for e in self.events],
                       diff=dict(before=before, after=after), record=after, before=before,
                       metadata_created=self.create_metadata, slot_dropped=self.drop_slot)


# ---------------------------------------------------------------------------------------
# Input checks (before anything is read or changed)

def validate_present(params):
    """Checks of repmgr_node options for state=present; raises InvalidOption."""
    require_node_id(params["node_id"])
    role = params.get("role")
    if role is None:
        raise InvalidOption("role", "is required with state: present (one of %s)" % ", ".join(ROLES))
    name = params.get("node_name")
    if not name:
        raise InvalidOption("node_name", "is required with state: present")
    if len(name) > NODE_NAME_MAX:
        raise InvalidOption("node_name", "must be at most %d characters (got %d): it is the standby's application_name"
                            % (NODE_NAME_MAX, len(name)))
    if not params.get("conninfo"):
        raise InvalidOption("conninfo", "is required with state: present (how every node reaches this one, "
                                        "for example 'host=node1 user=repmgr dbname=repmgr connect_timeout=2')")
    parsed = conninfo_util.parse(params["conninfo"], "conninfo")
    if "password" in parsed:
        raise InvalidOption("conninfo", "must not contain a password: it is stored in repmgr.nodes, readable by every "
                                        "node; use login_password, .pgpass or PGPASSFILE")
    if params.get("priority") is not None and params["priority"] < 0:
        raise InvalidOption("priority", "must be 0 or more (got %s); 0 means never promoted" % params["priority"])
    upstream_id = params.get("upstream_node_id")
    if upstream_id is not None:
        require_node_id(upstream_id, "upstream_node_id")
        if upstream_id == params["node_id"]:
            raise InvalidOption("upstream_node_id", "must not be the node's own ID (%d)" % upstream_id)
    if role != NodeType.STANDBY.value and (upstream_id is not None or params.get("upstream_node_name")):
        raise InvalidOption("upstream_node_id", "is only for role: standby (a %s has no upstream to choose)" % role)
    if role == NodeType.WITNESS.value and not params.get("primary_conninfo"):
        raise InvalidOption("primary_conninfo", "is required with role: witness (the witness is a separate server; "
                                                "its record is written on the primary)")
    if params.get("primary_conninfo"):
        conninfo_util.parse(params["primary_conninfo"], "primary_conninfo")
    if (params.get("attach_timeout") or 0) < 0:
        raise InvalidOption("attach_timeout", "must be 0 or more seconds (got %s)" % params["attach_timeout"])
    if params.get("slot_name") and not params.get("use_slot", True):
        raise InvalidOption("slot_name", "is set but use_slot is false")
    return parsed


def desired_record(params, parsed_conninfo, node_type, upstream_node_id=None, upstream_node_name=None):
    """The repmgr.nodes row the options describe (repmgr's init_node_record)."""
    slot = None
    if params.get("use_slot", True):
        slot = params.get("slot_name") or slot_name_for(params["node_id"])
    priority = params.get("priority")
    if node_type == NodeType.WITNESS.value:
        priority = 0  # repmgr: a witness is never a candidate
    return NodeRecord(
        node_id=params["node_id"],
        node_name=params["node_name"],
        type=node_type,
        upstream_node_id=upstream_node_id,
        active=True,
        location=params.get("location") or "default",
        priority=100 if priority is None else priority,
        conninfo=params["conninfo"],
        repluser=params.get("replication_user") or parsed_conninfo.get("user") or "",
        slot_name=slot,
        config_file=params.get("config_file") or "",
        upstream_node_name=upstream_node_name,
    )


def record_differences(before, after):
    """{field: (before, after)} for the columns repmgr stores."""
    if before is None:
        return {name: (None, getattr(after, name)) for name in RECORD_FIELDS}
    return {name: (getattr(before, name), getattr(after, name))
            for name in RECORD_FIELDS if getattr(before, name) != getattr(after, name)}


def record_for_output(record):
    if record is None:
        return {}
    data = record.as_dict()
    data["conninfo"] = conninfo_util.mask(data["conninfo"])
    return data


def describe_nodes(records):
    return ", ".join("%s (ID: %d)" % (r.node_name, r.node_id) for r in records) or "none"


def find_record(records, node_id=None, node_name=None):
    for record in records:
        if node_id is not None and record.node_id == node_id:
            return record
        if node_id is None and node_name is not None and record.node_name == node_name:
            return record
    return None


def check_name_unique(records, desired):
    for record in records:
        if record.node_id != desired.node_id and record.node_name == desired.node_name and record.active:
            raise PreconditionFailed(
                'node_name "%s" is already used by active node ID %d; node names must be unique '
                "(they are the standbys' application_name)" % (desired.node_name, record.node_id)
            )


def check_type_change(existing, desired, force):
    if existing is not None and existing.type != desired.type and not force:
        raise PreconditionFailed(
            'node %d ("%s") is registered as a %s; set force: true to re-register it as a %s'
            % (existing.node_id, existing.node_name, existing.type, desired.type, )
        )


def plan_write(existing, desired):
    """insert / update / None, repmgr's create-or-update of a record."""
    if existing is None:
        return "insert"
    if record_differences(existing, desired):
        return "update"
    return None


# ---------------------------------------------------------------------------------------
# Pure planning

def plan_primary_register(desired, records, schema_plan, running_primaries, force):
    """repmgr primary register.

    `running_primaries`: records of other active primaries that answered and are not in
    recovery: a second running primary is always refused (force does not override it).
    """
    plan = Plan(create_metadata=schema_plan)
    if schema_plan:
        # repmgr logs cluster_created when it creates the extension; our tables are the same act.
        plan.events.append(Event(desired.node_id, "cluster_created", None))
    existing = find_record(records, node_id=desired.node_id)
    for other in running_primaries:
        if other.node_id != desired.node_id:
            registered = ("an active registered primary" if other.type == NodeType.PRIMARY.value
                          else "a node registered as %s" % other.type)
            raise PreconditionFailed(
                'there is already %s "%s" (ID: %d) in this cluster, and it is running as a primary; '
                "a cluster has one primary" % (registered, other.node_name, other.node_id)
            )
    check_name_unique(records, desired)
    check_type_change(existing, desired, force)
    plan.deactivate_primaries = [r.node_id for r in records
                                 if r.type == NodeType.PRIMARY.value and r.active and r.node_id != desired.node_id]
    plan.before = existing
    plan.record = desired
    plan.write = plan_write(existing, desired)
    if plan.write:
        details = "" if plan.write == "insert" else PRIMARY_REGISTER_UPDATED
        plan.events.append(Event(desired.node_id, "primary_register", details))
    return plan


def plan_standby_register(desired, records, upstream, attachment, force):
    """repmgr standby register.

    `attachment`: 'attached', 'detached', 'unknown' or a walsender state, as
    cluster.node_attachment() spells status.attachment(); None when the node is not running.
    """
    existing = find_record(records, node_id=desired.node_id)
    check_name_unique(records, desired)
    check_type_change(existing, desired, force)
    if attachment != "attached" and not force:
        raise PreconditionFailed(
            'node "%s" (ID: %d) is not attached to its upstream "%s" (ID: %d): %s; start streaming first '
            "(application_name in primary_conninfo must be the node name) or set force: true"
            % (desired.node_name, desired.node_id, upstream.node_name, upstream.node_id,
               attachment_problem(attachment, desired.node_name))
        )
    desired = replace(desired, upstream_node_id=upstream.node_id, upstream_node_name=upstream.node_name)
    plan = Plan(before=existing, record=desired, write=plan_write(existing, desired))
    if plan.write:
        # repmgr can only update an existing record with -F, and says so in the event
        details = STANDBY_REGISTER_OK % upstream.node_id + (FORCE_SUFFIX if force or plan.write == "update" else "")
        plan.events.append(Event(desired.node_id, "standby_register", details))
    return plan


def attachment_problem(attachment, node_name):
    if attachment is None:
        return "the node is not running, so its attachment could not be checked"
    if attachment == "detached":
        return 'no walsender with application_name "%s" in its pg_stat_replication' % node_name
    if attachment == "unknown":
        return 'more than one walsender with application_name "%s", or the upstream did not answer' % node_name
    return 'its walsender is in state "%s", not streaming' % attachment


def plan_witness_register(desired, primary_records, primary_node_id, witness_records, schema_plan, force):
    """repmgr witness register: record on the primary, node rows copied to the witness."""
    existing = find_record(primary_records, node_id=desired.node_id)
    if existing is not None and existing.type != NodeType.WITNESS.value:
        raise PreconditionFailed('node %d ("%s") is registered as a %s, not a witness; unregister it first'
                                 % (existing.node_id, existing.node_name, existing.type))
    check_name_unique(primary_records, desired)
    primary = find_record(primary_records, node_id=primary_node_id)
    desired = replace(desired, upstream_node_id=primary_node_id,
                      upstream_node_name=primary.node_name if primary else None)
    plan = Plan(create_metadata=schema_plan, before=existing, record=desired, write=plan_write(existing, desired))
    if plan.write:
        plan.events.append(Event(desired.node_id, "witness_register", WITNESS_REGISTER_OK % primary_node_id))
    after = [r for r in primary_records if r.node_id != desired.node_id] + [desired]
    plan.copy_nodes_to_witness = comparable_rows(after) != comparable_rows(witness_records)
    return plan


def comparable_rows(records):
    return sorted(tuple(getattr(r, name) for name in ("node_id",) + RECORD_FIELDS) for r in records)


def plan_unregister(records, node_id, role, force):
    """repmgr primary|standby|witness unregister (state: absent)."""
    existing = find_record(records, node_id=node_id)
    plan = Plan(before=existing)
    if existing is None:
        return plan
    if role is not None and existing.type != role:
        raise PreconditionFailed('node %d ("%s") is registered as a %s, not a %s'
                                 % (node_id, existing.node_name, existing.type, role))
    downstream = [r for r in records if r.upstream_node_id == node_id and r.node_id != node_id]
    if downstream and existing.type != NodeType.WITNESS.value:
        raise PreconditionFailed('node %d ("%s") is still the upstream of %s: make them follow another node first'
                                 % (node_id, existing.node_name, describe_nodes(downstream)))
    if existing.type == NodeType.PRIMARY.value and existing.active and not force:
        raise PreconditionFailed('node %d ("%s") is the active primary; only an inactive (failed) primary can be '
                                 "unregistered, unless force: true" % (node_id, existing.node_name))
    plan.write = "delete"
    details = {NodeType.PRIMARY.value: None, NodeType.STANDBY.value: None,
               NodeType.WITNESS.value: WITNESS_UNREGISTER_OK}.get(existing.type)
    plan.events.append(Event(node_id, "%s_unregister" % existing.type, details))
    return plan


# ---------------------------------------------------------------------------------------
# Applying a plan (I/O): one transaction per server, metadata only after checks passed

def apply_on_primary(primary_conn, plan, log, schema_plan_on_primary=None, slot_conn=None):
    """Write the plan's metadata changes and events on the primary, in one transaction."""
    with primary_conn.transaction():
        with primary_conn.cursor() as cur:
            if schema_plan_on_primary:
                log.add(*schema.create(cur, schema_plan_on_primary))
            if plan.record is not None and plan.record.type == NodeType.PRIMARY.value:
                if metadata.init_voting_term(cur):
                    log.add(metadata.INIT_VOTING_TERM)
            for node_id in plan.deactivate_primaries:
                metadata.set_active(cur, node_id, False)
                log.add(metadata.SET_ACTIVE)
            if plan.write == "insert":
                metadata.insert_node(cur, plan.record)
                log.add(metadata.INSERT_NODE)
            elif plan.write == "update":
                metadata.update_node(cur, plan.record)
                log.add(metadata.UPDATE_NODE)
            elif plan.write == "delete":
                metadata.delete_node(cur, plan.before.node_id)
                log.add(metadata.DELETE_NODE)
            for event in plan.events:
                metadata.write_event(cur, event.node_id, event.event, event.successful, event.details)
                log.add(metadata.INSERT_EVENT)


def sync_witness(witness_conn, schema_plan, records, log):
    """Create the metadata on the witness if needed and copy the primary's node rows, one transaction."""
    with witness_conn.transaction():
        with witness_conn.cursor() as cur:
            if schema_plan:
                log.add(*schema.create(cur, schema_plan))
            metadata.replace_all_nodes(cur, records)
    log.add(*metadata.REPLACE_ALL_NODES, metadata.INSERT_NODE)


# ---------------------------------------------------------------------------------------
# The whole actions, as repmgr_node runs them

def primary_node_id_of(records):
    """The active primary record's node id (None when there is none or several): primary.active_primary()."""
    record = active_primary(records)
    return record.node_id if record is not None else None


def connect_cluster_primary(local_conn, params, ctx):
    """cluster.connect_primary_from() with this run's options."""
    return cluster.connect_primary_from(local_conn, params.get("primary_conninfo"), ctx.password, ctx.timeout,
                                        ctx.secrets)


def register_primary(params, local_conn, ctx):
    parsed = validate_present(params)
    facts = replication.server_facts(local_conn)
    if facts["in_recovery"]:
        raise PreconditionFailed('node "%s" (ID: %d) is in recovery: a standby cannot be registered as a primary '
                                 "(promote it first, or register it with role: standby)"
                                 % (params["node_name"], params["node_id"]))
    schema_plan = schema.plan(schema.detect(local_conn), params["metadata_mode"])
    records = [] if schema_plan else metadata.read_nodes(local_conn)
    desired = desired_record(params, parsed, NodeType.PRIMARY.value)
    # Every other active node is probed, not only primary records: a stale copy of the metadata
    # (a failed former primary's) lists the promoted node as a standby.
    others = [r for r in records if r.active and r.type != NodeType.WITNESS.value and r.node_id != desired.node_id]
    seen = probe.probe_nodes(others, ctx.password, ctx.timeout, ctx.secrets)
    running = [r for r in others if seen[r.node_id].connected and seen[r.node_id].in_recovery is False]
    plan = plan_primary_register(desired, records, schema_plan, running, params["force"])
    if plan.changed and not ctx.check_mode:
        apply_on_primary(local_conn, plan, ctx.log, schema_plan_on_primary=schema_plan)
    return plan


def register_standby(params, local_conn, ctx):
    parsed = validate_present(params)
    local_version = None
    if local_conn is not None:
        facts = replication.server_facts(local_conn)
        if not facts["in_recovery"]:
            raise PreconditionFailed('node "%s" (ID: %d) is not in recovery: a primary cannot be registered as a '
                                     "standby" % (params["node_name"], params["node_id"]))
        local_version = facts["server_version_num"]
    primary_id, primary_conn = connect_cluster_primary(local_conn, params, ctx)
    with primary_conn:
        primary_facts = replication.server_facts(primary_conn)
        if local_version and local_version // 10000 != primary_facts["server_version_num"] // 10000:
            raise PreconditionFailed("PostgreSQL major versions differ: standby %d, primary %d"
                                     % (local_version // 10000, primary_facts["server_version_num"] // 10000))
        metadata.require_metadata(primary_conn, where="the primary")
        records = metadata.read_nodes(primary_conn)
        if primary_id is None:
            primary_id = primary_node_id_of(records)
        upstream = resolve_upstream(records, params["node_id"], params.get("upstream_node_id"),
                                    params.get("upstream_node_name"), primary_node_id=primary_id)
        attachment = None
        if local_conn is not None:
            attachment = wait_for_attachment(upstream, params["node_name"], params.get("attach_timeout") or 0, ctx)
        desired = desired_record(params, parsed, NodeType.STANDBY.value)
        plan = plan_standby_register(desired, records, upstream, attachment, params["force"])
        if plan.changed and not ctx.check_mode:
            apply_on_primary(primary_conn, plan, ctx.log)
    return plan


def wait_for_attachment(upstream, node_name, timeout, ctx):
    """The attachment, polled for up to `timeout` seconds: a standby just started needs a moment."""
    attachment, _seconds, _attached = waiting.poll(
        lambda: cluster.attachment_on(upstream, node_name, ctx.password, ctx.timeout, ctx.secrets),
        lambda value: value == "attached", timeout, interval=ATTACH_POLL_INTERVAL)
    return attachment


def register_witness(params, local_conn, ctx):
    parsed = validate_present(params)
    facts = replication.server_facts(local_conn)
    if facts["in_recovery"]:
        raise PreconditionFailed('node "%s" (ID: %d) is in recovery: a witness is a separate server, not a standby'
                                 % (params["node_name"], params["node_id"]))
    primary_conn = connection.connect_node(params["primary_conninfo"], ctx)
    with primary_conn:
        primary_facts = replication.server_facts(primary_conn)
        if primary_facts["in_recovery"]:
            raise InvalidOption("primary_conninfo", "reaches a server in recovery, not the primary")
        if primary_facts["system_identifier"] == facts["system_identifier"]:
            raise PreconditionFailed("the witness has the primary's system identifier (%s): a witness must be a "
                                     "separate PostgreSQL instance, not a member of the replication cluster"
                                     % facts["system_identifier"])
        metadata.require_metadata(primary_conn, where="the primary")
        primary_records = metadata.read_nodes(primary_conn)
        primary_id = primary_node_id_of(primary_records)
        if primary_id is None:
            raise PreconditionFailed("the primary's metadata has no single active primary record (found: %s)"
                                     % describe_nodes([r for r in primary_records if r.type == "primary"]))
        schema_plan = schema.plan(schema.detect(local_conn), params["metadata_mode"])
        witness_records = [] if schema_plan else metadata.read_nodes(local_conn)
        desired = desired_record(params, parsed, NodeType.WITNESS.value)
        plan = plan_witness_register(desired, primary_records, primary_id, witness_records, schema_plan,
                                     params["force"])
        if plan.changed and not ctx.check_mode:
            if plan.write:
                apply_on_primary(primary_conn, plan, ctx.log)
            sync_witness(local_conn, schema_plan, metadata.read_nodes(primary_conn), ctx.log)
    return plan


def unregister(params, local_conn, ctx):
    require_node_id(params["node_id"])
    primary_id, primary_conn = connect_cluster_primary(local_conn, params, ctx)
    with primary_conn:
        records = metadata.read_nodes(primary_conn)
        plan = plan_unregister(records, params["node_id"], params.get("role"), params["force"])
        slot = plan.before.slot_name if plan.write == "delete" and plan.before else None
        if slot and params.get("drop_slot", True) and replication.slot_state(primary_conn, slot) is False:
            plan.drop_slot = slot
        if plan.changed and not ctx.check_mode:
            apply_on_primary(primary_conn, plan, ctx.log)
            if plan.drop_slot:
                replication.drop_slot_if_inactive(primary_conn, plan.drop_slot)
                ctx.log.add(replication.DROP_SLOT)
    return plan


# ---------------------------------------------------------------------------------------
# repmgr_node: the action for state and role, on the node's own session

ACTIONS = {
    ("present", "primary"): register_primary,
    ("present", "standby"): register_standby,
    ("present", "witness"): register_witness,
}


def validate(params):
    """repmgr_node's options, before anything is read (InvalidOption)."""
    if params["state"] == "present":
        validate_present(params)
    else:
        require_node_id(params["node_id"])


def connect_local(params, may_be_down):
    """The node's own session; None when it is down and the action can do without it."""
    try:
        return connection.connect_with_params(params, fallback_conninfo=params.get("conninfo"))
    except ConnectionFailed:
        if may_be_down:
            return None
        raise


def run(params, ctx):
    """Register or unregister as repmgr_node asks; the Plan applied (or, in check mode, planned) as an Outcome."""
    if params["state"] == "present":
        action = ACTIONS[(params["state"], params["role"])]
        # A standby that is not running can be registered with force, as repmgr -F does.
        may_be_down = params["role"] == "standby" and params["force"] and bool(params["primary_conninfo"])
    else:
        action = unregister
        may_be_down = bool(params["primary_conninfo"])
    local_conn = connect_local(params, may_be_down)
    try:
        plan = action(params, local_conn, ctx)
    finally:
        if local_conn is not None:
            local_conn.close()
    return plan.outcome()
