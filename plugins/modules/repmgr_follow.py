#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_follow
short_description: Make a running standby stream from another upstream (repmgr standby follow)
description:
  - Run against the standby. The new upstream is O(upstream_node_id) / O(upstream_node_name), or the current
    primary found from the metadata (the first active node that answers and is not in recovery).
  - "Checks first, as repmgr's attach check: same system identifier; the node's timeline and WAL position do
    not run past the point where the target's timeline history forked from it. A node that does must be
    rewound: the module refuses and says so (see M(pgha.repmgr.repmgr_rejoin) with O(pgha.repmgr.repmgr_rejoin#module:rewind=true))."
  - Creates the node's slot on the new upstream, sets C(primary_conninfo) (C(application_name) = node name) and
    C(primary_slot_name) with C(ALTER SYSTEM) and reloads (PostgreSQL 13 and later need no restart), then waits
    until the node streams in the target's C(pg_stat_replication), polling every 0.1 s.
  - If it does not stream within O(wait_timeout) the module fails and writes a failed C(standby_follow) event
    (repmgr reports success even then).
  - On success, in one transaction on the primary; the node's record gets the new upstream (type standby, active)
    and the C(standby_follow) event is written with repmgr's text. The node's old slot on its previous upstream
    is dropped when that node answers and the slot is inactive.
  - A node that already streams from the target, with the metadata saying so, is reported unchanged.
  - Run against a witness, the witness follows the new primary as repmgrd makes it do; its record's upstream is
    set on the primary and its copy of C(repmgr.nodes) is replaced by the primary's (a stale copy could mislead
    the next election).
  - With O(failover_of) (the automatic failover), the target must be out of recovery already, the failed primary
    is never tried as a connection target, and C(repmgrd_failover_follow) is written beside C(standby_follow)
    with repmgrd's text.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  node_id:
    description: repmgr node ID of the standby (the node the module connects to). Default from C(pgha_node_id).
    type: int
    required: true
  upstream_node_id:
    description: The node to follow (a primary, or a standby for cascading). Default is the current primary.
    type: int
  upstream_node_name:
    description: The node to follow, by name.
    type: str
  passfile:
    description: C(passfile) to put into C(primary_conninfo); default is the one the node uses now.
    type: path
  wait_timeout:
    description: Seconds to wait until the node streams from the new upstream (repmgr's standby_follow_timeout).
    type: int
    default: 30
  failover_of:
    description:
      - repmgr node ID of the failed primary, when this follow is part of its automatic failover. Needs
        O(upstream_node_id) or O(upstream_node_name), the new primary.
    type: int
  wait_for_promotion:
    description:
      - Wait until the upstream asked for has left recovery, then follow it at once (the automatic failover starts
        the followers while the winner's promotion still waits for the end of the retry window). Meanwhile the
        node's slot is created on the winner. Looks every 0.05 s for at most O(promotion_timeout) seconds; a
        winner that is not promoted, or stops answering, changes nothing (C(stood_down=true)).
    type: bool
    default: false
  promotion_timeout:
    description: Seconds to wait for the promotion with O(wait_for_promotion).
    type: int
    default: 60
attributes:
  diff_mode:
    support: full
    details: the node's record before and after (type, upstream, active)
"""

EXAMPLES = r"""
- name: Follow the new primary after a promotion
  pgha.repmgr.repmgr_follow:
    login_host: 10.0.0.13
    login_password: "{{ repmgr_password }}"
    node_id: 3
"""

RETURN = r"""
node_id:
  description: The node that follows (O(node_id)).
  returned: always
  type: int
  sample: 3
upstream_node_id:
  description: The upstream the node follows now (or, when it stood down, would have followed).
  returned: always
  type: int
  sample: 2
upstream_node_name:
  description: Its name.
  returned: always
  type: str
  sample: node2
attach_seconds:
  description: Seconds from the configuration change until the node streamed; null when nothing was changed (and in
    check mode, and for a witness).
  returned: unless the run stood down
  type: float
  sample: 1.42
old_slot_dropped:
  description: The name of the slot dropped on the previous upstream; null when none was.
  returned: unless the run stood down
  type: str
  sample: repmgr_slot_3
reason:
  description: What was done, or why nothing was.
  returned: unless the run stood down
  type: str
  sample: 'node "node3" (ID: 3) follows "node2" (ID: 2)'
rewound:
  description: Always false - a follow never runs pg_rewind (the key is shared with M(pgha.repmgr.repmgr_rejoin)).
  returned: unless the run stood down
  type: bool
  sample: false
stale_slots_dropped:
  description: Always empty - a follow drops no slot on the node itself (the key is shared with
    M(pgha.repmgr.repmgr_rejoin)).
  returned: unless the run stood down
  type: list
  elements: str
  sample: []
stood_down:
  description: With O(wait_for_promotion), the upstream was not promoted (or stopped answering); nothing was changed.
  returned: when it stood down
  type: bool
  sample: true
events:
  description: The repmgr events written (or, in check mode, that would be); empty when nothing changes.
  returned: always
  type: list
  elements: dict
  contains:
    node_id: {description: "The following node's ID", type: int}
    event: {description: "C(standby_follow), with O(failover_of) then C(repmgrd_failover_follow); for a witness
      C(repmgrd_failover_follow) only", type: str}
    details: {description: "repmgr's text of the event", type: str}
  sample:
    - {node_id: 3, event: standby_follow, details: 'standby attached to upstream node "node2" (ID: 2)'}
    - {node_id: 3, event: repmgrd_failover_follow,
       details: 'node "node3" (ID: 3) now following new upstream node "node2" (ID: 2)'}
queries:
  description: SQL statements that changed something (templates; bound parameters are not shown).
  returned: always
  type: list
  elements: str
  sample:
    - "SELECT pg_catalog.pg_create_physical_replication_slot(%s, TRUE)"
    - ALTER SYSTEM SET primary_conninfo
    - ALTER SYSTEM SET primary_slot_name
    - SELECT pg_catalog.pg_reload_conf()
    - SELECT pg_catalog.pg_drop_replication_slot(%s)
    - "UPDATE repmgr.nodes SET type = 'standby', upstream_node_id = %s, active = TRUE WHERE node_id = %s"
    - "INSERT INTO repmgr.events (node_id, event, successful, details) VALUES (%s, %s, %s, %s) RETURNING event_timestamp"
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import connection, follow
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import execute


def main():
    execute(AnsibleModule, dict(
        node_id=dict(type="int", required=True),
        upstream_node_id=dict(type="int"),
        upstream_node_name=dict(type="str"),
        passfile=dict(type="path"),
        wait_timeout=dict(type="int", default=30),
        failover_of=dict(type="int"),
        wait_for_promotion=dict(type="bool", default=False),
        promotion_timeout=dict(type="int", default=60),
    ), lambda module, conn, ctx: follow.follow(module.params, conn, ctx, connection.login_conninfo(module.params)),
        validate=follow.validate, waits=("connect_timeout", "wait_timeout", "promotion_timeout"),
        mutually_exclusive=[("upstream_node_id", "upstream_node_name")])


if __name__ == "__main__":
    main()
