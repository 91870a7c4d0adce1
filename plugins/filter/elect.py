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
    (repmgr's rules, in repmgr's order; location gate, visibility consensus from fresh evidence, quorum, then
    furthest WAL, priority, node ID).
  - Returns C(outcome) (C(won), C(adopt) when a node already runs as the new primary, C(done) when the
    failover already happened, or C(cancelled)), C(reason), C(winner) (node_id, node_name, lsn, ...),
    C(ranking), C(excluded), C(followers), C(witnesses), C(catch_up_from), C(failed_node_id),
    C(failed_node_name) and C(voting_term).
options:
  _input:
    description: "{node_name: repmgr_cluster_info result} for the survivors; failed results count as unreadable."
    type: dict
    required: true
  failed_node:
    description: node_id or node_name of the failed primary.
    type: raw
    required: true
  fresh_within:
    description:
      - Seconds within which a survivor's WAL receiver must have heard from the failed primary for the
        survivor to count as still seeing it (the monitor's reconnect_interval).
    type: float
    default: 10
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


def elect(views, failed_node, fresh_within=10):
    if isinstance(failed_node, str) and failed_node.isdigit():
        failed_node = int(failed_node)
    return elect_from_views(dict(views or {}), failed_node, float(fresh_within))


class FilterModule:
    def filters(self):
        return {"elect": elect}
