#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: repmgr_conf_info
short_description: Read a node's repmgr.conf and return the matching inventory variables and monitor settings
description:
  - Reads an existing C(repmgr.conf) on the host with the syntax of repmgr 5.x (its configuration file
    scanner) - one C(name = value) per line, the C(=) optional, C(#) comments, a value that is one word
    (letters, digits and C(-._:/) after a first letter) or a number, or a single-quoted string in which
    C('') or C(\') is a quote - and checks the values as repmgr does (integers and their minimums,
    booleans, C(failover), C(connection_check_type), lengths, the required C(node_id), C(node_name),
    C(conninfo) and C(data_directory), the pairs of thresholds).
  - Returns the settings, and what they are for this collection - the inventory variables of the node
    (RV(inventory)), the rulebook's monitor settings (RV(monitor)), the thresholds of
    M(pgha.repmgr.repmgr_node_check) (RV(node_check)) and, in RV(unmapped), every key of the file that has
    no place here, with the reason. This is the first step of taking over a cluster that repmgr and
    repmgrd ran (see C(docs/migrating-from-repmgr.md) in the collection).
  - The module fails where repmgr refuses the file (a syntax error, a bad value, a missing required setting,
    an invalid conninfo), with every problem and its line number. Unknown and deprecated keys are
    warnings with their line numbers, as repmgr warns and ignores them.
  - C(include), C(include_if_exists) and C(include_dir) are B(not supported) - repmgr 5.3 and later read the
    files they name; this module reports each as an error instead of returning half a configuration. Copy the
    included settings into the file, or read the included file on its own (O(path)).
  - A password in the conninfo is never returned (C(password=********)); the inventory never holds it.
  - Reads only; no database connection (the connection options are accepted for C(module_defaults) of the
    group C(pgha.repmgr.all) and ignored). Supports check mode.
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
extends_documentation_fragment:
  - pgha.repmgr.connection
  - pgha.repmgr.attributes
options:
  path:
    description:
      - Path of the repmgr.conf on the host (what C(repmgr -f) and C(repmgrd -f) were given).
      - It is often readable only by the PostgreSQL OS user - run the task with C(become_user=postgres).
    type: path
    default: /etc/repmgr.conf
notes:
  - The settings of repmgrd are per node; the monitor watches the whole cluster. When the nodes' files differ,
    give the rulebook the settings of the nodes that are to decide (usually they are the same everywhere).
seealso:
  - name: repmgr configuration file
    description: repmgr's description of repmgr.conf.
    link: https://www.repmgr.org/docs/current/configuration-file.html
  - module: pgha.repmgr.repmgr_cluster_info
"""

EXAMPLES = r"""
- name: Read each node's repmgr.conf
  pgha.repmgr.repmgr_conf_info:
    path: /etc/repmgr/15/repmgr.conf
  become: true
  become_user: postgres
  register: repmgr_conf

- name: The inventory variables of the node
  ansible.builtin.debug:
    var: repmgr_conf.inventory

- name: Write a host_vars file per node, as a start for the inventory
  ansible.builtin.copy:
    content: "{{ repmgr_conf.inventory | to_nice_yaml }}"
    dest: "host_vars/{{ inventory_hostname }}.yml"
    mode: "0600"
  delegate_to: localhost

- name: The rulebook's --vars, from the primary's file and every node's conninfo
  ansible.builtin.copy:
    content: >-
      {{ repmgr_conf.monitor
         | combine({'pgha_monitor_conninfo': ansible_play_hosts | map('extract', hostvars, ['repmgr_conf', 'monitor_conninfo']) | list})
         | to_nice_yaml }}
    dest: monitor.yml
    mode: "0600"
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
config_file:
  description: The file read (repmgr's name for it, as in C(repmgr.nodes.config_file)).
  returned: always
  type: str
  sample: /etc/repmgr.conf
settings:
  description:
    - The settings the file sets, by key, as repmgr reads them - integers and booleans typed, paths
      canonical, C(event_notifications) and C(tablespace_mapping) as lists; a key set twice has its last value.
    - The password of the conninfo is masked; so is any C(password=...) in another value.
  returned: always
  type: dict
  sample:
    node_id: 2
    node_name: node2
    conninfo: host=10.0.0.12 user=repmgr dbname=repmgr connect_timeout=2
    data_directory: /var/lib/postgresql/15/main
    use_replication_slots: true
    failover: automatic
    reconnect_attempts: 6
items:
  description: Every C(name = value) line of the file, in order, with the value unquoted (passwords masked).
  returned: always
  type: list
  elements: dict
  contains:
    key: {description: "The name as written", type: str}
    value: {description: "The value, unquoted", type: str}
    line: {description: "Its line number", type: int}
  sample:
    - {key: node_id, value: "2", line: 1}
    - {key: node_name, value: node2, line: 2}
inventory:
  description:
    - The node's inventory variables of this collection (README, "Inventory variables"), from C(node_id),
      C(node_name), the conninfo (C(host) to C(pgha_listen_address), or to C(pgha_socket_directory) when it
      is a socket directory; C(port), C(user), C(dbname), C(connect_timeout)), C(location), C(priority),
      C(data_directory), C(config_directory), C(pg_bindir) (and the version in it), C(use_replication_slots),
      C(passfile), C(reconnect_attempts), C(reconnect_interval), the file's own path and, when the file sets them,
      C(event_notification_command) and C(event_notifications) (C(pgha_event_notification_command),
      C(pgha_event_notifications) - repmgr's placeholders).
    - C(pgha_location), C(pgha_priority), C(pgha_use_slots) and the retry window are given even when the file
      leaves them out - repmgr's defaults are what the cluster ran with (repmgr's C(use_replication_slots)
      default is false, this collection's C(pgha_use_slots) default is true).
    - Never a password - C(pgha_repmgr_password) belongs in Ansible Vault.
  returned: always
  type: dict
  sample:
    pgha_node_id: 2
    pgha_node_name: node2
    pgha_listen_address: 10.0.0.12
    pgha_port: 5432
    pgha_repmgr_user: repmgr
    pgha_repmgr_database: repmgr
    pgha_connect_timeout: 2
    pgha_location: default
    pgha_priority: 100
    pgha_data_directory: /var/lib/postgresql/15/main
    pgha_pg_bindir: /usr/lib/postgresql/15/bin
    pgha_pg_version: "15"
    pgha_use_slots: true
    pgha_passfile: /var/lib/postgresql/.pgpass
    pgha_reconnect_attempts: 6
    pgha_reconnect_interval: 10
    pgha_repmgr_conf_file: /etc/repmgr.conf
monitor:
  description:
    - The settings of the rulebook C(pgha.repmgr.failover) (its C(--vars)) that repmgrd had - C(monitor_interval_secs),
      C(reconnect_attempts), C(reconnect_interval), C(connection_check_type), C(monitoring_history) (repmgr's
      defaults when the file leaves them out), the conninfo's C(connect_timeout) when it has one, and
      C(event_notification_command) / C(event_notifications) when the file sets them.
    - The rulebook also needs C(pgha_monitor_conninfo), every node's RV(monitor_conninfo), and the password.
  returned: always
  type: dict
  sample:
    pgha_monitor_interval: 2
    pgha_reconnect_attempts: 6
    pgha_reconnect_interval: 10
    pgha_connection_check_type: ping
    pgha_monitoring_history: false
    pgha_connect_timeout: 2
monitor_conninfo:
  description: The node's conninfo for C(pgha_monitor_conninfo), without any password.
  returned: always
  type: str
  sample: host=10.0.0.12 user=repmgr dbname=repmgr connect_timeout=2
failover:
  description:
    - repmgr's C(failover) setting - C(manual) (repmgr's default, repmgrd did not fail over) or C(automatic).
    - The rulebook fails over automatically; with C(manual), RV(notes) says so.
  returned: always
  type: str
  sample: automatic
node_check:
  description: The thresholds the file sets, as options of M(pgha.repmgr.repmgr_node_check) (same names).
  returned: always
  type: dict
  sample:
    replication_lag_warning: 120
    replication_lag_critical: 300
unmapped:
  description: The keys of the file this collection has no variable for, each with its line and the reason.
  returned: always
  type: list
  elements: dict
  contains:
    key: {description: "The repmgr.conf key", type: str}
    line: {description: "The line that sets it", type: int}
    reason: {description: "Why it has no place here, and what does its work", type: str}
  sample:
    - key: promote_command
      line: 12
      reason: "the failover playbook promotes (pgha.repmgr.repmgr_failover_promote; by hand: pgha.repmgr.repmgr_promote)"
notes:
  description: What to know before using RV(inventory) and RV(monitor) (manual failover, a password in the conninfo, ...).
  returned: always
  type: list
  elements: str
  sample:
    - "failover=manual: repmgrd did not fail this node over automatically; the rulebook pgha.repmgr.failover does"
config_warnings:
  description:
    - The lines repmgr warns about and ignores (unknown or deprecated keys), also given as Ansible warnings.
  returned: always
  type: list
  elements: dict
  contains:
    line: {description: "Line number", type: int}
    key: {description: "The key", type: str}
    message: {description: "repmgr's warning", type: str}
  sample:
    - line: 7
      key: loglevel
      message: parameter "loglevel" has been renamed to "log_level"
queries:
  description: Always empty - the module connects to no server.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.pgha.repmgr.plugins.module_utils import repmgr_conf_mapping
from ansible_collections.pgha.repmgr.plugins.module_utils.module_support import NO_CONNECTION, execute


def read(module):
    result, conf = repmgr_conf_mapping.conf_info(module.params["path"])
    module.no_log_values.update(conf.secrets)
    for problem in conf.warnings:
        module.warn("%s line %d: %s" % (module.params["path"], problem.line, problem.message))
    return result


def main():
    execute(AnsibleModule, dict(path=dict(type="path", default="/etc/repmgr.conf")),
            lambda module, _conn, _ctx: read(module), connect=NO_CONNECTION)


if __name__ == "__main__":
    main()
