# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The common connection options (plugins/module_utils/connection.py), named as in
    # community.postgresql so that DBAs recognise them.
    DOCUMENTATION = r"""
options:
  login_host:
    description:
      - Host of the PostgreSQL server the module connects to first (the node it runs for).
      - When neither O(login_host) nor O(login_unix_socket) is set and the module has the node's own
        C(conninfo) option, it connects with that conninfo, as repmgr connects with the conninfo of repmgr.conf.
    type: str
    default: ''
    aliases: [host]
  login_port:
    description: Port of that server.
    type: int
    default: 5432
    aliases: [port]
  login_user:
    description: Role to connect as; it must be able to read and write the repmgr metadata.
    type: str
    default: repmgr
  login_password:
    description:
      - Password of O(login_user). Also used for the other nodes' conninfo strings when they carry no
        password (they never should; repmgr keeps passwords in C(.pgpass) or C(PGPASSFILE), which work too).
      - Never shown in any output.
    type: str
    default: ''
  login_unix_socket:
    description: Directory of the server's Unix socket, to connect through it instead of TCP.
    type: str
    default: ''
    aliases: [unix_socket]
  login_db:
    description: Database that holds the repmgr metadata (schema C(repmgr)).
    type: str
    default: repmgr
    aliases: [db]
  ssl_mode:
    description: libpq C(sslmode).
    type: str
    default: prefer
    choices: [allow, disable, prefer, require, verify-ca, verify-full]
  ca_cert:
    description: libpq C(sslrootcert), the CA certificate(s) to check the server's certificate against.
    type: str
    aliases: [ssl_rootcert]
  ssl_cert:
    description: libpq C(sslcert), the client certificate.
    type: path
  ssl_key:
    description: libpq C(sslkey), the client certificate's private key.
    type: path
  connect_params:
    description: "Any other libpq connection parameters, as a dictionary (for example C({keepalives_idle: 5}))."
    type: dict
    default: {}
  connect_timeout:
    description:
      - Seconds to wait for each connection to open (libpq C(connect_timeout)), to this server and to every
        other node the module probes. An unreachable node costs one timeout, not one per node, because
        nodes are probed in parallel.
    type: int
    default: 5
requirements:
  - psycopg >= 3.1 (C(pip install "psycopg[binary]")) on the host the module runs on.
"""
