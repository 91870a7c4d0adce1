#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_node
short_description: Register or unregister a primary, standby or witness in the repmgr metadata
description:
  - Does what C(repmgr primary|standby|witness register) and C(unregister) do, with the same preconditions,
    the same rows in C(repmgr.nodes) and the same events in C(repmgr.events), so the real repmgr CLI and
    repmgrd see the node as if repmgr had registered it.
  - "O(role=primary): the server must not be in recovery. Creates the repmgr metadata (database O(login_db),
    schema C(repmgr)) if missing, seeds C(repmgr.voting_term), marks stale primary records inactive, and
    refuses when another registered primary is running as a primary."
  - "O(role=standby): the server must be in recovery and attached to its upstream (a walsender with
    C(application_name) = O(node_name) on the upstream), unless O(force). The record is written on the
    primary, found from the metadata as repmgr finds it."
  - "O(role=witness): a separate server (not in recovery, another system identifier); the record is written
    on the primary (O(primary_conninfo)) with priority 0, and the node rows are copied to the witness."
  - "O(state=absent) removes the record on the primary and logs the C(*_unregister) event. Unlike repmgr
    it also drops the node's replication slot on the primary when it is inactive (see O(drop_slot)),
    so an unregistered standby does not pin WAL forever."
  - A node registered again with identical values is reported unchanged and writes nothing.
    Changing a registered node's attributes (priority, location, conninfo, ...) updates the record;
    changing its type (for example standby to primary) needs O(force).
  - All metadata writes of one run happen in one transaction on the primary, after every check passed.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  state:
    description: Whether the node is registered.
    type: str
    choices: [present, absent]
    default: present
  role:
    description:
      - The node's role, repmgr's node type. Required with O(state=present).
      - With O(state=absent), when given, the record must have this type.
    type: str
    choices: [primary, standby, witness]
  node_id:
    description: repmgr node ID, a positive integer unique in the cluster (repmgr.conf C(node_id)).
    type: int
    required: true
  node_name:
    description:
      - Node name, unique in the cluster, at most 63 characters (repmgr.conf C(node_name)).
      - A standby's C(primary_conninfo) must use it as C(application_name); that is how attachment is seen.
    type: str
  conninfo:
    description:
      - How every other node (and repmgr) connects to this node, stored in C(repmgr.nodes.conninfo),
        for example C(host=node1 port=5432 user=repmgr dbname=repmgr connect_timeout=2).
      - Must not contain a password. Required with O(state=present).
      - When neither O(login_host) nor O(login_unix_socket) is set, the module connects with it.
    type: str
  location:
    description: repmgr location; failover prefers candidates in the failed primary's location.
    type: str
    default: default
  priority:
    description: Failover priority; a higher value wins a tie on LSN, 0 means never promoted. A witness always gets 0.
    type: int
    default: 100
  upstream_node_id:
    description: Standby only. The node this standby streams from; default is the current primary.
    type: int
  upstream_node_name:
    description: Standby only. The upstream by name instead of O(upstream_node_id).
    type: str
  replication_user:
    description: Role used for streaming replication (C(repmgr.nodes.repluser)). Default is the O(conninfo)'s C(user).
    type: str
  use_slot:
    description: Record a replication slot name for the node (repmgr's C(use_replication_slots)).
    type: bool
    default: true
  slot_name:
    description: The slot name to record; default C(repmgr_slot_<node_id>), as repmgr.
    type: str
  config_file:
    description: Path of the node's repmgr.conf, stored in C(repmgr.nodes.config_file) for the repmgr CLI.
    type: str
    default: ''
  metadata_mode:
    description:
      - How to create the repmgr metadata when it is missing (primary and witness).
      - C(extension) runs C(CREATE EXTENSION repmgr) (needs the repmgr package on the server; repmgrd can then
        run beside this collection); C(tables) creates repmgr's tables and views with plain DDL (the repmgr CLI
        needs nothing more); C(auto) uses the extension when the server offers it, else tables.
    type: str
    choices: [auto, extension, tables]
    default: auto
  primary_conninfo:
    description:
      - conninfo of the primary (without password). Required with O(role=witness).
      - For a standby or O(state=absent), used first to find the primary; needed when the node itself is
        down (then O(force) registers a standby that is not running, as C(repmgr standby register -F)).
    type: str
  attach_timeout:
    description:
      - Standby only. Seconds to wait for the standby to appear as streaming in its upstream's
        C(pg_stat_replication) before the attachment check fails (a standby just started needs a moment).
    type: int
    default: 15
  drop_slot:
    description: With O(state=absent), drop the node's replication slot on the primary if it exists and is inactive.
    type: bool
    default: true
  force:
    description:
      - Register a standby that is not attached or not running; re-register a node with another type;
        unregister an active primary. Never allows a second running primary.
    type: bool
    default: false
attributes:
  diff_mode:
    support: full
notes:
  - Run it against the node being registered (connect to it), as repmgr is run on the node.
seealso:
  - module: pgha.repmgr.repmgr_cluster_info
  - name: repmgr primary register
    description: The repmgr command this module mirrors for primaries (standby and witness register likewise).
    link: https://www.repmgr.org/docs/current/repmgr-primary-register.html
"""

EXAMPLES = r"""
- name: Register the primary (creates the metadata on first run)
  pgha.repmgr.repmgr_node:
    role: primary
    node_id: 1
    node_name: node1
    conninfo: host=10.0.0.11 user=repmgr dbname=repmgr connect_timeout=2
    login_password: "{{ repmgr_password }}"

- name: Register a streaming standby
  pgha.repmgr.repmgr_node:
    role: standby
    node_id: 2
    node_name: node2
    conninfo: host=10.0.0.12 user=repmgr dbname=repmgr connect_timeout=2
    priority: 90
    login_password: "{{ repmgr_password }}"

- name: Unregister a decommissioned standby (its slot on the primary is dropped)
  pgha.repmgr.repmgr_node:
    state: absent
    node_id: 3
    primary_conninfo: host=10.0.0.11 user=repmgr dbname=repmgr
    login_password: "{{ repmgr_password }}"
"""

RETURN = r"""
record:
  description: The node's record after the run (or, in check mode, as it would be; conninfo password-masked); empty
    after O(state=absent).
  returned: always
  type: dict
  contains:
    node_id: {description: "repmgr node ID", type: int}
    node_name: {description: "Node name", type: str}
    type: {description: "C(primary), C(standby) or C(witness)", type: str}
    upstream_node_id: {description: "The registered upstream's node ID (null for a primary)", type: int}
    upstream_node_name: {description: "The registered upstream's node name", type: str}
    active: {description: "The record's active flag", type: bool}
    location: {description: "Location", type: str}
    priority: {description: "Failover priority (0 = never promoted)", type: int}
    conninfo: {description: "The node's conninfo, any password masked", type: str}
    repluser: {description: "The replication user", type: str}
    slot_name: {description: "The node's replication slot name, or null", type: str}
    config_file: {description: "The repmgr.conf path recorded (O(config_file))", type: str}
  sample:
    node_id: 2
    node_name: node2
    type: standby
    upstream_node_id: 1
    upstream_node_name: node1
    active: true
    location: default
    priority: 100
    conninfo: host=node2 port=5432 user=repmgr dbname=repmgr connect_timeout=2
    repluser: repmgr
    slot_name: repmgr_slot_2
    config_file: /etc/repmgr.conf
before:
  description: The node's record before the run, with the keys of RV(record); empty when it was not registered.
  returned: always
  type: dict
  sample: {}
events:
  description: The repmgr events written (or, in check mode, that would be written); empty when nothing changes.
  returned: always
  type: list
  elements: dict
  contains:
    node_id: {description: "The node's ID", type: int}
    event: {description: "repmgr's event type (C(primary_register), C(standby_register), C(witness_register),
      C(cluster_created), C(standby_unregister), ...; details may be null)", type: str}
    details: {description: "repmgr's text of the event", type: str}
  sample: [{node_id: 2, event: standby_register, details: "standby registration succeeded; upstream node ID is 1"}]
metadata_created:
  description: "C(extension) or C(tables) when the run created the repmgr metadata, else null."
  returned: always
  type: str
  sample: extension
slot_dropped:
  description: The replication slot dropped on the primary by O(state=absent), if any; else null.
  returned: always
  type: str
  sample: null
queries:
  description: The SQL statements that changed something (templates; bound parameters are not shown).
  returned: always
  type: list
  elements: str
  sample:
    - "INSERT INTO repmgr.nodes (node_id, type, upstream_node_id, node_name, conninfo, repluser, slot_name, location,
      priority, active, config_file) VALUES (%(node_id)s, %(type)s, %(upstream_node_id)s, %(node_name)s, %(conninfo)s,
      %(repluser)s, %(slot_name)s, %(location)s, %(priority)s, %(active)s, %(config_file)s)"
    - "INSERT INTO repmgr.events (node_id, event, successful, details) VALUES (%s, %s, %s, %s) RETURNING event_timestamp"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import registration
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import NO_CONNECTION, execute


def main():
    # The node's own session is opened by registration.run(): a standby may be registered while down.
    execute(AnsibleModule, dict(
        state=dict(type="str", choices=["present", "absent"], default="present"),
        role=dict(type="str", choices=list(registration.ROLES)),
        node_id=dict(type="int", required=True),
        node_name=dict(type="str"),
        conninfo=dict(type="str"),
        location=dict(type="str", default="default"),
        priority=dict(type="int", default=100),
        upstream_node_id=dict(type="int"),
        upstream_node_name=dict(type="str"),
        replication_user=dict(type="str"),
        use_slot=dict(type="bool", default=True),
        slot_name=dict(type="str"),
        config_file=dict(type="str", default=""),
        metadata_mode=dict(type="str", choices=["auto", "extension", "tables"], default="auto"),
        primary_conninfo=dict(type="str"),
        attach_timeout=dict(type="int", default=15),
        drop_slot=dict(type="bool", default=True),
        force=dict(type="bool", default=False),
    ), lambda module, _conn, ctx: registration.run(module.params, ctx), validate=registration.validate,
        waits=("connect_timeout", "attach_timeout"), connect=NO_CONNECTION,
        mutually_exclusive=[("upstream_node_id", "upstream_node_name")])


if __name__ == "__main__":
    main()
