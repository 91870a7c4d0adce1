# -*- coding: utf-8 -*-
# Copyright: pgha.repmgr contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: stopped_cluster_primary
short_description: The node to start as the primary of a cluster whose primary is stopped
version_added: 0.1.0
author: pgha.repmgr developers (@pgha)
description:
  - Takes the results of M(pgha.repmgr.repmgr_node_service) with O(pgha.repmgr.repmgr_node_service#module:state=status)
    run on every host of the cluster, keyed by inventory host, and returns the host whose data directory is the
    primary's; the one node that was a primary (no C(standby.signal)) on the newest timeline, with no standby
    ahead of it and no unclean primary of an older timeline.
  - When only standbys run (the primary was stopped on its own, for maintenance), the stopped primary is
    returned only when every running standby's copy of the metadata records it as the active primary, the
    same rule over the stopped data directories picks it, and no running standby is on a newer timeline.
  - Returns an empty string when a primary runs (the live cluster decides), when no host holds a data
    directory (a first run), or when the running standbys do not confirm the stopped primary. Fails, listing
    what each node holds, when the data directories are ambiguous.
options:
  _input:
    description:
      - "{inventory host: repmgr_node_service status result} for every node of the cluster; failed results (no data
        directory) are skipped. A host marked C(not_examined) (outside the play) makes the answer an empty string:
        a data directory not read could be the newer primary's."
    type: dict
    required: true
  views:
    description:
      - The results of M(pgha.repmgr.repmgr_cluster_info) run against the nodes that answer (a registered loop's
        C(results), each naming the node it read through in C(local_node_name)). Needed only when some nodes run.
    type: list
    elements: dict
  node_hosts:
    description: "{node name: inventory host}, to turn the node name the metadata records into a host."
    type: dict
"""

EXAMPLES = r"""
- name: The primary of a stopped cluster
  ansible.builtin.set_fact:
    primary_host: "{{ statuses | pgha.repmgr.stopped_cluster_primary(cluster_views.results, cluster_node_hosts) }}"
"""

RETURN = r"""
_value:
  description: The inventory host to start as the primary, or an empty string.
  type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.pgha.repmgr.plugins.module_utils.errors import PghaError
from ansible_collections.pgha.repmgr.plugins.module_utils.cluster import recorded_primary_of_standbys
from ansible_collections.pgha.repmgr.plugins.module_utils.primary import (
    primary_beside_running_standbys, primary_of_stopped_cluster)
from ansible_collections.pgha.repmgr.plugins.module_utils.records import lsn_from_text


def stopped_cluster_primary(statuses, views=None, node_hosts=None):
    nodes, running = {}, []
    for host, status in (statuses or {}).items():
        if isinstance(status, dict) and status.get("not_examined"):
            return ""  # a node outside the play (--limit): its data directory could be the newer primary
        if not isinstance(status, dict) or status.get("failed") or status.get("skipped") or "running" not in status:
            continue
        if status["running"]:
            running.append(dict(host=host, standby=bool(status.get("standby_signal"))))
            continue
        nodes[host] = dict(standby=bool(status.get("standby_signal")), state=status.get("cluster_state"),
                           clean=bool(status.get("shut_down_cleanly")), timeline=int(status.get("timeline") or 0),
                           lsn=lsn_from_text(status.get("wal_end")) or 0, lsn_text=status.get("wal_end"))
    try:
        if not running:
            return primary_of_stopped_cluster(nodes) or ""
        if not all(node["standby"] for node in running):
            return ""  # a running primary: the live cluster decides, not the data directories
        recorded, timelines = recorded_primary_of_standbys(keyed_by_node(views))
        recorded_host = (node_hosts or {}).get(recorded) if recorded else None
        return primary_beside_running_standbys(nodes, recorded_host, timelines) or ""
    except PghaError as error:
        raise AnsibleFilterError(str(error))


def keyed_by_node(views):
    """repmgr_cluster_info results (a registered loop's results, or a dict) keyed by the node each was read through."""
    if isinstance(views, dict):
        return dict(views)
    return {result.get("local_node_name"): result for result in views or []
            if isinstance(result, dict) and result.get("local_node_name")}


class FilterModule:
    def filters(self):
        return {"stopped_cluster_primary": stopped_cluster_primary}
