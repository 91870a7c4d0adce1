# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr_cluster_cleanup with login_* defaulted from the inventory (any node: the module finds the primary).

node_id is not taken from the inventory (pgha_node_id): for this module it narrows what is deleted
to one standby's rows, as repmgr's --node-id does.
"""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.plugin_utils.inventory_defaults import InventoryDefaultsAction


class ActionModule(InventoryDefaultsAction):
    pass
