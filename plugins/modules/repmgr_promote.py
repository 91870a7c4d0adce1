#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_promote
short_description: Promote a standby to primary (repmgr standby promote)
description:
  - Run against the standby to promote. Checks first, and changes nothing when a check fails
    (the node is in recovery; no other registered node is running as a primary unless O(force);
    WAL replay is not paused with received WAL still to replay).
  - Promotes with C(pg_promote()) when the login role may call it, else with C(pg_ctl promote) on
    O(data_directory), then waits until the server has left recovery, polling every 0.1 s (repmgr polls
    once a second) for at most O(promote_check_timeout) seconds.
  - Then, in one transaction on the new primary, as repmgr does; every other active primary record becomes
    inactive, this node becomes the primary (no upstream, active), and the C(standby_promote) event is
    written with repmgr's text.
  - A node that already is the registered, running primary is reported unchanged.
  - Does not make the other standbys follow; use M(pgha.repmgr.repmgr_follow) on them.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  node_id:
    description:
      - repmgr node ID of the node to promote (the node the module connects to).
      - From an inventory with C(pgha_node_id), that is the default.
    type: int
    required: true
  promote_check_timeout:
    description: Seconds to wait for the server to leave recovery.
    type: int
    default: 60
  force:
    description: Promote even though another registered node is running as a primary. Only when that primary is fenced.
    type: bool
    default: false
  wait_for_received_lsn:
    description:
      - Before promoting, wait until the node has received WAL up to this LSN (a switchover passes the old
        primary's shutdown checkpoint). If it does not arrive within O(wait_for_received_timeout), nothing is changed.
    type: str
  wait_for_received_timeout:
    description: Seconds to wait for O(wait_for_received_lsn) (repmgr's wal_receive_check_timeout).
    type: int
    default: 30
  data_directory:
    description: The node's data directory, for C(pg_ctl promote) when the login role may not call C(pg_promote()).
    type: path
  pg_bindir:
    description: Directory of pg_ctl (default Debian's for the server's version).
    type: path
attributes:
  diff_mode:
    support: full
    details: the node's record before and after (type, upstream, active)
"""

EXAMPLES = r"""
- name: Promote node2
  pgha.repmgr.repmgr_promote:
    login_host: 10.0.0.12
    login_password: "{{ repmgr_password }}"
    node_id: 2
"""

RETURN = r"""
node_id:
  description: The node promoted (O(node_id)).
  returned: always
  type: int
  sample: 2
node_name:
  description: Its node name.
  returned: always
  type: str
  sample: node2
promote_seconds:
  description: Seconds from the promotion request until the server left recovery; null when no promotion was requested
    (the node already was out of recovery, or check mode).
  returned: always
  type: float
  sample: 0.214
method:
  description: How the promotion was requested, C(pg_promote) or C(pg_ctl promote); null when none was.
  returned: always
  type: str
  sample: pg_promote
events:
  description: The repmgr events written (or, in check mode, that would be); empty when the node already is the primary.
  returned: always
  type: list
  elements: dict
  contains:
    node_id: {description: "The promoted node's ID", type: int}
    event: {description: "C(standby_promote)", type: str}
    details: {description: "repmgr's text of the event", type: str}
  sample: [{node_id: 2, event: standby_promote, details: 'server "node2" (ID: 2) was successfully promoted to primary'}]
queries:
  description: SQL statements run (templates; bound parameters are not shown).
  returned: always
  type: list
  elements: str
  sample:
    - "SELECT pg_catalog.pg_promote(wait := FALSE)"
    - "UPDATE repmgr.nodes SET active = FALSE WHERE type = 'primary' AND active IS TRUE AND node_id != %s"
    - "UPDATE repmgr.nodes SET type = 'primary', upstream_node_id = NULL, active = TRUE WHERE node_id = %s"
    - "INSERT INTO repmgr.events (node_id, event, successful, details) VALUES (%s, %s, %s, %s) RETURNING event_timestamp"
promote_requested:
  description:
    - The promotion was requested but the run failed afterwards (the server did not leave recovery within
      O(promote_check_timeout), or the metadata could not be written); the server may be, or become, a primary.
      Start no other primary; run the module again to record it.
  returned: on failure, after the promotion was requested
  type: bool
  sample: true
rc:
  description: The exit code of C(pg_ctl promote) when it failed.
  returned: on failure of C(pg_ctl promote)
  type: int
  sample: 1
stdout:
  description: Its standard output (passwords masked).
  returned: on failure of C(pg_ctl promote)
  type: str
  sample: ""
stderr:
  description: Its standard error (passwords masked).
  returned: on failure of C(pg_ctl promote)
  type: str
  sample: 'pg_ctl: cannot promote server; server is not in standby mode'
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import promote
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import execute


def main():
    execute(AnsibleModule, dict(
        node_id=dict(type="int", required=True),
        promote_check_timeout=dict(type="int", default=60),
        force=dict(type="bool", default=False),
        wait_for_received_lsn=dict(type="str"),
        wait_for_received_timeout=dict(type="int", default=30),
        data_directory=dict(type="path"),
        pg_bindir=dict(type="path"),
    ), lambda module, conn, ctx: promote.promote(module.params, conn, ctx, module.run_command),
        validate=promote.validate, waits=("promote_check_timeout", "wait_for_received_timeout", "connect_timeout"))


if __name__ == "__main__":
    main()
