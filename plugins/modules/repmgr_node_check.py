#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_node_check
short_description: The health checks of C(repmgr node check), as data and as Nagios lines
description:
  - Runs the checks of C(repmgr node check) on the node the module connects to, with repmgr's rules,
    thresholds and texts, and returns each check's status (C(OK), C(WARNING), C(CRITICAL), C(UNKNOWN)),
    the detail repmgr prints, the line C(repmgr node check --nagios) prints, and repmgr's exit code.
  - The checks are C(role) (registered type against the running server), C(replication_lag) (seconds
    behind, on a standby), C(archive_ready) (WAL files waiting for C(archive_command)), C(upstream)
    (this node streams from its recorded upstream), C(downstream) (every recorded downstream node streams
    from this node), C(slots) (inactive physical replication slots), C(missing_slots) (a downstream
    standby's recorded slot is missing here) and C(data_directory_config) (the server runs from
    O(data_directory)).
  - The module reports; it never fails because a check is C(CRITICAL), and a node that is down, hung or
    refuses the session is a result too (every check C(CRITICAL)), as is a node without a record in the
    repmgr metadata (every check C(UNKNOWN)). It fails only on bad input.
  - Never changes anything; supports check mode.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  checks:
    description:
      - The checks to run, in any order (they are run and returned in repmgr's order).
      - One check is repmgr's C(--role), C(--replication-lag), ... and RV(exit_code) is then its Nagios
        exit code; several (or all, the default) are the full C(repmgr node check), exit code 0 or 25.
      - Default all of them; C(data_directory_config) only when O(data_directory) is set (RV(skipped_checks) says so).
    type: list
    elements: str
    choices: [role, replication_lag, archive_ready, upstream, downstream, slots, missing_slots, data_directory_config]
  node_id:
    description:
      - The repmgr node ID of the node checked (repmgr.conf's C(node_id)).
      - Default the node whose conninfo in C(repmgr.nodes) names the host and port the module connected to.
    type: int
  data_directory:
    description:
      - The data directory the node should run from (repmgr.conf's C(data_directory)), for the
        C(data_directory_config) check. Compared with the server's C(data_directory) setting when the login
        role may read it (superuser, C(pg_monitor), C(pg_read_all_settings)); otherwise, as repmgr, the module
        only checks that it holds a C(PG_VERSION) file on the host the module runs on.
      - Required when O(checks) names C(data_directory_config).
    type: str
  archive_ready_warning:
    description: More WAL files than this waiting to be archived is C(WARNING) (repmgr.conf's C(archive_ready_warning)).
    type: int
    default: 16
  archive_ready_critical:
    description:
      - More WAL files than this waiting to be archived is C(CRITICAL); must be greater than O(archive_ready_warning).
    type: int
    default: 128
  replication_lag_warning:
    description: A standby more than this many seconds behind is C(WARNING) (repmgr.conf's C(replication_lag_warning)).
    type: int
    default: 300
  replication_lag_critical:
    description:
      - A standby this many seconds behind or more is C(CRITICAL); must be greater than O(replication_lag_warning).
    type: int
    default: 600
notes:
  - The lag is repmgr's measure, the age of the last replayed transaction while received WAL waits to be
    replayed (0 when everything received is replayed).
  - C(archive_ready) counts the C(.ready) files through C(pg_ls_archive_statusdir()), which needs a superuser
    or C(pg_monitor) login role (repmgr reads the directory itself); without that right the check is C(UNKNOWN).
  - The differences from repmgr (a node that is down or not registered, an unreachable upstream) are listed in
    the collection's docs/node-check.md.
seealso:
  - name: repmgr node check
    description: The command this module mirrors.
    link: https://www.repmgr.org/docs/current/repmgr-node-check.html
  - module: pgha.repmgr.repmgr_cluster_info
"""

EXAMPLES = r"""
- name: Every check on node2 (what "repmgr node check" prints)
  pgha.repmgr.repmgr_node_check:
    login_host: 127.0.0.12
    login_password: "{{ repmgr_password }}"
    data_directory: /var/lib/postgresql/15/main
  register: health

- name: Print it as repmgr does
  ansible.builtin.debug:
    msg: "{{ health.node_check }}"

- name: Fail the play when a standby lags more than a minute
  pgha.repmgr.repmgr_node_check:
    login_host: 127.0.0.12
    checks: [replication_lag]
    replication_lag_warning: 30
    replication_lag_critical: 60
  register: lag
  failed_when: lag.checks.replication_lag.status != 'OK'

- name: The primary's standbys and slots, as Nagios lines
  pgha.repmgr.repmgr_node_check:
    login_host: 127.0.0.11
    checks: [downstream, slots, missing_slots]
  register: primary_health

- name: Show them
  ansible.builtin.debug:
    var: primary_health.nagios
"""

RETURN = r"""
node_id:
  description: The node checked (null when it could not be reached or has no record).
  returned: always
  type: int
  sample: 2
node_name:
  description: Its node name.
  returned: always
  type: str
  sample: node2
reachable:
  description: Whether a session to the node could be opened.
  returned: always
  type: bool
  sample: true
checks:
  description: One entry per check run, keyed by the check's name.
  returned: always
  type: dict
  contains:
    status:
      description: C(OK), C(WARNING), C(CRITICAL) or C(UNKNOWN).
      type: str
      sample: OK
    details:
      description: The detail C(repmgr node check) prints in brackets after the status.
      type: str
      sample: 'node "node2" (ID: 2) is attached to expected upstream node "node1" (ID: 1)'
    nagios:
      description: The line C(repmgr node check --<check> --nagios) prints.
      type: str
      sample: "REPMGR_REPLICATION_LAG OK: 0 seconds | lag=0;300;600"
  sample:
    role: {status: OK, details: node is standby, nagios: "REPMGR_SERVER_ROLE OK: node is standby"}
    slots:
      status: OK
      details: node has no physical replication slots
      nagios: "REPMGR_INACTIVE_SLOTS OK: node has no physical replication slots | slots=0;0"
nagios:
  description: The C(--nagios) line of every check run, in repmgr's order.
  returned: always
  type: list
  elements: str
  sample:
    - "REPMGR_SERVER_ROLE OK: node is primary"
    - "REPMGR_DOWNSTREAM_SERVERS CRITICAL: 1 of 2 downstream nodes not attached (missing: node3 (ID: 3))
      | attached=1, missing=1"
node_check:
  description: What C(repmgr node check) prints for the checks run, as one text.
  returned: always
  type: str
  sample: "Node \"node1\":\n\tServer role: OK (node is primary)\n\tReplication lag: OK (N/A - node is primary)"
exit_code:
  description:
    - repmgr's exit code. One check (repmgr's C(--role), C(--upstream) ...) gives its Nagios code, 0 OK,
      1 WARNING, 2 CRITICAL, 3 UNKNOWN; several checks (the full C(repmgr node check)) give 0, or 25 when any
      check is not OK.
  returned: always
  type: int
  sample: 0
skipped_checks:
  description: Checks left out of the full check (C(data_directory_config) without O(data_directory)).
  returned: always
  type: list
  elements: str
  sample: [data_directory_config]
error:
  description: Why the node could not be reached (passwords masked); null when it was.
  returned: always
  type: str
  sample: null
msg:
  description: The checks that are not OK, as their Nagios status texts, or C(all checks OK).
  returned: always
  type: str
  sample: all checks OK
queries:
  description: The SQL statements run on the node (all read-only).
  returned: always
  type: list
  elements: str
  sample: ["SELECT pg_catalog.pg_is_in_recovery()"]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import node_check
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import NO_CONNECTION, execute


def main():
    execute(AnsibleModule, dict(
        checks=dict(type="list", elements="str", choices=list(node_check.CHECKS)),
        node_id=dict(type="int"),
        data_directory=dict(type="str"),
        archive_ready_warning=dict(type="int", default=node_check.DEFAULT_ARCHIVE_READY_WARNING),
        archive_ready_critical=dict(type="int", default=node_check.DEFAULT_ARCHIVE_READY_CRITICAL),
        replication_lag_warning=dict(type="int", default=node_check.DEFAULT_REPLICATION_LAG_WARNING),
        replication_lag_critical=dict(type="int", default=node_check.DEFAULT_REPLICATION_LAG_CRITICAL),
    ), lambda module, _conn, ctx: node_check.node_check(module.params, ctx), validate=node_check.validate,
        waits=("connect_timeout", "connect_timeout"), connect=NO_CONNECTION)


if __name__ == "__main__":
    main()
