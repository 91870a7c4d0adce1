#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_standby_clone
short_description: Clone a standby from its upstream with pg_basebackup (repmgr standby clone)
description:
  - Runs C(pg_basebackup) from the upstream (the server the connection options reach) into O(data_directory),
    then writes the standby configuration into C(postgresql.auto.conf) (C(primary_conninfo) with
    C(application_name) = O(node_name), C(primary_slot_name)) and creates C(standby.signal), as repmgr does
    for PostgreSQL 12 and later. Does not start the server.
  - With O(use_slot) the physical slot is created on the upstream before the backup starts, so the upstream
    keeps every WAL segment the new standby needs.
  - A data directory that already holds a standby of the same cluster (same system identifier,
    C(standby.signal) present) is left alone and reported unchanged.
  - A non-empty data directory is refused unless O(force); a directory a server is running from is always refused.
  - If C(pg_basebackup) fails, the directory's content and a slot the module created are removed again.
  - Writes the C(standby_clone) event with repmgr's text on the upstream when it is the primary and holds the metadata.
  - "Must run as the PostgreSQL OS user (C(become_user: postgres))."
  - Run from an inventory with the C(pgha_*) variables, the new standby's own settings default from its host's
    variables (each option below says which), O(login_password) from C(pgha_repmgr_password), and
    O(event_notification_command) and O(event_notifications) from C(pgha_event_notification_command) and
    C(pgha_event_notifications). The other connection options are not taken from the inventory, since they name
    the upstream, not the host the module runs for. Options given in the task always win.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  data_directory:
    description: Absolute path of the new standby's data directory. Default from C(pgha_data_directory).
    type: path
    required: true
  node_id:
    description: repmgr node ID of the new standby (names the event and the default slot). Default from C(pgha_node_id).
    type: int
    required: true
  node_name:
    description:
      - Node name of the new standby; becomes C(application_name) in C(primary_conninfo).
      - Default from C(pgha_node_name), else the host's inventory hostname.
    type: str
    required: true
  upstream_conninfo:
    description:
      - How the standby reaches its upstream for streaming (without password), written into C(primary_conninfo)
        after removing C(dbname). Default is built from O(login_host), O(login_port) and O(login_user).
    type: str
  replication_user:
    description: Role for the backup and for streaming. Default is the user of O(upstream_conninfo).
    type: str
  use_slot:
    description: Stream through a physical replication slot on the upstream. Default from C(pgha_use_slots).
    type: bool
    default: true
  slot_name:
    description: Slot name; default C(repmgr_slot_<node_id>), as repmgr.
    type: str
  passfile:
    description:
      - A C(.pgpass) file the standby uses for streaming; written as C(passfile) into C(primary_conninfo).
      - Default from C(pgha_passfile).
    type: path
  pg_bindir:
    description:
      - Directory of pg_basebackup and pg_controldata. Default from C(pgha_pg_bindir), else Debian's
        C(/usr/lib/postgresql/<major>/bin) for the upstream's version, else PATH.
    type: path
  pg_basebackup_options:
    description: Extra pg_basebackup arguments, one list element each (for example C([--max-rate=100M])).
    type: list
    elements: str
    default: []
  force:
    description: Replace the content of a non-empty data directory (never one a server is running from).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Clone node2 from the primary
  become: true
  become_user: postgres
  pgha.repmgr.repmgr_standby_clone:
    login_host: 10.0.0.11
    login_password: "{{ repmgr_password }}"
    data_directory: /var/lib/postgresql/15/main
    node_id: 2
    node_name: node2
    passfile: /var/lib/postgresql/.pgpass

- name: Clone this host's node from db1; node_id, node_name, data_directory, ... from the inventory (pgha_*)
  become: true
  become_user: postgres
  pgha.repmgr.repmgr_standby_clone:
    login_host: "{{ hostvars['db1'].pgha_listen_address }}"
"""

RETURN = r"""
reason:
  description: Why the module did or did not clone.
  returned: always
  type: str
  sample: data directory is empty
data_directory:
  description: The data directory (O(data_directory)).
  returned: always
  type: str
  sample: /var/lib/postgresql/16/main
slot_name:
  description: The replication slot used (O(slot_name), or C(repmgr_slot_<node_id>)); null without O(use_slot).
  returned: always
  type: str
  sample: repmgr_slot_2
system_identifier:
  description: The upstream's system identifier (as a string).
  returned: always
  type: str
  sample: "7442156218346391612"
primary_conninfo:
  description: The primary_conninfo written (password masked).
  returned: when cloned
  type: str
  sample: "host=node1 port=5432 connect_timeout=2 user=repmgr application_name=node2"
event_written:
  description: Whether the C(standby_clone) event was written (false when nothing was cloned, in check mode, when the
    upstream has no repmgr metadata or is itself a standby).
  returned: always
  type: bool
  sample: true
pg_bindir:
  description: The PostgreSQL bin directory used.
  returned: always
  type: str
  sample: /usr/lib/postgresql/16/bin
queries:
  description: Always empty - the statements the clone runs on the upstream are not listed.
  returned: always
  type: list
  elements: str
  sample: []
events:
  description: Always empty - the C(standby_clone) event, when written, is reported by RV(event_written).
  returned: always
  type: list
  elements: dict
  sample: []
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

from ansible_collections.pgha.repmgr.plugins.module_utils import clone
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import execute


def standby_clone(module, upstream_conn, ctx):
    params = dict(module.params, _which=module.get_bin_path)
    return clone.clone(params, upstream_conn, clone.upstream_conninfo_from(params), module.run_command,
                       ctx.check_mode, password=ctx.password)


def main():
    execute(AnsibleModule, dict(
        data_directory=dict(type="path", required=True),
        node_id=dict(type="int", required=True),
        node_name=dict(type="str", required=True),
        upstream_conninfo=dict(type="str"),
        replication_user=dict(type="str"),
        use_slot=dict(type="bool", default=True),
        slot_name=dict(type="str"),
        passfile=dict(type="path"),
        pg_bindir=dict(type="path"),
        pg_basebackup_options=dict(type="list", elements="str", default=[]),
        force=dict(type="bool", default=False),
    ), standby_clone, validate=clone.validate, waits=())


if __name__ == "__main__":
    main()
