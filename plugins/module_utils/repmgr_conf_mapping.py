# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a repmgr.conf (as repmgr_conf.py reads it) means for this collection: repmgr_conf_info's answer.

``inventory_mapping(conf, path)`` gives the inventory variables, the monitor and node check
settings and the keys this collection has no use for, each with why; ``conf_info(path)`` is
everything the module returns, passwords masked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ansible_collections.pgha.repmgr.plugins.module_utils import conninfo as conninfo_util
from ansible_collections.pgha.repmgr.plugins.module_utils.repmgr_conf import read


# keys this collection has no variable for, and why
_UNMAPPED_REASONS = {
    "replication_type": "physical replication is the only kind (repmgr's too)",
    "promote_command": "the failover playbook promotes (pgha.repmgr.repmgr_failover_promote; by hand: "
                       "pgha.repmgr.repmgr_promote)",
    "follow_command": "the failover playbook makes the other standbys follow (pgha.repmgr.repmgr_follow)",
    "failover_validation_command": "no equivalent: the election is repmgr's with visibility consensus always on",
    "primary_visibility_consensus": "always on in this collection (from fresh evidence only)",
    "always_promote": "no equivalent: a standby without an upstream record is not promoted",
    "standby_disconnect_on_failover": "no equivalent: the followers wait for the winner's promotion instead",
    "sibling_nodes_disconnect_timeout": "no equivalent (see standby_disconnect_on_failover)",
    "election_rerun_interval": "the monitor repeats primary_failure after each retry window instead",
    "primary_notification_timeout": "the followers wait for the promotion for the retry window plus 30 s",
    "degraded_monitoring_timeout": "the monitor never exits: every problem is an event",
    "async_query_timeout": "every check is bounded by connect_timeout (pgha_connect_timeout)",
    "repmgrd_standby_startup_timeout": "repmgrd only",
    "repmgrd_pid_file": "repmgrd only: the rulebook runs as a service or an EDA rulebook activation",
    "repmgrd_exit_on_inactive_node": "repmgrd only",
    "repmgrd_service_start_command": "repmgrd only",
    "repmgrd_service_stop_command": "repmgrd only",
    "reconnect_loop_sync": "repmgrd only (experimental there)",
    "log_level": "repmgr's own log; Ansible and ansible-rulebook log their runs",
    "log_facility": "repmgr's own log; Ansible and ansible-rulebook log their runs",
    "log_file": "repmgr's own log; Ansible and ansible-rulebook log their runs",
    "log_status_interval": "repmgrd only",
    "witness_sync_interval": "the failover playbook refreshes the witness's copy of the metadata",
    "child_nodes_check_interval": "no equivalent (repmgrd's child node monitoring)",
    "child_nodes_connected_min_count": "no equivalent (repmgrd's child node monitoring)",
    "child_nodes_disconnect_min_count": "no equivalent (repmgrd's child node monitoring)",
    "child_nodes_connected_include_witness": "no equivalent (repmgrd's child node monitoring)",
    "child_nodes_disconnect_timeout": "no equivalent (repmgrd's child node monitoring)",
    "child_nodes_disconnect_command": "no equivalent (repmgrd's child node monitoring)",
    "service_start_command": "the roles start PostgreSQL with pg_ctl (test hosts) or the service pgha_service_name",
    "service_stop_command": "the roles stop PostgreSQL with pg_ctl (test hosts) or the service pgha_service_name",
    "service_restart_command": "the roles restart PostgreSQL with pg_ctl or the service pgha_service_name",
    "service_reload_command": "the roles reload PostgreSQL with pg_ctl or the service pgha_service_name",
    "service_promote_command": "promotion is pg_promote() (pgha.repmgr.repmgr_promote)",
    "pg_ctl_options": "the roles run pg_ctl with their own options",
    "repmgr_bindir": "the repmgr CLI is not needed by this collection",
    "ssh_options": "Ansible reaches the hosts (its own connection settings)",
    "rsync_options": "clones are made with pg_basebackup (pgha.repmgr.repmgr_standby_clone)",
    "pg_basebackup_options": "pgha.repmgr.repmgr_standby_clone runs pg_basebackup with its own options",
    "tablespace_mapping": "pgha.repmgr.repmgr_standby_clone has no tablespace mapping",
    "restore_command": "set it with pgha_postgresql_settings (a postgresql.conf setting since PostgreSQL 12)",
    "archive_cleanup_command": "set it with pgha_postgresql_settings (a postgresql.conf setting since PostgreSQL 12)",
    "recovery_min_apply_delay": "set it with pgha_postgresql_settings (a postgresql.conf setting)",
    "use_primary_conninfo_password": "passwords stay in the passfile (pgha_passfile), never in primary_conninfo",
    "barman_host": "clones are made with pg_basebackup",
    "barman_server": "clones are made with pg_basebackup",
    "barman_config": "clones are made with pg_basebackup",
    "pg_backupapi_backup_id": "clones are made with pg_basebackup",
    "pg_backupapi_host": "clones are made with pg_basebackup",
    "pg_backupapi_node_name": "clones are made with pg_basebackup",
    "pg_backupapi_remote_ssh_command": "clones are made with pg_basebackup",
    "promote_check_timeout": "pgha.repmgr.repmgr_promote has its own timeout option",
    "promote_check_interval": "promotion polls every 0.1 s",
    "primary_follow_timeout": "pgha.repmgr.repmgr_follow has its own timeout option",
    "standby_follow_timeout": "pgha.repmgr.repmgr_follow has its own timeout option",
    "standby_follow_restart": "pgha.repmgr.repmgr_follow reloads where PostgreSQL allows it, else restarts",
    "shutdown_check_timeout": "the switchover playbook has its own timeouts",
    "standby_reconnect_timeout": "pgha.repmgr.repmgr_rejoin and repmgr_follow have their own timeouts",
    "wal_receive_check_timeout": "the switchover playbook has its own timeouts",
    "node_rejoin_timeout": "pgha.repmgr.repmgr_rejoin has its own timeout option",
    "promote_delay": "a repmgrd test knob",
    "failover_delay": "a repmgrd test knob",
}

# repmgr.conf key -> inventory variable, for the keys whose value carries over as it is
_INVENTORY = {
    "node_id": "pgha_node_id",
    "node_name": "pgha_node_name",
    "location": "pgha_location",
    "priority": "pgha_priority",
    "data_directory": "pgha_data_directory",
    "config_directory": "pgha_config_directory",
    "pg_bindir": "pgha_pg_bindir",
    "use_replication_slots": "pgha_use_slots",
    "passfile": "pgha_passfile",
    "reconnect_attempts": "pgha_reconnect_attempts",
    "reconnect_interval": "pgha_reconnect_interval",
}
# written even when the file leaves them out: repmgr's default is what the cluster ran with, and
# this collection's default differs (use_replication_slots) or the failover needs them (the window)
_INVENTORY_ALWAYS = ("location", "priority", "use_replication_slots", "reconnect_attempts", "reconnect_interval")

# repmgr.conf key -> the rulebook's --vars (the event source's settings)
_MONITOR = {
    "monitor_interval_secs": "pgha_monitor_interval",
    "reconnect_attempts": "pgha_reconnect_attempts",
    "reconnect_interval": "pgha_reconnect_interval",
    "connection_check_type": "pgha_connection_check_type",
    "monitoring_history": "pgha_monitoring_history",
}
# repmgr.conf key -> variable of the inventory (the modules' events) and of the rulebook (the monitor's events),
# given only when the file sets it: the placeholders (%n %a %e %s %t %d %p %c) are repmgr's
_NOTIFICATIONS = {
    "event_notification_command": "pgha_event_notification_command",
    "event_notifications": "pgha_event_notifications",
}
# repmgr.conf key -> option of pgha.repmgr.repmgr_node_check
_NODE_CHECK = ("archive_ready_warning", "archive_ready_critical", "replication_lag_warning", "replication_lag_critical")

# conninfo parameter -> inventory variable
_CONNINFO = {"port": "pgha_port", "user": "pgha_repmgr_user", "dbname": "pgha_repmgr_database",
             "connect_timeout": "pgha_connect_timeout", "passfile": "pgha_passfile"}

_PG_VERSION_IN_BINDIR = re.compile(r"^/usr/(?:lib/postgresql/(\d+)/bin|pgsql-(\d+)/bin)$")


@dataclass
class Mapping:
    inventory: dict
    monitor: dict
    node_check: dict
    unmapped: list
    notes: list
    failover: str
    monitor_conninfo: str


def _as_int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return value


def inventory_mapping(conf, path):
    """The inventory variables, the rulebook's monitor settings, and the keys with no place here (with why)."""
    inventory, notes, unmapped = {}, [], []
    for key, variable in _INVENTORY.items():
        if key in conf.settings or key in _INVENTORY_ALWAYS:
            inventory[variable] = conf.value(key)
    params = conf.conninfo_params
    host = params.get("host") or params.get("hostaddr") or ""
    if host.startswith("/"):
        inventory["pgha_socket_directory"] = host
        notes.append("conninfo connects through the Unix socket in %s: set pgha_listen_address to the address the "
                     "other nodes reach this node on" % host)
    elif host:
        inventory["pgha_listen_address"] = host.split(",")[0]
    for parameter, variable in _CONNINFO.items():
        if params.get(parameter) and variable not in inventory:
            value = params[parameter]
            inventory[variable] = _as_int(value) if parameter in ("port", "connect_timeout") else value
    if "pgha_repmgr_user" not in inventory:
        inventory["pgha_repmgr_user"] = "repmgr"
        notes.append("conninfo names no user: libpq uses the OS user's name, pgha_repmgr_user defaults to repmgr")
    if "password" in params:
        notes.append("conninfo holds a password: put it in pgha_repmgr_password (Ansible Vault) and in the passfile, "
                     "and remove it from repmgr.conf; it is not returned")
    replication_user = conf.settings.get("replication_user")
    if replication_user and replication_user != inventory["pgha_repmgr_user"]:
        unmapped.append(dict(key="replication_user", line=conf.lines["replication_user"],
                             reason="this collection streams as pgha_repmgr_user (%s), not as %s: grant it "
                                    "REPLICATION and a pg_hba.conf replication entry"
                                    % (inventory["pgha_repmgr_user"], replication_user)))
    match = _PG_VERSION_IN_BINDIR.match(conf.settings.get("pg_bindir") or "")
    if match:
        inventory["pgha_pg_version"] = match.group(1) or match.group(2)
    inventory["pgha_repmgr_conf_file"] = path

    monitor = {variable: conf.value(key) for key, variable in _MONITOR.items()}
    if conf.value("connection_check_type") == "query" and conf.value("connection_check_query") != "SELECT 1":
        unmapped.append(dict(key="connection_check_query", line=conf.lines["connection_check_query"],
                             reason="the monitor's query check runs SELECT 1 on its held session"))
    if "connect_timeout" in params:
        monitor["pgha_connect_timeout"] = _as_int(params["connect_timeout"])
    failover = conf.value("failover")
    if failover == "manual":
        notes.append("failover=manual: repmgrd did not fail this node over automatically; the rulebook "
                     "pgha.repmgr.failover does; run it only if the cluster should fail over automatically")
    for key, variable in _NOTIFICATIONS.items():
        value = conf.settings.get(key)
        if value and conninfo_util.mask_text(str(value), conf.secrets) != str(value):
            notes.append("%s holds a password: it is not returned; set %s by hand (Ansible Vault)" % (key, variable))
        elif value:
            inventory[variable] = monitor[variable] = value
    node_check = {key: conf.value(key) for key in _NODE_CHECK if key in conf.settings}

    handled = set(_INVENTORY) | set(_MONITOR) | set(_NODE_CHECK) | set(_NOTIFICATIONS) | {
        "conninfo", "failover", "replication_user", "connection_check_query"}
    for key in conf.settings:
        if key not in handled:
            unmapped.append(dict(key=key, line=conf.lines[key],
                                 reason=_UNMAPPED_REASONS.get(key, "no equivalent in this collection")))
    unmapped.sort(key=lambda entry: entry["line"])
    monitor_conninfo = conninfo_util.mask(conf.settings.get("conninfo"))
    if "password" in params:
        monitor_conninfo = conninfo_util.build("", **{k: v for k, v in params.items() if k != "password"})
    return Mapping(inventory=inventory, monitor=monitor, node_check=node_check, unmapped=unmapped, notes=notes,
                   failover=failover, monitor_conninfo=monitor_conninfo)


def shown(conf):
    """The settings and items as they may be shown: the conninfo's password masked, passwords in free text too."""
    def safe(key, value):
        if key == "conninfo":
            return conninfo_util.mask(value)
        if isinstance(value, str):
            return conninfo_util.mask_text(value, conf.secrets)
        if isinstance(value, list):
            return [conninfo_util.mask_text(entry, conf.secrets) for entry in value]
        return value

    settings = {key: safe(key, value) for key, value in conf.settings.items()}
    items = [dict(key=item.key, value=safe(item.key, item.value), line=item.line) for item in conf.items]
    return settings, items


def conf_info(path):
    """Everything repmgr_conf_info returns for the file at `path` (raises ConfigError when repmgr refuses it)."""
    conf = read(path)
    mapping = inventory_mapping(conf, path)
    settings, items = shown(conf)
    return dict(
        changed=False,
        config_file=path,
        settings=settings,
        items=items,
        inventory=mapping.inventory,
        monitor=mapping.monitor,
        monitor_conninfo=mapping.monitor_conninfo,
        failover=mapping.failover,
        node_check=mapping.node_check,
        unmapped=mapping.unmapped,
        notes=mapping.notes,
        config_warnings=[problem.as_dict() for problem in conf.warnings],
    ), conf
