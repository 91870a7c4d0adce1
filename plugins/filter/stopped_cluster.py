# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: stopped_cluster_primary
short_description: The node to start as the primary of a cluster whose every node is stopped
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
description:
  - Takes the results of M(pgha.repmgr.repmgr_node_service) with O(pgha.repmgr.repmgr_node_service#module:state=status)
    run on every host of the cluster, keyed by inventory host, and returns the host whose data directory is the
    primary's; the one node that was a primary (no C(standby.signal)) on the newest timeline, with no standby
    ahead of it and no unclean primary of an older timeline.
  - Returns an empty string when some node is running (the cluster is not stopped) or no host holds a data
    directory (a first run). Fails, listing what each node holds, when the data directories are ambiguous.
options:
  _input:
    description: "{inventory host: repmgr_node_service status result}; failed results (no data directory) are skipped."
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: The primary of a stopped cluster
  ansible.builtin.set_fact:
    primary_host: "{{ statuses | pgha.repmgr.stopped_cluster_primary }}"
"""

RETURN = r"""
_value:
  description: The inventory host to start as the primary, or an empty string.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import PghaError
from ansible_collections.pgha.repmgr.plugins.module_utils.primary import primary_of_stopped_cluster
from ansible_collections.pgha.repmgr.plugins.module_utils.records import lsn_from_text


def stopped_cluster_primary(statuses):
    nodes = {}
    for host, status in (statuses or {}).items():
        if not isinstance(status, dict) or status.get("failed") or status.get("skipped") or "running" not in status:
            continue
        if status["running"]:
            return ""  # a running node: the live cluster decides, not the data directories
        nodes[host] = dict(standby=bool(status.get("standby_signal")), state=status.get("cluster_state"),
                           clean=bool(status.get("shut_down_cleanly")), timeline=int(status.get("timeline") or 0),
                           lsn=lsn_from_text(status.get("wal_end")) or 0, lsn_text=status.get("wal_end"))
    try:
        return primary_of_stopped_cluster(nodes) or ""
    except PghaError as error:
        raise AnsibleFilterError(str(error))


class FilterModule:
    def filters(self):
        return {"stopped_cluster_primary": stopped_cluster_primary}
