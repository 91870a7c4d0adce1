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
upstream_node_id:
  description: The primary the node follows now.
  returned: always
  type: int
upstream_node_name:
  description: Its name.
  returned: always
  type: str
stale_slots_dropped:
  description:
    - Slots dropped on the rejoined node, left from when it was the primary (its former standbys' slots,
      the new primary's among them); they would keep WAL on it forever.
  returned: always
  type: list
  elements: str
rewound:
  description: Whether pg_rewind changed the data directory.
  returned: always
  type: bool
attach_seconds:
  description: Seconds from the start until the node streamed.
  returned: when changed
  type: float
reason:
  description: What was done, or why nothing was.
  returned: always
  type: str
events:
  description: The repmgr events written (or that would be).
  returned: always
  type: list
  elements: dict
queries:
  description: SQL statements run (templates).
  returned: always
  type: list
  elements: str
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
