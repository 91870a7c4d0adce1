#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_switchover_plan
short_description: Check that a planned switchover can go ahead, and say who does what
description:
  - Reads the cluster (as M(pgha.repmgr.repmgr_cluster_info)) and checks what C(repmgr standby switchover) checks
    before it changes anything; the new primary is a registered, active standby, streaming from the one running
    primary, lagging at most O(max_lag_bytes); every other active standby is reachable so that it can follow.
  - Fails, naming every problem found, when the switchover cannot go ahead. Never changes anything.
  - Returns the old primary, the target, the siblings and the C(standby_switchover) event text, for
    the playbook C(pgha.repmgr.switchover).
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  new_primary:
    description: Node name of the standby to promote.
    type: str
    required: true
  max_lag_bytes:
    description: Most WAL (bytes) the new primary may lag behind the primary.
    type: int
    default: 16777216
"""

EXAMPLES = r"""
- name: May node2 become the primary?
  pgha.repmgr.repmgr_switchover_plan:
    new_primary: node2
  register: plan
"""

RETURN = r"""
already_primary:
  description: The requested node already is the running primary (then there is nothing to do).
  returned: always
  type: bool
  sample: false
old_primary:
  description: The current primary.
  returned: always
  type: dict
  contains:
    node_id: {description: "Its node ID", type: int}
    node_name: {description: "Its node name", type: str}
  sample: {node_id: 1, node_name: node1}
target:
  description: The new primary (O(new_primary)).
  returned: always
  type: dict
  contains:
    node_id: {description: "Its node ID", type: int}
    node_name: {description: "Its node name", type: str}
  sample: {node_id: 2, node_name: node2}
siblings:
  description: The other active standbys, which follow the new primary; empty when RV(already_primary).
  returned: always
  type: list
  elements: dict
  contains:
    node_id: {description: "The standby's node ID", type: int}
    node_name: {description: "Its node name", type: str}
  sample: [{node_id: 3, node_name: node3}]
lag_bytes:
  description: How far the target's WAL is behind the primary's, in bytes (0 when RV(already_primary); null when it
    could not be measured).
  returned: always
  type: int
  sample: 0
event_details:
  description: The C(standby_switchover) event text for a successful switchover; null when RV(already_primary).
  returned: always
  type: str
  sample: 'node "node2" (ID: 2) promoted to primary, node "node1" (ID: 1) demoted to standby'
events:
  description: Always empty - the plan writes nothing.
  returned: always
  type: list
  elements: dict
  sample: []
queries:
  description: Always empty - the plan only reads.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import cluster, switchover
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import execute
from ansible_collections.pgha.repmgr.plugins.module_utils.outcome import Outcome


def plan(module, conn, ctx):
    view = cluster.read_view(conn, password=ctx.password, timeout=ctx.timeout, secrets=ctx.secrets)
    plan = switchover.plan_switchover(view, module.params["new_primary"], module.params["max_lag_bytes"])
    return Outcome(changed=False, msg="the switchover to %s can go ahead" % module.params["new_primary"], **plan)


def main():
    execute(AnsibleModule, dict(
        new_primary=dict(type="str", required=True),
        max_lag_bytes=dict(type="int", default=switchover.DEFAULT_MAX_LAG_BYTES),
    ), plan, validate=switchover.validate, waits=("connect_timeout", "connect_timeout"))


if __name__ == "__main__":
    main()
