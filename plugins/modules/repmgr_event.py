#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_event
short_description: Write a repmgr event into repmgr.events on the primary
description:
  - Writes one row into C(repmgr.events), as repmgr's C(create_event_notification) does, so that
    C(repmgr cluster event) lists it. Used by the playbooks for the events no single module owns
    (C(standby_switchover), the C(repmgrd_failover_*) events).
  - Like repmgr, events are written on the primary only; the connection options must reach it (the module
    fails on a server in recovery).
  - Always reports changed (an event is a new fact each time); in check mode nothing is written.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  node_id:
    description: The node the event is about.
    type: int
    required: true
  event:
    description: Event name, one of repmgr's (for example C(standby_switchover)).
    type: str
    required: true
  successful:
    description: The event's success flag.
    type: bool
    default: true
  details:
    description: Detail text, in repmgr's wording for that event.
    type: str
  increment_voting_term:
    description: Also add 1 to C(repmgr.voting_term), in the same transaction, as repmgrd does after an automatic promotion.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Log the switchover as repmgr does
  pgha.repmgr.repmgr_event:
    login_host: 10.0.0.12
    node_id: 2
    event: standby_switchover
    details: 'node "node2" (ID: 2) promoted to primary, node "node1" (ID: 1) demoted to standby'
"""

RETURN = r"""
event_timestamp:
  description: The event's timestamp, as PostgreSQL prints it (null in check mode).
  returned: always
  type: str
  sample: "2026-11-30 16:20:01.123456+00"
voting_term:
  description: The voting term after O(increment_voting_term), else null.
  returned: always
  type: int
  sample: 3
events:
  description: The repmgr event written (or, in check mode, that would be).
  returned: always
  type: list
  elements: dict
  contains:
    node_id: {description: "The event's node ID (O(node_id))", type: int}
    event: {description: "The event type (O(event))", type: str}
    details: {description: "The event's details (O(details)), or null", type: str}
  sample:
    - {node_id: 2, event: standby_switchover,
       details: 'node "node2" (ID: 2) promoted to primary, node "node1" (ID: 1) demoted to standby'}
queries:
  description: The SQL statements run (templates; bound parameters are not shown); empty in check mode.
  returned: always
  type: list
  elements: str
  sample:
    - UPDATE repmgr.voting_term SET term = term + 1 RETURNING term
    - INSERT INTO repmgr.events (node_id, event, successful, details) VALUES (%s, %s, %s, %s) RETURNING event_timestamp
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import event
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import execute


def main():
    execute(AnsibleModule, dict(
        node_id=dict(type="int", required=True),
        event=dict(type="str", required=True),
        successful=dict(type="bool", default=True),
        details=dict(type="str"),
        increment_voting_term=dict(type="bool", default=False),
    ), lambda module, conn, ctx: event.record_event(module.params, conn, ctx), validate=event.validate)


if __name__ == "__main__":
    main()
