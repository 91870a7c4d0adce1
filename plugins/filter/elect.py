# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: elect
short_description: repmgr's election over what the survivors of a failed primary saw
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
description:
  - Takes the results of M(pgha.repmgr.repmgr_cluster_info) run against each surviving node, keyed by node
    name, and the failed primary's node ID, and runs the election of C(plugins/module_utils/election.py)
    (repmgr's rules; visibility consensus, quorum, location, then furthest WAL, priority, node ID).
  - Returns C(outcome) (C(won) or C(cancelled)), C(reason), C(winner) (node_id, node_name, lsn, ...),
    C(ranking), C(excluded) and C(failed_node_name).
options:
  _input:
    description: "{node_name: repmgr_cluster_info result} for the survivors; failed results count as unreadable."
    type: dict
    required: true
  failed_node:
    description: node_id or node_name of the failed primary.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: Who takes over?
  ansible.builtin.set_fact:
    election: "{{ views | pgha.repmgr.elect(ansible_eda.event.repmgr.node_id) }}"
"""

RETURN = r"""
_value:
  description: The election's outcome, reason, winner and ranking.
  type: dict
"""

from ansible_collections.pgha.repmgr.plugins.module_utils.election import elect_from_views


def elect(views, failed_node):
    views = dict(views or {})
    if isinstance(failed_node, str) and not failed_node.isdigit():
        rows = next((v["nodes"] for v in views.values() if isinstance(v, dict) and v.get("nodes")), [])
        failed_node = next((row["node_id"] for row in rows if row["node_name"] == failed_node), -1)
    return elect_from_views(views, int(failed_node))


class FilterModule:
    def filters(self):
        return {"elect": elect}
