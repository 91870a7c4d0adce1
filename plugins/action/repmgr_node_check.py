# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""repmgr_node_check with login_*, node_id and data_directory defaulted from the inventory."""

from __future__ import annotations

from ansible_collections.pgha.repmgr.plugins.plugin_utils.inventory_defaults import InventoryDefaultsAction


class ActionModule(InventoryDefaultsAction):
    NODE_DEFAULTS = (("node_id", "pgha_node_id"), ("data_directory", "pgha_data_directory"))
