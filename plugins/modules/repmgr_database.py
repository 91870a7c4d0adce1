#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_database
short_description: Ensure the repmgr role and database exist on the primary
description:
  - repmgr's documented first step (C(createuser -s repmgr), C(createdb repmgr -O repmgr)) as an idempotent module.
  - The role gets LOGIN and REPLICATION, and SUPERUSER unless O(superuser=false). The database is owned by it.
  - The password is hashed (SCRAM-SHA-256) on the managed host before it is sent, so it never reaches the
    server's logs. A second run with the same password changes nothing (the stored verifier is checked).
  - "Connects as a superuser, by default C(postgres) through the local Unix socket (run it with
    C(become_user: postgres) for peer authentication)."
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  login_user:
    description: Superuser to connect as.
    type: str
    default: postgres
  login_db:
    description: Database to connect to.
    type: str
    default: postgres
    aliases: [db]
  user:
    description: Name of the repmgr role.
    type: str
    default: repmgr
  password:
    description: Its password. Leave unset to manage no password (e.g. certificate or peer authentication).
    type: str
  update_password:
    description: C(always) sets the password when it differs; C(on_create) only when the role is created.
    type: str
    choices: [always, on_create]
    default: always
  superuser:
    description: Whether the role is a superuser (repmgr recommends it; promote, rewind and the extension need it).
    type: bool
    default: true
  database:
    description: Name of the repmgr database.
    type: str
    default: repmgr
notes:
  - The connection options default to O(login_user=postgres) and O(login_db=postgres) here, unlike the other modules.
"""

EXAMPLES = r"""
- name: repmgr role and database on the primary
  become: true
  become_user: postgres
  pgha.repmgr.repmgr_database:
    login_unix_socket: /var/run/postgresql
    password: "{{ repmgr_password }}"
"""

RETURN = r"""
queries:
  description:
    - The statements run, in order, with the password masked; empty when nothing changed and in check mode.
  returned: always
  type: list
  elements: str
  sample:
    - CREATE ROLE repmgr LOGIN REPLICATION SUPERUSER
    - ALTER ROLE repmgr PASSWORD '********'
    - CREATE DATABASE repmgr OWNER repmgr
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import database_setup
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import execute


def main():
    execute(AnsibleModule, dict(
        login_user=dict(default="postgres"),  # a superuser creates the repmgr role
        login_db=dict(default="postgres"),
        user=dict(type="str", default="repmgr"),
        password=dict(type="str", no_log=True),
        update_password=dict(type="str", choices=["always", "on_create"], default="always", no_log=False),
        superuser=dict(type="bool", default=True),
        database=dict(type="str", default="repmgr"),
    ), lambda module, conn, ctx: database_setup.setup(module.params, conn, ctx), validate=database_setup.validate)


if __name__ == "__main__":
    main()
