# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Connection defaults from the inventory, for the modules' action plugins.

`ansible node2 -m pgha.repmgr.repmgr_cluster_info` should need no arguments when the inventory
describes the cluster (the pgha_* variables the roles use): the node's address, port, repmgr
user, database and password fill the login_* options the task leaves out. Options given in
the task always win.
"""

from __future__ import annotations

from ansible.plugins.action import ActionBase

# module option -> inventory variable
INVENTORY_DEFAULTS = (
    ("login_host", "pgha_listen_address"),
    ("login_port", "pgha_port"),
    ("login_user", "pgha_repmgr_user"),
    ("login_db", "pgha_repmgr_database"),
    ("login_password", "pgha_repmgr_password"),
)

# repmgr's event notifications (module_utils/notify.py): the same for every node and every target.
NOTIFICATION_DEFAULTS = (
    ("event_notification_command", "pgha_event_notification_command"),
    ("event_notifications", "pgha_event_notifications"),
)

# Options that mean "connect somewhere else": then none of the inventory's login_* apply.
EXPLICIT_TARGET = ("login_host", "login_unix_socket")


def fill_from_inventory(args, task_vars, templar=None, node_defaults=(), login_target=True):
    """Return args with the missing login_* options taken from the host's pgha_* variables.

    `node_defaults`: more (option, variable) pairs of the node itself (node_id, data_directory
    ...), for modules that act on the node they run for; they apply whatever the login target,
    as do the event notification options (NOTIFICATION_DEFAULTS).
    """
    filled = dict(args)
    for option, variable in tuple(node_defaults) + NOTIFICATION_DEFAULTS:
        if option not in filled and variable in task_vars:
            value = templar.template(task_vars[variable]) if templar is not None else task_vars[variable]
            if value not in (None, ""):
                filled[option] = value
    if not login_target or any(filled.get(option) for option in EXPLICIT_TARGET):
        # A target given explicitly: only the password may still come from the inventory.
        mapping = [pair for pair in INVENTORY_DEFAULTS if pair[0] == "login_password"]
    else:
        mapping = INVENTORY_DEFAULTS
    for option, variable in mapping:
        if option in filled or variable not in task_vars:
            continue
        value = task_vars[variable]
        if templar is not None:
            value = templar.template(value)
        if value not in (None, ""):
            filled[option] = value
    return filled


class InventoryDefaultsAction(ActionBase):
    """Run the module of the same name with login_* defaults from the inventory."""

    NODE_DEFAULTS = ()
    # False for modules whose node is not the login target (rejoin: the node is stopped).
    LOGIN_TARGET = True
    _supports_check_mode = True
    # async as the builtin modules do it: the failover starts its followers in the background
    _supports_async = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        args = fill_from_inventory(self._task.args, self.node_vars(task_vars), self._templar, self.NODE_DEFAULTS,
                                   self.LOGIN_TARGET)
        wrap_async = self._task.async_val and not self._connection.has_native_async
        result.update(self._execute_module(module_name=self._task.resolved_action or self._task.action,
                                           module_args=args, task_vars=task_vars, wrap_async=wrap_async))
        if not wrap_async:
            self._remove_tmp_path(self._connection._shell.tmpdir)
        return result

    def node_vars(self, task_vars):
        """The variables of the node the module acts on: the delegated host's when delegate_to is set."""
        delegate = self._task.delegate_to
        if delegate:
            delegated = (task_vars.get("ansible_delegated_vars") or {}).get(self._templar.template(delegate))
            if delegated:
                return delegated
        return task_vars
