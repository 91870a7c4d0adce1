# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: live_primary
short_description: The live primary among several nodes' views of a repmgr cluster
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
description:
  - Takes the results of M(pgha.repmgr.repmgr_cluster_info) run on several nodes and returns the node name
    of the one running primary, or an empty string when none runs.
  - A node's own metadata may be stale (a failed former primary restarted on its own still calls itself the
    primary); the node running as a primary on the newest timeline wins, since every promotion starts a new
    timeline, and its own copy of the metadata is the one trusted.
  - Fails with a split-brain message when two nodes run as primary on the newest timeline.
options:
  _input:
    description:
      - The registered results of M(pgha.repmgr.repmgr_cluster_info), as a list (each names the node it read
        through in C(local_node_name)) or as a dict keyed by node name. Failed results are ignored.
    type: raw
    required: true
"""

EXAMPLES = r"""
- name: The live primary
  ansible.builtin.set_fact:
    primary: "{{ ansible_play_hosts | map('extract', hostvars, 'cluster') | pgha.repmgr.live_primary }}"
"""

RETURN = r"""
_value:
  description: Node name of the live primary, or an empty string.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.pgha.repmgr.plugins.module_utils.cluster import choose_live_primary
from ansible_collections.pgha.repmgr.plugins.module_utils.errors import PghaError


def live_primary(results):
    if isinstance(results, dict):
        keyed = dict(results)
    else:
        keyed = {}
        for index, result in enumerate(results or []):
            if isinstance(result, dict):
                keyed[result.get("local_node_name") or "result %d" % index] = result
    try:
        return choose_live_primary(keyed) or ""
    except PghaError as error:
        raise AnsibleFilterError(str(error))


class FilterModule:
    def filters(self):
        return {"live_primary": live_primary}
