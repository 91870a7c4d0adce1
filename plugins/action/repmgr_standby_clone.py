# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr_standby_clone with the new standby's own settings defaulted from the inventory.

The node being cloned has no server yet: the connection options name the upstream, so of the
login_* options only the password comes from the inventory (as for repmgr_rejoin).
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.plugin_utils.inventory_defaults import InventoryDefaultsAction


class ActionModule(InventoryDefaultsAction):
    LOGIN_TARGET = False
    NODE_DEFAULTS = (
        ("node_id", "pgha_node_id"),
        ("node_name", "pgha_node_name"),
        ("data_directory", "pgha_data_directory"),
        ("pg_bindir", "pgha_pg_bindir"),
        ("passfile", "pgha_passfile"),
        ("use_slot", "pgha_use_slots"),
    )

    def node_vars(self, task_vars):
        """As the README documents it, a node without pgha_node_name is named after its inventory hostname."""
        node = super().node_vars(task_vars)
        if "pgha_node_name" not in node and node.get("inventory_hostname"):
            node = dict(node, pgha_node_name=node["inventory_hostname"])
        return node
