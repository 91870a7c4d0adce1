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
  event_notification_command:
    description:
      - repmgr's C(event_notification_command). After a module that writes repmgr events (registration, clone,
        promote, follow, rejoin, failover promote, pause, cleanup, M(pgha.repmgr.repmgr_event)) has committed an
        event row, this command runs for it, through C(/bin/sh) as repmgr runs it, with repmgr's placeholders
        replaced - C(%n) node ID, C(%a) node name, C(%e) event, C(%s) C(1)/C(0) for success, C(%t) timestamp,
        C(%d) details, C(%p) the related node's ID where the event has one (new upstream, failed or demoted
        primary), C(%c) the node's conninfo with any password masked, C(%%) a percent sign.
      - Each value is quoted for the place it lands in (bare, inside single or double quotes), so an event's text
        never runs as shell code; unlike repmgr an empty value outside quotes stays one (empty) argument.
      - Each run is bounded by 10 seconds; then the command and everything it started are killed. A command that
        fails or hangs is reported in the module's C(warnings) and never fails the module.
      - Modules that write no events ignore it. The action plugins take it from the inventory variable
        C(pgha_event_notification_command) when the task does not set it.
    type: str
    default: ''
  event_notifications:
    description:
      - repmgr's C(event_notifications) - the event names for which O(event_notification_command) runs; empty
        means every event. The rows are written in any case.
      - The action plugins take it from the inventory variable C(pgha_event_notifications) when the task does not
        set it.
    type: list
    elements: str
    default: []
requirements:
  - psycopg >= 3.1 (C(pip install "psycopg[binary]")) on the host the module runs on.
"""
