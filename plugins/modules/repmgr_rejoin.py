#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_rejoin
short_description: Bring a stopped node back as a standby of the primary (repmgr node rejoin)
description:
  - Run on the host of the stopped node (a former primary after a failover or switchover, or a standby whose
    timeline diverged), as the PostgreSQL OS user. The connection options reach any running node of the
    cluster (or give O(primary_conninfo)); the primary is found from its metadata.
  - With O(rewind=true) runs C(pg_rewind) from the primary first (it does nothing when the node did not
    diverge, and recovers an unclean shutdown on PostgreSQL 13 and later). The node's own configuration files
    (O(preserve_files)) are kept, and replication slots copied from the primary are removed.
  - With O(rewind=false) the node must have been shut down cleanly and must not have diverged (repmgr's
    attach check); otherwise the module refuses and changes nothing.
  - Writes the standby configuration (C(primary_conninfo) with C(application_name) = node name,
    C(primary_slot_name), C(standby.signal)), creates the slot on the primary, starts the node and waits until
    it streams. Then, in one transaction on the primary, the node's record becomes a standby of the primary
    and the C(node_rejoin) event is written with repmgr's text.
  - A node that is running and already streams from the primary is reported unchanged; one that is running
    otherwise is refused (stop it first, or use M(pgha.repmgr.repmgr_follow)).
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  node_id:
    description: repmgr node ID of the node to rejoin. Default from C(pgha_node_id).
    type: int
    required: true
  data_directory:
    description: Its data directory. Default from C(pgha_data_directory).
    type: path
    required: true
  primary_conninfo:
    description: conninfo of the primary (without password), when no running node is given by the connection options.
    type: str
  rewind:
    description: Run C(pg_rewind) from the primary before starting the node.
    type: bool
    default: false
  preserve_files:
    description: Files in the data directory kept as they are across C(pg_rewind) (which copies the primary's).
    type: list
    elements: str
    default: [postgresql.conf, pg_hba.conf, pg_ident.conf, pgha.conf]
  passfile:
    description: C(passfile) for C(primary_conninfo). Default from C(pgha_passfile).
    type: path
  log_file:
    description: Server log file for C(pg_ctl start -l). Default from C(pgha_log_file).
    type: path
  start_command:
    description: Command that starts the node instead of C(pg_ctl start) (for example C([pg_ctlcluster, "15", main, start])).
    type: list
    elements: str
  start_timeout:
    description: Seconds C(pg_ctl start) may wait for the server to accept connections.
    type: int
    default: 60
  wait_timeout:
    description: Seconds to wait until the node streams from the primary (repmgr's node_rejoin_timeout).
    type: int
    default: 60
  pg_bindir:
    description: Directory of pg_ctl, pg_rewind and pg_controldata (default Debian's for the primary's version).
    type: path
attributes:
  diff_mode:
    support: full
    details: the node's record before and after (type, upstream, active)
"""

EXAMPLES = r"""
- name: Rejoin the failed former primary, rewinding it
  become: true
  become_user: postgres
  pgha.repmgr.repmgr_rejoin:
    login_host: 10.0.0.12
    login_password: "{{ repmgr_password }}"
    node_id: 1
    data_directory: /var/lib/postgresql/15/main
    rewind: true
    start_command: [pg_ctlcluster, "15", main, start]
"""

RETURN = r"""
node_id:
  description: The node rejoined (O(node_id)).
  returned: always
  type: int
  sample: 1
upstream_node_id:
  description: The primary the node follows now.
  returned: always
  type: int
  sample: 2
upstream_node_name:
  description: Its name.
  returned: always
  type: str
  sample: node2
stale_slots_dropped:
  description:
    - Slots dropped on the rejoined node, left from when it was the primary (its former standbys' slots,
      the new primary's among them); they would keep WAL on it forever.
  returned: always
  type: list
  elements: str
  sample: [repmgr_slot_2, repmgr_slot_3]
old_slot_dropped:
  description: The name of the node's own slot dropped on its previous upstream; null when none was.
  returned: always
  type: str
  sample: null
rewound:
  description: Whether pg_rewind changed the data directory.
  returned: always
  type: bool
  sample: true
attach_seconds:
  description: Seconds from the start until the node streamed; null when nothing was changed and in check mode.
  returned: always
  type: float
  sample: 2.87
reason:
  description: What was done, or why nothing was.
  returned: always
  type: str
  sample: 'node "node1" (ID: 1) rejoins as a standby of "node2" (ID: 2)'
events:
  description: The repmgr event written (or, in check mode, that would be); empty when nothing changes.
  returned: always
  type: list
  elements: dict
  contains:
    node_id: {description: "The rejoined node's ID", type: int}
    event: {description: "C(node_rejoin)", type: str}
    details: {description: "repmgr's text of the event", type: str}
  sample: [{node_id: 1, event: node_rejoin, details: "node 1 is now attached to node 2"}]
queries:
  description: SQL statements that changed something (templates; bound parameters are not shown).
  returned: always
  type: list
  elements: str
  sample:
    - CHECKPOINT
    - "SELECT pg_catalog.pg_create_physical_replication_slot(%s, TRUE)"
    - SELECT pg_catalog.pg_drop_replication_slot(%s)
    - "UPDATE repmgr.nodes SET type = 'standby', upstream_node_id = %s, active = TRUE WHERE node_id = %s"
    - "INSERT INTO repmgr.events (node_id, event, successful, details) VALUES (%s, %s, %s, %s) RETURNING event_timestamp"
rc:
  description: The exit code of the command that failed - whichever of pg_ctl, pg_basebackup, pg_rewind,
    pg_controldata or the task's start or stop command the module ran.
  returned: on failure of such a command
  type: int
  sample: 1
stdout:
  description: Its standard output (passwords masked).
  returned: on failure of such a command
  type: str
  sample: ""
stderr:
  description: Its standard error (passwords masked).
  returned: on failure of such a command
  type: str
  sample: 'pg_controldata: error: could not open file "/var/lib/postgresql/16/main/global/pg_control" for reading: No such file or directory'
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import datadir, follow
from ansible_collections.pgha.repmgr.plugins.module_utils import rejoin as rejoin_node
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import InvalidOption
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import CONNECT_OPTIONAL, execute


def rejoin(module, login_conn, ctx):
    if login_conn is None and not module.params["primary_conninfo"]:
        raise InvalidOption("login_host", "reaches no running node, and primary_conninfo is not set: the rejoin needs "
                                          "one of them to find the primary")
    return rejoin_node.rejoin(module.params, login_conn, ctx, module.run_command)


def main():
    # The node itself is stopped: the login target is any running node (or primary_conninfo).
    execute(AnsibleModule, dict(
        node_id=dict(type="int", required=True),
        data_directory=dict(type="path", required=True),
        primary_conninfo=dict(type="str"),
        rewind=dict(type="bool", default=False),
        preserve_files=dict(type="list", elements="str", default=list(datadir.DEFAULT_PRESERVED_FILES)),
        passfile=dict(type="path"),
        log_file=dict(type="path"),
        start_command=dict(type="list", elements="str"),
        start_timeout=dict(type="int", default=60),
        wait_timeout=dict(type="int", default=60),
        pg_bindir=dict(type="path"),
    ), rejoin, validate=follow.validate, waits=("connect_timeout", "start_timeout", "wait_timeout", "wait_timeout"),
        connect=CONNECT_OPTIONAL)


if __name__ == "__main__":
    main()
