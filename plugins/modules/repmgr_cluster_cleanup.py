#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_cluster_cleanup
short_description: Delete old monitoring history rows, as C(repmgr cluster cleanup --keep-history=N) does
description:
  - Deletes rows of C(repmgr.monitoring_history) (written by the monitor with C(monitoring_history=true), or by
    repmgrd with C(monitoring_history=yes)) that are at least O(keep_history) days old, of one standby when
    O(node_id) is given; with O(keep_history=0) and no O(node_id) it empties the table (C(TRUNCATE)), as repmgr does.
    Then it vacuums the table (when it cannot, for example because another role owns the table, it warns) and
    writes the event C(cluster_cleanup) with repmgr's text, which C(repmgr cluster event) lists.
  - The module connects to any node of the cluster and deletes on the primary it finds from there (repmgr's
    primary search). The event carries the ID of the node connected to (repmgr writes its own node's ID), or the
    primary's when that node is not registered under the address connected to.
  - Idempotent - when no row is old enough it changes nothing and writes no event (repmgr then says C(no
    monitoring records to delete)). In check mode it reports how many rows would be deleted.
  - The rows and the event are written in one transaction.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  keep_history:
    description:
      - Keep this many days of history (repmgr's C(--keep-history)); rows at least this many days old go.
      - C(0), the default, deletes all rows.
    type: int
    default: 0
  node_id:
    description:
      - Only rows of this standby (repmgr's C(--node-id)).
      - Not defaulted from the inventory, unlike the connection options, since it narrows what is deleted.
    type: int
notes:
  - Rows whose C(last_monitor_time) is in the future (a standby whose clock is ahead) are not counted, as with
    repmgr; when only such rows exist nothing is deleted.
seealso:
  - name: repmgr cluster cleanup
    description: The command this module mirrors.
    link: https://www.repmgr.org/docs/current/repmgr-cluster-cleanup.html
  - module: pgha.repmgr.repmgr_cluster_info
    description: Its O(pgha.repmgr.repmgr_cluster_info#module:replication_status) option reads the newest row per standby.
"""

EXAMPLES = r"""
- name: Keep a week of monitoring history (a daily cron job, or a scheduled job template)
  pgha.repmgr.repmgr_cluster_cleanup:
    login_host: 10.0.0.12
    login_password: "{{ repmgr_password }}"
    keep_history: 7

- name: Forget all history of node3, which was replaced
  pgha.repmgr.repmgr_cluster_cleanup:
    login_host: 10.0.0.12
    node_id: 3

- name: How many rows would go?
  pgha.repmgr.repmgr_cluster_cleanup:
    keep_history: 30
  check_mode: true
  register: would
"""

RETURN = r"""
deleted:
  description:
    - Rows deleted, or in check mode the rows that would be.
    - After a C(TRUNCATE) (O(keep_history=0), no O(node_id)) it is the count taken just before.
  returned: always
  type: int
  sample: 8640
keep_history:
  description: The O(keep_history) used.
  returned: always
  type: int
  sample: 7
node_id:
  description: The O(node_id) used, or null for every standby.
  returned: always
  type: int
  sample: null
primary_node_id:
  description: The primary the rows were deleted on.
  returned: always
  type: int
  sample: 1
vacuumed:
  description: Whether the table was vacuumed after the delete (false when nothing was deleted, in check mode, or
    when the vacuum was not allowed).
  returned: always
  type: bool
  sample: true
vacuum_warning:
  description: Why the table could not be vacuumed (also shown as a warning); null otherwise.
  returned: always
  type: str
  sample: null
events:
  description: The repmgr event written (or, in check mode, that would be); empty when nothing is deleted.
  returned: always
  type: list
  elements: dict
  contains:
    node_id: {description: "The node the module connected to (repmgr's own node), or the primary", type: int}
    event: {description: "C(cluster_cleanup)", type: str}
    successful: {description: "Always true (a failed delete fails the module)", type: bool}
    details: {description: "repmgr's text of the event", type: str}
  sample: [{node_id: 2, event: cluster_cleanup, successful: true,
            details: "monitoring records deleted; records newer than 7 day(s) retained"}]
msg:
  description: The event's text, C(no monitoring records to delete), or in check mode what would be deleted.
  returned: always
  type: str
  sample: "monitoring records deleted; records newer than 7 day(s) retained"
queries:
  description: SQL statements run (templates).
  returned: always
  type: list
  elements: str
  sample: ["SELECT pg_catalog.count(*) FROM repmgr.monitoring_history WHERE ..."]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import cleanup
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import execute


def run(module, conn, ctx):
    outcome = cleanup.cleanup(module.params, conn, ctx)
    if outcome.vacuum_warning:
        module.warn(outcome.vacuum_warning)
    return outcome


def main():
    execute(AnsibleModule, dict(
        keep_history=dict(type="int", default=0),
        node_id=dict(type="int"),
    ), run, validate=cleanup.validate, waits=("connect_timeout", "connect_timeout"))


if __name__ == "__main__":
    main()
